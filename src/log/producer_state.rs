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
//! The state is not persisted (Kafka writes `.snapshot` files): it is rebuilt
//! from the batch headers of the log when the log is opened or truncated.

use std::collections::{HashMap, VecDeque};

use crate::record::BatchHeader;

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

    /// Forgets everything (the log was emptied, or is about to be re-read).
    pub fn clear(&mut self) {
        self.producers.clear();
    }
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
