//! `gregor perf consume`: reads a number of records as fast as it can and
//! reports throughput and poll latency, like `kafka-consumer-perf-test.sh`.
//!
//! Without `--group` every partition of the topic is assigned and read from
//! its beginning; with `--group` the consumer subscribes as a member of that
//! group (starting at its committed offsets, else at the beginning). A
//! progress line goes out every `--reporting-interval` ms; at the end: the
//! records and megabytes read (keys and values, 1 MB = 2^20 bytes, as
//! Kafka's tool counts), their rates, and the latency percentiles of the
//! polls that returned records.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use tokio::time::Instant;

use gregor::client::consumer::{Consumer, ConsumerConfig};
use gregor::TopicPartition;

use super::ConnectArgs;

const MB: f64 = 1024.0 * 1024.0;

#[derive(Args, Debug)]
pub struct PerfConsumeArgs {
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

/// Throughput over a span of time.
struct Window {
    started: Instant,
    records: u64,
    bytes: u64,
}

impl Window {
    fn new() -> Self {
        Window {
            started: Instant::now(),
            records: 0,
            bytes: 0,
        }
    }

    fn rates(&self) -> (f64, f64) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        (self.records as f64 / secs, self.bytes as f64 / MB / secs)
    }
}

pub async fn run(args: PerfConsumeArgs) -> anyhow::Result<()> {
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
    let mut total = Window::new();
    let mut window = Window::new();
    let mut reading = false;
    let mut last_record = Instant::now();
    // Microseconds per poll that returned records, and where the current
    // progress window's start in it.
    let mut latencies: Vec<u64> = Vec::new();
    let mut window_polls = 0;
    while total.records < args.messages {
        let started = Instant::now();
        let records = consumer.poll(Duration::from_millis(100)).await?;
        if records.is_empty() {
            if last_record.elapsed() >= idle_limit {
                bail!(
                    "no record for {idle_limit:?} after {} of {} records",
                    total.records,
                    args.messages
                );
            }
            continue;
        }
        let now = Instant::now();
        latencies.push(u64::try_from((now - started).as_micros()).unwrap_or(u64::MAX));
        last_record = now;
        if !reading {
            // Rates count from the first poll that returned records, not
            // from the connection or the group join.
            reading = true;
            total.started = started;
            window.started = started;
        }
        let bytes: u64 = records
            .iter()
            .map(|r| {
                (r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()))
                    as u64
            })
            .sum();
        for w in [&mut total, &mut window] {
            w.records += records.len() as u64;
            w.bytes += bytes;
        }
        if window.started.elapsed() >= interval {
            let (rps, mbps) = window.rates();
            println!(
                "{} records consumed, {rps:.1} records/sec ({mbps:.2} MB/sec), \
                 poll latency p99 {:.1} ms.",
                total.records,
                sorted_p99(&latencies[window_polls..]) as f64 / 1000.0
            );
            window = Window::new();
            window_polls = latencies.len();
        }
    }
    let (rps, mbps) = total.rates();
    let elapsed = total.started.elapsed();
    latencies.sort_unstable();
    let ms = |p: f64| percentile(&latencies, p) as f64 / 1000.0;
    println!(
        "{} records consumed in {:.2} s, {:.2} MB, {rps:.1} records/sec ({mbps:.2} MB/sec), \
         poll latency p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms ({} polls).",
        total.records,
        elapsed.as_secs_f64(),
        total.bytes as f64 / MB,
        ms(50.0),
        ms(99.0),
        ms(99.9),
        ms(100.0),
        latencies.len()
    );
    consumer.close().await?;
    Ok(())
}

fn sorted_p99(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 99.0)
}

/// The `p`th percentile (nearest rank) of `values`, sorted, 0 for none.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // Less a hair, so that 99.9% of 1000 is rank 999 despite rounding.
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 50.0), 500);
        assert_eq!(percentile(&v, 99.0), 990);
        assert_eq!(percentile(&v, 99.9), 999);
        assert_eq!(percentile(&v, 100.0), 1000);
        assert_eq!(percentile(&[7], 50.0), 7);
        assert_eq!(percentile(&[], 99.0), 0);
        let unsorted: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(sorted_p99(&unsorted), 99);
    }
}
