//! Rebuilding a partition's groups from `__consumer_offsets` (Kafka's
//! `GroupMetadataManager.doLoadGroupsAndOffsets`): records are replayed in
//! log order, a later record for a key replacing an earlier one and a
//! tombstone removing it; what remains becomes the groups this coordinator
//! serves.

use std::collections::HashMap;
use std::time::Duration;

use ::log::warn;
use bytes::Bytes;
use tokio::time::Instant;

use gregor_protocol::TopicPartition;
use gregor_record::{BatchError, Batches, RecordError, Records};

use super::group::{GroupMetadata, GroupState};
use super::member::{Member, Protocol};
use super::offsets::CommittedOffset;
use super::offsets_topic::{OffsetsTopic, OffsetsTopicError};
use super::partition::GROUP_METADATA_TOPIC_NAME;
use super::schema::{self, GroupMetadataValue, RecordKey, SchemaError};

/// Why a partition could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Topic(#[from] OffsetsTopicError),
    #[error("{GROUP_METADATA_TOPIC_NAME}-{partition} at offset {offset}: {source}")]
    Batch {
        partition: i32,
        offset: i64,
        #[source]
        source: BatchError,
    },
}

/// Reads `partition` from its log start to its current log end, at most
/// `buffer_size` bytes at a time (`offsets.load.buffer.size`; a larger
/// batch is still read whole). A record that does not decode is skipped
/// with a warning: one bad record must not keep a whole partition's groups
/// from being served.
pub fn read_partition(
    topic: &dyn OffsetsTopic,
    partition: i32,
    buffer_size: u64,
) -> Result<LoadedPartition, LoadError> {
    let (mut offset, end) = topic.bounds(partition)?;
    let mut loaded = LoadedPartition::default();
    while offset < end {
        let Some(chunk) = topic.read(partition, offset, buffer_size)? else {
            break;
        };
        let before = offset;
        for batch in Batches::new(&chunk) {
            let (header, bytes) = batch.map_err(|source| LoadError::Batch {
                partition,
                offset,
                source,
            })?;
            offset = header.last_offset() + 1;
            if header.is_control() {
                continue;
            }
            let records = Records::new(&chunk.slice_ref(bytes));
            if let Err(e) = records.and_then(|r| loaded.apply_batch(r)) {
                warn!(
                    "{GROUP_METADATA_TOPIC_NAME}-{partition}: skipping undecodable batch at {}: {e}",
                    header.base_offset
                );
            }
        }
        if offset == before {
            break;
        }
    }
    Ok(loaded)
}

/// A partition's latest record per key, while it is being read.
#[derive(Debug, Default)]
pub struct LoadedPartition {
    /// Each offset with where its record ends in the log.
    offsets: HashMap<String, HashMap<TopicPartition, (CommittedOffset, i64)>>,
    groups: HashMap<String, GroupMetadataValue>,
}

impl LoadedPartition {
    /// Applies a batch's records; records whose key or value do not decode
    /// are skipped with a warning.
    fn apply_batch(&mut self, records: Records) -> Result<(), RecordError> {
        for record in records {
            let record = record?;
            let Some(key) = &record.key else {
                warn!("record at offset {} has no key; skipped", record.offset);
                continue;
            };
            if let Err(e) = self.apply(record.offset, key, record.value.as_ref()) {
                warn!("record at offset {} skipped: {e}", record.offset);
            }
        }
        Ok(())
    }

    /// Applies the record at `offset` (`value` `None`: a tombstone).
    pub fn apply(
        &mut self,
        offset: i64,
        key: &Bytes,
        value: Option<&Bytes>,
    ) -> Result<(), SchemaError> {
        match schema::decode_key(key)? {
            RecordKey::Offset(key) => {
                let tp = TopicPartition::new(key.topic, key.partition);
                match value {
                    Some(value) => {
                        let committed =
                            CommittedOffset::from_value(schema::decode_offset_value(value)?);
                        self.offsets
                            .entry(key.group)
                            .or_default()
                            .insert(tp, (committed, offset + 1));
                    }
                    None => {
                        if let Some(group) = self.offsets.get_mut(&key.group) {
                            group.remove(&tp);
                        }
                    }
                }
            }
            RecordKey::Group(key) => match value {
                Some(value) => {
                    self.groups
                        .insert(key.group, schema::decode_group_value(value)?);
                }
                None => {
                    self.groups.remove(&key.group);
                }
            },
        }
        Ok(())
    }

    /// The groups: each with a metadata record (Stable with its members, or
    /// Empty), plus Empty ones that only have offsets. Loaded members must
    /// heartbeat within their session timeout from `now`, as after any
    /// rebalance.
    pub fn into_groups(mut self, now: Instant, now_ms: i64) -> Vec<GroupMetadata> {
        let mut groups: Vec<GroupMetadata> = Vec::new();
        for (group_id, value) in self.groups {
            let mut group = group_from_record(group_id, value, now, now_ms);
            let offsets = self.offsets.remove(&group.group_id).unwrap_or_default();
            set_offsets(&mut group, offsets);
            groups.push(group);
        }
        for (group_id, offsets) in self.offsets {
            if offsets.is_empty() {
                continue;
            }
            let mut group = GroupMetadata::new(group_id, now_ms);
            set_offsets(&mut group, offsets);
            groups.push(group);
        }
        groups
    }
}

fn set_offsets(
    group: &mut GroupMetadata,
    offsets: HashMap<TopicPartition, (CommittedOffset, i64)>,
) {
    for (tp, (offset, position)) in offsets {
        group.offset_positions.insert(tp.clone(), position);
        group.offsets.insert(tp, offset);
    }
}

fn group_from_record(
    group_id: String,
    value: GroupMetadataValue,
    now: Instant,
    now_ms: i64,
) -> GroupMetadata {
    let mut group = GroupMetadata::new(group_id, now_ms);
    group.generation_id = value.generation;
    group.protocol_type = Some(value.protocol_type.clone()).filter(|t| !t.is_empty());
    group.protocol_name = value.protocol.clone();
    group.leader_id = value.leader;
    group.state_timestamp_ms = (value.current_state_timestamp != schema::NO_TIMESTAMP)
        .then_some(value.current_state_timestamp);
    let protocol = value.protocol.unwrap_or_default();
    for m in value.members {
        let millis = |ms: i32| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        group.add_member(Member {
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
            rebalance_timeout: millis(m.rebalance_timeout),
            session_timeout: millis(m.session_timeout),
            protocol_type: value.protocol_type.clone(),
            protocols: vec![Protocol {
                name: protocol.clone(),
                metadata: m.subscription,
            }],
            assignment: m.assignment,
            awaiting_join: None,
            awaiting_sync: None,
            last_heartbeat: now,
            is_new: false,
        });
    }
    group.state = if group.members.is_empty() {
        GroupState::Empty
    } else {
        GroupState::Stable
    };
    group.subscribed_topics = group.compute_subscribed_topics();
    group
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::schema::{MemberMetadataValue, OffsetCommitValue};
    use crate::coordinator::testing::subscription;

    fn offset(group: &str, topic: &str, partition: i32, at: i64) -> (Bytes, Option<Bytes>) {
        let value = OffsetCommitValue {
            offset: at,
            leader_epoch: 3,
            metadata: String::new(),
            commit_timestamp: 10,
            expire_timestamp: schema::NO_TIMESTAMP,
        };
        (
            schema::offset_key(group, topic, partition).unwrap(),
            Some(schema::offset_value(&value).unwrap()),
        )
    }

    fn metadata(group: &str, members: &[&str]) -> (Bytes, Option<Bytes>) {
        let value = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 4,
            protocol: Some("range".into()),
            leader: members.first().map(|m| (*m).to_owned()),
            current_state_timestamp: 7,
            members: members
                .iter()
                .map(|m| MemberMetadataValue {
                    member_id: (*m).into(),
                    group_instance_id: None,
                    client_id: "c".into(),
                    client_host: "/h".into(),
                    rebalance_timeout: 1000,
                    session_timeout: 500,
                    subscription: subscription(&["t"]),
                    assignment: Bytes::from_static(b"asg"),
                })
                .collect(),
        };
        (
            schema::group_key(group).unwrap(),
            Some(schema::group_value(&value).unwrap()),
        )
    }

    fn load(records: &[(Bytes, Option<Bytes>)]) -> HashMap<String, GroupMetadata> {
        let mut loaded = LoadedPartition::default();
        for (at, (k, v)) in records.iter().enumerate() {
            loaded.apply(at as i64, k, v.as_ref()).unwrap();
        }
        loaded
            .into_groups(Instant::now(), 100)
            .into_iter()
            .map(|g| (g.group_id.clone(), g))
            .collect()
    }

    #[test]
    fn latest_record_per_key_wins_and_tombstones_remove() {
        let groups = load(&[
            offset("g", "t", 0, 5),
            offset("g", "t", 1, 6),
            offset("g", "t", 0, 9),
            (schema::offset_key("g", "t", 1).unwrap(), None),
            metadata("g", &["m1", "m2"]),
            offset("simple", "t", 0, 1),
            metadata("gone", &["x"]),
            offset("gone", "t", 0, 1),
            (schema::group_key("gone").unwrap(), None),
            (schema::offset_key("gone", "t", 0).unwrap(), None),
        ]);
        assert_eq!(groups.len(), 2, "{:?}", groups.keys());

        let g = &groups["g"];
        assert!(g.is(GroupState::Stable));
        assert_eq!(g.generation_id, 4);
        assert_eq!(g.leader_id.as_deref(), Some("m1"));
        assert_eq!(g.members["m2"].assignment, Bytes::from_static(b"asg"));
        assert_eq!(g.members["m2"].metadata("range"), subscription(&["t"]));
        assert!(g.is_subscribed_to("t") && !g.is_subscribed_to("u"));
        assert_eq!(g.members["m2"].session_timeout, Duration::from_millis(500));
        let fetched = g.fetch_offsets(None);
        assert_eq!(fetched.len(), 1);
        assert_eq!(fetched[0].0, TopicPartition::new("t", 0));
        let o = fetched[0].1.as_ref().unwrap();
        assert_eq!((o.offset, o.leader_epoch), (9, Some(3)));

        let simple = &groups["simple"];
        assert!(simple.is(GroupState::Empty));
        assert_eq!(simple.protocol_type(), None);
        assert!(simple.has_offsets());
    }

    #[test]
    fn a_group_without_members_loads_empty() {
        let groups = load(&[metadata("g", &[])]);
        assert!(groups["g"].is(GroupState::Empty));
        assert_eq!(groups["g"].state_timestamp_ms, Some(7));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let mut loaded = LoadedPartition::default();
        let err = loaded
            .apply(0, &Bytes::from_static(&[0, 9, 0]), None)
            .unwrap_err();
        assert!(matches!(err, SchemaError::UnknownKeyVersion(9)));
    }
}
