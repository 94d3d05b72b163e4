//! Throughput and latency statistics of a perf run, printed the way
//! Kafka's perf tools print them: a line per reporting window while the
//! run goes on, and a final line with latency percentiles.
//!
//! Latencies are kept in microseconds. Like Kafka's `ProducerPerformance`,
//! at most [`MAX_SAMPLES`] of them are sampled for the percentiles (every
//! n-th record, n chosen from the expected record count), into an HDR
//! histogram precise to a microsecond up to a quarter second and to five
//! significant digits beyond.

use std::fmt;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Kafka's perf tools keep 500,000 latency samples.
pub(crate) const MAX_SAMPLES: u64 = 500_000;

/// Kafka's perf tools report every 5 seconds.
pub(crate) const REPORTING_INTERVAL: Duration = Duration::from_secs(5);

const MIB: f64 = 1024.0 * 1024.0;

/// The latency histogram's precision: exact to 2^18 µs, then within one
/// part in 10^5.
const SIGNIFICANT_DIGITS: u8 = 5;

/// Running statistics of one perf run.
#[derive(Debug)]
pub(crate) struct Stats {
    /// What the records did, for the printed lines ("records sent").
    verb: &'static str,
    start: Instant,
    total: Window,
    window: Window,
    window_start: Instant,
    /// Every `sampling`-th record's latency is kept.
    sampling: u64,
    samples: Histogram<u64>,
}

/// Counts over a span of time.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    records: u64,
    bytes: u64,
    /// Latencies observed: one per record sent, one per poll consumed.
    latencies: u64,
    latency_sum_us: u64,
    latency_max_us: u64,
}

impl Window {
    fn add(&mut self, records: u64, bytes: usize, latency_us: u64) {
        self.records += records;
        self.bytes += bytes as u64;
        self.latencies += 1;
        self.latency_sum_us += latency_us;
        self.latency_max_us = self.latency_max_us.max(latency_us);
    }

    fn avg_ms(&self) -> f64 {
        match self.latencies {
            0 => 0.0,
            n => self.latency_sum_us as f64 / n as f64 / 1000.0,
        }
    }
}

impl Stats {
    /// Statistics for a run of about `expected_records` records; `verb` says
    /// what happened to them ("records sent").
    pub(crate) fn new(expected_records: u64, verb: &'static str) -> Self {
        Self::starting_at(Instant::now(), expected_records, verb)
    }

    /// [`new`](Self::new), for a run that began at `now`.
    pub(crate) fn starting_at(now: Instant, expected_records: u64, verb: &'static str) -> Self {
        let sampling = (expected_records / MAX_SAMPLES.min(expected_records.max(1))).max(1);
        Stats {
            verb,
            start: now,
            total: Window::default(),
            window: Window::default(),
            window_start: now,
            sampling,
            samples: Histogram::new(SIGNIFICANT_DIGITS)
                .expect("five significant digits is within the histogram's range"),
        }
    }

    /// Counts one record of `bytes` that took `latency` (a send, until its
    /// acknowledgement).
    pub(crate) fn record(&mut self, bytes: usize, latency: Duration) {
        self.records(1, bytes, latency);
    }

    /// Counts `records` records of `bytes` in all that arrived together
    /// after `latency` (a poll): one latency observation.
    pub(crate) fn records(&mut self, records: u64, bytes: usize, latency: Duration) {
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if self.total.latencies.is_multiple_of(self.sampling) && self.samples.len() < MAX_SAMPLES {
            // The histogram grows to fit; a value beyond any size it can
            // grow to counts as the largest it can hold.
            if self.samples.record(latency_us).is_err() {
                self.samples.saturating_record(latency_us);
            }
        }
        self.total.add(records, bytes, latency_us);
        self.window.add(records, bytes, latency_us);
    }

    /// The progress line of the window that ends now, and starts the next.
    pub(crate) fn take_window(&mut self) -> String {
        let now = Instant::now();
        let line = Line {
            verb: self.verb,
            window: self.window,
            elapsed: now - self.window_start,
        };
        let line = format!("{line}.");
        self.window = Window::default();
        self.window_start = now;
        line
    }

    /// The run so far, with latency percentiles.
    pub(crate) fn summary(&self) -> Summary {
        // Kafka's percentile is the sorted samples' element at index
        // `(int) (p * n)`: the sample of rank `p * n` rounded down, plus
        // one. Asking the histogram for half a sample below that rank finds
        // it without floating-point doubt.
        let samples = &self.samples;
        let percentile = |p: f64| -> f64 {
            match samples.len() {
                0 => 0.0,
                n => {
                    let rank = ((p * n as f64) as u64 + 1).min(n);
                    let value = samples.value_at_quantile((rank as f64 - 0.5) / n as f64);
                    samples.lowest_equivalent(value) as f64 / 1000.0
                }
            }
        };
        Summary {
            line: Line {
                verb: self.verb,
                window: self.total,
                elapsed: self.start.elapsed(),
            },
            p50_ms: percentile(0.5),
            p95_ms: percentile(0.95),
            p99_ms: percentile(0.99),
            p999_ms: percentile(0.999),
        }
    }
}

/// Counts, rates and latencies over a span.
struct Line {
    verb: &'static str,
    window: Window,
    elapsed: Duration,
}

impl Line {
    fn records_per_sec(&self) -> f64 {
        self.window.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn mib_per_sec(&self) -> f64 {
        self.window.bytes as f64 / MIB / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max
/// latency.` as Kafka's `ProducerPerformance` prints each window.
impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency",
            self.window.records,
            self.verb,
            self.records_per_sec(),
            self.mib_per_sec(),
            self.window.avg_ms(),
            self.window.latency_max_us as f64 / 1000.0,
        )
    }
}

/// The final statistics of a run.
pub(crate) struct Summary {
    line: Line,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

/// Kafka's final line, with fractional milliseconds: `N records sent, R
/// records/sec (M MB/sec), A ms avg latency, X ms max latency, P ms 50th,
/// P ms 95th, P ms 99th, P ms 99.9th.`
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {:.2} ms 50th, {:.2} ms 95th, {:.2} ms 99th, {:.2} ms 99.9th.",
            self.line, self.p50_ms, self.p95_ms, self.p99_ms, self.p999_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_latencies() {
        let mut stats = Stats::new(1000, "records sent");
        // 1..=1000 ms, in reverse.
        for ms in (1..=1000).rev() {
            stats.record(100, Duration::from_millis(ms));
        }
        let s = stats.summary();
        assert_eq!(s.line.window.records, 1000);
        assert_eq!(s.p50_ms, 501.0);
        assert_eq!(s.p95_ms, 951.0);
        assert_eq!(s.p99_ms, 991.0);
        assert_eq!(s.p999_ms, 1000.0);
        let line = s.to_string();
        assert!(line.starts_with("1000 records sent, "), "{line}");
        assert!(
            line.contains(", 500.50 ms avg latency, 1000.00 ms max latency, 501.00 ms 50th, 951.00 ms 95th, 991.00 ms 99th, 1000.00 ms 99.9th."),
            "{line}"
        );
    }

    #[test]
    fn samples_are_bounded() {
        let mut stats = Stats::new(2 * MAX_SAMPLES, "records sent");
        for i in 0..2 * MAX_SAMPLES {
            stats.record(1, Duration::from_micros(i % 7));
        }
        assert_eq!(stats.samples.len(), MAX_SAMPLES);
        assert_eq!(stats.total.records, 2 * MAX_SAMPLES);
    }

    #[test]
    fn a_window_counts_only_its_own_records() {
        let mut stats = Stats::new(10, "records sent");
        stats.record(1024 * 1024, Duration::from_millis(4));
        stats.record(1024 * 1024, Duration::from_millis(2));
        let first = stats.take_window();
        assert!(
            first.starts_with("2 records sent, ")
                && first.ends_with("3.00 ms avg latency, 4.00 ms max latency."),
            "{first}"
        );
        stats.record(10, Duration::from_millis(1));
        let second = stats.take_window();
        assert!(second.starts_with("1 records sent, "), "{second}");
        assert!(
            second.ends_with("1.00 ms avg latency, 1.00 ms max latency."),
            "{second}"
        );
        // The totals keep everything.
        assert_eq!(stats.summary().line.window.records, 3);
    }

    #[test]
    fn a_poll_is_one_latency_for_many_records() {
        let mut stats = Stats::new(100, "records consumed");
        stats.records(60, 6000, Duration::from_millis(2));
        stats.records(40, 4000, Duration::from_millis(4));
        let s = stats.summary();
        assert_eq!(s.line.window.records, 100);
        assert_eq!(s.p50_ms, 4.0);
        let line = s.to_string();
        assert!(line.starts_with("100 records consumed, "), "{line}");
        assert!(
            line.contains(", 3.00 ms avg latency, 4.00 ms max latency, "),
            "{line}"
        );
    }

    #[test]
    fn an_empty_run_reports_zeros() {
        let s = Stats::new(0, "records sent").summary();
        assert!(
            s.to_string().starts_with("0 records sent, 0.0 records/sec"),
            "{s}"
        );
        assert_eq!(s.p999_ms, 0.0);
    }
}
