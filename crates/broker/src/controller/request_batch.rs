//! [`RequestBatch`]: collects what each broker must be told while the
//! controller handles one event, then sends it as one LeaderAndIsr, one
//! StopReplica and one UpdateMetadata per broker (Kafka's
//! `ControllerBrokerRequestBatch`). Batching keeps a broker failure that
//! moves hundreds of leaderships to a handful of requests.
//!
//! Owns: building the controller's requests from the context, and the
//! request and response types the channel carries. Must not depend on:
//! tokio, the ZooKeeper client, sockets.

use std::collections::{BTreeMap, BTreeSet};

use super::context::ControllerContext;
use gregor_protocol::api::leader_and_isr::{
    LeaderAndIsrLiveLeader, LeaderAndIsrPartitionState, LeaderAndIsrRequest, LeaderAndIsrResponse,
    LeaderAndIsrTopicState,
};
use gregor_protocol::api::stop_replica::{
    StopReplicaPartitionState, StopReplicaRequest, StopReplicaResponse, StopReplicaTopicState,
};
use gregor_protocol::api::update_metadata::{
    UpdateMetadataBroker, UpdateMetadataEndpoint, UpdateMetadataPartitionState,
    UpdateMetadataRequest, UpdateMetadataResponse, UpdateMetadataTopicState,
};
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_protocol::Uuid;
use gregor_protocol::{ApiKey, Message};

/// Kafka's `LeaderAndIsr.LeaderDuringDelete`: the leader UpdateMetadata
/// names for a partition whose topic is being deleted, telling brokers to
/// drop it from their metadata.
pub const LEADER_DURING_DELETE: i32 = -2;
/// Kafka's `LeaderAndIsr.EpochDuringDelete`: the leader epoch of a
/// StopReplica that deletes, accepted whatever epoch the broker knows.
pub const EPOCH_DURING_DELETE: i32 = -2;
/// Kafka's `LeaderAndIsr.NoEpoch`: StopReplica without a leader epoch check.
const NO_EPOCH: i32 = -1;

/// A request from the controller to one broker.
#[derive(Debug, Clone, PartialEq)]
pub enum ControllerRequest {
    LeaderAndIsr(LeaderAndIsrRequest),
    UpdateMetadata(UpdateMetadataRequest),
    StopReplica(StopReplicaRequest),
}

/// A broker's answer to a [`ControllerRequest`] of the same variant.
#[derive(Debug, Clone, PartialEq)]
pub enum ControllerResponse {
    LeaderAndIsr(LeaderAndIsrResponse),
    UpdateMetadata(UpdateMetadataResponse),
    StopReplica(StopReplicaResponse),
}

impl ControllerRequest {
    /// The request's API.
    pub fn api_key(&self) -> ApiKey {
        match self {
            ControllerRequest::LeaderAndIsr(_) => LeaderAndIsrRequest::API_KEY,
            ControllerRequest::UpdateMetadata(_) => UpdateMetadataRequest::API_KEY,
            ControllerRequest::StopReplica(_) => StopReplicaRequest::API_KEY,
        }
    }
}

/// The requests one event produced, not yet sent.
#[derive(Debug, Default)]
pub struct RequestBatch {
    /// Per broker, the partitions whose leadership it must (re)learn, and
    /// whether each is new to it.
    leader_and_isr: BTreeMap<BrokerId, BTreeMap<TopicPartition, bool>>,
    /// Per broker, the partitions to stop, and whether to delete each.
    stop_replica: BTreeMap<BrokerId, BTreeMap<TopicPartition, bool>>,
    update_metadata_brokers: BTreeSet<BrokerId>,
    update_metadata_partitions: BTreeSet<TopicPartition>,
}

impl RequestBatch {
    /// Tells `brokers` the partition's current leadership (from the
    /// context when sent) and every live broker its new metadata.
    pub fn leader_and_isr(
        &mut self,
        ctx: &ControllerContext,
        brokers: impl IntoIterator<Item = BrokerId>,
        tp: &TopicPartition,
        is_new: bool,
    ) {
        for broker in brokers {
            self.leader_and_isr
                .entry(broker)
                .or_default()
                .insert(tp.clone(), is_new);
        }
        self.update_metadata(ctx.live_or_shutting_down(), [tp.clone()]);
    }

    /// Tells `broker` to stop replicating `tp`, and to delete it if asked.
    pub fn stop_replica(&mut self, broker: BrokerId, tp: &TopicPartition, delete: bool) {
        let entry = self.stop_replica.entry(broker).or_default();
        let delete = delete || entry.get(tp).copied().unwrap_or(false);
        entry.insert(tp.clone(), delete);
    }

    /// Sends `brokers` the live broker list and these partitions' states.
    pub fn update_metadata(
        &mut self,
        brokers: impl IntoIterator<Item = BrokerId>,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) {
        self.update_metadata_brokers.extend(brokers);
        self.update_metadata_partitions.extend(partitions);
    }

    /// Builds every request, leaving the batch empty: per broker one
    /// LeaderAndIsr, then one UpdateMetadata, then one StopReplica. Brokers
    /// that are no longer live are skipped (their channel is gone).
    pub fn drain(&mut self, ctx: &ControllerContext) -> Vec<(BrokerId, ControllerRequest)> {
        let mut requests = Vec::new();
        for (broker, partitions) in std::mem::take(&mut self.leader_and_isr) {
            if let Some(request) = leader_and_isr_request(ctx, broker, &partitions) {
                requests.push((broker, ControllerRequest::LeaderAndIsr(request)));
            }
        }
        let partitions = std::mem::take(&mut self.update_metadata_partitions);
        for broker in std::mem::take(&mut self.update_metadata_brokers) {
            if ctx.is_live(broker) {
                let request = update_metadata_request(ctx, broker, &partitions);
                requests.push((broker, ControllerRequest::UpdateMetadata(request)));
            }
        }
        for (broker, partitions) in std::mem::take(&mut self.stop_replica) {
            if ctx.is_live(broker) {
                let request = stop_replica_request(ctx, broker, &partitions);
                requests.push((broker, ControllerRequest::StopReplica(request)));
            }
        }
        requests
    }
}

fn broker_epoch(ctx: &ControllerContext, broker: BrokerId) -> i64 {
    ctx.live_brokers.get(&broker).map_or(-1, |b| b.epoch)
}

fn topic_id(ctx: &ControllerContext, topic: &str) -> Uuid {
    ctx.topic_ids.get(topic).copied().unwrap_or(Uuid::ZERO)
}

/// Groups partitions by topic, in order.
fn by_topic<'a, V>(
    partitions: impl IntoIterator<Item = (&'a TopicPartition, V)>,
) -> BTreeMap<&'a str, Vec<(&'a TopicPartition, V)>> {
    let mut topics: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (tp, value) in partitions {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push((tp, value));
    }
    topics
}

fn leader_and_isr_request(
    ctx: &ControllerContext,
    broker: BrokerId,
    partitions: &BTreeMap<TopicPartition, bool>,
) -> Option<LeaderAndIsrRequest> {
    let mut leaders = BTreeSet::new();
    let topic_states: Vec<_> = by_topic(partitions.iter())
        .into_iter()
        .map(|(topic, partitions)| LeaderAndIsrTopicState {
            topic_name: topic.to_owned(),
            topic_id: topic_id(ctx, topic),
            partition_states: partitions
                .into_iter()
                .filter_map(|(tp, is_new)| {
                    let leadership = ctx.leaderships.get(tp)?;
                    leaders.insert(leadership.state.leader);
                    Some(LeaderAndIsrPartitionState {
                        partition_index: tp.partition,
                        controller_epoch: leadership.state.controller_epoch,
                        leader: leadership.state.leader,
                        leader_epoch: leadership.state.leader_epoch,
                        isr: leadership.state.isr.clone(),
                        zk_version: leadership.zk_version,
                        replicas: ctx.replicas(tp).to_vec(),
                        is_new: *is_new,
                        ..Default::default()
                    })
                })
                .collect(),
        })
        .filter(|topic| !topic.partition_states.is_empty())
        .collect();
    if topic_states.is_empty() {
        return None;
    }
    let live_leaders = leaders
        .into_iter()
        .filter_map(|id| {
            let endpoint = ctx.live_brokers.get(&id)?.info.endpoints.first()?.clone();
            Some(LeaderAndIsrLiveLeader {
                broker_id: id,
                host_name: endpoint.host,
                port: endpoint.port,
            })
        })
        .collect();
    Some(LeaderAndIsrRequest {
        controller_id: ctx.controller_id,
        controller_epoch: ctx.epoch,
        broker_epoch: broker_epoch(ctx, broker),
        topic_states,
        live_leaders,
        ..Default::default()
    })
}

fn update_metadata_request(
    ctx: &ControllerContext,
    broker: BrokerId,
    partitions: &BTreeSet<TopicPartition>,
) -> UpdateMetadataRequest {
    let topic_states = by_topic(partitions.iter().map(|tp| (tp, ())))
        .into_iter()
        .map(|(topic, partitions)| UpdateMetadataTopicState {
            topic_name: topic.to_owned(),
            topic_id: topic_id(ctx, topic),
            partition_states: partitions
                .into_iter()
                .filter_map(|(tp, ())| {
                    let leadership = ctx.leaderships.get(tp)?;
                    let replicas = ctx.replicas(tp).to_vec();
                    Some(UpdateMetadataPartitionState {
                        partition_index: tp.partition,
                        controller_epoch: leadership.state.controller_epoch,
                        leader: if ctx.is_being_deleted(tp) {
                            LEADER_DURING_DELETE
                        } else {
                            leadership.state.leader
                        },
                        leader_epoch: leadership.state.leader_epoch,
                        isr: leadership.state.isr.clone(),
                        zk_version: leadership.zk_version,
                        offline_replicas: replicas
                            .iter()
                            .copied()
                            .filter(|r| !ctx.is_live(*r))
                            .collect(),
                        replicas,
                        ..Default::default()
                    })
                })
                .collect(),
        })
        .filter(|topic| !topic.partition_states.is_empty())
        .collect();
    let live_brokers = ctx
        .live_brokers
        .values()
        .map(|b| UpdateMetadataBroker {
            id: b.info.id,
            endpoints: b
                .info
                .endpoints
                .iter()
                .map(|e| UpdateMetadataEndpoint {
                    port: e.port,
                    host: e.host.clone(),
                    listener: e.listener_name.clone(),
                    security_protocol: e.security_protocol.id(),
                })
                .collect(),
            rack: b.info.rack.clone(),
            ..Default::default()
        })
        .collect();
    UpdateMetadataRequest {
        controller_id: ctx.controller_id,
        controller_epoch: ctx.epoch,
        broker_epoch: broker_epoch(ctx, broker),
        topic_states,
        live_brokers,
        ..Default::default()
    }
}

fn stop_replica_request(
    ctx: &ControllerContext,
    broker: BrokerId,
    partitions: &BTreeMap<TopicPartition, bool>,
) -> StopReplicaRequest {
    let topic_states = by_topic(partitions.iter())
        .into_iter()
        .map(|(topic, partitions)| StopReplicaTopicState {
            topic_name: topic.to_owned(),
            partition_states: partitions
                .into_iter()
                .map(|(tp, delete)| StopReplicaPartitionState {
                    partition_index: tp.partition,
                    leader_epoch: if *delete {
                        EPOCH_DURING_DELETE
                    } else {
                        ctx.leaderships
                            .get(tp)
                            .map_or(NO_EPOCH, |l| l.state.leader_epoch)
                    },
                    delete_partition: *delete,
                })
                .collect(),
        })
        .collect();
    StopReplicaRequest {
        controller_id: ctx.controller_id,
        controller_epoch: ctx.epoch,
        broker_epoch: broker_epoch(ctx, broker),
        topic_states,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::context::Leadership;
    use crate::controller::tests::broker;
    use gregor_zk::data::LeaderIsrAndControllerEpoch;

    /// Brokers 1 and 2 live (3 dead); topic t with partitions 0 (leader 1)
    /// and 1 (leader 2), replicas [1, 2, 3] and [2, 3, 1].
    fn context() -> ControllerContext {
        let mut ctx = ControllerContext {
            controller_id: 1,
            epoch: 7,
            ..Default::default()
        };
        ctx.live_brokers.insert(1, broker(1, 100));
        ctx.live_brokers.insert(2, broker(2, 200));
        ctx.topic_ids.insert("t".into(), Uuid::from_bytes([9; 16]));
        for (p, replicas, leader) in [(0, vec![1, 2, 3], 1), (1, vec![2, 3, 1], 2)] {
            let tp = TopicPartition::new("t", p);
            ctx.assignments.insert(tp.clone(), replicas.clone());
            ctx.leaderships.insert(
                tp,
                Leadership {
                    state: LeaderIsrAndControllerEpoch::new(leader, 4, vec![leader], 6),
                    zk_version: 3,
                },
            );
        }
        ctx
    }

    #[test]
    fn leader_and_isr_carries_leadership_topic_id_and_live_leaders() {
        let ctx = context();
        let partitions = [
            (TopicPartition::new("t", 0), true),
            (TopicPartition::new("t", 1), false),
        ]
        .into_iter()
        .collect();
        let request = leader_and_isr_request(&ctx, 2, &partitions).expect("partitions are known");
        assert_eq!(
            (
                request.controller_id,
                request.controller_epoch,
                request.broker_epoch
            ),
            (1, 7, 200)
        );
        assert_eq!(request.topic_states.len(), 1);
        let topic = &request.topic_states[0];
        assert_eq!(topic.topic_id, Uuid::from_bytes([9; 16]));
        let p0 = &topic.partition_states[0];
        assert_eq!(
            (
                p0.leader,
                p0.leader_epoch,
                p0.zk_version,
                p0.controller_epoch,
                p0.is_new
            ),
            (1, 4, 3, 6, true)
        );
        assert_eq!(p0.replicas, vec![1, 2, 3]);
        let leaders: Vec<_> = request
            .live_leaders
            .iter()
            .map(|l| (l.broker_id, l.port))
            .collect();
        assert_eq!(leaders, vec![(1, 9091), (2, 9092)]);
    }

    #[test]
    fn update_metadata_marks_deleted_topics_and_offline_replicas() {
        let mut ctx = context();
        ctx.topics_to_delete.insert("t".into());
        let partitions = [TopicPartition::new("t", 0)].into_iter().collect();
        let request = update_metadata_request(&ctx, 1, &partitions);
        let p0 = &request.topic_states[0].partition_states[0];
        assert_eq!(p0.leader, LEADER_DURING_DELETE);
        assert_eq!(p0.offline_replicas, vec![3]);
        let ids: Vec<_> = request.live_brokers.iter().map(|b| b.id).collect();
        assert_eq!(ids, vec![1, 2]);
    }

    #[test]
    fn stop_replica_with_delete_uses_the_deletion_epoch() {
        let ctx = context();
        let mut batch = RequestBatch::default();
        let tp = TopicPartition::new("t", 1);
        batch.stop_replica(2, &tp, true);
        // A later stop without delete does not undo the delete.
        batch.stop_replica(2, &tp, false);
        let request = stop_replica_request(&ctx, 2, &batch.stop_replica[&2]);
        let state = &request.topic_states[0].partition_states[0];
        assert!(state.delete_partition);
        assert_eq!(state.leader_epoch, EPOCH_DURING_DELETE);
    }
}
