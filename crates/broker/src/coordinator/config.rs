//! The coordinator's settings: the broker's `group.*`, `offset*` and
//! `offsets.*` keys, with Kafka's names and defaults.

use std::time::Duration;

use crate::config::KafkaConfig;

/// What the group coordinator runs with (Kafka's `GroupConfig` and
/// `OffsetConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`, default 6000.
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms`, default 1800000.
    pub max_session_timeout: Duration,
    /// `group.max.size`, default `Int.MaxValue`.
    pub max_size: usize,
    /// `group.initial.rebalance.delay.ms`, default 3000: how long a new
    /// (Empty) group waits for more members before its first generation.
    pub initial_rebalance_delay: Duration,
    /// `offset.metadata.max.bytes`, default 4096.
    pub offset_metadata_max_bytes: usize,
    /// `offsets.retention.minutes`, default 7 days.
    pub offsets_retention: Duration,
    /// `offsets.retention.check.interval.ms`, default 600000.
    pub offsets_retention_check_interval: Duration,
    /// `offsets.topic.num.partitions`, default 50: used until the topic
    /// exists, whose actual partition count then rules.
    pub offsets_topic_num_partitions: u32,
    /// `offsets.load.buffer.size`, default 5 MiB.
    pub load_buffer_size: u64,
    /// `offsets.commit.timeout.ms`, default 5000.
    pub commit_timeout: Duration,
}

impl GroupConfig {
    pub fn from_broker(config: &KafkaConfig) -> Self {
        GroupConfig {
            min_session_timeout: Duration::from_millis(config.group_min_session_timeout_ms.into()),
            max_session_timeout: Duration::from_millis(config.group_max_session_timeout_ms.into()),
            max_size: config.group_max_size as usize,
            initial_rebalance_delay: Duration::from_millis(config.group_initial_rebalance_delay_ms),
            offset_metadata_max_bytes: config.offset_metadata_max_bytes as usize,
            offsets_retention: Duration::from_secs(
                u64::from(config.offsets_retention_minutes) * 60,
            ),
            offsets_retention_check_interval: Duration::from_millis(
                config.offsets_retention_check_interval_ms,
            ),
            offsets_topic_num_partitions: config.offsets_topic_num_partitions,
            load_buffer_size: config.offsets_load_buffer_size.into(),
            commit_timeout: Duration::from_millis(config.offsets_commit_timeout_ms.into()),
        }
    }
}

/// Kafka's defaults.
impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout: Duration::from_millis(6000),
            max_session_timeout: Duration::from_millis(1_800_000),
            max_size: i32::MAX as usize,
            initial_rebalance_delay: Duration::from_millis(3000),
            offset_metadata_max_bytes: 4096,
            offsets_retention: Duration::from_secs(10_080 * 60),
            offsets_retention_check_interval: Duration::from_millis(600_000),
            offsets_topic_num_partitions: 50,
            load_buffer_size: 5 * 1024 * 1024,
            commit_timeout: Duration::from_millis(5000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_defaults_are_kafkas() {
        let broker = KafkaConfig::parse("zookeeper.connect=localhost:2181\n").unwrap();
        assert_eq!(GroupConfig::from_broker(&broker), GroupConfig::default());
        let broker = KafkaConfig::parse(
            "zookeeper.connect=h:1\ngroup.min.session.timeout.ms=10\n\
             offsets.retention.minutes=2\noffsets.topic.num.partitions=5\n",
        )
        .unwrap();
        let config = GroupConfig::from_broker(&broker);
        assert_eq!(config.min_session_timeout, Duration::from_millis(10));
        assert_eq!(config.offsets_retention, Duration::from_secs(120));
        assert_eq!(config.offsets_topic_num_partitions, 5);
    }
}
