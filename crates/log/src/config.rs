//! Per-log (topic-level) settings, with Kafka's topic config key names.
//!
//! The broker's `log.*` keys in `server.properties` supply the defaults and a
//! topic's `/config/topics/<t>` overrides them, exactly as in Kafka's
//! `LogConfig`. Parsing lives in `gregor_broker::config`; this is only the value.

use std::time::Duration;

/// `cleanup.policy` (broker: `log.cleanup.policy`), default `delete`: what
/// happens to old segments. Kafka's `LogConfig.compact` and `.delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// `compact`: the log cleaner keeps only the latest record of each key.
    pub compact: bool,
    /// `delete`: `retention.ms` and `retention.bytes` delete whole segments.
    pub delete: bool,
}

impl CleanupPolicy {
    /// Kafka's default, `delete`.
    pub const DELETE: CleanupPolicy = CleanupPolicy {
        compact: false,
        delete: true,
    };
    /// `compact` alone: no retention by time or size.
    pub const COMPACT: CleanupPolicy = CleanupPolicy {
        compact: true,
        delete: false,
    };
}

/// The settings one partition log runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes` (broker: `log.segment.bytes`), default 1 GiB: roll the
    /// active segment before it would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms` (broker: `log.roll.ms`/`log.roll.hours`), default 7 days:
    /// roll a non-empty active segment this long after its first append.
    pub segment_ms: u64,
    /// `segment.index.bytes` (broker: `log.index.size.max.bytes`), default
    /// 10 MiB: each index file is preallocated to this size and trimmed on roll.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes` (broker: `log.index.interval.bytes`), default
    /// 4096: bytes of batches between two offset/time index entries.
    pub index_interval_bytes: u64,
    /// `retention.ms` (broker: `log.retention.ms`/`.minutes`/`.hours`),
    /// default 7 days; `None` (-1) keeps segments forever.
    pub retention_ms: Option<u64>,
    /// `retention.bytes` (broker: `log.retention.bytes`), default -1
    /// (`None`): the log's size limit, enforced by deleting whole segments.
    pub retention_bytes: Option<u64>,
    /// `flush.messages` (broker: `log.flush.interval.messages`), default
    /// `Long.MAX_VALUE` (`None`): fsync after this many unflushed records.
    pub flush_messages: Option<u64>,
    /// `flush.ms` (broker: `log.flush.interval.ms`), default `Long.MAX_VALUE`
    /// (`None`): fsync when the oldest unflushed data is this old.
    pub flush_ms: Option<u64>,
    /// `max.message.bytes` (broker: `message.max.bytes`), default 1048588:
    /// the largest record batch the log accepts.
    pub max_message_bytes: u32,
    /// `file.delete.delay.ms` (broker: `log.segment.delete.delay.ms`),
    /// default 60000: how long a `.deleted` segment lingers before unlink.
    pub file_delete_delay_ms: u64,
    /// `min.insync.replicas` (broker: the same key), default 1: with
    /// `acks=all`, an ISR smaller than this makes the leader refuse writes
    /// (NOT_ENOUGH_REPLICAS).
    pub min_insync_replicas: u32,
    /// `cleanup.policy` (broker: `log.cleanup.policy`), default `delete`.
    pub cleanup_policy: CleanupPolicy,
    /// `min.cleanable.dirty.ratio` (broker: `log.cleaner.min.cleanable.ratio`),
    /// default 0.5: the cleaner takes a compacted log only once this share
    /// of its bytes has not been cleaned yet.
    pub min_cleanable_dirty_ratio: f64,
    /// `delete.retention.ms` (broker: `log.cleaner.delete.retention.ms`),
    /// default 86400000 (1 day): how long a tombstone (a record with a null
    /// value) outlives its cleaning, so consumers reading the log from the
    /// start see the delete.
    pub delete_retention_ms: u64,
    /// `min.compaction.lag.ms` (broker: `log.cleaner.min.compaction.lag.ms`),
    /// default 0: a record stays uncompacted at least this long.
    pub min_compaction_lag_ms: u64,
    /// `max.compaction.lag.ms` (broker: `log.cleaner.max.compaction.lag.ms`),
    /// default `Long.MAX_VALUE`: a record older than this is compacted
    /// whatever the dirty ratio, and a compacted log's active segment rolls
    /// after at most this long (see [`LogConfig::max_segment_ms`]).
    pub max_compaction_lag_ms: u64,
    /// The broker's `transactional.id.expiration.ms`, default 7 days (no
    /// topic-level key): an idempotent producer whose last batch is older
    /// than this (by its max timestamp) is forgotten, as Kafka 2.8's
    /// `ProducerStateManager` expires producers.
    pub producer_id_expiration_ms: u64,
}

/// 7 days in milliseconds: Kafka's default for `segment.ms` and `retention.ms`.
const SEVEN_DAYS_MS: u64 = 7 * 24 * 60 * 60 * 1000;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: SEVEN_DAYS_MS,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_ms: Some(SEVEN_DAYS_MS),
            retention_bytes: None,
            flush_messages: None,
            flush_ms: None,
            max_message_bytes: 1_048_588,
            file_delete_delay_ms: 60_000,
            min_insync_replicas: 1,
            cleanup_policy: CleanupPolicy::DELETE,
            min_cleanable_dirty_ratio: 0.5,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_compaction_lag_ms: 0,
            producer_id_expiration_ms: SEVEN_DAYS_MS,
            max_compaction_lag_ms: i64::MAX as u64,
        }
    }
}

impl LogConfig {
    /// How long after its first append the active segment rolls: `segment.ms`,
    /// or for a compacted log `max.compaction.lag.ms` if that is shorter, so
    /// that its records become cleanable in time (Kafka's `maxSegmentMs`).
    pub fn max_segment_ms(&self) -> u64 {
        match self.cleanup_policy.compact {
            true => self.segment_ms.min(self.max_compaction_lag_ms),
            false => self.segment_ms,
        }
    }

    /// `file.delete.delay.ms` as a `Duration`.
    pub fn file_delete_delay(&self) -> Duration {
        Duration::from_millis(self.file_delete_delay_ms)
    }
}
