//! gregor's consumer: Kafka's `KafkaConsumer`, with its configuration keys,
//! defaults and behaviour, so that it can share a consumer group with Java
//! and librdkafka consumers.
//!
//! A consumer either is given partitions ([`Consumer::assign`], no group)
//! or subscribes to topics ([`Consumer::subscribe`], needs `group.id`), and
//! then calls [`Consumer::poll`] in a loop. Everything happens inside poll,
//! as in Kafka: joining the group and rebalancing, looking up committed
//! offsets or resetting positions (`auto.offset.reset`), fetching from each
//! partition's leader, and the automatic commits of `enable.auto.commit`.
//! Between polls a background task keeps the group membership alive with
//! heartbeats.
//!
//! ```no_run
//! use std::time::Duration;
//! use gregor_client::consumer::{Consumer, ConsumerConfig};
//!
//! # async fn example() -> Result<(), gregor_client::consumer::ConsumerError> {
//! let mut config = ConsumerConfig::new("127.0.0.1:9092").group_id("billing");
//! config.set("auto.offset.reset", "earliest")?;
//! let mut consumer = Consumer::new(config).await?;
//! consumer.subscribe(["orders"])?;
//! for _ in 0..100 {
//!     for record in consumer.poll(Duration::from_millis(500)).await? {
//!         println!(
//!             "{}-{}@{}: {:?}",
//!             record.topic, record.partition, record.offset, record.value
//!         );
//!     }
//! }
//! // Commits the positions (auto-commit) and leaves the group, so the
//! // other members take over at once.
//! consumer.close().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Modules, each named after its Kafka counterpart: [`config`]
//! (`ConsumerConfig`), `subscription` (`SubscriptionState`), `fetcher`
//! (`Fetcher`), `list_offsets`, `coordinator` (`ConsumerCoordinator`),
//! `heartbeat` (the heartbeat thread), [`assignor`] (`RangeAssignor`,
//! `RoundRobinAssignor`) and `gregor_protocol::consumer_protocol` (`ConsumerProtocol`).
//!
//! Not implemented: static membership (`group.instance.id`), cooperative
//! rebalancing, incremental fetch sessions, fetching from followers,
//! validating positions after a leader change (OffsetForLeaderEpoch), and
//! aborted-transaction filtering for `read_committed` (gregor has no
//! transactions; an answer listing aborted transactions is an error).

pub mod assignor;
pub mod config;
mod coordinator;
mod fetcher;
mod heartbeat;
mod list_offsets;
mod subscription;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use log::warn;
use thiserror::Error;
use tokio::time::Instant;

use crate::{ClientError, NetworkClient};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_record::{RecordError, RecordHeader};
use gregor_runtime::Backoff;

pub use config::{
    AssignmentStrategy, AutoOffsetReset, ConfigError, ConsumerConfig, IsolationLevel,
};
pub use list_offsets::OffsetAndTimestamp;

use coordinator::ConsumerCoordinator;
use fetcher::Fetcher;
use gregor_protocol::consumer_protocol::ProtocolError;
use list_offsets::list_offsets;
use subscription::{Position, ResetTo, SubscriptionState, SubscriptionType};

/// What a record's timestamp means (Kafka's `TimestampType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker when it appended the batch
    /// (`message.timestamp.type=LogAppendTime`).
    LogAppendTime,
}

/// One record as the consumer returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

/// Why a consumer call failed.
#[derive(Debug, Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("subscribing and committing need a group.id")]
    NoGroupId,
    #[error("the consumer is not subscribed to any topic nor assigned any partition")]
    NotSubscribed,
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    #[error("partition {0} is not assigned to this consumer")]
    NotAssigned(TopicPartition),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{api} failed: {code:?}")]
    Group { api: &'static str, code: ErrorCode },
    /// The commit belongs to a generation the group has left behind: the
    /// partitions may already be someone else's.
    #[error("commit failed: {0:?} (the group rebalanced; the partitions may have moved)")]
    CommitFailed(ErrorCode),
    #[error("the group chose assignor {0:?}, which this consumer does not offer")]
    UnknownAssignor(String),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("no committed offset for {0} and auto.offset.reset is none")]
    NoOffsetForPartition(TopicPartition),
    #[error("offset {offset} is out of range for {tp} and auto.offset.reset is none")]
    OffsetOutOfRange { tp: TopicPartition, offset: i64 },
    #[error("fetching {tp} failed: {code:?}")]
    Fetch { tp: TopicPartition, code: ErrorCode },
    #[error("ListOffsets of {tp} failed: {code:?}")]
    ListOffsets { tp: TopicPartition, code: ErrorCode },
    #[error("corrupt records in {tp} at offset {offset}: {source}")]
    CorruptRecords {
        tp: TopicPartition,
        offset: i64,
        #[source]
        source: RecordError,
    },
    #[error(
        "the batch at offset {offset} of {tp} ({size} bytes) is larger than a fetch may \
         return: raise max.partition.fetch.bytes / fetch.max.bytes"
    )]
    BatchTooLarge {
        tp: TopicPartition,
        offset: i64,
        size: usize,
    },
    #[error("{0} lists aborted transactions, which this consumer cannot filter (read_committed)")]
    AbortedTransactionsUnsupported(TopicPartition),
    #[error("timed out {0}")]
    Timeout(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What the consumer knows about the topics' metadata and when to ask again.
#[derive(Debug, Default)]
struct MetadataState {
    /// The topics the last refresh asked about.
    topics: BTreeSet<String>,
    refreshed_at: Option<Instant>,
    refresh_needed: bool,
}

/// A Kafka consumer; see the [module docs](self).
pub struct Consumer {
    config: ConsumerConfig,
    network: NetworkClient,
    subscriptions: SubscriptionState,
    fetcher: Fetcher,
    coordinator: Option<ConsumerCoordinator>,
    metadata: MetadataState,
    next_auto_commit: Instant,
    /// No ListOffsets for position resets before this, after a failure.
    reset_backoff_until: Option<Instant>,
}

impl Consumer {
    /// Checks the configuration and connects to the cluster (the error
    /// names every bootstrap server that failed). Must run inside a tokio
    /// runtime.
    pub async fn new(config: ConsumerConfig) -> Result<Consumer, ConsumerError> {
        config.validate()?;
        let network = NetworkClient::connect(config.client.clone()).await?;
        let coordinator = config
            .group_id
            .clone()
            .map(|group| ConsumerCoordinator::new(group, &config));
        Ok(Consumer {
            subscriptions: SubscriptionState::new(config.auto_offset_reset),
            fetcher: Fetcher::new(&config),
            next_auto_commit: Instant::now() + config.auto_commit_interval,
            coordinator,
            network,
            metadata: MetadataState::default(),
            reset_backoff_until: None,
            config,
        })
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// Subscribes to `topics` as a member of `group.id`; the group leader
    /// assigns the partitions at the next poll. Replaces an earlier
    /// subscription or assignment.
    pub fn subscribe<I, S>(&mut self, topics: I) -> Result<(), ConsumerError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if self.coordinator.is_none() {
            return Err(ConsumerError::NoGroupId);
        }
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics.is_empty() {
            return Err(ConsumerError::InvalidArgument(
                "subscribe needs at least one topic".into(),
            ));
        }
        self.subscriptions.subscribe(topics);
        self.fetcher.clear_buffered();
        Ok(())
    }

    /// Reads exactly `partitions`, outside any group membership. Positions
    /// come from the group's committed offsets if `group.id` is set, else
    /// from `auto.offset.reset`, unless [`seek`](Self::seek) says otherwise.
    pub fn assign(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) {
        self.subscriptions.assign_from_user(partitions);
    }

    /// The partitions currently assigned.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.subscriptions
            .assigned()
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Makes the next fetch of `tp` start at `offset`.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<(), ConsumerError> {
        if offset < 0 {
            return Err(ConsumerError::InvalidArgument(format!(
                "seek offset must not be negative: {offset}"
            )));
        }
        let position = Position {
            offset,
            leader_epoch: None,
        };
        if self.subscriptions.seek(tp, position) {
            Ok(())
        } else {
            Err(ConsumerError::NotAssigned(tp.clone()))
        }
    }

    /// Makes the next fetches of `partitions` start at their log start.
    pub fn seek_to_beginning(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<(), ConsumerError> {
        self.reset(partitions, ResetTo::Earliest)
    }

    /// Makes the next fetches of `partitions` start at their log end (only
    /// records produced from now on).
    pub fn seek_to_end(&mut self, partitions: &[TopicPartition]) -> Result<(), ConsumerError> {
        self.reset(partitions, ResetTo::Latest)
    }

    fn reset(&mut self, partitions: &[TopicPartition], to: ResetTo) -> Result<(), ConsumerError> {
        for tp in partitions {
            if !self.subscriptions.request_reset(tp, to) {
                return Err(ConsumerError::NotAssigned(tp.clone()));
            }
        }
        Ok(())
    }

    /// The partitions of `topic`, in order (Kafka's `partitionsFor`),
    /// waiting up to `default.api.timeout.ms` for a topic being created to
    /// get leaders.
    pub async fn partitions_for(&mut self, topic: &str) -> Result<Vec<i32>, ConsumerError> {
        let deadline = Instant::now() + self.config.default_api_timeout;
        let mut retries = Backoff::fixed(self.config.retry_backoff)
            .until(deadline)
            .start();
        let topics = BTreeSet::from([topic.to_owned()]);
        loop {
            self.refresh_metadata_for(&topics).await;
            let error = match self.network.metadata().topics.get(topic) {
                Some(t) if t.error == ErrorCode::NONE => {
                    return Ok(t.partitions.iter().map(|p| p.partition).collect())
                }
                Some(t) => t.error,
                None => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            };
            match error {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => {
                    return Err(ConsumerError::UnknownTopic(topic.to_owned()))
                }
                code if code.is_retriable() && retries.allows_another() => {
                    retries.pause().await;
                }
                code => {
                    return Err(ConsumerError::Timeout(format!(
                        "waiting for the metadata of {topic}: {code:?}"
                    )))
                }
            }
        }
    }

    /// The next offset to be fetched from `tp`, if known yet.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.subscriptions.position(tp).map(|p| p.offset)
    }

    /// For each partition, the first offset whose timestamp is at or after
    /// the given one (`None` if there is none), as ListOffsets finds it.
    pub async fn offsets_for_times(
        &mut self,
        timestamps: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>, ConsumerError> {
        if let Some((tp, ts)) = timestamps.iter().find(|(_, ts)| **ts < 0) {
            return Err(ConsumerError::InvalidArgument(format!(
                "the target time for {tp} cannot be negative: {ts}"
            )));
        }
        self.lookup_offsets(timestamps.clone()).await
    }

    /// The log start offset of each partition.
    pub async fn beginning_offsets(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>, ConsumerError> {
        self.edge_offsets(partitions, ResetTo::Earliest).await
    }

    /// The log end offset (high watermark, or last stable offset with
    /// `read_committed`) of each partition.
    pub async fn end_offsets(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>, ConsumerError> {
        self.edge_offsets(partitions, ResetTo::Latest).await
    }

    async fn edge_offsets(
        &mut self,
        partitions: &[TopicPartition],
        to: ResetTo,
    ) -> Result<BTreeMap<TopicPartition, i64>, ConsumerError> {
        let targets = partitions
            .iter()
            .map(|tp| (tp.clone(), to.list_offsets_timestamp()))
            .collect();
        let found = self.lookup_offsets(targets).await?;
        Ok(found
            .into_iter()
            .filter_map(|(tp, o)| Some((tp, o?.offset)))
            .collect())
    }

    /// ListOffsets for `targets`, refreshing metadata and retrying until
    /// `default.api.timeout.ms`.
    async fn lookup_offsets(
        &mut self,
        mut targets: BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>, ConsumerError> {
        let deadline = Instant::now() + self.config.default_api_timeout;
        let mut retries = Backoff::fixed(self.config.retry_backoff)
            .starting_before(deadline)
            .start();
        let mut found = BTreeMap::new();
        let topics: BTreeSet<String> = targets.keys().map(|tp| tp.topic.clone()).collect();
        self.refresh_metadata_for(&topics).await;
        loop {
            let listed =
                list_offsets(&mut self.network, self.config.isolation_level, &targets).await?;
            found.extend(listed.found);
            targets.retain(|tp, _| listed.retry.contains(tp));
            if targets.is_empty() {
                return Ok(found);
            }
            if !retries.allows_another() {
                return Err(ConsumerError::Timeout(format!(
                    "looking up offsets of {:?} (no leader answered)",
                    targets.keys().collect::<Vec<_>>()
                )));
            }
            retries.pause().await;
            self.refresh_metadata_for(&topics).await;
        }
    }

    /// Records from the assigned partitions, waiting up to `timeout` for
    /// some to arrive (an empty answer after that). Also drives the group
    /// membership, position lookups and automatic commits.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, ConsumerError> {
        if *self.subscriptions.subscription() == SubscriptionType::None {
            return Err(ConsumerError::NotSubscribed);
        }
        let deadline = Instant::now() + timeout;
        loop {
            self.poll_group(deadline).await?;
            self.maybe_refresh_metadata().await;
            self.update_fetch_positions(deadline).await?;
            let records = self
                .fetcher
                .collect(&mut self.subscriptions, self.config.max_poll_records)?;
            // Fetch what is not buffered while the application works on
            // these (Kafka's pipelining).
            self.fetcher
                .send_fetches(self.network.metadata(), &self.subscriptions);
            self.note_fetcher_metadata_request();
            let now = Instant::now();
            if !records.is_empty() || now >= deadline {
                return Ok(records);
            }
            // Wait for an answer; without fetches in flight, look again
            // after a backoff (positions to find, a leader to learn).
            let until = if self.fetcher.has_in_flight() {
                deadline
            } else {
                deadline.min(now + self.config.retry_backoff)
            };
            self.fetcher
                .await_answers(until, &mut self.subscriptions)
                .await?;
            self.note_fetcher_metadata_request();
        }
    }

    fn note_fetcher_metadata_request(&mut self) {
        if self.fetcher.take_metadata_refresh_needed() {
            self.metadata.refresh_needed = true;
        }
    }

    /// The group's part of a poll: find the coordinator, rejoin if needed
    /// (committing and revoking first, as Kafka's `onJoinPrepare`), take
    /// the assignment, and commit automatically when due.
    async fn poll_group(&mut self, deadline: Instant) -> Result<(), ConsumerError> {
        let Some(coordinator) = self.coordinator.as_mut() else {
            return Ok(());
        };
        coordinator.record_poll();
        if let Some(topics) = self.subscriptions.subscribed_topics().cloned() {
            if !coordinator
                .ensure_coordinator(&mut self.network, deadline)
                .await?
            {
                return Ok(());
            }
            if coordinator.needs_join(&topics) {
                if self.config.enable_auto_commit && coordinator.is_member_of_generation() {
                    let positions = self.subscriptions.positions();
                    let commit_deadline = Instant::now() + self.config.client.request_timeout;
                    if let Err(e) = coordinator
                        .commit(&mut self.network, &positions, commit_deadline)
                        .await
                    {
                        warn!("committing before the rebalance failed: {e}");
                    }
                }
                self.subscriptions.revoke_all();
                self.fetcher.clear_buffered();
                coordinator.start_join(&topics)?;
            }
            if let Some(partitions) = coordinator.poll_join(deadline).await? {
                self.subscriptions.assign_from_group(partitions);
                self.metadata.refresh_needed = true;
            }
        }
        self.maybe_auto_commit(deadline).await;
        Ok(())
    }

    /// Commits the positions every `auto.commit.interval.ms`; a failure is
    /// logged and the next interval tries again.
    async fn maybe_auto_commit(&mut self, deadline: Instant) {
        let Some(coordinator) = self.coordinator.as_mut() else {
            return;
        };
        if !self.config.enable_auto_commit || Instant::now() < self.next_auto_commit {
            return;
        }
        let in_group = self.subscriptions.subscribed_topics().is_some();
        if in_group && (!coordinator.is_stable() || coordinator.join_in_progress()) {
            return;
        }
        self.next_auto_commit = Instant::now() + self.config.auto_commit_interval;
        let positions = self.subscriptions.positions();
        if let Err(e) = coordinator
            .commit(&mut self.network, &positions, deadline)
            .await
        {
            warn!("auto-commit of offsets failed: {e}");
        }
    }

    /// The topics whose metadata the consumer needs.
    fn wanted_topics(&self) -> BTreeSet<String> {
        let mut topics = self.subscriptions.assigned_topics();
        if let Some(subscribed) = self.subscriptions.subscribed_topics() {
            topics.extend(subscribed.iter().cloned());
        }
        topics
    }

    /// Refreshes metadata when asked to (a leader moved, new topics) or
    /// every `metadata.max.age.ms`, but not more often than every
    /// `retry.backoff.ms`.
    async fn maybe_refresh_metadata(&mut self) {
        let topics = self.wanted_topics();
        if topics.is_empty() {
            return;
        }
        let now = Instant::now();
        let age = self.metadata.refreshed_at.map(|t| now - t);
        let due = topics != self.metadata.topics
            || self.metadata.refresh_needed
            || age.is_none_or(|a| a >= self.config.metadata_max_age);
        if due && age.is_none_or(|a| a >= self.config.retry_backoff) {
            self.refresh_metadata_for(&topics).await;
        }
    }

    async fn refresh_metadata_for(&mut self, topics: &BTreeSet<String>) {
        let names: Vec<String> = topics.iter().cloned().collect();
        self.metadata.refreshed_at = Some(Instant::now());
        match self
            .network
            .refresh_metadata(Some(&names), self.config.allow_auto_create_topics)
            .await
        {
            Ok(metadata) => {
                for name in &names {
                    match metadata.topics.get(name) {
                        Some(t) if t.error == ErrorCode::NONE => {}
                        Some(t) => warn!("metadata of topic {name}: {:?}", t.error),
                        None => warn!("no metadata for topic {name}"),
                    }
                }
                self.metadata.topics = topics.clone();
                self.metadata.refresh_needed = false;
            }
            Err(e) => warn!("metadata refresh failed: {e}"),
        }
    }

    /// Gives every assigned partition a position: the committed offset (with
    /// a group) or a ListOffsets reset.
    async fn update_fetch_positions(&mut self, deadline: Instant) -> Result<(), ConsumerError> {
        let initializing = self.subscriptions.initializing();
        if !initializing.is_empty() {
            let committed = match self.coordinator.as_mut() {
                Some(coordinator) => {
                    coordinator
                        .fetch_committed(&mut self.network, &initializing, deadline)
                        .await?
                }
                None => Some(BTreeMap::new()),
            };
            // Without an answer yet, ask again at the next poll.
            if let Some(committed) = committed {
                for tp in &initializing {
                    match committed.get(tp).copied().flatten() {
                        Some(position) => {
                            self.subscriptions.seek(tp, position);
                        }
                        None => {
                            let to = self
                                .subscriptions
                                .default_reset()
                                .ok_or_else(|| ConsumerError::NoOffsetForPartition(tp.clone()))?;
                            self.subscriptions.request_reset(tp, to);
                        }
                    }
                }
            }
        }
        let resets = self.subscriptions.awaiting_reset();
        if resets.is_empty() || self.reset_backoff_until.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        let targets: BTreeMap<TopicPartition, i64> = resets
            .iter()
            .map(|(tp, to)| (tp.clone(), to.list_offsets_timestamp()))
            .collect();
        let listed = list_offsets(&mut self.network, self.config.isolation_level, &targets).await?;
        for (tp, to) in resets {
            let found = listed.found.get(&tp).copied().flatten();
            // Only if no seek happened meanwhile.
            let still_waiting = self
                .subscriptions
                .awaiting_reset()
                .contains(&(tp.clone(), to));
            if let (Some(found), true) = (found, still_waiting) {
                self.subscriptions.seek(
                    &tp,
                    Position {
                        offset: found.offset,
                        leader_epoch: found.leader_epoch,
                    },
                );
            }
        }
        if listed.retry.is_empty() {
            self.reset_backoff_until = None;
        } else {
            self.metadata.refresh_needed = true;
            self.reset_backoff_until = Some(Instant::now() + self.config.retry_backoff);
        }
        Ok(())
    }

    /// Commits the positions of every assigned partition.
    pub async fn commit_sync(&mut self) -> Result<(), ConsumerError> {
        let positions = self.subscriptions.positions();
        self.commit_positions(positions).await
    }

    /// Commits `offsets` (each the offset of the next record to read, as
    /// Kafka commits).
    pub async fn commit(
        &mut self,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<(), ConsumerError> {
        let positions = offsets
            .iter()
            .map(|(tp, offset)| {
                // The epoch of the record before, when it is the position.
                let leader_epoch = self
                    .subscriptions
                    .position(tp)
                    .filter(|p| p.offset == *offset)
                    .and_then(|p| p.leader_epoch);
                let position = Position {
                    offset: *offset,
                    leader_epoch,
                };
                (tp.clone(), position)
            })
            .collect();
        self.commit_positions(positions).await
    }

    async fn commit_positions(
        &mut self,
        positions: BTreeMap<TopicPartition, Position>,
    ) -> Result<(), ConsumerError> {
        let coordinator = self.coordinator.as_mut().ok_or(ConsumerError::NoGroupId)?;
        let deadline = Instant::now() + self.config.default_api_timeout;
        coordinator
            .commit(&mut self.network, &positions, deadline)
            .await
    }

    /// The group's committed offsets for `partitions` (`None`: none).
    pub async fn committed(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<i64>>, ConsumerError> {
        let coordinator = self.coordinator.as_mut().ok_or(ConsumerError::NoGroupId)?;
        let deadline = Instant::now() + self.config.default_api_timeout;
        let mut retries = Backoff::fixed(self.config.retry_backoff)
            .starting_before(deadline)
            .start();
        loop {
            if let Some(committed) = coordinator
                .fetch_committed(&mut self.network, partitions, deadline)
                .await?
            {
                return Ok(committed
                    .into_iter()
                    .map(|(tp, p)| (tp, p.map(|p| p.offset)))
                    .collect());
            }
            if !retries.allows_another() {
                return Err(ConsumerError::Timeout("fetching committed offsets".into()));
            }
            retries.pause().await;
        }
    }

    /// Commits the positions (with `enable.auto.commit`) and leaves the
    /// group, so that the other members take over its partitions at once.
    pub async fn close(mut self) -> Result<(), ConsumerError> {
        let Some(coordinator) = self.coordinator.as_mut() else {
            return Ok(());
        };
        let in_group = self.subscriptions.subscribed_topics().is_some();
        if self.config.enable_auto_commit && (!in_group || coordinator.is_stable()) {
            let positions = self.subscriptions.positions();
            let deadline = Instant::now() + self.config.default_api_timeout;
            if let Err(e) = coordinator
                .commit(&mut self.network, &positions, deadline)
                .await
            {
                warn!("committing offsets on close failed: {e}");
            }
        }
        if in_group {
            coordinator.leave().await;
        }
        Ok(())
    }
}
