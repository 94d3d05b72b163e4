//! Behaviour of the log cleaner on real partition logs in temp dirs.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::*;
use crate::checkpoint::CLEANER_CHECKPOINT;
use crate::partition_log::{LoadState, PartitionLog};
use crate::segment::{segment_file, INDEX_SUFFIX, LOG_SUFFIX, SWAP_SUFFIX, TIME_INDEX_SUFFIX};
use crate::{CleanupPolicy, LogManagerConfig};
use gregor_clock::{Clock, ManualClock, SystemClock};
use gregor_protocol::TopicPartition;
use gregor_record::Batches;

const T0: i64 = 1_700_000_000_000;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 200,
        index_interval_bytes: 0,
        segment_index_bytes: 4096,
        file_delete_delay_ms: 0,
        cleanup_policy: CleanupPolicy::COMPACT,
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    }
}

fn partition_dir(root: &Path) -> PathBuf {
    root.join("compacted-0")
}

fn open_log(root: &Path, config: LogConfig) -> SharedLog {
    let log = PartitionLog::open(
        &partition_dir(root),
        config,
        LoadState::default(),
        ManualClock::new(T0),
    )
    .unwrap();
    Arc::new(Mutex::new(log))
}

/// One record: a key and a value (`None`: a tombstone).
type Kv<'a> = (&'a str, Option<&'a str>);

/// Appends one batch of `records` (values padded to 100 bytes, so that a
/// segment of [`config`] holds one batch of one record) and commits it.
fn put_batch(log: &SharedLog, records: &[Kv<'_>], compression: Compression) -> i64 {
    let padded: Vec<Option<String>> = records
        .iter()
        .map(|(_, v)| v.map(|v| format!("{v:<100}")))
        .collect();
    let now = SystemClock.milliseconds();
    let mut batch = RecordBatchBuilder::new(now).compression(compression);
    for ((key, _), value) in records.iter().zip(&padded) {
        batch.append(Record::new(
            now,
            Some(key.as_bytes()),
            value.as_deref().map(str::as_bytes),
        ));
    }
    let mut log = lock(log);
    let info = log
        .append_as_leader(&batch.build(), 0, SystemClock.milliseconds())
        .unwrap();
    let end = log.log_end_offset();
    log.set_high_watermark(end);
    info.first_offset
}

fn put(log: &SharedLog, key: &str, value: Option<&str>) -> i64 {
    put_batch(log, &[(key, value)], Compression::None)
}

fn roll(log: &SharedLog) {
    lock(log).roll().unwrap();
}

/// Every record of the log: (offset, key, value without its padding).
fn records(log: &SharedLog) -> Vec<(i64, String, Option<String>)> {
    let log = lock(log);
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let Some(range) = log.read(offset, u64::MAX, None, true).unwrap() else {
            break;
        };
        let bytes = range.read_to_vec().unwrap();
        for batch in Batches::new(&bytes) {
            let (header, batch) = batch.unwrap();
            for record in Records::new(&Bytes::copy_from_slice(batch)).unwrap() {
                let record = record.unwrap();
                let text = |b: &Bytes| String::from_utf8_lossy(b).trim_end().to_owned();
                let key = record.key.as_ref().map(text).unwrap_or_default();
                out.push((record.offset, key, record.value.as_ref().map(text)));
            }
            offset = header.last_offset() + 1;
        }
    }
    out
}

fn record(offset: i64, key: &str, value: Option<&str>) -> (i64, String, Option<String>) {
    (offset, key.to_owned(), value.map(str::to_owned))
}

fn cleaner_config() -> CleanerConfig {
    CleanerConfig {
        io_buffer_size: 64,
        ..CleanerConfig::default()
    }
}

/// Cleans `log` once with `config`; the log must be cleanable.
fn clean_with(log: &SharedLog, config: &CleanerConfig) -> Result<CleanOutcome> {
    let stop = StopSignal::default();
    let to_clean = LogToClean::of(
        TopicPartition::new("compacted", 0),
        log,
        SystemClock.milliseconds(),
    )
    .unwrap()
    .expect("a compacted log with data");
    Cleaner::new(config, &stop, &LogCleanerManager::default()).clean(&to_clean)
}

fn clean(log: &SharedLog) -> i64 {
    match clean_with(log, &cleaner_config()).unwrap() {
        CleanOutcome::Cleaned { end_offset } => end_offset,
        CleanOutcome::Aborted => panic!("cleaning aborted"),
    }
}

fn set_mtime(root: &Path, base: i64, time: SystemTime) {
    let path = segment_file(&partition_dir(root), base, LOG_SUFFIX);
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

/// The base offset of the segment holding `offset`.
fn segment_of(log: &SharedLog, offset: i64) -> i64 {
    let log = lock(log);
    log.segment_base_offsets()
        .into_iter()
        .take_while(|b| *b <= offset)
        .last()
        .unwrap()
}

#[test]
fn only_the_newest_value_of_each_key_survives_at_its_original_offset() {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(root.path(), config());
    for round in 0..3 {
        for key in ["a", "b", "c"] {
            put(&log, key, Some(&format!("{key}{round}")));
        }
    }
    put(&log, "d", Some("d0"));
    roll(&log);
    assert_eq!(clean(&log), 10);
    let newest = [
        record(6, "a", Some("a2")),
        record(7, "b", Some("b2")),
        record(8, "c", Some("c2")),
        record(9, "d", Some("d0")),
    ];
    assert_eq!(records(&log), newest);
    {
        let log = lock(&log);
        assert_eq!(log.cleaner_checkpoint(), Some(10));
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 10));
    }
    // The next cleaning merges the emptied segments into the first one that
    // is not: fewer segments, the same records.
    put(&log, "b", Some("b3"));
    roll(&log);
    let segments_before = lock(&log).segment_count();
    assert_eq!(clean(&log), 11);
    assert_eq!(
        records(&log),
        [
            record(6, "a", Some("a2")),
            record(8, "c", Some("c2")),
            record(9, "d", Some("d0")),
            record(10, "b", Some("b3")),
        ]
    );
    let log = lock(&log);
    assert!(log.segment_count() < segments_before, "{segments_before}");
    assert_eq!(log.segment_base_offsets()[0], 0);
}

#[test]
fn records_of_several_keys_in_one_batch_are_cleaned_one_by_one() {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(
        root.path(),
        LogConfig {
            segment_bytes: 1 << 20,
            ..config()
        },
    );
    put_batch(
        &log,
        &[("a", Some("1")), ("b", Some("1")), ("a", Some("2"))],
        Compression::None,
    );
    put_batch(
        &log,
        &[("b", Some("2")), ("c", Some("1"))],
        Compression::None,
    );
    roll(&log);
    put(&log, "a", Some("3"));
    clean(&log);
    // The active segment's a=3 is not mapped: a=2 stays.
    assert_eq!(
        records(&log),
        [
            record(2, "a", Some("2")),
            record(3, "b", Some("2")),
            record(4, "c", Some("1")),
            record(5, "a", Some("3")),
        ]
    );
}

#[test]
fn compressed_batches_are_rebuilt_with_their_codec_and_offsets() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let root = tempfile::tempdir().unwrap();
        let log = open_log(
            root.path(),
            LogConfig {
                segment_bytes: 1 << 20,
                ..config()
            },
        );
        put_batch(
            &log,
            &[("a", Some("1")), ("b", Some("1")), ("c", Some("1"))],
            codec,
        );
        put_batch(&log, &[("b", Some("2")), ("d", Some("1"))], codec);
        roll(&log);
        clean(&log);
        assert_eq!(
            records(&log),
            [
                record(0, "a", Some("1")),
                record(2, "c", Some("1")),
                record(3, "b", Some("2")),
                record(4, "d", Some("1")),
            ],
            "{codec:?}"
        );
        let log = lock(&log);
        let bytes = log.read(0, u64::MAX, None, true).unwrap().unwrap();
        let bytes = bytes.read_to_vec().unwrap();
        let headers: Vec<BatchHeader> = Batches::new(&bytes).map(|b| b.unwrap().0).collect();
        // The first batch lost its middle record but keeps its offsets.
        assert_eq!(
            (
                headers[0].base_offset,
                headers[0].last_offset_delta,
                headers[0].record_count
            ),
            (0, 2, 2),
            "{codec:?}"
        );
        assert!(headers.iter().all(|h| h.compression() == codec.id()));
    }
}

#[test]
fn the_active_segment_and_what_consumers_cannot_see_are_not_touched() {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(root.path(), config());
    // One record per segment; the third one is the active segment.
    put(&log, "a", Some("1"));
    put(&log, "a", Some("2"));
    put(&log, "a", Some("3"));
    let all = [
        record(0, "a", Some("1")),
        record(1, "a", Some("2")),
        record(2, "a", Some("3")),
    ];
    // The high watermark at 1: segment 1 is not committed whole.
    lock(&log).set_high_watermark(1);
    assert_eq!(clean(&log), 1);
    assert_eq!(records(&log), all);
    // Committed: segment 1 is cleaned, the active segment is neither
    // mapped (its a=3 does not replace a=2) nor rewritten.
    lock(&log).set_high_watermark(3);
    let active_file = {
        let log = lock(&log);
        let active = *log.segment_base_offsets().last().unwrap();
        segment_file(log.dir(), active, LOG_SUFFIX)
    };
    let active_before = fs::read(&active_file).unwrap();
    assert_eq!(clean(&log), 2);
    assert_eq!(records(&log), all[1..]);
    assert_eq!(fs::read(&active_file).unwrap(), active_before);
}

#[test]
fn tombstones_go_only_once_delete_retention_ms_has_passed() {
    let root = tempfile::tempdir().unwrap();
    let retention = Duration::from_secs(60);
    let log = open_log(
        root.path(),
        LogConfig {
            delete_retention_ms: retention.as_millis() as u64,
            ..config()
        },
    );
    put(&log, "a", Some("1"));
    put(&log, "b", Some("1"));
    let tombstone = put(&log, "a", None);
    put(&log, "c", Some("1"));
    roll(&log);
    // First cleaning: nothing is clean yet, every tombstone stays.
    clean(&log);
    let with_tombstone = [
        record(1, "b", Some("1")),
        record(2, "a", None),
        record(3, "c", Some("1")),
    ];
    assert_eq!(records(&log), with_tombstone);

    // Written less than delete.retention.ms before the newest clean
    // segment: still there.
    put(&log, "d", Some("1"));
    roll(&log);
    let now = SystemTime::now();
    let tombstone_segment = segment_of(&log, tombstone);
    assert_ne!(tombstone_segment, segment_of(&log, 3));
    set_mtime(root.path(), tombstone_segment, now - retention / 2);
    clean(&log);
    assert!(records(&log).contains(&record(2, "a", None)));

    // Written more than delete.retention.ms before: gone.
    put(&log, "e", Some("1"));
    roll(&log);
    set_mtime(
        root.path(),
        segment_of(&log, tombstone),
        now - retention * 2,
    );
    clean(&log);
    assert_eq!(
        records(&log),
        [
            record(1, "b", Some("1")),
            record(3, "c", Some("1")),
            record(4, "d", Some("1")),
            record(5, "e", Some("1")),
        ]
    );
}

#[test]
fn a_small_dedupe_buffer_cleans_in_several_passes() {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(root.path(), config());
    for round in 0..2 {
        for key in ["a", "b", "c", "d", "e", "f"] {
            put(&log, key, Some(&format!("{key}{round}")));
        }
    }
    roll(&log);
    // Room for two keys of one byte per thread.
    let small = CleanerConfig {
        dedupe_buffer_size: 2 * (offset_map::ENTRY_OVERHEAD as u64 + 1),
        ..cleaner_config()
    };
    let mut ends = Vec::new();
    loop {
        match clean_with(&log, &small).unwrap() {
            CleanOutcome::Cleaned { end_offset } => ends.push(end_offset),
            CleanOutcome::Aborted => panic!("aborted"),
        }
        if ends.last() == Some(&12) {
            break;
        }
        assert!(ends.len() < 12, "no progress: {ends:?}");
    }
    assert!(
        ends.len() > 1 && ends.windows(2).all(|w| w[0] < w[1]),
        "{ends:?}"
    );
    let keys: Vec<(i64, String)> = records(&log).into_iter().map(|(o, k, _)| (o, k)).collect();
    assert_eq!(
        keys,
        ["a", "b", "c", "d", "e", "f"]
            .iter()
            .enumerate()
            .map(|(i, k)| (6 + i as i64, k.to_string()))
            .collect::<Vec<_>>()
    );
    // No room for a single key: an error, not a loop.
    let none = CleanerConfig {
        dedupe_buffer_size: 0,
        ..cleaner_config()
    };
    put(&log, "g", Some("1"));
    roll(&log);
    assert!(matches!(
        clean_with(&log, &none),
        Err(CleanerError::DedupeBufferTooSmall { offset: 12, .. })
    ));
}

#[test]
fn an_idempotent_producers_last_batch_stays_empty_and_its_state_survives_a_reload() {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(root.path(), config());
    let mut batch = RecordBatchBuilder::new(T0).producer(7, 0, 0);
    batch.append(Record::new(
        T0,
        Some(b"a".as_slice()),
        Some(b"1".as_slice()),
    ));
    batch.append(Record::new(
        T0,
        Some(b"b".as_slice()),
        Some(b"1".as_slice()),
    ));
    lock(&log).append_as_leader(&batch.build(), 0, T0).unwrap();
    put(&log, "a", Some("2"));
    put(&log, "b", Some("2"));
    roll(&log);
    clean(&log);
    assert_eq!(
        records(&log),
        [record(2, "a", Some("2")), record(3, "b", Some("2"))]
    );
    let header = {
        let log = lock(&log);
        let bytes = log.read(0, u64::MAX, None, true).unwrap().unwrap();
        let bytes = bytes.read_to_vec().unwrap();
        Batches::new(&bytes).next().unwrap().unwrap().0
    };
    assert_eq!(
        (
            header.base_offset,
            header.last_offset_delta,
            header.record_count,
            header.producer_id
        ),
        (0, 1, 0, 7)
    );
    lock(&log).close().unwrap();
    drop(log);
    let log = open_log(root.path(), config());
    assert_eq!(lock(&log).producer_state().last_sequence(7), Some((0, 1)));
}

/// A file's name and content.
type NamedFile = (String, Vec<u8>);

/// The state of `root` just before a cleaning swaps its result in, and the
/// files the swap would have put in place (under their plain names).
struct InterruptedSwap {
    before: tempfile::TempDir,
    cleaned: Vec<NamedFile>,
    expected: Vec<(i64, String, Option<String>)>,
}

/// Cleans a log of four one-record segments (0 to 3) into one, keeping a
/// copy of the directory from before the cleaning.
fn interrupted_swap() -> InterruptedSwap {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(
        root.path(),
        LogConfig {
            segment_bytes: 1 << 20,
            ..config()
        },
    );
    for (key, value) in [("a", "1"), ("b", "1"), ("a", "2"), ("b", "2")] {
        put(&log, key, Some(value));
        roll(&log);
    }
    let before = tempfile::tempdir().unwrap();
    copy_dir(&partition_dir(root.path()), &partition_dir(before.path()));
    clean(&log);
    let expected = records(&log);
    let dir = partition_dir(root.path());
    let cleaned = [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]
        .iter()
        .map(|suffix| {
            let path = segment_file(&dir, 0, suffix);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect();
    InterruptedSwap {
        before,
        cleaned,
        expected,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_crash_before_the_swap_leaves_the_log_as_it_was() {
    let swap = interrupted_swap();
    let dir = partition_dir(swap.before.path());
    let unchanged = records(&open_log(swap.before.path(), config()));
    assert_eq!(unchanged.len(), 4);
    for (name, bytes) in &swap.cleaned {
        fs::write(dir.join(format!("{name}.cleaned")), bytes).unwrap();
    }
    let log = open_log(swap.before.path(), config());
    assert_eq!(records(&log), unchanged);
    assert!(file_names(&dir)
        .iter()
        .all(|n| !n.ends_with(".cleaned") && !n.ends_with(SWAP_SUFFIX)));
}

/// The base offset of a file of the segments the swap replaces (0 to 3).
fn source_base(name: &str) -> Option<i64> {
    let base: i64 = name.split('.').next()?.parse().ok()?;
    (base < 4).then_some(base)
}

/// Writes the cleaned files as `.swap` files.
fn write_swap_files(dir: &Path, cleaned: &[NamedFile]) {
    for (name, bytes) in cleaned {
        fs::write(dir.join(format!("{name}{SWAP_SUFFIX}")), bytes).unwrap();
    }
}

/// A crash right after the cleaned files became `.swap`.
fn crash_after_swap_rename(dir: &Path, cleaned: &[NamedFile]) {
    write_swap_files(dir, cleaned);
}

/// A crash after the first old segments were renamed `.deleted`.
fn crash_while_deleting_old_segments(dir: &Path, cleaned: &[NamedFile]) {
    for name in file_names(dir) {
        if source_base(&name).is_some_and(|base| base < 2) {
            fs::rename(dir.join(&name), dir.join(format!("{name}.deleted"))).unwrap();
        }
    }
    write_swap_files(dir, cleaned);
}

/// A crash when the old segments were gone and the log had its plain name
/// already, the indexes not yet.
fn crash_before_the_indexes_lost_their_swap_suffix(dir: &Path, cleaned: &[NamedFile]) {
    for name in file_names(dir) {
        if source_base(&name).is_some() {
            fs::remove_file(dir.join(name)).unwrap();
        }
    }
    for (name, bytes) in cleaned {
        let name = match name.ends_with(LOG_SUFFIX) {
            true => name.clone(),
            false => format!("{name}{SWAP_SUFFIX}"),
        };
        fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn a_crash_during_the_swap_completes_it_on_open() {
    let steps: [fn(&Path, &[NamedFile]); 3] = [
        crash_after_swap_rename,
        crash_while_deleting_old_segments,
        crash_before_the_indexes_lost_their_swap_suffix,
    ];
    for (i, step) in steps.iter().enumerate() {
        let swap = interrupted_swap();
        let dir = partition_dir(swap.before.path());
        step(&dir, &swap.cleaned);
        let log = open_log(swap.before.path(), config());
        assert_eq!(records(&log), swap.expected, "step {i}");
        assert!(
            file_names(&dir).iter().all(|n| !n.ends_with(SWAP_SUFFIX)
                && !n.ends_with(".deleted")
                && !n.starts_with("00000000000000000001.")),
            "step {i}: {:?}",
            file_names(&dir)
        );
        // And the completed swap's segment is sound for the next cleaning.
        put(&log, "a", Some("3"));
        roll(&log);
        clean(&log);
        assert!(records(&log).contains(&record(4, "a", Some("3"))));
    }
}

#[test]
fn a_swap_over_segments_changed_since_the_cleaning_began_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(root.path(), config());
    put(&log, "a", Some("1"));
    put(&log, "a", Some("2"));
    roll(&log);
    let sources: Vec<(i64, FileRange)> = lock(&log)
        .segments()
        .take(2)
        .map(|s| (s.base_offset(), s.as_range()))
        .collect();
    let dir = partition_dir(root.path());
    drop(Segment::create_cleaned(&dir, 0, &config(), &SystemClock::shared()).unwrap());
    // A follower truncation cuts segment 1, which becomes the active one.
    lock(&log).truncate_to(1).unwrap();
    assert!(!lock(&log).replace_segments(&sources).unwrap());
    assert_eq!(records(&log), [record(0, "a", Some("1"))]);
    assert!(file_names(&dir).iter().all(|n| !n.ends_with(".cleaned")));
    // A stale checkpoint past the truncation point comes down with it.
    lock(&log).set_cleaner_checkpoint(2);
    lock(&log).truncate_to(0).unwrap();
    assert_eq!(lock(&log).cleaner_checkpoint(), None);
}

#[test]
fn the_filthiest_log_above_its_ratio_is_chosen_once_at_a_time() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    let dirty = open_log(&a, config());
    let cleaned = open_log(&b, config());
    for log in [&dirty, &cleaned] {
        for i in 0..4 {
            put(log, "k", Some(&i.to_string()));
        }
        roll(log);
    }
    clean(&cleaned);
    put(&cleaned, "k", Some("4"));
    roll(&cleaned);
    let logs = || {
        vec![
            (TopicPartition::new("dirty", 0), Arc::clone(&dirty)),
            (TopicPartition::new("cleaned", 0), Arc::clone(&cleaned)),
        ]
    };
    let manager = LogCleanerManager::default();
    let chosen = manager
        .grab_filthiest_log(logs(), SystemClock.milliseconds())
        .unwrap();
    assert_eq!(chosen.topic_partition.topic, "dirty");
    assert_eq!(chosen.cleanable_ratio(), 1.0);
    // In progress: the other one is next.
    let next = manager
        .grab_filthiest_log(logs(), SystemClock.milliseconds())
        .unwrap();
    assert_eq!(next.topic_partition.topic, "cleaned");
    assert!(next.cleanable_ratio() < 1.0 && next.cleanable_ratio() > 0.0);
    assert!(manager
        .grab_filthiest_log(logs(), SystemClock.milliseconds())
        .is_none());
    manager.done_cleaning(&next.topic_partition);
    // Below its min.cleanable.dirty.ratio: left alone.
    lock(&cleaned).set_config(LogConfig {
        min_cleanable_dirty_ratio: 0.99,
        ..config()
    });
    assert!(manager
        .grab_filthiest_log(logs(), SystemClock.milliseconds())
        .is_none());
    // A log with the delete policy is never chosen.
    manager.done_cleaning(&chosen.topic_partition);
    lock(&dirty).set_config(LogConfig {
        cleanup_policy: CleanupPolicy::DELETE,
        ..config()
    });
    assert!(manager
        .grab_filthiest_log(logs(), SystemClock.milliseconds())
        .is_none());
}

#[test]
fn min_compaction_lag_keeps_young_segments_dirty() {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(
        root.path(),
        LogConfig {
            min_compaction_lag_ms: 60_000,
            ..config()
        },
    );
    let mut old = RecordBatchBuilder::new(T0);
    old.append(Record::new(
        T0,
        Some(b"a".as_slice()),
        Some(b"1".as_slice()),
    ));
    lock(&log).append_as_leader(&old.build(), 0, T0).unwrap();
    roll(&log);
    put(&log, "a", Some("2"));
    roll(&log);
    let now = SystemClock.milliseconds();
    let young = LogToClean::of(TopicPartition::new("compacted", 0), &log, now)
        .unwrap()
        .unwrap();
    assert_eq!(
        (young.first_dirty_offset, young.first_uncleanable_offset),
        (0, 1)
    );
}

#[test]
fn a_record_older_than_max_compaction_lag_makes_the_log_cleanable_whatever_its_ratio() {
    let root = tempfile::tempdir().unwrap();
    let config = LogConfig {
        min_cleanable_dirty_ratio: 0.99,
        ..config()
    };
    let log = open_log(root.path(), config.clone());
    for i in 0..3 {
        put(&log, "k", Some(&i.to_string()));
    }
    roll(&log);
    clean(&log);
    // A little dirt on a lot of clean data: below the ratio.
    put(&log, "k", Some("3"));
    roll(&log);
    let tp = TopicPartition::new("compacted", 0);
    let candidate = |now| LogToClean::of(tp.clone(), &log, now).unwrap().unwrap();
    assert!(!candidate(SystemClock.milliseconds()).is_cleanable());
    lock(&log).set_config(LogConfig {
        max_compaction_lag_ms: 60_000,
        ..config
    });
    assert!(!candidate(SystemClock.milliseconds()).is_cleanable());
    let later = candidate(SystemClock.milliseconds() + 61_000);
    assert!(later.need_compaction_now && later.is_cleanable());
}

#[test]
fn the_background_thread_cleans_and_checkpoints_and_a_restart_reads_it() {
    let root = tempfile::tempdir().unwrap();
    let manager_config = LogManagerConfig {
        log_dirs: vec![root.path().to_path_buf()],
        default_log_config: config(),
        retention_check_interval: Duration::from_secs(300),
        flush_check_interval: None,
        checkpoint_interval: Duration::from_secs(300),
        broker_id: 1,
        cluster_id: None,
        cleaner: CleanerConfig {
            backoff_ms: 10,
            ..CleanerConfig::default()
        },
        clock: SystemClock::shared(),
    };
    let tp = TopicPartition::new("compacted", 0);
    let manager = Arc::new(LogManager::startup(manager_config.clone()).unwrap());
    let log = manager.get_or_create(&tp, config()).unwrap();
    for i in 0..5 {
        put(&log, "k", Some(&i.to_string()));
    }
    roll(&log);
    let mut background = manager.start_background();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lock(&log).cleaner_checkpoint().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    background.stop();
    assert_eq!(records(&log), [record(4, "k", Some("4"))]);
    let text = fs::read_to_string(root.path().join(CLEANER_CHECKPOINT)).unwrap();
    assert_eq!(text, "0\n1\ncompacted 0 5\n");
    drop(log);
    manager.shutdown().unwrap();
    drop(manager);
    let manager = LogManager::startup(manager_config).unwrap();
    let log = manager.get(&tp).unwrap();
    assert_eq!(lock(&log).cleaner_checkpoint(), Some(5));
}

#[test]
fn deleting_a_log_aborts_its_cleaning_and_pauses_new_ones() {
    let root = tempfile::tempdir().unwrap();
    let log = open_log(root.path(), config());
    for i in 0..4 {
        put(&log, "k", Some(&i.to_string()));
    }
    roll(&log);
    let before = records(&log);
    let tp = TopicPartition::new("compacted", 0);
    let logs = || vec![(tp.clone(), Arc::clone(&log))];
    let cleaners = LogCleanerManager::default();
    let to_clean = cleaners
        .grab_filthiest_log(logs(), SystemClock.milliseconds())
        .unwrap();
    std::thread::scope(|s| {
        let deleting = s.spawn(|| cleaners.abort_and_pause(&tp));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cleaners.is_aborted(&tp) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let stop = StopSignal::default();
        let outcome = Cleaner::new(&cleaner_config(), &stop, &cleaners).clean(&to_clean);
        assert!(matches!(outcome, Err(CleanerError::Aborted)), "{outcome:?}");
        // The deletion waits until the cleaning thread lets go of the log.
        assert!(!deleting.is_finished());
        cleaners.done_cleaning(&tp);
        deleting.join().unwrap();
    });
    assert_eq!(records(&log), before);
    assert!(file_names(&partition_dir(root.path()))
        .iter()
        .all(|n| !n.ends_with(".cleaned")));
    assert!(cleaners
        .grab_filthiest_log(logs(), SystemClock.milliseconds())
        .is_none());
    cleaners.resume_cleaning(&tp);
    assert!(cleaners
        .grab_filthiest_log(logs(), SystemClock.milliseconds())
        .is_some());
}
