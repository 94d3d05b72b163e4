//! Idempotent-producer state of one partition (Kafka's
//! `ProducerStateManager` without transactions): for every producer id that
//! wrote to the log, its epoch and the sequence and offset ranges of its last
//! [`NUM_BATCHES_TO_RETAIN`] batches.
//!
//! On a leader append each batch carrying a producer id is checked against it,
//! following Kafka 2.8's `ProducerAppendInfo`:
//! * a batch with the epoch and the exact sequence range of a cached batch is
//!   a retry of a batch already in the log: it is not appended again, and the
//!   producer is answered with the original offsets (Kafka's
//!   `findDuplicateBatch`);
//! * an epoch below the producer's is INVALID_PRODUCER_EPOCH;
//! * in the same epoch the first sequence must follow the last one (with
//!   wraparound after `i32::MAX`), else OUT_OF_ORDER_SEQUENCE_NUMBER;
//! * a new epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER;
//! * a producer the partition does not know (new, or all of whose batches
//!   retention deleted) is accepted with any sequence, as Kafka has done since
//!   KIP-360 (2.5): UNKNOWN_PRODUCER_ID is never returned.
//!
//! The state is rebuilt from the batch headers of the log when the log is
//! opened or truncated. It is also written, as Kafka 2.8 writes it, to
//! `<offset>.snapshot` files (Kafka's `ProducerStateManager.writeSnapshot`,
//! snapshot version 1) when a segment rolls and when the log closes, so
//! that the partition directory is the one Kafka would leave (and Kafka can
//! take it over); gregor itself does not read them back.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use gregor_record::BatchHeader;

use super::error::{LogError, Result};

/// How many of a producer's latest batches are remembered, as in Kafka; it
/// matches the largest `max.in.flight.requests.per.connection` an idempotent
/// producer may use.
pub const NUM_BATCHES_TO_RETAIN: usize = 5;

/// `producer_id` of a batch from a producer that is not idempotent.
pub const NO_PRODUCER_ID: i64 = -1;

/// Attribute bit of a transactional batch.
const TRANSACTIONAL_FLAG: i16 = 0x10;

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerStateError {
    /// The producer has been fenced by a newer epoch of the same id.
    #[error("producer {producer_id}: epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    /// A gap or a reordering in the producer's sequence numbers.
    #[error(
        "producer {producer_id} epoch {epoch}: sequence {first_seq} does not follow {last_seq}"
    )]
    OutOfOrderSequence {
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    },
    /// A batch with a producer id but no sequence number, or a
    /// transactional batch (this broker does not support transactions).
    #[error("producer {producer_id}: invalid batch: {reason}")]
    InvalidBatch {
        producer_id: i64,
        reason: &'static str,
    },
}

/// One batch a producer appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// What the partition knows about one producer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    /// Oldest first, at most [`NUM_BATCHES_TO_RETAIN`].
    batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    fn last_offset(&self) -> Option<i64> {
        self.batches.back().map(|b| b.last_offset)
    }

    /// Kafka's `addBatch`: a new epoch forgets the old epoch's batches.
    fn add(&mut self, epoch: i16, batch: BatchMetadata) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() == NUM_BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
    }
}

/// The producer fields of a batch about to be appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
}

impl ProducerBatch {
    /// The producer fields of `header`, `None` for a batch without a
    /// producer id (a producer that is not idempotent), or for a control
    /// batch (which carries no data sequence).
    pub fn of(header: &BatchHeader) -> Option<ProducerBatch> {
        if header.producer_id <= NO_PRODUCER_ID || header.is_control() {
            return None;
        }
        Some(ProducerBatch {
            producer_id: header.producer_id,
            epoch: header.producer_epoch,
            first_seq: header.base_sequence,
            last_seq: increment_sequence(header.base_sequence, header.last_offset_delta),
        })
    }
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: sequences wrap to 0 after
/// `i32::MAX`.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Whether `next` directly follows `last`.
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// Suffix of producer state snapshot files (Kafka's
/// `Log.ProducerSnapshotFileSuffix`).
pub const SNAPSHOT_SUFFIX: &str = ".snapshot";
/// The snapshot format Kafka 2.8 writes.
const SNAPSHOT_VERSION: i16 = 1;
/// Where the CRC-32C'd part of a snapshot starts (after version and CRC).
const SNAPSHOT_ENTRIES_AT: usize = 6;

/// `<dir>/<20-digit offset>.snapshot`.
pub fn snapshot_file(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}{SNAPSHOT_SUFFIX}"))
}

/// The offsets of the snapshot files in `dir`, ascending.
pub fn list_snapshots(dir: &Path) -> Result<Vec<i64>> {
    let mut offsets = Vec::new();
    for entry in fs::read_dir(dir).map_err(LogError::io(dir))? {
        let entry = entry.map_err(LogError::io(dir))?;
        let name = entry.file_name();
        let offset = name
            .to_str()
            .and_then(|n| n.strip_suffix(SNAPSHOT_SUFFIX))
            .and_then(|stem| stem.parse::<i64>().ok());
        offsets.extend(offset);
    }
    offsets.sort_unstable();
    Ok(offsets)
}

/// Deletes the snapshot at `offset`, if there is one.
pub fn delete_snapshot(dir: &Path, offset: i64) -> Result<()> {
    let path = snapshot_file(dir, offset);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LogError::io(path)(e)),
        _ => Ok(()),
    }
}

/// The producer state of one partition.
#[derive(Debug, Default)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStateManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many producers the partition knows.
    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// The producer's epoch and last sequence, if known.
    pub fn last_sequence(&self, producer_id: i64) -> Option<(i16, i32)> {
        let entry = self.producers.get(&producer_id)?;
        Some((entry.epoch, entry.last_seq()?))
    }

    /// The last offset of each producer's latest batch: the batches the log
    /// cleaner keeps (if empty) so that the producer's state survives
    /// cleaning and a reload from the log.
    pub fn last_batch_offsets(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.producers
            .iter()
            .filter_map(|(id, entry)| Some((*id, entry.last_offset()?)))
    }

    /// The cached batch `batch` repeats, if it is a retry of one of the
    /// producer's last batches (same epoch, same sequence range).
    pub fn find_duplicate(&self, batch: &ProducerBatch) -> Option<BatchMetadata> {
        let entry = self.producers.get(&batch.producer_id)?;
        if entry.epoch != batch.epoch {
            return None;
        }
        entry
            .batches
            .iter()
            .find(|b| b.first_seq == batch.first_seq && b.last_seq == batch.last_seq)
            .copied()
    }

    /// Checks that a client's batch may be appended (Kafka's
    /// `ProducerAppendInfo.checkProducerEpoch` and `checkSequence`).
    /// `pending` is the producer's epoch and last sequence after the batches
    /// of the same request that precede this one, if there are any.
    pub fn validate(
        &self,
        batch: &ProducerBatch,
        attributes: i16,
        pending: Option<(i16, i32)>,
    ) -> Result<(), ProducerStateError> {
        let producer_id = batch.producer_id;
        if batch.first_seq < 0 {
            return Err(ProducerStateError::InvalidBatch {
                producer_id,
                reason: "no sequence number",
            });
        }
        if attributes & TRANSACTIONAL_FLAG != 0 {
            return Err(ProducerStateError::InvalidBatch {
                producer_id,
                reason: "transactions are not supported",
            });
        }
        let current = self.producers.get(&producer_id);
        let current_epoch = current.map_or(-1, |e| e.epoch);
        let updated_epoch = pending.map_or(current_epoch, |(epoch, _)| epoch);
        if batch.epoch < updated_epoch {
            return Err(ProducerStateError::InvalidProducerEpoch {
                producer_id,
                epoch: batch.epoch,
                current: updated_epoch,
            });
        }
        let out_of_order = |last_seq| ProducerStateError::OutOfOrderSequence {
            producer_id,
            epoch: batch.epoch,
            first_seq: batch.first_seq,
            last_seq,
        };
        if batch.epoch != updated_epoch {
            // A new epoch starts over at 0 (unless the producer is unknown).
            if batch.first_seq != 0 && updated_epoch != -1 {
                return Err(out_of_order(-1));
            }
            return Ok(());
        }
        let last_seq = match (pending, current) {
            (Some((_, seq)), _) => seq,
            (None, Some(entry)) => entry.last_seq().unwrap_or(-1),
            (None, None) => -1,
        };
        // A producer whose batches are all gone (retention, DeleteRecords)
        // may continue with any sequence. (Kafka also lets later batches of
        // that same request skip sequences; gregor checks them.)
        let known = pending.is_some() || current.is_some();
        if known && !in_sequence(last_seq, batch.first_seq) {
            return Err(out_of_order(last_seq));
        }
        Ok(())
    }

    /// Records a batch now in the log (appended as leader, or read back when
    /// the log is loaded).
    pub fn update(&mut self, batch: &ProducerBatch, first_offset: i64, last_offset: i64, ts: i64) {
        let metadata = BatchMetadata {
            first_seq: batch.first_seq,
            last_seq: batch.last_seq,
            first_offset,
            last_offset,
            max_timestamp: ts,
        };
        self.producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: batch.epoch,
                batches: VecDeque::with_capacity(NUM_BATCHES_TO_RETAIN),
            })
            .add(batch.epoch, metadata);
    }

    /// Records a batch header read from the log, if it has a producer id.
    pub fn load_batch(&mut self, header: &BatchHeader) {
        if let Some(batch) = ProducerBatch::of(header) {
            self.update(
                &batch,
                header.base_offset,
                header.last_offset(),
                header.max_timestamp,
            );
        }
    }

    /// Forgets producers whose last batch lies below the new log start
    /// offset (Kafka's `truncateHead`, run when retention deletes segments).
    pub fn truncate_head(&mut self, log_start_offset: i64) {
        self.producers
            .retain(|_, e| e.last_offset().is_some_and(|o| o >= log_start_offset));
    }

    /// Forgets the producers whose last batch (its max timestamp) is
    /// `expiration_ms` or more before `now_ms` and, if `at_or_below` is
    /// given, ends at or below that offset (Kafka's `isProducerExpired`,
    /// applied periodically and to the producers a snapshot holds when a
    /// log is opened). Returns how many were forgotten.
    pub fn remove_expired(
        &mut self,
        now_ms: i64,
        expiration_ms: u64,
        at_or_below: Option<i64>,
    ) -> usize {
        let expiration = i64::try_from(expiration_ms).unwrap_or(i64::MAX);
        let before = self.producers.len();
        self.producers.retain(|_, entry| {
            let Some(last) = entry.batches.back() else {
                return true;
            };
            let expired = now_ms.saturating_sub(last.max_timestamp) >= expiration;
            !(expired && at_or_below.is_none_or(|o| last.last_offset <= o))
        });
        before - self.producers.len()
    }

    /// Forgets everything (the log was emptied, or is about to be re-read).
    pub fn clear(&mut self) {
        self.producers.clear();
    }

    /// The state as Kafka 2.8 serialises it: version (int16), CRC-32C of
    /// what follows (uint32), then an array (int32 count) of entries of
    /// producer id, epoch, last sequence, last offset, offset delta of the
    /// last batch, its max timestamp, coordinator epoch and first offset
    /// of an ongoing transaction (none: -1). Entries come in the order
    /// Kafka's Scala `mutable.HashMap` of producers iterates them.
    pub fn snapshot(&self) -> Vec<u8> {
        const ENTRY: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;
        let mut buf = Vec::with_capacity(SNAPSHOT_ENTRIES_AT + 4 + ENTRY * self.producers.len());
        buf.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(&(self.producers.len() as i32).to_be_bytes());
        for id in scala_hash_map_order(self.producers.keys().copied()) {
            let entry = &self.producers[&id];
            let last = entry.batches.back();
            buf.extend_from_slice(&id.to_be_bytes());
            buf.extend_from_slice(&entry.epoch.to_be_bytes());
            buf.extend_from_slice(&last.map_or(-1, |b| b.last_seq).to_be_bytes());
            buf.extend_from_slice(&last.map_or(-1, |b| b.last_offset).to_be_bytes());
            let delta = last.map_or(0, |b| (b.last_offset - b.first_offset) as i32);
            buf.extend_from_slice(&delta.to_be_bytes());
            buf.extend_from_slice(&last.map_or(-1, |b| b.max_timestamp).to_be_bytes());
            buf.extend_from_slice(&(-1i32).to_be_bytes()); // coordinator epoch
            buf.extend_from_slice(&(-1i64).to_be_bytes()); // no transaction
        }
        let crc = crc32c::crc32c(&buf[SNAPSHOT_ENTRIES_AT..]);
        buf[2..SNAPSHOT_ENTRIES_AT].copy_from_slice(&crc.to_be_bytes());
        buf
    }

    /// Writes [`snapshot`](Self::snapshot) to `<dir>/<offset>.snapshot`
    /// and fsyncs it (Kafka's `takeSnapshot`).
    pub fn write_snapshot(&self, dir: &Path, offset: i64) -> Result<()> {
        let path = snapshot_file(dir, offset);
        let mut file = File::create(&path).map_err(LogError::io(&path))?;
        file.write_all(&self.snapshot())
            .map_err(LogError::io(&path))?;
        file.sync_all().map_err(LogError::io(&path))
    }
}

/// Producer ids in the order a Scala 2.13 `mutable.HashMap[Long, _]` holding
/// them iterates: by bucket (the improved hash of the key's `##`, masked by
/// the table size: 16 doubled while the map is at least 3/4 full), then by
/// improved hash within a bucket. Kafka writes snapshot entries so.
fn scala_hash_map_order(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let hash = |id: i64| {
        // Scala's `##` of a Long: the int value if it fits, else Java's hash.
        let h = if i64::from(id as i32) == id {
            id as i32
        } else {
            (id ^ (id >> 32)) as i32
        };
        h ^ ((h as u32) >> 16) as i32
    };
    let mut ids: Vec<i64> = ids.collect();
    let mut table = 16usize;
    while ids.len() * 4 >= table * 3 {
        table *= 2;
    }
    let mask = (table - 1) as u32;
    ids.sort_by_key(|id| (hash(*id) as u32 & mask, hash(*id)));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer_id: i64, epoch: i16, first_seq: i32, count: i32) -> ProducerBatch {
        ProducerBatch {
            producer_id,
            epoch,
            first_seq,
            last_seq: increment_sequence(first_seq, count - 1),
        }
    }

    fn append(
        state: &mut ProducerStateManager,
        b: &ProducerBatch,
        offset: i64,
    ) -> Result<(), ProducerStateError> {
        state.validate(b, 0, None)?;
        let count = i64::from(b.last_seq.wrapping_sub(b.first_seq)) + 1;
        state.update(b, offset, offset + count - 1, 0);
        Ok(())
    }

    #[test]
    fn snapshots_are_written_as_kafka_2_8_writes_them() {
        let mut s = ProducerStateManager::new();
        assert_eq!(
            s.snapshot(),
            [0, 1, 0x48, 0x67, 0x4b, 0xc7, 0, 0, 0, 0],
            "version 1, the CRC-32C of an empty array, no entries"
        );
        // Kafka's snapshot of these two producers (entries in its order).
        s.update(&batch(4242, 0, 0, 3), 10, 12, 1_700_000_000_123);
        s.update(&batch(17, 2, 5, 2), 13, 14, 1_700_000_000_456);
        let bytes = s.snapshot();
        assert_eq!(bytes.len(), 10 + 2 * 46);
        assert_eq!(&bytes[6..10], &2i32.to_be_bytes());
        let entry = |n: usize| &bytes[10 + 46 * n..10 + 46 * (n + 1)];
        let mut first = Vec::new();
        first.extend_from_slice(&17i64.to_be_bytes());
        first.extend_from_slice(&2i16.to_be_bytes());
        first.extend_from_slice(&6i32.to_be_bytes()); // last sequence
        first.extend_from_slice(&14i64.to_be_bytes()); // last offset
        first.extend_from_slice(&1i32.to_be_bytes()); // offset delta
        first.extend_from_slice(&1_700_000_000_456i64.to_be_bytes());
        first.extend_from_slice(&(-1i32).to_be_bytes());
        first.extend_from_slice(&(-1i64).to_be_bytes());
        assert_eq!(entry(0), first.as_slice());
        assert_eq!(&entry(1)[..8], &4242i64.to_be_bytes());
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        assert_eq!(crc, crc32c::crc32c(&bytes[6..]));
    }

    #[test]
    fn snapshot_entries_follow_scala_hash_map_order() {
        // Bucket = id & 15 for small ids in a 16-slot table.
        assert_eq!(
            scala_hash_map_order([4242, 17, 1].into_iter()),
            [1, 17, 4242]
        );
        assert_eq!(scala_hash_map_order([32, 16, 1].into_iter()), [16, 32, 1]);
        // Twelve entries grow the table to 32 slots: 16 and 48 part.
        let ids: Vec<i64> = (0..11).map(|i| i * 16).chain([5]).collect();
        let order = scala_hash_map_order(ids.into_iter());
        assert_eq!(&order[..3], &[0, 32, 64]);
        // Ids past i32 hash as Java's Long.hashCode, improved.
        let big = (1i64 << 32) + 3; // hash 1 ^ 3 = 2
        assert_eq!(scala_hash_map_order([3, big].into_iter()), [big, 3]);
    }

    #[test]
    fn producers_idle_past_the_expiration_are_forgotten() {
        let mut s = ProducerStateManager::new();
        s.update(&batch(1, 0, 0, 1), 0, 0, 1_000);
        s.update(&batch(2, 0, 0, 1), 1, 1, 5_000);
        s.update(&batch(3, 0, 0, 1), 2, 2, 1_000);
        // Only those ending at or below offset 1 are looked at.
        assert_eq!(s.remove_expired(11_000, 10_000, Some(1)), 1);
        assert_eq!(s.last_sequence(1), None);
        assert_eq!(s.producer_count(), 2);
        // 9,999 ms is not yet 10,000.
        assert_eq!(s.remove_expired(14_999, 10_000, None), 1);
        assert_eq!(s.last_sequence(2), Some((0, 0)));
        assert_eq!(s.remove_expired(15_000, 10_000, None), 1);
        assert_eq!(s.producer_count(), 0);
    }

    #[test]
    fn sequences_wrap_after_max() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert!(in_sequence(i32::MAX, 0));
        assert!(in_sequence(4, 5));
        assert!(!in_sequence(4, 6));
    }

    #[test]
    fn unknown_producer_starts_anywhere_then_must_follow() {
        let mut s = ProducerStateManager::new();
        append(&mut s, &batch(7, 0, 42, 3), 0).unwrap();
        assert_eq!(s.last_sequence(7), Some((0, 44)));
        append(&mut s, &batch(7, 0, 45, 1), 3).unwrap();
        assert!(matches!(
            append(&mut s, &batch(7, 0, 47, 1), 4),
            Err(ProducerStateError::OutOfOrderSequence { last_seq: 45, .. })
        ));
    }

    #[test]
    fn duplicates_are_found_among_the_last_five() {
        let mut s = ProducerStateManager::new();
        for i in 0..7 {
            append(&mut s, &batch(1, 0, i * 2, 2), i64::from(i) * 2).unwrap();
        }
        // Batches 2..=6 are cached; 0 and 1 have been pushed out.
        let dup = s.find_duplicate(&batch(1, 0, 4, 2)).unwrap();
        assert_eq!((dup.first_offset, dup.last_offset), (4, 5));
        assert!(s.find_duplicate(&batch(1, 0, 2, 2)).is_none());
        // Another range or epoch is not a duplicate.
        assert!(s.find_duplicate(&batch(1, 0, 4, 1)).is_none());
        assert!(s.find_duplicate(&batch(1, 1, 4, 2)).is_none());
    }

    #[test]
    fn older_epoch_is_fenced_and_new_epoch_starts_at_zero() {
        let mut s = ProducerStateManager::new();
        append(&mut s, &batch(3, 2, 0, 1), 0).unwrap();
        assert!(matches!(
            append(&mut s, &batch(3, 1, 1, 1), 1),
            Err(ProducerStateError::InvalidProducerEpoch { current: 2, .. })
        ));
        assert!(matches!(
            append(&mut s, &batch(3, 3, 5, 1), 1),
            Err(ProducerStateError::OutOfOrderSequence { .. })
        ));
        append(&mut s, &batch(3, 3, 0, 1), 1).unwrap();
        assert_eq!(s.last_sequence(3), Some((3, 0)));
    }

    #[test]
    fn pending_batches_of_the_same_request_count() {
        let s = ProducerStateManager::new();
        let second = batch(9, 0, 3, 1);
        assert!(s.validate(&second, 0, Some((0, 2))).is_ok());
        assert!(s.validate(&second, 0, Some((0, 1))).is_err());
        assert!(s.validate(&batch(9, 0, 0, 1), 0, Some((1, 0))).is_err());
    }

    #[test]
    fn missing_sequence_and_transactions_are_refused() {
        let s = ProducerStateManager::new();
        assert!(matches!(
            s.validate(&batch(1, 0, -1, 1), 0, None),
            Err(ProducerStateError::InvalidBatch { .. })
        ));
        assert!(matches!(
            s.validate(&batch(1, 0, 0, 1), TRANSACTIONAL_FLAG, None),
            Err(ProducerStateError::InvalidBatch { .. })
        ));
    }

    #[test]
    fn truncate_head_forgets_producers_below_log_start() {
        let mut s = ProducerStateManager::new();
        append(&mut s, &batch(1, 0, 0, 5), 0).unwrap();
        append(&mut s, &batch(2, 0, 0, 5), 5).unwrap();
        s.truncate_head(5);
        assert_eq!(s.producer_count(), 1);
        assert_eq!(s.last_sequence(1), None);
        // Producer 1 is unknown again: any sequence is accepted.
        append(&mut s, &batch(1, 0, 17, 1), 10).unwrap();
    }
}
