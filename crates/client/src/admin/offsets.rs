//! Partition offsets: the earliest, the latest, or the first at a time,
//! asked of each partition's leader with ListOffsets.

use std::collections::BTreeMap;

use super::{check, AdminClient, AdminError};
use crate::versions::LIST_OFFSETS_VERSION;
use gregor_protocol::api::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use gregor_protocol::TopicPartition;

/// The `replica_id` of a request from a client rather than a follower.
const CONSUMER_REPLICA_ID: i32 = -1;
/// READ_UNCOMMITTED: "latest" is the high watermark, as
/// `kafka-consumer-groups.sh` reports it.
const READ_UNCOMMITTED: i8 = 0;

/// Which offset of a partition to look up (Kafka's `OffsetSpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The end of the log (the high watermark).
    Latest,
    /// The first offset whose record's timestamp is at or after this
    /// (ms since the Unix epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    /// The timestamp ListOffsets takes: -2 and -1 are earliest and latest.
    fn wire_timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(ms) => ms,
        }
    }
}

/// An offset found by ListOffsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// -1 when looking up a timestamp later than every record.
    pub offset: i64,
    /// The found record's timestamp, -1 for earliest and latest.
    pub timestamp: i64,
}

impl AdminClient {
    /// Looks up one offset of each partition, asking each leader about the
    /// partitions it leads.
    pub async fn list_offsets(
        &mut self,
        specs: &[(TopicPartition, OffsetSpec)],
    ) -> Result<BTreeMap<TopicPartition, ListedOffset>, AdminError> {
        let mut topics: Vec<String> = specs.iter().map(|(tp, _)| tp.topic.clone()).collect();
        topics.sort_unstable();
        topics.dedup();
        self.retrying(async |admin: &mut AdminClient| {
            let metadata = admin.network.refresh_metadata(Some(&topics), false).await?;
            let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, OffsetSpec)>> = BTreeMap::new();
            for (tp, spec) in specs {
                let leader = metadata
                    .topics
                    .get(&tp.topic)
                    .and_then(|t| t.leader_of(tp.partition))
                    .ok_or_else(|| AdminError::NoLeader(tp.clone()))?;
                by_leader
                    .entry(leader)
                    .or_default()
                    .push((tp.clone(), *spec));
            }
            let mut found = BTreeMap::new();
            for (leader, partitions) in by_leader {
                let response = admin
                    .network
                    .send(leader, LIST_OFFSETS_VERSION, &request_for(&partitions))
                    .await?;
                for topic in response.topics {
                    for p in topic.partitions {
                        let tp = TopicPartition::new(topic.name.as_str(), p.partition_index);
                        check(p.error_code, None, || format!("listing offsets of {tp}"))?;
                        let listed = ListedOffset {
                            offset: p.offset,
                            timestamp: p.timestamp,
                        };
                        found.insert(tp, listed);
                    }
                }
            }
            Ok(found)
        })
        .await
    }
}

fn request_for(partitions: &[(TopicPartition, OffsetSpec)]) -> ListOffsetsRequest {
    let mut by_topic: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
    for (tp, spec) in partitions {
        by_topic
            .entry(tp.topic.as_str())
            .or_default()
            .push(ListOffsetsPartition {
                partition_index: tp.partition,
                current_leader_epoch: -1,
                timestamp: spec.wire_timestamp(),
            });
    }
    ListOffsetsRequest {
        replica_id: CONSUMER_REPLICA_ID,
        isolation_level: READ_UNCOMMITTED,
        topics: by_topic
            .into_iter()
            .map(|(name, partitions)| ListOffsetsTopic {
                name: name.to_owned(),
                partitions,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_group_partitions_by_topic_with_kafkas_special_timestamps() {
        let request = request_for(&[
            (TopicPartition::new("b", 0), OffsetSpec::Latest),
            (TopicPartition::new("a", 1), OffsetSpec::Earliest),
            (
                TopicPartition::new("b", 2),
                OffsetSpec::Timestamp(1_700_000_000_000),
            ),
        ]);
        assert_eq!(request.replica_id, -1);
        let summary: Vec<(&str, Vec<(i32, i64)>)> = request
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| (p.partition_index, p.timestamp))
                    .collect();
                (t.name.as_str(), partitions)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", vec![(1, -2)]),
                ("b", vec![(0, -1), (2, 1_700_000_000_000)]),
            ]
        );
    }
}
