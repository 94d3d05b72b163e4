//! The consumer's settings: Kafka's `ConsumerConfig` keys with Kafka's
//! defaults, so that a setting read in Kafka's documentation means the same
//! here. [`ConsumerConfig::set`] takes them as the `key=value` strings of a
//! `consumer.properties` file or a `--consumer-property` argument.

use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

use crate::ClientConfig;

/// Why a consumer setting was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown consumer config {0}")]
    UnknownKey(String),
    #[error("invalid value {value:?} for {key}: expected {expected}")]
    InvalidValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    /// Two settings contradict each other (Kafka checks the same pairs).
    #[error("{0}")]
    Inconsistent(String),
}

/// `auto.offset.reset`: where to start a partition that has no committed
/// offset, or whose offset is no longer in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOffsetReset {
    /// The log start offset.
    Earliest,
    /// The log end offset: only records produced from now on.
    Latest,
    /// Fail with [`ConsumerError::NoOffsetForPartition`] or
    /// [`ConsumerError::OffsetOutOfRange`].
    ///
    /// [`ConsumerError::NoOffsetForPartition`]: super::ConsumerError::NoOffsetForPartition
    /// [`ConsumerError::OffsetOutOfRange`]: super::ConsumerError::OffsetOutOfRange
    None,
}

impl FromStr for AutoOffsetReset {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "earliest" => Ok(AutoOffsetReset::Earliest),
            "latest" => Ok(AutoOffsetReset::Latest),
            "none" => Ok(AutoOffsetReset::None),
            _ => Err(()),
        }
    }
}

/// `isolation.level`: which records a fetch may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Everything below the high watermark.
    ReadUncommitted,
    /// Only below the last stable offset, without aborted transactions.
    ReadCommitted,
}

impl IsolationLevel {
    /// The value of the `isolation_level` field of Fetch and ListOffsets.
    pub fn wire_value(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

impl FromStr for IsolationLevel {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => Ok(IsolationLevel::ReadCommitted),
            _ => Err(()),
        }
    }
}

/// One entry of `partition.assignment.strategy`: how the group leader
/// spreads partitions over the members (see [`assignor`](super::assignor)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentStrategy {
    /// Kafka's `RangeAssignor`, protocol name `range`.
    Range,
    /// Kafka's `RoundRobinAssignor`, protocol name `roundrobin`.
    RoundRobin,
}

impl AssignmentStrategy {
    /// The protocol name members advertise in JoinGroup; the coordinator
    /// picks one that every member supports.
    pub fn protocol_name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::RoundRobin => "roundrobin",
        }
    }

    /// The strategy a protocol name stands for.
    pub fn from_protocol_name(name: &str) -> Option<Self> {
        match name {
            "range" => Some(AssignmentStrategy::Range),
            "roundrobin" => Some(AssignmentStrategy::RoundRobin),
            _ => None,
        }
    }
}

impl FromStr for AssignmentStrategy {
    type Err = ();

    /// The protocol name, or the Java class name an existing
    /// `consumer.properties` may carry.
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "org.apache.kafka.clients.consumer.RangeAssignor" => Ok(AssignmentStrategy::Range),
            "org.apache.kafka.clients.consumer.RoundRobinAssignor" => {
                Ok(AssignmentStrategy::RoundRobin)
            }
            name => AssignmentStrategy::from_protocol_name(name).ok_or(()),
        }
    }
}

/// Everything a [`Consumer`](super::Consumer) can be told. Defaults are
/// Kafka 2.8's.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// `bootstrap.servers`, `client.id` and `request.timeout.ms`.
    pub client: ClientConfig,
    /// `group.id` (no default): needed to subscribe and to commit offsets.
    pub group_id: Option<String>,
    /// `auto.offset.reset` (default `latest`).
    pub auto_offset_reset: AutoOffsetReset,
    /// `enable.auto.commit` (default true): commit the positions every
    /// `auto.commit.interval.ms`, before a rebalance and on close.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (default 5000).
    pub auto_commit_interval: Duration,
    /// `session.timeout.ms` (default 10000): how long the coordinator waits
    /// for a heartbeat before it removes the member.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (default 3000).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (default 300000): the longest time between two
    /// polls before the member leaves the group; also the rebalance timeout
    /// sent in JoinGroup.
    pub max_poll_interval: Duration,
    /// `max.poll.records` (default 500): the most records one poll returns.
    pub max_poll_records: usize,
    /// `fetch.min.bytes` (default 1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms` (default 500).
    pub fetch_max_wait: Duration,
    /// `fetch.max.bytes` (default 52428800): the most data one Fetch asks
    /// for (a first batch larger than it still comes whole, KIP-74).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes` (default 1048576): the most data per
    /// partition in one Fetch.
    pub max_partition_fetch_bytes: i32,
    /// `partition.assignment.strategy` (default `range`), in order of
    /// preference.
    pub partition_assignment_strategy: Vec<AssignmentStrategy>,
    /// `isolation.level` (default `read_uncommitted`).
    pub isolation_level: IsolationLevel,
    /// `retry.backoff.ms` (default 100): the pause before retrying a request
    /// that failed with a retriable error.
    pub retry_backoff: Duration,
    /// `metadata.max.age.ms` (default 300000): metadata is refreshed at least
    /// this often, so that a leader's new partitions are noticed.
    pub metadata_max_age: Duration,
    /// `default.api.timeout.ms` (default 60000): bounds the calls that take
    /// no timeout of their own (commit, offsets for times, close).
    pub default_api_timeout: Duration,
    /// `allow.auto.create.topics` (default true): whether asking for a
    /// missing topic's metadata may create it (if the broker's
    /// `auto.create.topics.enable` allows it too).
    pub allow_auto_create_topics: bool,
}

impl ConsumerConfig {
    /// Kafka's defaults, for the cluster at `bootstrap` (`host:port,...`).
    pub fn new(bootstrap: &str) -> ConsumerConfig {
        ConsumerConfig::with_client(ClientConfig::new(bootstrap))
    }

    /// Kafka's defaults, reaching the cluster as `client` says.
    pub fn with_client(client: ClientConfig) -> ConsumerConfig {
        ConsumerConfig {
            client,
            group_id: None,
            auto_offset_reset: AutoOffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5_000),
            session_timeout: Duration::from_millis(10_000),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            max_poll_records: 500,
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            partition_assignment_strategy: vec![AssignmentStrategy::Range],
            isolation_level: IsolationLevel::ReadUncommitted,
            retry_backoff: Duration::from_millis(100),
            metadata_max_age: Duration::from_millis(300_000),
            default_api_timeout: Duration::from_millis(60_000),
            allow_auto_create_topics: true,
        }
    }

    /// Sets `group.id`.
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.group_id = Some(group.into());
        self
    }

    /// Sets one setting by its Kafka key. `bootstrap.servers` and
    /// `client.id` are accepted too.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let invalid = |expected| ConfigError::InvalidValue {
            key: key.to_owned(),
            value: value.to_owned(),
            expected,
        };
        let ms = |min: u64| -> Result<Duration, ConfigError> {
            value
                .parse::<u64>()
                .ok()
                .filter(|v| *v >= min && *v <= i32::MAX as u64)
                .map(Duration::from_millis)
                .ok_or_else(|| invalid("a number of milliseconds in the int range"))
        };
        let int = |min: i32| -> Result<i32, ConfigError> {
            value
                .parse::<i32>()
                .ok()
                .filter(|v| *v >= min)
                .ok_or_else(|| invalid("a non-negative int"))
        };
        match key {
            "bootstrap.servers" => {
                self.client = ClientConfig {
                    client_id: self.client.client_id.clone(),
                    request_timeout: self.client.request_timeout,
                    ..ClientConfig::new(value)
                }
            }
            "client.id" => self.client.client_id = value.to_owned(),
            "request.timeout.ms" => self.client.request_timeout = ms(0)?,
            "group.id" => self.group_id = Some(value.to_owned()).filter(|g| !g.is_empty()),
            "auto.offset.reset" => {
                self.auto_offset_reset = value
                    .parse()
                    .map_err(|()| invalid("earliest, latest or none"))?
            }
            "enable.auto.commit" => {
                self.enable_auto_commit = value.parse().map_err(|_| invalid("true or false"))?
            }
            "auto.commit.interval.ms" => self.auto_commit_interval = ms(0)?,
            "session.timeout.ms" => self.session_timeout = ms(0)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = ms(0)?,
            "max.poll.interval.ms" => self.max_poll_interval = ms(1)?,
            "max.poll.records" => self.max_poll_records = int(1)? as usize,
            "fetch.min.bytes" => self.fetch_min_bytes = int(0)?,
            "fetch.max.wait.ms" => self.fetch_max_wait = ms(0)?,
            "fetch.max.bytes" => self.fetch_max_bytes = int(0)?,
            "max.partition.fetch.bytes" => self.max_partition_fetch_bytes = int(0)?,
            "partition.assignment.strategy" => {
                let strategies = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::parse)
                    .collect::<Result<Vec<AssignmentStrategy>, ()>>()
                    .map_err(|()| invalid("a list of range, roundrobin"))?;
                if strategies.is_empty() {
                    return Err(invalid("a list of range, roundrobin"));
                }
                self.partition_assignment_strategy = strategies;
            }
            "isolation.level" => {
                self.isolation_level = value
                    .parse()
                    .map_err(|()| invalid("read_uncommitted or read_committed"))?
            }
            "retry.backoff.ms" => self.retry_backoff = ms(0)?,
            "metadata.max.age.ms" => self.metadata_max_age = ms(0)?,
            "default.api.timeout.ms" => self.default_api_timeout = ms(0)?,
            "allow.auto.create.topics" => {
                self.allow_auto_create_topics =
                    value.parse().map_err(|_| invalid("true or false"))?
            }
            _ => return Err(ConfigError::UnknownKey(key.to_owned())),
        }
        Ok(())
    }

    /// The checks Kafka makes when a consumer is created.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat_interval >= self.session_timeout {
            return Err(ConfigError::Inconsistent(format!(
                "heartbeat.interval.ms ({}) must be lower than session.timeout.ms ({})",
                self.heartbeat_interval.as_millis(),
                self.session_timeout.as_millis()
            )));
        }
        if self.partition_assignment_strategy.is_empty() {
            return Err(ConfigError::Inconsistent(
                "partition.assignment.strategy names no assignor".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let c = ConsumerConfig::new("a:1");
        assert_eq!(c.group_id, None);
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Latest);
        assert!(c.enable_auto_commit);
        assert_eq!(c.auto_commit_interval, Duration::from_millis(5000));
        assert_eq!(c.session_timeout, Duration::from_millis(10_000));
        assert_eq!(c.heartbeat_interval, Duration::from_millis(3000));
        assert_eq!(c.max_poll_interval, Duration::from_millis(300_000));
        assert_eq!(c.fetch_min_bytes, 1);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(500));
        assert_eq!(c.fetch_max_bytes, 52_428_800);
        assert_eq!(c.max_partition_fetch_bytes, 1_048_576);
        assert_eq!(c.partition_assignment_strategy, [AssignmentStrategy::Range]);
        assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn keys_set_their_settings_and_bad_values_name_the_key() {
        let mut c = ConsumerConfig::new("a:1");
        c.set("group.id", "g").unwrap();
        c.set("auto.offset.reset", "earliest").unwrap();
        c.set(
            "partition.assignment.strategy",
            "roundrobin, org.apache.kafka.clients.consumer.RangeAssignor",
        )
        .unwrap();
        c.set("bootstrap.servers", "b:2,c:3").unwrap();
        assert_eq!(c.group_id.as_deref(), Some("g"));
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
        assert_eq!(
            c.partition_assignment_strategy,
            [AssignmentStrategy::RoundRobin, AssignmentStrategy::Range]
        );
        assert_eq!(c.client.bootstrap_servers, ["b:2", "c:3"]);

        let err = c.set("auto.offset.reset", "smallest").unwrap_err();
        assert!(err.to_string().contains("auto.offset.reset"), "{err}");
        assert_eq!(
            c.set("no.such.key", "1"),
            Err(ConfigError::UnknownKey("no.such.key".into()))
        );
        assert!(c.set("fetch.max.bytes", "-1").is_err());
    }

    #[test]
    fn heartbeat_must_be_shorter_than_the_session() {
        let mut c = ConsumerConfig::new("a:1");
        c.set("heartbeat.interval.ms", "10000").unwrap();
        assert!(matches!(c.validate(), Err(ConfigError::Inconsistent(_))));
    }
}
