//! One log segment (Kafka's `LogSegment`): a `.log` file of record batches
//! plus its sparse `.index` and `.timeindex`, all named by the segment's
//! 20-digit base offset.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, IoSlice, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use gregor_clock::SharedClock;
use gregor_record::{parse_batch, BatchHeader, Records, HEADER_LEN, LOG_OVERHEAD};

use super::config::LogConfig;
use super::error::{LogError, Result};
use super::index::{OffsetIndex, OffsetPosition, TimeIndex, TimestampOffset};

pub const LOG_SUFFIX: &str = ".log";
pub const INDEX_SUFFIX: &str = ".index";
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";
/// Appended to a segment's file names while it waits for
/// `file.delete.delay.ms` before being unlinked.
pub const DELETED_SUFFIX: &str = ".deleted";
/// Appended to the file names of a segment the log cleaner is writing; such
/// files are incomplete, and deleted when a log is opened.
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Appended to the file names of a cleaned segment about to replace the
/// segments it was cleaned from: once its `.log.swap` file exists, opening
/// the log completes the replacement (Kafka's `Log.SwapFileSuffix`).
pub const SWAP_SUFFIX: &str = ".swap";

/// Buffer for sequential scans during recovery.
const RECOVERY_READ_BUFFER: usize = 1 << 20;

/// `<dir>/<20-digit base offset><suffix>`, Kafka's file naming.
pub fn segment_file(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}{suffix}"))
}

/// A byte range of a segment file holding whole record batches, ready to be
/// written to a socket (with `sendfile`) without passing through user space.
#[derive(Debug, Clone)]
pub struct FileRange {
    pub file: Arc<File>,
    /// The segment file, for error messages.
    pub path: Arc<Path>,
    pub position: u64,
    pub len: u64,
}

impl FileRange {
    /// Reads the range into memory (for tests, followers, and non-zero-copy
    /// paths).
    pub fn read_to_vec(&self) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; self.len as usize];
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(buf)
    }
}

/// What the log tells a segment about each batch it appends.
#[derive(Debug, Clone, Copy)]
pub struct BatchMeta {
    pub last_offset: i64,
    pub max_timestamp: i64,
    /// Where the time index points for `max_timestamp`: the offset of the
    /// record holding it in an uncompressed batch a leader appends, the
    /// batch's last offset otherwise (Kafka's `offsetOfMaxTimestamp`).
    pub offset_of_max_timestamp: i64,
    pub size: u64,
}

pub struct Segment {
    base_offset: i64,
    dir: PathBuf,
    log_path: Arc<Path>,
    file: Arc<File>,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    index_interval_bytes: u64,
    /// `segment.index.bytes`: what the indexes are preallocated to.
    index_max_bytes: u64,
    bytes_since_last_index_entry: u64,
    /// Largest batch max timestamp in the segment, and the batch's last offset.
    max_timestamp: Option<(i64, i64)>,
    /// The clock `segment.ms` runs on (Kafka's `rollingBasedTimestamp`):
    /// the largest timestamp of the first append to the empty segment, or
    /// of its first batch once it is reopened as the active one.
    rolling_timestamp: Option<i64>,
    /// The log's clock: it dates the segment's creation, and a test moves
    /// it to roll the segment by `segment.ms` (Kafka's `LogSegment.time`).
    clock: SharedClock,
    /// The clock's ms when the segment was created or opened (or emptied):
    /// what `segment.ms` is measured from when its records carry no
    /// timestamps (Kafka's `created`).
    created_ms: i64,
    /// An index file did not exist when the segment was opened: its
    /// entries must be rebuilt from the log (Kafka's `sanityCheck` on a
    /// newly created index).
    indexes_missing: bool,
}

impl Segment {
    /// Creates a new, empty active segment, replacing any stale files of that
    /// name; `clock` dates its creation.
    pub fn create(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        clock: &SharedClock,
    ) -> Result<Segment> {
        Segment::create_with_suffix(dir, base_offset, config, clock, "")
    }

    /// Creates the empty segment the log cleaner writes a cleaned copy into:
    /// its files carry [`CLEANED_SUFFIX`] until it is swapped in.
    pub fn create_cleaned(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        clock: &SharedClock,
    ) -> Result<Segment> {
        Segment::create_with_suffix(dir, base_offset, config, clock, CLEANED_SUFFIX)
    }

    fn create_with_suffix(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        clock: &SharedClock,
        file_suffix: &str,
    ) -> Result<Segment> {
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = suffixed(&segment_file(dir, base_offset, suffix), file_suffix);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(LogError::io(path)(e))
                }
                _ => {}
            }
        }
        let mut segment = Segment::open_with_suffix(dir, base_offset, config, clock, file_suffix)?;
        segment.make_active()?;
        Ok(segment)
    }

    /// Opens an existing segment (or creates missing files). The indexes are
    /// taken as they are; call `indexes_are_sane` and `recover` as needed.
    /// The indexes keep their size on disk; `make_active` preallocates them.
    /// `clock` dates the opening, as the segment's creation.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        clock: &SharedClock,
    ) -> Result<Segment> {
        Segment::open_with_suffix(dir, base_offset, config, clock, "")
    }

    /// [`open`](Self::open) for files whose names end in `file_suffix`
    /// after the usual extension (`.log.swap`).
    pub fn open_with_suffix(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        clock: &SharedClock,
        file_suffix: &str,
    ) -> Result<Segment> {
        let path = |suffix| suffixed(&segment_file(dir, base_offset, suffix), file_suffix);
        let log_path = path(LOG_SUFFIX);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(LogError::io(&log_path))?;
        let size = file
            .seek(SeekFrom::End(0))
            .map_err(LogError::io(&log_path))?;
        let indexes_missing = !path(INDEX_SUFFIX).exists() || !path(TIME_INDEX_SUFFIX).exists();
        let offset_index = OffsetIndex::open(&path(INDEX_SUFFIX), 0)?;
        let time_index = TimeIndex::open(&path(TIME_INDEX_SUFFIX), 0)?;
        let max_timestamp = time_index
            .last()
            .map(|e| (e.timestamp, base_offset + i64::from(e.relative_offset)));
        Ok(Segment {
            base_offset,
            dir: dir.to_path_buf(),
            log_path: log_path.into(),
            file: Arc::new(file),
            size,
            offset_index,
            time_index,
            index_interval_bytes: config.index_interval_bytes,
            index_max_bytes: config.segment_index_bytes,
            bytes_since_last_index_entry: 0,
            max_timestamp,
            rolling_timestamp: None,
            created_ms: clock.milliseconds(),
            clock: Arc::clone(clock),
            indexes_missing,
        })
    }

    /// Preallocates the indexes so the segment can take appends, and reads
    /// the timestamp its `segment.ms` counts from off its first batch.
    pub fn make_active(&mut self) -> Result<()> {
        if self.rolling_timestamp.is_none() {
            // A corrupt first batch is recovery's business, not this one's.
            if let Ok(Some(first)) = self.header_at(0) {
                self.rolling_timestamp = Some(first.max_timestamp);
            }
        }
        self.offset_index.resize(self.index_max_bytes)?;
        self.time_index.resize(self.index_max_bytes)
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole `.log` file as a byte range: readers holding it keep
    /// reading this segment's bytes, without the log's lock, even after the
    /// segment is deleted or replaced (the log cleaner copies segments so).
    pub fn as_range(&self) -> FileRange {
        FileRange {
            file: Arc::clone(&self.file),
            path: Arc::clone(&self.log_path),
            position: 0,
            len: self.size,
        }
    }

    /// Whether `range` was taken from this segment as it is now (same file,
    /// same size): nothing was appended to or cut from it since.
    pub fn is_unchanged_since(&self, range: &FileRange) -> bool {
        Arc::ptr_eq(&self.file, &range.file) && self.size == range.len
    }

    /// The `.log` file's modification time: when the segment was last
    /// written. The log cleaner measures `delete.retention.ms` from it, as
    /// Kafka does with `LogSegment.lastModified`.
    pub fn last_modified(&self) -> Result<SystemTime> {
        self.file
            .metadata()
            .and_then(|m| m.modified())
            .map_err(LogError::io(&self.log_path))
    }

    /// Sets the `.log` file's modification time (a cleaned segment takes
    /// that of the segments it replaces).
    pub fn set_last_modified(&self, time: SystemTime) -> Result<()> {
        self.file
            .set_modified(time)
            .map_err(LogError::io(&self.log_path))
    }

    /// The largest timestamp in the segment (-1 when it has none).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp.map_or(-1, |(ts, _)| ts)
    }

    /// What `retention.ms` is measured against (Kafka's
    /// `LogSegment.largestTimestamp`): the largest timestamp, or, when the
    /// segment has none (records without timestamps, or a segment reopened
    /// whose time index has no entry, as one written before the final
    /// entry was kept on close), when its `.log` file was last written.
    /// `i64::MAX` (never expired) if even that cannot be read.
    pub fn largest_timestamp(&self) -> i64 {
        match self.max_timestamp {
            Some((ts, _)) if ts >= 0 => ts,
            _ => self
                .last_modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_millis()).ok())
                .unwrap_or(i64::MAX),
        }
    }

    /// The max timestamp of the segment's first batch, if it has one: how
    /// old its oldest data is, for `max.compaction.lag.ms` (Kafka's
    /// `getFirstBatchTimestamp`).
    pub fn first_batch_timestamp(&self) -> Result<Option<i64>> {
        Ok(self.header_at(0)?.map(|h| h.max_timestamp))
    }

    /// Whether the offset and time index entries are plausible for this
    /// segment (and there were index files to read them from, unless the
    /// segment is empty); if not, the segment must be recovered (indexes
    /// rebuilt).
    pub fn indexes_are_sane(&self) -> bool {
        let size = self.size;
        !(self.indexes_missing && size > 0)
            && self
                .offset_index
                .is_sane(|e| u64::from(e.position) < size.max(1))
            && self.time_index.is_sane(|_| true)
    }

    /// Writes batches (already given their offsets) at the end of the file in
    /// one vectored write, then indexes them, one entry per
    /// `index.interval.bytes` as Kafka does.
    pub fn append(
        &mut self,
        bufs: &mut [IoSlice<'_>],
        batches: impl IntoIterator<Item = BatchMeta>,
    ) -> Result<()> {
        write_all_vectored(&self.file, bufs).map_err(LogError::io(&self.log_path))?;
        // The first append to an empty segment starts its segment.ms clock
        // at its largest timestamp.
        let first_append = self.size == 0;
        if first_append {
            self.rolling_timestamp = None;
        }
        for batch in batches {
            if first_append {
                let ts = batch.max_timestamp;
                self.rolling_timestamp = Some(self.rolling_timestamp.map_or(ts, |t| t.max(ts)));
            }
            self.index_batch(self.size, &batch)?;
            self.size += batch.size;
        }
        Ok(())
    }

    /// Records one batch at `position` in the indexes and timestamp tracking.
    fn index_batch(&mut self, position: u64, batch: &BatchMeta) -> Result<()> {
        if self
            .max_timestamp
            .is_none_or(|(ts, _)| batch.max_timestamp > ts)
        {
            self.max_timestamp = Some((batch.max_timestamp, batch.offset_of_max_timestamp));
        }
        if self.bytes_since_last_index_entry > self.index_interval_bytes
            && !self.offset_index.is_full()
            && !self.time_index.is_full()
        {
            self.offset_index.append(OffsetPosition {
                relative_offset: self.relative(batch.last_offset),
                position: position as u32,
            })?;
            self.maybe_append_time_entry()?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += batch.size;
        Ok(())
    }

    /// Adds a time index entry for the newest max timestamp if it is newer
    /// than the last entry (time index keys strictly increase).
    fn maybe_append_time_entry(&mut self) -> Result<()> {
        let Some((ts, offset)) = self.max_timestamp else {
            return Ok(());
        };
        if self.time_index.last().is_none_or(|e| ts > e.timestamp) && !self.time_index.is_full() {
            self.time_index.append(TimestampOffset {
                timestamp: ts,
                relative_offset: self.relative(offset),
            })?;
        }
        Ok(())
    }

    fn relative(&self, offset: i64) -> u32 {
        (offset - self.base_offset) as u32
    }

    /// Whether appending `batch_size` bytes whose last offset is
    /// `last_offset` and largest timestamp `max_timestamp` needs a new
    /// segment first (Kafka's `shouldRoll`). `segment.ms` is measured on
    /// the records' timestamps: from the segment's first append to this
    /// one's, or on the log's clock from the segment's creation when its
    /// first append carried no timestamp (Kafka's `timeWaitedForRoll`).
    pub fn should_roll(
        &self,
        batch_size: u64,
        last_offset: i64,
        max_timestamp: i64,
        now_ms: i64,
        config: &LogConfig,
    ) -> bool {
        self.should_roll_after(
            0,
            None,
            batch_size,
            last_offset,
            max_timestamp,
            now_ms,
            config,
        )
    }

    /// [`should_roll`](Self::should_roll) for a batch that will follow
    /// `pending` bytes not written yet (the batches before it in one
    /// write), the first of which has the largest timestamp `pending_first`.
    #[allow(clippy::too_many_arguments)]
    pub fn should_roll_after(
        &self,
        pending: u64,
        pending_first: Option<i64>,
        batch_size: u64,
        last_offset: i64,
        max_timestamp: i64,
        now_ms: i64,
        config: &LogConfig,
    ) -> bool {
        let size = self.size + pending;
        let full = size > 0 && size + batch_size > config.segment_bytes;
        let rolling = if self.size == 0 {
            pending_first
        } else {
            self.rolling_timestamp
        };
        let waited = match rolling {
            Some(t) if t >= 0 => max_timestamp.saturating_sub(t),
            _ => now_ms.saturating_sub(self.created_ms),
        };
        let old = size > 0 && waited > i64::try_from(config.max_segment_ms()).unwrap_or(i64::MAX);
        let index_full = self.offset_index.is_full() || self.time_index.is_full();
        let offset_overflow = last_offset - self.base_offset > i64::from(i32::MAX);
        full || old || index_full || offset_overflow
    }

    /// Reads the header of the batch at `position`, if a whole header fits
    /// before the end of the segment.
    fn header_at(&self, position: u64) -> Result<Option<BatchHeader>> {
        if position + HEADER_LEN as u64 > self.size {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_LEN];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(LogError::io(&self.log_path))?;
        let h = BatchHeader::parse(&buf)?;
        if !offsets_fit(&h) {
            return Err(LogError::Corrupt {
                path: self.log_path.to_path_buf(),
                reason: format!("batch at {position} has offsets past the largest offset"),
            });
        }
        Ok(Some(h))
    }

    /// Walks batch headers from `position` and returns the first (position,
    /// header) for which `stop` holds.
    fn scan_from(
        &self,
        position: u64,
        mut stop: impl FnMut(u64, &BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>> {
        self.find_map_from(position, |p, h| Ok(stop(p, h).then_some((p, *h))))
    }

    /// Walks batch headers from `position` and returns the first `Some`
    /// that `f` gives (which may read the batch itself).
    fn find_map_from<T>(
        &self,
        mut position: u64,
        mut f: impl FnMut(u64, &BatchHeader) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        while let Some(h) = self.header_at(position)? {
            if let Some(found) = f(position, &h)? {
                return Ok(Some(found));
            }
            position += h.total_size() as u64;
        }
        Ok(None)
    }

    /// Reads the whole batch at `position` whose header is `h`.
    fn batch_at(&self, position: u64, h: &BatchHeader) -> Result<Bytes> {
        let size = h.total_size() as u64;
        if position + size > self.size {
            return Err(LogError::Corrupt {
                path: self.log_path.to_path_buf(),
                reason: format!("batch at {position} runs past the end of the segment"),
            });
        }
        let mut buf = vec![0u8; size as usize];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(LogError::io(&self.log_path))?;
        Ok(Bytes::from(buf))
    }

    /// Calls `f` with every batch header in the segment, in order (headers
    /// only: the records are not read).
    pub fn for_each_header(&self, mut f: impl FnMut(&BatchHeader)) -> Result<()> {
        self.scan_from(0, |_, h| {
            f(h);
            false
        })?;
        Ok(())
    }

    /// Position of the index entry at or before `offset`: where a scan for the
    /// batch holding `offset` starts.
    fn scan_start(&self, offset: i64) -> u64 {
        if offset <= self.base_offset {
            return 0;
        }
        let relative = (offset - self.base_offset).min(i64::from(u32::MAX));
        self.offset_index
            .floor(relative)
            .map_or(0, |e| u64::from(e.position))
    }

    /// The batch containing `offset` (or the first batch after it): index
    /// lookup plus a short scan, Kafka's `translateOffset`.
    pub fn translate_offset(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>> {
        self.scan_from(self.scan_start(offset), |_, h| h.last_offset() >= offset)
    }

    /// Whole batches starting at the one that holds `offset`: at most
    /// `max_bytes` unless `min_one` and the first batch alone is larger, and
    /// only batches ending before `max_offset` (exclusive; e.g. the high
    /// watermark). `None` when the segment has nothing at or after `offset`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: u64,
        max_offset: Option<i64>,
        min_one: bool,
    ) -> Result<Option<FileRange>> {
        let Some((start, first)) = self.translate_offset(offset)? else {
            return Ok(None);
        };
        let bound = match max_offset {
            Some(m) if first.base_offset >= m => start,
            Some(m) => self.translate_offset(m)?.map_or(self.size, |(p, _)| p),
            None => self.size,
        };
        let limit = start.saturating_add(max_bytes);
        let end = if limit >= bound {
            bound
        } else {
            // Whole batches only: jump to the last indexed batch start before
            // the limit, then walk forward to the last batch that fits.
            let from = self
                .offset_index
                .floor_by(|e| u64::from(e.position) <= limit)
                .map_or(start, |e| u64::from(e.position).max(start));
            self.scan_from(from, |p, h| p + h.total_size() as u64 > limit)?
                .map_or(self.size, |(p, _)| p)
        };
        let first_end = start + first.total_size() as u64;
        let end = if end == start && min_one && first_end <= bound {
            first_end
        } else {
            end
        };
        Ok(Some(FileRange {
            file: Arc::clone(&self.file),
            path: Arc::clone(&self.log_path),
            position: start,
            len: end - start,
        }))
    }

    /// The (offset, timestamp) of the first record with a timestamp
    /// `>= timestamp` and an offset `>= starting_offset` (the log start):
    /// Kafka's `findOffsetByTimestamp`. The time index and offset index give
    /// where to start; batch headers (max timestamp) say which batch to
    /// open; the batch's records, decompressed if need be, give the record.
    pub fn find_by_timestamp(
        &self,
        timestamp: i64,
        starting_offset: i64,
    ) -> Result<Option<(i64, i64)>> {
        if self.max_timestamp() < timestamp {
            return Ok(None);
        }
        let from_index = self
            .time_index
            .floor(timestamp)
            .map_or(self.base_offset, |e| {
                self.base_offset + i64::from(e.relative_offset)
            });
        let from = self.scan_start(from_index.max(starting_offset));
        self.find_map_from(from, |position, h| {
            if h.max_timestamp < timestamp || h.last_offset() < starting_offset {
                return Ok(None);
            }
            let batch = self.batch_at(position, h)?;
            for record in Records::new(&batch)? {
                let record = record?;
                if record.timestamp >= timestamp && record.offset >= starting_offset {
                    return Ok(Some((record.offset, record.timestamp)));
                }
            }
            Ok(None)
        })
    }

    /// The offset after the last batch (the segment's base offset when empty).
    pub fn next_offset(&self) -> Result<i64> {
        let from = self
            .offset_index
            .last()
            .map_or(0, |e| u64::from(e.position));
        let mut next = self.base_offset;
        self.scan_from(from, |_, h| {
            next = h.last_offset() + 1;
            false
        })
        .map(|_| ())?;
        Ok(next)
    }

    /// Re-reads the whole segment, validating every batch (length, magic,
    /// CRC, offsets increasing), rebuilds both indexes, and truncates the file
    /// at the first invalid or torn batch. Returns the bytes cut off.
    pub fn recover(&mut self) -> Result<u64> {
        self.indexes_missing = false;
        self.offset_index.clear();
        self.time_index.clear();
        self.make_active()?;
        self.max_timestamp = None;
        self.bytes_since_last_index_entry = 0;
        let log_path = self.log_path.clone();
        let file = Arc::clone(&self.file);
        let mut reader = BufReader::with_capacity(RECOVERY_READ_BUFFER, &*file);
        reader
            .seek(SeekFrom::Start(0))
            .map_err(LogError::io(&log_path))?;
        let mut valid = 0u64;
        let mut next_offset = self.base_offset;
        let mut batch = Vec::new();
        loop {
            let remaining = self.size - valid;
            if remaining < LOG_OVERHEAD as u64 {
                break;
            }
            batch.resize(LOG_OVERHEAD, 0);
            reader
                .read_exact(&mut batch)
                .map_err(LogError::io(&log_path))?;
            let length = i32::from_be_bytes([batch[8], batch[9], batch[10], batch[11]]);
            let total = LOG_OVERHEAD as u64 + u64::from(length.max(0) as u32);
            if length < 0 || total > remaining {
                break;
            }
            batch.resize(total as usize, 0);
            reader
                .read_exact(&mut batch[LOG_OVERHEAD..])
                .map_err(LogError::io(&log_path))?;
            let Ok((h, _)) = parse_batch(&batch) else {
                break;
            };
            if h.base_offset < next_offset
                || h.last_offset_delta < 0
                || !offsets_fit(&h)
                || h.last_offset() - self.base_offset > i64::from(i32::MAX)
            {
                break;
            }
            let meta = BatchMeta {
                last_offset: h.last_offset(),
                max_timestamp: h.max_timestamp,
                offset_of_max_timestamp: h.last_offset(),
                size: total,
            };
            self.index_batch(valid, &meta)?;
            next_offset = h.last_offset() + 1;
            valid += total;
        }
        let truncated = self.size - valid;
        if truncated > 0 {
            self.truncate_file(valid)?;
        }
        self.on_become_inactive()?;
        Ok(truncated)
    }

    /// Removes every batch from the one containing `offset` on (Kafka's
    /// `LogSegment.truncateTo`). Returns the bytes removed.
    pub fn truncate_to(&mut self, offset: i64) -> Result<u64> {
        let Some((position, _)) = self.translate_offset(offset)? else {
            return Ok(0);
        };
        let relative = offset - self.base_offset;
        self.offset_index.truncate_from(relative);
        let removed = self.size - position;
        self.truncate_file(position)?;
        // Entries now past the end of the file point at removed batches.
        let size = self.size;
        self.offset_index
            .pop_while(|e| u64::from(e.position) >= size);
        let next_relative = self.next_offset()? - self.base_offset;
        self.time_index
            .pop_while(|e| i64::from(e.relative_offset) >= next_relative);
        self.max_timestamp = self
            .time_index
            .last()
            .map(|e| (e.timestamp, self.base_offset + i64::from(e.relative_offset)));
        self.bytes_since_last_index_entry = 0;
        if self.size == 0 {
            self.created_ms = self.clock.milliseconds();
            self.rolling_timestamp = None;
        }
        Ok(removed)
    }

    fn truncate_file(&mut self, size: u64) -> Result<()> {
        self.file
            .set_len(size)
            .map_err(LogError::io(&self.log_path))?;
        (&*self.file)
            .seek(SeekFrom::Start(size))
            .map_err(LogError::io(&self.log_path))?;
        self.size = size;
        Ok(())
    }

    /// fsyncs the log file and the index mappings.
    pub fn flush(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(LogError::io(&self.log_path))?;
        self.offset_index.flush()?;
        self.time_index.flush()
    }

    /// Called when the segment stops being the active one: record the final
    /// max timestamp and give the preallocated index space back.
    pub fn on_become_inactive(&mut self) -> Result<()> {
        self.maybe_append_time_entry()?;
        self.offset_index.trim()?;
        self.time_index.trim()
    }

    /// Records the final max timestamp in the time index (so that a reopened
    /// segment knows it, as Kafka's `LogSegment.close` does), flushes and
    /// trims; the segment can be reopened without recovery.
    pub fn close(&mut self) -> Result<()> {
        self.maybe_append_time_entry()?;
        self.flush()?;
        self.offset_index.close()?;
        self.time_index.close()
    }

    /// Renames the segment's files to `*.deleted` (Kafka's async delete: the
    /// files vanish from the log at once, open readers keep working) and
    /// returns the new paths, to unlink after `file.delete.delay.ms`.
    pub fn rename_for_delete(self) -> Result<Vec<PathBuf>> {
        change_file_suffixes(&self.dir, self.base_offset, "", DELETED_SUFFIX)
    }
}

/// `path` with `suffix` appended to its file name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Deletes the files of segment `base_offset` whose names end in `suffix`
/// after the usual extensions (missing ones are fine).
pub fn remove_segment_files(dir: &Path, base_offset: i64, suffix: &str) -> Result<()> {
    for extension in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX] {
        let path = suffixed(&segment_file(dir, base_offset, extension), suffix);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(LogError::io(path)(e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Renames the files of segment `base_offset` from names ending in `from`
/// to names ending in `to` (after the usual extensions), the `.log` file
/// first, as Kafka's `LogSegment.changeFileSuffixes`: the `.log` file's
/// name is what says which state the segment is in after a crash part way,
/// and indexes left behind are deleted or rebuilt when the log is opened.
/// Missing files are skipped. Returns the new paths.
pub fn change_file_suffixes(
    dir: &Path,
    base_offset: i64,
    from: &str,
    to: &str,
) -> Result<Vec<PathBuf>> {
    let mut renamed = Vec::with_capacity(3);
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        let plain = segment_file(dir, base_offset, suffix);
        let (source, target) = (suffixed(&plain, from), suffixed(&plain, to));
        match fs::rename(&source, &target) {
            Ok(()) => renamed.push(target),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LogError::io(source)(e)),
        }
    }
    Ok(renamed)
}

/// Whether the batch's last offset, and the offset after it, are `i64`s
/// (the base offset is not covered by the CRC: a damaged one may be huge).
fn offsets_fit(h: &BatchHeader) -> bool {
    h.base_offset
        .checked_add(i64::from(h.last_offset_delta) + 1)
        .is_some()
}

/// `write_all` for a list of buffers: one `writev` in the common case.
fn write_all_vectored(mut file: &File, mut bufs: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
