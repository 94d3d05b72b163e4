//! What the differential tests share: the allow-list of accepted
//! differences between Apache Kafka 2.8 and gregor
//! (`integration-tests/differential/allowed-differences.txt`) and the
//! comparison that reports every other one.
//!
//! A differential test runs one scenario against a Kafka cluster and against
//! a gregor cluster, reduces what it observed on each to a map from a
//! location (a znode path and JSON pointer, a request and field, a file) to a
//! normalised value, and calls [`compare`]. Values that must differ (cluster
//! ids, topic ids, timestamps, ports, session ids) are normalised by the test
//! before they get here; any other difference fails the test unless the
//! allow-list names its location with a reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;

use anyhow::{bail, Context, Result};

use crate::repo_root;

/// One accepted difference: a location pattern and why it is accepted.
#[derive(Debug, Clone)]
pub struct Allowed {
    pub pattern: String,
    pub reason: String,
}

/// The allow-list's lines under `[section]`.
pub fn allowed_differences(section: &str) -> Result<Vec<Allowed>> {
    let path = repo_root().join("integration-tests/differential/allowed-differences.txt");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_allow_list(&text, section)
}

fn parse_allow_list(text: &str, section: &str) -> Result<Vec<Allowed>> {
    let mut current: Option<&str> = None;
    let mut allowed = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name);
            continue;
        }
        if current != Some(section) {
            continue;
        }
        let Some((pattern, reason)) = line.split_once('#') else {
            bail!("allow-list line {}: {line:?} gives no reason", number + 1);
        };
        let (pattern, reason) = (pattern.trim(), reason.trim());
        if pattern.is_empty() || reason.is_empty() {
            bail!(
                "allow-list line {}: {line:?} needs a pattern and a reason",
                number + 1
            );
        }
        allowed.push(Allowed {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        });
    }
    Ok(allowed)
}

/// Whether `location` matches `pattern`, where `*` matches any run of
/// characters (also none) and everything else matches itself.
pub fn matches(pattern: &str, location: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = location.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Compares what Kafka and gregor showed, location by location; fails with
/// every difference the `[section]` of the allow-list does not accept
/// (a location only one side has is a difference too), and also with the
/// allow-list lines that matched nothing, so that the list stays short.
pub fn compare(
    section: &str,
    kafka: &BTreeMap<String, String>,
    gregor: &BTreeMap<String, String>,
) -> Result<()> {
    let allowed = allowed_differences(section)?;
    let mut used = vec![false; allowed.len()];
    let mut report = String::new();
    let locations: std::collections::BTreeSet<&String> =
        kafka.keys().chain(gregor.keys()).collect();
    for location in locations {
        let (k, g) = (kafka.get(location), gregor.get(location));
        if k == g {
            continue;
        }
        if let Some(i) = allowed.iter().position(|a| matches(&a.pattern, location)) {
            used[i] = true;
            continue;
        }
        let show = |v: Option<&String>| v.map_or("(absent)".to_owned(), |v| v.clone());
        writeln!(
            report,
            "{location}\n    Kafka:  {}\n    gregor: {}",
            show(k),
            show(g)
        )?;
    }
    for (allowed, used) in allowed.iter().zip(used) {
        if !used {
            writeln!(
                report,
                "allow-list [{section}] line {:?} matched no difference: remove it",
                allowed.pattern
            )?;
        }
    }
    if !report.is_empty() {
        bail!("{section}: gregor differs from Kafka 2.8:\n{report}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run_and_the_rest_matches_itself() {
        assert!(matches("/brokers/ids/*", "/brokers/ids/1"));
        assert!(matches("*/timestamp", "/controller/timestamp"));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "a-b-b-c"));
        assert!(!matches("a*b*c", "a-c-b"));
        assert!(!matches("/brokers", "/brokers/ids"));
        assert!(matches("exact", "exact"));
    }

    #[test]
    fn a_line_without_a_reason_is_an_error() {
        let text = "[wire]\n/a  # fine\n[disk]\nno-reason\n";
        assert_eq!(parse_allow_list(text, "wire").unwrap().len(), 1);
        assert!(parse_allow_list(text, "disk").is_err());
    }

    #[test]
    fn unaccepted_and_unused_lines_both_fail() {
        let one = BTreeMap::from([("/x".to_owned(), "1".to_owned())]);
        let other = BTreeMap::from([("/x".to_owned(), "2".to_owned())]);
        assert!(compare("no-such-section", &one, &one).is_ok());
        let error = compare("no-such-section", &one, &other).unwrap_err();
        assert!(format!("{error:#}").contains("/x"));
    }
}
