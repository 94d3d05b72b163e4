//! Produce, fetch (with long polling) and list-offsets over the hosted
//! partitions, served by their leader. How partitions become hosted, led or
//! followed is in [`state_change`](super::state_change).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::log::{FileRange, LogAppendInfo, LogError, LogManager};
use crate::TopicPartition;

use super::error::ReplicaError;
use super::partition::Partition;

/// ListOffsets' special timestamps.
pub const LATEST_TIMESTAMP: i64 = -1;
pub const EARLIEST_TIMESTAMP: i64 = -2;

/// One partition of a fetch request.
#[derive(Debug, Clone)]
pub struct FetchPartition {
    pub topic_partition: TopicPartition,
    /// The leader epoch the client believes current (Fetch v9+), `None` to
    /// skip the check.
    pub current_leader_epoch: Option<i32>,
    pub fetch_offset: i64,
    /// `partition_max_bytes` of the request.
    pub max_bytes: u64,
}

/// What a fetch returns for one partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionData {
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub records: Option<Bytes>,
}

/// ListOffsets' answer for one partition (Kafka's `TimestampAndOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    /// The found record's timestamp, -1 for the special timestamps or when
    /// nothing was found.
    pub timestamp: i64,
    /// -1 when nothing was found.
    pub offset: i64,
    /// The partition's current leader epoch.
    pub leader_epoch: i32,
}

/// Fetches reading more than this many bytes read them on a blocking-pool
/// thread; smaller ones (almost always page-cache hits) read in place,
/// sparing the thread hop.
const INLINE_READ_MAX_BYTES: u64 = 64 * 1024;

/// Where a partition's fetched records lie, before they are read.
struct PartitionSlice {
    high_watermark: i64,
    log_start_offset: i64,
    range: Option<FileRange>,
}

impl PartitionSlice {
    fn read(self) -> Result<PartitionData, ReplicaError> {
        let records = match &self.range {
            Some(range) => Some(Bytes::from(range.read_to_vec().map_err(|source| {
                ReplicaError::Log(LogError::Io {
                    path: range.path.to_path_buf(),
                    source,
                })
            })?)),
            None => None,
        };
        Ok(PartitionData {
            high_watermark: self.high_watermark,
            last_stable_offset: self.high_watermark,
            log_start_offset: self.log_start_offset,
            records,
        })
    }
}

type Slices = Vec<Result<PartitionSlice, ReplicaError>>;

/// Reads every located slice, on a blocking-pool thread if they add up to
/// more than [`INLINE_READ_MAX_BYTES`].
async fn read_slices(slices: Slices, bytes: u64) -> Vec<Result<PartitionData, ReplicaError>> {
    let read_all = |slices: Slices| -> Vec<Result<PartitionData, ReplicaError>> {
        slices.into_iter().map(|s| s?.read()).collect()
    };
    if bytes <= INLINE_READ_MAX_BYTES {
        return read_all(slices);
    }
    let count = slices.len();
    match tokio::task::spawn_blocking(move || read_all(slices)).await {
        Ok(read) => read,
        Err(e) => (0..count)
            .map(|_| {
                Err(ReplicaError::Log(LogError::Io {
                    path: Default::default(),
                    source: std::io::Error::other(format!("fetch read task failed: {e}")),
                }))
            })
            .collect(),
    }
}

pub struct ReplicaManager {
    logs: Arc<LogManager>,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
    /// Bumped whenever what a waiting fetch would find may have changed (an
    /// append, a leadership change, a stopped replica): waiting fetches
    /// look again when it moves.
    changes: watch::Sender<u64>,
    /// The newest controller epoch seen (Kafka's `controllerEpoch`); its lock
    /// applies the controller's requests one at a time (Kafka's
    /// `replicaStateChangeLock`).
    pub(super) controller_epoch: Mutex<i32>,
}

/// Kafka's `KafkaController.InitialControllerEpoch`.
const INITIAL_CONTROLLER_EPOCH: i32 = 0;

impl ReplicaManager {
    pub fn new(logs: Arc<LogManager>) -> Self {
        ReplicaManager {
            logs,
            partitions: RwLock::new(HashMap::new()),
            changes: watch::Sender::new(0),
            controller_epoch: Mutex::new(INITIAL_CONTROLLER_EPOCH),
        }
    }

    pub fn log_manager(&self) -> &Arc<LogManager> {
        &self.logs
    }

    pub fn partition(&self, tp: &TopicPartition) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tp)
            .cloned()
    }

    pub(super) fn write_partitions(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<TopicPartition, Arc<Partition>>> {
        self.partitions.write().unwrap_or_else(|p| p.into_inner())
    }

    fn hosted(&self, tp: &TopicPartition) -> Result<Arc<Partition>, ReplicaError> {
        self.partition(tp)
            .ok_or_else(|| ReplicaError::UnknownTopicOrPartition(tp.clone()))
    }

    /// Wakes waiting fetches to look at their partitions again.
    pub(super) fn wake_fetches(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Appends a producer's batches as leader. Until followers replicate,
    /// the leader is the only replica that counts, so the records are
    /// committed at once: the high watermark moves to the end.
    pub fn append(
        &self,
        tp: &TopicPartition,
        records: &[u8],
    ) -> Result<LogAppendInfo, ReplicaError> {
        let info = self.hosted(tp)?.with_leader_log(None, |log, epoch| {
            let info = log.append_as_leader(records, epoch, now_ms())?;
            let end = log.log_end_offset();
            log.set_high_watermark(end);
            Ok(info)
        })?;
        if !info.duplicate {
            self.wake_fetches();
        }
        Ok(info)
    }

    /// Finds the committed records (below the high watermark) a consumer
    /// asked for, without reading them: the bytes stay in the segment file.
    ///
    /// Every fetch is served by the leader only, followers' too (Kafka reads
    /// from followers only for rack-aware consumers, KIP-392, which gregor
    /// does not offer).
    fn locate(
        &self,
        want: &FetchPartition,
        max_bytes: u64,
        min_one: bool,
    ) -> Result<PartitionSlice, ReplicaError> {
        let partition = self.hosted(&want.topic_partition)?;
        partition.with_leader_log(want.current_leader_epoch, |log, _| {
            let high_watermark = log.high_watermark();
            Ok(PartitionSlice {
                high_watermark,
                log_start_offset: log.log_start_offset(),
                range: log
                    .read(want.fetch_offset, max_bytes, Some(high_watermark), min_one)?
                    .filter(|r| r.len > 0),
            })
        })
    }

    /// Reads committed records for a consumer, on the calling thread.
    pub fn read(
        &self,
        tp: &TopicPartition,
        offset: i64,
        max_bytes: u64,
        min_one: bool,
    ) -> Result<PartitionData, ReplicaError> {
        let want = FetchPartition {
            topic_partition: tp.clone(),
            current_leader_epoch: None,
            fetch_offset: offset,
            max_bytes,
        };
        self.locate(&want, max_bytes, min_one)?.read()
    }

    /// A consumer fetch: locates every partition's records (the response's
    /// `max_bytes` shared among them; the first partition with data returns
    /// at least one batch, KIP-74) and, while fewer than `min_bytes` are
    /// available and `max_wait` has not passed, waits for appends and looks
    /// again. Only the final answer's bytes are read, off the runtime's
    /// threads when they are many (a large read may stall on the disk).
    pub async fn fetch(
        &self,
        partitions: &[FetchPartition],
        min_bytes: u64,
        max_bytes: u64,
        max_wait: Duration,
    ) -> Vec<Result<PartitionData, ReplicaError>> {
        let deadline = Instant::now() + max_wait;
        let mut changes = self.changes.subscribe();
        let slices = loop {
            changes.borrow_and_update();
            let slices = self.locate_all(partitions, max_bytes);
            let bytes: u64 = slices
                .iter()
                .filter_map(|r| r.as_ref().ok()?.range.as_ref().map(|r| r.len))
                .sum();
            let failed = slices.iter().any(Result::is_err);
            if bytes >= min_bytes || failed || Instant::now() >= deadline {
                break (slices, bytes);
            }
            let _ = tokio::time::timeout_at(deadline, changes.changed()).await;
        };
        read_slices(slices.0, slices.1).await
    }

    fn locate_all(
        &self,
        partitions: &[FetchPartition],
        max_bytes: u64,
    ) -> Vec<Result<PartitionSlice, ReplicaError>> {
        let mut remaining = max_bytes;
        let mut first_with_data = true;
        partitions
            .iter()
            .map(|p| {
                let limit = p.max_bytes.min(remaining);
                let slice = self.locate(p, limit, first_with_data)?;
                if let Some(range) = &slice.range {
                    remaining = remaining.saturating_sub(range.len);
                    first_with_data = false;
                }
                Ok(slice)
            })
            .collect()
    }

    /// ListOffsets, on the leader: LATEST (-1: the high watermark), EARLIEST
    /// (-2: the log start) or the first committed record at or after a
    /// timestamp. `current_leader_epoch` as in [`FetchPartition`].
    pub fn offset_for_timestamp(
        &self,
        tp: &TopicPartition,
        current_leader_epoch: Option<i32>,
        timestamp: i64,
    ) -> Result<TimestampAndOffset, ReplicaError> {
        self.hosted(tp)?
            .with_leader_log(current_leader_epoch, |log, leader_epoch| {
                let (timestamp, offset) = match timestamp {
                    LATEST_TIMESTAMP => (-1, log.high_watermark()),
                    EARLIEST_TIMESTAMP => (-1, log.log_start_offset()),
                    ts => match log.offset_for_timestamp(ts)? {
                        Some((offset, found_ts)) if offset < log.high_watermark() => {
                            (found_ts, offset)
                        }
                        _ => (-1, -1),
                    },
                };
                Ok(TimestampAndOffset {
                    timestamp,
                    offset,
                    leader_epoch,
                })
            })
    }
}

fn now_ms() -> i64 {
    crate::log::partition_log::now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogConfig;
    use crate::protocol::ErrorCode;
    use crate::record::{Record, RecordBatchBuilder};
    use crate::replica::testing::{batch, manager};

    #[tokio::test]
    async fn fetch_waits_for_min_bytes_and_wakes_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        let tp = TopicPartition::new("t", 0);
        rm.become_leader(&tp, LogConfig::default(), 0).unwrap();
        let req = vec![FetchPartition {
            topic_partition: tp.clone(),
            current_leader_epoch: None,
            fetch_offset: 0,
            max_bytes: 1 << 20,
        }];
        // Nothing there: returns empty after max_wait.
        let r = rm.fetch(&req, 1, 1 << 20, Duration::from_millis(20)).await;
        assert!(r[0].as_ref().unwrap().records.is_none());
        // An append while waiting wakes the fetch long before max_wait.
        let rm2 = Arc::clone(&rm);
        let tp2 = tp.clone();
        let waiter = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = rm2.fetch(&req, 1, 1 << 20, Duration::from_secs(30)).await;
            (r, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        rm.append(&tp2, &batch(1)).unwrap();
        let (r, waited) = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(waited < Duration::from_secs(10));
        assert_eq!(r[0].as_ref().unwrap().high_watermark, 1);
        assert!(r[0].as_ref().unwrap().records.is_some());
    }

    #[tokio::test]
    async fn a_single_replica_leader_commits_what_its_log_holds() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("t", 0);
        {
            let rm = manager(dir.path());
            rm.become_leader(&tp, LogConfig::default(), 0).unwrap();
            rm.append(&tp, &batch(1)).unwrap();
            rm.append(&tp, &batch(2)).unwrap();
            // Crash: no checkpoint of the high watermark is written.
        }
        let rm = manager(dir.path());
        rm.become_leader(&tp, LogConfig::default(), 0).unwrap();
        assert_eq!(rm.read(&tp, 0, 1 << 20, true).unwrap().high_watermark, 2);
    }

    #[tokio::test]
    async fn large_fetches_read_off_the_runtime_and_return_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        let tp = TopicPartition::new("t", 0);
        rm.become_leader(&tp, LogConfig::default(), 0).unwrap();
        let mut b = RecordBatchBuilder::new(1);
        let value = vec![7u8; 1024];
        for _ in 0..200 {
            b.append(Record::new(1, None, Some(&value)));
        }
        let batch = b.build();
        for _ in 0..3 {
            rm.append(&tp, &batch).unwrap();
        }
        let req = vec![FetchPartition {
            topic_partition: tp,
            current_leader_epoch: None,
            fetch_offset: 0,
            max_bytes: 1 << 22,
        }];
        let r = rm.fetch(&req, 1, 1 << 22, Duration::ZERO).await;
        let records = r[0].as_ref().unwrap().records.clone().unwrap();
        assert!(records.len() as u64 > INLINE_READ_MAX_BYTES);
        assert_eq!(records.len(), 3 * batch.len());
        assert_eq!(&records[batch.len() * 2 + 16..], &batch[16..]);
    }

    #[tokio::test]
    async fn errors_map_to_kafka_codes() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        let tp = TopicPartition::new("t", 0);
        let unknown = rm.append(&tp, &batch(1)).unwrap_err();
        assert_eq!(unknown.error_code(), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        rm.become_leader(
            &tp,
            LogConfig {
                max_message_bytes: 10,
                ..LogConfig::default()
            },
            0,
        )
        .unwrap();
        assert_eq!(
            rm.append(&tp, &batch(1)).unwrap_err().error_code(),
            ErrorCode::MESSAGE_TOO_LARGE
        );
        let mut bad = batch(1).to_vec();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            rm.append(&tp, &bad).unwrap_err().error_code(),
            ErrorCode::CORRUPT_MESSAGE
        );
        assert_eq!(
            rm.read(&tp, 5, 100, true).unwrap_err().error_code(),
            ErrorCode::OFFSET_OUT_OF_RANGE
        );
    }

    #[tokio::test]
    async fn list_offsets_by_special_and_real_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        let tp = TopicPartition::new("t", 0);
        rm.become_leader(&tp, LogConfig::default(), 4).unwrap();
        for ts in [100, 200, 300] {
            rm.append(&tp, &batch(ts)).unwrap();
        }
        let listed = |ts| {
            let found = rm.offset_for_timestamp(&tp, None, ts).unwrap();
            assert_eq!(found.leader_epoch, 4);
            (found.timestamp, found.offset)
        };
        assert_eq!(listed(LATEST_TIMESTAMP), (-1, 3));
        assert_eq!(listed(EARLIEST_TIMESTAMP), (-1, 0));
        assert_eq!(listed(150), (200, 1));
        assert_eq!(listed(301), (-1, -1));
    }
}
