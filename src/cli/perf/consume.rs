//! `gregor perf consume`: reads a number of records as fast as it can and
//! reports throughput and poll latency, like `kafka-consumer-perf-test.sh`.
//!
//! Without `--group` every partition of the topic is assigned and read from
//! its beginning; with `--group` the consumer subscribes as a member of that
//! group (starting at its committed offsets, else at the beginning). A
//! progress line goes out every `--reporting-interval` ms; at the end: the
//! records read, their rate in records and megabytes (keys and values,
//! 1 MB = 2^20 bytes, as Kafka's tool counts), and the latency
//! percentiles of the polls that returned records.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use gregor_client::consumer::{Consumer, ConsumerConfig};
use gregor_protocol::TopicPartition;

use super::stats::Stats;
use crate::cli::ConnectArgs;

#[derive(Args, Debug)]
pub(crate) struct PerfConsumeArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The topic to read.
    #[arg(long, short)]
    pub topic: String,
    /// How many records to read.
    #[arg(long, value_name = "N")]
    pub messages: u64,
    /// Read as a member of this consumer group.
    #[arg(long, short)]
    pub group: Option<String>,
    /// Give up when no record arrived for this long.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// How often to print a progress line.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    pub reporting_interval: u64,
    /// A consumer setting, by its Kafka key (repeatable).
    #[arg(long = "consumer-property", short = 'X', value_name = "KEY=VALUE")]
    pub consumer_properties: Vec<String>,
}

pub(crate) async fn run(args: PerfConsumeArgs) -> anyhow::Result<()> {
    let mut config = ConsumerConfig::with_client(args.connect.client_config());
    config.client.client_id = "gregor-perf-consumer".into();
    config.group_id = args.group.clone();
    config.set("auto.offset.reset", "earliest")?;
    for property in &args.consumer_properties {
        let (key, value) = property
            .split_once('=')
            .with_context(|| format!("--consumer-property {property:?} is not KEY=VALUE"))?;
        config.set(key, value)?;
    }
    let mut consumer = Consumer::new(config).await?;
    match &args.group {
        Some(_) => consumer.subscribe([args.topic.clone()])?,
        None => {
            let partitions: Vec<TopicPartition> = consumer
                .partitions_for(&args.topic)
                .await?
                .into_iter()
                .map(|p| TopicPartition::new(args.topic.as_str(), p))
                .collect();
            consumer.assign(partitions.iter().cloned());
            consumer.seek_to_beginning(&partitions)?;
        }
    }

    let idle_limit = Duration::from_millis(args.timeout_ms);
    let interval = Duration::from_millis(args.reporting_interval.max(1));
    // Rates count from the first poll that returned records, not from the
    // connection or the group join.
    let mut stats: Option<Stats> = None;
    let mut last_record = Instant::now();
    let mut last_report = Instant::now();
    let mut read = 0;
    while read < args.messages {
        let started = Instant::now();
        let records = consumer.poll(Duration::from_millis(100)).await?;
        if records.is_empty() {
            if last_record.elapsed() >= idle_limit {
                bail!(
                    "no record for {idle_limit:?} after {read} of {} records",
                    args.messages
                );
            }
            continue;
        }
        last_record = Instant::now();
        let bytes: usize = records
            .iter()
            .map(|r| {
                r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())
            })
            .sum();
        read += records.len() as u64;
        let stats = stats.get_or_insert_with(|| {
            last_report = started;
            Stats::starting_at(started, args.messages, "records consumed")
        });
        stats.records(records.len() as u64, bytes, last_record - started);
        if last_report.elapsed() >= interval {
            println!("{}", stats.take_window());
            last_report = Instant::now();
        }
    }
    if let Some(stats) = stats {
        println!("{}", stats.summary());
    }
    consumer.close().await?;
    Ok(())
}
