//! Kafka's "consumer" embedded protocol: what a consumer puts in the opaque
//! `metadata` of JoinGroup (a [`Subscription`]) and what the group leader
//! hands each member in SyncGroup (an [`Assignment`]).
//!
//! The coordinator never interprets these bytes for the assignment (it only
//! reads the subscribed topics), so they are a contract between the members
//! alone: a gregor consumer shares a group with Java or librdkafka consumers
//! only if it writes and reads exactly Kafka's schemas,
//! `ConsumerProtocolSubscription` and `ConsumerProtocolAssignment`
//! (`clients/src/main/resources/common/message/`). Both are a big-endian
//! int16 version followed by the struct in that version, never flexible:
//!
//! ```text
//! Subscription v0: topics [string], user_data nullable bytes
//!              v1: + owned_partitions [topic string, partitions [int32]]
//!              v2: + generation_id int32
//!              v3: + rack_id nullable string
//! Assignment   v0: assigned_partitions [topic string, partitions [int32]],
//!                  user_data nullable bytes
//! ```
//!
//! Like Kafka's `ConsumerProtocol`, a newer version than we know is read as
//! the newest we know (new versions only append fields), and we write
//! version 1, which is what Kafka 2.8's Java consumer sends.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use thiserror::Error;

use crate::codec::{message, write_versioned, Codec, DecodeCx};
use crate::TopicPartition;
use crate::{DecodeError, EncodeError};

/// The `protocol_type` of consumer groups: their members' JoinGroup
/// metadata is a [`Subscription`] and their SyncGroup assignments are
/// [`Assignment`]s.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The version gregor writes: Kafka 2.8's `ConsumerProtocol` latest.
pub const WRITTEN_VERSION: i16 = 1;
/// The newest subscription schema known here.
const SUBSCRIPTION_LATEST: i16 = 3;
/// The newest assignment schema known here (v1 and v2 only mark which
/// subscription versions the member understands; the fields are v0's).
const ASSIGNMENT_LATEST: i16 = 2;

message! {
    /// `ConsumerProtocolSubscription`: the topics a member wants, in its
    /// JoinGroup metadata.
    pub struct SubscriptionData {
        topics: Vec<String> [0..],
        user_data: Option<Bytes> [0..] nullable [0..] = None,
        /// The partitions the member owns (cooperative rebalancing; an
        /// eager member revokes everything before it joins, so sends none).
        owned_partitions: Vec<TopicPartitions> [1..],
        generation_id: i32 [2..] = -1,
        rack_id: Option<String> [3..] nullable [3..] = None,
    }

    /// Some partitions of one topic.
    pub struct TopicPartitions {
        topic: String [0..],
        partitions: Vec<i32> [0..],
    }

    /// `ConsumerProtocolAssignment`: a member's partitions, in the leader's
    /// SyncGroup.
    pub struct AssignmentData {
        assigned_partitions: Vec<TopicPartitions> [0..],
        user_data: Option<Bytes> [0..] nullable [0..] = None,
    }
}

/// Why member metadata or an assignment could not be read or written.
#[derive(Debug, Error)]
pub enum ProtocolError {
    #[error("consumer protocol data is too short for its version")]
    MissingVersion,
    #[error("consumer protocol version {0} is not valid")]
    InvalidVersion(i16),
    #[error("malformed consumer protocol data: {0}")]
    Decode(#[from] DecodeError),
    #[error("cannot encode consumer protocol data: {0}")]
    Encode(#[from] EncodeError),
}

/// What a member tells the group it wants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    pub topics: Vec<String>,
    pub user_data: Option<Bytes>,
    pub owned_partitions: Vec<TopicPartition>,
}

/// What the leader hands one member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    pub partitions: Vec<TopicPartition>,
    pub user_data: Option<Bytes>,
}

impl Subscription {
    /// A subscription to `topics`, owning nothing (what an eager member
    /// sends after revoking its partitions).
    pub fn new(topics: impl IntoIterator<Item = String>) -> Self {
        Subscription {
            topics: topics.into_iter().collect(),
            ..Default::default()
        }
    }

    /// The JoinGroup metadata bytes, in [`WRITTEN_VERSION`].
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        let data = SubscriptionData {
            topics: self.topics.clone(),
            user_data: self.user_data.clone(),
            owned_partitions: group_by_topic(&self.owned_partitions),
            ..Default::default()
        };
        Ok(write_versioned(&data, WRITTEN_VERSION)?)
    }

    /// Reads a member's JoinGroup metadata, whatever client wrote it.
    pub fn decode(metadata: &Bytes) -> Result<Self, ProtocolError> {
        let data: SubscriptionData = read_versioned(metadata, SUBSCRIPTION_LATEST)?;
        Ok(Subscription {
            topics: data.topics,
            user_data: data.user_data,
            owned_partitions: ungroup(data.owned_partitions),
        })
    }
}

impl Assignment {
    /// The SyncGroup assignment bytes, in [`WRITTEN_VERSION`]. Partitions
    /// are grouped by topic in name order.
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        let data = AssignmentData {
            assigned_partitions: group_by_topic(&self.partitions),
            user_data: self.user_data.clone(),
        };
        Ok(write_versioned(&data, WRITTEN_VERSION)?)
    }

    /// Reads the assignment the leader sent. An empty answer (the member
    /// was given nothing by a leader that wrote no bytes at all, as Kafka's
    /// coordinator answers members missing from the leader's SyncGroup) is
    /// an empty assignment.
    pub fn decode(assignment: &Bytes) -> Result<Self, ProtocolError> {
        if assignment.is_empty() {
            return Ok(Assignment::default());
        }
        let data: AssignmentData = read_versioned(assignment, ASSIGNMENT_LATEST)?;
        Ok(Assignment {
            partitions: ungroup(data.assigned_partitions),
            user_data: data.user_data,
        })
    }
}

/// Reads the version, then the struct in that version, or in `latest` if
/// the version is newer. Bytes after the struct are ignored, as Kafka does:
/// they belong to fields of a version we do not know.
fn read_versioned<T: Codec>(bytes: &Bytes, latest: i16) -> Result<T, ProtocolError> {
    let mut input = &bytes[..];
    if input.len() < 2 {
        return Err(ProtocolError::MissingVersion);
    }
    let version = input.get_i16();
    if version < 0 {
        return Err(ProtocolError::InvalidVersion(version));
    }
    let cx = DecodeCx {
        version: version.min(latest),
        flexible: false,
        source: bytes,
    };
    let (_, data) = T::read(input, &cx).map_err(DecodeError::from)?;
    Ok(data)
}

/// Partitions grouped by topic, topics in name order, partitions in the
/// order given.
fn group_by_topic(partitions: &[TopicPartition]) -> Vec<TopicPartitions> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    by_topic
        .into_iter()
        .map(|(topic, partitions)| TopicPartitions {
            topic: topic.to_owned(),
            partitions,
        })
        .collect()
}

fn ungroup(groups: Vec<TopicPartitions>) -> Vec<TopicPartition> {
    groups
        .into_iter()
        .flat_map(|g| {
            let topic = g.topic;
            g.partitions
                .into_iter()
                .map(move |p| TopicPartition::new(topic.clone(), p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;
    use crate::testing::{str_bytes, Gen, Random};
    use kafka_protocol::messages::consumer_protocol_assignment as kpa;
    use kafka_protocol::messages::consumer_protocol_subscription as kps;
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::{Decodable, Encodable};

    /// The subscription of a Kafka 2.8 Java consumer to `orders`, byte for
    /// byte as `ConsumerProtocol.serializeSubscription` writes it: version
    /// 1, one topic, null user data, no owned partitions.
    const JAVA_SUBSCRIPTION: &[u8] = &[
        0, 1, // version 1
        0, 0, 0, 1, // one topic
        0, 6, b'o', b'r', b'd', b'e', b'r', b's', // "orders"
        0xff, 0xff, 0xff, 0xff, // user data: null
        0, 0, 0, 0, // owned partitions: none
    ];

    #[test]
    fn subscription_is_written_as_the_java_client_writes_it() {
        let subscription = Subscription::new(["orders".to_owned()]);
        assert_eq!(&subscription.encode().unwrap()[..], JAVA_SUBSCRIPTION);
        assert_eq!(
            Subscription::decode(&Bytes::from_static(JAVA_SUBSCRIPTION)).unwrap(),
            subscription
        );
    }

    #[test]
    fn assignment_is_written_as_the_java_client_writes_it() {
        let assignment = Assignment {
            partitions: vec![TopicPartition::new("t", 0), TopicPartition::new("t", 2)],
            user_data: None,
        };
        let expected: &[u8] = &[
            0, 1, // version 1
            0, 0, 0, 1, // one topic
            0, 1, b't', // "t"
            0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, // partitions [0, 2]
            0xff, 0xff, 0xff, 0xff, // user data: null
        ];
        assert_eq!(&assignment.encode().unwrap()[..], expected);
        assert_eq!(
            Assignment::decode(&Bytes::from_static(expected)).unwrap(),
            assignment
        );
    }

    #[test]
    fn round_trips_random_subscriptions_and_assignments() {
        let mut g = Gen::new(7);
        for _ in 0..500 {
            let data = SubscriptionData::random(&mut g, WRITTEN_VERSION, false);
            let subscription = Subscription {
                topics: data.topics,
                user_data: data.user_data,
                owned_partitions: ungroup(data.owned_partitions),
            };
            let bytes = subscription.encode().unwrap();
            let back = Subscription::decode(&bytes).unwrap();
            assert_eq!(back.topics, subscription.topics);
            assert_eq!(back.user_data, subscription.user_data);
            // Regrouping by topic may reorder, never lose or add.
            let mut sorted = subscription.owned_partitions.clone();
            sorted.sort();
            let mut back_sorted = back.owned_partitions;
            back_sorted.sort();
            assert_eq!(back_sorted, sorted);

            let data = AssignmentData::random(&mut g, WRITTEN_VERSION, false);
            let assignment = Assignment {
                partitions: ungroup(data.assigned_partitions),
                user_data: data.user_data,
            };
            let back = Assignment::decode(&assignment.encode().unwrap()).unwrap();
            assert_eq!(back.user_data, assignment.user_data);
            assert_eq!(back.partitions.len(), assignment.partitions.len());
        }
    }

    /// What librdkafka 2.x sends: version 3 with owned partitions, a
    /// generation and a rack; and a version from the future with an extra
    /// field, read as v3. Both written by an independent encoder.
    #[test]
    fn reads_newer_subscriptions_written_by_other_clients() {
        let theirs = kps::ConsumerProtocolSubscription::default()
            .with_topics(vec![str_bytes("a"), str_bytes("b")])
            .with_user_data(Some(Bytes::from_static(b"ud")))
            .with_owned_partitions(vec![kps::TopicPartition::default()
                .with_topic(TopicName(str_bytes("a")))
                .with_partitions(vec![1, 3])])
            .with_generation_id(4)
            .with_rack_id(Some(str_bytes("r1")));
        for (version, extra) in [(3i16, &[][..]), (9, &[1, 2, 3][..])] {
            let mut buf = BytesMut::new();
            buf.put_i16(version);
            theirs.encode(&mut buf, 3).unwrap();
            buf.extend_from_slice(extra);
            let ours = Subscription::decode(&buf.freeze()).unwrap();
            assert_eq!(ours.topics, ["a", "b"]);
            assert_eq!(ours.user_data.as_deref(), Some(&b"ud"[..]));
            assert_eq!(
                ours.owned_partitions,
                [TopicPartition::new("a", 1), TopicPartition::new("a", 3)]
            );
        }
    }

    /// Our bytes read back by an independent decoder, in every version it
    /// knows that we might be answered in.
    #[test]
    fn an_independent_decoder_reads_what_we_write() {
        let assignment = Assignment {
            partitions: vec![
                TopicPartition::new("b", 1),
                TopicPartition::new("a", 0),
                TopicPartition::new("b", 0),
            ],
            user_data: Some(Bytes::from_static(b"x")),
        };
        let mut bytes = assignment.encode().unwrap();
        assert_eq!(bytes.get_i16(), WRITTEN_VERSION);
        let theirs = kpa::ConsumerProtocolAssignment::decode(&mut bytes, WRITTEN_VERSION).unwrap();
        let topics: Vec<(&str, &[i32])> = theirs
            .assigned_partitions
            .iter()
            .map(|t| (&**t.topic, &t.partitions[..]))
            .collect();
        assert_eq!(topics, [("a", &[0][..]), ("b", &[1, 0][..])]);
        assert_eq!(theirs.user_data.as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn refuses_what_is_not_consumer_protocol_data() {
        for bad in [
            &[][..],
            &[0][..],
            &[0xff, 0xff][..],
            &[0, 0, 0, 0, 0, 9][..],
        ] {
            assert!(
                Subscription::decode(&Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            Assignment::decode(&Bytes::new()).unwrap(),
            Assignment::default()
        );
        assert!(Assignment::decode(&Bytes::from_static(&[0, 0, 0, 0, 0, 1])).is_err());
    }
}
