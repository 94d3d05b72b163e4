//! The replica manager's settings, taken from the broker's (Kafka's key
//! names and defaults live in [`KafkaConfig`]).

use std::time::Duration;

use crate::config::KafkaConfig;
use gregor_protocol::BrokerId;

/// What the replica manager needs to lead and follow partitions.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// This broker's id: the replica id of its followers' fetches, and its
    /// place in the ISR of the partitions it leads.
    pub broker_id: BrokerId,
    /// `replica.lag.time.max.ms`: a follower that has not caught up for this
    /// long leaves the ISR. The leader checks every half of it, as Kafka's
    /// `isr-expiration` task.
    pub lag_time_max: Duration,
    /// `replica.high.watermark.checkpoint.interval.ms`: how often the high
    /// watermarks go to `replication-offset-checkpoint`.
    pub high_watermark_checkpoint_interval: Duration,
    pub fetcher: FetcherConfig,
}

/// How followers fetch from their leaders.
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    /// The follower's broker id, sent as the fetches' `replica_id`.
    pub broker_id: BrokerId,
    /// `num.replica.fetchers`: fetcher tasks per leader broker; a leader's
    /// partitions are hashed onto them.
    pub num_fetchers: u32,
    /// `replica.fetch.wait.max.ms`: how long a fetch may wait at the leader
    /// for `min_bytes`.
    pub max_wait: Duration,
    /// `replica.fetch.min.bytes`.
    pub min_bytes: u32,
    /// `replica.fetch.response.max.bytes`: the whole response's byte budget.
    pub response_max_bytes: u32,
    /// `replica.fetch.max.bytes`: each partition's byte budget.
    pub partition_max_bytes: u32,
    /// `replica.fetch.backoff.ms`: pause before fetching a partition again
    /// after an error.
    pub backoff: Duration,
    /// `request.timeout.ms`: bounds connecting to the leader and every
    /// request to it.
    pub request_timeout: Duration,
}

impl ReplicaConfig {
    /// The settings of broker `broker_id` (its configured or generated id).
    pub fn from_broker(config: &KafkaConfig, broker_id: BrokerId) -> Self {
        ReplicaConfig {
            broker_id,
            lag_time_max: Duration::from_millis(config.replica_lag_time_max_ms),
            high_watermark_checkpoint_interval: Duration::from_millis(
                config.replica_high_watermark_checkpoint_interval_ms,
            ),
            fetcher: FetcherConfig {
                broker_id,
                num_fetchers: config.num_replica_fetchers,
                max_wait: Duration::from_millis(config.replica_fetch_wait_max_ms),
                min_bytes: config.replica_fetch_min_bytes,
                response_max_bytes: config.replica_fetch_response_max_bytes,
                partition_max_bytes: config.replica_fetch_max_bytes,
                backoff: Duration::from_millis(config.replica_fetch_backoff_ms),
                request_timeout: Duration::from_millis(config.request_timeout_ms),
            },
        }
    }
}
