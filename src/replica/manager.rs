//! Produce, fetch (with long polling) and list-offsets over the hosted
//! partitions.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::log::{FileRange, LogAppendInfo, LogConfig, LogError, LogManager};
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
    /// Bumped after every append: waiting fetches re-check when it moves.
    appended: watch::Sender<u64>,
}

impl ReplicaManager {
    pub fn new(logs: Arc<LogManager>) -> Self {
        ReplicaManager {
            logs,
            partitions: RwLock::new(HashMap::new()),
            appended: watch::Sender::new(0),
        }
    }

    pub fn log_manager(&self) -> &Arc<LogManager> {
        &self.logs
    }

    /// Hosts `tp` as its leader in `leader_epoch`, creating its log if new.
    pub fn become_leader(
        &self,
        tp: &TopicPartition,
        config: LogConfig,
        leader_epoch: i32,
    ) -> Result<Arc<Partition>, ReplicaError> {
        let partition = match self.partition(tp) {
            Some(p) => {
                p.set_leader_epoch(leader_epoch);
                p
            }
            None => {
                let log = self.logs.get_or_create(tp, config)?;
                let partition = Arc::new(Partition::new(tp.clone(), log, leader_epoch));
                self.write_partitions()
                    .insert(tp.clone(), Arc::clone(&partition));
                partition
            }
        };
        // The high watermark is the smallest log end offset in the ISR. As
        // the only replica, the leader's own log end is it: everything in
        // the log (also what survived a crash) is committed at once, as when
        // a Kafka leader with ISR = {itself} takes over.
        {
            let mut log = partition.log();
            let end = log.log_end_offset();
            log.set_high_watermark(end);
        }
        Ok(partition)
    }

    /// Stops hosting `tp`, deleting its log if `delete` (StopReplica).
    pub fn stop_replica(&self, tp: &TopicPartition, delete: bool) -> Result<(), ReplicaError> {
        self.write_partitions().remove(tp);
        if delete {
            self.logs.delete(tp)?;
        }
        Ok(())
    }

    pub fn partition(&self, tp: &TopicPartition) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tp)
            .cloned()
    }

    fn write_partitions(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<TopicPartition, Arc<Partition>>> {
        self.partitions.write().unwrap_or_else(|p| p.into_inner())
    }

    fn leader(&self, tp: &TopicPartition) -> Result<Arc<Partition>, ReplicaError> {
        self.partition(tp)
            .ok_or_else(|| ReplicaError::UnknownTopicOrPartition(tp.clone()))
    }

    /// Appends a producer's batches as leader. With a single replica the
    /// records are committed at once: the high watermark moves to the end.
    pub fn append(
        &self,
        tp: &TopicPartition,
        records: &[u8],
    ) -> Result<LogAppendInfo, ReplicaError> {
        let partition = self.leader(tp)?;
        let info = {
            let mut log = partition.log();
            let info = log.append_as_leader(records, partition.leader_epoch(), now_ms())?;
            let end = log.log_end_offset();
            log.set_high_watermark(end);
            info
        };
        if !info.duplicate {
            self.appended.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(info)
    }

    /// Finds the committed records (below the high watermark) a consumer
    /// asked for, without reading them: the bytes stay in the segment file.
    fn locate(
        &self,
        tp: &TopicPartition,
        offset: i64,
        max_bytes: u64,
        min_one: bool,
    ) -> Result<PartitionSlice, ReplicaError> {
        let partition = self.leader(tp)?;
        let log = partition.log();
        let high_watermark = log.high_watermark();
        Ok(PartitionSlice {
            high_watermark,
            log_start_offset: log.log_start_offset(),
            range: log
                .read(offset, max_bytes, Some(high_watermark), min_one)?
                .filter(|r| r.len > 0),
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
        self.locate(tp, offset, max_bytes, min_one)?.read()
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
        let mut appended = self.appended.subscribe();
        let slices = loop {
            appended.borrow_and_update();
            let slices = self.locate_all(partitions, max_bytes);
            let bytes: u64 = slices
                .iter()
                .filter_map(|r| r.as_ref().ok()?.range.as_ref().map(|r| r.len))
                .sum();
            let failed = slices.iter().any(Result::is_err);
            if bytes >= min_bytes || failed || Instant::now() >= deadline {
                break (slices, bytes);
            }
            let _ = tokio::time::timeout_at(deadline, appended.changed()).await;
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
                let slice =
                    self.locate(&p.topic_partition, p.fetch_offset, limit, first_with_data)?;
                if let Some(range) = &slice.range {
                    remaining = remaining.saturating_sub(range.len);
                    first_with_data = false;
                }
                Ok(slice)
            })
            .collect()
    }

    /// ListOffsets: (timestamp, offset) for LATEST (-1: the high watermark),
    /// EARLIEST (-2: the log start) or the first committed record at or after
    /// a timestamp ((-1, -1) when there is none).
    pub fn offset_for_timestamp(
        &self,
        tp: &TopicPartition,
        timestamp: i64,
    ) -> Result<(i64, i64), ReplicaError> {
        let partition = self.leader(tp)?;
        let log = partition.log();
        Ok(match timestamp {
            LATEST_TIMESTAMP => (-1, log.high_watermark()),
            EARLIEST_TIMESTAMP => (-1, log.log_start_offset()),
            ts => match log.offset_for_timestamp(ts)? {
                Some((offset, found_ts)) if offset < log.high_watermark() => (found_ts, offset),
                _ => (-1, -1),
            },
        })
    }
}

fn now_ms() -> i64 {
    crate::log::partition_log::now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogManagerConfig;
    use crate::protocol::ErrorCode;
    use crate::record::{Record, RecordBatchBuilder};

    fn manager(dir: &std::path::Path) -> Arc<ReplicaManager> {
        let logs = LogManager::startup(LogManagerConfig {
            log_dirs: vec![dir.to_path_buf()],
            default_log_config: LogConfig::default(),
            retention_check_interval: Duration::from_secs(300),
            flush_check_interval: None,
            checkpoint_interval: Duration::from_secs(60),
            broker_id: 0,
        })
        .unwrap();
        Arc::new(ReplicaManager::new(Arc::new(logs)))
    }

    fn batch(ts: i64) -> Bytes {
        let mut b = RecordBatchBuilder::new(ts);
        b.append(Record::new(
            ts,
            Some(b"k".as_slice()),
            Some(b"v".as_slice()),
        ));
        b.build()
    }

    #[tokio::test]
    async fn fetch_waits_for_min_bytes_and_wakes_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let rm = manager(dir.path());
        let tp = TopicPartition::new("t", 0);
        rm.become_leader(&tp, LogConfig::default(), 0).unwrap();
        let req = vec![FetchPartition {
            topic_partition: tp.clone(),
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
        rm.become_leader(&tp, LogConfig::default(), 0).unwrap();
        for ts in [100, 200, 300] {
            rm.append(&tp, &batch(ts)).unwrap();
        }
        assert_eq!(
            rm.offset_for_timestamp(&tp, LATEST_TIMESTAMP).unwrap(),
            (-1, 3)
        );
        assert_eq!(
            rm.offset_for_timestamp(&tp, EARLIEST_TIMESTAMP).unwrap(),
            (-1, 0)
        );
        assert_eq!(rm.offset_for_timestamp(&tp, 150).unwrap(), (200, 1));
        assert_eq!(rm.offset_for_timestamp(&tp, 301).unwrap(), (-1, -1));
    }
}
