//! Kafka's `RecordAccumulator`: records wait here, in one queue of batches
//! per partition, until the sender drains them.
//!
//! `send` appends to the newest batch of the record's partition while it
//! has room under `batch.size`, else starts a new one. The sender drains
//! a partition's oldest batch once it is *sendable*: full (or followed by
//! another batch), older than `linger.ms`, or wanted now by a `flush` or
//! `close`; and once its partition's leader is known and has room for
//! another request in flight. A drain takes at most one batch per
//! partition and at most `max.request.size` bytes per broker, starting at a
//! different partition each time so that none is starved. Batches older
//! than `delivery.timeout.ms` expire here.
//!
//! `buffer.memory` bounds the bytes of all records not yet acknowledged:
//! `send` reserves a record's size before appending it and waits up to
//! `max.block.ms` for room.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use super::batch::ProducerBatch;
use super::delivery::{BatchOutcome, BatchResult, Callback, DeliveryFuture};
use super::metadata::{Snapshot, TopicPartitions};
use super::{ProduceError, ProducerConfig};
use crate::partitioner::StickyPartitioner;
use gregor_record::Compression;
use gregor_record::Record;

/// How many incomplete outcomes accumulate before completed ones are
/// pruned (then twice as many as remain).
const MIN_PRUNE_AT: usize = 1024;

/// Where a record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Named by the record, or given by its key's hash.
    Partition(i32),
    /// A keyless record: the sticky partition.
    Sticky,
}

/// What the sender takes away in one pass.
#[derive(Default)]
pub(crate) struct Drained {
    /// One request's batches per broker id.
    pub requests: Vec<(i32, Vec<ProducerBatch>)>,
    /// Batches past `delivery.timeout.ms`, to fail.
    pub expired: Vec<ProducerBatch>,
    /// Some batch waits for a partition leader nobody knows yet.
    pub unknown_leaders: bool,
    /// When a batch left behind becomes sendable or expires.
    pub next_check: Option<Instant>,
}

/// The settings the accumulator works by.
#[derive(Debug, Clone)]
struct Limits {
    batch_size: usize,
    linger: Duration,
    compression: Compression,
    delivery_timeout: Duration,
    retry_backoff: Duration,
    max_request_size: usize,
    buffer_memory: usize,
}

pub(crate) struct RecordAccumulator {
    limits: Limits,
    inner: Mutex<Inner>,
    /// `buffer.memory`, one permit per byte.
    memory: Semaphore,
    /// Wakes the sender: a batch became sendable, or a flush or close
    /// began.
    sender_wakeup: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    topics: Vec<TopicQueues>,
    /// Position in `topics` by name.
    index: HashMap<String, usize>,
    sticky: StickyPartitioner,
    /// Outcomes of batches not known to be complete, oldest first: what a
    /// flush waits for. Completed ones are pruned now and then.
    incomplete: Vec<Arc<BatchOutcome>>,
    prune_at: usize,
    /// Flushes under way: while any is, every batch is sendable.
    flushes: usize,
    closed: bool,
    /// Where the next drain starts, so that no partition is starved.
    drain_start: usize,
}

struct TopicQueues {
    name: String,
    /// Batches per partition id, oldest first; only the newest may be open.
    partitions: Vec<VecDeque<ProducerBatch>>,
}

/// A partition whose oldest batch can go now.
struct Candidate {
    topic: usize,
    partition: usize,
    leader: i32,
    size: usize,
}

impl RecordAccumulator {
    pub(super) fn new(config: &ProducerConfig, sender_wakeup: Arc<Notify>) -> Self {
        RecordAccumulator {
            limits: Limits {
                batch_size: config.batch_size,
                linger: config.linger,
                compression: config.compression,
                delivery_timeout: config.delivery_timeout,
                retry_backoff: config.retry_backoff,
                max_request_size: config.max_request_size,
                buffer_memory: config.buffer_memory,
            },
            inner: Mutex::new(Inner {
                prune_at: MIN_PRUNE_AT,
                ..Inner::default()
            }),
            memory: Semaphore::new(config.buffer_memory),
            sender_wakeup,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves `size` bytes of `buffer.memory`, waiting until `deadline`
    /// (`max.block.ms`) for acknowledgements to free them.
    pub(super) async fn reserve(
        &self,
        size: usize,
        deadline: tokio::time::Instant,
        max_block: Duration,
    ) -> Result<(), ProduceError> {
        let too_large = || ProduceError::RecordTooLarge {
            size,
            max: self.limits.buffer_memory,
            key: "buffer.memory",
        };
        let permits = u32::try_from(size).map_err(|_| too_large())?;
        if size > self.limits.buffer_memory {
            return Err(too_large());
        }
        let permit = match self.memory.try_acquire_many(permits) {
            Ok(permit) => permit,
            Err(_) => {
                match tokio::time::timeout_at(deadline, self.memory.acquire_many(permits)).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(ProduceError::Closed),
                    Err(_) => {
                        return Err(ProduceError::BufferExhausted {
                            buffer_memory: self.limits.buffer_memory,
                            max_block,
                        })
                    }
                }
            }
        };
        // Given back by `release` once the record's batch completes.
        permit.forget();
        Ok(())
    }

    /// Gives back `size` bytes of `buffer.memory`.
    pub(super) fn release(&self, size: usize) {
        self.memory.add_permits(size);
    }

    /// Appends a record to its partition's newest batch, or to a new one.
    /// `size` is its upper bound, already reserved. Fails only when the
    /// producer is closed (the caller then releases `size`).
    pub(super) fn append(
        &self,
        topic: &str,
        target: Target,
        partitions: &TopicPartitions,
        record: Record<'_>,
        size: usize,
        callback: Option<Callback>,
    ) -> Result<DeliveryFuture, ProduceError> {
        let limits = &self.limits;
        let mut guard = self.lock();
        if guard.closed {
            return Err(ProduceError::Closed);
        }
        let inner = &mut *guard;
        let count = partitions.partition_count();
        let t = inner.topic_index(topic, count);
        let partition = match target {
            Target::Partition(p) => p,
            Target::Sticky => {
                let sticky = inner.sticky.partition(topic, count, &partitions.available);
                let has_room = inner.topics[t]
                    .partitions
                    .get(sticky as usize)
                    .and_then(VecDeque::back)
                    .is_some_and(|b| b.has_room_for(size, limits.batch_size));
                if has_room {
                    sticky
                } else {
                    // A new batch would start here: move on first (KIP-480).
                    inner
                        .sticky
                        .on_new_batch(topic, sticky, count, &partitions.available)
                }
            }
        };
        let Some(queue) = usize::try_from(partition)
            .ok()
            .and_then(|p| inner.topics[t].partitions.get_mut(p))
        else {
            return Err(ProduceError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
                partitions: count,
            });
        };
        let new_batch = !queue
            .back()
            .is_some_and(|b| b.has_room_for(size, limits.batch_size));
        if new_batch {
            let batch = ProducerBatch::new(
                topic,
                partition,
                record.timestamp,
                limits.compression,
                limits.batch_size.max(size),
                Instant::now(),
            );
            inner.incomplete.push(Arc::clone(batch.outcome()));
            queue.push_back(batch);
        }
        let Some(batch) = queue.back_mut() else {
            unreachable!("a batch was pushed above if there was none");
        };
        let future = batch.append(record, size, callback);
        // The sender needs to know of a new batch (it may be sendable
        // already, or its linger.ms starts) and of a full one.
        let wake = new_batch || batch.is_full(limits.batch_size);
        if inner.incomplete.len() >= inner.prune_at {
            inner.incomplete.retain(|o| !o.is_done());
            inner.prune_at = (inner.incomplete.len() * 2).max(MIN_PRUNE_AT);
        }
        drop(guard);
        if wake {
            self.sender_wakeup.notify_waiters();
        }
        Ok(future)
    }

    /// Takes the sendable batches whose leader `has_room` for another
    /// request, and the expired ones.
    pub(super) fn drain(
        &self,
        now: Instant,
        metadata: &Snapshot,
        mut has_room: impl FnMut(i32) -> bool,
    ) -> Drained {
        let limits = &self.limits;
        let mut drained = Drained::default();
        let mut inner = self.lock();
        let inner = &mut *inner;
        let send_now = inner.flushes > 0 || inner.closed;
        let mut candidates = Vec::new();
        for (t, queues) in inner.topics.iter_mut().enumerate() {
            let topic = metadata.topics.get(&queues.name);
            for (p, queue) in queues.partitions.iter_mut().enumerate() {
                while queue
                    .front()
                    .is_some_and(|b| now >= b.created + limits.delivery_timeout)
                {
                    drained.expired.extend(queue.pop_front());
                }
                let Some(batch) = queue.front() else {
                    continue;
                };
                let expires = batch.created + limits.delivery_timeout;
                drained.next_check = earliest(drained.next_check, expires);
                let Some(leader) = topic.and_then(|t| t.leader(p as i32)) else {
                    drained.unknown_leaders = true;
                    continue;
                };
                if let Some(retry_after) = batch.retry_after.filter(|at| now < *at) {
                    drained.next_check = earliest(drained.next_check, retry_after);
                    continue;
                }
                let lingered = batch.created + limits.linger;
                let sendable = send_now
                    || queue.len() > 1
                    || batch.is_full(limits.batch_size)
                    || batch.retry_after.is_some()
                    || now >= lingered;
                if !sendable {
                    drained.next_check = earliest(drained.next_check, lingered);
                } else if has_room(leader) {
                    candidates.push(Candidate {
                        topic: t,
                        partition: p,
                        leader,
                        size: batch.size_in_bytes(),
                    });
                }
            }
        }
        if candidates.is_empty() {
            return drained;
        }
        let start = inner.drain_start % candidates.len();
        inner.drain_start = inner.drain_start.wrapping_add(1);
        let mut bytes: HashMap<i32, usize> = HashMap::new();
        for c in candidates[start..].iter().chain(&candidates[..start]) {
            let used = bytes.entry(c.leader).or_insert(0);
            // A request takes its first batch whatever its size.
            if *used > 0 && *used + c.size > limits.max_request_size {
                continue;
            }
            *used += c.size;
            let queue = &mut inner.topics[c.topic].partitions[c.partition];
            let Some(batch) = queue.pop_front() else {
                continue;
            };
            match drained
                .requests
                .iter_mut()
                .find(|(node, _)| *node == c.leader)
            {
                Some((_, batches)) => batches.push(batch),
                None => drained.requests.push((c.leader, vec![batch])),
            }
        }
        drained
    }

    /// Puts a batch that failed with a retriable error back at the front of
    /// its partition's queue, to be resent after `retry.backoff.ms`.
    pub(super) fn reenqueue(&self, mut batch: ProducerBatch, error: String) {
        let now = Instant::now();
        batch.attempts += 1;
        batch.retry_after = Some(now + self.limits.retry_backoff);
        batch.last_error = Some(error);
        let mut inner = self.lock();
        let t = inner.topic_index(&batch.topic, batch.partition as usize + 1);
        inner.topics[t].partitions[batch.partition as usize].push_front(batch);
        drop(inner);
        self.sender_wakeup.notify_waiters();
    }

    /// Tells a batch's records their fate and frees their memory.
    pub(super) fn complete(&self, batch: ProducerBatch, result: BatchResult) {
        let reserved = batch.reserved;
        batch.complete(result);
        self.release(reserved);
    }

    /// Makes every batch sendable until the returned guard is dropped, and
    /// returns the outcomes to wait for: every batch not yet complete.
    pub(super) fn begin_flush(&self) -> (FlushGuard<'_>, Vec<Arc<BatchOutcome>>) {
        let mut inner = self.lock();
        inner.flushes += 1;
        inner.incomplete.retain(|o| !o.is_done());
        let pending = inner.incomplete.clone();
        drop(inner);
        self.sender_wakeup.notify_waiters();
        (FlushGuard { accumulator: self }, pending)
    }

    /// Refuses further records and makes every batch sendable.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.sender_wakeup.notify_waiters();
    }

    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Closed, and every batch complete: the sender's work is done.
    pub(super) fn is_finished(&self) -> bool {
        let mut inner = self.lock();
        if !inner.closed {
            return false;
        }
        inner.incomplete.retain(|o| !o.is_done());
        inner.incomplete.is_empty()
    }
}

/// Ends a flush when dropped (also if the flush is abandoned half way).
pub(crate) struct FlushGuard<'a> {
    accumulator: &'a RecordAccumulator,
}

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        self.accumulator.lock().flushes -= 1;
    }
}

impl Inner {
    /// The position of `topic`'s queues, made room for at least
    /// `partitions` partitions (a topic may grow).
    fn topic_index(&mut self, topic: &str, partitions: usize) -> usize {
        let i = match self.index.get(topic) {
            Some(i) => *i,
            None => {
                self.topics.push(TopicQueues {
                    name: topic.to_owned(),
                    partitions: Vec::new(),
                });
                self.index.insert(topic.to_owned(), self.topics.len() - 1);
                self.topics.len() - 1
            }
        };
        let queues = &mut self.topics[i].partitions;
        if queues.len() < partitions {
            queues.resize_with(partitions, VecDeque::new);
        }
        i
    }
}

fn earliest(current: Option<Instant>, candidate: Instant) -> Option<Instant> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_protocol::ErrorCode;

    const LINGER: Duration = Duration::from_millis(1000);

    fn config(batch_size: usize, linger: Duration) -> ProducerConfig {
        let mut config = ProducerConfig::new("x:1");
        config.batch_size = batch_size;
        config.linger = linger;
        config
    }

    fn accumulator(batch_size: usize, linger: Duration) -> RecordAccumulator {
        RecordAccumulator::new(&config(batch_size, linger), Arc::default())
    }

    /// Topic `t` with partitions led by `leaders` (-1: no leader).
    fn topic(leaders: &[i32]) -> TopicPartitions {
        TopicPartitions {
            error: ErrorCode::NONE,
            leaders: leaders.to_vec(),
            available: (0..leaders.len() as i32)
                .filter(|p| leaders[*p as usize] >= 0)
                .collect(),
        }
    }

    fn snapshot(partitions: &TopicPartitions) -> Snapshot {
        Snapshot {
            brokers: HashMap::from([(1, "b1:1".to_owned()), (2, "b2:1".to_owned())]),
            topics: HashMap::from([("t".to_owned(), Arc::new(partitions.clone()))]),
        }
    }

    const VALUE: &[u8] = &[7; 100];

    fn record() -> Record<'static> {
        Record::new(1, None, Some(VALUE))
    }

    /// Appends a record and forgets its future.
    fn add(acc: &RecordAccumulator, partitions: &TopicPartitions, target: Target) {
        drop(append(acc, partitions, target));
    }

    fn append(
        acc: &RecordAccumulator,
        partitions: &TopicPartitions,
        target: Target,
    ) -> DeliveryFuture {
        let r = record();
        let size = record_size_upper_bound(&r);
        acc.append("t", target, partitions, r, size, None).unwrap()
    }

    use super::super::batch::record_size_upper_bound;

    /// (broker, [(partition, records)]) per request.
    fn layout(drained: &Drained) -> Vec<(i32, Vec<(i32, u32)>)> {
        drained
            .requests
            .iter()
            .map(|(node, batches)| {
                let mut b: Vec<(i32, u32)> = batches
                    .iter()
                    .map(|b| (b.partition, b.record_count()))
                    .collect();
                b.sort_unstable();
                (*node, b)
            })
            .collect()
    }

    #[test]
    fn with_linger_0_a_batch_goes_at_once() {
        let acc = accumulator(16_384, Duration::ZERO);
        let t = topic(&[1, 2]);
        add(&acc, &t, Target::Partition(1));
        add(&acc, &t, Target::Partition(1));
        let drained = acc.drain(Instant::now(), &snapshot(&t), |_| true);
        assert_eq!(layout(&drained), [(2, vec![(1, 2)])]);
        assert!(drained.expired.is_empty());
        // Nothing left.
        let drained = acc.drain(Instant::now(), &snapshot(&t), |_| true);
        assert!(drained.requests.is_empty());
    }

    #[test]
    fn a_batch_waits_for_linger_unless_it_is_full() {
        let acc = accumulator(1000, LINGER);
        let t = topic(&[1, 1]);
        // 9 records of ~140 bytes bound: the 8th starts a second batch.
        for _ in 0..9 {
            add(&acc, &t, Target::Partition(0));
        }
        add(&acc, &t, Target::Partition(1));
        let start = Instant::now();
        let drained = acc.drain(start, &snapshot(&t), |_| true);
        // Partition 0's first batch is full; partition 1's lingers.
        let l = layout(&drained);
        assert_eq!(l.len(), 1, "{l:?}");
        assert_eq!(l[0].1.len(), 1, "{l:?}");
        let (partition, records) = l[0].1[0];
        assert_eq!(partition, 0);
        assert!((2..9).contains(&records), "{records}");
        let next = drained.next_check.unwrap();
        assert!(next > start && next <= start + LINGER, "{next:?}");
        // After linger.ms, both remaining batches go, in one request.
        let drained = acc.drain(start + LINGER, &snapshot(&t), |_| true);
        assert_eq!(layout(&drained), [(1, vec![(0, 9 - records), (1, 1)])]);
    }

    #[test]
    fn a_drain_takes_one_batch_per_partition() {
        let acc = accumulator(0, Duration::ZERO);
        let t = topic(&[1]);
        // batch.size 0: one record per batch.
        for _ in 0..3 {
            add(&acc, &t, Target::Partition(0));
        }
        let now = Instant::now();
        for _ in 0..3 {
            let drained = acc.drain(now, &snapshot(&t), |_| true);
            assert_eq!(layout(&drained), [(1, vec![(0, 1)])]);
        }
        assert!(acc.drain(now, &snapshot(&t), |_| true).requests.is_empty());
    }

    #[test]
    fn batches_wait_for_a_leader_and_for_room_in_flight() {
        let acc = accumulator(16_384, Duration::ZERO);
        let t = topic(&[-1, 2]);
        add(&acc, &t, Target::Partition(0));
        add(&acc, &t, Target::Partition(1));
        let drained = acc.drain(Instant::now(), &snapshot(&t), |node| node != 2);
        assert!(drained.requests.is_empty());
        assert!(drained.unknown_leaders);
        // The leaders are known and broker 2 has room again.
        let t = topic(&[1, 2]);
        let drained = acc.drain(Instant::now(), &snapshot(&t), |_| true);
        assert_eq!(layout(&drained), [(1, vec![(0, 1)]), (2, vec![(1, 1)])]);
        assert!(!drained.unknown_leaders);
    }

    #[test]
    fn a_request_holds_at_most_max_request_size_and_drains_rotate() {
        let mut config = config(16_384, Duration::ZERO);
        config.max_request_size = 500;
        let acc = RecordAccumulator::new(&config, Arc::default());
        let t = topic(&[1, 1, 1, 1]);
        for p in 0..4 {
            for _ in 0..2 {
                add(&acc, &t, Target::Partition(p));
            }
        }
        let now = Instant::now();
        let mut firsts = Vec::new();
        let mut total = 0;
        for _ in 0..4 {
            let drained = acc.drain(now, &snapshot(&t), |_| true);
            let batches = &drained.requests[0].1;
            let bytes: usize = batches.iter().map(ProducerBatch::size_in_bytes).sum();
            assert!(bytes <= 500, "{bytes}");
            total += batches.len();
            firsts.push(drained.requests[0].1[0].partition);
            complete_all(&acc, drained);
        }
        // 4 batches of ~340 bytes: one per request, each partition in turn.
        assert_eq!(total, 4);
        firsts.sort_unstable();
        assert_eq!(firsts, [0, 1, 2, 3]);
    }

    #[test]
    fn batches_expire_after_delivery_timeout() {
        let acc = accumulator(16_384, LINGER);
        let t = topic(&[1]);
        let f = append(&acc, &t, Target::Partition(0));
        let created = Instant::now();
        let drained = acc.drain(created, &snapshot(&t), |_| false);
        assert!(drained.expired.is_empty());
        let later = created + Duration::from_millis(120_001);
        let drained = acc.drain(later, &snapshot(&t), |_| true);
        assert_eq!(drained.expired.len(), 1);
        assert!(drained.requests.is_empty());
        assert!(!f.is_done());
    }

    #[test]
    fn a_retried_batch_goes_first_after_its_backoff() {
        let acc = accumulator(0, Duration::ZERO);
        let t = topic(&[1]);
        add(&acc, &t, Target::Partition(0));
        add(&acc, &t, Target::Partition(0));
        let drained = acc.drain(Instant::now(), &snapshot(&t), |_| true);
        let mut batches = drained.requests.into_iter().flat_map(|(_, b)| b);
        let mut first = batches.next().unwrap();
        let sent = first.close();
        acc.reenqueue(first, "NOT_LEADER_OR_FOLLOWER".into());
        let now = Instant::now();
        // Backing off: neither the retry nor the batch behind it goes.
        let drained = acc.drain(now, &snapshot(&t), |_| true);
        assert!(drained.requests.is_empty());
        assert!(drained.next_check.unwrap() <= now + Duration::from_millis(100));
        let drained = acc.drain(now + Duration::from_millis(100), &snapshot(&t), |_| true);
        let mut retried = drained.requests.into_iter().flat_map(|(_, b)| b);
        let mut again = retried.next().unwrap();
        assert_eq!(again.attempts, 1);
        assert_eq!(again.last_error.as_deref(), Some("NOT_LEADER_OR_FOLLOWER"));
        // The very bytes sent the first time.
        assert_eq!(again.close(), sent);
    }

    #[test]
    fn keyless_records_fill_one_partition_then_move_on() {
        let acc = accumulator(1000, LINGER);
        let t = topic(&[1, 1, 1, 1, 1, 1]);
        for _ in 0..30 {
            add(&acc, &t, Target::Sticky);
        }
        let mut counts = Vec::new();
        loop {
            let drained = acc.drain(Instant::now() + LINGER, &snapshot(&t), |_| true);
            if drained.requests.is_empty() {
                break;
            }
            counts.extend(
                drained.requests[0]
                    .1
                    .iter()
                    .map(ProducerBatch::record_count),
            );
        }
        // Whole batches, all full but the newest: not 5 records in each of
        // the 6 partitions, as round robin would give.
        counts.sort_unstable();
        assert_eq!(counts.iter().sum::<u32>(), 30);
        let full = counts[counts.len() - 1];
        assert!(full > 5, "{counts:?}");
        assert!(counts[1..].iter().all(|c| *c == full), "{counts:?}");
    }

    #[tokio::test]
    async fn flush_makes_lingering_batches_sendable_and_close_refuses_records() {
        let acc = accumulator(16_384, LINGER);
        let t = topic(&[1]);
        add(&acc, &t, Target::Partition(0));
        assert!(acc
            .drain(Instant::now(), &snapshot(&t), |_| true)
            .requests
            .is_empty());
        let (guard, pending) = acc.begin_flush();
        assert_eq!(pending.len(), 1);
        let drained = acc.drain(Instant::now(), &snapshot(&t), |_| true);
        assert_eq!(layout(&drained), [(1, vec![(0, 1)])]);
        complete_all(&acc, drained);
        drop(guard);
        add(&acc, &t, Target::Partition(0));
        assert!(acc
            .drain(Instant::now(), &snapshot(&t), |_| true)
            .requests
            .is_empty());

        acc.close();
        let r = record();
        let err = acc
            .append("t", Target::Partition(0), &t, r, 10, None)
            .unwrap_err();
        assert!(matches!(err, ProduceError::Closed), "{err:?}");
        // Closing sends what is left; the producer is finished once all of
        // it completes.
        let drained = acc.drain(Instant::now(), &snapshot(&t), |_| true);
        assert!(!acc.is_finished());
        complete_all(&acc, drained);
        assert!(acc.is_finished());
    }

    fn complete_all(acc: &RecordAccumulator, drained: Drained) {
        for b in drained.requests.into_iter().flat_map(|(_, b)| b) {
            acc.complete(b, Err(ProduceError::Closed));
        }
    }

    #[test]
    fn an_unknown_partition_is_refused() {
        let acc = accumulator(16_384, LINGER);
        let t = topic(&[1, 1]);
        let err = acc
            .append("t", Target::Partition(2), &t, record(), 10, None)
            .unwrap_err();
        assert!(
            matches!(
                err,
                ProduceError::UnknownPartition {
                    partition: 2,
                    partitions: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn buffer_memory_bounds_unacknowledged_records() {
        let mut config = config(16_384, Duration::ZERO);
        config.buffer_memory = 1000;
        let acc = Arc::new(RecordAccumulator::new(&config, Arc::default()));
        let soon = || tokio::time::Instant::now() + Duration::from_millis(50);
        let block = Duration::from_millis(50);
        acc.reserve(600, soon(), block).await.unwrap();
        let err = acc.reserve(600, soon(), block).await.unwrap_err();
        assert!(
            matches!(
                err,
                ProduceError::BufferExhausted {
                    buffer_memory: 1000,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = acc.reserve(1001, soon(), block).await.unwrap_err();
        assert!(
            matches!(
                err,
                ProduceError::RecordTooLarge {
                    key: "buffer.memory",
                    ..
                }
            ),
            "{err:?}"
        );
        // Released memory lets a waiting send go on.
        let waiting = {
            let acc = Arc::clone(&acc);
            tokio::spawn(async move {
                let later = tokio::time::Instant::now() + Duration::from_secs(10);
                acc.reserve(600, later, block).await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        acc.release(600);
        waiting.await.unwrap().unwrap();
    }
}
