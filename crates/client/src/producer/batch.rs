//! Kafka's `ProducerBatch`: records of one partition collected into one v2
//! record batch, sent in one piece, and acknowledged (or failed) together.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::delivery::{BatchOutcome, BatchResult, Callback, DeliveryFuture, RecordSlot};
use gregor_record::Compression;
use gregor_record::{Record, RecordBatchBuilder};

/// Upper bound of the bytes a record adds to a batch besides its key, value
/// and header names and values: length (varint, ≤ 5), attributes (1),
/// timestamp delta (varlong, ≤ 10), offset delta (≤ 5), key and value
/// lengths (≤ 5 each), header count (≤ 5).
const RECORD_OVERHEAD: usize = 5 + 1 + 10 + 5 + 5 + 5 + 5;
/// Per header: name and value lengths (≤ 5 each).
const HEADER_OVERHEAD: usize = 10;

/// What a record will take in a batch, at most (Kafka's
/// `estimateSizeInBytesUpperBound`): what `max.request.size`, `batch.size`
/// and `buffer.memory` are checked against.
pub(crate) fn record_size_upper_bound(record: &Record<'_>) -> usize {
    let headers: usize = record
        .headers
        .iter()
        .map(|(name, value)| HEADER_OVERHEAD + name.len() + value.map_or(0, <[u8]>::len))
        .sum();
    RECORD_OVERHEAD
        + record.key.map_or(0, <[u8]>::len)
        + record.value.map_or(0, <[u8]>::len)
        + headers
}

/// The batch's records: still open to more, or closed into the bytes that
/// are sent (and resent, on a retry).
enum Records {
    Open(RecordBatchBuilder),
    Closed(Bytes),
}

/// A batch for one partition.
pub(crate) struct ProducerBatch {
    pub topic: String,
    pub partition: i32,
    records: Records,
    record_count: u32,
    /// The bytes reserved from `buffer.memory` for this batch's records,
    /// given back when it completes.
    pub reserved: usize,
    pub created: Instant,
    /// How often it has been sent and failed with a retriable error.
    pub attempts: u32,
    /// Not to be resent before this (`retry.backoff.ms` after a failure).
    pub retry_after: Option<Instant>,
    /// Why the last attempt failed, for the error if it then expires.
    pub last_error: Option<String>,
    outcome: Arc<BatchOutcome>,
    callbacks: Vec<(RecordSlot, Callback)>,
}

impl ProducerBatch {
    /// A batch with room for `capacity` bytes of records (`batch.size`,
    /// or the first record's size if larger) allocated up front, as Kafka
    /// takes a `batch.size` buffer from its pool.
    pub(super) fn new(
        topic: &str,
        partition: i32,
        base_timestamp: i64,
        compression: Compression,
        capacity: usize,
        now: Instant,
    ) -> Self {
        let mut builder = RecordBatchBuilder::new(base_timestamp).compression(compression);
        builder.reserve(capacity);
        ProducerBatch {
            topic: topic.to_owned(),
            partition,
            records: Records::Open(builder),
            record_count: 0,
            reserved: 0,
            created: now,
            attempts: 0,
            retry_after: None,
            last_error: None,
            outcome: Arc::new(BatchOutcome::default()),
            callbacks: Vec::new(),
        }
    }

    pub(super) fn record_count(&self) -> u32 {
        self.record_count
    }

    /// Bytes of the batch: uncompressed while open, as sent once closed.
    pub(super) fn size_in_bytes(&self) -> usize {
        match &self.records {
            Records::Open(builder) => builder.size_in_bytes(),
            Records::Closed(bytes) => bytes.len(),
        }
    }

    /// Whether a record of `size` (upper bound) fits within `batch_size`;
    /// an empty batch takes any record.
    pub(super) fn has_room_for(&self, size: usize, batch_size: usize) -> bool {
        match &self.records {
            Records::Open(builder) => {
                builder.is_empty() || builder.size_in_bytes() + size <= batch_size
            }
            Records::Closed(_) => false,
        }
    }

    /// Whether the batch should go without waiting for `linger.ms`.
    pub(super) fn is_full(&self, batch_size: usize) -> bool {
        match &self.records {
            Records::Open(builder) => builder.size_in_bytes() >= batch_size,
            Records::Closed(_) => true,
        }
    }

    /// Adds a record of `size` bytes (its upper bound, already reserved from
    /// `buffer.memory`). The caller has checked [`has_room_for`].
    ///
    /// [`has_room_for`]: Self::has_room_for
    pub(super) fn append(
        &mut self,
        record: Record<'_>,
        size: usize,
        callback: Option<Callback>,
    ) -> DeliveryFuture {
        let slot = RecordSlot {
            partition: self.partition,
            index: self.record_count,
            timestamp: record.timestamp,
        };
        if let Records::Open(builder) = &mut self.records {
            builder.append(record);
        }
        self.record_count += 1;
        self.reserved += size;
        if let Some(callback) = callback {
            self.callbacks.push((slot, callback));
        }
        DeliveryFuture::new(Arc::clone(&self.outcome), slot)
    }

    /// The batch's bytes, closing it first (which compresses it): from
    /// then on it takes no more records, and every attempt sends the same
    /// bytes.
    pub(super) fn close(&mut self) -> Bytes {
        if let Records::Open(builder) = &mut self.records {
            let builder = std::mem::replace(builder, RecordBatchBuilder::new(0));
            self.records = Records::Closed(builder.build());
        }
        match &self.records {
            Records::Closed(bytes) => bytes.clone(),
            Records::Open(_) => unreachable!("closed just above"),
        }
    }

    pub(super) fn outcome(&self) -> &Arc<BatchOutcome> {
        &self.outcome
    }

    /// Tells every record of the batch its fate.
    pub(super) fn complete(mut self, result: BatchResult) {
        for (slot, callback) in self.callbacks.drain(..) {
            callback(slot.metadata(result.clone()));
        }
        self.outcome.complete(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_record::decode_batch;

    fn record<'a>(value: &'a [u8]) -> Record<'a> {
        Record::new(10, Some(b"k".as_slice()), Some(value))
    }

    #[test]
    fn the_size_bound_holds_for_real_records() {
        let mut b = ProducerBatch::new("t", 0, 10, Compression::None, 0, Instant::now());
        let before = b.size_in_bytes();
        let mut r = record(b"value");
        r.headers = vec![("h", Some(b"v".as_slice())), ("n", None)];
        let bound = record_size_upper_bound(&r);
        drop(b.append(r, bound, None));
        let added = b.size_in_bytes() - before;
        assert!(added <= bound, "{added} > {bound}");
        // Loose by at most the varints' unused bytes.
        assert!(
            bound - added < RECORD_OVERHEAD + 2 * HEADER_OVERHEAD,
            "{added} vs {bound}"
        );
    }

    #[test]
    fn a_batch_fills_up_to_batch_size_and_always_takes_one_record() {
        let mut b = ProducerBatch::new("t", 0, 10, Compression::None, 0, Instant::now());
        let big = vec![0; 100];
        let size = record_size_upper_bound(&record(&big));
        // Empty: takes even a record larger than batch.size.
        assert!(b.has_room_for(size, 10));
        let batch_size = 400;
        let mut n = 0;
        while b.has_room_for(size, batch_size) {
            drop(b.append(record(&big), size, None));
            n += 1;
        }
        assert!(n >= 2, "{n}");
        assert!(b.size_in_bytes() <= batch_size);
        assert!(b.size_in_bytes() + size > batch_size);
        assert_eq!(b.record_count(), n);
        assert_eq!(b.reserved, n as usize * size);
    }

    #[test]
    fn closing_builds_the_batch_once_and_takes_no_more_records() {
        let mut b = ProducerBatch::new("t", 2, 10, Compression::Gzip, 0, Instant::now());
        drop(b.append(record(b"one"), 40, None));
        drop(b.append(record(b"two"), 40, None));
        let bytes = b.close();
        assert_eq!(b.close(), bytes);
        assert!(!b.has_room_for(1, usize::MAX));
        assert!(b.is_full(usize::MAX));
        let records = decode_batch(&bytes).unwrap();
        let values: Vec<_> = records.iter().map(|r| r.value.clone().unwrap()).collect();
        assert_eq!(values, [b"one".as_slice(), b"two".as_slice()]);
    }

    #[tokio::test]
    async fn completing_runs_callbacks_and_resolves_futures() {
        let mut b = ProducerBatch::new("t", 1, 10, Compression::None, 0, Instant::now());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let first = b.append(record(b"a"), 40, None);
        let s = Arc::clone(&seen);
        drop(b.append(
            record(b"b"),
            40,
            Some(Box::new(move |r| s.lock().unwrap().push(r.unwrap().offset))),
        ));
        b.complete(Ok(super::super::delivery::BatchAck {
            base_offset: 7,
            log_append_time: -1,
        }));
        assert_eq!(*seen.lock().unwrap(), [8]);
        assert_eq!(first.await.unwrap().offset, 7);
    }
}
