//! Tests of the replica fetchers: their bookkeeping, and a follower
//! replicating over a real connection from a scripted leader.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::Listener;
use crate::log::{LoadState, LogConfig, PartitionLog};
use crate::metadata::BrokerEndpoint;
use crate::protocol::api::fetch::{
    FetchRequest, FetchResponse, FetchableTopicResponse, PartitionData,
};
use crate::protocol::api::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use crate::protocol::ErrorCode;
use crate::server::{Reply, RequestContext, RequestHandler, Server, ServerConfig};
use crate::zk::data::BrokerId;
use crate::TopicPartition;

use super::fetcher::fetcher_index;
use super::fetcher::{FetchTarget, ReplicaFetcherManager};
use super::manager::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use super::testing::{batch, config, manager, ME};
use super::{LeaderAndIsrPartition, Partition};

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
    let fetchers = ReplicaFetcherManager::new(fetcher_config);
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

/// A leader of `tp()` that answers Fetch and ListOffsets from a log of its
/// own, and remembers the fetches it got.
struct ScriptedLeader {
    log: Mutex<PartitionLog>,
    fetches: Mutex<Vec<FetchRequest>>,
}

impl ScriptedLeader {
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
        for b in crate::record::Batches::new(&bytes) {
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
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_copies_its_leader_and_drops_a_tail_the_leader_lacks() {
    let leader_dir = tempfile::tempdir().unwrap();
    let mut leader_log = PartitionLog::open(
        &leader_dir.path().join("t-0"),
        LogConfig::default(),
        LoadState::default(),
        0,
    )
    .unwrap();
    for ts in 0..5 {
        leader_log.append_as_leader(&batch(ts), 1, 0).unwrap();
    }
    leader_log.set_high_watermark(5);
    let first_five = contents(&leader_log);

    // The follower got those five from the leader in epoch 1, then led in
    // epoch 2 alone and wrote three records the leader never got.
    let follower_dir = tempfile::tempdir().unwrap();
    let rm = manager(follower_dir.path());
    let no_address = Some(endpoint(LEADER, 1));
    rm.become_leader_or_follower(1, &[follow(1, no_address, &[LEADER, ME])])
        .unwrap();
    let partition = rm.partition(&tp()).unwrap();
    partition
        .append_as_follower(1, &first_five, 5, 0, 0)
        .unwrap();
    rm.become_leader_or_follower(1, &[follow(2, None, &[ME])])
        .unwrap();
    for ts in 10..13 {
        rm.append(&tp(), &batch(ts)).unwrap();
    }
    assert_eq!(partition.log().high_watermark(), 8);

    // Epoch 3: the old leader is back and the follower follows it.
    let leader = Arc::new(ScriptedLeader {
        log: Mutex::new(leader_log),
        fetches: Mutex::new(Vec::new()),
    });
    let server_config = ServerConfig {
        listeners: vec![Listener {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 0,
        }],
        ..ServerConfig::default()
    };
    let server = Server::start(server_config, Arc::clone(&leader))
        .await
        .unwrap();
    let port = server.local_addr("PLAINTEXT").unwrap().port();
    rm.startup();
    let at_leader = Some(endpoint(LEADER, i32::from(port)));
    rm.become_leader_or_follower(1, &[follow(3, at_leader, &[LEADER, ME])])
        .unwrap();
    // Its log ends past the leader's (8 > 5): it truncates to the leader's
    // end. (Had the leader written more by then, the follower would keep
    // its own records below the leader's end: what leader epochs,
    // KIP-101, are for.)
    wait_until("the follower truncated", || {
        partition.log().log_end_offset() == 5
    })
    .await;
    for ts in 20..22 {
        leader.log().append_as_leader(&batch(ts), 3, 0).unwrap();
    }
    leader.log().set_high_watermark(6);
    let expected = contents(&leader.log());
    wait_until("the follower has the leader's log", || {
        contents(&partition.log()) == expected
    })
    .await;
    wait_until("the follower has the leader's high watermark", || {
        partition.log().high_watermark() == 6
    })
    .await;

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
        (p.current_leader_epoch, p.partition_max_bytes),
        (3, 1024 * 1024)
    );
    // It first asked from its own end (8), then from the leader's (5).
    assert_eq!(p.fetch_offset, 8);
    assert!(fetches
        .iter()
        .any(|f| f.topics[0].partitions[0].fetch_offset == 5));

    // Leading again, it stops fetching.
    rm.become_leader_or_follower(1, &[follow(4, None, &[ME, LEADER])])
        .unwrap();
    assert!(rm.fetchers.assignment().is_empty());
    rm.shutdown();
    server.shutdown().await;
}
