//! One partition's log (Kafka's `Log`): an ordered set of segments, the
//! offsets that describe it (log start, log end, high watermark, recovery
//! point), and the operations on it: leader appends, reads, retention,
//! truncation at either end, flushing and crash recovery.

use std::collections::BTreeMap;
use std::fs;
use std::io::IoSlice;
use std::path::{Path, PathBuf};

use ::log::{info, warn};
use bytes::Bytes;

use gregor_clock::SharedClock;
use gregor_protocol::TopicPartition;
use gregor_record::{
    create_time_max, with_max_timestamp, BatchError, BatchHeader, Batches, Records, LEADER_EPOCH_AT,
};

use super::checkpoint;
use super::config::LogConfig;
use super::error::{LogError, Result};
use super::leader_epoch::LeaderEpochCache;
use super::producer_state::{
    delete_snapshot, list_snapshots, snapshot_file, ProducerBatch, ProducerStateManager,
};
use super::segment::{
    change_file_suffixes, remove_segment_files, BatchMeta, FileRange, Segment, CLEANED_SUFFIX,
    DELETED_SUFFIX, LOG_SUFFIX, SWAP_SUFFIX,
};

/// What the log manager remembers about a log between runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadState {
    /// From `recovery-point-offset-checkpoint`: everything below was flushed.
    pub recovery_point: i64,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: i64,
    /// From `replication-offset-checkpoint`.
    pub high_watermark: i64,
    /// Whether the log dir holds a clean-shutdown marker.
    pub clean_shutdown: bool,
    /// From `cleaner-offset-checkpoint`: how far the log cleaner has
    /// cleaned a compacted log.
    pub cleaner_checkpoint: Option<i64>,
}

/// The outcome of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogAppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub offset_of_max_timestamp: i64,
    pub batch_count: usize,
    pub log_start_offset: i64,
    /// The batches repeat an idempotent producer's batch already in the
    /// log: nothing was appended, and the offsets are the original ones.
    pub duplicate: bool,
}

/// A batch of an append being prepared: its first offset, its first
/// `HEAD_LEN` bytes as they will be stored, its bytes as sent, what the
/// segment needs to know, and the producer fields of an idempotent batch.
type PendingBatch<'a> = (
    i64,
    [u8; HEAD_LEN],
    &'a [u8],
    BatchMeta,
    Option<ProducerBatch>,
);

/// Segments renamed to `.deleted`, to unlink once their delay has passed.
struct PendingDelete {
    due_ms: i64,
    paths: Vec<PathBuf>,
}

pub struct PartitionLog {
    dir: PathBuf,
    topic_partition: TopicPartition,
    config: LogConfig,
    /// Never empty: the last one is the active segment.
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    log_end_offset: i64,
    high_watermark: i64,
    recovery_point: i64,
    leader_epochs: LeaderEpochCache,
    /// Idempotent producers' epochs and last batches, rebuilt from the
    /// batch headers whenever the log is opened or truncated.
    producers: ProducerStateManager,
    /// The offset of the latest producer state snapshot written (or kept),
    /// else the log start offset (Kafka's `lastSnapOffset`): a snapshot is
    /// taken at a roll and at close only past it.
    last_snapshot_offset: i64,
    unflushed_records: u64,
    last_flush_ms: i64,
    pending_deletes: Vec<PendingDelete>,
    /// The topic id recorded in `partition.metadata`, if any.
    topic_id: Option<[u8; 16]>,
    /// The offset below which the log cleaner has cleaned the log (Kafka's
    /// `cleaner-offset-checkpoint` entry), lowered when the log is
    /// truncated below it; `None` before the first cleaning.
    cleaner_checkpoint: Option<i64>,
    /// Times flushes and the `file.delete.delay.ms` of deleted segments.
    clock: SharedClock,
}

/// Parses `<topic>-<partition>` (the topic may itself contain dashes).
pub fn parse_partition_dir(dir: &Path) -> Result<TopicPartition> {
    let bad = || LogError::NotAPartitionDir {
        path: dir.to_path_buf(),
    };
    let name = dir.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
    let (topic, partition) = name.rsplit_once('-').ok_or_else(bad)?;
    let partition: i32 = partition.parse().map_err(|_| bad())?;
    if topic.is_empty() || partition < 0 {
        return Err(bad());
    }
    Ok(TopicPartition::new(topic, partition))
}

impl PartitionLog {
    /// Opens the log in `dir` (creating it if needed), recovering segments
    /// past the recovery point after an unclean shutdown and any segment whose
    /// indexes do not check out.
    pub fn open(
        dir: &Path,
        config: LogConfig,
        state: LoadState,
        clock: SharedClock,
    ) -> Result<Self> {
        let now_ms = clock.milliseconds();
        let topic_partition = parse_partition_dir(dir)?;
        fs::create_dir_all(dir).map_err(LogError::io(dir))?;
        let bases = scan_segment_files(dir, &config, &clock)?;
        let mut segments = BTreeMap::new();
        for base in bases {
            segments.insert(base, Segment::open(dir, base, &config, &clock)?);
        }
        let recovered = recover_segments(&mut segments, &topic_partition, state)?;
        match segments.values_mut().next_back() {
            Some(active) => active.make_active()?,
            None => {
                let base = state.log_start_offset.max(0);
                segments.insert(base, Segment::create(dir, base, &config, &clock)?);
            }
        }
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            topic_partition,
            config,
            segments,
            log_start_offset: 0,
            log_end_offset: 0,
            high_watermark: 0,
            recovery_point: 0,
            leader_epochs: LeaderEpochCache::load(dir)?,
            producers: ProducerStateManager::new(),
            last_snapshot_offset: 0,
            topic_id: checkpoint::read_topic_id(dir)?,
            unflushed_records: 0,
            last_flush_ms: now_ms,
            pending_deletes: Vec::new(),
            cleaner_checkpoint: state.cleaner_checkpoint,
            clock,
        };
        log.log_end_offset = log.active().next_offset()?;
        log.log_start_offset = state.log_start_offset.max(log.first().base_offset());
        log.log_start_offset = log.log_start_offset.min(log.log_end_offset);
        log.high_watermark = state
            .high_watermark
            .clamp(log.log_start_offset, log.log_end_offset);
        log.leader_epochs.truncate_from_end(log.log_end_offset)?;
        log.leader_epochs
            .truncate_from_start(log.log_start_offset)?;
        log.rebuild_producer_state()?;
        log.load_snapshots(now_ms)?;
        if recovered {
            // Everything now in the log has been validated: make it durable
            // so the next recovery can start from here.
            log.flush()?;
        } else {
            log.recovery_point = state.recovery_point.clamp(0, log.log_end_offset);
        }
        Ok(log)
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The clock the log decides by (segment age, flush and delete delays).
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Applies a new topic configuration (from a `/config/topics` change).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Sets the high watermark (the replica layer decides it), kept within
    /// the log's offsets.
    pub fn set_high_watermark(&mut self, offset: i64) {
        self.high_watermark = offset.clamp(self.log_start_offset, self.log_end_offset);
    }

    pub fn leader_epochs(&self) -> &LeaderEpochCache {
        &self.leader_epochs
    }

    /// Records that `leader_epoch` starts at `start_offset` (Kafka's
    /// `maybeAssignEpochStartOffset`): a new leader does so at its log end
    /// before it appends anything, so that a follower holding records of an
    /// epoch between its last one and this one learns where they diverge.
    pub fn assign_epoch_start_offset(
        &mut self,
        leader_epoch: i32,
        start_offset: i64,
    ) -> Result<()> {
        self.leader_epochs.assign(leader_epoch, start_offset)?;
        Ok(())
    }

    /// The end offset of `leader_epoch` in this log and the epoch it was
    /// found under (Kafka's `endOffsetForEpoch`, see
    /// [`LeaderEpochCache::end_offset_for`]); `None` when unknown.
    pub fn end_offset_for_epoch(&self, leader_epoch: i32) -> Option<(i32, i64)> {
        self.leader_epochs
            .end_offset_for(leader_epoch, self.log_end_offset)
    }

    /// The topic id of `partition.metadata`, `None` before one is assigned.
    pub fn topic_id(&self) -> Option<[u8; 16]> {
        self.topic_id
    }

    /// Records the topic id in `partition.metadata` (Kafka's
    /// `Log.assignTopicId`); the caller checked that the log has none.
    pub fn assign_topic_id(&mut self, topic_id: [u8; 16]) -> Result<()> {
        checkpoint::write_topic_id(&self.dir, topic_id)?;
        self.topic_id = Some(topic_id);
        Ok(())
    }

    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producers
    }

    /// Re-reads the producer state from every batch header in the log
    /// (Kafka reads its `.snapshot` files and the log after the latest;
    /// gregor keeps no snapshots yet, so it reads all headers).
    fn rebuild_producer_state(&mut self) -> Result<()> {
        self.producers.clear();
        for segment in self.segments.values() {
            segment.for_each_header(|h| self.producers.load_batch(h))?;
        }
        self.producers.truncate_head(self.log_start_offset);
        Ok(())
    }

    /// Tidies the producer state snapshots of a log being opened as Kafka's
    /// `removeStraySnapshots` and `truncateAndReload` do — keeps those at a
    /// segment's base offset and the latest one past every base, drops
    /// those past the log end or at or below the log start — then takes a
    /// snapshot at the log end if it is past the latest kept.
    ///
    /// (Kafka also reads the latest snapshot back and scans the log after
    /// it; gregor rebuilds the state from every batch header instead, so
    /// snapshots it may write at the bases of segments scanned after an
    /// unclean shutdown, and empty ones for a log without any, are not
    /// written here.)
    fn load_snapshots(&mut self, now_ms: i64) -> Result<()> {
        let snapshots = list_snapshots(&self.dir)?;
        let max_base = self.segments.keys().next_back().copied();
        let stray: Vec<i64> = snapshots
            .iter()
            .copied()
            .filter(|o| !self.segments.contains_key(o))
            .collect();
        let latest_stray = stray
            .last()
            .copied()
            .filter(|o| max_base.is_none_or(|b| *o >= b));
        let mut kept = None;
        for offset in snapshots {
            let is_stray = !self.segments.contains_key(&offset);
            let out_of_range = offset > self.log_end_offset || offset <= self.log_start_offset;
            if (is_stray && Some(offset) != latest_stray) || out_of_range {
                delete_snapshot(&self.dir, offset)?;
            } else {
                kept = Some(offset);
            }
        }
        self.last_snapshot_offset = kept.unwrap_or(self.log_start_offset);
        // Kafka drops the expired producers of the snapshot it loads; those
        // of the batches after it come back from the log.
        if let Some(snapshot) = kept {
            let expiration = self.config.producer_id_expiration_ms;
            self.producers
                .remove_expired(now_ms, expiration, Some(snapshot - 1));
        }
        self.take_snapshot(self.log_end_offset)
    }

    /// Forgets the idempotent producers idle past
    /// `transactional.id.expiration.ms` (Kafka's periodic
    /// `removeExpiredProducers`).
    pub fn remove_expired_producers(&mut self, now_ms: i64) -> usize {
        let expiration = self.config.producer_id_expiration_ms;
        self.producers.remove_expired(now_ms, expiration, None)
    }

    /// Writes the producer state to `<offset>.snapshot` if `offset` is past
    /// the latest snapshot (Kafka's `takeSnapshot`, which the log calls at
    /// the new segment's base offset when it rolls, and at the log end when
    /// it is closed, opened or truncated).
    fn take_snapshot(&mut self, offset: i64) -> Result<()> {
        if offset > self.last_snapshot_offset {
            self.producers.write_snapshot(&self.dir, offset)?;
            self.last_snapshot_offset = offset;
        }
        Ok(())
    }

    /// The segments, oldest first; the last is the active one.
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.values()
    }

    /// How far the log cleaner has cleaned the log, if it has.
    pub fn cleaner_checkpoint(&self) -> Option<i64> {
        self.cleaner_checkpoint
    }

    /// Records that the log is clean below `offset` (after a cleaning).
    pub fn set_cleaner_checkpoint(&mut self, offset: i64) {
        self.cleaner_checkpoint = Some(offset);
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    /// Bytes in all segments.
    pub fn size(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    fn active(&self) -> &Segment {
        // `segments` is never empty (see the field's invariant).
        self.segments
            .values()
            .next_back()
            .expect("a log always has a segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has a segment")
    }

    fn first(&self) -> &Segment {
        self.segments
            .values()
            .next()
            .expect("a log always has a segment")
    }

    /// Validates the batches a producer sent, gives them offsets from the log
    /// end and stamps them with `leader_epoch`, and appends them byte for
    /// byte otherwise. Either every batch is appended or none is.
    ///
    /// Batches of an idempotent producer are checked against its state (see
    /// [`producer_state`](super::producer_state)); a retry of one of its
    /// last batches appends nothing and answers with the original offsets
    /// (`duplicate` set), as Kafka does.
    pub fn append_as_leader(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<LogAppendInfo> {
        let max = self.config.max_message_bytes as usize;
        let mut batches: Vec<PendingBatch<'_>> = Vec::with_capacity(1);
        let mut offset = self.log_end_offset;
        let mut max_ts = (i64::MIN, offset);
        for batch in Batches::new(records) {
            let (header, bytes) = batch?;
            header.check_count()?;
            if self.config.cleanup_policy.compact && !header.is_control() {
                check_keys(bytes)?;
            }
            if bytes.len() > max {
                return Err(BatchError::TooLarge {
                    size: bytes.len(),
                    max,
                }
                .into());
            }
            // An uncompressed batch's largest record timestamp, read off
            // the record headers: where the time index points, and what
            // the batch's max timestamp must say (a rare producer that
            // gets it wrong has it corrected, as Kafka's leader does).
            let record_max = create_time_max(bytes);
            if record_max.is_some_and(|(ts, _)| ts != header.max_timestamp) {
                let corrected = with_true_max_timestamps(records).ok_or(BatchError::Truncated {
                    needed: gregor_record::HEADER_LEN,
                    available: records.len(),
                })?;
                return self.append_as_leader(&corrected, leader_epoch, now_ms);
            }
            let producer = ProducerBatch::of(&header);
            if let Some(batch) = &producer {
                if let Some(dup) = self.producers.find_duplicate(batch) {
                    return Ok(LogAppendInfo {
                        first_offset: dup.first_offset,
                        last_offset: dup.last_offset,
                        max_timestamp: dup.max_timestamp,
                        offset_of_max_timestamp: dup.last_offset,
                        batch_count: 0,
                        log_start_offset: self.log_start_offset,
                        duplicate: true,
                    });
                }
                // Earlier batches of this request from the same producer.
                let pending = batches.iter().rev().find_map(|(_, _, _, _, p)| {
                    p.filter(|p| p.producer_id == batch.producer_id)
                        .map(|p| (p.epoch, p.last_seq))
                });
                self.producers.validate(batch, header.attributes, pending)?;
            }
            let last_offset = offset + i64::from(header.last_offset_delta);
            let offset_of_max_timestamp = record_max
                .and_then(|(_, delta)| delta)
                .map_or(last_offset, |delta| offset + i64::from(delta));
            if header.max_timestamp > max_ts.0 {
                max_ts = (header.max_timestamp, offset_of_max_timestamp);
            }
            let meta = BatchMeta {
                last_offset,
                max_timestamp: header.max_timestamp,
                offset_of_max_timestamp,
                size: bytes.len() as u64,
            };
            // Rewrite only the two fields the CRC does not cover: base offset
            // and partition leader epoch, both in the first 16 bytes.
            let head = batch_head(offset, bytes, leader_epoch);
            batches.push((offset, head, bytes, meta, producer));
            offset = last_offset + 1;
        }
        if batches.is_empty() {
            return Err(BatchError::Truncated {
                needed: gregor_record::HEADER_LEN,
                available: records.len(),
            }
            .into());
        }
        let first_offset = self.log_end_offset;
        let total: u64 = batches.iter().map(|(_, _, _, m, _)| m.size).sum();
        self.maybe_roll(total, offset - 1, max_ts.0, now_ms)?;

        // The rewritten heads go from their small arrays, the rest from the
        // request's buffer untouched, all in one writev (two slices a batch).
        let mut bufs = Vec::with_capacity(batches.len() * 2);
        for (_, head, bytes, _, _) in &batches {
            bufs.push(IoSlice::new(head));
            bufs.push(IoSlice::new(&bytes[HEAD_LEN..]));
        }
        let batch_count = batches.len();
        let metas = batches.iter().map(|(_, _, _, m, _)| *m);
        self.active_mut().append(&mut bufs, metas)?;
        drop(bufs);
        for (first, _, _, meta, producer) in &batches {
            if let Some(p) = producer {
                self.producers
                    .update(p, *first, meta.last_offset, meta.max_timestamp);
            }
        }
        self.leader_epochs.assign(leader_epoch, first_offset)?;
        self.advance_log_end(offset)?;
        Ok(LogAppendInfo {
            first_offset,
            last_offset: offset - 1,
            max_timestamp: max_ts.0,
            offset_of_max_timestamp: max_ts.1,
            batch_count,
            log_start_offset: self.log_start_offset,
            duplicate: false,
        })
    }

    /// Appends batches fetched from the leader (Kafka's `appendAsFollower`):
    /// each is validated (length, magic, CRC) and stored byte for byte, with
    /// the offsets and leader epoch the leader gave it. The first batch must
    /// start at or after the log end offset and each next one after the one
    /// before: a follower's log is a copy of the leader's, never a variant.
    /// (Offsets may skip: the leader's log cleaner removes records.)
    ///
    /// A fetch response may end part way through a batch; the complete
    /// batches before it are appended and the rest comes with the next
    /// fetch. `None` when `records` holds no batch at all.
    ///
    /// Segments roll between batches as they would have rolled on the
    /// leader appending them one produce request at a time, so replicas of
    /// one-batch requests keep the leader's segment boundaries. Each run of
    /// batches between rolls is appended whole; an I/O error keeps the runs
    /// before it.
    pub fn append_as_follower(
        &mut self,
        records: &[u8],
        now_ms: i64,
    ) -> Result<Option<LogAppendInfo>> {
        let mut batches: Vec<(BatchHeader, &[u8])> = Vec::new();
        let mut next = self.log_end_offset;
        for batch in Batches::new(records) {
            let (header, bytes) = match batch {
                Ok(batch) => batch,
                Err(BatchError::Truncated { .. }) if !batches.is_empty() => break,
                Err(e) => return Err(e.into()),
            };
            if header.base_offset < next || header.last_offset_delta < 0 {
                return Err(LogError::UnexpectedAppendOffset {
                    expected: next,
                    found: header.base_offset,
                });
            }
            next = header.last_offset() + 1;
            batches.push((header, bytes));
        }
        let Some((first, _)) = batches.first() else {
            return Ok(None);
        };
        let mut info = LogAppendInfo {
            first_offset: first.base_offset,
            last_offset: next - 1,
            max_timestamp: i64::MIN,
            offset_of_max_timestamp: first.base_offset,
            batch_count: batches.len(),
            log_start_offset: self.log_start_offset,
            duplicate: false,
        };
        for (header, _) in &batches {
            if header.max_timestamp > info.max_timestamp {
                info.max_timestamp = header.max_timestamp;
                info.offset_of_max_timestamp = header.last_offset();
            }
        }
        let mut rest = batches.as_slice();
        while !rest.is_empty() {
            let run = self.next_run(rest, now_ms)?;
            self.append_run(&rest[..run])?;
            rest = &rest[run..];
        }
        Ok(Some(info))
    }

    /// Rolls if the first of `batches` would have rolled the active segment
    /// on the leader, and returns how many of them fit after it without
    /// another roll (at least one).
    fn next_run(&mut self, batches: &[(BatchHeader, &[u8])], now_ms: i64) -> Result<usize> {
        let (first, bytes) = &batches[0];
        self.maybe_roll(
            bytes.len() as u64,
            first.last_offset(),
            first.max_timestamp,
            now_ms,
        )?;
        let mut pending = bytes.len() as u64;
        let mut run = 1;
        for (header, bytes) in &batches[1..] {
            let size = bytes.len() as u64;
            if self.active().should_roll_after(
                pending,
                Some(first.max_timestamp),
                size,
                header.last_offset(),
                header.max_timestamp,
                now_ms,
                &self.config,
            ) {
                break;
            }
            pending += size;
            run += 1;
        }
        Ok(run)
    }

    /// Writes a follower's run of contiguous batches to the active segment
    /// and records what they carry: producer state, leader epochs, the log
    /// end offset.
    fn append_run(&mut self, batches: &[(BatchHeader, &[u8])]) -> Result<()> {
        let mut bufs: Vec<IoSlice<'_>> = batches.iter().map(|(_, b)| IoSlice::new(b)).collect();
        let metas = batches.iter().map(|(h, b)| BatchMeta {
            last_offset: h.last_offset(),
            max_timestamp: h.max_timestamp,
            offset_of_max_timestamp: h.last_offset(),
            size: b.len() as u64,
        });
        self.active_mut().append(&mut bufs, metas)?;
        for (header, _) in batches {
            self.producers.load_batch(header);
            self.leader_epochs
                .assign(header.partition_leader_epoch, header.base_offset)?;
        }
        match batches.last() {
            Some((last, _)) => self.advance_log_end(last.last_offset() + 1),
            None => Ok(()),
        }
    }

    /// Moves the log end offset past an append and flushes if
    /// `flush.messages` records are now unflushed.
    fn advance_log_end(&mut self, next_offset: i64) -> Result<()> {
        self.unflushed_records += (next_offset - self.log_end_offset) as u64;
        self.log_end_offset = next_offset;
        if self
            .config
            .flush_messages
            .is_some_and(|n| self.unflushed_records >= n)
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Rolls to a new segment if the active one is too big or too old for
    /// `size` more bytes ending at `last_offset`.
    fn maybe_roll(
        &mut self,
        size: u64,
        last_offset: i64,
        max_timestamp: i64,
        now_ms: i64,
    ) -> Result<()> {
        if self
            .active()
            .should_roll(size, last_offset, max_timestamp, now_ms, &self.config)
        {
            self.roll()?;
        }
        Ok(())
    }

    /// Starts a new active segment at the log end offset (a no-op when the
    /// active segment is empty).
    pub fn roll(&mut self) -> Result<()> {
        let next = self.log_end_offset;
        if self.active().is_empty() {
            return Ok(());
        }
        self.active_mut().on_become_inactive()?;
        self.take_snapshot(next)?;
        let segment = Segment::create(&self.dir, next, &self.config, &self.clock)?;
        self.segments.insert(next, segment);
        info!(
            "{}: rolled new segment at offset {next}",
            self.topic_partition
        );
        Ok(())
    }

    /// Whole batches from the one holding `offset`, at most `max_bytes`
    /// (unless `min_one` and the first batch is bigger), and none at or past
    /// `max_offset` (the high watermark for consumers; `None` for followers).
    /// An empty result at the log end; OFFSET_OUT_OF_RANGE outside the log.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: u64,
        max_offset: Option<i64>,
        min_one: bool,
    ) -> Result<Option<FileRange>> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: self.log_end_offset,
            });
        }
        let first = self.segments.range(..=offset).next_back().map(|(b, _)| *b);
        let mut bases = self
            .segments
            .range(first.unwrap_or(offset)..)
            .map(|(b, s)| (*b, s))
            .peekable();
        while let Some((_, segment)) = bases.next() {
            // A bound at or past the segment's end bounds nothing: skip the
            // segment's scan for it (with one replica the high watermark is
            // the log end, so consumers' fetches always take this path).
            let end = bases.peek().map_or(self.log_end_offset, |(b, _)| *b);
            let bound = max_offset.filter(|m| *m < end);
            if let Some(range) = segment.read(offset, max_bytes, bound, min_one)? {
                return Ok(Some(range));
            }
        }
        Ok(None)
    }

    /// The (offset, timestamp) of the first record whose timestamp is
    /// `>= timestamp`, at or after the log start (ListOffsets by time).
    /// Exact to the record even inside a compressed batch, as Kafka's
    /// `fetchOffsetByTimestamp`.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        for segment in self.segments.values() {
            if let Some(found) = segment.find_by_timestamp(timestamp, self.log_start_offset)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Applies retention: deletes whole segments wholly below the log start
    /// offset and, with `cleanup.policy` `delete`, past `retention.ms` or
    /// beyond `retention.bytes`; oldest first and never past the high
    /// watermark. Returns how many were deleted.
    pub fn delete_old_segments(&mut self, now_ms: i64) -> Result<usize> {
        let log_start = self.log_start_offset;
        let mut deleted = self.delete_segments_while(|seg, next_base| {
            next_base.is_some_and(|b| b <= log_start) && seg.base_offset() < log_start
        })?;
        if !self.config.cleanup_policy.delete {
            return Ok(deleted);
        }
        if let Some(ms) = self.config.retention_ms {
            let ms = i64::try_from(ms).unwrap_or(i64::MAX);
            deleted += self.delete_segments_while(|seg, _| {
                now_ms.saturating_sub(seg.largest_timestamp()) > ms
            })?;
        }
        if let Some(limit) = self.config.retention_bytes {
            let mut excess = self.size() as i64 - limit as i64;
            deleted += self.delete_segments_while(|seg, _| {
                let fits = excess - seg.size() as i64 >= 0;
                if fits {
                    excess -= seg.size() as i64;
                }
                fits
            })?;
        }
        Ok(deleted)
    }

    /// Deletes segments from the oldest while `pred(segment, next segment's
    /// base)` holds and the segment lies wholly below the high watermark.
    /// Deleting the active segment first rolls a new empty one; an empty
    /// active segment is never deleted (a cleaned segment may be empty).
    fn delete_segments_while(
        &mut self,
        mut pred: impl FnMut(&Segment, Option<i64>) -> bool,
    ) -> Result<usize> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let mut doomed = Vec::new();
        for (i, base) in bases.iter().enumerate() {
            let next = bases.get(i + 1).copied();
            let segment = &self.segments[base];
            let upper = next.unwrap_or(self.log_end_offset);
            let empty_active = next.is_none() && segment.is_empty();
            if upper > self.high_watermark || empty_active || !pred(segment, next) {
                break;
            }
            doomed.push(*base);
        }
        if doomed.len() == self.segments.len() {
            self.roll()?;
        }
        for base in &doomed {
            if let Some(segment) = self.segments.remove(base) {
                self.schedule_delete(segment, true)?;
            }
        }
        if !doomed.is_empty() {
            let first = self.first().base_offset();
            self.log_start_offset = self.log_start_offset.max(first);
            self.leader_epochs
                .truncate_from_start(self.log_start_offset)?;
            self.producers.truncate_head(self.log_start_offset);
        }
        Ok(doomed.len())
    }

    /// Renames the segment's files to `.deleted` and schedules them, and
    /// with `snapshot_too` the producer state snapshot at its base offset,
    /// for deletion after `file.delete.delay.ms` (Kafka's
    /// `deleteSegmentFiles`).
    fn schedule_delete(&mut self, segment: Segment, snapshot_too: bool) -> Result<()> {
        let base = segment.base_offset();
        info!("{}: deleting segment {base}", self.topic_partition);
        let mut paths = segment.rename_for_delete()?;
        if snapshot_too {
            paths.push(snapshot_file(&self.dir, base));
        }
        self.pending_deletes.push(PendingDelete {
            due_ms: self.clock.milliseconds().saturating_add(
                i64::try_from(self.config.file_delete_delay_ms).unwrap_or(i64::MAX),
            ),
            paths,
        });
        Ok(())
    }

    /// Unlinks `.deleted` files whose `file.delete.delay.ms` has passed (or
    /// all of them with `force`, e.g. on close).
    pub fn purge_deleted(&mut self, now_ms: i64, force: bool) {
        self.pending_deletes.retain(|p| {
            if !force && p.due_ms > now_ms {
                return true;
            }
            for path in &p.paths {
                match fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        warn!("could not delete {}: {e}", path.display());
                    }
                    _ => {}
                }
            }
            false
        });
    }

    /// DeleteRecords: moves the log start offset up to `offset` (which may
    /// not pass the high watermark) and deletes segments wholly below it.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64> {
        if offset > self.high_watermark || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: self.high_watermark,
            });
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            self.leader_epochs.truncate_from_start(offset)?;
            self.producers.truncate_head(offset);
            self.delete_old_segments(self.clock.milliseconds())?;
        }
        Ok(self.log_start_offset)
    }

    /// Removes everything from the batch holding `offset` on (a follower
    /// discarding a divergent tail). Returns the new log end offset.
    pub fn truncate_to(&mut self, offset: i64) -> Result<i64> {
        if offset >= self.log_end_offset {
            return Ok(self.log_end_offset);
        }
        if offset <= self.log_start_offset {
            self.truncate_fully_and_start_at(offset.max(0))?;
            return Ok(self.log_end_offset);
        }
        let doomed: Vec<i64> = self.segments.range(offset + 1..).map(|(b, _)| *b).collect();
        for base in doomed {
            if let Some(segment) = self.segments.remove(&base) {
                self.schedule_delete(segment, true)?;
            }
        }
        let active = self.active_mut();
        active.truncate_to(offset)?;
        // The surviving last segment may have been inactive (indexes trimmed).
        active.make_active()?;
        let end = active.next_offset()?;
        self.log_end_offset = end;
        self.recovery_point = self.recovery_point.min(end);
        self.high_watermark = self.high_watermark.min(end);
        self.leader_epochs.truncate_from_end(end)?;
        self.cleaner_checkpoint = self.cleaner_checkpoint.map(|c| c.min(end));
        // Batches of the removed tail may be among a producer's cached ones.
        self.rebuild_producer_state()?;
        // Kafka's `truncateAndReload`: snapshots past the new end go, and
        // one is taken at the end.
        let mut latest = self.log_start_offset;
        for snapshot in list_snapshots(&self.dir)? {
            if snapshot > end {
                delete_snapshot(&self.dir, snapshot)?;
            } else if snapshot > self.log_start_offset {
                latest = snapshot;
            }
        }
        self.last_snapshot_offset = latest;
        self.take_snapshot(end)?;
        Ok(end)
    }

    /// Deletes every segment and restarts the log, empty, at `offset`.
    ///
    /// The new segment is in place before any old one goes, so a failed
    /// delete leaves the log with its segments (never none).
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<()> {
        match self.segments.get_mut(&offset) {
            // Same file names: empty the segment in place.
            Some(segment) => {
                segment.truncate_to(offset)?;
                segment.make_active()?;
            }
            None => {
                let segment = Segment::create(&self.dir, offset, &self.config, &self.clock)?;
                self.segments.insert(offset, segment);
            }
        }
        let doomed: Vec<i64> = self
            .segments
            .keys()
            .copied()
            .filter(|b| *b != offset)
            .collect();
        for base in doomed {
            if let Some(segment) = self.segments.remove(&base) {
                self.schedule_delete(segment, true)?;
            }
        }
        self.log_start_offset = offset;
        self.log_end_offset = offset;
        self.high_watermark = offset;
        self.recovery_point = offset;
        self.cleaner_checkpoint = None;
        self.producers.clear();
        // Kafka's `ProducerStateManager.truncateFullyAndStartAt`.
        for snapshot in list_snapshots(&self.dir)? {
            delete_snapshot(&self.dir, snapshot)?;
        }
        self.last_snapshot_offset = 0;
        self.leader_epochs.clear()
    }

    /// Puts the segment the log cleaner wrote as `<base>.*.cleaned` in the
    /// place of `sources` (each segment's base offset and its
    /// [`as_range`](Segment::as_range) when cleaning started; the first base
    /// is the cleaned segment's), Kafka's `replaceSegments`.
    ///
    /// Returns `false`, and deletes the cleaned files, when one of the
    /// sources changed meanwhile (retention deleted it, truncation cut it,
    /// it became the active segment): the cleaned copy is then stale.
    ///
    /// Crash-safe by renames: the cleaned files become `.swap` (once the
    /// `.log` has, opening the log completes the swap), the old segments
    /// `.deleted`, and the `.swap` files lose their suffix. An I/O error
    /// part way leaves the swap for the next opening of the log to finish.
    pub fn replace_segments(&mut self, sources: &[(i64, FileRange)]) -> Result<bool> {
        let Some(&(base, _)) = sources.first() else {
            return Ok(false);
        };
        let active = self.active().base_offset();
        let unchanged = sources.iter().all(|(b, range)| {
            *b != active
                && self
                    .segments
                    .get(b)
                    .is_some_and(|s| s.is_unchanged_since(range))
        });
        if !unchanged {
            remove_segment_files(&self.dir, base, CLEANED_SUFFIX)?;
            return Ok(false);
        }
        change_file_suffixes(&self.dir, base, CLEANED_SUFFIX, SWAP_SUFFIX)?;
        sync_dir(&self.dir)?;
        for (b, _) in sources {
            if let Some(old) = self.segments.remove(b) {
                self.schedule_delete(old, *b != base)?;
            }
        }
        change_file_suffixes(&self.dir, base, SWAP_SUFFIX, "")?;
        sync_dir(&self.dir)?;
        let cleaned = Segment::open(&self.dir, base, &self.config, &self.clock)?;
        self.segments.insert(base, cleaned);
        Ok(true)
    }

    /// fsyncs every segment holding data past the recovery point and moves
    /// the recovery point to the log end.
    pub fn flush(&mut self) -> Result<()> {
        let from = self.recovery_point;
        let start = self
            .segments
            .range(..=from)
            .next_back()
            .map_or(from, |(b, _)| *b);
        for segment in self.segments.range(start..).map(|(_, s)| s) {
            segment.flush()?;
        }
        self.recovery_point = self.log_end_offset;
        self.unflushed_records = 0;
        self.last_flush_ms = self.clock.milliseconds();
        Ok(())
    }

    /// Flushes if `flush.ms` has passed since the last flush with data
    /// waiting (the background flusher's check).
    pub fn flush_if_due(&mut self, now_ms: i64) -> Result<bool> {
        let due = self.config.flush_ms.is_some_and(|ms| {
            now_ms.saturating_sub(self.last_flush_ms) >= i64::try_from(ms).unwrap_or(i64::MAX)
        });
        if due && self.recovery_point < self.log_end_offset {
            self.flush()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Flushes everything and trims the indexes so the next open needs no
    /// recovery.
    pub fn close(&mut self) -> Result<()> {
        self.flush()?;
        // Kafka's `Log.close`: a snapshot at the log end, so that a restart
        // need not rebuild the producer state from the log.
        self.take_snapshot(self.log_end_offset)?;
        for segment in self.segments.values_mut() {
            segment.close()?;
        }
        self.purge_deleted(self.clock.milliseconds(), true);
        Ok(())
    }

    /// Removes the partition's directory and everything in it.
    pub fn delete(mut self) -> Result<()> {
        self.purge_deleted(self.clock.milliseconds(), true);
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(&dir).map_err(LogError::io(dir))
    }
}

/// The batch bytes up to and including the partition leader epoch: the part
/// of a batch the leader rewrites.
const HEAD_LEN: usize = LEADER_EPOCH_AT + 4;

/// A batch's first `HEAD_LEN` bytes as the log stores them: the assigned base
/// offset, the batch length as sent, and the leader's epoch.
fn batch_head(base_offset: i64, batch: &[u8], leader_epoch: i32) -> [u8; HEAD_LEN] {
    let mut head = [0u8; HEAD_LEN];
    head[..8].copy_from_slice(&base_offset.to_be_bytes());
    head[8..LEADER_EPOCH_AT].copy_from_slice(&batch[8..LEADER_EPOCH_AT]);
    head[LEADER_EPOCH_AT..].copy_from_slice(&leader_epoch.to_be_bytes());
    head
}

/// `records` with each uncompressed CreateTime batch's max timestamp set
/// to its records' largest where it said otherwise (Kafka's leader sets it
/// so, rewriting the CRC: `LogValidator.assignOffsetsNonCompressed`);
/// `None` if a batch is malformed.
fn with_true_max_timestamps(records: &[u8]) -> Option<Vec<u8>> {
    let mut corrected = Vec::with_capacity(records.len());
    for batch in Batches::new(records) {
        let (header, bytes) = batch.ok()?;
        match create_time_max(bytes) {
            Some((max, _)) if max != header.max_timestamp => {
                corrected.extend_from_slice(&with_max_timestamp(bytes, max));
            }
            _ => corrected.extend_from_slice(bytes),
        }
    }
    Some(corrected)
}

/// Kafka's `LogValidator.validateKey`: every record of a compacted topic
/// needs a key, or the cleaner could never tell which records it replaces
/// (INVALID_RECORD).
fn check_keys(batch: &[u8]) -> Result<()> {
    let batch = Bytes::copy_from_slice(batch);
    for record in Records::new(&batch)? {
        if record?.key.is_none() {
            return Err(LogError::MissingKeyInCompactedTopic);
        }
    }
    Ok(())
}

/// fsyncs a directory, making the renames in it durable.
fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LogError::io(dir))
}

/// Lists segment base offsets from `*.log` names, as Kafka's
/// `Log.loadSegmentFiles` does: removes leftovers of interrupted operations
/// (`.deleted`, `.tmp`, a cleaning's `.cleaned`), completes interrupted
/// swaps of cleaned segments, and removes index files whose log is gone.
fn scan_segment_files(dir: &Path, config: &LogConfig, clock: &SharedClock) -> Result<Vec<i64>> {
    let mut bases = Vec::new();
    let mut swaps = Vec::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let path = entry.map_err(LogError::io(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(DELETED_SUFFIX)
            || name.ends_with(".tmp")
            || name.ends_with(CLEANED_SUFFIX)
        {
            fs::remove_file(&path).map_err(LogError::io(&path))?;
        } else if let Some(swapped) = name.strip_suffix(SWAP_SUFFIX) {
            match swapped.strip_suffix(LOG_SUFFIX) {
                Some(stem) => swaps.extend(parse_base(&path, stem)?),
                // A swapped index: rebuilt from the log when the swap completes.
                None => fs::remove_file(&path).map_err(LogError::io(&path))?,
            }
        } else if let Some(stem) = name.strip_suffix(LOG_SUFFIX) {
            if let Some(base) = parse_base(&path, stem)? {
                bases.push(base);
            }
        } else if let Some((stem, _)) = name
            .split_once('.')
            .filter(|(_, ext)| *ext == "index" || *ext == "timeindex")
        {
            if let Ok(base) = stem.parse::<i64>() {
                indexes.push((base, path.clone()));
            }
        }
    }
    swaps.sort_unstable();
    for &base in &swaps {
        complete_swap(dir, base, config, clock, &mut bases)?;
    }
    for (base, path) in indexes {
        // (The indexes of segments a swap replaced are gone already.)
        if !bases.contains(&base) && path.exists() {
            warn!("removing orphaned index {}", path.display());
            fs::remove_file(&path).map_err(LogError::io(&path))?;
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// The base offset of segment file `path` from its name's `stem` (`None`
/// if the stem is not a number: not a segment file).
fn parse_base(path: &Path, stem: &str) -> Result<Option<i64>> {
    match stem.parse::<i64>() {
        Ok(base) if base < 0 => Err(LogError::Corrupt {
            path: path.to_path_buf(),
            reason: "negative segment base offset".into(),
        }),
        Ok(base) => Ok(Some(base)),
        Err(_) => Ok(None),
    }
}

/// Finishes the swap of the cleaned segment `<base>.log.swap` (Kafka's
/// `completeSwapOperations`): it replaces every segment whose base offset
/// lies in the range of offsets it holds (the one at `base` at least), and
/// takes the plain name. Segments of the cleaned range past its last
/// record, if any survive, still hold valid (older) records: the log is
/// consistent either way, and the next cleaning removes them again.
///
/// Its indexes were deleted with the other `.swap` files: recovering the
/// segment validates it and rebuilds them.
fn complete_swap(
    dir: &Path,
    base: i64,
    config: &LogConfig,
    clock: &SharedClock,
    bases: &mut Vec<i64>,
) -> Result<()> {
    let mut swapped = Segment::open_with_suffix(dir, base, config, clock, SWAP_SUFFIX)?;
    swapped.recover()?;
    let end = swapped.next_offset()?.max(base + 1);
    swapped.close()?;
    drop(swapped);
    warn!(
        "{}: completing the interrupted swap of cleaned segment {base}",
        dir.display()
    );
    let mut kept = Vec::with_capacity(bases.len());
    for &old in bases.iter() {
        if (base..end).contains(&old) {
            remove_segment_files(dir, old, "")?;
        } else {
            kept.push(old);
        }
    }
    change_file_suffixes(dir, base, SWAP_SUFFIX, "")?;
    kept.push(base);
    *bases = kept;
    Ok(())
}

/// Recovers segments that need it: after an unclean shutdown those holding
/// offsets at or past the recovery point, and always those whose indexes are
/// not sane. A segment cut short by recovery ends the log: later segments are
/// deleted. Returns whether anything was recovered.
fn recover_segments(
    segments: &mut BTreeMap<i64, Segment>,
    tp: &TopicPartition,
    state: LoadState,
) -> Result<bool> {
    let bases: Vec<i64> = segments.keys().copied().collect();
    let mut recovered = false;
    let mut cut_at = None;
    for (i, base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied().unwrap_or(i64::MAX);
        let Some(segment) = segments.get_mut(base) else {
            continue;
        };
        let past_recovery_point = next_base > state.recovery_point;
        if (!state.clean_shutdown && past_recovery_point) || !segment.indexes_are_sane() {
            let truncated = segment.recover()?;
            recovered = true;
            if truncated > 0 {
                warn!("{tp}: recovery truncated {truncated} invalid bytes from segment {base}");
                cut_at = Some(i);
                break;
            }
        }
    }
    if let Some(i) = cut_at {
        for base in &bases[i + 1..] {
            if let Some(segment) = segments.remove(base) {
                warn!("{tp}: deleting segment {base} after a corrupt one");
                for path in segment.rename_for_delete()? {
                    fs::remove_file(&path).map_err(LogError::io(&path))?;
                }
            }
        }
    }
    Ok(recovered)
}
