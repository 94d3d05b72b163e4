//! `gregor topics`: create, list, describe, delete topics and alter their
//! configs, in the spirit of `kafka-topics.sh` (and `kafka-configs.sh` for
//! `alter`), with the same output layouts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::bail;
use clap::{Args, Subcommand};

use gregor_client::admin::{
    AdminClient, AlterConfigOp, ConfigResource, ConfigSource, NewTopic, Outcomes,
};
use gregor_client::TopicInfo;

use super::output::print;
use super::ConnectArgs;

/// `gregor topics`.
#[derive(Args, Debug)]
pub(crate) struct TopicsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    command: TopicsCommand,
}

#[derive(Subcommand, Debug)]
enum TopicsCommand {
    /// Create a topic; the controller places its replicas and elects the
    /// leaders.
    Create(CreateArgs),
    /// List every topic's name.
    List {
        /// Leave out internal topics (__consumer_offsets).
        #[arg(long)]
        exclude_internal: bool,
    },
    /// Describe topics: partition count, replication factor and config
    /// overrides, then each partition's leader, replicas and in-sync
    /// replicas.
    Describe {
        /// The topic to describe (default: every topic).
        #[arg(long)]
        topic: Option<String>,
    },
    /// Delete a topic and all its records.
    Delete {
        #[arg(long)]
        topic: String,
    },
    /// Set or remove a topic's config overrides.
    Alter(AlterArgs),
}

#[derive(Args, Debug)]
struct CreateArgs {
    #[arg(long)]
    topic: String,
    /// Number of partitions (default: the brokers' num.partitions).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    partitions: Option<i32>,
    /// Replicas of each partition (default: the brokers'
    /// default.replication.factor).
    #[arg(long, value_parser = clap::value_parser!(i16).range(1..))]
    replication_factor: Option<i16>,
    /// A topic config override, e.g. --config retention.ms=60000; repeat
    /// for more.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_config)]
    configs: Vec<(String, String)>,
    /// Replicas of each partition, partitions separated by commas and
    /// replicas by colons, the first the preferred leader: `1:2,2:3` puts
    /// partition 0 on brokers 1 and 2, partition 1 on 2 and 3.
    #[arg(
        long,
        value_name = "B:B,B:B,...",
        value_parser = parse_assignment,
        conflicts_with_all = ["partitions", "replication_factor"]
    )]
    replica_assignment: Option<BTreeMap<i32, Vec<i32>>>,
}

#[derive(Args, Debug)]
struct AlterArgs {
    #[arg(long)]
    topic: String,
    /// Set an override, e.g. --config retention.ms=60000; repeat for more.
    #[arg(
        long = "config",
        value_name = "KEY=VALUE",
        value_parser = parse_config,
        required_unless_present = "delete_configs"
    )]
    configs: Vec<(String, String)>,
    /// Remove an override (the topic takes the broker default again);
    /// repeat for more.
    #[arg(long = "delete-config", value_name = "KEY")]
    delete_configs: Vec<String>,
}

/// Runs `gregor topics ...`.
pub(crate) async fn run(args: TopicsArgs) -> anyhow::Result<()> {
    let mut admin = args.connect.admin().await?;
    match args.command {
        TopicsCommand::Create(create) => create_topic(&mut admin, create).await,
        TopicsCommand::List { exclude_internal } => {
            let mut out = String::new();
            for topic in admin.list_topics().await? {
                if !(exclude_internal && topic.is_internal) {
                    writeln!(out, "{}", topic.name)?;
                }
            }
            Ok(print(&out)?)
        }
        TopicsCommand::Describe { topic } => describe(&mut admin, topic).await,
        TopicsCommand::Delete { topic } => {
            succeeded(admin.delete_topics(std::slice::from_ref(&topic)).await?)?;
            Ok(print(&format!("Deleted topic {topic}.\n"))?)
        }
        TopicsCommand::Alter(alter) => {
            let mut changes: Vec<AlterConfigOp> = alter
                .configs
                .into_iter()
                .map(|(key, value)| AlterConfigOp::Set(key, value))
                .collect();
            changes.extend(alter.delete_configs.into_iter().map(AlterConfigOp::Delete));
            let resource = ConfigResource::Topic(alter.topic.clone());
            admin.alter_configs(&resource, &changes, false).await?;
            Ok(print(&format!(
                "Completed updating config for topic {}.\n",
                alter.topic
            ))?)
        }
    }
}

async fn create_topic(admin: &mut AdminClient, args: CreateArgs) -> anyhow::Result<()> {
    let mut topic = match args.replica_assignment {
        Some(assignment) => NewTopic::with_assignment(&args.topic, assignment),
        None => NewTopic::new(
            &args.topic,
            args.partitions.unwrap_or(-1),
            args.replication_factor.unwrap_or(-1),
        ),
    };
    topic.configs = args.configs.into_iter().collect();
    succeeded(admin.create_topics(&[topic], false).await?)?;
    Ok(print(&format!("Created topic {}.\n", args.topic))?)
}

/// `kafka-topics.sh --describe`'s layout: a line per topic, then a line
/// per partition, fields separated by tabs.
async fn describe(admin: &mut AdminClient, topic: Option<String>) -> anyhow::Result<()> {
    let names = topic.map(|t| vec![t]);
    let topics = admin.describe_topics(names.as_deref()).await?;
    let mut out = String::new();
    for topic in &topics {
        let overrides = topic_overrides(admin, &topic.name).await?;
        write_topic(&mut out, topic, &overrides)?;
    }
    Ok(print(&out)?)
}

/// The topic's config overrides as `key=value,...`, the form of
/// kafka-topics.sh's `Configs:` field.
async fn topic_overrides(admin: &mut AdminClient, topic: &str) -> anyhow::Result<String> {
    let entries = admin
        .describe_configs(&ConfigResource::Topic(topic.to_owned()))
        .await?;
    let overrides: Vec<String> = entries
        .into_iter()
        .filter(|e| e.source == ConfigSource::DynamicTopicConfig)
        .map(|e| format!("{}={}", e.name, e.value.unwrap_or_default()))
        .collect();
    Ok(overrides.join(","))
}

fn write_topic(out: &mut String, topic: &TopicInfo, overrides: &str) -> std::fmt::Result {
    let replication_factor = topic.partitions.first().map_or(0, |p| p.replicas.len());
    writeln!(
        out,
        "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
        topic.name,
        topic.partitions.len(),
        replication_factor,
        overrides
    )?;
    for p in &topic.partitions {
        let leader = if p.leader >= 0 {
            p.leader.to_string()
        } else {
            "none".to_owned()
        };
        write!(
            out,
            "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
            topic.name,
            p.partition,
            leader,
            join(&p.replicas),
            join(&p.isr)
        )?;
        if !p.offline_replicas.is_empty() {
            write!(out, "\tOffline: {}", join(&p.offline_replicas))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn join(ids: &[i32]) -> String {
    let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
    ids.join(",")
}

/// Fails with every refused item's error, one line.
pub(super) fn succeeded(outcomes: Outcomes) -> anyhow::Result<()> {
    let failures: Vec<String> = outcomes
        .into_iter()
        .filter_map(|(_, result)| result.err())
        .map(|e| e.to_string())
        .collect();
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// `key=value`, split at the first `=`.
fn parse_config(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// `1:2,2:3`: partition 0 on brokers 1 and 2, partition 1 on 2 and 3.
fn parse_assignment(text: &str) -> Result<BTreeMap<i32, Vec<i32>>, String> {
    let mut assignment = BTreeMap::new();
    for (partition, replicas) in (0..).zip(text.split(',')) {
        let replicas = replicas
            .split(':')
            .map(|id| id.trim().parse::<i32>())
            .collect::<Result<Vec<i32>, _>>()
            .map_err(|_| {
                format!("partition {partition}: {replicas:?} is not B:B:... broker ids")
            })?;
        assignment.insert(partition, replicas);
    }
    Ok(assignment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_client::PartitionInfo;
    use gregor_protocol::ErrorCode;

    #[test]
    fn parses_kafkas_replica_assignment_syntax() {
        assert_eq!(
            parse_assignment("1:2,2:3,3").unwrap(),
            BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 3]), (2, vec![3])])
        );
        assert!(parse_assignment("1:x").is_err());
        assert!(parse_assignment("1,,2").is_err());
    }

    #[test]
    fn configs_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_config("cleanup.policy=compact,delete").unwrap(),
            ("cleanup.policy".into(), "compact,delete".into())
        );
        assert_eq!(parse_config("a==b").unwrap(), ("a".into(), "=b".into()));
        assert!(parse_config("=1").is_err());
        assert!(parse_config("retention.ms").is_err());
    }

    #[test]
    fn describes_like_kafka_topics() {
        let topic = TopicInfo {
            name: "t".into(),
            error: ErrorCode::NONE,
            is_internal: false,
            partitions: vec![
                PartitionInfo {
                    partition: 0,
                    leader: 1,
                    leader_epoch: 0,
                    replicas: vec![1, 2],
                    isr: vec![1, 2],
                    offline_replicas: vec![],
                    error: ErrorCode::NONE,
                },
                PartitionInfo {
                    partition: 1,
                    leader: -1,
                    leader_epoch: 0,
                    replicas: vec![2, 3],
                    isr: vec![],
                    offline_replicas: vec![2, 3],
                    error: ErrorCode::LEADER_NOT_AVAILABLE,
                },
            ],
        };
        let mut out = String::new();
        write_topic(&mut out, &topic, "retention.ms=1000").unwrap();
        assert_eq!(
            out,
            "Topic: t\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: retention.ms=1000\n\
             \tTopic: t\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n\
             \tTopic: t\tPartition: 1\tLeader: none\tReplicas: 2,3\tIsr: \tOffline: 2,3\n"
        );
    }
}
