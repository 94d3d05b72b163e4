//! Consumer groups: list them (every broker coordinates some), describe
//! them, read and reset their committed offsets and delete them, each
//! through the group's coordinator.

use std::collections::BTreeMap;

use super::{check, AdminClient, AdminError, Outcomes};
use crate::versions::{
    DELETE_GROUPS_VERSION, DESCRIBE_GROUPS_VERSION, FIND_COORDINATOR_VERSION, GROUP_KEY_TYPE,
    LIST_GROUPS_VERSION, OFFSET_COMMIT_VERSION, OFFSET_FETCH_VERSION,
};
use gregor_protocol::api::delete_groups::DeleteGroupsRequest;
use gregor_protocol::api::describe_groups::{DescribeGroupsRequest, DescribedGroup};
use gregor_protocol::api::find_coordinator::FindCoordinatorRequest;
use gregor_protocol::api::list_groups::ListGroupsRequest;
use gregor_protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::api::offset_fetch::OffsetFetchRequest;
use gregor_protocol::consumer_protocol::Assignment;
use gregor_protocol::consumer_protocol::CONSUMER_PROTOCOL_TYPE;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

/// Group states in which nobody commits offsets but an admin
/// (`kafka-consumer-groups.sh --reset-offsets` accepts only these).
const INACTIVE_STATES: &[&str] = &["Empty", "Dead"];

/// A group as ListGroups names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    /// `consumer` for Kafka consumers, empty for a group with no members.
    pub protocol_type: String,
    /// `Empty`, `Stable`, `PreparingRebalance`, ...
    pub state: String,
    /// The broker id of its coordinator.
    pub coordinator: i32,
}

/// A group as DescribeGroups describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    /// `Dead` for a group the coordinator does not know.
    pub state: String,
    pub protocol_type: String,
    /// The assignment strategy (`range`, ...), empty while rebalancing.
    pub protocol: String,
    pub coordinator: i32,
    pub members: Vec<MemberDescription>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    /// The member's address as the coordinator saw it (`/127.0.0.1`).
    pub host: String,
    /// The partitions assigned to it, when the group is a consumer group
    /// in the Stable state.
    pub assignment: Vec<TopicPartition>,
}

impl GroupDescription {
    /// Whether nobody but an admin commits the group's offsets: it has no
    /// members (Empty) or does not exist (Dead). Only then do Kafka's
    /// tools reset its offsets.
    pub fn is_inactive(&self) -> bool {
        INACTIVE_STATES.contains(&self.state.as_str())
    }
}

impl AdminClient {
    /// Every group of every broker, sorted by id.
    pub async fn list_groups(&mut self) -> Result<Vec<GroupListing>, AdminError> {
        let request = ListGroupsRequest::default();
        self.retrying(async |admin: &mut AdminClient| {
            let brokers: Vec<i32> = admin
                .network
                .refresh_metadata(Some(&[]), false)
                .await?
                .brokers
                .keys()
                .copied()
                .collect();
            let mut groups = Vec::new();
            for broker in brokers {
                let response = admin
                    .network
                    .send(broker, LIST_GROUPS_VERSION, &request)
                    .await?;
                check(response.error_code, None, || {
                    format!("listing the groups of broker {broker}")
                })?;
                groups.extend(response.groups.into_iter().map(|g| GroupListing {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    state: g.group_state,
                    coordinator: broker,
                }));
            }
            groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
            Ok(groups)
        })
        .await
    }

    /// Describes each group, asking its coordinator.
    pub async fn describe_groups(
        &mut self,
        groups: &[String],
    ) -> Result<Vec<GroupDescription>, AdminError> {
        let mut described = Vec::with_capacity(groups.len());
        for group in groups {
            described.push(self.describe_group(group).await?);
        }
        Ok(described)
    }

    async fn describe_group(&mut self, group: &str) -> Result<GroupDescription, AdminError> {
        let request = DescribeGroupsRequest {
            groups: vec![group.to_owned()],
            include_authorized_operations: false,
        };
        self.retrying(async |admin: &mut AdminClient| {
            let coordinator = admin.find_coordinator(group).await?;
            let response = admin
                .network
                .send(coordinator, DESCRIBE_GROUPS_VERSION, &request)
                .await?;
            let described = response
                .groups
                .into_iter()
                .find(|g| g.group_id == group)
                .ok_or_else(|| AdminError::Broker {
                    context: format!("describing group '{group}'"),
                    code: ErrorCode::UNKNOWN_SERVER_ERROR,
                    message: Some("the coordinator did not describe it".into()),
                })?;
            check(described.error_code, None, || {
                format!("describing group '{group}'")
            })?;
            Ok(description(described, coordinator))
        })
        .await
    }

    /// The group's committed offsets (those of every partition it
    /// committed for).
    pub async fn list_consumer_group_offsets(
        &mut self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, i64>, AdminError> {
        let request = OffsetFetchRequest {
            group_id: group.to_owned(),
            topics: None,
            require_stable: false,
        };
        self.retrying(async |admin: &mut AdminClient| {
            let coordinator = admin.find_coordinator(group).await?;
            let response = admin
                .network
                .send(coordinator, OFFSET_FETCH_VERSION, &request)
                .await?;
            check(response.error_code, None, || {
                format!("fetching the offsets of group '{group}'")
            })?;
            let mut offsets = BTreeMap::new();
            for topic in response.topics {
                for p in topic.partitions {
                    let tp = TopicPartition::new(topic.name.as_str(), p.partition_index);
                    check(p.error_code, None, || {
                        format!("fetching the offset of group '{group}' for {tp}")
                    })?;
                    // -1: nothing committed for this partition.
                    if p.committed_offset >= 0 {
                        offsets.insert(tp, p.committed_offset);
                    }
                }
            }
            Ok(offsets)
        })
        .await
    }

    /// Commits `offsets` for a group that has no members, as
    /// `kafka-consumer-groups.sh --reset-offsets --execute` does: a commit
    /// outside any generation (generation -1, no member id), refused while
    /// the group has members, whose own commits would overwrite it.
    pub async fn alter_consumer_group_offsets(
        &mut self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<(), AdminError> {
        let description = self.describe_group(group).await?;
        if !description.is_inactive() {
            return Err(AdminError::GroupNotInactive {
                group: group.to_owned(),
                state: description.state,
            });
        }
        let request = commit_request(group, offsets);
        self.retrying(async |admin: &mut AdminClient| {
            let coordinator = admin.find_coordinator(group).await?;
            let response = admin
                .network
                .send(coordinator, OFFSET_COMMIT_VERSION, &request)
                .await?;
            for topic in response.topics {
                for p in topic.partitions {
                    check(p.error_code, None, || {
                        format!(
                            "committing the offset of group '{group}' for {}-{}",
                            topic.name, p.partition_index
                        )
                    })?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Deletes groups without members, with their committed offsets; one
    /// outcome per group.
    pub async fn delete_consumer_groups(
        &mut self,
        groups: &[String],
    ) -> Result<Outcomes, AdminError> {
        let mut outcomes = Vec::with_capacity(groups.len());
        for group in groups {
            let request = DeleteGroupsRequest {
                groups_names: vec![group.clone()],
            };
            let result = self
                .retrying(async |admin: &mut AdminClient| {
                    let coordinator = admin.find_coordinator(group).await?;
                    let response = admin
                        .network
                        .send(coordinator, DELETE_GROUPS_VERSION, &request)
                        .await?;
                    for result in response.results {
                        check(result.error_code, None, || {
                            format!("deleting group '{group}'")
                        })?;
                    }
                    Ok(())
                })
                .await;
            outcomes.push((group.clone(), result));
        }
        Ok(outcomes)
    }

    /// The broker id of the group's coordinator.
    async fn find_coordinator(&mut self, group: &str) -> Result<i32, AdminError> {
        let request = FindCoordinatorRequest {
            key: group.to_owned(),
            key_type: GROUP_KEY_TYPE,
            coordinator_keys: Vec::new(),
        };
        let response = self
            .network
            .send_to_any(FIND_COORDINATOR_VERSION, &request)
            .await?;
        check(response.error_code, response.error_message, || {
            format!("finding the coordinator of group '{group}'")
        })?;
        Ok(response.node_id)
    }
}

fn description(group: DescribedGroup, coordinator: i32) -> GroupDescription {
    let consumers = group.protocol_type == CONSUMER_PROTOCOL_TYPE;
    GroupDescription {
        members: group
            .members
            .into_iter()
            .map(|m| MemberDescription {
                assignment: if consumers {
                    // An assignment that does not parse shows as none.
                    Assignment::decode(&m.member_assignment)
                        .map(|a| a.partitions)
                        .unwrap_or_default()
                } else {
                    Vec::new()
                },
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                host: m.client_host,
            })
            .collect(),
        group_id: group.group_id,
        state: group.group_state,
        protocol_type: group.protocol_type,
        protocol: group.protocol_data,
        coordinator,
    }
}

fn commit_request(group: &str, offsets: &BTreeMap<TopicPartition, i64>) -> OffsetCommitRequest {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, &offset) in offsets {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push(OffsetCommitRequestPartition {
                partition_index: tp.partition,
                committed_offset: offset,
                ..Default::default()
            });
    }
    OffsetCommitRequest {
        group_id: group.to_owned(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        topics: topics
            .into_iter()
            .map(|(name, partitions)| OffsetCommitRequestTopic {
                name: name.to_owned(),
                partitions,
            })
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_commit_is_outside_any_generation() {
        let offsets = BTreeMap::from([
            (TopicPartition::new("t", 1), 7),
            (TopicPartition::new("t", 0), 5),
        ]);
        let request = commit_request("g", &offsets);
        assert_eq!(
            (request.generation_id, request.member_id.as_str()),
            (-1, "")
        );
        let [topic] = &request.topics[..] else {
            panic!("one topic expected: {request:?}");
        };
        let committed: Vec<(i32, i64)> = topic
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.committed_offset))
            .collect();
        assert_eq!(committed, [(0, 5), (1, 7)]);
    }
}
