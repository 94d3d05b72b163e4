//! The controller core driven without ZooKeeper or sockets, in the spirit
//! of Kafka's `ControllerIntegrationTest`: a [`FakeZk`] answers the core's
//! ZooKeeper requests from memory (conditional writes check and bump
//! zkVersions as ZooKeeper does), and each test asserts the decisions —
//! the writes with their expected versions, the requests per broker.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::context::{Leadership, LiveBroker};
use super::decision::{ControlledShutdownError, Decision, ZkFailure, ZkReply, ZkRequest};
use super::event::{ClusterSnapshot, ControllerEvent, TopicSnapshot};
use super::kafka_controller::{ControllerConfig, KafkaController, Status};
use super::partition_state_machine::PartitionState;
use super::port::ControllerError;
use super::replica_state_machine::ReplicaState;
use super::request_batch::{ControllerRequest, ControllerResponse, LEADER_DURING_DELETE};
use gregor_protocol::api::stop_replica::{StopReplicaPartitionError, StopReplicaResponse};
use gregor_protocol::id::Uuid;
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_zk::data::{
    BrokerInfo, EndPoint, LeaderIsrAndControllerEpoch, PartitionReassignment, SecurityProtocol,
    TopicAssignment, TopicPartition as ZkTopicPartition,
};
use gregor_zk::paths;

const CONTROLLER_EPOCH: i32 = 5;

fn config() -> ControllerConfig {
    ControllerConfig {
        delete_topic_enable: true,
        unclean_leader_election_enable: false,
        auto_leader_rebalance_enable: true,
        leader_imbalance_check_interval: Duration::from_secs(300),
        leader_imbalance_per_broker_percentage: 10,
        inter_broker_listener_name: "PLAINTEXT".into(),
        request_timeout: Duration::from_secs(30),
    }
}

/// A live broker with one PLAINTEXT endpoint on port 9090 + id.
pub(super) fn broker(id: BrokerId, epoch: i64) -> LiveBroker {
    LiveBroker {
        info: BrokerInfo {
            id,
            endpoints: vec![EndPoint {
                listener_name: "PLAINTEXT".into(),
                security_protocol: SecurityProtocol::Plaintext,
                host: "127.0.0.1".into(),
                port: 9090 + id,
            }],
            rack: None,
            jmx_port: -1,
            features: Default::default(),
        },
        epoch,
    }
}

fn brokers(ids: &[BrokerId]) -> BTreeMap<BrokerId, LiveBroker> {
    ids.iter()
        .map(|id| (*id, broker(*id, 100 + *id as i64)))
        .collect()
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("t", partition)
}

fn leadership(
    leader: BrokerId,
    leader_epoch: i32,
    isr: &[BrokerId],
    zk_version: i32,
) -> Leadership {
    Leadership {
        state: LeaderIsrAndControllerEpoch::new(leader, leader_epoch, isr.to_vec(), 4),
        zk_version,
    }
}

/// A partition of topic `t` in the snapshot: its replicas and, if it has
/// a state znode, (leader, leader epoch, isr, zkVersion).
type PartitionSpec<'a> = (
    i32,
    &'a [BrokerId],
    Option<(BrokerId, i32, &'a [BrokerId], i32)>,
);

/// An answer for the first request `.0` matches.
type Scripted = (fn(&ZkRequest) -> bool, Result<ZkReply, ZkFailure>);

/// ZooKeeper in memory, answering the core's requests.
#[derive(Default)]
struct FakeZk {
    topics: BTreeMap<String, TopicAssignment>,
    states: BTreeMap<TopicPartition, Leadership>,
    topic_configs: BTreeMap<String, BTreeMap<String, String>>,
    reassignment: Option<Vec<PartitionReassignment>>,
    deleted: Vec<String>,
    /// Answers that replace the fake's own for matching requests, in order.
    scripted: Vec<Scripted>,
}

impl FakeZk {
    fn answer(&mut self, request: &ZkRequest) -> Result<ZkReply, ZkFailure> {
        if let Some(i) = self
            .scripted
            .iter()
            .position(|(matches, _)| matches(request))
        {
            return self.scripted.remove(i).1;
        }
        Ok(match request {
            ZkRequest::ReadTopic { topic } => ZkReply::Topic(self.topic(topic)),
            ZkRequest::ReadPartitionState { tp } => {
                ZkReply::PartitionState(self.states.get(tp).cloned())
            }
            ZkRequest::ReadTopicConfig { topic } => {
                ZkReply::TopicConfig(self.topic_configs.get(topic).cloned().unwrap_or_default())
            }
            ZkRequest::CreatePartitionState { tp, state } => match self.states.get(tp) {
                Some(current) => ZkReply::Conflict {
                    current: Some(current.clone()),
                },
                None => {
                    let created = Leadership {
                        state: state.clone(),
                        zk_version: 0,
                    };
                    self.states.insert(tp.clone(), created);
                    ZkReply::Written { zk_version: 0 }
                }
            },
            ZkRequest::UpdatePartitionState {
                tp,
                state,
                expected_zk_version,
            } => match self.states.get(tp) {
                Some(current) if current.zk_version == *expected_zk_version => {
                    let zk_version = expected_zk_version + 1;
                    let updated = Leadership {
                        state: state.clone(),
                        zk_version,
                    };
                    self.states.insert(tp.clone(), updated);
                    ZkReply::Written { zk_version }
                }
                current => ZkReply::Conflict {
                    current: current.cloned(),
                },
            },
            ZkRequest::SetTopicAssignment { topic, assignment } => {
                match self.topics.get_mut(topic) {
                    Some(existing) => {
                        *existing = assignment.clone();
                        ZkReply::Done
                    }
                    None => ZkReply::UnknownTopic,
                }
            }
            ZkRequest::SetPartitionReassignment { remaining } => {
                self.reassignment = (!remaining.is_empty()).then(|| remaining.clone());
                ZkReply::Done
            }
            ZkRequest::Delete { path } => {
                self.deleted.push(path.clone());
                ZkReply::Done
            }
            ZkRequest::DeleteTopicZnodes { topic } => {
                self.topics.remove(topic);
                self.states.retain(|tp, _| tp.topic != *topic);
                self.deleted.push(paths::topic(topic));
                ZkReply::Done
            }
        })
    }

    fn topic(&self, topic: &str) -> Option<TopicSnapshot> {
        let assignment = self.topics.get(topic)?.clone();
        let partition_states = self
            .states
            .iter()
            .filter(|(tp, _)| tp.topic == topic)
            .map(|(tp, l)| (tp.partition, l.clone()))
            .collect();
        Some(TopicSnapshot {
            assignment,
            partition_states,
        })
    }

    fn add_topic(&mut self, name: &str, partitions: &[PartitionSpec]) {
        let assignment = partitions
            .iter()
            .map(|(p, replicas, _)| (*p, replicas.to_vec()))
            .collect();
        self.topics.insert(
            name.to_owned(),
            TopicAssignment::new(Uuid::from_bytes([7; 16]), assignment),
        );
        for (p, _, state) in partitions {
            if let Some((leader, epoch, isr, version)) = state {
                self.states.insert(
                    TopicPartition::new(name, *p),
                    leadership(*leader, *epoch, isr, *version),
                );
            }
        }
    }

    fn snapshot(&self, live: &[BrokerId]) -> ClusterSnapshot {
        ClusterSnapshot {
            brokers: brokers(live),
            topics: self
                .topics
                .keys()
                .filter_map(|t| Some((t.clone(), self.topic(t)?)))
                .collect(),
        }
    }
}

/// Everything one event decided, and how it ended.
#[derive(Debug)]
struct Handled {
    decisions: Vec<Decision>,
    result: Result<(), ControllerError>,
}

impl Handled {
    fn zk_requests(&self) -> Vec<&ZkRequest> {
        self.decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Zk(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// The partition state writes: (partition, expected zkVersion, leader,
    /// leader epoch, isr); creates expect version -1.
    fn state_writes(&self) -> Vec<(TopicPartition, i32, BrokerId, i32, Vec<BrokerId>)> {
        self.zk_requests()
            .into_iter()
            .filter_map(|r| match r {
                ZkRequest::CreatePartitionState { tp, state } => Some((
                    tp.clone(),
                    -1,
                    state.leader,
                    state.leader_epoch,
                    state.isr.clone(),
                )),
                ZkRequest::UpdatePartitionState {
                    tp,
                    state,
                    expected_zk_version,
                } => Some((
                    tp.clone(),
                    *expected_zk_version,
                    state.leader,
                    state.leader_epoch,
                    state.isr.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    fn requests_to(&self, broker: BrokerId) -> Vec<&ControllerRequest> {
        self.decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Send { broker: b, request } if *b == broker => Some(request),
                _ => None,
            })
            .collect()
    }

    /// The brokers each kind of request went to: (LeaderAndIsr,
    /// UpdateMetadata, StopReplica).
    fn recipients(&self) -> (Vec<BrokerId>, Vec<BrokerId>, Vec<BrokerId>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for d in &self.decisions {
            if let Decision::Send { broker, request } = d {
                match request {
                    ControllerRequest::LeaderAndIsr(_) => out.0.push(*broker),
                    ControllerRequest::UpdateMetadata(_) => out.1.push(*broker),
                    ControllerRequest::StopReplica(_) => out.2.push(*broker),
                }
            }
        }
        out
    }

    /// The partitions of the LeaderAndIsr sent to `broker`: (partition,
    /// leader, leader epoch, isr, is_new).
    fn leader_and_isr(&self, broker: BrokerId) -> Vec<(i32, BrokerId, i32, Vec<BrokerId>, bool)> {
        self.requests_to(broker)
            .into_iter()
            .filter_map(|r| match r {
                ControllerRequest::LeaderAndIsr(r) => Some(r),
                _ => None,
            })
            .flat_map(|r| r.topic_states.iter())
            .flat_map(|t| t.partition_states.iter())
            .map(|p| {
                (
                    p.partition_index,
                    p.leader,
                    p.leader_epoch,
                    p.isr.clone(),
                    p.is_new,
                )
            })
            .collect()
    }

    /// The partitions of the StopReplica sent to `broker`: (partition, delete).
    fn stop_replica(&self, broker: BrokerId) -> Vec<(i32, bool)> {
        self.requests_to(broker)
            .into_iter()
            .filter_map(|r| match r {
                ControllerRequest::StopReplica(r) => Some(r),
                _ => None,
            })
            .flat_map(|r| r.topic_states.iter())
            .flat_map(|t| t.partition_states.iter())
            .map(|p| (p.partition_index, p.delete_partition))
            .collect()
    }

    /// The partitions' leaders in the UpdateMetadata sent to `broker`.
    fn update_metadata(&self, broker: BrokerId) -> Vec<(i32, BrokerId)> {
        self.requests_to(broker)
            .into_iter()
            .filter_map(|r| match r {
                ControllerRequest::UpdateMetadata(r) => Some(r),
                _ => None,
            })
            .flat_map(|r| r.topic_states.iter())
            .flat_map(|t| t.partition_states.iter())
            .map(|p| (p.partition_index, p.leader))
            .collect()
    }

    fn shutdown_reply(&self) -> Option<&Result<Vec<TopicPartition>, ControlledShutdownError>> {
        self.decisions.iter().find_map(|d| match d {
            Decision::ControlledShutdownReply(r) => Some(r),
            _ => None,
        })
    }
}

struct Harness {
    core: KafkaController,
    zk: FakeZk,
}

impl Harness {
    /// A controller (broker 1, epoch [`CONTROLLER_EPOCH`]) failed over onto
    /// `zk` with brokers `live` registered.
    fn failover(zk: FakeZk, live: &[BrokerId], config: ControllerConfig) -> (Harness, Handled) {
        let snapshot = zk.snapshot(live);
        let mut harness = Harness {
            core: KafkaController::new(1, CONTROLLER_EPOCH, config),
            zk,
        };
        let handled = harness.handle(ControllerEvent::Failover(snapshot));
        assert_eq!(handled.result, Ok(()));
        (harness, handled)
    }

    /// Topic `t` with `partitions`, brokers `live`, default configuration.
    fn with_topic(partitions: &[PartitionSpec], live: &[BrokerId]) -> Harness {
        let mut zk = FakeZk::default();
        zk.add_topic("t", partitions);
        Harness::failover(zk, live, config()).0
    }

    /// No topic, brokers `live`, default configuration.
    fn empty(live: &[BrokerId]) -> Harness {
        Harness::failover(FakeZk::default(), live, config()).0
    }

    /// Feeds `event` and answers every ZooKeeper request from the fake.
    fn handle(&mut self, event: ControllerEvent) -> Handled {
        let mut step = self.core.handle(event);
        let mut decisions = Vec::new();
        loop {
            let waiting = matches!(step.status, Status::WaitingForZk);
            let answer = match (waiting, step.decisions.last()) {
                (true, Some(Decision::Zk(request))) => Some(self.zk.answer(request)),
                _ => None,
            };
            decisions.extend(step.decisions);
            match (step.status, answer) {
                (Status::WaitingForZk, Some(answer)) => step = self.core.resume(answer),
                (Status::WaitingForZk, None) => panic!("waiting without a ZooKeeper request"),
                (Status::Done(result), _) => return Handled { decisions, result },
            }
        }
    }

    fn brokers_now(&mut self, live: &[BrokerId]) -> Handled {
        self.handle(ControllerEvent::BrokerChange(brokers(live)))
    }

    fn leader(&self, tp: &TopicPartition) -> (BrokerId, i32, Vec<BrokerId>) {
        let ctx = self.core.context().expect("idle");
        let l = &ctx.leaderships[tp].state;
        (l.leader, l.leader_epoch, l.isr.clone())
    }

    fn partition_state(&self, tp: &TopicPartition) -> PartitionState {
        self.core.context().expect("idle").partition_state(tp)
    }

    fn replica_state(&self, tp: &TopicPartition, broker: BrokerId) -> ReplicaState {
        self.core.context().expect("idle").replica_state(tp, broker)
    }
}

fn stop_replica_ok(broker: BrokerId, partitions: &[i32]) -> ControllerEvent {
    ControllerEvent::BrokerResponse {
        broker,
        response: ControllerResponse::StopReplica(StopReplicaResponse {
            error_code: 0,
            partition_errors: partitions
                .iter()
                .map(|p| StopReplicaPartitionError {
                    topic_name: "t".into(),
                    partition_index: *p,
                    error_code: 0,
                })
                .collect(),
        }),
    }
}

fn zk_partitions(partitions: &[i32]) -> Vec<ZkTopicPartition> {
    partitions
        .iter()
        .map(|p| ZkTopicPartition {
            topic: "t".into(),
            partition: *p,
        })
        .collect()
}

// --- failover ---

#[test]
fn failover_rebuilds_the_context_from_the_snapshot_and_tells_every_broker() {
    let mut zk = FakeZk::default();
    zk.add_topic(
        "t",
        &[
            (0, &[1, 2, 3], Some((1, 3, &[1, 2, 3], 8))),
            (1, &[2, 3, 1], Some((2, 1, &[2, 3], 2))),
        ],
    );
    let (h, handled) = Harness::failover(zk, &[1, 2, 3], config());
    // Nothing to repair: no write.
    assert_eq!(handled.state_writes(), vec![]);
    let ctx = h.core.context().unwrap();
    assert_eq!(ctx.leaderships[&tp(0)], leadership(1, 3, &[1, 2, 3], 8));
    assert_eq!(ctx.topic_ids["t"], Uuid::from_bytes([7; 16]));
    for p in [0, 1] {
        assert_eq!(h.partition_state(&tp(p)), PartitionState::Online);
        for b in [1, 2, 3] {
            assert_eq!(h.replica_state(&tp(p), b), ReplicaState::Online);
        }
    }
    // Every broker: its channel, then one LeaderAndIsr and one
    // UpdateMetadata with the whole picture.
    let connects: Vec<_> = handled
        .decisions
        .iter()
        .filter_map(|d| match d {
            Decision::ConnectBroker { broker, address } => Some((*broker, address.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        connects,
        vec![
            (1, "127.0.0.1:9091"),
            (2, "127.0.0.1:9092"),
            (3, "127.0.0.1:9093")
        ]
    );
    assert_eq!(handled.recipients(), (vec![1, 2, 3], vec![1, 2, 3], vec![]));
    assert_eq!(
        handled.leader_and_isr(3),
        vec![
            (0, 1, 3, vec![1, 2, 3], false),
            (1, 2, 1, vec![2, 3], false)
        ]
    );
    assert_eq!(handled.update_metadata(2), vec![(0, 1), (1, 2)]);
}

#[test]
fn failover_elects_the_first_leader_of_a_partition_without_state() {
    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[3, 1, 2], None)]);
    let (h, handled) = Harness::failover(zk, &[1, 2], config());
    // Broker 3 is down: 1 leads, the live replicas are the ISR.
    assert_eq!(handled.state_writes(), vec![(tp(0), -1, 1, 0, vec![1, 2])]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Online);
    assert_eq!(handled.leader_and_isr(2), vec![(0, 1, 0, vec![1, 2], true)]);
    assert_eq!(h.zk.states[&tp(0)].zk_version, 0);
}

#[test]
fn failover_takes_out_of_the_isr_brokers_that_died_while_no_controller_watched() {
    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[1, 2, 3], Some((2, 4, &[1, 2, 3], 6)))]);
    let (h, handled) = Harness::failover(zk, &[1, 2], config());
    assert_eq!(handled.state_writes(), vec![(tp(0), 6, 2, 5, vec![1, 2])]);
    assert_eq!(h.replica_state(&tp(0), 3), ReplicaState::Offline);
    assert_eq!(h.zk.states[&tp(0)].zk_version, 7);
}

#[test]
fn failover_elects_a_new_leader_when_the_old_one_is_gone() {
    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[3, 2, 1], Some((3, 9, &[3, 1], 4)))]);
    let (h, handled) = Harness::failover(zk, &[1, 2], config());
    // 2 is not in sync: 1 leads.
    assert_eq!(handled.state_writes()[0], (tp(0), 4, 1, 10, vec![1]));
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Online);
}

#[test]
fn failover_gives_a_topic_without_id_one_and_skips_one_deleted_meanwhile() {
    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[1], Some((1, 0, &[1], 0)))]);
    zk.topics.get_mut("t").unwrap().topic_id = None;
    let (h, handled) = Harness::failover(zk, &[1], config());
    let written = handled.zk_requests().into_iter().find_map(|r| match r {
        ZkRequest::SetTopicAssignment { topic, assignment } => {
            Some((topic.clone(), assignment.clone()))
        }
        _ => None,
    });
    let (topic, assignment) = written.expect("the id is written back");
    assert_eq!(topic, "t");
    assert_eq!(
        Some(h.core.context().unwrap().topic_ids["t"]),
        assignment.topic_id
    );

    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[1], Some((1, 0, &[1], 0)))]);
    zk.topics.get_mut("t").unwrap().topic_id = None;
    zk.scripted.push((
        |r| matches!(r, ZkRequest::SetTopicAssignment { .. }),
        Ok(ZkReply::UnknownTopic),
    ));
    let (h, _) = Harness::failover(zk, &[1], config());
    assert!(!h.core.context().unwrap().has_topic("t"));
}

// --- broker failure and startup ---

#[test]
fn broker_failure_moves_leadership_to_the_next_in_sync_replica() {
    let mut h = Harness::with_topic(
        &[
            (0, &[1, 2, 3], Some((1, 3, &[1, 2, 3], 8))),
            (1, &[2, 1, 3], Some((2, 0, &[2, 1], 0))),
        ],
        &[1, 2, 3],
    );
    let handled = h.brokers_now(&[2, 3]);
    assert_eq!(
        handled.state_writes(),
        vec![
            // t-0 loses its leader: 2 takes over, 1 leaves the ISR.
            (tp(0), 8, 2, 4, vec![2, 3]),
            // t-1 keeps its leader; 1 leaves the ISR.
            (tp(1), 0, 2, 1, vec![2]),
        ]
    );
    assert!(handled
        .decisions
        .contains(&Decision::DisconnectBroker { broker: 1 }));
    // Nothing goes to the dead broker; the live ones get one of each.
    assert_eq!(handled.recipients(), (vec![2, 3], vec![2, 3], vec![]));
    assert_eq!(
        handled.leader_and_isr(3),
        vec![(0, 2, 4, vec![2, 3], false), (1, 2, 1, vec![2], false)]
    );
    assert_eq!(h.replica_state(&tp(0), 1), ReplicaState::Offline);
}

#[test]
fn broker_failure_without_a_clean_leader_leaves_the_partition_offline() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 3, &[1], 8)))], &[1, 2]);
    let handled = h.brokers_now(&[2]);
    // The broker's setting is read from the topic's overrides first.
    assert!(handled
        .zk_requests()
        .contains(&&ZkRequest::ReadTopicConfig { topic: "t".into() }));
    // No leader: only the dead leader's removal, keeping the last ISR member.
    assert_eq!(handled.state_writes(), vec![(tp(0), 8, -1, 4, vec![1])]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Offline);
    // When the last in-sync replica returns it leads again.
    let handled = h.brokers_now(&[1, 2]);
    assert_eq!(handled.state_writes(), vec![(tp(0), 9, 1, 5, vec![1])]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Online);
    assert_eq!(h.replica_state(&tp(0), 1), ReplicaState::Online);
}

#[test]
fn unclean_election_enabled_on_the_broker_elects_an_out_of_sync_replica() {
    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[1, 2], Some((1, 3, &[1], 8)))]);
    let config = ControllerConfig {
        unclean_leader_election_enable: true,
        ..config()
    };
    let (mut h, _) = Harness::failover(zk, &[1, 2], config);
    let handled = h.brokers_now(&[2]);
    // Its log is the truth from now on: it is the whole ISR.
    assert_eq!(handled.state_writes(), vec![(tp(0), 8, 2, 4, vec![2])]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Online);
}

#[test]
fn a_topic_override_enables_unclean_election_where_the_broker_does_not() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 3, &[1], 8)))], &[1, 2]);
    h.zk.topic_configs.insert(
        "t".into(),
        [(
            "unclean.leader.election.enable".to_owned(),
            "true".to_owned(),
        )]
        .into(),
    );
    let handled = h.brokers_now(&[2]);
    assert_eq!(handled.state_writes(), vec![(tp(0), 8, 2, 4, vec![2])]);
}

#[test]
fn a_topic_override_disables_unclean_election_where_the_broker_enables_it() {
    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[1, 2], Some((1, 3, &[1], 8)))]);
    zk.topic_configs.insert(
        "t".into(),
        [(
            "unclean.leader.election.enable".to_owned(),
            "false".to_owned(),
        )]
        .into(),
    );
    let config = ControllerConfig {
        unclean_leader_election_enable: true,
        ..config()
    };
    let (mut h, _) = Harness::failover(zk, &[1, 2], config);
    let handled = h.brokers_now(&[2]);
    assert_eq!(handled.state_writes(), vec![(tp(0), 8, -1, 4, vec![1])]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Offline);
}

#[test]
fn a_topic_config_change_lets_an_offline_partition_elect_an_unclean_leader() {
    let mut h = Harness::with_topic(
        &[
            (0, &[1, 2], Some((1, 3, &[1], 8))),
            (1, &[2, 1], Some((2, 0, &[2, 1], 0))),
        ],
        &[1, 2],
    );
    h.brokers_now(&[2]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Offline);
    // A change that does not allow it elects nobody.
    let handled = h.handle(ControllerEvent::TopicConfigChange("t".into()));
    assert_eq!(handled.state_writes(), vec![]);
    h.zk.topic_configs.insert(
        "t".into(),
        [(
            "unclean.leader.election.enable".to_owned(),
            "true".to_owned(),
        )]
        .into(),
    );
    let handled = h.handle(ControllerEvent::TopicConfigChange("t".into()));
    // Only the leaderless partition: t-1 has its leader.
    assert_eq!(handled.state_writes(), vec![(tp(0), 9, 2, 5, vec![2])]);
    assert_eq!(handled.leader_and_isr(2), vec![(0, 2, 5, vec![2], false)]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Online);
}

#[test]
fn a_broker_restarted_within_its_session_is_failed_and_started_again() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((2, 0, &[2, 1], 0)))], &[1, 2]);
    let mut restarted = brokers(&[1, 2]);
    restarted.get_mut(&2).unwrap().epoch = 999;
    let handled = h.handle(ControllerEvent::BrokerChange(restarted));
    // Its leadership moved to 1 and it left the ISR ...
    assert_eq!(handled.state_writes(), vec![(tp(0), 0, 1, 1, vec![1])]);
    // ... and as a new broker it learns everything, with the new epoch.
    assert!(handled
        .decisions
        .contains(&Decision::DisconnectBroker { broker: 2 }));
    assert_eq!(handled.leader_and_isr(2), vec![(0, 1, 1, vec![1], false)]);
    let ControllerRequest::UpdateMetadata(um) = handled
        .requests_to(2)
        .into_iter()
        .find(|r| matches!(r, ControllerRequest::UpdateMetadata(_)))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(um.broker_epoch, 999);
    assert_eq!(h.replica_state(&tp(0), 2), ReplicaState::Online);
}

#[test]
fn a_new_broker_gets_the_full_metadata_and_the_others_the_new_broker_list() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 0, &[1, 2], 0)))], &[1, 2]);
    let handled = h.brokers_now(&[1, 2, 4]);
    assert_eq!(handled.state_writes(), vec![]);
    assert_eq!(handled.update_metadata(4), vec![(0, 1)]);
    assert_eq!(handled.recipients(), (vec![], vec![1, 2, 4], vec![]));
    for broker in [1, 2, 4] {
        let Some(ControllerRequest::UpdateMetadata(um)) = handled.requests_to(broker).pop() else {
            panic!("broker {broker} gets UpdateMetadata");
        };
        let ids: Vec<_> = um.live_brokers.iter().map(|b| b.id).collect();
        assert_eq!(ids, vec![1, 2, 4]);
    }
}

// --- leader elections ---

#[test]
fn preferred_replica_election_moves_leadership_back_and_removes_the_request() {
    let mut h = Harness::with_topic(
        &[
            (0, &[1, 2], Some((2, 6, &[2, 1], 3))),
            (1, &[1, 2], Some((2, 0, &[2], 0))),
        ],
        &[1, 2],
    );
    let handled = h.handle(ControllerEvent::PreferredReplicaElection(Some(
        zk_partitions(&[0, 1]),
    )));
    // t-1's preferred replica is not in sync: it keeps its leader.
    assert_eq!(handled.state_writes(), vec![(tp(0), 3, 1, 7, vec![2, 1])]);
    assert_eq!(
        h.zk.deleted,
        vec![paths::PREFERRED_REPLICA_ELECTION.to_owned()]
    );
    assert_eq!(
        handled.leader_and_isr(1),
        vec![(0, 1, 7, vec![2, 1], false)]
    );
}

#[test]
fn auto_rebalance_moves_leaders_only_past_the_imbalance_threshold() {
    let specs: Vec<(i32, [BrokerId; 2], BrokerId)> = (0..4)
        .map(|p| (p, [1, 2], if p == 0 { 2 } else { 1 }))
        .collect();
    let partitions: Vec<PartitionSpec> = specs
        .iter()
        .map(|(p, replicas, leader)| (*p, &replicas[..], Some((*leader, 0, &replicas[..], 0))))
        .collect();
    let mut zk = FakeZk::default();
    zk.add_topic("t", &partitions);
    // 1 of broker 1's 4 preferred partitions is led elsewhere: 25 %.
    let lenient = ControllerConfig {
        leader_imbalance_per_broker_percentage: 25,
        ..config()
    };
    let (mut h, _) = Harness::failover(zk, &[1, 2], lenient);
    assert_eq!(
        h.handle(ControllerEvent::AutoRebalanceTick).state_writes(),
        vec![]
    );

    let mut zk = FakeZk::default();
    zk.add_topic("t", &partitions);
    let (mut h, _) = Harness::failover(zk, &[1, 2], config());
    let handled = h.handle(ControllerEvent::AutoRebalanceTick);
    assert_eq!(handled.state_writes(), vec![(tp(0), 0, 1, 1, vec![1, 2])]);
}

#[test]
fn controlled_shutdown_moves_leadership_and_stops_following() {
    let mut h = Harness::with_topic(
        &[
            (0, &[1, 2, 3], Some((1, 2, &[1, 2, 3], 5))),
            (1, &[2, 1, 3], Some((2, 0, &[2, 1, 3], 0))),
        ],
        &[1, 2, 3],
    );
    let handled = h.handle(ControllerEvent::ControlledShutdown {
        broker_id: 1,
        broker_epoch: 101,
    });
    assert_eq!(
        handled.state_writes(),
        vec![(tp(0), 5, 2, 3, vec![2, 3]), (tp(1), 0, 2, 1, vec![2, 3])]
    );
    assert_eq!(handled.shutdown_reply(), Some(&Ok(vec![])));
    // The stopping broker is not told to follow; it stops t-1 (keeping it).
    assert_eq!(handled.leader_and_isr(1), vec![]);
    assert_eq!(handled.stop_replica(1), vec![(1, false)]);
    assert_eq!(h.replica_state(&tp(1), 1), ReplicaState::Offline);
    assert!(h.core.context().unwrap().shutting_down.contains(&1));
}

#[test]
fn controlled_shutdown_reports_partitions_nobody_else_in_sync_can_lead() {
    let mut h = Harness::with_topic(
        &[
            (0, &[1, 2], Some((1, 2, &[1], 5))),
            (1, &[1], Some((1, 0, &[1], 0))),
        ],
        &[1, 2],
    );
    let handled = h.handle(ControllerEvent::ControlledShutdown {
        broker_id: 1,
        broker_epoch: -1,
    });
    // t-1 has one replica: not counted.
    assert_eq!(handled.shutdown_reply(), Some(&Ok(vec![tp(0)])));
    assert_eq!(handled.state_writes(), vec![]);
}

#[test]
fn controlled_shutdown_of_an_unknown_or_stale_broker_is_refused() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 2, &[1, 2], 5)))], &[1, 2]);
    let unknown = h.handle(ControllerEvent::ControlledShutdown {
        broker_id: 9,
        broker_epoch: 1,
    });
    assert_eq!(
        unknown.shutdown_reply(),
        Some(&Err(ControlledShutdownError::BrokerNotAvailable(9)))
    );
    let stale = h.handle(ControllerEvent::ControlledShutdown {
        broker_id: 2,
        broker_epoch: 1,
    });
    assert_eq!(
        stale.shutdown_reply(),
        Some(&Err(ControlledShutdownError::StaleBrokerEpoch(2)))
    );
    assert!(unknown.state_writes().is_empty() && stale.state_writes().is_empty());
}

// --- conditional writes ---

#[test]
fn a_write_that_lost_to_the_leader_is_decided_again_on_the_current_state() {
    let mut h = Harness::with_topic(&[(0, &[1, 2, 3], Some((1, 3, &[1, 2, 3], 8)))], &[1, 2, 3]);
    // Meanwhile the leader shrank the ISR to [1, 3] (zkVersion 9).
    h.zk.states.insert(tp(0), leadership(1, 3, &[1, 3], 9));
    let handled = h.brokers_now(&[2, 3]);
    assert_eq!(
        handled.state_writes(),
        vec![(tp(0), 8, 2, 4, vec![2, 3]), (tp(0), 9, 3, 4, vec![3])]
    );
    assert_eq!(h.leader(&tp(0)), (3, 4, vec![3]));
    assert_eq!(handled.leader_and_isr(3), vec![(0, 3, 4, vec![3], false)]);
}

#[test]
fn a_write_that_keeps_conflicting_is_given_up_after_max_stale_retries() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 3, &[1, 2], 8)))], &[1, 2]);
    for _ in 0..super::kafka_controller::MAX_STALE_RETRIES {
        h.zk.scripted.push((
            |r| matches!(r, ZkRequest::UpdatePartitionState { .. }),
            Ok(ZkReply::Conflict {
                current: Some(leadership(1, 3, &[1, 2], 8)),
            }),
        ));
    }
    let handled = h.handle(ControllerEvent::PreferredReplicaElection(None));
    assert!(handled.decisions.is_empty());
    let handled = h.handle(ControllerEvent::ControlledShutdown {
        broker_id: 1,
        broker_epoch: -1,
    });
    assert_eq!(
        handled.state_writes().len(),
        super::kafka_controller::MAX_STALE_RETRIES
    );
    // Nothing written, nothing told; the leader is still 1.
    assert_eq!(handled.leader_and_isr(2), vec![]);
    assert_eq!(handled.shutdown_reply(), Some(&Ok(vec![tp(0)])));
}

#[test]
fn a_partition_state_written_by_a_dead_controller_is_taken_as_it_is() {
    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[1, 2], None)]);
    zk.scripted.push((
        |r| matches!(r, ZkRequest::CreatePartitionState { .. }),
        Ok(ZkReply::Conflict {
            current: Some(leadership(2, 0, &[2, 1], 0)),
        }),
    ));
    let (h, handled) = Harness::failover(zk, &[1, 2], config());
    assert_eq!(h.leader(&tp(0)), (2, 0, vec![2, 1]));
    assert_eq!(handled.leader_and_isr(1), vec![(0, 2, 0, vec![2, 1], true)]);
}

#[test]
fn a_fenced_write_stops_the_controller() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 3, &[1, 2], 8)))], &[1, 2]);
    h.zk.scripted.push((
        |r| matches!(r, ZkRequest::UpdatePartitionState { .. }),
        Err(ZkFailure::ControllerMoved),
    ));
    let handled = h.brokers_now(&[2]);
    assert_eq!(
        handled.result,
        Err(ControllerError::Zk(ZkFailure::ControllerMoved))
    );
    assert!(handled.result.as_ref().unwrap_err().is_controller_moved());
    // A deposed controller tells no broker anything and takes no more events.
    assert_eq!(handled.recipients(), (vec![], vec![], vec![]));
    assert!(h.core.context().is_none());
    let next = h.brokers_now(&[1, 2]);
    assert_eq!(next.result, Err(ControllerError::Deposed));
    assert!(next.decisions.is_empty());
}

#[test]
fn an_unavailable_zookeeper_fails_the_event_but_keeps_the_controller() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 3, &[1, 2], 8)))], &[1, 2]);
    h.zk.scripted.push((
        |r| matches!(r, ZkRequest::UpdatePartitionState { .. }),
        Err(ZkFailure::Unavailable("connection loss".into())),
    ));
    let handled = h.brokers_now(&[2]);
    assert!(matches!(
        handled.result,
        Err(ControllerError::Zk(ZkFailure::Unavailable(_)))
    ));
    // The executor handles it again with fresh data: now it goes through.
    let again = h.brokers_now(&[2]);
    assert_eq!(again.result, Ok(()));
    assert_eq!(again.state_writes(), vec![(tp(0), 8, 2, 4, vec![2])]);
}

#[test]
fn an_event_fed_while_another_waits_is_refused() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 3, &[1, 2], 8)))], &[1, 2]);
    let step = h.core.handle(ControllerEvent::BrokerChange(brokers(&[2])));
    assert!(matches!(step.status, Status::WaitingForZk));
    let refused = h.core.handle(ControllerEvent::AutoRebalanceTick);
    assert!(matches!(
        refused.status,
        Status::Done(Err(ControllerError::Busy))
    ));
}

// --- topics ---

#[test]
fn a_new_topic_gets_leaders_and_its_replicas_learn_they_are_new() {
    let mut h = Harness::empty(&[1, 2, 3]);
    h.zk.add_topic("t", &[(0, &[1, 2], None), (1, &[2, 3], None)]);
    let handled = h.handle(ControllerEvent::TopicChange(["t".to_owned()].into()));
    assert_eq!(
        handled.state_writes(),
        vec![(tp(0), -1, 1, 0, vec![1, 2]), (tp(1), -1, 2, 0, vec![2, 3])]
    );
    assert_eq!(
        handled.leader_and_isr(2),
        vec![(0, 1, 0, vec![1, 2], true), (1, 2, 0, vec![2, 3], true)]
    );
    assert_eq!(handled.recipients(), (vec![1, 2, 3], vec![1, 2, 3], vec![]));
    assert_eq!(h.replica_state(&tp(1), 3), ReplicaState::Online);
}

#[test]
fn a_new_topic_with_no_live_replica_stays_new_until_one_registers() {
    let mut h = Harness::empty(&[1]);
    h.zk.add_topic("t", &[(0, &[2], None)]);
    let handled = h.handle(ControllerEvent::TopicChange(["t".to_owned()].into()));
    assert_eq!(handled.state_writes(), vec![]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::New);
    assert_eq!(h.replica_state(&tp(0), 2), ReplicaState::New);
    let handled = h.brokers_now(&[1, 2]);
    assert_eq!(handled.state_writes(), vec![(tp(0), -1, 2, 0, vec![2])]);
    assert_eq!(h.partition_state(&tp(0)), PartitionState::Online);
}

#[test]
fn partitions_added_to_a_topic_are_started_and_a_vanished_topic_forgotten() {
    let mut h = Harness::with_topic(&[(0, &[1], Some((1, 0, &[1], 0)))], &[1, 2]);
    h.zk.add_topic("t", &[(0, &[1], Some((1, 0, &[1], 0))), (1, &[2], None)]);
    let assignment = h.zk.topics.get("t").cloned();
    let handled = h.handle(ControllerEvent::PartitionModifications {
        topic: "t".into(),
        assignment,
    });
    assert_eq!(handled.state_writes(), vec![(tp(1), -1, 2, 0, vec![2])]);
    assert_eq!(handled.leader_and_isr(2), vec![(1, 2, 0, vec![2], true)]);
    h.handle(ControllerEvent::TopicChange(BTreeSet::new()));
    let ctx = h.core.context().unwrap();
    assert!(!ctx.has_topic("t") && ctx.assignments.is_empty());
}

#[test]
fn topic_deletion_stops_and_deletes_every_replica_then_the_znodes() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 0, &[1, 2], 0)))], &[1, 2]);
    let handled = h.handle(ControllerEvent::TopicDeletion(vec!["t".into()]));
    // Brokers drop it from their metadata, replicas stop and delete.
    assert_eq!(handled.update_metadata(1), vec![(0, LEADER_DURING_DELETE)]);
    assert_eq!(handled.stop_replica(1), vec![(0, true)]);
    assert_eq!(handled.stop_replica(2), vec![(0, true)]);
    assert_eq!(handled.state_writes(), vec![]);
    assert_eq!(h.replica_state(&tp(0), 1), ReplicaState::DeletionStarted);
    let handled = h.handle(stop_replica_ok(1, &[0]));
    assert_eq!(handled.zk_requests(), Vec::<&ZkRequest>::new());
    assert_eq!(h.replica_state(&tp(0), 1), ReplicaState::DeletionSuccessful);
    let handled = h.handle(stop_replica_ok(2, &[0]));
    assert_eq!(
        handled.zk_requests(),
        vec![&ZkRequest::DeleteTopicZnodes { topic: "t".into() }]
    );
    let ctx = h.core.context().unwrap();
    assert!(!ctx.has_topic("t"));
    assert_eq!(ctx.partition_state(&tp(0)), PartitionState::NonExistent);
    assert_eq!(ctx.replica_state(&tp(0), 2), ReplicaState::NonExistent);
}

#[test]
fn topic_deletion_with_a_replica_offline_waits_for_its_broker() {
    let mut h = Harness::with_topic(&[(0, &[1, 2, 3], Some((1, 0, &[1, 2], 0)))], &[1, 2]);
    h.handle(ControllerEvent::TopicDeletion(vec!["t".into()]));
    assert_eq!(h.replica_state(&tp(0), 3), ReplicaState::DeletionIneligible);
    h.handle(stop_replica_ok(1, &[0]));
    let handled = h.handle(stop_replica_ok(2, &[0]));
    assert_eq!(handled.zk_requests(), Vec::<&ZkRequest>::new());
    assert!(h.core.context().unwrap().has_topic("t"));
    // Broker 3 returns: it is told to delete, and is not made a follower.
    let handled = h.brokers_now(&[1, 2, 3]);
    assert_eq!(handled.stop_replica(3), vec![(0, true)]);
    assert_eq!(handled.leader_and_isr(3), vec![]);
    let handled = h.handle(stop_replica_ok(3, &[0]));
    assert_eq!(
        handled.zk_requests(),
        vec![&ZkRequest::DeleteTopicZnodes { topic: "t".into() }]
    );
}

#[test]
fn a_failed_replica_deletion_is_retried_through_offline() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 0, &[1, 2], 0)))], &[1, 2]);
    h.handle(ControllerEvent::TopicDeletion(vec!["t".into()]));
    // KAFKA_STORAGE_ERROR for the partition.
    let failed = ControllerEvent::BrokerResponse {
        broker: 2,
        response: ControllerResponse::StopReplica(StopReplicaResponse {
            error_code: 0,
            partition_errors: vec![StopReplicaPartitionError {
                topic_name: "t".into(),
                partition_index: 0,
                error_code: 56,
            }],
        }),
    };
    let handled = h.handle(failed);
    // Retried at once, since broker 2 is alive: DeletionIneligible, then
    // Offline, then DeletionStarted again with a new StopReplica.
    assert_eq!(h.replica_state(&tp(0), 2), ReplicaState::DeletionStarted);
    assert_eq!(handled.stop_replica(2), vec![(0, true)]);
    assert_eq!(h.replica_state(&tp(0), 1), ReplicaState::DeletionStarted);
}

#[test]
fn with_topic_deletion_disabled_the_marker_is_removed_and_the_topic_kept() {
    let mut zk = FakeZk::default();
    zk.add_topic("t", &[(0, &[1], Some((1, 0, &[1], 0)))]);
    let config = ControllerConfig {
        delete_topic_enable: false,
        ..config()
    };
    let (mut h, _) = Harness::failover(zk, &[1], config);
    let handled = h.handle(ControllerEvent::TopicDeletion(vec!["t".into()]));
    assert_eq!(
        handled.zk_requests(),
        vec![&ZkRequest::Delete {
            path: paths::delete_topic("t")
        }]
    );
    assert_eq!(handled.stop_replica(1), vec![]);
    assert!(h.core.context().unwrap().topics_to_delete.is_empty());
}

// --- reassignment ---

fn reassign(partition: i32, replicas: &[BrokerId]) -> ControllerEvent {
    ControllerEvent::PartitionReassignment(Some(vec![PartitionReassignment {
        topic: "t".into(),
        partition,
        replicas: replicas.to_vec(),
    }]))
}

#[test]
fn reassignment_grows_the_replicas_once_the_new_one_is_in_sync() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 4, &[1, 2], 3)))], &[1, 2, 3]);
    h.zk.reassignment = Some(vec![]);
    let handled = h.handle(reassign(0, &[1, 2, 3]));
    let assignment = &h.zk.topics["t"];
    assert_eq!(assignment.partitions[&0], vec![1, 2, 3]);
    assert_eq!(assignment.adding_replicas[&0], vec![3]);
    // Every replica learns the new list in the next leader epoch; the new
    // replica starts following as a new one.
    assert_eq!(handled.state_writes(), vec![(tp(0), 3, 1, 5, vec![1, 2])]);
    assert_eq!(handled.leader_and_isr(3), vec![(0, 1, 5, vec![1, 2], true)]);
    assert_eq!(h.replica_state(&tp(0), 3), ReplicaState::Online);
    // Broker 3 caught up: the leader reports the ISR change.
    h.zk.states.insert(tp(0), leadership(1, 5, &[1, 2, 3], 5));
    let handled = h.handle(ControllerEvent::IsrChangeNotification(vec![(
        "/isr_change_notification/isr_change_0000000001".into(),
        zk_partitions(&[0]),
    )]));
    let assignment = &h.zk.topics["t"];
    assert_eq!(assignment.partitions[&0], vec![1, 2, 3]);
    assert!(assignment.adding_replicas.is_empty());
    assert_eq!(
        handled.state_writes(),
        vec![(tp(0), 5, 1, 6, vec![1, 2, 3])]
    );
    assert_eq!(h.zk.reassignment, None);
    assert!(h.core.context().unwrap().reassignments.is_empty());
    assert_eq!(
        h.zk.deleted,
        vec!["/isr_change_notification/isr_change_0000000001".to_owned()]
    );
}

#[test]
fn reassignment_shrinking_an_in_sync_partition_completes_at_once() {
    let mut h = Harness::with_topic(&[(0, &[1, 2, 3], Some((3, 4, &[1, 2, 3], 3)))], &[1, 2, 3]);
    let handled = h.handle(reassign(0, &[1, 2]));
    // The leader is removed: a target replica in sync takes over, then 3
    // leaves the ISR, stops and deletes its copy.
    assert_eq!(
        handled.state_writes(),
        vec![
            (tp(0), 3, 1, 5, vec![1, 2, 3]),
            (tp(0), 4, 1, 6, vec![1, 2])
        ]
    );
    assert_eq!(handled.stop_replica(3), vec![(0, true)]);
    assert_eq!(h.zk.topics["t"].partitions[&0], vec![1, 2]);
    assert_eq!(h.core.context().unwrap().replicas(&tp(0)), &[1, 2]);
    assert_eq!(h.replica_state(&tp(0), 3), ReplicaState::NonExistent);
}

#[test]
fn reassignment_back_to_the_current_replicas_completes_without_moving_anything() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 4, &[1, 2], 3)))], &[1, 2, 3]);
    let handled = h.handle(reassign(0, &[1, 2]));
    // Only the leader epoch is bumped, so replicas learn the (same) list.
    assert_eq!(handled.state_writes(), vec![(tp(0), 3, 1, 5, vec![1, 2])]);
    assert_eq!(handled.stop_replica(1), vec![]);
    assert_eq!(handled.stop_replica(2), vec![]);
    assert!(h.core.context().unwrap().reassignments.is_empty());
}

#[test]
fn reassignment_to_an_unregistered_broker_is_ignored() {
    let mut h = Harness::with_topic(&[(0, &[1, 2], Some((1, 4, &[1, 2], 3)))], &[1, 2]);
    let handled = h.handle(reassign(0, &[1, 7]));
    assert_eq!(handled.state_writes(), vec![]);
    assert!(h.core.context().unwrap().reassignments.is_empty());
    assert_eq!(h.zk.topics["t"].partitions[&0], vec![1, 2]);
}

// --- batching ---

#[test]
fn one_event_sends_each_broker_one_request_of_each_kind_with_every_partition() {
    let partitions: Vec<PartitionSpec> = (0..6)
        .map(|p| (p, &[1, 2, 3][..], Some((1, 0, &[1, 2, 3][..], 0))))
        .collect();
    let mut h = Harness::with_topic(&partitions, &[1, 2, 3]);
    let handled = h.brokers_now(&[2, 3]);
    assert_eq!(handled.state_writes().len(), 6);
    assert_eq!(handled.recipients(), (vec![2, 3], vec![2, 3], vec![]));
    let led: Vec<_> = handled
        .leader_and_isr(2)
        .into_iter()
        .map(|p| (p.0, p.1))
        .collect();
    assert_eq!(led, (0..6).map(|p| (p, 2)).collect::<Vec<_>>());
    assert_eq!(handled.update_metadata(3).len(), 6);
    // Per broker: LeaderAndIsr before UpdateMetadata.
    let kinds: Vec<_> = handled
        .requests_to(2)
        .into_iter()
        .map(ControllerRequest::api_key)
        .collect();
    assert_eq!(
        kinds,
        vec![
            ControllerRequest::LeaderAndIsr(Default::default()).api_key(),
            ControllerRequest::UpdateMetadata(Default::default()).api_key()
        ]
    );
}
