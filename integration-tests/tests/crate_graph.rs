//! The crate map of `docs/ARCHITECTURE.md` held against Cargo's own view of
//! the workspace, so that the document and the dependency rules cannot
//! drift apart.
//!
//! The document's `crate-graph` block lists, for each workspace crate, the
//! gregor crates it depends on (normal dependencies, exactly) and the
//! external crates that must not be anywhere below it. This test reads that
//! block and `cargo metadata`, and fails on any difference: an edge the
//! document does not name, an edge it names that Cargo does not have, a
//! forbidden crate reached through any path, or `gregor-testkit` used as
//! anything but a dev-dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// One line of the document's block: `crate -> deps ! forbidden`.
#[derive(Debug)]
struct Rule {
    depends_on: BTreeSet<String>,
    forbidden_below: BTreeSet<String>,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration-tests lives inside the workspace")
        .to_path_buf()
}

/// The rules written in `docs/ARCHITECTURE.md` between the
/// `crate-graph:begin` and `crate-graph:end` markers.
fn documented_rules() -> BTreeMap<String, Rule> {
    let doc = std::fs::read_to_string(workspace_root().join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md is readable");
    const BEGIN: &str = "<!-- crate-graph:begin -->";
    let begin = doc
        .find(BEGIN)
        .expect("docs/ARCHITECTURE.md has a crate-graph:begin marker")
        + BEGIN.len();
    let end = doc
        .find("<!-- crate-graph:end -->")
        .expect("docs/ARCHITECTURE.md has a crate-graph:end marker");
    let mut rules = BTreeMap::new();
    for line in doc[begin..end].lines() {
        let Some((name, rest)) = line.split_once("->") else {
            continue;
        };
        let (deps, forbidden) = rest.split_once('!').unwrap_or((rest, ""));
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect();
        let previous = rules.insert(
            name.trim().to_owned(),
            Rule {
                depends_on: words(deps),
                forbidden_below: words(forbidden),
            },
        );
        assert!(previous.is_none(), "{} is listed twice", name.trim());
    }
    assert!(!rules.is_empty(), "the crate-graph block lists no crate");
    rules
}

/// Cargo's resolved graph: package id → name, and per package its
/// dependencies with whether each is a normal (non-dev, non-build) one.
struct Graph {
    names: BTreeMap<String, String>,
    members: BTreeSet<String>,
    deps: BTreeMap<String, Vec<(String, bool, bool)>>,
}

fn cargo_graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    let names = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let members = metadata["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    let mut deps = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().expect("resolve") {
        let edges = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .map(|d| {
                let kinds = d["dep_kinds"].as_array().expect("dep_kinds");
                let normal = kinds.iter().any(|k| k["kind"].is_null());
                let dev_only = kinds.iter().all(|k| k["kind"] == "dev");
                (d["pkg"].as_str().unwrap().to_owned(), normal, dev_only)
            })
            .collect();
        deps.insert(node["id"].as_str().unwrap().to_owned(), edges);
    }
    Graph {
        names,
        members,
        deps,
    }
}

impl Graph {
    fn id_of(&self, name: &str) -> &str {
        self.members
            .iter()
            .find(|id| self.names[*id] == name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"))
    }

    /// Names of everything reachable from `id` through normal dependencies.
    fn normal_closure(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![id.to_owned()];
        while let Some(next) = todo.pop() {
            for (dep, normal, _) in &self.deps[&next] {
                if *normal && seen.insert(dep.clone()) {
                    todo.push(dep.clone());
                }
            }
        }
        seen.iter().map(|id| self.names[id].clone()).collect()
    }
}

#[test]
fn the_workspace_has_exactly_the_crates_and_edges_the_architecture_document_names() {
    let rules = documented_rules();
    let graph = cargo_graph();
    let members: BTreeSet<String> = graph
        .members
        .iter()
        .map(|id| graph.names[id].clone())
        .collect();
    let documented: BTreeSet<String> = rules.keys().cloned().collect();
    assert_eq!(
        members, documented,
        "workspace members vs docs/ARCHITECTURE.md"
    );

    for (name, rule) in &rules {
        let id = graph.id_of(name);
        let actual: BTreeSet<String> = graph.deps[id]
            .iter()
            .filter(|(dep, normal, _)| *normal && graph.members.contains(dep))
            .map(|(dep, _, _)| graph.names[dep].clone())
            .collect();
        assert_eq!(actual, rule.depends_on, "{name}'s gregor dependencies");
        let below = graph.normal_closure(id);
        let reached: Vec<&String> = rule.forbidden_below.intersection(&below).collect();
        assert!(
            reached.is_empty(),
            "{name} reaches forbidden crates {reached:?}"
        );
    }
}

#[test]
fn gregor_testkit_is_only_ever_a_dev_dependency() {
    let graph = cargo_graph();
    let testkit = graph.id_of("gregor-testkit").to_owned();
    for (user, edges) in &graph.deps {
        for (dep, _, dev_only) in edges {
            assert!(
                *dep != testkit || *dev_only,
                "{} depends on gregor-testkit outside [dev-dependencies]",
                graph.names[user]
            );
        }
    }
}
