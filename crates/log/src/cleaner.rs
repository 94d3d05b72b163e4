//! The log cleaner (Kafka's `LogCleaner`): compaction of the logs of
//! `cleanup.policy=compact` topics, which keep at least the latest record
//! of every key (`__consumer_offsets` is one).
//!
//! A compacted log has a clean part, below its cleaner checkpoint (one
//! entry per log in each log dir's `cleaner-offset-checkpoint`), where no
//! key repeats, and a dirty part after it. A cleaner thread repeatedly
//! picks the log whose dirty part is the largest share of it (see
//! `cleaner_manager`) and cleans it:
//!
//! 1. it maps every key of the dirty part to its latest offset, up to the
//!    first uncleanable offset (never into the active segment nor past the
//!    high watermark) or until the map holds
//!    `log.cleaner.dedupe.buffer.size` worth of keys;
//! 2. it copies every segment below the mapped end, in groups that fit in
//!    one `segment.bytes` segment, keeping a record only if no later
//!    offset of its key is mapped. Offsets are never changed: the cleaned
//!    log has gaps. A tombstone (a record with a null value) is kept until
//!    `delete.retention.ms` has passed, measured as Kafka 2.8 does: it goes
//!    once the segment holding it was last written longer than that before
//!    the newest segment of the clean part;
//! 3. each cleaned group replaces its segments under the log's lock, by
//!    renames (`.cleaned` → `.swap` → plain) that a crash cannot leave
//!    half done (see [`PartitionLog::replace_segments`]);
//! 4. the checkpoint moves to the mapped end.
//!
//! Records without a key are dropped (the produce path refuses them for
//! compacted topics). The batch holding an idempotent producer's last
//! sequence is kept even when all its records go, as an empty batch, so
//! that the producer's state survives a reload from the log.
//!
//! The segments are read and written without the log's lock (inactive
//! segments are never rewritten in place); the lock is taken to look at
//! the log and to swap the cleaned segments in.

mod batch_reader;
mod cleaner_manager;
mod offset_map;

use std::collections::HashMap;
use std::io::IoSlice;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::log::{error, info, warn};
use bytes::Bytes;

use gregor_clock::SharedClock;
use gregor_protocol::TopicPartition;
use gregor_record::{
    BatchHeader, Compression, DecodedRecord, Record, RecordBatchBuilder, RecordError, Records,
};

use self::batch_reader::BatchReader;
use self::offset_map::OffsetMap;
use super::config::LogConfig;
use super::error::LogError;
use super::manager::{lock, LogManager, SharedLog, StopSignal};
#[cfg(doc)]
use super::partition_log::PartitionLog;
use super::segment::{remove_segment_files, BatchMeta, FileRange, Segment, CLEANED_SUFFIX};

pub use self::cleaner_manager::{LogCleanerManager, LogToClean};

/// The log cleaner's settings (Kafka's `CleanerConfig`); the per-topic ones
/// are in [`LogConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanerConfig {
    /// `log.cleaner.enable`, default true: whether compacted logs are
    /// cleaned at all.
    pub enable: bool,
    /// `log.cleaner.threads`, default 1: threads cleaning logs in parallel.
    pub threads: usize,
    /// `log.cleaner.backoff.ms`, default 15000: how long a thread sleeps
    /// when no log needs cleaning.
    pub backoff_ms: u64,
    /// `log.cleaner.dedupe.buffer.size`, default 134217728: memory for the
    /// key maps of all threads together; it bounds how much of a log's
    /// dirty part one cleaning takes on.
    pub dedupe_buffer_size: u64,
    /// `log.cleaner.io.buffer.size`, default 524288: the buffer for reading
    /// segments and the one for writing cleaned ones.
    pub io_buffer_size: usize,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            enable: true,
            threads: 1,
            backoff_ms: 15_000,
            dedupe_buffer_size: 128 * 1024 * 1024,
            io_buffer_size: 512 * 1024,
        }
    }
}

impl CleanerConfig {
    /// One thread's share of `log.cleaner.dedupe.buffer.size`.
    fn dedupe_buffer_per_thread(&self) -> usize {
        let share = self.dedupe_buffer_size / self.threads.max(1) as u64;
        usize::try_from(share).unwrap_or(usize::MAX)
    }
}

/// Why a cleaning failed.
#[derive(Debug, thiserror::Error)]
pub enum CleanerError {
    #[error(transparent)]
    Log(#[from] LogError),
    /// Not one key of the dirty part fits in the thread's share of the
    /// dedupe buffer: the log could never be cleaned.
    #[error("log.cleaner.dedupe.buffer.size leaves {capacity} bytes per thread, too little for a single key at offset {offset}")]
    DedupeBufferTooSmall { capacity: usize, offset: i64 },
    /// A stored record whose offset is not within 2^31 of its batch's base
    /// offset, which a rebuilt batch could not express.
    #[error("record at offset {offset} lies outside its batch at {base_offset}")]
    OffsetOutsideBatch { offset: i64, base_offset: i64 },
    /// The broker is shutting down.
    #[error("the log cleaner is stopping")]
    Stopped,
    /// The log is being deleted (see [`LogCleanerManager::abort_and_pause`]).
    #[error("the cleaning of this log was aborted")]
    Aborted,
}

type Result<T, E = CleanerError> = std::result::Result<T, E>;

/// How a cleaning ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanOutcome {
    /// The log is clean below this offset (the new checkpoint).
    Cleaned { end_offset: i64 },
    /// The log changed under the cleaner (retention or truncation took
    /// segments it was copying); nothing was swapped in after that.
    Aborted,
}

/// A segment as the cleaner found it, read without the log's lock.
struct SourceSegment {
    base_offset: i64,
    /// The next segment's base offset: this one holds offsets below it.
    next_base_offset: i64,
    range: FileRange,
    last_modified: SystemTime,
}

/// What a cleaning needs from the log, taken under its lock.
struct LogSnapshot {
    dir: PathBuf,
    config: LogConfig,
    /// The log's clock, which dates the cleaned segments' creation.
    clock: SharedClock,
    /// The segments below the first uncleanable offset.
    segments: Vec<SourceSegment>,
    /// Each idempotent producer's last batch, by its last offset.
    producer_last_offsets: HashMap<i64, i64>,
}

impl LogSnapshot {
    fn take(shared: &SharedLog, first_uncleanable: i64) -> Result<LogSnapshot> {
        let log = lock(shared);
        let all: Vec<&Segment> = log.segments().collect();
        let mut segments = Vec::new();
        for pair in all.windows(2) {
            let (segment, next) = (pair[0], pair[1]);
            if segment.base_offset() >= first_uncleanable {
                break;
            }
            segments.push(SourceSegment {
                base_offset: segment.base_offset(),
                next_base_offset: next.base_offset(),
                range: segment.as_range(),
                last_modified: segment.last_modified()?,
            });
        }
        Ok(LogSnapshot {
            dir: log.dir().to_path_buf(),
            config: log.config().clone(),
            clock: Arc::clone(log.clock()),
            segments,
            producer_last_offsets: log.producer_state().last_batch_offsets().collect(),
        })
    }
}

/// What decides whether a record survives a cleaning.
struct Retention<'a> {
    map: &'a OffsetMap,
    /// The last offset the map covers: later records are all kept.
    map_end: i64,
    /// Whether tombstones in the segment being copied are still kept.
    retain_deletes: bool,
}

impl Retention<'_> {
    /// Kafka's `shouldRetainRecord`.
    fn keeps(&self, record: &DecodedRecord) -> bool {
        if record.offset > self.map_end {
            return true;
        }
        let Some(key) = &record.key else {
            return false;
        };
        let latest = self.map.get(key).unwrap_or(-1);
        record.offset >= latest && (record.value.is_some() || self.retain_deletes)
    }
}

/// One cleaner thread's worker (Kafka's `Cleaner`), with its key map.
pub struct Cleaner<'a> {
    config: &'a CleanerConfig,
    stop: &'a StopSignal,
    cleaners: &'a LogCleanerManager,
    map: OffsetMap,
    /// The log being cleaned, to check whether its cleaning was aborted.
    cleaning: Option<TopicPartition>,
}

impl<'a> Cleaner<'a> {
    pub fn new(
        config: &'a CleanerConfig,
        stop: &'a StopSignal,
        cleaners: &'a LogCleanerManager,
    ) -> Self {
        Cleaner {
            config,
            stop,
            cleaners,
            map: OffsetMap::new(config.dedupe_buffer_per_thread()),
            cleaning: None,
        }
    }

    /// Kafka's `checkDone`, between two batches.
    fn check_stop(&self) -> Result<()> {
        if self.stop.is_stopped() {
            return Err(CleanerError::Stopped);
        }
        match &self.cleaning {
            Some(tp) if self.cleaners.is_aborted(tp) => Err(CleanerError::Aborted),
            _ => Ok(()),
        }
    }

    /// Cleans the log from its first dirty offset as far as the key map
    /// reaches, and moves its cleaner checkpoint there.
    pub fn clean(&mut self, to_clean: &LogToClean) -> Result<CleanOutcome> {
        self.cleaning = Some(to_clean.topic_partition.clone());
        let result = self.clean_log(to_clean);
        self.cleaning = None;
        self.map.clear();
        result
    }

    fn clean_log(&mut self, to_clean: &LogToClean) -> Result<CleanOutcome> {
        let first_dirty = to_clean.first_dirty_offset;
        let snapshot = LogSnapshot::take(&to_clean.log, to_clean.first_uncleanable_offset)?;
        let end_offset = self.build_offset_map(&snapshot.segments, first_dirty)?;
        if end_offset <= first_dirty {
            return Err(CleanerError::DedupeBufferTooSmall {
                capacity: self.config.dedupe_buffer_per_thread(),
                offset: first_dirty,
            });
        }
        let delete_horizon = delete_horizon(&snapshot, first_dirty);
        info!(
            "{}: cleaning offsets below {end_offset} ({} keys mapped from {first_dirty})",
            to_clean.topic_partition,
            self.map.len()
        );
        let segments: Vec<&SourceSegment> = snapshot
            .segments
            .iter()
            .filter(|s| s.base_offset < end_offset)
            .collect();
        let groups = group_segments_by_size(&segments, snapshot.config.segment_bytes);
        let last_group = groups.len().saturating_sub(1);
        for (i, group) in groups.iter().enumerate() {
            self.write_cleaned_segment(&snapshot, group, end_offset - 1, delete_horizon)?;
            let sources: Vec<(i64, FileRange)> = group
                .iter()
                .map(|s| (s.base_offset, s.range.clone()))
                .collect();
            let mut log = lock(&to_clean.log);
            if !log.replace_segments(&sources)? {
                info!(
                    "{}: segments changed while being cleaned, cleaning again later",
                    to_clean.topic_partition
                );
                return Ok(CleanOutcome::Aborted);
            }
            // Under the same lock as the last swap: a truncation after it
            // lowers the checkpoint again.
            if i == last_group {
                log.set_cleaner_checkpoint(end_offset);
            }
        }
        Ok(CleanOutcome::Cleaned { end_offset })
    }

    /// Kafka's `buildOffsetMap`: maps the keys of the dirty segments (from
    /// `first_dirty`) to their latest offsets, whole batches at a time, and
    /// returns the offset the map reaches (exclusive): the end of the last
    /// segment mapped whole, or of the last batch mapped whole when the map
    /// filled up.
    fn build_offset_map(&mut self, segments: &[SourceSegment], first_dirty: i64) -> Result<i64> {
        let mut end = first_dirty;
        for segment in segments.iter().filter(|s| s.next_base_offset > first_dirty) {
            for batch in BatchReader::new(&segment.range, self.config.io_buffer_size) {
                self.check_stop()?;
                let (header, bytes) = batch?;
                if header.last_offset() < first_dirty {
                    continue;
                }
                if !header.is_control() && !self.map_batch(&bytes, first_dirty)? {
                    return Ok(end);
                }
                end = header.last_offset() + 1;
            }
            end = segment.next_base_offset;
        }
        Ok(end)
    }

    /// Maps the keys of one batch; `false` when the map filled up part way.
    fn map_batch(&mut self, batch: &Bytes, first_dirty: i64) -> Result<bool> {
        for record in Records::new(batch).map_err(LogError::from)? {
            let record = record.map_err(LogError::from)?;
            if let Some(key) = record.key.filter(|_| record.offset >= first_dirty) {
                if !self.map.put(&key, record.offset) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Kafka's `cleanSegments`: copies what the map keeps of `group` into
    /// one `.cleaned` segment at the group's base offset, with the
    /// modification time of the group's last segment. `map_end` is the
    /// last offset the map covers; tombstones stay in segments last written
    /// after `delete_horizon`.
    fn write_cleaned_segment(
        &self,
        snapshot: &LogSnapshot,
        group: &[&SourceSegment],
        map_end: i64,
        delete_horizon: Option<SystemTime>,
    ) -> Result<()> {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            return Ok(());
        };
        let dir = &snapshot.dir;
        let mut cleaned =
            Segment::create_cleaned(dir, first.base_offset, &snapshot.config, &snapshot.clock)?;
        let written = (|| {
            for segment in group {
                let retention = Retention {
                    map: &self.map,
                    map_end,
                    retain_deletes: delete_horizon.is_none_or(|h| segment.last_modified > h),
                };
                self.clean_into(segment, &mut cleaned, &retention, snapshot)?;
            }
            cleaned.on_become_inactive()?;
            cleaned.set_last_modified(last.last_modified)?;
            cleaned.close()?;
            Ok(())
        })();
        drop(cleaned);
        if written.is_err() {
            discard_cleaned(dir, first.base_offset);
        }
        written
    }

    /// Kafka's `cleanInto`: the batches of `source` as `retention` keeps
    /// them, appended to `cleaned` through a buffer of
    /// `log.cleaner.io.buffer.size` bytes.
    fn clean_into(
        &self,
        source: &SourceSegment,
        cleaned: &mut Segment,
        retention: &Retention<'_>,
        snapshot: &LogSnapshot,
    ) -> Result<()> {
        let mut pending = Vec::new();
        let mut pending_bytes = 0;
        let mut metas = Vec::new();
        for batch in BatchReader::new(&source.range, self.config.io_buffer_size) {
            self.check_stop()?;
            let (header, bytes) = batch?;
            let last_of_producer = snapshot
                .producer_last_offsets
                .get(&header.producer_id)
                .is_some_and(|last| *last == header.last_offset());
            let Some(kept) = filter_batch(&header, bytes, retention, last_of_producer)? else {
                continue;
            };
            metas.push(BatchMeta {
                last_offset: header.last_offset(),
                offset_of_max_timestamp: header.last_offset(),
                max_timestamp: BatchHeader::parse(&kept)
                    .map_err(LogError::from)?
                    .max_timestamp,
                size: kept.len() as u64,
            });
            pending_bytes += kept.len();
            pending.push(kept);
            if pending_bytes >= self.config.io_buffer_size {
                append_batches(cleaned, &mut pending, &mut metas)?;
                pending_bytes = 0;
            }
        }
        append_batches(cleaned, &mut pending, &mut metas)
    }
}

/// What is left of one batch after cleaning (Kafka's `MemoryRecords.filterTo`
/// with the cleaner's batch retention): the batch as it was if every record
/// stays, a rebuilt batch with the same offsets if some do, an empty batch
/// if none do but it holds its producer's last sequence, else nothing.
/// Control batches are kept as they are.
fn filter_batch(
    header: &BatchHeader,
    batch: Bytes,
    retention: &Retention<'_>,
    last_of_producer: bool,
) -> Result<Option<Bytes>> {
    if header.is_control() {
        return Ok(Some(batch));
    }
    let records: Vec<DecodedRecord> = Records::new(&batch)
        .and_then(|records| records.collect())
        .map_err(LogError::from)?;
    let kept: Vec<&DecodedRecord> = records.iter().filter(|r| retention.keeps(r)).collect();
    if kept.len() == records.len() {
        return Ok(Some(batch));
    }
    if kept.is_empty() && !last_of_producer {
        return Ok(None);
    }
    let codec = Compression::from_id(header.compression())
        .map_err(|e| LogError::from(RecordError::from(e)))?;
    let base_timestamp = kept.first().map_or(header.max_timestamp, |r| r.timestamp);
    let mut rebuilt = RecordBatchBuilder::retaining(header, base_timestamp).compression(codec);
    for record in kept {
        let delta =
            i32::try_from(record.offset.wrapping_sub(header.base_offset)).map_err(|_| {
                CleanerError::OffsetOutsideBatch {
                    offset: record.offset,
                    base_offset: header.base_offset,
                }
            })?;
        let headers = record
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref()))
            .collect();
        rebuilt.append_at(
            delta,
            Record {
                timestamp: record.timestamp,
                key: record.key.as_deref(),
                value: record.value.as_deref(),
                headers,
            },
        );
    }
    Ok(Some(rebuilt.build()))
}

/// Writes the pending batches to `cleaned` in one write.
fn append_batches(
    cleaned: &mut Segment,
    pending: &mut Vec<Bytes>,
    metas: &mut Vec<BatchMeta>,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut bufs: Vec<IoSlice<'_>> = pending.iter().map(|b| IoSlice::new(b)).collect();
    cleaned.append(&mut bufs, metas.drain(..))?;
    drop(bufs);
    pending.clear();
    Ok(())
}

/// Kafka 2.8's delete horizon: tombstones in segments last written before
/// this time go. It is `delete.retention.ms` before the modification time
/// of the newest segment of the clean part; `None` (keep them all) while
/// nothing is clean yet.
fn delete_horizon(snapshot: &LogSnapshot, first_dirty: i64) -> Option<SystemTime> {
    let newest_clean = snapshot
        .segments
        .iter()
        .take_while(|s| s.base_offset < first_dirty)
        .last()?;
    let retention = Duration::from_millis(snapshot.config.delete_retention_ms);
    Some(
        newest_clean
            .last_modified
            .checked_sub(retention)
            .unwrap_or(SystemTime::UNIX_EPOCH),
    )
}

/// Kafka's `groupSegmentsBySize`: consecutive segments whose sizes add up
/// to at most `segment.bytes`, and whose offsets stay within 2^31 of the
/// group's base offset (offset index entries are 32-bit), become one
/// cleaned segment. Each segment is in exactly one group.
fn group_segments_by_size<'s>(
    segments: &[&'s SourceSegment],
    max_size: u64,
) -> Vec<Vec<&'s SourceSegment>> {
    let mut groups: Vec<Vec<&SourceSegment>> = Vec::new();
    let mut size = 0;
    for segment in segments {
        let fits = groups.last().is_some_and(|group| {
            let base = group[0].base_offset;
            size + segment.range.len <= max_size
                && (segment.range.len == 0
                    || segment.next_base_offset - 1 - base <= i64::from(i32::MAX))
        });
        if fits {
            size += segment.range.len;
            if let Some(group) = groups.last_mut() {
                group.push(segment);
            }
        } else {
            size = segment.range.len;
            groups.push(vec![segment]);
        }
    }
    groups
}

/// Removes the files of a cleaned segment that will not be swapped in.
fn discard_cleaned(dir: &Path, base_offset: i64) {
    if let Err(e) = remove_segment_files(dir, base_offset, CLEANED_SUFFIX) {
        warn!("could not remove a cleaned segment: {e}");
    }
}

/// One cleaner thread (Kafka's `CleanerThread`): cleans the filthiest log,
/// and the next one at once while there is one; otherwise waits
/// `log.cleaner.backoff.ms`. Stops when `stop` is signalled, abandoning a
/// cleaning under way (its `.cleaned` files are removed).
pub(super) fn run_cleaner_thread(manager: &LogManager, config: &CleanerConfig, stop: &StopSignal) {
    let mut cleaner = Cleaner::new(config, stop, manager.cleaner_manager());
    let backoff = Duration::from_millis(config.backoff_ms);
    while !stop.is_stopped() {
        if !clean_filthiest_log(manager, &mut cleaner) && stop.wait(backoff) {
            return;
        }
    }
}

/// Cleans the log that needs it most, if any. Returns whether a cleaning
/// completed (the thread then looks for more work at once).
fn clean_filthiest_log(manager: &LogManager, cleaner: &mut Cleaner<'_>) -> bool {
    let cleaners = manager.cleaner_manager();
    let Some(to_clean) = cleaners.grab_filthiest_log(manager.all(), manager.clock().milliseconds())
    else {
        return false;
    };
    let tp = &to_clean.topic_partition;
    let outcome = cleaner.clean(&to_clean);
    cleaners.done_cleaning(tp);
    match outcome {
        Ok(CleanOutcome::Cleaned { end_offset }) => {
            info!("{tp}: cleaned up to offset {end_offset}");
            if let Err(e) = manager.checkpoint_cleaner_offsets() {
                warn!("could not write the cleaner checkpoints: {e}");
            }
            true
        }
        Ok(CleanOutcome::Aborted) | Err(CleanerError::Stopped | CleanerError::Aborted) => false,
        Err(e) => {
            // A deleted log's files vanish under the cleaner: not its fault.
            let still_there = manager
                .get(tp)
                .is_some_and(|log| Arc::ptr_eq(&log, &to_clean.log));
            if still_there {
                error!("{tp}: cleaning failed, not cleaning it again until restart: {e}");
                cleaners.mark_uncleanable(tp, &to_clean.log);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests;
