//! The log manager (Kafka's `LogManager`): owns every partition log under
//! `log.dirs`, loads and recovers them at start-up, writes the per-dir
//! checkpoints, and runs retention, flushing and checkpointing in the
//! background, and the log cleaner's threads beside them.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ::log::{error, info, warn};

use gregor_clock::SharedClock;
use gregor_protocol::TopicPartition;

use super::checkpoint::{
    self, MetaProperties, CLEANER_CHECKPOINT, LOG_START_CHECKPOINT, RECOVERY_POINT_CHECKPOINT,
    REPLICATION_CHECKPOINT,
};
use super::cleaner::{self, CleanerConfig, LogCleanerManager};
use super::config::LogConfig;
use super::error::{LogError, Result};
use super::partition_log::{parse_partition_dir, LoadState, PartitionLog};

/// Written to a log dir on clean shutdown, removed at start-up: its absence
/// at start-up means the logs must be recovered.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
/// Held locked while a broker uses the log dir, so two brokers cannot.
const LOCK_FILE: &str = ".lock";
/// How often idle idempotent producers are forgotten (Kafka's
/// `LogManager.ProducerIdExpirationCheckIntervalMs`).
const PRODUCER_EXPIRATION_CHECK_INTERVAL: Duration = Duration::from_secs(600);
/// Suffix of partition directories being deleted.
const DELETE_DIR_SUFFIX: &str = "-delete";

/// The broker settings the log manager runs with (Kafka's key names).
#[derive(Debug, Clone)]
pub struct LogManagerConfig {
    /// `log.dirs`.
    pub log_dirs: Vec<PathBuf>,
    /// The broker-level defaults for every log (`log.*` keys).
    pub default_log_config: LogConfig,
    /// `log.retention.check.interval.ms` (default 300000).
    pub retention_check_interval: Duration,
    /// `log.flush.scheduler.interval.ms` (default: never).
    pub flush_check_interval: Option<Duration>,
    /// `log.flush.offset.checkpoint.interval.ms` (default 60000).
    pub checkpoint_interval: Duration,
    /// `broker.id`, recorded in each dir's `meta.properties`.
    pub broker_id: i32,
    /// The cluster id from ZooKeeper, recorded in each dir's
    /// `meta.properties` beside the broker id (`None`: keep what is there).
    pub cluster_id: Option<String>,
    /// The log cleaner's `log.cleaner.*` settings.
    pub cleaner: CleanerConfig,
    /// The broker's clock: segment ages, retention, flush and producer
    /// expiry are measured on it.
    pub clock: SharedClock,
}

pub type SharedLog = Arc<Mutex<PartitionLog>>;

struct LogDir {
    path: PathBuf,
    /// Keeps the advisory lock on `.lock` for as long as we run.
    _lock: File,
}

pub struct LogManager {
    config: LogManagerConfig,
    dirs: Vec<LogDir>,
    logs: RwLock<HashMap<TopicPartition, SharedLog>>,
    /// Which logs the cleaner threads are working on.
    cleaner: LogCleanerManager,
    /// Held while writing `cleaner-offset-checkpoint`, which cleaner
    /// threads and the checkpoint task both write.
    cleaner_checkpoint_lock: Mutex<()>,
}

/// Locks a log, recovering it from a poisoned mutex: a panic in another
/// thread must not make the partition unusable (the log's own state is only
/// changed after each I/O succeeds).
pub fn lock(log: &SharedLog) -> MutexGuard<'_, PartitionLog> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LogManager {
    /// Opens every log dir: takes its lock, checks `meta.properties`, and
    /// loads (recovering if the last shutdown was unclean) every partition.
    pub fn startup(config: LogManagerConfig) -> Result<LogManager> {
        let started = Instant::now();
        let mut dirs = Vec::new();
        let mut logs = HashMap::new();
        for path in &config.log_dirs {
            fs::create_dir_all(path).map_err(LogError::io(path))?;
            let lock = lock_dir(path)?;
            check_meta_properties(path, config.broker_id, config.cluster_id.as_deref())?;
            create_checkpoint_files(path)?;
            for (tp, log) in load_dir(path, &config.default_log_config, &config.clock)? {
                logs.insert(tp, Arc::new(Mutex::new(log)));
            }
            remove_if_exists(&path.join(CLEAN_SHUTDOWN_FILE))?;
            dirs.push(LogDir {
                path: path.clone(),
                _lock: lock,
            });
        }
        info!(
            "loaded {} logs from {} dirs in {:?}",
            logs.len(),
            dirs.len(),
            started.elapsed()
        );
        Ok(LogManager {
            config,
            dirs,
            logs: RwLock::new(logs),
            cleaner: LogCleanerManager::default(),
            cleaner_checkpoint_lock: Mutex::new(()),
        })
    }

    /// The clock every log of this manager runs on.
    pub fn clock(&self) -> &SharedClock {
        &self.config.clock
    }

    pub fn default_log_config(&self) -> &LogConfig {
        &self.config.default_log_config
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<SharedLog> {
        self.read_logs().get(tp).cloned()
    }

    pub fn all(&self) -> Vec<(TopicPartition, SharedLog)> {
        self.read_logs()
            .iter()
            .map(|(tp, l)| (tp.clone(), Arc::clone(l)))
            .collect()
    }

    /// Returns the partition's log, creating it in the log dir holding the
    /// fewest partitions if it does not exist yet.
    pub fn get_or_create(&self, tp: &TopicPartition, config: LogConfig) -> Result<SharedLog> {
        if let Some(log) = self.get(tp) {
            return Ok(log);
        }
        let mut logs = self.logs.write().unwrap_or_else(|p| p.into_inner());
        if let Some(log) = logs.get(tp) {
            return Ok(Arc::clone(log));
        }
        let dir = self.least_loaded_dir(&logs)?;
        let log = PartitionLog::open(
            &dir.join(tp.to_string()),
            config,
            LoadState::default(),
            Arc::clone(&self.config.clock),
        )?;
        let log = Arc::new(Mutex::new(log));
        logs.insert(tp.clone(), Arc::clone(&log));
        Ok(log)
    }

    fn least_loaded_dir(&self, logs: &HashMap<TopicPartition, SharedLog>) -> Result<PathBuf> {
        let mut counts: BTreeMap<&Path, usize> =
            self.dirs.iter().map(|d| (d.path.as_path(), 0)).collect();
        for log in logs.values() {
            if let Some(parent) = lock(log).dir().parent() {
                if let Some(n) = counts.get_mut(parent) {
                    *n += 1;
                }
            }
        }
        counts
            .into_iter()
            .min_by_key(|(_, n)| *n)
            .map(|(p, _)| p.to_path_buf())
            .ok_or(LogError::ShutDown)
    }

    /// Removes a partition's log and its directory (StopReplica with delete),
    /// once no cleaner thread works on it.
    pub fn delete(&self, tp: &TopicPartition) -> Result<bool> {
        self.cleaner.abort_and_pause(tp);
        let deleted = self.delete_log(tp);
        self.cleaner.resume_cleaning(tp);
        deleted
    }

    fn delete_log(&self, tp: &TopicPartition) -> Result<bool> {
        let removed = self
            .logs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tp);
        let Some(log) = removed else { return Ok(false) };
        let log = match Arc::try_unwrap(log) {
            Ok(mutex) => mutex.into_inner().unwrap_or_else(|p| p.into_inner()),
            // Someone still holds it (an in-flight read): rename the dir away
            // now and let the last holder's drop leave the files to unlink.
            Err(shared) => {
                let dir = lock(&shared).dir().to_path_buf();
                let doomed = PathBuf::from(format!("{}{DELETE_DIR_SUFFIX}", dir.display()));
                fs::rename(&dir, &doomed).map_err(LogError::io(&dir))?;
                fs::remove_dir_all(&doomed).map_err(LogError::io(&doomed))?;
                return Ok(true);
            }
        };
        log.delete()?;
        Ok(true)
    }

    /// Writes each dir's recovery-point, log-start-offset and cleaner
    /// checkpoints (Kafka's `LogManager.checkpointLogRecoveryOffsets` and
    /// `checkpointLogStartOffsets`; the cleaner's drops deleted logs).
    /// As in Kafka, a log start offset is only recorded where it lies past
    /// the first segment's base offset, which says it otherwise.
    pub fn checkpoint(&self) -> Result<()> {
        self.write_checkpoint(RECOVERY_POINT_CHECKPOINT, |l| Some(l.recovery_point()))?;
        self.write_checkpoint(LOG_START_CHECKPOINT, |l| {
            let first_base = l.segments().next().map(|s| s.base_offset());
            (first_base.is_some_and(|b| l.log_start_offset() > b)).then(|| l.log_start_offset())
        })?;
        self.checkpoint_cleaner_offsets()
    }

    /// Writes each dir's `cleaner-offset-checkpoint` where it changed: how
    /// far the cleaner has cleaned each compacted log. (Kafka writes the
    /// file only when a cleaning or a truncation changes it, so a broker
    /// that never cleaned keeps it empty.)
    pub fn checkpoint_cleaner_offsets(&self) -> Result<()> {
        let _writing = self
            .cleaner_checkpoint_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (dir, offsets) in self.checkpoint_entries(PartitionLog::cleaner_checkpoint) {
            let path = dir.join(CLEANER_CHECKPOINT);
            if checkpoint::read_offsets(&path).ok().as_ref() != Some(&offsets) {
                checkpoint::write_offsets(&path, &offsets)?;
            }
        }
        Ok(())
    }

    /// The cleaner threads' shared state.
    pub(super) fn cleaner_manager(&self) -> &LogCleanerManager {
        &self.cleaner
    }

    /// Writes each dir's `replication-offset-checkpoint`: every log's high
    /// watermark, read back at start-up. The replica manager calls it every
    /// `replica.high.watermark.checkpoint.interval.ms` (Kafka's
    /// `ReplicaManager.checkpointHighWatermarks`); shutdown writes it too.
    pub fn checkpoint_high_watermarks(&self) -> Result<()> {
        self.write_checkpoint(REPLICATION_CHECKPOINT, |l| Some(l.high_watermark()))
    }

    /// Writes checkpoint `name` in each log dir with `offset` of each of
    /// the dir's logs that has one.
    fn write_checkpoint(
        &self,
        name: &str,
        offset: impl Fn(&PartitionLog) -> Option<i64>,
    ) -> Result<()> {
        for (dir, offsets) in self.checkpoint_entries(offset) {
            checkpoint::write_offsets(&dir.join(name), &offsets)?;
        }
        Ok(())
    }

    /// For each log dir, `offset` of each of the dir's logs that has one.
    fn checkpoint_entries(
        &self,
        offset: impl Fn(&PartitionLog) -> Option<i64>,
    ) -> Vec<(PathBuf, BTreeMap<TopicPartition, i64>)> {
        let logs = self.all();
        let mut entries = Vec::with_capacity(self.dirs.len());
        for dir in &self.dirs {
            let mut offsets = BTreeMap::new();
            for (tp, log) in &logs {
                let log = lock(log);
                if log.dir().parent() != Some(dir.path.as_path()) {
                    continue;
                }
                if let Some(offset) = offset(&log) {
                    offsets.insert(tp.clone(), offset);
                }
            }
            entries.push((dir.path.clone(), offsets));
        }
        entries
    }

    /// One retention pass over every log: delete expired segments, unlink
    /// `.deleted` files whose delay has passed. (An idle log does not roll:
    /// as in Kafka, `segment.ms` is checked when a batch arrives, against
    /// its timestamp.) Returns the number of segments deleted.
    pub fn cleanup_logs(&self, now_ms: i64) -> Result<usize> {
        let mut deleted = 0;
        for (_, log) in self.all() {
            let mut log = lock(&log);
            deleted += log.delete_old_segments(now_ms)?;
            log.purge_deleted(now_ms, false);
        }
        Ok(deleted)
    }

    /// Forgets, in every log, the idempotent producers idle past
    /// `transactional.id.expiration.ms`.
    pub fn remove_expired_producers(&self, now_ms: i64) -> Result<()> {
        for (_, log) in self.all() {
            lock(&log).remove_expired_producers(now_ms);
        }
        Ok(())
    }

    /// Flushes logs whose `flush.ms` has passed.
    pub fn flush_due_logs(&self, now_ms: i64) -> Result<()> {
        for (_, log) in self.all() {
            lock(&log).flush_if_due(now_ms)?;
        }
        Ok(())
    }

    /// Closes every log, writes the checkpoints and the clean-shutdown
    /// markers: the next start-up can skip recovery.
    pub fn shutdown(&self) -> Result<()> {
        for (tp, log) in self.all() {
            if let Err(e) = lock(&log).close() {
                error!("{tp}: error closing log: {e}");
                return Err(e);
            }
        }
        self.checkpoint()?;
        self.checkpoint_high_watermarks()?;
        for dir in &self.dirs {
            checkpoint::write_atomically(&dir.path.join(CLEAN_SHUTDOWN_FILE), b"")?;
        }
        info!("log manager shut down cleanly");
        Ok(())
    }

    /// Starts the background thread (Kafka's `kafka-log-retention`,
    /// `kafka-log-flusher` and `kafka-recovery-point-checkpoint` tasks) and,
    /// with `log.cleaner.enable`, `log.cleaner.threads` cleaner threads;
    /// they stop when the returned handle is stopped or dropped.
    pub fn start_background(self: &Arc<Self>) -> BackgroundTasks {
        let stop = Arc::new(StopSignal::default());
        let mut threads = Vec::new();
        let mut spawn =
            |name: String, task: Box<dyn FnOnce() + Send>| match std::thread::Builder::new()
                .name(name.clone())
                .spawn(task)
            {
                Ok(thread) => threads.push(thread),
                Err(e) => error!("could not start thread {name}: {e}"),
            };
        let (manager, signal) = (Arc::clone(self), Arc::clone(&stop));
        spawn(
            "log-manager".into(),
            Box::new(move || manager.background_loop(&signal)),
        );
        let cleaner = &self.config.cleaner;
        let cleaner_threads = if cleaner.enable { cleaner.threads } else { 0 };
        for i in 0..cleaner_threads {
            let (manager, signal) = (Arc::clone(self), Arc::clone(&stop));
            spawn(
                format!("kafka-log-cleaner-thread-{i}"),
                Box::new(move || {
                    cleaner::run_cleaner_thread(&manager, &manager.config.cleaner, &signal)
                }),
            );
        }
        BackgroundTasks { stop, threads }
    }

    fn background_loop(&self, stop: &StopSignal) {
        // The tasks are paced by the monotonic system clock, as the thread
        // sleeps in real time between them; what each task decides (which
        // segments expired, which producers, which logs are due a flush)
        // is measured on the log's clock.
        let c = &self.config;
        let mut tasks: Vec<(Duration, Instant, Task)> = vec![
            (c.retention_check_interval, Instant::now(), |m| {
                m.cleanup_logs(m.clock().milliseconds()).map(|_| ())
            }),
            (
                c.checkpoint_interval,
                Instant::now(),
                LogManager::checkpoint,
            ),
            (PRODUCER_EXPIRATION_CHECK_INTERVAL, Instant::now(), |m| {
                m.remove_expired_producers(m.clock().milliseconds())
            }),
        ];
        if let Some(every) = c.flush_check_interval {
            tasks.push((every, Instant::now(), |m| {
                m.flush_due_logs(m.clock().milliseconds())
            }));
        }
        loop {
            let next = tasks.iter().map(|(every, last, _)| *last + *every).min();
            let wait = next.map_or(Duration::from_secs(3600), |t| {
                t.saturating_duration_since(Instant::now())
            });
            if stop.wait(wait) {
                return;
            }
            for (every, last, task) in &mut tasks {
                if last.elapsed() >= *every {
                    *last = Instant::now();
                    if let Err(e) = task(self) {
                        warn!("log manager background task failed: {e}");
                    }
                }
            }
        }
    }

    fn read_logs(&self) -> std::sync::RwLockReadGuard<'_, HashMap<TopicPartition, SharedLog>> {
        self.logs.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// A periodic background job over all logs.
type Task = fn(&LogManager) -> Result<()>;

/// Tells background threads to stop, waking those that wait.
#[derive(Default)]
pub struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `timeout`; returns whether the stop was signalled.
    pub fn wait(&self, timeout: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, timeout, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        *stopped
    }
}

/// The running background threads; stopping them waits for the current
/// pass (a cleaning under way is abandoned at its next batch).
pub struct BackgroundTasks {
    stop: Arc<StopSignal>,
    threads: Vec<JoinHandle<()>>,
}

impl BackgroundTasks {
    pub fn stop(&mut self) {
        self.stop.stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock_dir(path: &Path) -> Result<File> {
    let lock_path = path.join(LOCK_FILE);
    let file = File::create(&lock_path).map_err(LogError::io(&lock_path))?;
    file.try_lock().map_err(|e| LogError::Corrupt {
        path: lock_path,
        reason: format!("log dir is in use by another process ({e})"),
    })?;
    Ok(file)
}

/// Refuses a log dir that belongs to another broker or cluster, then
/// (re)writes its `meta.properties`, as Kafka 2.8 does at every start.
fn check_meta_properties(dir: &Path, broker_id: i32, cluster_id: Option<&str>) -> Result<()> {
    let found = MetaProperties::read(dir)?;
    let path = || dir.join(checkpoint::META_PROPERTIES);
    if let Some(meta) = &found {
        if meta.broker_id != broker_id {
            return Err(LogError::InconsistentBrokerId {
                configured: broker_id,
                found: meta.broker_id,
                path: path(),
            });
        }
        if let (Some(stored), Some(current)) = (&meta.cluster_id, cluster_id) {
            if stored != current {
                return Err(LogError::InconsistentClusterId {
                    current: current.to_owned(),
                    found: stored.clone(),
                    path: path(),
                });
            }
        }
    }
    let cluster_id = cluster_id
        .map(str::to_owned)
        .or_else(|| found.and_then(|m| m.cluster_id));
    MetaProperties {
        broker_id,
        cluster_id,
    }
    .write(dir)
}

/// Creates the log dir's checkpoint files, empty, where they do not exist
/// yet, as Kafka does when it opens a log dir: they are there from the
/// start, and written when there is something to record.
fn create_checkpoint_files(dir: &Path) -> Result<()> {
    for name in [
        RECOVERY_POINT_CHECKPOINT,
        LOG_START_CHECKPOINT,
        REPLICATION_CHECKPOINT,
        CLEANER_CHECKPOINT,
    ] {
        let path = dir.join(name);
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(LogError::io(path)(e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Loads every partition directory in a log dir, using the dir's checkpoints
/// and clean-shutdown marker; removes directories left half-deleted.
fn load_dir(
    dir: &Path,
    config: &LogConfig,
    clock: &SharedClock,
) -> Result<Vec<(TopicPartition, PartitionLog)>> {
    let clean_shutdown = dir.join(CLEAN_SHUTDOWN_FILE).exists();
    if !clean_shutdown {
        info!(
            "{}: no clean shutdown marker, recovering logs past their recovery points",
            dir.display()
        );
    }
    let recovery = checkpoint::read_offsets(&dir.join(RECOVERY_POINT_CHECKPOINT))?;
    let start = checkpoint::read_offsets(&dir.join(LOG_START_CHECKPOINT))?;
    let hw = checkpoint::read_offsets(&dir.join(REPLICATION_CHECKPOINT))?;
    let cleaned = checkpoint::read_offsets(&dir.join(CLEANER_CHECKPOINT))?;
    let mut logs = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let path = entry.map_err(LogError::io(dir))?.path();
        if !path.is_dir() {
            continue;
        }
        if path.to_string_lossy().ends_with(DELETE_DIR_SUFFIX) {
            fs::remove_dir_all(&path).map_err(LogError::io(&path))?;
            continue;
        }
        let Ok(tp) = parse_partition_dir(&path) else {
            warn!("ignoring {}: not a partition directory", path.display());
            continue;
        };
        let state = LoadState {
            recovery_point: recovery.get(&tp).copied().unwrap_or(0),
            log_start_offset: start.get(&tp).copied().unwrap_or(0),
            high_watermark: hw.get(&tp).copied().unwrap_or(0),
            clean_shutdown,
            cleaner_checkpoint: cleaned.get(&tp).copied(),
        };
        let log = PartitionLog::open(&path, config.clone(), state, Arc::clone(clock))?;
        logs.push((tp, log));
    }
    Ok(logs)
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LogError::io(path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_clock::ManualClock;
    use gregor_record::{Record, RecordBatchBuilder};

    const T0: i64 = 1_700_000_000_000;

    fn config(dirs: Vec<PathBuf>) -> LogManagerConfig {
        LogManagerConfig {
            log_dirs: dirs,
            default_log_config: LogConfig {
                segment_bytes: 500,
                ..LogConfig::default()
            },
            retention_check_interval: Duration::from_millis(10),
            flush_check_interval: None,
            checkpoint_interval: Duration::from_secs(60),
            broker_id: 1,
            cluster_id: Some("cluster-a".into()),
            cleaner: CleanerConfig::default(),
            clock: ManualClock::new(T0),
        }
    }

    fn batch() -> bytes::Bytes {
        let mut b = RecordBatchBuilder::new(T0);
        b.append(Record::new(T0, None, Some(&[7u8; 100])));
        b.build()
    }

    #[test]
    fn restart_after_clean_shutdown_keeps_offsets_and_checkpoints() {
        let root = tempfile::tempdir().unwrap();
        let dirs = vec![root.path().join("a"), root.path().join("b")];
        let tp = TopicPartition::new("orders", 3);
        {
            let m = LogManager::startup(config(dirs.clone())).unwrap();
            let log = m
                .get_or_create(&tp, m.default_log_config().clone())
                .unwrap();
            for _ in 0..10 {
                lock(&log).append_as_leader(&batch(), 0, T0).unwrap();
            }
            lock(&log).set_high_watermark(8);
            m.get_or_create(&TopicPartition::new("orders", 4), LogConfig::default())
                .unwrap();
            m.shutdown().unwrap();
        }
        let text = fs::read_to_string(root.path().join("a").join(REPLICATION_CHECKPOINT)).unwrap()
            + &fs::read_to_string(root.path().join("b").join(REPLICATION_CHECKPOINT)).unwrap();
        assert!(text.contains("orders 3 8"), "{text}");
        for dir in &dirs {
            // As Kafka: no log start past a first segment, no cleaning.
            let read = |name| fs::read_to_string(dir.join(name)).unwrap();
            assert_eq!(read(LOG_START_CHECKPOINT), "0\n0\n");
            assert_eq!(read(CLEANER_CHECKPOINT), "");
        }
        // The two partitions were spread over the two dirs.
        assert!(dirs
            .iter()
            .all(|d| fs::read_dir(d).unwrap().any(|e| e.unwrap().path().is_dir())));
        let m = LogManager::startup(config(dirs.clone())).unwrap();
        for d in &dirs {
            assert!(!d.join(CLEAN_SHUTDOWN_FILE).exists());
        }
        let log = m.get(&tp).unwrap();
        let log = lock(&log);
        assert_eq!(
            (
                log.log_end_offset(),
                log.high_watermark(),
                log.recovery_point()
            ),
            (10, 8, 10)
        );
    }

    #[test]
    fn refuses_a_dir_of_another_broker_and_a_locked_dir() {
        let root = tempfile::tempdir().unwrap();
        let dirs = vec![root.path().to_path_buf()];
        let m = LogManager::startup(config(dirs.clone())).unwrap();
        // Kafka's checkpoint files exist, empty, from the start.
        for name in [
            RECOVERY_POINT_CHECKPOINT,
            LOG_START_CHECKPOINT,
            REPLICATION_CHECKPOINT,
            CLEANER_CHECKPOINT,
        ] {
            assert_eq!(fs::read(dirs[0].join(name)).unwrap(), b"", "{name}");
        }
        assert!(
            LogManager::startup(config(dirs.clone())).is_err(),
            "dir is locked"
        );
        drop(m);
        let mut other_cluster = config(dirs.clone());
        other_cluster.cluster_id = Some("cluster-b".into());
        assert!(matches!(
            LogManager::startup(other_cluster),
            Err(LogError::InconsistentClusterId { .. })
        ));
        let meta = MetaProperties::read(&dirs[0]).unwrap().unwrap();
        assert_eq!(meta.cluster_id.as_deref(), Some("cluster-a"));
        let mut other = config(dirs);
        other.broker_id = 2;
        assert!(matches!(
            LogManager::startup(other),
            Err(LogError::InconsistentBrokerId {
                configured: 2,
                found: 1,
                ..
            })
        ));
    }

    #[test]
    fn background_retention_deletes_expired_segments_and_delete_removes_dir() {
        let root = tempfile::tempdir().unwrap();
        let m = Arc::new(LogManager::startup(config(vec![root.path().to_path_buf()])).unwrap());
        let tp = TopicPartition::new("t", 0);
        let cfg = LogConfig {
            segment_bytes: 500,
            retention_ms: Some(0),
            file_delete_delay_ms: 0,
            ..LogConfig::default()
        };
        let log = m.get_or_create(&tp, cfg).unwrap();
        {
            let mut l = lock(&log);
            for _ in 0..12 {
                let mut b = RecordBatchBuilder::new(1);
                b.append(Record::new(1, None, Some(&[1u8; 100])));
                l.append_as_leader(&b.build(), 0, T0).unwrap();
            }
            let end = l.log_end_offset();
            l.set_high_watermark(end);
            assert!(l.segment_count() > 2);
        }
        let mut bg = m.start_background();
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&log).log_start_offset() < 12 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        bg.stop();
        assert_eq!(lock(&log).log_start_offset(), 12);
        assert_eq!(lock(&log).segment_count(), 1);
        drop(log);
        assert!(m.delete(&tp).unwrap());
        assert!(!root.path().join("t-0").exists());
        assert!(m.get(&tp).is_none());
    }
}
