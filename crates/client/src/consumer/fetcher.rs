//! Fetching records (Kafka's `Fetcher`): one Fetch request per broker,
//! naming every fetchable partition that broker leads, with at most one
//! request in flight per broker; answers are kept per partition until a poll
//! drains them.
//!
//! Fetches run as tasks, each owning the connection it uses, so that the
//! requests to different brokers are in flight together and the next ones
//! go out while the application works on what the last poll returned
//! (Kafka's fetch pipelining). A partition with buffered records is not
//! fetched again until they are drained, which bounds memory by
//! `fetch.max.bytes` per broker plus what is buffered.
//!
//! Draining decodes one batch at a time (decompressing it if needed),
//! skips control batches and the records before the position (a batch is
//! fetched whole, so a position inside it returns its first records again),
//! and advances the position past each record returned. A fetched answer
//! is used only if its partition is still assigned at the offset it was
//! fetched from; after a seek or a rebalance it is dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use log::{debug, warn};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::config::{ConsumerConfig, IsolationLevel};
use super::subscription::{FetchState, Position, ResetTo, SubscriptionState};
use super::{ConsumerError, ConsumerRecord, TimestampType};
use crate::versions::FETCH_VERSION;
use crate::{BrokerConnection, ClientError, ClusterMetadata};
use gregor_protocol::api::fetch::{FetchPartition, FetchRequest, FetchResponse, FetchTopic};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_record::{BatchError, BatchHeader, Records, DEFAULT_MAX_DECOMPRESSED};

/// A consumer's `replica_id` in Fetch (a broker id names a follower).
const CONSUMER_REPLICA_ID: i32 = -1;

/// What a fetch task hands back: the connection (unless it failed) and
/// the answer, with the offsets that were asked for.
struct FetchOutcome {
    node: i32,
    connection: Option<BrokerConnection>,
    requested: HashMap<TopicPartition, i64>,
    response: Result<FetchResponse, ClientError>,
}

/// One partition's records from one answer, drained across polls.
struct CompletedFetch {
    tp: TopicPartition,
    topic: Arc<str>,
    /// The offset this data was fetched from: it is used only if the
    /// partition's position is still there.
    fetch_offset: i64,
    /// The record batches as the broker sent them.
    data: Bytes,
    /// Where the next batch starts in `data`.
    next_batch: usize,
    /// The batch being drained, and where it starts in `data`.
    batch: Option<(BatchHeader, Records)>,
    batch_start: usize,
    /// The offset after the last record returned or batch skipped.
    next_offset: i64,
    /// The leader epoch of the batch of the last record returned.
    last_epoch: Option<i32>,
    /// Whether anything was returned or skipped: a first batch that does
    /// not fit in the answer can never be consumed.
    progressed: bool,
}

impl CompletedFetch {
    fn new(tp: TopicPartition, fetch_offset: i64, data: Bytes) -> Self {
        CompletedFetch {
            topic: Arc::from(tp.topic.as_str()),
            tp,
            fetch_offset,
            data,
            next_batch: 0,
            batch: None,
            batch_start: 0,
            next_offset: fetch_offset,
            last_epoch: None,
            progressed: false,
        }
    }

    /// The next record at or after the position, or `None` when the data
    /// is used up.
    fn next_record(&mut self) -> Result<Option<ConsumerRecord>, ConsumerError> {
        loop {
            if let Some((header, records)) = &mut self.batch {
                match records.next() {
                    Some(Ok(record)) => {
                        if record.offset < self.next_offset {
                            continue;
                        }
                        self.next_offset = record.offset.saturating_add(1);
                        self.last_epoch = Some(header.partition_leader_epoch).filter(|e| *e >= 0);
                        self.progressed = true;
                        return Ok(Some(ConsumerRecord {
                            topic: Arc::clone(&self.topic),
                            partition: self.tp.partition,
                            offset: record.offset,
                            timestamp: record.timestamp,
                            timestamp_type: if header.is_log_append_time() {
                                TimestampType::LogAppendTime
                            } else {
                                TimestampType::CreateTime
                            },
                            key: record.key,
                            value: record.value,
                            headers: record.headers,
                        }));
                    }
                    Some(Err(source)) => {
                        let offset = header.base_offset;
                        // Decoded again (and failing again) if asked again.
                        self.batch = None;
                        self.next_batch = self.batch_start;
                        return Err(ConsumerError::CorruptRecords {
                            tp: self.tp.clone(),
                            offset,
                            source,
                        });
                    }
                    None => {
                        // Past the batch's last offset even if its last
                        // records were removed by compaction.
                        self.next_offset =
                            self.next_offset.max(header.last_offset().saturating_add(1));
                        self.batch = None;
                    }
                }
            }
            if !self.open_next_batch()? {
                return Ok(None);
            }
        }
    }

    /// Moves to the next batch that holds records at or after the
    /// position; false at the end of the data.
    fn open_next_batch(&mut self) -> Result<bool, ConsumerError> {
        loop {
            let rest = self.data.slice(self.next_batch.min(self.data.len())..);
            if rest.is_empty() {
                return Ok(false);
            }
            let header = match BatchHeader::parse(&rest) {
                Ok(header) if header.total_size() <= rest.len() => header,
                // The broker cut the last batch at the size limit: the rest
                // comes with the next fetch.
                Ok(_) | Err(BatchError::Truncated { .. }) if self.progressed => return Ok(false),
                Ok(header) => {
                    return Err(ConsumerError::BatchTooLarge {
                        tp: self.tp.clone(),
                        offset: self.fetch_offset,
                        size: header.total_size(),
                    })
                }
                Err(source) => return Err(self.corrupt(source.into())),
            };
            if header.last_offset() < self.next_offset {
                self.next_batch += header.total_size();
                continue;
            }
            if header.is_control() {
                // Transaction markers: nothing for the application.
                self.next_batch += header.total_size();
                self.next_offset = header.last_offset().saturating_add(1);
                self.progressed = true;
                continue;
            }
            let records = Records::with_limit(&rest, DEFAULT_MAX_DECOMPRESSED)
                .map_err(|source| self.corrupt(source))?;
            self.batch_start = self.next_batch;
            self.next_batch += header.total_size();
            self.batch = Some((header, records));
            self.progressed = true;
            return Ok(true);
        }
    }

    fn corrupt(&self, source: gregor_record::RecordError) -> ConsumerError {
        ConsumerError::CorruptRecords {
            tp: self.tp.clone(),
            offset: self.next_offset,
            source,
        }
    }

    /// The position after what was drained; the epoch is `previous`'s
    /// until a record of this fetch is returned.
    fn position(&self, previous: Position) -> Position {
        Position {
            offset: self.next_offset,
            leader_epoch: self.last_epoch.or(previous.leader_epoch),
        }
    }
}

/// The settings a Fetch request carries.
#[derive(Debug, Clone)]
struct FetchSettings {
    client_id: String,
    request_timeout: Duration,
    max_wait_ms: i32,
    min_bytes: i32,
    max_bytes: i32,
    partition_max_bytes: i32,
    isolation_level: IsolationLevel,
    /// `retry.backoff.ms`: how long a broker that failed a fetch is left
    /// alone, so that a dead or demoted leader is not asked in a loop
    /// while the metadata catches up.
    retry_backoff: Duration,
}

/// Sends fetches and buffers their answers.
pub(super) struct Fetcher {
    settings: FetchSettings,
    /// Idle connections, by broker id.
    connections: HashMap<i32, BrokerConnection>,
    in_flight: JoinSet<FetchOutcome>,
    nodes_in_flight: HashSet<i32>,
    /// Brokers not to fetch from before the given time.
    node_backoff: HashMap<i32, Instant>,
    completed: VecDeque<CompletedFetch>,
    /// Set when an answer says the metadata is stale (a leader moved).
    metadata_refresh_needed: bool,
}

impl Fetcher {
    pub(super) fn new(config: &ConsumerConfig) -> Self {
        let clamp_ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        Fetcher {
            settings: FetchSettings {
                client_id: config.client.client_id.clone(),
                request_timeout: config.client.request_timeout,
                max_wait_ms: clamp_ms(config.fetch_max_wait),
                min_bytes: config.fetch_min_bytes,
                max_bytes: config.fetch_max_bytes,
                partition_max_bytes: config.max_partition_fetch_bytes,
                isolation_level: config.isolation_level,
                retry_backoff: config.retry_backoff,
            },
            connections: HashMap::new(),
            in_flight: JoinSet::new(),
            nodes_in_flight: HashSet::new(),
            node_backoff: HashMap::new(),
            completed: VecDeque::new(),
            metadata_refresh_needed: false,
        }
    }

    /// Whether an answer asked for fresh metadata since the last call.
    pub(super) fn take_metadata_refresh_needed(&mut self) -> bool {
        std::mem::take(&mut self.metadata_refresh_needed)
    }

    /// Whether any fetch is in flight.
    pub(super) fn has_in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Drops buffered data (after a rebalance revoked the partitions).
    pub(super) fn clear_buffered(&mut self) {
        self.completed.clear();
    }

    /// Sends one Fetch to each broker that leads a fetchable partition and
    /// has no fetch in flight nor a recent failure. Fetchable: assigned,
    /// with a position, a known leader, and no buffered data. Partitions
    /// without a leader ask for a metadata refresh.
    pub(super) fn send_fetches(
        &mut self,
        metadata: &ClusterMetadata,
        subscriptions: &SubscriptionState,
    ) {
        let now = Instant::now();
        self.node_backoff.retain(|_, until| *until > now);
        let buffered: HashSet<&TopicPartition> = self.completed.iter().map(|c| &c.tp).collect();
        let mut by_node: HashMap<i32, Vec<(TopicPartition, i64, i32)>> = HashMap::new();
        for (tp, state) in subscriptions.assigned() {
            let FetchState::Fetching(position) = state else {
                continue;
            };
            if buffered.contains(tp) {
                continue;
            }
            let leader = metadata
                .topics
                .get(&tp.topic)
                .and_then(|t| t.partitions.iter().find(|p| p.partition == tp.partition))
                .filter(|p| p.leader >= 0);
            let Some(leader) = leader else {
                self.metadata_refresh_needed = true;
                continue;
            };
            if self.nodes_in_flight.contains(&leader.leader)
                || self.node_backoff.contains_key(&leader.leader)
            {
                continue;
            }
            by_node.entry(leader.leader).or_default().push((
                tp.clone(),
                position.offset,
                leader.leader_epoch,
            ));
        }
        for (node, partitions) in by_node {
            let Some(broker) = metadata.brokers.get(&node) else {
                self.metadata_refresh_needed = true;
                continue;
            };
            let request = self.fetch_request(&partitions);
            let requested = partitions
                .into_iter()
                .map(|(tp, offset, _)| (tp, offset))
                .collect();
            let connection = self.connections.remove(&node);
            let address = broker.address();
            let settings = self.settings.clone();
            self.nodes_in_flight.insert(node);
            self.in_flight.spawn(async move {
                let (connection, response) =
                    send_fetch(connection, &address, &settings, &request).await;
                FetchOutcome {
                    node,
                    connection,
                    requested,
                    response,
                }
            });
        }
    }

    fn fetch_request(&self, partitions: &[(TopicPartition, i64, i32)]) -> FetchRequest {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for (tp, offset, leader_epoch) in partitions {
            let partition = FetchPartition {
                partition: tp.partition,
                current_leader_epoch: *leader_epoch,
                fetch_offset: *offset,
                partition_max_bytes: self.settings.partition_max_bytes,
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.topic == tp.topic) {
                Some(topic) => topic.partitions.push(partition),
                None => topics.push(FetchTopic {
                    topic: tp.topic.clone(),
                    partitions: vec![partition],
                }),
            }
        }
        FetchRequest {
            replica_id: CONSUMER_REPLICA_ID,
            max_wait_ms: self.settings.max_wait_ms,
            min_bytes: self.settings.min_bytes,
            max_bytes: self.settings.max_bytes,
            isolation_level: self.settings.isolation_level.wire_value(),
            topics,
            ..Default::default()
        }
    }

    /// Waits until a fetch answers or `until`; takes in every answer that
    /// has arrived. False if none did.
    pub(super) async fn await_answers(
        &mut self,
        until: Instant,
        subscriptions: &mut SubscriptionState,
    ) -> Result<bool, ConsumerError> {
        if self.in_flight.is_empty() {
            tokio::time::sleep_until(until).await;
            return Ok(false);
        }
        let Ok(Some(first)) = tokio::time::timeout_at(until, self.in_flight.join_next()).await
        else {
            return Ok(false);
        };
        self.take_answer(first, subscriptions)?;
        while let Some(next) = self.in_flight.try_join_next() {
            self.take_answer(next, subscriptions)?;
        }
        Ok(true)
    }

    fn take_answer(
        &mut self,
        joined: Result<FetchOutcome, tokio::task::JoinError>,
        subscriptions: &mut SubscriptionState,
    ) -> Result<(), ConsumerError> {
        let outcome = joined.map_err(|e| ConsumerError::Internal(format!("fetch task: {e}")))?;
        self.nodes_in_flight.remove(&outcome.node);
        if let Some(connection) = outcome.connection {
            self.connections.insert(outcome.node, connection);
        }
        let response = match outcome.response {
            Ok(response) => response,
            Err(e) => {
                // The broker may be gone: look again before fetching again.
                debug!("fetch from broker {} failed: {e}", outcome.node);
                self.stale_leader(outcome.node);
                return Ok(());
            }
        };
        let top_error = ErrorCode::from_code(response.error_code);
        if top_error != ErrorCode::NONE {
            warn!("fetch from broker {} answered {top_error:?}", outcome.node);
            self.stale_leader(outcome.node);
            return Ok(());
        }
        for topic in response.responses {
            for partition in topic.partitions {
                let tp = TopicPartition::new(topic.topic.as_str(), partition.partition_index);
                let Some(&fetch_offset) = outcome.requested.get(&tp) else {
                    continue;
                };
                // A seek or rebalance since the request makes the answer moot.
                let current = subscriptions.position(&tp).map(|p| p.offset);
                if current != Some(fetch_offset) {
                    continue;
                }
                match ErrorCode::from_code(partition.error_code) {
                    ErrorCode::NONE => {
                        if self.settings.isolation_level == IsolationLevel::ReadCommitted
                            && partition
                                .aborted_transactions
                                .as_ref()
                                .is_some_and(|a| !a.is_empty())
                        {
                            return Err(ConsumerError::AbortedTransactionsUnsupported(tp));
                        }
                        let data = partition.records.unwrap_or_default();
                        if !data.is_empty() {
                            self.completed
                                .push_back(CompletedFetch::new(tp, fetch_offset, data));
                        }
                    }
                    ErrorCode::NOT_LEADER_OR_FOLLOWER
                    | ErrorCode::LEADER_NOT_AVAILABLE
                    | ErrorCode::FENCED_LEADER_EPOCH
                    | ErrorCode::UNKNOWN_LEADER_EPOCH
                    | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    | ErrorCode::REPLICA_NOT_AVAILABLE
                    | ErrorCode::KAFKA_STORAGE_ERROR
                    | ErrorCode::OFFSET_NOT_AVAILABLE => {
                        debug!(
                            "fetch of {tp}: {:?}",
                            ErrorCode::from_code(partition.error_code)
                        );
                        self.stale_leader(outcome.node);
                    }
                    ErrorCode::OFFSET_OUT_OF_RANGE => match subscriptions.default_reset() {
                        Some(to) => {
                            log_reset(&tp, fetch_offset, to);
                            subscriptions.request_reset(&tp, to);
                        }
                        None => {
                            return Err(ConsumerError::OffsetOutOfRange {
                                tp,
                                offset: fetch_offset,
                            })
                        }
                    },
                    code => return Err(ConsumerError::Fetch { tp, code }),
                }
            }
        }
        Ok(())
    }

    /// `node` failed a fetch or no longer leads: refresh the metadata and
    /// leave it alone for `retry.backoff.ms`.
    fn stale_leader(&mut self, node: i32) {
        self.metadata_refresh_needed = true;
        self.node_backoff
            .insert(node, Instant::now() + self.settings.retry_backoff);
    }

    /// Up to `max` buffered records, advancing the positions past them.
    pub(super) fn collect(
        &mut self,
        subscriptions: &mut SubscriptionState,
        max: usize,
    ) -> Result<Vec<ConsumerRecord>, ConsumerError> {
        let mut records = Vec::new();
        while records.len() < max {
            let Some(completed) = self.completed.front_mut() else {
                break;
            };
            let position = match subscriptions.position(&completed.tp) {
                Some(p) if p.offset == completed.next_offset => p,
                _ => {
                    // Sought elsewhere or revoked since it was fetched.
                    self.completed.pop_front();
                    continue;
                }
            };
            let drained = loop {
                if records.len() == max {
                    break Ok(false);
                }
                match completed.next_record() {
                    Ok(Some(record)) => records.push(record),
                    Ok(None) => break Ok(true),
                    Err(e) => break Err(e),
                }
            };
            subscriptions.seek(&completed.tp, completed.position(position));
            match drained {
                Ok(false) => {}
                Ok(true) => {
                    self.completed.pop_front();
                }
                // The records before a bad batch are returned first; the
                // data stays buffered and fails again at the next poll.
                Err(_) if !records.is_empty() => break,
                Err(e) => {
                    self.completed.pop_front();
                    return Err(e);
                }
            }
        }
        Ok(records)
    }
}

fn log_reset(tp: &TopicPartition, offset: i64, to: ResetTo) {
    warn!("fetch offset {offset} is out of range for {tp}, resetting to {to:?}");
}

/// Sends `request` on `connection`, or on a new connection to `address`.
async fn send_fetch(
    connection: Option<BrokerConnection>,
    address: &str,
    settings: &FetchSettings,
    request: &FetchRequest,
) -> (Option<BrokerConnection>, Result<FetchResponse, ClientError>) {
    // The broker holds a fetch up to max_wait_ms before answering.
    let timeout = settings.request_timeout
        + Duration::from_millis(u64::try_from(settings.max_wait_ms).unwrap_or(0));
    let mut connection = match connection {
        Some(connection) => connection,
        None => match BrokerConnection::connect(address, &settings.client_id, timeout).await {
            Ok(connection) => connection,
            Err(e) => return (None, Err(e)),
        },
    };
    match connection.send(FETCH_VERSION, request).await {
        Ok(response) => (Some(connection), Ok(response)),
        Err(e) => (None, Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::config::AutoOffsetReset;
    use bytes::{BufMut, BytesMut};
    use gregor_record::{Compression, Record, RecordBatchBuilder};

    /// A batch of `values` starting at `base_offset`.
    fn batch(base_offset: i64, values: &[&str], compression: Compression) -> Bytes {
        let mut builder = RecordBatchBuilder::new(1_000).compression(compression);
        for (i, v) in values.iter().enumerate() {
            builder.append(Record::new(1_000 + i as i64, None, Some(v.as_bytes())));
        }
        let mut bytes = BytesMut::from(&builder.build()[..]);
        (&mut bytes[..8]).put_i64(base_offset);
        // The base offset is outside the CRC: no need to recompute it.
        bytes.freeze()
    }

    fn concat(parts: &[Bytes]) -> Bytes {
        let mut all = BytesMut::new();
        for p in parts {
            all.extend_from_slice(p);
        }
        all.freeze()
    }

    fn drain(data: Bytes, from: i64) -> Result<(Vec<(i64, String)>, i64), ConsumerError> {
        let tp = TopicPartition::new("t", 0);
        let mut subs = SubscriptionState::new(AutoOffsetReset::Earliest);
        subs.assign_from_user([tp.clone()]);
        subs.seek(
            &tp,
            Position {
                offset: from,
                leader_epoch: None,
            },
        );
        let mut fetcher = Fetcher::new(&ConsumerConfig::new("x:1"));
        fetcher
            .completed
            .push_back(CompletedFetch::new(tp.clone(), from, data));
        let mut out = Vec::new();
        loop {
            let records = fetcher.collect(&mut subs, 2)?;
            if records.is_empty() {
                break;
            }
            for r in records {
                let value = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                out.push((r.offset, value));
            }
        }
        Ok((out, subs.position(&tp).unwrap().offset))
    }

    #[test]
    fn skips_records_before_the_position_inside_a_compressed_batch() {
        let data = concat(&[
            batch(10, &["a", "b", "c"], Compression::Gzip),
            batch(13, &["d", "e"], Compression::Lz4),
        ]);
        let (records, next) = drain(data, 11).unwrap();
        assert_eq!(
            records,
            [
                (11, "b".to_owned()),
                (12, "c".to_owned()),
                (13, "d".to_owned()),
                (14, "e".to_owned())
            ]
        );
        assert_eq!(next, 15);
    }

    #[test]
    fn a_batch_cut_at_the_size_limit_waits_for_the_next_fetch() {
        let whole = batch(0, &["a"], Compression::None);
        let cut = batch(1, &["b", "c"], Compression::None);
        let data = concat(&[whole, cut.slice(..cut.len() - 3)]);
        let (records, next) = drain(data, 0).unwrap();
        assert_eq!(records, [(0, "a".to_owned())]);
        assert_eq!(next, 1, "the cut batch is fetched again");
    }

    #[test]
    fn a_first_batch_larger_than_the_answer_is_an_error() {
        let cut = batch(0, &["a", "b"], Compression::None);
        let err = drain(cut.slice(..cut.len() - 1), 0).unwrap_err();
        assert!(matches!(err, ConsumerError::BatchTooLarge { .. }), "{err}");
    }

    #[test]
    fn a_corrupt_batch_is_an_error_after_the_records_before_it() {
        let good = batch(0, &["a"], Compression::None);
        let mut bad = BytesMut::from(&batch(1, &["b"], Compression::None)[..]);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let data = concat(&[good, bad.freeze()]);
        let err = drain(data, 0).unwrap_err();
        assert!(
            matches!(&err, ConsumerError::CorruptRecords { offset: 1, .. }),
            "{err}"
        );
    }

    proptest::proptest! {
        /// Whatever a broker sends (a valid batch at any base offset, then
        /// anything), draining ends in records or an error, never a panic.
        #[test]
        fn draining_never_panics(
            base in proptest::prelude::any::<i64>(),
            from in proptest::prelude::any::<i64>(),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let data = concat(&[
                batch(base, &["a", "b"], Compression::None),
                Bytes::from(tail),
            ]);
            let _ = drain(data, from.max(0));
        }
    }

    #[test]
    fn data_fetched_before_a_seek_is_dropped() {
        let tp = TopicPartition::new("t", 0);
        let mut subs = SubscriptionState::new(AutoOffsetReset::Earliest);
        subs.assign_from_user([tp.clone()]);
        let at = |offset| Position {
            offset,
            leader_epoch: None,
        };
        subs.seek(&tp, at(0));
        let mut fetcher = Fetcher::new(&ConsumerConfig::new("x:1"));
        fetcher.completed.push_back(CompletedFetch::new(
            tp.clone(),
            0,
            batch(0, &["a"], Compression::None),
        ));
        subs.seek(&tp, at(100));
        assert!(fetcher.collect(&mut subs, 10).unwrap().is_empty());
        assert_eq!(subs.position(&tp), Some(at(100)));
        assert!(fetcher.completed.is_empty());
    }
}
