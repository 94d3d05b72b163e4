//! Which compacted log to clean next (Kafka's `LogCleanerManager`): the one
//! with the largest share of dirty bytes among those where that share
//! exceeds `min.cleanable.dirty.ratio` or a record is older than
//! `max.compaction.lag.ms`; and which logs are being cleaned, so that two
//! cleaner threads never take the same one and a log is not deleted under
//! a cleaner.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use ::log::{debug, warn};

use gregor_protocol::TopicPartition;

use super::super::error::LogError;
use super::super::manager::{lock, SharedLog};
use super::super::partition_log::PartitionLog;
use super::super::segment::Segment;

/// A compacted log and the part of it a cleaning may work on (Kafka's
/// `LogToClean`).
pub struct LogToClean {
    pub topic_partition: TopicPartition,
    pub log: SharedLog,
    /// The first offset not cleaned yet: the cleaner checkpoint, or the log
    /// start offset if the checkpoint is missing or out of range.
    pub first_dirty_offset: i64,
    /// The base offset of the first segment the cleaner may not touch: the
    /// active segment, the segment holding the high watermark, or the first
    /// one with records younger than `min.compaction.lag.ms`.
    pub first_uncleanable_offset: i64,
    /// Bytes of the segments below the first dirty offset.
    pub clean_bytes: u64,
    /// Bytes of the segments from the first dirty offset to the first
    /// uncleanable one.
    pub cleanable_bytes: u64,
    /// The log's `min.cleanable.dirty.ratio`.
    pub min_cleanable_ratio: f64,
    /// A dirty segment holds a record older than `max.compaction.lag.ms`:
    /// the log is cleaned whatever its ratio.
    pub need_compaction_now: bool,
}

impl LogToClean {
    /// Looks at a log under its lock; `None` unless it is compacted and
    /// holds data.
    pub fn of(
        topic_partition: TopicPartition,
        shared: &SharedLog,
        now_ms: i64,
    ) -> Result<Option<Self>, LogError> {
        let log = lock(shared);
        if !log.config().cleanup_policy.compact {
            return Ok(None);
        }
        let first_dirty_offset = first_dirty_offset(&log);
        let first_uncleanable_offset =
            first_uncleanable_offset(&log, first_dirty_offset, now_ms).max(first_dirty_offset);
        let bases: Vec<(i64, u64)> = log
            .segments()
            .map(|s| (s.base_offset(), s.size()))
            .collect();
        // Kafka's `logSegments(from, to)`: the segments holding offsets in
        // [from, to), the one holding `from` included.
        let mut clean_bytes = 0;
        let mut cleanable_bytes = 0;
        for (i, (base, size)) in bases.iter().enumerate() {
            let next = bases.get(i + 1).map_or(i64::MAX, |(b, _)| *b);
            if *base < first_dirty_offset {
                clean_bytes += size;
            }
            if next > first_dirty_offset && *base < first_uncleanable_offset {
                cleanable_bytes += size;
            }
        }
        if clean_bytes + cleanable_bytes == 0 {
            return Ok(None);
        }
        let min_cleanable_ratio = log.config().min_cleanable_dirty_ratio;
        let need_compaction_now = max_compaction_delay_passed(&log, first_dirty_offset, now_ms)?;
        drop(log);
        Ok(Some(LogToClean {
            topic_partition,
            log: Arc::clone(shared),
            first_dirty_offset,
            first_uncleanable_offset,
            clean_bytes,
            cleanable_bytes,
            min_cleanable_ratio,
            need_compaction_now,
        }))
    }

    /// Whether the cleaner should take this log now (Kafka's filter in
    /// `grabFilthiestCompactedLog`).
    pub fn is_cleanable(&self) -> bool {
        (self.need_compaction_now && self.cleanable_bytes > 0)
            || self.cleanable_ratio() > self.min_cleanable_ratio
    }

    /// The share of the log's bytes that cleaning may reclaim from.
    pub fn cleanable_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.cleanable_bytes;
        if total == 0 {
            return 0.0;
        }
        self.cleanable_bytes as f64 / total as f64
    }
}

/// Kafka's `cleanableOffsets`, first part: the checkpoint when it lies
/// within the log, else the log start (a truncated or new log).
fn first_dirty_offset(log: &PartitionLog) -> i64 {
    let start = log.log_start_offset();
    match log.cleaner_checkpoint() {
        Some(offset) if offset >= start && offset <= log.log_end_offset() => offset,
        _ => start,
    }
}

/// Kafka's `cleanableOffsets`, second part, rounded down to the base offset
/// of the segment holding it (`calculateCleanableBytes`): cleaning never
/// passes the active segment nor the high watermark (what consumers may
/// not see yet must not be compacted away), nor a segment with a record
/// younger than `min.compaction.lag.ms`.
fn first_uncleanable_offset(log: &PartitionLog, first_dirty: i64, now_ms: i64) -> i64 {
    let bases: Vec<(i64, i64)> = log
        .segments()
        .map(|s| (s.base_offset(), s.max_timestamp()))
        .collect();
    let active = bases.last().map_or(0, |(b, _)| *b);
    let mut uncleanable = log.high_watermark().min(active);
    let lag = i64::try_from(log.config().min_compaction_lag_ms).unwrap_or(i64::MAX);
    if lag > 0 {
        let too_young = bases.windows(2).find(|pair| {
            let ((_, max_timestamp), (next, _)) = (pair[0], pair[1]);
            next > first_dirty && max_timestamp > now_ms.saturating_sub(lag)
        });
        if let Some(pair) = too_young {
            uncleanable = uncleanable.min(pair[0].0);
        }
    }
    bases
        .iter()
        .map(|(base, _)| *base)
        .take_while(|base| *base <= uncleanable)
        .last()
        .unwrap_or(uncleanable)
}

/// Kafka's `maxCompactionDelay` > 0: the first batch of a dirty segment
/// (not the active one) is older than `max.compaction.lag.ms`.
fn max_compaction_delay_passed(
    log: &PartitionLog,
    first_dirty: i64,
    now_ms: i64,
) -> Result<bool, LogError> {
    // `Long.MAX_VALUE`, the default, means no maximum: no need to look.
    let max_lag = i64::try_from(log.config().max_compaction_lag_ms).unwrap_or(i64::MAX);
    if max_lag == i64::MAX {
        return Ok(false);
    }
    let segments: Vec<&Segment> = log.segments().collect();
    for pair in segments.windows(2) {
        if pair[1].base_offset() <= first_dirty {
            continue;
        }
        let first = pair[0].first_batch_timestamp()?;
        if first.is_some_and(|t| t > 0 && t < now_ms.saturating_sub(max_lag)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The logs being cleaned, and those a cleaning failed on.
#[derive(Default)]
struct State {
    in_progress: HashSet<TopicPartition>,
    /// Logs no cleaning may start on (Kafka's `LogCleaningPaused`), with
    /// how many callers paused them.
    paused: HashMap<TopicPartition, usize>,
    /// Logs whose cleaning under way must stop at its next batch (Kafka's
    /// `LogCleaningAborted`).
    aborting: HashSet<TopicPartition>,
    /// Kafka's uncleanable partitions: not tried again until the broker
    /// restarts. Held weakly, so a log deleted and created again under the
    /// same name is cleanable again.
    uncleanable: HashMap<TopicPartition, Weak<Mutex<PartitionLog>>>,
}

/// Kafka's `LogCleanerManager`: shared by the cleaner threads.
#[derive(Default)]
pub struct LogCleanerManager {
    state: Mutex<State>,
    /// Signalled whenever a cleaning ends.
    cleaning_done: Condvar,
}

impl LogCleanerManager {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kafka's `abortAndPauseCleaning`: stops a cleaning of the log under
    /// way (at its next batch; its cleaned files are dropped) and keeps new
    /// ones from starting until [`resume_cleaning`](Self::resume_cleaning).
    /// Returns once no cleaner thread works on the log.
    pub fn abort_and_pause(&self, topic_partition: &TopicPartition) {
        let mut state = self.state();
        *state.paused.entry(topic_partition.clone()).or_default() += 1;
        if state.in_progress.contains(topic_partition) {
            state.aborting.insert(topic_partition.clone());
        }
        let _idle = self
            .cleaning_done
            .wait_while(state, |s| s.in_progress.contains(topic_partition))
            .unwrap_or_else(|p| p.into_inner());
    }

    /// Undoes one [`abort_and_pause`](Self::abort_and_pause).
    pub fn resume_cleaning(&self, topic_partition: &TopicPartition) {
        let mut state = self.state();
        if let Some(pauses) = state.paused.get_mut(topic_partition) {
            *pauses -= 1;
            if *pauses == 0 {
                state.paused.remove(topic_partition);
            }
        }
    }

    /// Whether the cleaning of the log under way must stop.
    pub fn is_aborted(&self, topic_partition: &TopicPartition) -> bool {
        self.state().aborting.contains(topic_partition)
    }

    /// Kafka's `grabFilthiestCompactedLog`: among `logs`, the compacted one
    /// with the largest cleanable ratio above its `min.cleanable.dirty.ratio`
    /// that no thread is cleaning, marked in progress.
    pub fn grab_filthiest_log(
        &self,
        logs: Vec<(TopicPartition, SharedLog)>,
        now_ms: i64,
    ) -> Option<LogToClean> {
        let skip: HashSet<TopicPartition> = {
            let state = self.state();
            let uncleanable = state.uncleanable.iter().filter(|(tp, weak)| {
                logs.iter()
                    .any(|(t, log)| t == *tp && Weak::ptr_eq(weak, &Arc::downgrade(log)))
            });
            uncleanable
                .map(|(tp, _)| tp.clone())
                .chain(state.in_progress.iter().cloned())
                .chain(state.paused.keys().cloned())
                .collect()
        };
        let filthiest = logs
            .into_iter()
            .filter(|(tp, _)| !skip.contains(tp))
            .filter_map(|(tp, log)| match LogToClean::of(tp.clone(), &log, now_ms) {
                Ok(candidate) => candidate,
                Err(e) => {
                    warn!("{tp}: cannot tell how dirty the log is: {e}");
                    None
                }
            })
            .filter(LogToClean::is_cleanable)
            .max_by(|a, b| a.cleanable_ratio().total_cmp(&b.cleanable_ratio()))?;
        // Another thread may have taken or paused it since the look above.
        let mut state = self.state();
        let tp = &filthiest.topic_partition;
        if state.paused.contains_key(tp) || !state.in_progress.insert(tp.clone()) {
            return None;
        }
        drop(state);
        debug!(
            "{}: cleanable ratio {:.3}, dirty offsets [{}, {})",
            filthiest.topic_partition,
            filthiest.cleanable_ratio(),
            filthiest.first_dirty_offset,
            filthiest.first_uncleanable_offset
        );
        Some(filthiest)
    }

    /// The cleaning of `topic_partition` is over.
    pub fn done_cleaning(&self, topic_partition: &TopicPartition) {
        let mut state = self.state();
        state.in_progress.remove(topic_partition);
        state.aborting.remove(topic_partition);
        drop(state);
        self.cleaning_done.notify_all();
    }

    /// A cleaning of `log` failed: leave it alone from now on.
    pub fn mark_uncleanable(&self, topic_partition: &TopicPartition, log: &SharedLog) {
        self.state()
            .uncleanable
            .insert(topic_partition.clone(), Arc::downgrade(log));
    }
}
