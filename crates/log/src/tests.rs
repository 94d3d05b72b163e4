//! Behaviour tests of the partition log as a whole: round trips across
//! segments, crash recovery at any truncation point, retention, truncation.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::segment::{segment_file, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use super::*;
use gregor_clock::{Clock, ManualClock, SystemClock};
use gregor_record::{BatchError, Batches, Compression, Record, RecordBatchBuilder};

const T0: i64 = 1_700_000_000_000;

fn batch(records: usize, timestamp: i64, tag: u8) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(timestamp);
    for i in 0..records {
        let value = vec![tag; 20 + i];
        b.append(Record::new(timestamp, Some(&[tag, i as u8]), Some(&value)));
    }
    b.build().to_vec()
}

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1_000,
        index_interval_bytes: 150,
        segment_index_bytes: 4_096,
        file_delete_delay_ms: 0,
        ..LogConfig::default()
    }
}

fn partition_dir(root: &Path) -> PathBuf {
    root.join("topic-a-0")
}

fn open(root: &Path, config: LogConfig, state: LoadState) -> PartitionLog {
    PartitionLog::open(&partition_dir(root), config, state, ManualClock::new(T0)).unwrap()
}

/// All batches (offset-rewritten) readable from `from`, without limits.
fn read_all(log: &PartitionLog, from: i64) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let range = log.read(offset, u64::MAX, None, true).unwrap().unwrap();
        let bytes = range.read_to_vec().unwrap();
        for item in Batches::new(&bytes) {
            let (h, b) = item.unwrap();
            out.push((h.base_offset, b.to_vec()));
            offset = h.last_offset() + 1;
        }
    }
    out
}

/// The batch as the log stores it: base offset and leader epoch rewritten.
fn as_stored(mut batch: Vec<u8>, base: i64, epoch: i32) -> Vec<u8> {
    batch[..8].copy_from_slice(&base.to_be_bytes());
    batch[12..16].copy_from_slice(&epoch.to_be_bytes());
    batch
}

#[test]
fn append_assigns_offsets_and_stores_bytes_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    let a = batch(3, T0, 1);
    let b = batch(2, T0 + 5, 2);
    let info = log.append_as_leader(&a, 7, T0).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 2));
    let mut two = b.clone();
    two.extend(&a);
    let info = log.append_as_leader(&two, 7, T0).unwrap();
    assert_eq!(
        (info.first_offset, info.last_offset, info.batch_count),
        (3, 7, 2)
    );
    assert_eq!(info.max_timestamp, T0 + 5);
    assert_eq!(
        read_all(&log, 0),
        vec![
            (0, as_stored(a.clone(), 0, 7)),
            (3, as_stored(b, 3, 7)),
            (5, as_stored(a, 5, 7)),
        ]
    );
    assert_eq!(log.leader_epochs().latest_epoch(), Some(7));
}

#[test]
fn read_returns_the_batch_holding_the_offset_and_respects_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    for i in 0..10 {
        log.append_as_leader(&batch(4, T0, i), 0, T0).unwrap();
    }
    // Offset 6 is inside the second batch [4, 7].
    let range = log.read(6, u64::MAX, None, false).unwrap().unwrap();
    let first = Batches::new(&range.read_to_vec().unwrap())
        .next()
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(first.base_offset, 4);
    // A limit below one batch gives nothing, unless min_one.
    let one = batch(4, T0, 0).len() as u64;
    assert_eq!(log.read(0, one - 1, None, false).unwrap().unwrap().len, 0);
    assert_eq!(log.read(0, one - 1, None, true).unwrap().unwrap().len, one);
    // Whole batches only.
    assert_eq!(
        log.read(0, one * 2 + 5, None, false).unwrap().unwrap().len,
        one * 2
    );
    // Nothing at or past max_offset (the high watermark).
    let bytes = log
        .read(0, u64::MAX, Some(8), false)
        .unwrap()
        .unwrap()
        .read_to_vec()
        .unwrap();
    assert_eq!(Batches::new(&bytes).count(), 2);
    // Log end: empty; beyond: out of range.
    assert!(log.read(40, 100, None, true).unwrap().is_none());
    assert!(matches!(
        log.read(41, 100, None, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn rejects_bad_batches_with_typed_errors_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    let good = batch(2, T0, 1);

    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut bad_magic = good.clone();
    bad_magic[16] = 1;
    let mut absurd = good.clone();
    absurd[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    let short = good[..good.len() - 3].to_vec();
    let mut too_big_config = small_config();
    too_big_config.max_message_bytes = 50;

    let err = |bytes: &[u8], log: &mut PartitionLog| match log.append_as_leader(bytes, 0, T0) {
        Err(LogError::InvalidBatch(e)) => e,
        other => panic!("expected a batch error, got {other:?}"),
    };
    assert!(matches!(
        err(&bad_crc, &mut log),
        BatchError::CorruptCrc { .. }
    ));
    assert!(matches!(
        err(&bad_magic, &mut log),
        BatchError::UnsupportedMagic(1)
    ));
    assert!(matches!(
        err(&absurd, &mut log),
        BatchError::Truncated { .. }
    ));
    assert!(matches!(
        err(&short, &mut log),
        BatchError::Truncated { .. }
    ));
    assert!(matches!(err(&[], &mut log), BatchError::Truncated { .. }));
    // One good batch followed by a bad one: nothing is appended.
    let mut mixed = good.clone();
    mixed.extend(&bad_crc);
    assert!(matches!(
        err(&mixed, &mut log),
        BatchError::CorruptCrc { .. }
    ));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size(), 0);
    log.set_config(too_big_config);
    assert!(matches!(err(&good, &mut log), BatchError::TooLarge { .. }));
}

#[test]
fn rolls_by_size_and_reopens_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    for i in 0..30 {
        log.append_as_leader(&batch(3, T0 + i, i as u8), 0, T0)
            .unwrap();
    }
    assert!(log.segment_count() > 3);
    let bases = log.segment_base_offsets();
    for base in &bases {
        assert!(segment_file(&partition_dir(dir.path()), *base, LOG_SUFFIX).exists());
    }
    let before = read_all(&log, 0);
    let end = log.log_end_offset();
    log.close().unwrap();
    drop(log);
    let state = LoadState {
        recovery_point: end,
        clean_shutdown: true,
        ..LoadState::default()
    };
    let log = open(dir.path(), small_config(), state);
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.segment_base_offsets(), bases);
    assert_eq!(read_all(&log, 0), before);
}

#[test]
fn rolls_by_segment_ms() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1_000,
        ..small_config()
    };
    let mut log = open(dir.path(), config, LoadState::default());
    // As in Kafka, segment.ms runs on the records' timestamps (from the
    // first append's), whatever the wall clock says, and rolls once it is
    // exceeded.
    log.append_as_leader(&batch(1, T0, 0), 0, T0).unwrap();
    log.append_as_leader(&batch(1, T0 + 1_000, 0), 0, T0 + 5_000)
        .unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append_as_leader(&batch(1, T0 + 1_001, 0), 0, T0)
        .unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    // The new segment counts from its own first timestamp; older records
    // do not roll it.
    log.append_as_leader(&batch(1, T0, 0), 0, T0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    // Reopened, the active segment counts from its first batch again.
    drop(log);
    let config = LogConfig {
        segment_ms: 1_000,
        ..small_config()
    };
    let mut log = open(dir.path(), config, LoadState::default());
    log.append_as_leader(&batch(1, T0 + 2_001, 0), 0, T0)
        .unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    log.append_as_leader(&batch(1, T0 + 2_002, 0), 0, T0)
        .unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 5]);
}

#[test]
fn without_timestamps_segment_ms_runs_on_the_logs_clock_from_the_segments_creation() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1_000,
        ..small_config()
    };
    let clock = ManualClock::new(T0);
    let mut log = PartitionLog::open(
        &partition_dir(dir.path()),
        config,
        LoadState::default(),
        clock.clone(),
    )
    .unwrap();
    // Records without timestamps (-1): the segment's age is the clock's
    // time since the segment was created (Kafka's `timeWaitedForRoll`).
    clock.advance(Duration::from_millis(400));
    log.append_as_leader(&batch(1, -1, 0), 0, clock.milliseconds())
        .unwrap();
    clock.advance(Duration::from_millis(600));
    log.append_as_leader(&batch(1, -1, 0), 0, clock.milliseconds())
        .unwrap();
    assert_eq!(log.segment_count(), 1);
    clock.advance(Duration::from_millis(1));
    log.append_as_leader(&batch(1, -1, 0), 0, clock.milliseconds())
        .unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    // The new segment was created by that roll, at T0 + 1 001.
    clock.advance(Duration::from_millis(1_000));
    log.append_as_leader(&batch(1, -1, 0), 0, clock.milliseconds())
        .unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    // Emptied by a truncation, the segment counts from then again.
    clock.advance(Duration::from_millis(1));
    log.truncate_to(2).unwrap();
    clock.advance(Duration::from_millis(1_000));
    for _ in 0..2 {
        log.append_as_leader(&batch(1, -1, 0), 0, clock.milliseconds())
            .unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    clock.advance(Duration::from_millis(1));
    log.append_as_leader(&batch(1, -1, 0), 0, clock.milliseconds())
        .unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 4]);
}

#[test]
fn a_compacted_log_rolls_by_max_compaction_lag_ms_if_sooner() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1_000,
        max_compaction_lag_ms: 500,
        ..small_config()
    };
    // With the delete policy the lag does not matter.
    let mut log = open(dir.path(), config.clone(), LoadState::default());
    log.append_as_leader(&batch(1, T0, 0), 0, T0).unwrap();
    log.append_as_leader(&batch(1, T0 + 999, 0), 0, T0).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.set_config(compacted(config));
    log.append_as_leader(&batch(1, T0 + 999, 0), 0, T0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    log.append_as_leader(&batch(1, T0 + 1_499, 0), 0, T0)
        .unwrap();
    log.append_as_leader(&batch(1, T0 + 1_500, 0), 0, T0)
        .unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 4]);
}

#[test]
fn retention_by_time_deletes_exactly_the_expired_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(10_000),
        ..small_config()
    };
    let mut log = open(dir.path(), config, LoadState::default());
    // Segments hold batches with timestamps T0 + 1000*i.
    for i in 0..12 {
        log.append_as_leader(&batch(4, T0 + 1_000 * i, 0), 0, T0)
            .unwrap();
        if i % 3 == 2 {
            log.roll().unwrap();
        }
    }
    log.set_high_watermark(log.log_end_offset());
    // The last roll left an empty active segment at 48.
    assert_eq!(log.segment_base_offsets(), vec![0, 12, 24, 36, 48]);
    // now - max_ts > 10s: segment 0 (max T0+2000) and 12 (T0+5000) at now = T0+15_001.
    assert_eq!(log.delete_old_segments(T0 + 15_001).unwrap(), 2);
    assert_eq!(log.segment_base_offsets(), vec![24, 36, 48]);
    assert_eq!(log.log_start_offset(), 24);
    assert!(matches!(
        log.read(0, 10, None, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let p = partition_dir(dir.path());
    assert!(!segment_file(&p, 0, LOG_SUFFIX).exists());
    assert!(p.join("00000000000000000000.log.deleted").exists());
    log.purge_deleted(T0 + 100_000_000_000, false);
    assert!(!p.join("00000000000000000000.log.deleted").exists());
    // Everything expired: all but the empty active segment go.
    assert_eq!(log.delete_old_segments(T0 + 100_000).unwrap(), 2);
    assert_eq!(log.segment_base_offsets(), vec![48]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (48, 48));
}

#[test]
fn retention_by_size_and_high_watermark_bound() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch(4, T0, 0).len() as u64;
    let config = LogConfig {
        retention_bytes: Some(one * 5),
        retention_ms: None,
        ..small_config()
    };
    let mut log = open(dir.path(), config, LoadState::default());
    for i in 0..8 {
        log.append_as_leader(&batch(4, T0, 0), 0, T0).unwrap();
        if i % 2 == 1 {
            log.roll().unwrap();
        }
    }
    // Four segments of 2 batches; 8 batches > 5 allowed.
    assert_eq!(log.segment_base_offsets(), vec![0, 8, 16, 24, 32]);
    // Nothing is deleted above the high watermark.
    log.set_high_watermark(8);
    assert_eq!(log.delete_old_segments(T0).unwrap(), 1);
    log.set_high_watermark(32);
    // 6 batches left, 1 over the limit: deleting a 2-batch segment would go
    // below retention.bytes, so (as in Kafka) it stays.
    assert_eq!(log.delete_old_segments(T0).unwrap(), 0);
    assert_eq!(log.segment_base_offsets(), vec![8, 16, 24, 32]);
    log.append_as_leader(&batch(4, T0, 0), 0, T0).unwrap();
    log.set_high_watermark(36);
    // 7 batches, 2 over: the oldest segment goes.
    assert_eq!(log.delete_old_segments(T0).unwrap(), 1);
    assert_eq!(log.segment_base_offsets(), vec![16, 24, 32]);
}

#[test]
fn delete_records_and_truncate_to() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    for i in 0..20 {
        log.append_as_leader(&batch(2, T0, i), (i / 5) as i32, T0)
            .unwrap();
    }
    log.set_high_watermark(30);
    assert!(log.delete_records_before(31).is_err());
    assert_eq!(log.delete_records_before(21).unwrap(), 21);
    assert_eq!(log.log_start_offset(), 21);
    assert!(log.segment_base_offsets()[0] <= 21);
    // Reading at the new start works, below it is out of range.
    assert!(log.read(21, 100, None, true).unwrap().is_some());
    assert!(log.read(20, 100, None, true).is_err());

    assert_eq!(log.truncate_to(33).unwrap(), 32);
    assert_eq!(log.log_end_offset(), 32);
    assert_eq!(log.high_watermark(), 30);
    assert_eq!(log.leader_epochs().latest_epoch(), Some(3));
    let info = log.append_as_leader(&batch(2, T0, 9), 4, T0).unwrap();
    assert_eq!(info.first_offset, 32);
    log.truncate_to(10).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
}

/// Appends `batches` batches to a fresh log, crashes it (no close), cuts the
/// active segment at `cut` bytes, and reopens without a clean shutdown.
fn crash_and_cut(batches: usize, cut_fraction: f64) -> (usize, i64, i64, Vec<(i64, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 2_000,
        ..small_config()
    };
    let mut log = open(dir.path(), config.clone(), LoadState::default());
    for i in 0..batches {
        log.append_as_leader(&batch(1 + i % 3, T0 + i as i64, i as u8), 0, T0)
            .unwrap();
    }
    let all = read_all(&log, 0);
    let active_base = *log.segment_base_offsets().last().unwrap();
    let recovery_point = active_base;
    drop(log); // crash: indexes untrimmed, nothing flushed
    let path = segment_file(&partition_dir(dir.path()), active_base, LOG_SUFFIX);
    let len = fs::metadata(&path).unwrap().len();
    let cut = (len as f64 * cut_fraction) as u64;
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    // The batches expected to survive: all before the active segment, plus
    // the active segment's batches that end within `cut`.
    let mut position = 0u64;
    let expected: Vec<(i64, Vec<u8>)> = all
        .iter()
        .filter(|(base, b)| {
            if *base < active_base {
                return true;
            }
            position += b.len() as u64;
            position <= cut
        })
        .cloned()
        .collect();
    let state = LoadState {
        recovery_point,
        clean_shutdown: false,
        ..LoadState::default()
    };
    let mut log = open(dir.path(), config, state);
    let expected_end = expected.last().map_or(0, |(base, b)| {
        base + Batches::new(b).next().unwrap().unwrap().0.last_offset_delta as i64 + 1
    });
    let got = read_all(&log, 0);
    let next = log
        .append_as_leader(&batch(1, T0, 0), 0, T0)
        .unwrap()
        .first_offset;
    (
        expected.len(),
        expected_end,
        next,
        got.into_iter()
            .zip(expected)
            .filter(|(g, e)| g != e)
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(g, _)| g)
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn recovery_keeps_exactly_the_complete_batches_before_any_cut(
        batches in 1usize..40,
        cut in 0.0f64..=1.0,
    ) {
        let (_, expected_end, next, mismatches) = crash_and_cut(batches, cut);
        prop_assert!(mismatches.is_empty(), "recovered batches differ: {:?}", mismatches.len());
        prop_assert_eq!(next, expected_end);
    }

    #[test]
    fn append_read_round_trip_across_segments(
        sizes in proptest::collection::vec(1usize..6, 1..60),
        max_bytes in 50u64..3_000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config(), LoadState::default());
        let mut sent = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let b = batch(*n, T0 + i as i64, i as u8);
            let info = log.append_as_leader(&b, 1, T0).unwrap();
            sent.push((info.first_offset, as_stored(b, info.first_offset, 1)));
        }
        prop_assert_eq!(read_all(&log, 0), sent.clone());
        // Reading from every offset with a size limit yields whole batches,
        // starting with the one that holds the offset.
        for offset in 0..log.log_end_offset() {
            let range = log.read(offset, max_bytes, None, true).unwrap().unwrap();
            let bytes = range.read_to_vec().unwrap();
            prop_assert!(bytes.len() as u64 <= max_bytes || Batches::new(&bytes).count() == 1);
            let got: Vec<_> = Batches::new(&bytes).map(|r| r.unwrap().0.base_offset).collect();
            let holder = sent.iter().rposition(|(base, _)| *base <= offset).unwrap();
            prop_assert_eq!(got[0], sent[holder].0);
            for (k, base) in got.iter().enumerate() {
                prop_assert_eq!(*base, sent[holder + k].0);
            }
        }
    }
}

#[test]
fn corrupt_batch_in_the_middle_ends_the_log_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    let mut sizes = Vec::new();
    for i in 0..8 {
        let b = batch(2, T0, i);
        sizes.push(b.len() as u64);
        log.append_as_leader(&b, 0, T0).unwrap();
    }
    let bases = log.segment_base_offsets();
    drop(log);
    // Flip a byte inside the third batch of the first segment.
    let path = segment_file(&partition_dir(dir.path()), bases[0], LOG_SUFFIX);
    let mut bytes = fs::read(&path).unwrap();
    let third = (sizes[0] + sizes[1] + 30) as usize;
    bytes[third] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let log = open(dir.path(), small_config(), LoadState::default());
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(log.segment_base_offsets(), vec![bases[0]]);
}

#[test]
fn corrupt_index_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    for i in 0..30 {
        log.append_as_leader(&batch(3, T0, i), 0, T0).unwrap();
    }
    let before = read_all(&log, 0);
    let end = log.log_end_offset();
    log.close().unwrap();
    drop(log);
    let index = segment_file(&partition_dir(dir.path()), 0, ".index");
    let mut bytes = fs::read(&index).unwrap();
    assert!(bytes.len() >= 16);
    bytes[8..16].copy_from_slice(&[0xff; 8]);
    fs::write(&index, &bytes).unwrap();
    let state = LoadState {
        recovery_point: end,
        clean_shutdown: true,
        ..LoadState::default()
    };
    let log = open(dir.path(), small_config(), state);
    assert_eq!(read_all(&log, 0), before);
}

#[test]
fn a_missing_index_is_rebuilt_even_after_a_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    for i in 0..10 {
        log.append_as_leader(&batch(3, T0 + i, i as u8), 0, T0)
            .unwrap();
    }
    let first_max = log.segments().next().unwrap().max_timestamp();
    let end = log.log_end_offset();
    log.close().unwrap();
    drop(log);
    let part = partition_dir(dir.path());
    fs::remove_file(segment_file(&part, 0, super::segment::TIME_INDEX_SUFFIX)).unwrap();
    let state = LoadState {
        recovery_point: end,
        clean_shutdown: true,
        ..LoadState::default()
    };
    let log = open(dir.path(), small_config(), state);
    assert_eq!(log.segments().next().unwrap().max_timestamp(), first_max);
}

#[test]
fn offset_for_timestamp_uses_the_time_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    for i in 0..40 {
        log.append_as_leader(&batch(2, T0 + 10 * i, 0), 0, T0)
            .unwrap();
    }
    assert_eq!(log.offset_for_timestamp(T0).unwrap(), Some((0, T0)));
    assert_eq!(
        log.offset_for_timestamp(T0 + 95).unwrap(),
        Some((20, T0 + 100))
    );
    assert_eq!(
        log.offset_for_timestamp(T0 + 390).unwrap(),
        Some((78, T0 + 390))
    );
    assert_eq!(log.offset_for_timestamp(T0 + 391).unwrap(), None);
}

/// A batch of records at `T0 + t` for each `t`, in that order.
fn timed_batch(times: &[i64], compression: Compression) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(T0 + times[0]).compression(compression);
    for (i, t) in times.iter().enumerate() {
        b.append(Record::new(T0 + t, None, Some(&[i as u8; 30])));
    }
    b.build().to_vec()
}

#[test]
fn offset_for_timestamp_finds_the_record_inside_a_batch_for_every_codec() {
    for codec in Compression::ALL {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config(), LoadState::default());
        // Offsets 0-3, then 4-7 with timestamps out of order, as producers
        // with several threads may send them.
        log.append_as_leader(&timed_batch(&[0, 10, 20, 30], codec), 0, T0)
            .unwrap();
        log.append_as_leader(&timed_batch(&[40, 70, 50, 60], codec), 0, T0)
            .unwrap();
        let find = |t: i64| log.offset_for_timestamp(T0 + t).unwrap();
        assert_eq!(find(-5), Some((0, T0)), "{codec}");
        assert_eq!(find(0), Some((0, T0)), "{codec}");
        assert_eq!(find(15), Some((2, T0 + 20)), "{codec}");
        assert_eq!(find(30), Some((3, T0 + 30)), "{codec}");
        assert_eq!(find(31), Some((4, T0 + 40)), "{codec}");
        // The first record (by offset) at or after the time, not the closest.
        assert_eq!(find(45), Some((5, T0 + 70)), "{codec}");
        assert_eq!(find(70), Some((5, T0 + 70)), "{codec}");
        assert_eq!(find(71), None, "{codec}");
    }
}

#[test]
fn offset_for_timestamp_skips_records_below_the_log_start() {
    let dir = tempfile::tempdir().unwrap();
    // No retention.ms: DeleteRecords applies retention on the wall clock,
    // which would find T0 long past.
    let config = LogConfig {
        retention_ms: None,
        ..small_config()
    };
    let mut log = open(dir.path(), config, LoadState::default());
    log.append_as_leader(&timed_batch(&[0, 10, 20, 30], Compression::Zstd), 0, T0)
        .unwrap();
    log.set_high_watermark(4);
    log.delete_records_before(2).unwrap();
    assert_eq!(log.offset_for_timestamp(T0).unwrap(), Some((2, T0 + 20)));
    assert_eq!(
        log.offset_for_timestamp(T0 + 25).unwrap(),
        Some((3, T0 + 30))
    );
}

#[test]
fn offset_for_timestamp_across_segments_and_index_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    for i in 0..30 {
        let base = 100 * i;
        log.append_as_leader(
            &timed_batch(&[base, base + 25, base + 50], Compression::Lz4),
            0,
            T0,
        )
        .unwrap();
    }
    assert!(log.segment_count() > 2);
    for i in 0..30 {
        let (base, first) = (100 * i, 3 * i);
        let find = |t: i64| log.offset_for_timestamp(T0 + t).unwrap();
        assert_eq!(find(base), Some((first, T0 + base)));
        assert_eq!(find(base + 1), Some((first + 1, T0 + base + 25)));
        assert_eq!(find(base + 26), Some((first + 2, T0 + base + 50)));
    }
}

/// A batch of `records` records from idempotent producer `pid`.
fn idempotent(pid: i64, epoch: i16, seq: i32, records: usize, tag: u8) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(T0).producer(pid, epoch, seq);
    for i in 0..records {
        b.append(Record::new(T0, None, Some(&[tag, i as u8])));
    }
    b.build().to_vec()
}

fn producer_error(result: Result<LogAppendInfo>) -> producer_state::ProducerStateError {
    match result {
        Err(LogError::ProducerState(e)) => e,
        other => panic!("expected a producer state error, got {other:?}"),
    }
}

#[test]
fn duplicate_batch_returns_original_offsets_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    log.append_as_leader(&batch(2, T0, 0), 0, T0).unwrap();
    let first = log
        .append_as_leader(&idempotent(5, 0, 0, 3, 1), 0, T0)
        .unwrap();
    assert_eq!((first.first_offset, first.last_offset), (2, 4));
    assert!(!first.duplicate);
    log.append_as_leader(&idempotent(5, 0, 3, 2, 2), 0, T0)
        .unwrap();
    let size = log.size();
    let end = log.log_end_offset();

    // A retry of the first batch (its response was lost).
    let retry = log
        .append_as_leader(&idempotent(5, 0, 0, 3, 1), 0, T0)
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!((retry.first_offset, retry.last_offset), (2, 4));
    assert_eq!(log.size(), size);
    assert_eq!(log.log_end_offset(), end);
    // The next batch in sequence still goes on.
    let next = log
        .append_as_leader(&idempotent(5, 0, 5, 1, 3), 0, T0)
        .unwrap();
    assert_eq!(next.first_offset, end);
}

#[test]
fn out_of_order_and_fenced_batches_are_refused_and_append_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    log.append_as_leader(&idempotent(9, 1, 0, 2, 0), 0, T0)
        .unwrap();
    let size = log.size();
    // A gap: sequence 3 after 1.
    assert!(matches!(
        producer_error(log.append_as_leader(&idempotent(9, 1, 3, 1, 0), 0, T0)),
        producer_state::ProducerStateError::OutOfOrderSequence { last_seq: 1, .. }
    ));
    // An older epoch.
    assert!(matches!(
        producer_error(log.append_as_leader(&idempotent(9, 0, 2, 1, 0), 0, T0)),
        producer_state::ProducerStateError::InvalidProducerEpoch { current: 1, .. }
    ));
    // A new epoch not starting at 0.
    assert!(matches!(
        producer_error(log.append_as_leader(&idempotent(9, 2, 2, 1, 0), 0, T0)),
        producer_state::ProducerStateError::OutOfOrderSequence { .. }
    ));
    // All or nothing: a good batch followed by a bad one in one request.
    let mut both = idempotent(9, 1, 2, 1, 0);
    both.extend(idempotent(9, 1, 7, 1, 0));
    assert!(log.append_as_leader(&both, 0, T0).is_err());
    assert_eq!(log.size(), size);
    assert_eq!(log.log_end_offset(), 2);
    // Two in-sequence batches in one request are fine.
    let mut both = idempotent(9, 1, 2, 1, 0);
    both.extend(idempotent(9, 1, 3, 2, 0));
    let info = log.append_as_leader(&both, 0, T0).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (2, 4));
    assert_eq!(log.producer_state().last_sequence(9), Some((1, 4)));
    // The new epoch from 0 is accepted and fences the old one.
    log.append_as_leader(&idempotent(9, 2, 0, 1, 0), 0, T0)
        .unwrap();
    assert!(log
        .append_as_leader(&idempotent(9, 1, 5, 1, 0), 0, T0)
        .is_err());
}

#[test]
fn producer_state_is_rebuilt_on_reopen_and_after_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    // Enough batches to span several 1000-byte segments.
    for i in 0..12 {
        log.append_as_leader(&idempotent(4, 0, i * 4, 4, i as u8), 0, T0)
            .unwrap();
    }
    assert!(log.segment_count() > 1);
    let end = log.log_end_offset();
    drop(log); // a crash: no clean shutdown

    let mut log = open(dir.path(), small_config(), LoadState::default());
    assert_eq!(log.producer_state().last_sequence(4), Some((0, 47)));
    let retry = log
        .append_as_leader(&idempotent(4, 0, 40, 4, 10), 0, T0)
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!((retry.first_offset, retry.last_offset), (40, 43));
    assert_eq!(log.log_end_offset(), end);
    // Out of order after the restart too.
    assert!(log
        .append_as_leader(&idempotent(4, 0, 49, 1, 0), 0, T0)
        .is_err());

    // Truncating the last two batches away: their retry is new data again,
    // and the producer continues from what is left.
    log.truncate_to(40).unwrap();
    assert_eq!(log.producer_state().last_sequence(4), Some((0, 39)));
    let again = log
        .append_as_leader(&idempotent(4, 0, 40, 4, 10), 0, T0)
        .unwrap();
    assert!(!again.duplicate);
    assert_eq!(again.first_offset, 40);
}

#[test]
fn non_idempotent_batches_leave_no_producer_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    let b = batch(2, T0, 1);
    log.append_as_leader(&b, 0, T0).unwrap();
    // The same bytes twice are two appends: without a producer id there is
    // no deduplication.
    let info = log.append_as_leader(&b, 0, T0).unwrap();
    assert_eq!(info.first_offset, 2);
    assert_eq!(log.producer_state().producer_count(), 0);
}

#[test]
fn failed_delete_in_truncate_fully_keeps_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    log.append_as_leader(&batch(2, T0, 1), 0, T0).unwrap();
    // Renaming segment 0's index onto a non-empty directory fails.
    let blocker = partition_dir(dir.path()).join("00000000000000000000.index.deleted");
    fs::create_dir_all(blocker.join("x")).unwrap();
    assert!(log.truncate_fully_and_start_at(100).is_err());
    assert!(log.segment_count() >= 1);
    log.append_as_leader(&batch(1, T0, 2), 0, T0).unwrap();
}

#[test]
fn truncate_fully_at_an_existing_segment_base_empties_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    log.append_as_leader(&batch(2, T0, 1), 0, T0).unwrap();
    log.truncate_fully_and_start_at(0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    log.append_as_leader(&batch(1, T0, 2), 0, T0).unwrap();
    assert_eq!(read_all(&log, 0).len(), 1);
}

#[test]
fn negative_segment_base_in_a_file_name_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let part = partition_dir(dir.path());
    fs::create_dir_all(&part).unwrap();
    fs::write(part.join("-0000000000000000005.log"), b"").unwrap();
    let state = LoadState {
        clean_shutdown: true,
        ..LoadState::default()
    };
    assert!(matches!(
        PartitionLog::open(&part, small_config(), state, ManualClock::new(T0)),
        Err(LogError::Corrupt { .. })
    ));
}

#[test]
fn retention_with_a_minimal_timestamp_does_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    log.append_as_leader(&batch(1, i64::MIN, 1), 0, T0).unwrap();
    log.set_high_watermark(log.log_end_offset());
    // A negative timestamp is no timestamp: the segment's age is its
    // file's (just written), as Kafka's `largestTimestamp` has it.
    assert_eq!(log.delete_old_segments(T0).unwrap(), 0);
    assert_eq!(log.delete_old_segments(i64::MAX).unwrap(), 1);
}

/// A segment too small for a time index entry keeps its max timestamp
/// across a clean restart (the entry is written on close), so retention
/// does not take it for infinitely old; one reopened without the entry
/// (written before it was kept) is aged by its file's modification time.
#[test]
fn a_small_segment_survives_retention_after_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(60_000),
        index_interval_bytes: 1 << 20,
        ..small_config()
    };
    let now = SystemClock.milliseconds();
    let mut log = open(dir.path(), config.clone(), LoadState::default());
    log.append_as_leader(&batch(2, now, 1), 0, now).unwrap();
    let end = log.log_end_offset();
    log.close().unwrap();
    drop(log);
    let clean = LoadState {
        recovery_point: end,
        high_watermark: end,
        clean_shutdown: true,
        ..LoadState::default()
    };
    let mut log = open(dir.path(), config.clone(), clean);
    assert_eq!(log.segments().next().unwrap().max_timestamp(), now);
    log.set_high_watermark(end);
    assert_eq!(log.delete_old_segments(now + 1_000).unwrap(), 0);
    assert_eq!(log.delete_old_segments(now + 60_001).unwrap(), 1);
    drop(log);

    // Without the entry: the file's modification time (now-ish) counts.
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), config.clone(), LoadState::default());
    log.append_as_leader(&batch(2, now, 1), 0, now).unwrap();
    log.close().unwrap();
    drop(log);
    let time_index = segment_file(&partition_dir(dir.path()), 0, TIME_INDEX_SUFFIX);
    fs::write(&time_index, []).unwrap();
    let mut log = open(dir.path(), config, clean);
    log.set_high_watermark(end);
    assert_eq!(log.segments().next().unwrap().max_timestamp(), -1);
    assert_eq!(log.delete_old_segments(now + 1_000).unwrap(), 0);
    assert_eq!(log.delete_old_segments(now + 120_000).unwrap(), 1);
}

#[test]
fn stored_base_offset_near_the_largest_offset_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    log.append_as_leader(&batch(2, T0, 1), 0, T0).unwrap();
    log.close().unwrap();
    drop(log);
    // The base offset is not covered by the CRC.
    let path = segment_file(&partition_dir(dir.path()), 0, LOG_SUFFIX);
    let mut bytes = fs::read(&path).unwrap();
    bytes[..8].copy_from_slice(&(i64::MAX - 1).to_be_bytes());
    fs::write(&path, &bytes).unwrap();
    let clean = LoadState {
        clean_shutdown: true,
        ..LoadState::default()
    };
    assert!(matches!(
        PartitionLog::open(
            &partition_dir(dir.path()),
            small_config(),
            clean,
            ManualClock::new(T0)
        ),
        Err(LogError::Corrupt { .. })
    ));
    // Recovery cuts the batch off instead.
    let log = open(dir.path(), small_config(), LoadState::default());
    assert_eq!(log.log_end_offset(), 0);
}

/// Every batch of `log` from `from` as one byte string, as a fetch from the
/// leader returns them.
fn raw_from(log: &PartitionLog, from: i64) -> Vec<u8> {
    read_all(log, from)
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect()
}

#[test]
fn a_follower_copies_the_leaders_log_and_its_segment_boundaries() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = open(leader_dir.path(), small_config(), LoadState::default());
    let mut follower = open(follower_dir.path(), small_config(), LoadState::default());
    for i in 0..30u8 {
        let epoch = if i < 12 { 3 } else { 5 };
        leader
            .append_as_leader(
                &batch(1 + usize::from(i % 3), T0 + i64::from(i), i),
                epoch,
                T0,
            )
            .unwrap();
    }
    assert!(leader.segment_count() > 3);
    // Two fetches: one in the middle of the leader's log, then the rest.
    let half = read_all(&leader, 0)[10].0;
    let first = raw_from(&leader, 0);
    let first = &first[..first.len() - raw_from(&leader, half).len()];
    let info = follower.append_as_follower(first, T0).unwrap().unwrap();
    assert_eq!((info.first_offset, info.last_offset + 1), (0, half));
    let info = follower
        .append_as_follower(&raw_from(&leader, half), T0)
        .unwrap()
        .unwrap();
    assert_eq!(info.last_offset + 1, leader.log_end_offset());
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(
        follower.leader_epochs().entries(),
        leader.leader_epochs().entries()
    );
    assert_eq!(
        follower.segment_base_offsets(),
        leader.segment_base_offsets()
    );
    for base in leader.segment_base_offsets() {
        let file = |root: &Path| fs::read(segment_file(&partition_dir(root), base, LOG_SUFFIX));
        assert_eq!(
            file(follower_dir.path()).unwrap(),
            file(leader_dir.path()).unwrap(),
            "segment {base}"
        );
    }
}

#[test]
fn a_follower_append_keeps_whole_batches_only_and_refuses_overlaps_and_corruption() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = open(leader_dir.path(), small_config(), LoadState::default());
    for i in 0..4 {
        leader.append_as_leader(&batch(2, T0, i), 1, T0).unwrap();
    }
    let all = raw_from(&leader, 0);
    let first_two = &all[..all.len() - raw_from(&leader, 4).len()];
    let mut follower = open(follower_dir.path(), small_config(), LoadState::default());

    // Batches out of order within one fetch: nothing is appended.
    let mut reordered = raw_from(&leader, 2)[..first_two.len() / 2].to_vec();
    reordered.extend(first_two);
    let err = follower.append_as_follower(&reordered, T0).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::UnexpectedAppendOffset {
                expected: 4,
                found: 0
            }
        ),
        "{err}"
    );
    assert_eq!(follower.log_end_offset(), 0);
    // A batch whose CRC does not match its content.
    let mut corrupt = all.clone();
    *corrupt.last_mut().unwrap() ^= 1;
    let err = follower.append_as_follower(&corrupt, T0).unwrap_err();
    assert!(
        matches!(err, LogError::InvalidBatch(BatchError::CorruptCrc { .. })),
        "{err}"
    );
    assert_eq!(follower.log_end_offset(), 0);
    // A lone partial batch is an error, a partial tail after whole batches
    // waits for the next fetch.
    assert!(follower.append_as_follower(&all[..30], T0).is_err());
    let info = follower
        .append_as_follower(&all[..all.len() - 5], T0)
        .unwrap()
        .unwrap();
    assert_eq!(
        (info.first_offset, info.last_offset, info.batch_count),
        (0, 5, 3)
    );
    assert_eq!(follower.log_end_offset(), 6);
    assert!(follower.append_as_follower(&[], T0).unwrap().is_none());
    // Batches the follower has already: refused.
    let err = follower
        .append_as_follower(&raw_from(&leader, 2), T0)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LogError::UnexpectedAppendOffset {
                expected: 6,
                found: 2
            }
        ),
        "{err}"
    );
    follower
        .append_as_follower(&raw_from(&leader, 6), T0)
        .unwrap();
    assert_eq!(raw_from(&follower, 0), all);
}

#[test]
fn a_follower_append_takes_the_gaps_of_a_compacted_leader() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = open(leader_dir.path(), small_config(), LoadState::default());
    for i in 0..4 {
        leader.append_as_leader(&batch(2, T0, i), 1, T0).unwrap();
    }
    // Batches [0, 1] and [6, 7], as if cleaning had removed [2, 5].
    let mut gapped =
        raw_from(&leader, 0)[..raw_from(&leader, 0).len() - raw_from(&leader, 2).len()].to_vec();
    gapped.extend(raw_from(&leader, 6));
    let mut follower = open(follower_dir.path(), small_config(), LoadState::default());
    let info = follower.append_as_follower(&gapped, T0).unwrap().unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 7));
    assert_eq!(follower.log_end_offset(), 8);
    assert_eq!(raw_from(&follower, 0), gapped);
    // A read inside the gap answers with the next batch.
    assert_eq!(raw_from(&follower, 3), raw_from(&leader, 6));
}

fn compacted(config: LogConfig) -> LogConfig {
    LogConfig {
        cleanup_policy: crate::CleanupPolicy::COMPACT,
        ..config
    }
}

#[test]
fn a_compacted_log_refuses_records_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compacted(small_config()), LoadState::default());
    let mut keyless = RecordBatchBuilder::new(T0).compression(Compression::Gzip);
    keyless.append(Record::new(
        T0,
        Some(b"k".as_slice()),
        Some(b"v".as_slice()),
    ));
    keyless.append(Record::new(T0, None, Some(b"v".as_slice())));
    let keyless = keyless.build();
    assert!(matches!(
        log.append_as_leader(&keyless, 0, T0),
        Err(LogError::MissingKeyInCompactedTopic)
    ));
    assert_eq!(log.log_end_offset(), 0);
    log.append_as_leader(&batch(2, T0, 1), 0, T0).unwrap();
    // The same batch is fine where the policy is delete.
    log.set_config(small_config());
    log.append_as_leader(&keyless, 0, T0).unwrap();
    assert_eq!(log.log_end_offset(), 4);
}

#[test]
fn retention_by_time_and_size_only_applies_with_the_delete_policy() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(1),
        retention_bytes: Some(1),
        ..compacted(small_config())
    };
    let mut log = open(dir.path(), config.clone(), LoadState::default());
    for i in 0..30 {
        log.append_as_leader(&batch(3, T0, i), 0, T0).unwrap();
    }
    let end = log.log_end_offset();
    log.set_high_watermark(end);
    let segments = log.segment_count();
    assert!(segments > 2);
    assert_eq!(log.delete_old_segments(T0 + 60_000).unwrap(), 0);
    log.set_config(LogConfig {
        cleanup_policy: crate::CleanupPolicy {
            compact: true,
            delete: true,
        },
        ..config
    });
    assert_eq!(log.delete_old_segments(T0 + 60_000).unwrap(), segments);
}

/// The snapshot files in the partition directory.
fn snapshots(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(partition_dir(root))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snapshot"))
        .collect();
    names.sort();
    names
}

fn idempotent_batch(records: usize, sequence: i32) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(T0).producer(7, 0, sequence);
    for i in 0..records {
        b.append(Record::new(T0 + i as i64, None, Some(&[1u8; 300])));
    }
    b.build().to_vec()
}

#[test]
fn producer_state_snapshots_are_taken_where_kafka_takes_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    // A roll: a snapshot at the new segment's base offset.
    log.append_as_leader(&idempotent_batch(2, 0), 0, T0)
        .unwrap();
    log.append_as_leader(&idempotent_batch(2, 2), 0, T0)
        .unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    assert_eq!(snapshots(dir.path()), ["00000000000000000002.snapshot"]);
    let at_two = fs::read(partition_dir(dir.path()).join("00000000000000000002.snapshot")).unwrap();
    // Producer 7, epoch 0, last sequence 1, last offset 1, delta 1.
    assert_eq!(&at_two[10..18], &7i64.to_be_bytes());
    assert_eq!(&at_two[20..24], &1i32.to_be_bytes());
    assert_eq!(&at_two[24..32], &1i64.to_be_bytes());
    // Close: one at the log end; reopening and closing again adds none.
    log.close().unwrap();
    drop(log);
    let clean = LoadState {
        clean_shutdown: true,
        recovery_point: 4,
        ..LoadState::default()
    };
    let mut log = open(dir.path(), small_config(), clean);
    log.close().unwrap();
    assert_eq!(
        snapshots(dir.path()),
        [
            "00000000000000000002.snapshot",
            "00000000000000000004.snapshot"
        ]
    );
    // Truncation drops those past the new end (here the batch [2, 3]
    // goes whole) and takes one there, where there is one already.
    log.truncate_to(3).unwrap();
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(snapshots(dir.path()), ["00000000000000000002.snapshot"]);
    // Opening drops stray snapshots (not at a segment base) below the
    // last base, and takes one at the log end.
    let stray = partition_dir(dir.path()).join("00000000000000000001.snapshot");
    fs::write(stray, b"").unwrap();
    log.append_as_leader(&idempotent_batch(1, 2), 0, T0)
        .unwrap();
    drop(log);
    let log = open(dir.path(), small_config(), LoadState::default());
    assert_eq!(
        snapshots(dir.path()),
        [
            "00000000000000000002.snapshot",
            "00000000000000000003.snapshot"
        ]
    );
    drop(log);
    let mut log = open(dir.path(), small_config(), LoadState::default());
    log.truncate_fully_and_start_at(10).unwrap();
    assert!(snapshots(dir.path()).is_empty());
}

#[test]
fn the_time_index_points_at_the_record_with_the_largest_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 10_000,
        ..small_config()
    };
    let mut log = open(dir.path(), config, LoadState::default());
    let mut b = RecordBatchBuilder::new(T0);
    for ts in [T0, T0 + 9, T0 + 3] {
        b.append(Record::new(ts, None, Some(&[0u8; 400])));
    }
    log.append_as_leader(&b.build(), 0, T0).unwrap();
    log.append_as_leader(&batch(1, T0 + 1, 0), 0, T0).unwrap();
    // Compressed: the batch's last offset, as in Kafka.
    let mut b = RecordBatchBuilder::new(T0 + 20).compression(Compression::Gzip);
    for ts in [T0 + 20, T0 + 10] {
        b.append(Record::new(ts, None, Some(&[0u8; 400])));
    }
    log.append_as_leader(&b.build(), 0, T0).unwrap();
    log.roll().unwrap();
    log.close().unwrap();
    let index = fs::read(partition_dir(dir.path()).join("00000000000000000000.timeindex")).unwrap();
    let entries: Vec<(i64, i32)> = index
        .chunks(12)
        .map(|e| {
            (
                i64::from_be_bytes(e[..8].try_into().unwrap()),
                i32::from_be_bytes(e[8..].try_into().unwrap()),
            )
        })
        .collect();
    // Each batch after the first is indexed (index.interval.bytes is
    // small) with the largest timestamp so far: record 1 of the first
    // batch, then the compressed batch's, at its last offset.
    assert_eq!(entries, [(T0 + 9, 1), (T0 + 20, 5)]);
}

#[test]
fn a_wrong_max_timestamp_is_corrected_as_kafka_corrects_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), LoadState::default());
    let mut b = RecordBatchBuilder::new(T0);
    for ts in [T0, T0 + 7, T0 + 2] {
        b.append(Record::new(ts, None, Some(b"v")));
    }
    let sent = gregor_record::with_max_timestamp(&b.build(), T0 + 1);
    let info = log.append_as_leader(&sent, 0, T0).unwrap();
    assert_eq!(
        (info.max_timestamp, info.offset_of_max_timestamp),
        (T0 + 7, 1)
    );
    let stored = &read_all(&log, 0)[0].1;
    let (header, _) = gregor_record::parse_batch(stored).unwrap();
    assert_eq!(header.max_timestamp, T0 + 7);
    // Only the max timestamp and the CRC changed (and the stored offsets).
    let expected = gregor_record::with_max_timestamp(&as_stored(sent, 0, 0), T0 + 7);
    assert_eq!(stored, &expected);
}

#[test]
fn producers_idle_past_the_expiration_are_not_in_snapshots_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        producer_id_expiration_ms: 60_000,
        ..small_config()
    };
    let mut log = open(dir.path(), config.clone(), LoadState::default());
    log.append_as_leader(&idempotent_batch(1, 0), 0, T0)
        .unwrap();
    log.close().unwrap();
    drop(log);
    let clean = LoadState {
        clean_shutdown: true,
        recovery_point: 1,
        ..LoadState::default()
    };
    // A minute after its last batch (timestamped T0 + 0) the producer is
    // gone from the state loaded from the snapshot, as in Kafka.
    let mut log = PartitionLog::open(
        &partition_dir(dir.path()),
        config,
        clean,
        ManualClock::new(T0 + 60_000),
    )
    .unwrap();
    assert_eq!(log.producer_state().producer_count(), 0);
    log.append_as_leader(&batch(1, T0, 0), 0, T0).unwrap();
    assert_eq!(log.remove_expired_producers(T0 + 60_000), 0);
    log.close().unwrap();
    let snapshot =
        fs::read(partition_dir(dir.path()).join("00000000000000000002.snapshot")).unwrap();
    assert_eq!(&snapshot[6..10], &0i32.to_be_bytes(), "no producer entries");
}
