//! Tests of the replica fetchers: their bookkeeping, and a follower
//! replicating over a real connection from a scripted leader.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::Listener;
use crate::metadata::BrokerEndpoint;
use gregor_log::{LoadState, LogConfig, PartitionLog};
use gregor_protocol::api::fetch::{
    FetchRequest, FetchResponse, FetchableTopicResponse, PartitionData,
};
use gregor_protocol::api::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use gregor_protocol::api::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
    OffsetForLeaderTopicResult,
};
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_server::{Reply, RequestContext, RequestHandler, Server, ServerConfig};

use super::fetcher::fetcher_index;
use super::fetcher::{FetchTarget, ReplicaFetcherManager};
use super::manager::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use super::testing::{batch, config, manager, ME};
use super::{LeaderAndIsrPartition, Partition, ReplicaManager};
use gregor_runtime::{ManualClock, Shutdown, SystemClock};

const LEADER: BrokerId = 2;

/// Bounds every wait for replication to catch up.
const WAIT: Duration = Duration::from_secs(20);

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

fn endpoint(id: BrokerId, port: i32) -> BrokerEndpoint {
    BrokerEndpoint {
        id,
        host: "127.0.0.1".into(),
        port,
        rack: None,
    }
}

#[test]
fn partitions_are_spread_over_each_leaders_fetchers() {
    let dir = tempfile::tempdir().unwrap();
    let rm = manager(dir.path());
    let mut fetcher_config = config().fetcher;
    fetcher_config.num_fetchers = 2;
    let fetchers = ReplicaFetcherManager::new(fetcher_config, SystemClock::shared());
    let target = |partition: i32, leader: BrokerId, leader_epoch: i32| {
        let tp = TopicPartition::new("t", partition);
        let log = rm
            .log_manager()
            .get_or_create(&tp, LogConfig::default())
            .unwrap();
        FetchTarget {
            partition: Arc::new(Partition::new(tp, ME, log)),
            leader: endpoint(leader, 9000 + leader),
            leader_epoch,
        }
    };
    fetchers.add_partitions((0..6).map(|p| target(p, 2 + p % 2, 1)).collect());
    let assignment = fetchers.assignment();
    for p in 0..6 {
        let tp = TopicPartition::new("t", p);
        let fetcher = (2 + p % 2, fetcher_index(&tp, 2));
        assert_eq!(assignment[&fetcher].get(&tp), Some(&1), "{tp}");
    }
    assert_eq!(assignment.values().map(|p| p.len()).sum::<usize>(), 6);
    // Re-added in a newer epoch under another leader: it moves fetcher.
    fetchers.add_partitions(vec![target(0, 3, 2)]);
    let tp0 = TopicPartition::new("t", 0);
    let fetching: Vec<_> = fetchers
        .assignment()
        .into_iter()
        .filter_map(|(fetcher, partitions)| Some((fetcher, *partitions.get(&tp0)?)))
        .collect();
    assert_eq!(fetching, [((3, fetcher_index(&tp0, 2)), 2)]);
    // A fetcher left with nothing stops and goes.
    let all: Vec<TopicPartition> = (0..6).map(|p| TopicPartition::new("t", p)).collect();
    fetchers.remove_partitions(&all);
    assert!(fetchers.assignment().is_empty());
}

/// A leader of `tp()` that answers Fetch, ListOffsets and
/// OffsetForLeaderEpoch from a log of its own, and remembers the fetches
/// and epoch questions it got.
struct ScriptedLeader {
    log: Mutex<PartitionLog>,
    fetches: Mutex<Vec<FetchRequest>>,
    epoch_questions: Mutex<Vec<OffsetForLeaderEpochRequest>>,
}

impl ScriptedLeader {
    fn new(log: PartitionLog) -> Arc<Self> {
        Arc::new(ScriptedLeader {
            log: Mutex::new(log),
            fetches: Mutex::new(Vec::new()),
            epoch_questions: Mutex::new(Vec::new()),
        })
    }

    /// Serves it on a loopback port.
    async fn serve(self: &Arc<Self>) -> (Server, BrokerEndpoint) {
        let server_config = ServerConfig {
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 0,
            }],
            ..ServerConfig::default()
        };
        let server = Server::start(server_config, Arc::clone(self))
            .await
            .unwrap();
        let port = server.local_addr("PLAINTEXT").unwrap().port();
        (server, endpoint(LEADER, i32::from(port)))
    }

    /// The epochs followers asked about, in order.
    fn asked_epochs(&self) -> Vec<(i32, i32, i32)> {
        self.epoch_questions
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| {
                let replica = r.replica_id;
                r.topics[0]
                    .partitions
                    .iter()
                    .map(move |p| (replica, p.current_leader_epoch, p.leader_epoch))
            })
            .collect()
    }

    fn log(&self) -> std::sync::MutexGuard<'_, PartitionLog> {
        self.log.lock().unwrap()
    }

    fn answer(&self, request: &FetchRequest) -> PartitionData {
        let p = &request.topics[0].partitions[0];
        let log = self.log();
        let mut data = PartitionData {
            partition_index: 0,
            high_watermark: log.high_watermark(),
            log_start_offset: log.log_start_offset(),
            records: Some(Bytes::new()),
            ..Default::default()
        };
        match log.read(p.fetch_offset, p.partition_max_bytes as u64, None, true) {
            Ok(range) => {
                let bytes = range.map(|r| r.read_to_vec().unwrap()).unwrap_or_default();
                data.records = Some(Bytes::from(bytes));
            }
            Err(_) => data.error_code = ErrorCode::OFFSET_OUT_OF_RANGE.code(),
        }
        data
    }
}

impl RequestHandler for ScriptedLeader {
    async fn fetch(
        &self,
        _ctx: &RequestContext<'_>,
        request: FetchRequest,
    ) -> Reply<FetchResponse> {
        self.fetches.lock().unwrap().push(request.clone());
        let data = self.answer(&request);
        if data.records.as_ref().is_some_and(|r| r.is_empty()) {
            // As a leader waiting for max_wait_ms, without spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        FetchResponse {
            responses: vec![FetchableTopicResponse {
                topic: tp().topic,
                partitions: vec![data],
            }],
            ..Default::default()
        }
        .into()
    }

    async fn offset_for_leader_epoch(
        &self,
        _ctx: &RequestContext<'_>,
        request: OffsetForLeaderEpochRequest,
    ) -> Reply<OffsetForLeaderEpochResponse> {
        self.epoch_questions.lock().unwrap().push(request.clone());
        let p = &request.topics[0].partitions[0];
        let (leader_epoch, end_offset) = self
            .log()
            .end_offset_for_epoch(p.leader_epoch)
            .unwrap_or((-1, -1));
        OffsetForLeaderEpochResponse {
            topics: vec![OffsetForLeaderTopicResult {
                topic: tp().topic,
                partitions: vec![EpochEndOffset {
                    error_code: 0,
                    partition: 0,
                    leader_epoch,
                    end_offset,
                }],
            }],
            ..Default::default()
        }
        .into()
    }

    async fn list_offsets(
        &self,
        _ctx: &RequestContext<'_>,
        request: ListOffsetsRequest,
    ) -> Reply<ListOffsetsResponse> {
        let p = &request.topics[0].partitions[0];
        let log = self.log();
        let offset = match p.timestamp {
            LATEST_TIMESTAMP => log.log_end_offset(),
            EARLIEST_TIMESTAMP => log.log_start_offset(),
            _ => -1,
        };
        ListOffsetsResponse {
            topics: vec![ListOffsetsTopicResponse {
                name: tp().topic,
                partitions: vec![ListOffsetsPartitionResponse {
                    partition_index: 0,
                    offset,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        }
        .into()
    }
}

/// Every batch of `log` as one byte string.
fn contents(log: &PartitionLog) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let range = log.read(offset, u64::MAX, None, true).unwrap().unwrap();
        let bytes = range.read_to_vec().unwrap();
        for b in gregor_record::Batches::new(&bytes) {
            offset = b.unwrap().0.last_offset() + 1;
        }
        out.extend(bytes);
    }
    out
}

fn follow(
    leader_epoch: i32,
    leader: Option<BrokerEndpoint>,
    isr: &[BrokerId],
) -> LeaderAndIsrPartition {
    LeaderAndIsrPartition {
        topic_partition: tp(),
        leader: leader.as_ref().map_or(ME, |l| l.id),
        leader_epoch,
        replicas: vec![LEADER, ME],
        isr: isr.to_vec(),
        zk_version: 0,
        controller_epoch: 1,
        leader_endpoint: leader,
        log_config: LogConfig::default(),
        topic_id: [0; 16],
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A partition log of `tp()` in `dir`, with one record (timestamp `ts`) a
/// batch for each `(epoch, ts)`: two logs given the same batches in the
/// same epochs hold the same bytes.
fn log_with(dir: &std::path::Path, batches: &[(i32, i64)]) -> PartitionLog {
    let mut log = PartitionLog::open(
        &dir.join("t-0"),
        LogConfig::default(),
        LoadState::default(),
        ManualClock::new(0),
    )
    .unwrap();
    for &(epoch, ts) in batches {
        log.append_as_leader(&batch(ts), epoch, 0).unwrap();
    }
    log
}

/// Starts `rm` following the scripted leader at `at` in `leader_epoch`,
/// and waits until the follower's log is the leader's, byte for byte.
async fn follow_until_identical(
    rm: &Arc<ReplicaManager>,
    leader: &ScriptedLeader,
    at: BrokerEndpoint,
    leader_epoch: i32,
) {
    rm.become_leader_or_follower(1, &[follow(leader_epoch, Some(at), &[LEADER, ME])])
        .unwrap();
    let partition = rm.partition(&tp()).unwrap();
    let expected = contents(&leader.log());
    wait_until("the follower has the leader's log", || {
        contents(&partition.log()) == expected
    })
    .await;
    assert_eq!(
        partition.log().leader_epochs().entries(),
        leader.log().leader_epochs().entries()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_drops_a_divergent_tail_where_the_leader_says_its_epoch_ended() {
    // The follower got five records from the leader in epoch 1, then led
    // in epoch 2 alone and wrote three the leader never got.
    let follower_dir = tempfile::tempdir().unwrap();
    let rm = manager(follower_dir.path());
    rm.become_leader_or_follower(1, &[follow(1, Some(endpoint(LEADER, 1)), &[LEADER, ME])])
        .unwrap();
    let partition = rm.partition(&tp()).unwrap();
    let leader_dir = tempfile::tempdir().unwrap();
    let leader_log = log_with(leader_dir.path(), &[(1, 0), (1, 1), (1, 2), (1, 3), (1, 4)]);
    partition
        .append_as_follower(1, &contents(&leader_log), 5, 0, 0)
        .unwrap();
    rm.become_leader_or_follower(1, &[follow(2, None, &[ME])])
        .unwrap();
    for ts in 10..13 {
        rm.append(&tp(), &batch(ts)).unwrap();
    }
    assert_eq!(partition.log().high_watermark(), 8);

    // The old leader leads again, in epoch 3 from offset 5, and has written
    // four records by the time the follower follows it: its log reaches
    // past the follower's, so neither the follower's high watermark (8)
    // nor the leader's log end (9) tells where they diverge (5).
    let leader = ScriptedLeader::new(leader_log);
    leader.log().assign_epoch_start_offset(3, 5).unwrap();
    for ts in 20..24 {
        leader.log().append_as_leader(&batch(ts), 3, 0).unwrap();
    }
    leader.log().set_high_watermark(5);
    let (server, at) = leader.serve().await;
    rm.startup(Shutdown::new());
    follow_until_identical(&rm, &leader, at, 3).await;
    wait_until("the follower has the leader's high watermark", || {
        partition.log().high_watermark() == 5
    })
    .await;

    // It asked where its epoch 2 ends (the leader knows epoch 1 ending at
    // 5), then fetched from there, not from its own end.
    assert_eq!(leader.asked_epochs(), [(ME, 3, 2)]);
    let fetches = leader.fetches.lock().unwrap().clone();
    let first = &fetches[0];
    let defaults = config().fetcher;
    assert_eq!(first.replica_id, ME);
    assert_eq!(first.max_wait_ms as u128, defaults.max_wait.as_millis());
    assert_eq!(
        (
            first.min_bytes,
            first.max_bytes,
            first.session_id,
            first.session_epoch
        ),
        (1, 10 * 1024 * 1024, 0, -1)
    );
    let p = &first.topics[0].partitions[0];
    assert_eq!(
        (
            p.current_leader_epoch,
            p.partition_max_bytes,
            p.fetch_offset
        ),
        (3, 1024 * 1024, 5)
    );

    // What the leader writes next follows.
    for ts in 30..32 {
        leader.log().append_as_leader(&batch(ts), 3, 0).unwrap();
    }
    leader.log().set_high_watermark(11);
    let expected = contents(&leader.log());
    wait_until("the follower has the leader's new records", || {
        contents(&partition.log()) == expected
    })
    .await;

    // Leading again, it stops fetching.
    rm.become_leader_or_follower(1, &[follow(4, None, &[ME, LEADER])])
        .unwrap();
    assert!(rm.fetchers.assignment().is_empty());
    rm.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_asks_again_about_an_older_epoch_when_the_leader_lacks_its_own() {
    // Epoch 0 was the follower's: it wrote five records, the leader copied
    // three. The leader led epoch 1 (three records the follower never
    // got), the follower epoch 2 (two records the leader never got), and
    // the leader leads epoch 3.
    let leader_dir = tempfile::tempdir().unwrap();
    let mut leader_log = log_with(
        leader_dir.path(),
        &[(0, 0), (0, 1), (0, 2), (1, 10), (1, 11), (1, 12)],
    );
    leader_log.assign_epoch_start_offset(3, 6).unwrap();
    leader_log.append_as_leader(&batch(30), 3, 0).unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    drop(log_with(
        follower_dir.path(),
        &[(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (2, 20), (2, 21)],
    ));
    let rm = manager(follower_dir.path());
    let leader = ScriptedLeader::new(leader_log);
    let (server, at) = leader.serve().await;
    rm.startup(Shutdown::new());
    follow_until_identical(&rm, &leader, at, 3).await;
    // Epoch 2 is unknown to the leader: it answers epoch 1, which the
    // follower does not know either; the follower drops its epoch 2 and
    // asks about epoch 0, which the leader ends at 3 (KIP-279).
    assert_eq!(leader.asked_epochs(), [(ME, 3, 2), (ME, 3, 0)]);
    let first_fetch = leader.fetches.lock().unwrap()[0].clone();
    assert_eq!(first_fetch.topics[0].partitions[0].fetch_offset, 3);
    rm.shutdown().await;
    server.shutdown().await;
}
