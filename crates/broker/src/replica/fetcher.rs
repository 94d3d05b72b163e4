//! Followers replicating from their leaders (Kafka's
//! `ReplicaFetcherManager`, `AbstractFetcherThread` and
//! `ReplicaFetcherThread`).
//!
//! A follower broker runs up to `num.replica.fetchers` fetcher tasks per
//! leader broker and hashes each partition it follows onto one of them
//! (Kafka's `getFetcherId`). A partition added to a fetcher is first
//! truncated where the follower's log stops being the leader's, as the
//! leader says (OffsetForLeaderEpoch, see [`truncation`](super::truncation);
//! Kafka's `Truncating` state). Then the fetcher sends one Fetch at a time
//! for all its partitions, each from the follower's log end offset — which
//! is how the leader learns where the follower's log ends — and appends what
//! comes back to the follower's log with the leader's offsets, taking the
//! leader's high watermark as its own, never past its own log end.
//!
//! On each new connection the fetcher asks the leader's API versions
//! (ApiVersions, as Kafka's network client does) to learn whether it
//! answers OffsetForLeaderEpoch; a leader that does not is truncated
//! against at the high watermark, as before KIP-101.
//!
//! Errors are handled per partition, as in Kafka: a partition the leader
//! refuses (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
//! UNKNOWN_LEADER_EPOCH: leader and follower disagree about who leads in
//! which epoch, until the next LeaderAndIsr) is fetched again after
//! `replica.fetch.backoff.ms`; an offset outside the leader's log makes the
//! follower truncate its log, or start it again, where the leader's is
//! (found with ListOffsets); a failed connection or request backs off every
//! partition of the fetcher, which then connects again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use ::log::{debug, info, warn};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metadata::BrokerEndpoint;
use gregor_client::{BrokerConnection, ClientError};
use gregor_log::LogError;
use gregor_protocol::api::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use gregor_protocol::api::fetch::{self, FetchRequest, FetchResponse, FetchTopic};
use gregor_protocol::api::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use gregor_protocol::api::offset_for_leader_epoch::OffsetForLeaderEpochRequest;
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_protocol::{ApiKey, ErrorCode, Message};
use gregor_runtime::{SharedClock, Shutdown};

use super::config::FetcherConfig;
use super::error::ReplicaError;
use super::manager::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use super::partition::Partition;
use super::truncation::{self, PendingTruncation};

/// A full fetch outside any fetch session (Kafka's `FetchMetadata.FINAL_EPOCH`
/// with session id 0): every request lists every partition.
const NO_SESSION_EPOCH: i32 = -1;

/// A partition to replicate, from whom, in which leader epoch.
pub(super) struct FetchTarget {
    pub partition: Arc<Partition>,
    pub leader: BrokerEndpoint,
    pub leader_epoch: i32,
}

/// Why a fetch, the truncation before it, or the ListOffsets after an
/// out-of-range one, failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the leader answered {0:?}")]
    Leader(ErrorCode),
    #[error("the leader's answer does not include the partition")]
    Missing,
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("the log task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A leader broker's fetcher: which of its `num.replica.fetchers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FetcherId {
    leader: BrokerId,
    index: u32,
}

/// Which of a leader's `num_fetchers` fetchers replicates `tp`: Kafka's
/// `getFetcherId`, `abs(31 * topic.hashCode + partition) % num_fetchers`
/// with Java's `String.hashCode`, so partitions spread as they do in Kafka.
pub(super) fn fetcher_index(tp: &TopicPartition, num_fetchers: u32) -> u32 {
    let topic_hash = tp
        .topic
        .encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    let hash = topic_hash.wrapping_mul(31).wrapping_add(tp.partition);
    // Kafka's `Utils.abs` maps i32::MIN to 0.
    let hash = if hash == i32::MIN {
        0
    } else {
        hash.unsigned_abs()
    };
    hash % num_fetchers.max(1)
}

/// One partition in a fetcher.
#[derive(Clone)]
struct PartitionFetchState {
    partition: Arc<Partition>,
    leader_epoch: i32,
    /// Its log is not yet truncated where it stops being the leader's: not
    /// fetched until it is (Kafka's `Truncating` state).
    truncating: bool,
    /// Not fetched before this, after an error.
    delayed_until: Option<Instant>,
}

/// What a fetcher's task shares with the manager.
struct FetcherShared {
    id: FetcherId,
    /// Where the leader is reached, as the latest LeaderAndIsr said.
    leader: Mutex<BrokerEndpoint>,
    partitions: Mutex<BTreeMap<TopicPartition, PartitionFetchState>>,
    /// Wakes the task when partitions are added.
    added: Notify,
}

/// One partition of one Fetch request.
#[derive(Clone)]
struct Fetch {
    tp: TopicPartition,
    partition: Arc<Partition>,
    leader_epoch: i32,
    /// The follower's log end offset when the request was built.
    fetch_offset: i64,
}

impl FetcherShared {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<TopicPartition, PartitionFetchState>> {
        self.partitions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn leader(&self) -> BrokerEndpoint {
        self.leader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The partitions due for truncation, and those due for a fetch from
    /// where the follower's log ends. A partition no longer followed in its
    /// epoch is dropped: the LeaderAndIsr that changed it re-adds it if it
    /// still follows.
    fn due(&self, now: Instant) -> (Vec<PendingTruncation>, Vec<Fetch>) {
        let mut partitions = self.lock();
        let (mut truncations, mut fetches) = (Vec::new(), Vec::new());
        partitions.retain(|tp, state| {
            if state.delayed_until.is_some_and(|t| t > now) {
                return true;
            }
            let Some((log_end, _)) = state.partition.follower_fetch_position(state.leader_epoch)
            else {
                return false;
            };
            if state.truncating {
                truncations.push(PendingTruncation {
                    tp: tp.clone(),
                    partition: Arc::clone(&state.partition),
                    leader_epoch: state.leader_epoch,
                });
            } else {
                fetches.push(Fetch {
                    tp: tp.clone(),
                    partition: Arc::clone(&state.partition),
                    leader_epoch: state.leader_epoch,
                    fetch_offset: log_end,
                });
            }
            true
        });
        (truncations, fetches)
    }

    /// Records a truncation of `tp` in `leader_epoch`: complete, the
    /// partition is fetched from now on; otherwise the leader is asked
    /// again.
    fn truncated(&self, tp: &TopicPartition, leader_epoch: i32, complete: bool) {
        if let Some(state) = self.lock().get_mut(tp) {
            if state.leader_epoch == leader_epoch {
                state.truncating = !complete;
            }
        }
    }

    /// Delays `tp` by `backoff`, unless it was re-added in another epoch
    /// than `leader_epoch` meanwhile.
    fn back_off(&self, tp: &TopicPartition, leader_epoch: i32, backoff: std::time::Duration) {
        if let Some(state) = self.lock().get_mut(tp) {
            if state.leader_epoch == leader_epoch {
                state.delayed_until = Some(Instant::now() + backoff);
            }
        }
    }

    /// Waits until a partition is added or the first back-off ends.
    async fn wait_for_work(&self) {
        let next = self.lock().values().filter_map(|s| s.delayed_until).min();
        let added = self.added.notified();
        match next {
            Some(at) => {
                tokio::select! {
                    _ = added => {}
                    _ = tokio::time::sleep_until(at) => {}
                }
            }
            None => added.await,
        }
    }
}

struct Fetcher {
    shared: Arc<FetcherShared>,
    /// The node its task runs on: `None` until the manager is started.
    task: Option<Shutdown>,
}

impl Fetcher {
    fn start(&mut self, tasks: &Shutdown, config: &FetcherConfig, clock: &SharedClock) {
        if self.task.is_none() {
            let (shared, config) = (Arc::clone(&self.shared), config.clone());
            let clock = Arc::clone(clock);
            let node = tasks.child();
            node.spawn(run_fetcher(shared, config, clock));
            self.task = Some(node);
        }
    }

    /// Stops the task without waiting: it ends at its next await point, and
    /// a response it has in flight is never applied.
    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.cancel();
        }
    }
}

#[derive(Default)]
struct Fetchers {
    by_id: HashMap<FetcherId, Fetcher>,
    /// The node fetcher tasks run below: `None` before
    /// [`ReplicaFetcherManager::start`] and after
    /// [`ReplicaFetcherManager::shutdown`].
    tasks: Option<Shutdown>,
}

/// The follower side of replication: which partitions this broker fetches,
/// from which leader, on which fetcher task.
pub(super) struct ReplicaFetcherManager {
    config: FetcherConfig,
    /// The broker's clock: fetched records are appended at its time.
    clock: SharedClock,
    fetchers: Mutex<Fetchers>,
}

impl ReplicaFetcherManager {
    pub(super) fn new(config: FetcherConfig, clock: SharedClock) -> Self {
        ReplicaFetcherManager {
            config,
            clock,
            fetchers: Mutex::new(Fetchers::default()),
        }
    }

    /// Starts fetching for the partitions added so far and for those added
    /// later, each fetcher's task on a child of `tasks`.
    pub(super) fn start(&self, tasks: Shutdown) {
        let mut fetchers = self.lock();
        for fetcher in fetchers.by_id.values_mut() {
            fetcher.start(&tasks, &self.config, &self.clock);
        }
        fetchers.tasks = Some(tasks);
    }

    /// Stops every fetcher for good and waits until their tasks have ended.
    pub(super) async fn shutdown(&self) {
        let (parent, nodes): (_, Vec<Shutdown>) = {
            let mut fetchers = self.lock();
            let nodes = fetchers.by_id.drain().filter_map(|(_, f)| f.task).collect();
            (fetchers.tasks.take(), nodes)
        };
        if let Some(parent) = parent {
            parent.cancel();
        }
        for node in nodes {
            node.stop().await;
        }
    }

    /// Fetches each target's partition from its leader in its leader epoch
    /// (Kafka's `addFetcherForPartitions`), instead of however it fetched it
    /// before.
    pub(super) fn add_partitions(&self, targets: Vec<FetchTarget>) {
        let mut fetchers = self.lock();
        let moved: Vec<TopicPartition> = targets
            .iter()
            .map(|t| t.partition.topic_partition().clone())
            .collect();
        remove_from(&mut fetchers, &moved);
        let Fetchers { by_id, tasks } = &mut *fetchers;
        for target in targets {
            let tp = target.partition.topic_partition().clone();
            let id = FetcherId {
                leader: target.leader.id,
                index: fetcher_index(&tp, self.config.num_fetchers),
            };
            let fetcher = by_id.entry(id).or_insert_with(|| Fetcher {
                shared: Arc::new(FetcherShared {
                    id,
                    leader: Mutex::new(target.leader.clone()),
                    partitions: Mutex::new(BTreeMap::new()),
                    added: Notify::new(),
                }),
                task: None,
            });
            // A leader that moved to another address is reached there by
            // every partition of the fetcher (the task reconnects).
            *fetcher
                .shared
                .leader
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = target.leader;
            fetcher.shared.lock().insert(
                tp,
                PartitionFetchState {
                    partition: target.partition,
                    leader_epoch: target.leader_epoch,
                    truncating: true,
                    delayed_until: None,
                },
            );
            fetcher.shared.added.notify_one();
            if let Some(tasks) = tasks {
                fetcher.start(tasks, &self.config, &self.clock);
            }
        }
    }

    /// Stops fetching `partitions` (Kafka's `removeFetcherForPartitions`);
    /// a fetcher left with nothing to fetch stops (Kafka's
    /// `shutdownIdleFetcherThreads`). A response in flight for a removed
    /// partition is not applied: the partition's role or epoch has changed.
    pub(super) fn remove_partitions(&self, partitions: &[TopicPartition]) {
        remove_from(&mut self.lock(), partitions);
    }

    /// Each fetcher (leader and index) and the leader epoch of each
    /// partition it fetches.
    #[cfg(test)]
    pub(super) fn assignment(&self) -> BTreeMap<(BrokerId, u32), BTreeMap<TopicPartition, i32>> {
        self.lock()
            .by_id
            .iter()
            .map(|(id, fetcher)| {
                let partitions = fetcher
                    .shared
                    .lock()
                    .iter()
                    .map(|(tp, state)| (tp.clone(), state.leader_epoch))
                    .collect();
                ((id.leader, id.index), partitions)
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Fetchers> {
        self.fetchers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes `partitions` from whichever fetchers fetch them, and stops and
/// drops the fetchers left idle.
fn remove_from(fetchers: &mut Fetchers, partitions: &[TopicPartition]) {
    fetchers.by_id.retain(|_, fetcher| {
        let mut fetched = fetcher.shared.lock();
        for tp in partitions {
            fetched.remove(tp);
        }
        let idle = fetched.is_empty();
        drop(fetched);
        if idle {
            fetcher.stop();
        }
        !idle
    });
}

impl Drop for ReplicaFetcherManager {
    /// A manager dropped without [`ReplicaFetcherManager::shutdown`] (a
    /// failed start-up, a test) still stops its fetchers: every fetcher's
    /// node is a child of the one cancelled here.
    fn drop(&mut self) {
        if let Some(tasks) = self.lock().tasks.take() {
            tasks.cancel();
        }
    }
}

/// The connection a fetcher holds to its leader, where it goes, and the
/// OffsetForLeaderEpoch version the leader speaks (`None`: it does not).
struct LeaderConnection {
    address: String,
    connection: BrokerConnection,
    offset_for_leader_epoch: Option<i16>,
}

impl LeaderConnection {
    /// Connects to `address` and asks which API versions the leader
    /// speaks.
    async fn open(
        address: String,
        client_id: &str,
        config: &FetcherConfig,
    ) -> Result<Self, ClientError> {
        let mut connection =
            BrokerConnection::connect(&address, client_id, config.request_timeout).await?;
        let request = ApiVersionsRequest {
            client_software_name: CLIENT_SOFTWARE_NAME.into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        };
        let versions = connection
            .send(*ApiVersionsRequest::VERSIONS.end(), &request)
            .await?;
        Ok(LeaderConnection {
            address,
            connection,
            offset_for_leader_epoch: offset_for_leader_epoch_version(&versions),
        })
    }
}

/// The name a fetcher gives in ApiVersions (KIP-511).
const CLIENT_SOFTWARE_NAME: &str = "gregor-replica-fetcher";

/// The newest OffsetForLeaderEpoch version both this broker and the leader
/// that sent `versions` speak, `None` if there is none.
fn offset_for_leader_epoch_version(versions: &ApiVersionsResponse) -> Option<i16> {
    if versions.error_code != ErrorCode::NONE.code() {
        return None;
    }
    let theirs = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::OffsetForLeaderEpoch as i16)?;
    let ours = OffsetForLeaderEpochRequest::VERSIONS;
    let newest = theirs.max_version.min(*ours.end());
    (newest >= theirs.min_version.max(*ours.start())).then_some(newest)
}

/// A fetcher task: truncates the partitions added to it, fetches the
/// others, applies the answer, and again, until it is stopped.
async fn run_fetcher(shared: Arc<FetcherShared>, config: FetcherConfig, clock: SharedClock) {
    let mut connection: Option<LeaderConnection> = None;
    let client_id = format!("broker-{}-fetcher-{}", config.broker_id, shared.id.index);
    loop {
        let (truncations, fetches) = shared.due(Instant::now());
        if truncations.is_empty() && fetches.is_empty() {
            shared.wait_for_work().await;
            continue;
        }
        let leader = shared.leader();
        let address = format!("{}:{}", leader.host, leader.port);
        if connection.as_ref().is_none_or(|c| c.address != address) {
            connection = match LeaderConnection::open(address, &client_id, &config).await {
                Ok(c) => Some(c),
                Err(e) => {
                    warn!(
                        "fetcher {:?}: cannot reach leader {}: {e}",
                        shared.id, leader.id
                    );
                    back_off_all(&shared, &truncations, &fetches, &config);
                    None
                }
            };
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        if !truncations.is_empty() {
            if let Err(e) = truncate(&shared, conn, &config, truncations).await {
                warn!(
                    "fetcher {:?}: asking leader {} where epochs end failed: {e}",
                    shared.id, leader.id
                );
                connection = None;
            }
            // The partitions truncated for good are fetched in the next
            // round, with the rest.
            continue;
        }
        let request = fetch_request(&config, &fetches);
        let version = *FetchRequest::VERSIONS.end();
        let response = match conn.connection.send(version, &request).await {
            Ok(response) if response.error_code == ErrorCode::NONE.code() => response,
            Ok(response) => {
                let code = ErrorCode::from_code(response.error_code);
                warn!(
                    "fetcher {:?}: leader {} refused the fetch: {code:?}",
                    shared.id, leader.id
                );
                back_off_all(&shared, &[], &fetches, &config);
                continue;
            }
            Err(e) => {
                warn!(
                    "fetcher {:?}: fetch from leader {} failed: {e}",
                    shared.id, leader.id
                );
                connection = None;
                back_off_all(&shared, &[], &fetches, &config);
                continue;
            }
        };
        let now_ms = clock.milliseconds();
        let outcomes =
            match tokio::task::spawn_blocking(move || apply_response(fetches, response, now_ms))
                .await
            {
                Ok(outcomes) => outcomes,
                Err(e) => {
                    warn!("fetcher {:?}: applying a fetch failed: {e}", shared.id);
                    continue;
                }
            };
        let mut broken = false;
        for (fetch, outcome) in outcomes {
            let result = match outcome {
                Outcome::Applied => Ok(()),
                Outcome::Failed(e) => Err(e),
                Outcome::OutOfRange if broken => Err(ClientError::Broken.into()),
                Outcome::OutOfRange => {
                    reset_out_of_range(&mut conn.connection, &config, &fetch).await
                }
            };
            if let Err(e) = result {
                broken |= matches!(e, FetchError::Client(_));
                log_fetch_error(&fetch.tp, fetch.leader_epoch, &e);
                shared.back_off(&fetch.tp, fetch.leader_epoch, config.backoff);
            }
        }
        if broken {
            connection = None;
        }
    }
}

/// Truncates `pending` as the leader says and records each outcome: a
/// partition truncated for good is fetched from then on, one that failed
/// backs off. `Err` when the request failed as a whole: every partition
/// backs off, and the connection must be dropped.
async fn truncate(
    shared: &FetcherShared,
    conn: &mut LeaderConnection,
    config: &FetcherConfig,
    pending: Vec<PendingTruncation>,
) -> Result<(), FetchError> {
    let asked = pending.clone();
    let version = conn.offset_for_leader_epoch;
    let outcomes = match truncation::truncate(
        &mut conn.connection,
        version,
        config.broker_id,
        pending,
    )
    .await
    {
        Ok(outcomes) => outcomes,
        Err(e) => {
            back_off_all(shared, &asked, &[], config);
            return Err(e);
        }
    };
    for (p, outcome) in outcomes {
        match outcome {
            Ok(complete) => shared.truncated(&p.tp, p.leader_epoch, complete),
            Err(e) => {
                log_fetch_error(&p.tp, p.leader_epoch, &e);
                shared.back_off(&p.tp, p.leader_epoch, config.backoff);
            }
        }
    }
    Ok(())
}

fn back_off_all(
    shared: &FetcherShared,
    truncations: &[PendingTruncation],
    fetches: &[Fetch],
    config: &FetcherConfig,
) {
    let truncating = truncations.iter().map(|p| (&p.tp, p.leader_epoch));
    for (tp, epoch) in truncating.chain(fetches.iter().map(|f| (&f.tp, f.leader_epoch))) {
        shared.back_off(tp, epoch, config.backoff);
    }
}

/// Leader and follower disagreeing about the leadership is routine while a
/// LeaderAndIsr is on its way; anything else deserves a warning.
fn log_fetch_error(tp: &TopicPartition, leader_epoch: i32, error: &FetchError) {
    let routine = matches!(
        error,
        FetchError::Leader(
            ErrorCode::NOT_LEADER_OR_FOLLOWER
                | ErrorCode::FENCED_LEADER_EPOCH
                | ErrorCode::UNKNOWN_LEADER_EPOCH
                | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        )
    );
    if routine {
        debug!("{tp} (epoch {leader_epoch}): {error}; backing off");
    } else {
        warn!("{tp} (epoch {leader_epoch}): {error}; backing off");
    }
}

/// A follower's Fetch: every due partition from its log end offset.
fn fetch_request(config: &FetcherConfig, fetches: &[Fetch]) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for f in fetches {
        let partition = fetch::FetchPartition {
            partition: f.tp.partition,
            current_leader_epoch: f.leader_epoch,
            fetch_offset: f.fetch_offset,
            last_fetched_epoch: -1,
            log_start_offset: f.partition.log().log_start_offset(),
            partition_max_bytes: clamp_i32(config.partition_max_bytes),
        };
        match topics.last_mut() {
            Some(t) if t.topic == f.tp.topic => t.partitions.push(partition),
            _ => topics.push(FetchTopic {
                topic: f.tp.topic.clone(),
                partitions: vec![partition],
            }),
        }
    }
    FetchRequest {
        cluster_id: None,
        replica_id: config.broker_id,
        max_wait_ms: i32::try_from(config.max_wait.as_millis()).unwrap_or(i32::MAX),
        min_bytes: clamp_i32(config.min_bytes),
        max_bytes: clamp_i32(config.response_max_bytes),
        isolation_level: 0,
        session_id: 0,
        session_epoch: NO_SESSION_EPOCH,
        topics,
        forgotten_topics_data: Vec::new(),
        rack_id: String::new(),
    }
}

fn clamp_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// What became of one partition of a fetch.
enum Outcome {
    /// Appended (or nothing new), high watermark taken.
    Applied,
    /// The follower's offset is outside the leader's log.
    OutOfRange,
    Failed(FetchError),
}

/// Applies each partition's answer to its log (touches the disk: runs on a
/// blocking-pool thread).
fn apply_response(
    fetches: Vec<Fetch>,
    response: FetchResponse,
    now_ms: i64,
) -> Vec<(Fetch, Outcome)> {
    let mut answers: HashMap<(&str, i32), &fetch::PartitionData> = HashMap::new();
    for topic in &response.responses {
        for p in &topic.partitions {
            answers.insert((topic.topic.as_str(), p.partition_index), p);
        }
    }
    fetches
        .into_iter()
        .map(|f| {
            let outcome = match answers.get(&(f.tp.topic.as_str(), f.tp.partition)) {
                None => Outcome::Failed(FetchError::Missing),
                Some(data) => apply_partition(&f, data, now_ms),
            };
            (f, outcome)
        })
        .collect()
}

fn apply_partition(fetch: &Fetch, data: &fetch::PartitionData, now_ms: i64) -> Outcome {
    match ErrorCode::from_code(data.error_code) {
        ErrorCode::NONE => {}
        ErrorCode::OFFSET_OUT_OF_RANGE => return Outcome::OutOfRange,
        code => return Outcome::Failed(FetchError::Leader(code)),
    }
    let records = data.records.as_deref().unwrap_or_default();
    let appended = fetch.partition.append_as_follower(
        fetch.leader_epoch,
        records,
        data.high_watermark,
        data.log_start_offset,
        now_ms,
    );
    match appended {
        Ok(_) => Outcome::Applied,
        // The leader's batch holding the follower's log end starts before
        // it: the follower's last batches are not the leader's (a tail
        // written under an earlier leader). Drop them and fetch the
        // leader's.
        Err(ReplicaError::Log(LogError::UnexpectedAppendOffset { expected, found }))
            if found < expected =>
        {
            info!(
                "{}: the leader's batch at {found} covers this follower's log end {expected}: truncating the divergent tail",
                fetch.tp
            );
            match fetch
                .partition
                .truncate_follower_to(fetch.leader_epoch, found)
            {
                Ok(_) => Outcome::Applied,
                Err(e) => Outcome::Failed(e.into()),
            }
        }
        Err(e) => Outcome::Failed(e.into()),
    }
}

/// After OFFSET_OUT_OF_RANGE (Kafka's `fetchOffsetAndTruncate`): if the
/// leader's log ends before the follower's, the follower truncates to it
/// (the leader lost records the follower had: an unclean election); if it
/// starts after the follower's end, the follower empties its log and starts
/// where the leader's starts. Otherwise the follower's position was fine
/// and it fetches again.
async fn reset_out_of_range(
    connection: &mut BrokerConnection,
    config: &FetcherConfig,
    fetch: &Fetch,
) -> Result<(), FetchError> {
    let own_end = fetch.fetch_offset;
    let leader_end = list_offset(connection, config, fetch, LATEST_TIMESTAMP).await?;
    let (partition, epoch) = (Arc::clone(&fetch.partition), fetch.leader_epoch);
    if leader_end < own_end {
        warn!(
            "{}: the leader's log ends at {leader_end}, before this follower's ({own_end}): truncating",
            fetch.tp
        );
        tokio::task::spawn_blocking(move || partition.truncate_follower_to(epoch, leader_end))
            .await??;
        return Ok(());
    }
    let leader_start = list_offset(connection, config, fetch, EARLIEST_TIMESTAMP).await?;
    if leader_start > own_end {
        warn!(
            "{}: the leader's log starts at {leader_start}, after this follower's end ({own_end}): starting over there",
            fetch.tp
        );
        tokio::task::spawn_blocking(move || partition.restart_follower_at(epoch, leader_start))
            .await??;
    }
    Ok(())
}

/// The leader's offset for `timestamp` (-1 its log end: a follower's
/// ListOffsets is answered with the log end offset, not the high
/// watermark; -2 its log start).
async fn list_offset(
    connection: &mut BrokerConnection,
    config: &FetcherConfig,
    fetch: &Fetch,
    timestamp: i64,
) -> Result<i64, FetchError> {
    let request = ListOffsetsRequest {
        replica_id: config.broker_id,
        isolation_level: 0,
        topics: vec![ListOffsetsTopic {
            name: fetch.tp.topic.clone(),
            partitions: vec![ListOffsetsPartition {
                partition_index: fetch.tp.partition,
                current_leader_epoch: fetch.leader_epoch,
                timestamp,
            }],
        }],
    };
    let version = *ListOffsetsRequest::VERSIONS.end();
    let response = connection.send(version, &request).await?;
    let answer = response
        .topics
        .iter()
        .filter(|t| t.name == fetch.tp.topic)
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == fetch.tp.partition)
        .ok_or(FetchError::Missing)?;
    match ErrorCode::from_code(answer.error_code) {
        ErrorCode::NONE => Ok(answer.offset),
        code => Err(FetchError::Leader(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_protocol::api::api_versions::ApiVersion;

    #[test]
    fn offset_for_leader_epoch_is_asked_in_the_newest_version_both_speak() {
        let leader = |error_code: ErrorCode, keys: &[(ApiKey, i16, i16)]| ApiVersionsResponse {
            error_code: error_code.code(),
            api_keys: keys
                .iter()
                .map(|&(key, min_version, max_version)| ApiVersion {
                    api_key: key as i16,
                    min_version,
                    max_version,
                })
                .collect(),
            ..Default::default()
        };
        let version = |r: &ApiVersionsResponse| offset_for_leader_epoch_version(r);
        let key = ApiKey::OffsetForLeaderEpoch;
        assert_eq!(version(&leader(ErrorCode::NONE, &[(key, 0, 4)])), Some(4));
        assert_eq!(version(&leader(ErrorCode::NONE, &[(key, 0, 2)])), Some(2));
        assert_eq!(version(&leader(ErrorCode::NONE, &[(key, 2, 9)])), Some(4));
        assert_eq!(version(&leader(ErrorCode::NONE, &[(key, 5, 9)])), None);
        assert_eq!(
            version(&leader(ErrorCode::NONE, &[(ApiKey::Fetch, 0, 12)])),
            None,
            "a leader without the API: truncate to the high watermark"
        );
        assert_eq!(
            version(&leader(ErrorCode::UNSUPPORTED_VERSION, &[(key, 0, 4)])),
            None
        );
    }

    #[test]
    fn partitions_hash_onto_fetchers_as_in_kafka() {
        // Java: Math.abs(31 * "orders".hashCode() + 5) % 3, with
        // "orders".hashCode() == -1008770331.
        let tp = TopicPartition::new("orders", 5);
        let expected = (31i32.wrapping_mul(-1_008_770_331).wrapping_add(5)).unsigned_abs() % 3;
        assert_eq!(fetcher_index(&tp, 3), expected);
        assert_eq!(fetcher_index(&tp, 1), 0);
        for p in 0..20 {
            assert!(fetcher_index(&TopicPartition::new("t", p), 4) < 4);
        }
    }
}
