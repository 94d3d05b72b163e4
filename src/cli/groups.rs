//! `gregor groups`: list consumer groups, describe one with its lag, reset
//! its offsets, delete it — `kafka-consumer-groups.sh` with the same output
//! layouts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use gregor_client::admin::{AdminClient, AdminError, GroupDescription, OffsetSpec};
use gregor_client::ClusterMetadata;
use gregor_protocol::TopicPartition;

use super::output::{print, Table};
use super::topics::succeeded;
use super::ConnectArgs;

/// `gregor groups`.
#[derive(Args, Debug)]
pub(crate) struct GroupsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    command: GroupsCommand,
}

#[derive(Subcommand, Debug)]
enum GroupsCommand {
    /// List every group's id.
    List,
    /// Describe a group: each partition's committed offset, log end offset
    /// and lag with the member consuming it, then the group's state and
    /// members.
    Describe {
        #[arg(long)]
        group: String,
    },
    /// Compute new committed offsets for a group without members and, with
    /// --execute, commit them (without it, only show them).
    ResetOffsets(ResetOffsetsArgs),
    /// Delete a group without members, with its committed offsets.
    Delete {
        #[arg(long)]
        group: String,
    },
}

#[derive(Args, Debug)]
struct ResetOffsetsArgs {
    #[arg(long)]
    group: String,
    /// A topic (all its partitions) or `topic:0,2` (those partitions);
    /// repeat for more.
    #[arg(long = "topic", value_name = "TOPIC[:P,P...]", value_parser = parse_topic_partitions, required = true)]
    topics: Vec<(String, Option<Vec<i32>>)>,
    #[command(flatten)]
    target: ResetTarget,
    /// Commit the new offsets (default: a dry run that only shows them).
    #[arg(long)]
    execute: bool,
    /// Only show the new offsets (the default).
    #[arg(long, conflicts_with = "execute")]
    dry_run: bool,
}

/// Where to reset to: exactly one.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct ResetTarget {
    /// The earliest offset still in the log.
    #[arg(long)]
    to_earliest: bool,
    /// The end of the log.
    #[arg(long)]
    to_latest: bool,
    /// This offset, kept within the log's earliest and latest.
    #[arg(long, value_name = "OFFSET")]
    to_offset: Option<i64>,
    /// The first record at or after this time, `YYYY-MM-DDTHH:mm:SS[.sss]`
    /// in UTC or with a `Z`/`±HH:MM` zone (Kafka reads a time without a
    /// zone in the local time zone).
    #[arg(long, value_name = "YYYY-MM-DDTHH:mm:SS.sss", value_parser = parse_datetime)]
    to_datetime: Option<i64>,
}

/// Runs `gregor groups ...`.
pub(crate) async fn run(args: GroupsArgs) -> anyhow::Result<()> {
    let mut admin = args.connect.admin().await?;
    match args.command {
        GroupsCommand::List => {
            let mut out = String::new();
            for group in admin.list_groups().await? {
                writeln!(out, "{}", group.group_id)?;
            }
            Ok(print(&out)?)
        }
        GroupsCommand::Describe { group } => describe(&mut admin, &group).await,
        GroupsCommand::ResetOffsets(reset) => reset_offsets(&mut admin, reset).await,
        GroupsCommand::Delete { group } => {
            succeeded(
                admin
                    .delete_consumer_groups(std::slice::from_ref(&group))
                    .await?,
            )?;
            Ok(print(&format!(
                "Deletion of requested consumer groups ('{group}') was successful.\n"
            ))?)
        }
    }
}

/// `kafka-consumer-groups.sh --describe`, then its `--state` and
/// `--members` tables.
async fn describe(admin: &mut AdminClient, group: &str) -> anyhow::Result<()> {
    let description = admin
        .describe_groups(&[group.to_owned()])
        .await?
        .pop()
        .with_context(|| format!("the coordinator did not describe group '{group}'"))?;
    let committed = admin.list_consumer_group_offsets(group).await?;
    if description.state == "Dead" && committed.is_empty() {
        bail!("Consumer group '{group}' does not exist.");
    }
    let assigned: BTreeMap<&TopicPartition, usize> = description
        .members
        .iter()
        .enumerate()
        .flat_map(|(i, m)| m.assignment.iter().map(move |tp| (tp, i)))
        .collect();
    let partitions: BTreeSet<&TopicPartition> =
        committed.keys().chain(assigned.keys().copied()).collect();
    let specs: Vec<(TopicPartition, OffsetSpec)> = partitions
        .iter()
        .map(|tp| ((*tp).clone(), OffsetSpec::Latest))
        .collect();
    let ends = admin.list_offsets(&specs).await?;
    let cluster = admin.describe_cluster().await?;

    let mut out = String::new();
    if description.members.is_empty() {
        writeln!(out, "Consumer group '{group}' has no active members.\n")?;
    }
    let mut offsets = Table::new(&[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    let dash = || "-".to_owned();
    for tp in &partitions {
        let current = committed.get(*tp);
        let end = ends.get(*tp).map(|listed| listed.offset);
        let lag = match (current, end) {
            (Some(current), Some(end)) => (end - current).to_string(),
            _ => dash(),
        };
        let member = assigned.get(tp).map(|&i| &description.members[i]);
        offsets.row(vec![
            group.to_owned(),
            tp.topic.clone(),
            tp.partition.to_string(),
            current.map_or_else(dash, i64::to_string),
            end.map_or_else(dash, |e| e.to_string()),
            lag,
            member.map_or_else(dash, |m| m.member_id.clone()),
            member.map_or_else(dash, |m| m.host.clone()),
            member.map_or_else(dash, |m| m.client_id.clone()),
        ]);
    }
    // Members without partitions still appear, as in Kafka.
    for member in description
        .members
        .iter()
        .filter(|m| m.assignment.is_empty())
    {
        offsets.row(vec![
            group.to_owned(),
            dash(),
            dash(),
            dash(),
            dash(),
            dash(),
            member.member_id.clone(),
            member.host.clone(),
            member.client_id.clone(),
        ]);
    }
    out.push_str(&offsets.render());
    out.push('\n');
    out.push_str(&state_table(&description, &cluster).render());
    if !description.members.is_empty() {
        out.push('\n');
        let mut members = Table::new(&["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"]);
        for m in &description.members {
            members.row(vec![
                group.to_owned(),
                m.member_id.clone(),
                m.host.clone(),
                m.client_id.clone(),
                m.assignment.len().to_string(),
            ]);
        }
        out.push_str(&members.render());
    }
    Ok(print(&out)?)
}

/// `kafka-consumer-groups.sh --describe --state`.
fn state_table(description: &GroupDescription, cluster: &ClusterMetadata) -> Table {
    let coordinator = match cluster.brokers.get(&description.coordinator) {
        Some(broker) => format!("{} ({})", broker.address(), description.coordinator),
        None => format!("({})", description.coordinator),
    };
    let mut table = Table::new(&[
        "GROUP",
        "COORDINATOR (ID)",
        "ASSIGNMENT-STRATEGY",
        "STATE",
        "#MEMBERS",
    ]);
    table.row(vec![
        description.group_id.clone(),
        coordinator,
        // "-" while there is none (no members), like other empty cells.
        if description.protocol.is_empty() {
            "-".to_owned()
        } else {
            description.protocol.clone()
        },
        description.state.clone(),
        description.members.len().to_string(),
    ]);
    table
}

async fn reset_offsets(admin: &mut AdminClient, args: ResetOffsetsArgs) -> anyhow::Result<()> {
    let group = args.group.as_str();
    // Kafka computes nothing for a group with members, dry run or not.
    let description = admin
        .describe_groups(&[group.to_owned()])
        .await?
        .pop()
        .with_context(|| format!("the coordinator did not describe group '{group}'"))?;
    if !description.is_inactive() {
        return Err(AdminError::GroupNotInactive {
            group: group.to_owned(),
            state: description.state,
        }
        .into());
    }
    let partitions = selected_partitions(admin, &args.topics).await?;
    let target = &args.target;
    let offsets = if target.to_earliest {
        offsets_at(admin, &partitions, OffsetSpec::Earliest).await?
    } else if target.to_latest {
        offsets_at(admin, &partitions, OffsetSpec::Latest).await?
    } else if let Some(wanted) = target.to_offset {
        let earliest = offsets_at(admin, &partitions, OffsetSpec::Earliest).await?;
        let latest = offsets_at(admin, &partitions, OffsetSpec::Latest).await?;
        earliest
            .into_iter()
            .map(|(tp, low)| {
                let high = latest.get(&tp).copied().unwrap_or(low);
                (tp, wanted.clamp(low, high.max(low)))
            })
            .collect()
    } else if let Some(time) = target.to_datetime {
        let at_time = offsets_at(admin, &partitions, OffsetSpec::Timestamp(time)).await?;
        let latest = offsets_at(admin, &partitions, OffsetSpec::Latest).await?;
        // No record that late: the end of the log, as Kafka does.
        at_time
            .into_iter()
            .map(|(tp, offset)| {
                let offset = if offset < 0 {
                    latest.get(&tp).copied().unwrap_or(offset)
                } else {
                    offset
                };
                (tp, offset)
            })
            .collect()
    } else {
        bail!("no reset target given");
    };
    let mut table = Table::new(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);
    for (tp, offset) in &offsets {
        table.row(vec![
            group.to_owned(),
            tp.topic.clone(),
            tp.partition.to_string(),
            offset.to_string(),
        ]);
    }
    if args.execute {
        admin.alter_consumer_group_offsets(group, &offsets).await?;
    } else {
        eprintln!("Dry run: nothing was committed; add --execute to commit these offsets.");
    }
    Ok(print(&table.render())?)
}

/// The partitions the `--topic` arguments name: a topic's every partition,
/// or the listed ones.
async fn selected_partitions(
    admin: &mut AdminClient,
    topics: &[(String, Option<Vec<i32>>)],
) -> anyhow::Result<Vec<TopicPartition>> {
    let mut selected = Vec::new();
    for (topic, partitions) in topics {
        match partitions {
            Some(partitions) => {
                selected.extend(
                    partitions
                        .iter()
                        .map(|&p| TopicPartition::new(topic.as_str(), p)),
                );
            }
            None => {
                for described in admin
                    .describe_topics(Some(std::slice::from_ref(topic)))
                    .await?
                {
                    selected.extend(
                        described
                            .partitions
                            .iter()
                            .map(|p| TopicPartition::new(topic.as_str(), p.partition)),
                    );
                }
            }
        }
    }
    Ok(selected)
}

async fn offsets_at(
    admin: &mut AdminClient,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
    let specs: Vec<(TopicPartition, OffsetSpec)> =
        partitions.iter().map(|tp| (tp.clone(), spec)).collect();
    Ok(admin
        .list_offsets(&specs)
        .await?
        .into_iter()
        .map(|(tp, listed)| (tp, listed.offset))
        .collect())
}

/// `topic` or `topic:0,2`.
fn parse_topic_partitions(text: &str) -> Result<(String, Option<Vec<i32>>), String> {
    match text.split_once(':') {
        None if !text.is_empty() => Ok((text.to_owned(), None)),
        Some((topic, list)) if !topic.is_empty() => {
            let partitions = list
                .split(',')
                .map(|p| p.trim().parse::<i32>().ok().filter(|p| *p >= 0))
                .collect::<Option<Vec<i32>>>()
                .ok_or_else(|| format!("{list:?} is not a list of partitions"))?;
            Ok((topic.to_owned(), Some(partitions)))
        }
        _ => Err(format!("expected TOPIC or TOPIC:P,P..., got {text:?}")),
    }
}

/// `YYYY-MM-DDTHH:mm:SS[.sss][Z|±HH:MM]` as ms since the Unix epoch; no
/// zone means UTC.
fn parse_datetime(text: &str) -> Result<i64, String> {
    let bad = || format!("expected YYYY-MM-DDTHH:mm:SS[.sss][Z|+HH:MM], got {text:?}");
    let (date, time) = text.split_once('T').ok_or_else(bad)?;
    let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let [year, month, day] = split3(date, '-').ok_or_else(bad)?;
    let (year, month, day) = (number(year)?, number(month)?, number(day)?);
    // The zone, if any, follows the seconds.
    let zone_at = time.find(['Z', '+', '-']).unwrap_or(time.len());
    let (clock, zone) = time.split_at(zone_at);
    let offset_minutes = match zone {
        "" | "Z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':').ok_or_else(bad)?;
            sign * (number(h)? * 60 + number(m)?)
        }
    };
    let (hms, millis) = match clock.split_once('.') {
        Some((hms, fraction)) if !fraction.is_empty() && fraction.len() <= 3 => {
            (hms, number(&format!("{fraction:0<3}"))?)
        }
        Some(_) => return Err(bad()),
        None => (clock, 0),
    };
    let [hour, minute, second] = split3(hms, ':').ok_or_else(bad)?;
    let (hour, minute, second) = (number(hour)?, number(minute)?, number(second)?);
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
        && [hour, minute, second].iter().all(|v| *v >= 0);
    if !valid {
        return Err(bad());
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    Ok(seconds * 1000 + millis)
}

fn split3(text: &str, separator: char) -> Option<[&str; 3]> {
    let mut parts = text.split(separator);
    let three = [parts.next()?, parts.next()?, parts.next()?];
    parts.next().is_none().then_some(three)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafkas_datetime_format() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00"), Ok(0));
        assert_eq!(parse_datetime("1970-01-01T00:00:01.5"), Ok(1500));
        assert_eq!(
            parse_datetime("2023-11-14T22:13:20.000Z"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_datetime("2023-11-15T00:13:20.000+02:00"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_datetime("2023-11-14T21:13:20-01:00"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_datetime("2024-02-29T12:00:00"), Ok(1_709_208_000_000));
        for bad in [
            "2023-02-29T00:00:00",
            "2023-11-14 22:13:20",
            "2023-11-14T24:00:00",
            "2023-11-14T22:13",
            "2023-11-14T22:13:20.1234",
            "yesterday",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_topics_with_or_without_partitions() {
        assert_eq!(parse_topic_partitions("t"), Ok(("t".into(), None)));
        assert_eq!(
            parse_topic_partitions("t:0,2"),
            Ok(("t".into(), Some(vec![0, 2])))
        );
        assert!(parse_topic_partitions("t:x").is_err());
        assert!(parse_topic_partitions(":1").is_err());
        assert!(parse_topic_partitions("").is_err());
    }
}
