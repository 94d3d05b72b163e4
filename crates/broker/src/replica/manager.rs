//! Produce, fetch (with long polling) and list-offsets over the hosted
//! partitions, served by their leader; the leader's side of replication
//! (followers' fetches, ISR changes) and the background tasks that keep it
//! going. How partitions become hosted, led or followed is in
//! [`state_change`](super::state_change).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use ::log::{info, warn};
use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use gregor_log::{FileRange, LogAppendInfo, LogError, LogManager};
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_runtime::Shutdown;
use gregor_zk::client::ZkError;

use super::config::ReplicaConfig;
use super::error::ReplicaError;
use super::fetcher::ReplicaFetcherManager;
use super::isr::{IsrStore, IsrUpdate};
use super::partition::Partition;

/// ListOffsets' special timestamps.
pub(super) const LATEST_TIMESTAMP: i64 = -1;
pub(super) const EARLIEST_TIMESTAMP: i64 = -2;

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

/// What a fetch request asks for as a whole.
#[derive(Debug, Clone, Copy)]
pub struct FetchParams {
    /// The fetching follower's broker id (`replica_id` >= 0), `None` for a
    /// consumer. A follower reads up to the log end offset, not only the
    /// committed records, and its fetch offset tells the leader where its
    /// log ends.
    pub replica_id: Option<BrokerId>,
    /// Answer once this many bytes are available...
    pub min_bytes: u64,
    /// ...or `max_wait` has passed.
    pub max_wait: Duration,
    /// The response's byte budget, shared by the partitions.
    pub max_bytes: u64,
    /// Whether a consumer may read from a follower (its committed records):
    /// Kafka 2.8 serves a consumer's Fetch v11+ (which carries client
    /// metadata, KIP-392) from any replica, older ones from the leader only.
    pub from_follower: bool,
}

/// An acks=all append the producer's answer waits for (Kafka's
/// `ProducePartitionStatus`): committed once the high watermark reaches
/// `required_offset`, if this broker has led without a break since
/// `leader_epoch`, the epoch it was appended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitedCommit {
    pub topic_partition: TopicPartition,
    /// The appended batches' last offset + 1.
    pub required_offset: i64,
    pub leader_epoch: i32,
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
    pub(super) config: ReplicaConfig,
    logs: Arc<LogManager>,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
    /// Bumped whenever what a waiting fetch would find may have changed (an
    /// append, a high watermark move, a leadership change, a stopped
    /// replica): waiting fetches look again when it moves.
    changes: watch::Sender<u64>,
    /// The newest controller epoch seen (Kafka's `controllerEpoch`); its lock
    /// applies the controller's requests one at a time (Kafka's
    /// `replicaStateChangeLock`).
    pub(super) controller_epoch: Mutex<i32>,
    /// The partitions this broker follows, and the tasks fetching them.
    pub(super) fetchers: ReplicaFetcherManager,
    /// Where ISR changes are written (ZooKeeper).
    isr_store: Arc<dyn IsrStore>,
    /// ISR changes waiting to be written, one at a time, by the task
    /// [`startup`](Self::startup) starts.
    isr_updates: mpsc::UnboundedSender<IsrUpdate>,
    queued_isr_updates: Mutex<Option<mpsc::UnboundedReceiver<IsrUpdate>>>,
    /// The node of the broker's shutdown tree the background tasks run on,
    /// from [`startup`](Self::startup) to [`shutdown`](Self::shutdown).
    tasks: Mutex<Option<Shutdown>>,
}

/// Kafka's `KafkaController.InitialControllerEpoch`.
const INITIAL_CONTROLLER_EPOCH: i32 = 0;

impl ReplicaManager {
    pub fn new(logs: Arc<LogManager>, config: ReplicaConfig, isr_store: Arc<dyn IsrStore>) -> Self {
        let (isr_updates, queued) = mpsc::unbounded_channel();
        ReplicaManager {
            fetchers: ReplicaFetcherManager::new(config.fetcher.clone(), Arc::clone(logs.clock())),
            config,
            logs,
            partitions: RwLock::new(HashMap::new()),
            changes: watch::Sender::new(0),
            controller_epoch: Mutex::new(INITIAL_CONTROLLER_EPOCH),
            isr_store,
            isr_updates,
            queued_isr_updates: Mutex::new(Some(queued)),
            tasks: Mutex::new(None),
        }
    }

    /// Starts replication (Kafka's `ReplicaManager.startup`): the replica
    /// fetchers, the writer of ISR changes, the ISR check every half
    /// `replica.lag.time.max.ms` (Kafka's `isr-expiration`) and the high
    /// watermark checkpoint every
    /// `replica.high.watermark.checkpoint.interval.ms`. Call from within
    /// the tokio runtime; the background tasks run on `tasks`.
    pub fn startup(self: &Arc<Self>, tasks: Shutdown) {
        self.fetchers.start(tasks.child());
        let queued = self
            .queued_isr_updates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut queued) = queued {
            let rm = Arc::downgrade(self);
            tasks.spawn(async move {
                while let Some(update) = queued.recv().await {
                    let Some(rm) = rm.upgrade() else { break };
                    rm.write_isr_update(update).await;
                }
            });
        }
        let lag = self.config.lag_time_max;
        every(&tasks, Arc::downgrade(self), lag / 2, |rm| async move {
            rm.maybe_shrink_isrs(rm.now_ms());
        });
        let interval = self.config.high_watermark_checkpoint_interval;
        every(&tasks, Arc::downgrade(self), interval, |rm| async move {
            let logs = Arc::clone(&rm.logs);
            match tokio::task::spawn_blocking(move || logs.checkpoint_high_watermarks()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!("high watermark checkpoint failed: {e}"),
                Err(e) => warn!("high watermark checkpoint task failed: {e}"),
            }
        });
        *self.tasks.lock().unwrap_or_else(|p| p.into_inner()) = Some(tasks);
    }

    /// Stops fetching and the background tasks (Kafka's
    /// `ReplicaManager.shutdown`). The log manager's shutdown writes the
    /// last high watermark checkpoint.
    pub async fn shutdown(&self) {
        self.fetchers.shutdown().await;
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(tasks) = tasks {
            tasks.stop().await;
        }
    }

    /// Now on the broker's clock (the log manager's).
    pub(super) fn now_ms(&self) -> i64 {
        self.logs.clock().milliseconds()
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

    fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn hosted(&self, tp: &TopicPartition) -> Result<Arc<Partition>, ReplicaError> {
        self.partition(tp)
            .ok_or_else(|| ReplicaError::UnknownTopicOrPartition(tp.clone()))
    }

    /// Wakes waiting fetches to look at their partitions again.
    pub(super) fn wake_fetches(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Appends a producer's batches as leader (acks=0 or 1). They are
    /// committed once the ISR has them; with this broker alone in the ISR,
    /// at once.
    pub fn append(
        &self,
        tp: &TopicPartition,
        records: &[u8],
    ) -> Result<LogAppendInfo, ReplicaError> {
        Ok(self.append_records(tp, records, false)?.0)
    }

    /// Appends a producer's batches as leader for acks=all: refused
    /// (NOT_ENOUGH_REPLICAS) while the ISR is smaller than
    /// `min.insync.replicas`. The producer is answered once
    /// [`wait_for_commits`](Self::wait_for_commits) says the ISR has them.
    pub fn append_for_all_acks(
        &self,
        tp: &TopicPartition,
        records: &[u8],
    ) -> Result<(LogAppendInfo, AwaitedCommit), ReplicaError> {
        let (info, leader_epoch) = self.append_records(tp, records, true)?;
        let awaited = AwaitedCommit {
            topic_partition: tp.clone(),
            required_offset: info.last_offset + 1,
            leader_epoch,
        };
        Ok((info, awaited))
    }

    fn append_records(
        &self,
        tp: &TopicPartition,
        records: &[u8],
        acks_all: bool,
    ) -> Result<(LogAppendInfo, i32), ReplicaError> {
        let appended = self
            .hosted(tp)?
            .append_as_leader(records, acks_all, self.now_ms())?;
        // Followers wait for new records, consumers for committed ones.
        if !appended.0.duplicate {
            self.wake_fetches();
        }
        Ok(appended)
    }

    /// Waits until the ISR has each acks=all append, or `timeout` (the
    /// produce request's) passes: Kafka's delayed produce. Each one's
    /// outcome, in order: committed, NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    /// NOT_LEADER_OR_FOLLOWER if this broker stopped leading since the
    /// append (not if it only led on in a newer epoch), or
    /// REQUEST_TIMED_OUT.
    ///
    /// Waiters look again whenever a fetch would (the high watermark moved,
    /// leadership changed), like Kafka's purgatory woken by a high watermark
    /// increase.
    pub async fn wait_for_commits(
        &self,
        awaited: &[AwaitedCommit],
        timeout: Duration,
    ) -> Vec<Result<(), ReplicaError>> {
        let deadline = Instant::now() + timeout;
        let mut changes = self.changes.subscribe();
        let mut outcomes: Vec<Option<Result<(), ReplicaError>>> =
            awaited.iter().map(|_| None).collect();
        loop {
            changes.borrow_and_update();
            for (outcome, commit) in outcomes.iter_mut().zip(awaited) {
                if outcome.is_none() {
                    *outcome = match self.partition(&commit.topic_partition) {
                        Some(p) => p.check_committed(commit.required_offset, commit.leader_epoch),
                        None => Some(Err(ReplicaError::UnknownTopicOrPartition(
                            commit.topic_partition.clone(),
                        ))),
                    };
                }
            }
            if outcomes.iter().all(Option::is_some) || Instant::now() >= deadline {
                break;
            }
            let _ = tokio::time::timeout_at(deadline, changes.changed()).await;
        }
        outcomes
            .into_iter()
            .zip(awaited)
            .map(|(outcome, commit)| {
                outcome.unwrap_or_else(|| {
                    Err(ReplicaError::CommitTimedOut {
                        tp: commit.topic_partition.clone(),
                        offset: commit.required_offset - 1,
                        timeout,
                    })
                })
            })
            .collect()
    }

    /// Finds the records a fetch asked for, without reading them: the bytes
    /// stay in the segment file. A consumer gets committed records only
    /// (below the high watermark), a follower everything up to the log end.
    /// A follower's first look at a partition (`record`) also tells the
    /// leader where the follower's log ends.
    ///
    /// Followers' fetches, and consumers' unless `from_follower`, are
    /// served by the leader only; a consumer reading from a follower gets
    /// the records below the follower's high watermark (KIP-392).
    fn locate(
        &self,
        want: &FetchPartition,
        replica_id: Option<BrokerId>,
        from_follower: bool,
        record: bool,
        max_bytes: u64,
        min_one: bool,
    ) -> Result<PartitionSlice, ReplicaError> {
        let partition = self.hosted(&want.topic_partition)?;
        let follower_too = from_follower && replica_id.is_none();
        let (mut slice, leader_epoch, log_end) = partition.with_readable_log(
            want.current_leader_epoch,
            follower_too,
            |log, epoch| {
                let high_watermark = log.high_watermark();
                let max_offset = replica_id.is_none().then_some(high_watermark);
                let slice = PartitionSlice {
                    high_watermark,
                    log_start_offset: log.log_start_offset(),
                    range: log
                        .read(want.fetch_offset, max_bytes, max_offset, min_one)?
                        .filter(|r| r.len > 0),
                };
                Ok((slice, epoch, log.log_end_offset()))
            },
        )?;
        let Some(follower) = replica_id.filter(|_| record) else {
            return Ok(slice);
        };
        match partition.record_follower_fetch(
            follower,
            leader_epoch,
            want.fetch_offset,
            log_end,
            self.now_ms(),
        ) {
            Some(recorded) => {
                slice.high_watermark = recorded.high_watermark;
                if recorded.high_watermark_advanced {
                    self.wake_fetches();
                }
                if let Some(update) = recorded.isr_update {
                    self.queue_isr_update(update);
                }
            }
            // Not one of the partition's replicas: Kafka answers such a
            // fetch with no records.
            None => slice.range = None,
        }
        Ok(slice)
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
        self.locate(&want, None, false, false, max_bytes, min_one)?
            .read()
    }

    /// A fetch: locates every partition's records (the response's
    /// `max_bytes` shared among them; the first partition with data returns
    /// at least one batch, KIP-74) and, while fewer than `min_bytes` are
    /// available and `max_wait` has not passed, waits for appends and looks
    /// again. Only the final answer's bytes are read, off the runtime's
    /// threads when they are many (a large read may stall on the disk).
    pub async fn fetch(
        &self,
        partitions: &[FetchPartition],
        params: &FetchParams,
    ) -> Vec<Result<PartitionData, ReplicaError>> {
        let deadline = Instant::now() + params.max_wait;
        let mut changes = self.changes.subscribe();
        let mut first = true;
        let slices = loop {
            changes.borrow_and_update();
            let slices = self.locate_all(partitions, params, first);
            first = false;
            let bytes: u64 = slices
                .iter()
                .filter_map(|r| r.as_ref().ok()?.range.as_ref().map(|r| r.len))
                .sum();
            let failed = slices.iter().any(Result::is_err);
            if bytes >= params.min_bytes || failed || Instant::now() >= deadline {
                break (slices, bytes);
            }
            let _ = tokio::time::timeout_at(deadline, changes.changed()).await;
        };
        read_slices(slices.0, slices.1).await
    }

    fn locate_all(
        &self,
        partitions: &[FetchPartition],
        params: &FetchParams,
        record: bool,
    ) -> Vec<Result<PartitionSlice, ReplicaError>> {
        let mut remaining = params.max_bytes;
        let mut first_with_data = true;
        partitions
            .iter()
            .map(|p| {
                let limit = p.max_bytes.min(remaining);
                let slice = self.locate(
                    p,
                    params.replica_id,
                    params.from_follower,
                    record,
                    limit,
                    first_with_data,
                )?;
                if let Some(range) = &slice.range {
                    remaining = remaining.saturating_sub(range.len);
                    first_with_data = false;
                }
                Ok(slice)
            })
            .collect()
    }

    /// ListOffsets, on the leader: LATEST (-1: the high watermark for a
    /// consumer, the log end for a follower, `replica_id`), EARLIEST (-2:
    /// the log start) or the first record at or after a timestamp among
    /// those the requester may read. `current_leader_epoch` as in
    /// [`FetchPartition`].
    pub fn offset_for_timestamp(
        &self,
        tp: &TopicPartition,
        replica_id: Option<BrokerId>,
        current_leader_epoch: Option<i32>,
        timestamp: i64,
    ) -> Result<TimestampAndOffset, ReplicaError> {
        self.hosted(tp)?
            .with_leader_log(current_leader_epoch, |log, leader_epoch| {
                let readable_end = match replica_id {
                    Some(_) => log.log_end_offset(),
                    None => log.high_watermark(),
                };
                let (timestamp, offset) = match timestamp {
                    LATEST_TIMESTAMP => (-1, readable_end),
                    EARLIEST_TIMESTAMP => (-1, log.log_start_offset()),
                    ts => match log.offset_for_timestamp(ts)? {
                        Some((offset, found_ts)) if offset < readable_end => (found_ts, offset),
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

    /// OffsetForLeaderEpoch, on the leader (Kafka's
    /// `Partition.lastOffsetForLeaderEpoch`): where `leader_epoch` ends in
    /// the leader's log, and the epoch it was found under; `None` when the
    /// log cannot tell (Kafka's UNDEFINED_EPOCH_OFFSET). Followers and
    /// consumers alike are answered by the leader only, fenced by
    /// `current_leader_epoch` as in [`FetchPartition`].
    pub fn end_offset_for_epoch(
        &self,
        tp: &TopicPartition,
        current_leader_epoch: Option<i32>,
        leader_epoch: i32,
    ) -> Result<Option<(i32, i64)>, ReplicaError> {
        self.hosted(tp)?
            .with_leader_log(current_leader_epoch, |log, _| {
                Ok(log.end_offset_for_epoch(leader_epoch))
            })
    }

    /// Hands an ISR change to the task writing them.
    fn queue_isr_update(&self, update: IsrUpdate) {
        if self.isr_updates.send(update).is_err() {
            warn!("ISR change dropped: the replica manager is shutting down");
        }
    }

    /// Removes followers that fell behind from the ISR of every partition
    /// this broker leads (Kafka's `maybeShrinkIsr`, every half
    /// `replica.lag.time.max.ms`).
    pub(super) fn maybe_shrink_isrs(&self, now_ms: i64) {
        let max_lag_ms = i64::try_from(self.config.lag_time_max.as_millis()).unwrap_or(i64::MAX);
        for partition in self.all_partitions() {
            if let Some(update) = partition.maybe_shrink_isr(now_ms, max_lag_ms) {
                self.queue_isr_update(update);
            }
        }
    }

    /// Writes one ISR change to the partition state znode and settles it
    /// with the answer; a change written is announced to the controller
    /// under `/isr_change_notification`, one notification per change (Kafka
    /// batches those of a few seconds into one).
    pub(super) async fn write_isr_update(&self, update: IsrUpdate) {
        let tp = &update.topic_partition;
        let written = self
            .isr_store
            .update_partition_state(tp, &update.state, update.zk_version)
            .await;
        match &written {
            Ok(version) => info!("{tp}: ISR is now {:?} (zkVersion {version})", update.state.isr),
            Err(ZkError::BadVersion { .. }) => warn!(
                "{tp}: the partition state changed since zkVersion {}: ISR {:?} not written; not leading until the controller's next LeaderAndIsr",
                update.zk_version, update.state.isr
            ),
            Err(e) => warn!("{tp}: ISR {:?} not written: {e}", update.state.isr),
        }
        if let Some(partition) = self.partition(tp) {
            if partition.complete_isr_update(&update, &written) {
                self.wake_fetches();
            }
        }
        if written.is_ok() {
            if let Err(e) = self
                .isr_store
                .notify_isr_change(std::slice::from_ref(tp))
                .await
            {
                warn!("{tp}: ISR change not announced to the controller: {e}");
            }
        }
    }

    /// Writes the ISR changes queued so far, as the task [`startup`]
    /// starts would.
    ///
    /// [`startup`]: Self::startup
    #[cfg(test)]
    pub(super) async fn write_queued_isr_updates(&self) -> usize {
        let mut written = 0;
        loop {
            let next = self
                .queued_isr_updates
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_mut()
                .and_then(|q| q.try_recv().ok());
            let Some(update) = next else { return written };
            self.write_isr_update(update).await;
            written += 1;
        }
    }
}

/// Runs `job` every `period` while the replica manager lives, on `tasks`.
fn every<F, Fut>(tasks: &Shutdown, rm: Weak<ReplicaManager>, period: Duration, job: F)
where
    F: Fn(Arc<ReplicaManager>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tasks.spawn(async move {
        // A zero period would make the interval panic.
        let period = period.max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(rm) = rm.upgrade() else { return };
            job(rm).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::testing::{batch, manager};
    use gregor_log::LogConfig;
    use gregor_protocol::ErrorCode;
    use gregor_record::{Record, RecordBatchBuilder};

    fn consumer(min_bytes: u64, max_bytes: u64, max_wait: Duration) -> FetchParams {
        FetchParams {
            from_follower: false,
            replica_id: None,
            min_bytes,
            max_wait,
            max_bytes,
        }
    }

    #[tokio::test(start_paused = true)]
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
        let r = rm
            .fetch(&req, &consumer(1, 1 << 20, Duration::from_millis(20)))
            .await;
        assert!(r[0].as_ref().unwrap().records.is_none());
        // An append while waiting wakes the fetch long before max_wait.
        let rm2 = Arc::clone(&rm);
        let tp2 = tp.clone();
        let waiter = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = rm2
                .fetch(&req, &consumer(1, 1 << 20, Duration::from_secs(30)))
                .await;
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
        let r = rm.fetch(&req, &consumer(1, 1 << 22, Duration::ZERO)).await;
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
            let found = rm.offset_for_timestamp(&tp, None, None, ts).unwrap();
            assert_eq!(found.leader_epoch, 4);
            (found.timestamp, found.offset)
        };
        assert_eq!(listed(LATEST_TIMESTAMP), (-1, 3));
        assert_eq!(listed(EARLIEST_TIMESTAMP), (-1, 0));
        assert_eq!(listed(150), (200, 1));
        assert_eq!(listed(301), (-1, -1));
    }
}
