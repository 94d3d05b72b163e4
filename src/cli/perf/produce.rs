//! `gregor perf produce`: sends `--num-records` records of `--record-size`
//! random capital letters without keys (so the sticky partitioner fills
//! whole batches), optionally throttled to `--throughput` records/s, and
//! reports progress every 5 s and a final line with latency percentiles,
//! as `kafka-producer-perf-test.sh` does. A record's latency runs from
//! `send` to its acknowledgement.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use clap::Args;

use gregor_client::{ProduceError, Producer, ProducerRecord};

use super::stats::{Stats, REPORTING_INTERVAL};
use crate::cli::produce::ProducerArgs;
use crate::cli::ConnectArgs;

#[derive(Args, Debug)]
pub(crate) struct PerfProduceArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic to send to.
    #[arg(long, short)]
    pub topic: String,
    /// How many records to send.
    #[arg(long = "num-records", value_name = "N")]
    pub num_records: u64,
    /// Bytes of each record's value.
    #[arg(long = "record-size", value_name = "BYTES")]
    pub record_size: usize,
    /// At most this many records per second; -1 for no limit.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true, value_name = "RECORDS/S")]
    pub throughput: i64,
    #[command(flatten)]
    pub producer: ProducerArgs,
}

/// What the acknowledgement callbacks report.
struct Outcome {
    stats: Stats,
    failed: u64,
    first_error: Option<ProduceError>,
}

pub(crate) async fn run(args: PerfProduceArgs) -> anyhow::Result<()> {
    let producer = Producer::connect(args.producer.config(&args.connect)).await?;
    let payload = payload(args.record_size);
    let outcome = Arc::new(Mutex::new(Outcome {
        stats: Stats::new(args.num_records, "records sent"),
        failed: 0,
        first_error: None,
    }));
    let progress = {
        let outcome = Arc::clone(&outcome);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(REPORTING_INTERVAL);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let line = lock(&outcome).stats.take_window();
                println!("{line}");
            }
        })
    };
    let throttle = Throttle::new(args.throughput);
    for sent in 0..args.num_records {
        throttle.wait(sent).await;
        let record = ProducerRecord {
            topic: args.topic.clone(),
            partition: None,
            key: None,
            value: Some(payload.clone()),
            headers: Vec::new(),
            timestamp: None,
        };
        let sent_at = Instant::now();
        let outcome = Arc::clone(&outcome);
        let size = payload.len();
        producer
            .send_with_callback(record, move |result| {
                let mut outcome = lock(&outcome);
                match result {
                    Ok(_) => outcome.stats.record(size, sent_at.elapsed()),
                    Err(e) => {
                        outcome.failed += 1;
                        outcome.first_error.get_or_insert(e);
                    }
                }
            })
            .await?;
    }
    producer.close().await;
    // Aborted rather than run on a shutdown tree: the command ends here,
    // and the printer holds nothing to release; its only await point is
    // the tick, so no line is cut short.
    progress.abort();
    let outcome = lock(&outcome);
    println!("{}", outcome.stats.summary());
    if let Some(error) = &outcome.first_error {
        bail!(
            "{} of {} records were not delivered: {error}",
            outcome.failed,
            args.num_records
        );
    }
    Ok(())
}

fn lock(outcome: &Mutex<Outcome>) -> std::sync::MutexGuard<'_, Outcome> {
    outcome.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `size` random capital letters, as Kafka's perf tool sends (compressible
/// like text, unlike all-equal bytes).
fn payload(size: usize) -> Bytes {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..size)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            b'A' + ((state >> 33) % 26) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// Kafka's `ThroughputThrottler`: keeps the send rate at or below a target
/// by sleeping whenever the run is ahead of schedule.
struct Throttle {
    start: Instant,
    /// Time per record at the target rate; `None` for no limit.
    per_record: Option<Duration>,
}

impl Throttle {
    fn new(records_per_sec: i64) -> Self {
        Throttle {
            start: Instant::now(),
            per_record: u32::try_from(records_per_sec)
                .ok()
                .filter(|rate| *rate > 0)
                .map(|rate| Duration::from_secs(1) / rate),
        }
    }

    /// Waits until `sent` records are due.
    async fn wait(&self, sent: u64) {
        if let Some(per_record) = self.per_record {
            let due =
                self.start + per_record.saturating_mul(u32::try_from(sent).unwrap_or(u32::MAX));
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_random_capital_letters() {
        let p = payload(1000);
        assert_eq!(p.len(), 1000);
        assert!(p.iter().all(u8::is_ascii_uppercase));
        let distinct: std::collections::BTreeSet<u8> = p.iter().copied().collect();
        assert_eq!(distinct.len(), 26);
    }

    #[tokio::test]
    async fn the_throttle_spaces_records_out() {
        let throttle = Throttle::new(100);
        let start = Instant::now();
        for sent in 0..=10 {
            throttle.wait(sent).await;
        }
        // Record 10 is due 100 ms in.
        assert!(
            start.elapsed() >= Duration::from_millis(95),
            "{:?}",
            start.elapsed()
        );
        let unlimited = Throttle::new(-1);
        assert!(unlimited.per_record.is_none());
    }
}
