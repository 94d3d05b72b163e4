//! The producer's settings, by Kafka's key names, with Kafka 2.8's
//! defaults (gregor's protocol level): notably `acks=1` and no idempotence,
//! which Kafka 3.0 changed to `acks=all` with idempotence.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

use crate::ClientConfig;
use gregor_record::Compression;
use gregor_runtime::{SharedClock, SystemClock};

/// `acks`: how many replicas must have a batch before the leader answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: the broker does not answer at all; records count as sent
    /// once written to the socket, and their offsets are unknown (-1).
    None,
    /// `acks=1` (Kafka 2.8's default): the leader has appended the batch.
    #[default]
    Leader,
    /// `acks=all` / `-1`: every in-sync replica has it (and the ISR has at
    /// least `min.insync.replicas` members).
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub fn wire_value(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

impl FromStr for Acks {
    type Err = ConfigError;

    /// Kafka's spellings: `all`, `-1`, `1`, `0`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" | "-1" => Ok(Acks::All),
            "1" => Ok(Acks::Leader),
            "0" => Ok(Acks::None),
            other => Err(ConfigError::Invalid {
                key: "acks",
                value: other.to_owned(),
                reason: "expected all, -1, 1 or 0",
            }),
        }
    }
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        })
    }
}

/// A setting the producer cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for {key}: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
    /// Kafka's check: a record must be allowed to wait `linger.ms` and then
    /// one request's worth of `request.timeout.ms` before it expires.
    #[error(
        "delivery.timeout.ms ({delivery:?}) must be at least linger.ms + request.timeout.ms ({needed:?})"
    )]
    DeliveryTimeoutTooShort {
        delivery: Duration,
        needed: Duration,
    },
}

/// Everything a [`Producer`](super::Producer) is configured with.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `bootstrap.servers`, `client.id` and `request.timeout.ms` (30000):
    /// how long a produce request may wait for its answer.
    pub client: ClientConfig,
    /// `acks` (Kafka 2.8 default: 1).
    pub acks: Acks,
    /// `linger.ms` (0): how long a batch waits for more records before it
    /// is sent even though it is not full.
    pub linger: Duration,
    /// `batch.size` (16384): bytes of records per batch (a larger record
    /// gets a batch of its own; 0 disables batching).
    pub batch_size: usize,
    /// `compression.type` (none): the codec of every batch.
    pub compression: Compression,
    /// `retries` (2147483647): how often a batch is resent after a
    /// retriable error; in practice `delivery.timeout.ms` bounds retrying.
    pub retries: u32,
    /// `delivery.timeout.ms` (120000): the longest a record may take from
    /// `send` to its acknowledgement, retries included, before it fails.
    pub delivery_timeout: Duration,
    /// `retry.backoff.ms` (100): the pause before a failed batch is resent
    /// and between metadata refreshes.
    pub retry_backoff: Duration,
    /// `max.request.size` (1048576): the largest record, and the most
    /// record bytes one produce request carries.
    pub max_request_size: usize,
    /// `max.in.flight.requests.per.connection` (5): unanswered produce
    /// requests per broker. Above 1, a retried batch may land after a later
    /// batch of the same partition, as in Kafka without idempotence.
    pub max_in_flight: usize,
    /// `buffer.memory` (33554432): bytes of records waiting to be sent or
    /// acknowledged; `send` waits for room when it is used up.
    pub buffer_memory: usize,
    /// `max.block.ms` (60000): how long `send` waits for a topic's
    /// metadata or for room in `buffer.memory` before failing.
    pub max_block: Duration,
    /// `metadata.max.age.ms` (300000): metadata is refreshed at least this
    /// often, even without errors, to notice new leaders and partitions.
    pub metadata_max_age: Duration,
    /// What stamps a record sent without a timestamp (Kafka's `Time`, not a
    /// configuration key): the system clock, or a test's.
    pub clock: SharedClock,
}

impl ProducerConfig {
    /// Kafka 2.8's defaults, bootstrapping from `bootstrap` (a
    /// comma-separated `host:port` list).
    pub fn new(bootstrap: &str) -> Self {
        Self::with_client(ClientConfig::new(bootstrap))
    }

    /// Kafka 2.8's producer defaults for a cluster reached through `client`.
    pub fn with_client(client: ClientConfig) -> Self {
        ProducerConfig {
            client,
            acks: Acks::Leader,
            linger: Duration::ZERO,
            batch_size: 16_384,
            compression: Compression::None,
            retries: i32::MAX as u32,
            delivery_timeout: Duration::from_millis(120_000),
            retry_backoff: Duration::from_millis(100),
            max_request_size: 1_048_576,
            max_in_flight: 5,
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            metadata_max_age: Duration::from_millis(300_000),
            clock: SystemClock::shared(),
        }
    }

    /// Checks the combinations Kafka refuses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let needed = self.linger + self.client.request_timeout;
        if self.delivery_timeout < needed {
            return Err(ConfigError::DeliveryTimeoutTooShort {
                delivery: self.delivery_timeout,
                needed,
            });
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::Invalid {
                key: "max.in.flight.requests.per.connection",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        if self.max_request_size == 0 || self.max_request_size > i32::MAX as usize {
            return Err(ConfigError::Invalid {
                key: "max.request.size",
                value: self.max_request_size.to_string(),
                reason: "must be between 1 and 2147483647",
            });
        }
        if self.buffer_memory == 0 {
            return Err(ConfigError::Invalid {
                key: "buffer.memory",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafka_2_8s() {
        let c = ProducerConfig::new("a:1");
        assert_eq!(c.acks, Acks::Leader);
        assert_eq!(c.linger, Duration::ZERO);
        assert_eq!(c.batch_size, 16384);
        assert_eq!(c.compression, Compression::None);
        assert_eq!(c.retries, 2_147_483_647);
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert_eq!(c.retry_backoff, Duration::from_millis(100));
        assert_eq!(c.max_request_size, 1_048_576);
        assert_eq!(c.max_in_flight, 5);
        assert_eq!(c.client.request_timeout, Duration::from_secs(30));
        assert_eq!(c.buffer_memory, 32 << 20);
        assert_eq!(c.max_block, Duration::from_secs(60));
        c.validate().unwrap();
    }

    #[test]
    fn acks_parse_kafkas_spellings() {
        assert_eq!("all".parse::<Acks>().unwrap(), Acks::All);
        assert_eq!("-1".parse::<Acks>().unwrap(), Acks::All);
        assert_eq!("1".parse::<Acks>().unwrap(), Acks::Leader);
        assert_eq!("0".parse::<Acks>().unwrap(), Acks::None);
        assert!("2".parse::<Acks>().is_err());
        assert_eq!(Acks::All.wire_value(), -1);
        assert_eq!(Acks::None.wire_value(), 0);
    }

    #[test]
    fn delivery_timeout_must_cover_linger_and_one_request() {
        let mut c = ProducerConfig::new("a:1");
        c.linger = Duration::from_millis(5);
        c.delivery_timeout = Duration::from_millis(30_004);
        assert!(matches!(
            c.validate(),
            Err(ConfigError::DeliveryTimeoutTooShort { .. })
        ));
        c.delivery_timeout = Duration::from_millis(30_005);
        c.validate().unwrap();
    }
}
