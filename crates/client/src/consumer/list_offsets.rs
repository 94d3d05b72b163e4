//! Looking offsets up by time (ListOffsets, Kafka's `Fetcher.fetchOffsetsByTimes`):
//! where to start a partition reset to the earliest or latest offset, and
//! `offsets_for_times`. One request per partition leader.

use std::collections::{BTreeMap, HashMap};

use log::debug;

use super::config::IsolationLevel;
use super::ConsumerError;
use crate::versions::LIST_OFFSETS_VERSION;
use crate::NetworkClient;
use gregor_protocol::api::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

/// A consumer's `replica_id` in ListOffsets.
const CONSUMER_REPLICA_ID: i32 = -1;

/// The offset ListOffsets found for a timestamp, with the timestamp of the
/// record there and its leader epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    pub offset: i64,
    pub timestamp: i64,
    pub leader_epoch: Option<i32>,
}

/// The result of one round of lookups.
#[derive(Debug, Default)]
pub(super) struct Listed {
    /// Answered partitions; `None` where no record is at or after the
    /// timestamp.
    pub found: BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>,
    /// Partitions to ask again once the metadata is refreshed (no leader,
    /// a leader that moved, a broker that did not answer).
    pub retry: Vec<TopicPartition>,
}

/// Asks each partition's leader for the first offset whose timestamp is at
/// or after the target (-2: the log start, -1: the end).
pub(super) async fn list_offsets(
    network: &mut NetworkClient,
    isolation_level: IsolationLevel,
    targets: &BTreeMap<TopicPartition, i64>,
) -> Result<Listed, ConsumerError> {
    let mut listed = Listed::default();
    let mut by_leader: HashMap<i32, Vec<(&TopicPartition, i64, i32)>> = HashMap::new();
    for (tp, &timestamp) in targets {
        let leader = network
            .metadata()
            .topics
            .get(&tp.topic)
            .and_then(|t| t.partitions.iter().find(|p| p.partition == tp.partition))
            .filter(|p| p.leader >= 0);
        match leader {
            Some(p) => by_leader
                .entry(p.leader)
                .or_default()
                .push((tp, timestamp, p.leader_epoch)),
            None => listed.retry.push(tp.clone()),
        }
    }
    for (leader, partitions) in by_leader {
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for (tp, timestamp, leader_epoch) in &partitions {
            let partition = ListOffsetsPartition {
                partition_index: tp.partition,
                current_leader_epoch: *leader_epoch,
                timestamp: *timestamp,
            };
            match topics.iter_mut().find(|t| t.name == tp.topic) {
                Some(topic) => topic.partitions.push(partition),
                None => topics.push(ListOffsetsTopic {
                    name: tp.topic.clone(),
                    partitions: vec![partition],
                }),
            }
        }
        let request = ListOffsetsRequest {
            replica_id: CONSUMER_REPLICA_ID,
            isolation_level: isolation_level.wire_value(),
            topics,
        };
        let response = match network.send(leader, LIST_OFFSETS_VERSION, &request).await {
            Ok(response) => response,
            Err(e) => {
                debug!("ListOffsets to broker {leader} failed: {e}");
                listed
                    .retry
                    .extend(partitions.iter().map(|(tp, _, _)| (*tp).clone()));
                continue;
            }
        };
        for topic in response.topics {
            for p in topic.partitions {
                let tp = TopicPartition::new(topic.name.as_str(), p.partition_index);
                match ErrorCode::from_code(p.error_code) {
                    ErrorCode::NONE => {
                        let found = (p.offset >= 0).then_some(OffsetAndTimestamp {
                            offset: p.offset,
                            timestamp: p.timestamp,
                            leader_epoch: Some(p.leader_epoch).filter(|e| *e >= 0),
                        });
                        listed.found.insert(tp, found);
                    }
                    code if code.is_retriable() => {
                        debug!("ListOffsets of {tp} answered {code:?}");
                        listed.retry.push(tp);
                    }
                    code => return Err(ConsumerError::ListOffsets { tp, code }),
                }
            }
        }
    }
    Ok(listed)
}
