//! The records of `__consumer_offsets` in Kafka's binary schemas
//! (`GroupMetadataManager`'s key and value schemas), so that Kafka's own
//! tools (`kafka-console-consumer --formatter ...OffsetsMessageFormatter`)
//! read what gregor writes, and gregor reads what Kafka wrote.
//!
//! Every key and value starts with its int16 schema version, then the
//! fields in the classic (non-flexible) encoding. The key version says what
//! the record is:
//!
//! | key version | key                         | value versions |
//! |-------------|-----------------------------|----------------|
//! | 0, 1        | offset commit: group, topic, partition | 0-3: offset, [leader_epoch v3], metadata, commit timestamp, [expire timestamp v1] |
//! | 2           | group metadata: group       | 0-3: protocol type, generation, protocol, leader, [state timestamp v2+], members |
//!
//! A record with a null value is a tombstone: the offset, or the whole
//! group, was deleted. gregor writes offset key v1 with value v3 (v1 when the
//! commit asked for an explicit retention), and group key v2 with value v3,
//! as Kafka 2.8 does.

use bytes::Bytes;

use gregor_protocol::codec::{message, write_versioned, Codec, DecodeCx};
use gregor_protocol::{DecodeError, EncodeError};

/// The offset commit key version Kafka writes (0 has the same layout).
const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// The group metadata key version.
const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// The offset commit value version written (no expire timestamp).
const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// The value version written for a commit with an explicit expiry
/// (OffsetCommit v2-v4 `retention_time_ms`), the only one that has the field.
const OFFSET_COMMIT_VALUE_EXPIRING_VERSION: i16 = 1;
/// The newest offset commit value version.
const MAX_OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// The group metadata value version written, and the newest.
const GROUP_METADATA_VALUE_VERSION: i16 = 3;

/// `expire_timestamp` / `leader_epoch` / `current_state_timestamp` when
/// absent (Kafka's `-1` defaults).
pub const NO_TIMESTAMP: i64 = -1;
pub const NO_LEADER_EPOCH: i32 = -1;

message! {
    /// The key of an offset commit (key versions 0 and 1).
    pub struct OffsetCommitKey {
        group: String [0..],
        topic: String [0..],
        partition: i32 [0..],
    }

    /// A committed offset (value versions 0-3; v0 calls the commit
    /// timestamp `timestamp`).
    pub struct OffsetCommitValue {
        offset: i64 [0..],
        leader_epoch: i32 [3..] = NO_LEADER_EPOCH,
        metadata: String [0..],
        commit_timestamp: i64 [0..],
        expire_timestamp: i64 [1..=1] = NO_TIMESTAMP,
    }

    /// The key of a group's metadata (key version 2).
    pub struct GroupMetadataKey {
        group: String [0..],
    }

    /// A group's generation as of its last rebalance (value versions 0-3).
    pub struct GroupMetadataValue {
        protocol_type: String [0..],
        generation: i32 [0..],
        protocol: Option<String> [0..],
        leader: Option<String> [0..],
        current_state_timestamp: i64 [2..] = NO_TIMESTAMP,
        members: Vec<MemberMetadataValue> [0..],
    }

    /// One member of that generation (v0 has no rebalance timeout: it was
    /// the session timeout).
    pub struct MemberMetadataValue {
        member_id: String [0..],
        group_instance_id: Option<String> [3..],
        client_id: String [0..],
        client_host: String [0..],
        rebalance_timeout: i32 [1..],
        session_timeout: i32 [0..],
        subscription: Bytes [0..],
        assignment: Bytes [0..],
    }
}

/// Why a record of `__consumer_offsets` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown key version {0}")]
    UnknownKeyVersion(i16),
    #[error("unknown {kind} value version {version}")]
    UnknownValueVersion { kind: &'static str, version: i16 },
    #[error("malformed {kind}: {source}")]
    Malformed {
        kind: &'static str,
        #[source]
        source: DecodeError,
    },
}

/// A decoded key: what the record is about.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordKey {
    Offset(OffsetCommitKey),
    Group(GroupMetadataKey),
}

/// Reads a key.
pub fn decode_key(bytes: &Bytes) -> Result<RecordKey, SchemaError> {
    let (version, body) = split_version(bytes, "key")?;
    match version {
        0 | 1 => Ok(RecordKey::Offset(read(
            &body,
            version,
            "offset commit key",
        )?)),
        GROUP_METADATA_KEY_VERSION => Ok(RecordKey::Group(read(&body, version, "group key")?)),
        v => Err(SchemaError::UnknownKeyVersion(v)),
    }
}

/// Reads an offset commit value (versions 0-3).
pub fn decode_offset_value(bytes: &Bytes) -> Result<OffsetCommitValue, SchemaError> {
    let kind = "offset commit";
    let (version, body) = split_version(bytes, kind)?;
    if !(0..=MAX_OFFSET_COMMIT_VALUE_VERSION).contains(&version) {
        return Err(SchemaError::UnknownValueVersion { kind, version });
    }
    read(&body, version, kind)
}

/// Reads a group metadata value (versions 0-3). A v0 member's rebalance
/// timeout is its session timeout, as Kafka reads it.
pub fn decode_group_value(bytes: &Bytes) -> Result<GroupMetadataValue, SchemaError> {
    let kind = "group metadata";
    let (version, body) = split_version(bytes, kind)?;
    if !(0..=GROUP_METADATA_VALUE_VERSION).contains(&version) {
        return Err(SchemaError::UnknownValueVersion { kind, version });
    }
    let mut value: GroupMetadataValue = read(&body, version, kind)?;
    if version == 0 {
        for member in &mut value.members {
            member.rebalance_timeout = member.session_timeout;
        }
    }
    Ok(value)
}

/// The key of `group`'s committed offset for `topic`/`partition`.
pub fn offset_key(group: &str, topic: &str, partition: i32) -> Result<Bytes, EncodeError> {
    let key = OffsetCommitKey {
        group: group.to_owned(),
        topic: topic.to_owned(),
        partition,
    };
    write_versioned(&key, OFFSET_COMMIT_KEY_VERSION)
}

/// An offset commit value: v3, or v1 if it carries an expire timestamp.
pub fn offset_value(value: &OffsetCommitValue) -> Result<Bytes, EncodeError> {
    let version = if value.expire_timestamp == NO_TIMESTAMP {
        OFFSET_COMMIT_VALUE_VERSION
    } else {
        OFFSET_COMMIT_VALUE_EXPIRING_VERSION
    };
    write_versioned(value, version)
}

/// The key of `group`'s metadata.
pub fn group_key(group: &str) -> Result<Bytes, EncodeError> {
    let key = GroupMetadataKey {
        group: group.to_owned(),
    };
    write_versioned(&key, GROUP_METADATA_KEY_VERSION)
}

/// A group metadata value, v3.
pub fn group_value(value: &GroupMetadataValue) -> Result<Bytes, EncodeError> {
    write_versioned(value, GROUP_METADATA_VALUE_VERSION)
}

fn split_version(bytes: &Bytes, kind: &'static str) -> Result<(i16, Bytes), SchemaError> {
    match bytes.get(..2) {
        Some(&[hi, lo]) => Ok((i16::from_be_bytes([hi, lo]), bytes.slice(2..))),
        _ => Err(SchemaError::Malformed {
            kind,
            source: DecodeError::Truncated,
        }),
    }
}

/// Decodes the body of a versioned key or value. Bytes after it are
/// ignored, as Kafka's `Schema.read` ignores them.
fn read<T: Codec>(body: &Bytes, version: i16, kind: &'static str) -> Result<T, SchemaError> {
    let cx = DecodeCx {
        version,
        flexible: false,
        source: body,
    };
    T::read(body, &cx)
        .map(|(_, value)| value)
        .map_err(|e| SchemaError::Malformed {
            kind,
            source: e.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Group "g", topic "t", partition 3, as Kafka's `offsetCommitKey`
    /// lays it out: version 1, then three fields.
    const OFFSET_KEY: &[u8] = &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3];

    #[test]
    fn offset_key_known_bytes() {
        assert_eq!(&offset_key("g", "t", 3).unwrap()[..], OFFSET_KEY);
        let expected = RecordKey::Offset(OffsetCommitKey {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
        });
        assert_eq!(
            decode_key(&Bytes::from_static(OFFSET_KEY)).unwrap(),
            expected
        );
        // Key version 0 has the same fields.
        let mut v0 = OFFSET_KEY.to_vec();
        v0[1] = 0;
        assert_eq!(decode_key(&Bytes::from(v0)).unwrap(), expected);
    }

    #[test]
    fn offset_value_known_bytes() {
        let value = OffsetCommitValue {
            offset: 42,
            leader_epoch: 5,
            metadata: "m".into(),
            commit_timestamp: 1000,
            expire_timestamp: NO_TIMESTAMP,
        };
        #[rustfmt::skip]
        let v3: &[u8] = &[
            0, 3,
            0, 0, 0, 0, 0, 0, 0, 42,   // offset
            0, 0, 0, 5,                // leader_epoch
            0, 1, b'm',                // metadata
            0, 0, 0, 0, 0, 0, 3, 0xe8, // commit_timestamp
        ];
        assert_eq!(&offset_value(&value).unwrap()[..], v3);
        assert_eq!(decode_offset_value(&Bytes::from_static(v3)).unwrap(), value);

        let expiring = OffsetCommitValue {
            leader_epoch: NO_LEADER_EPOCH,
            expire_timestamp: 2000,
            ..value
        };
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0, 1,
            0, 0, 0, 0, 0, 0, 0, 42,
            0, 1, b'm',
            0, 0, 0, 0, 0, 0, 3, 0xe8,
            0, 0, 0, 0, 0, 0, 7, 0xd0, // expire_timestamp
        ];
        assert_eq!(&offset_value(&expiring).unwrap()[..], v1);
        assert_eq!(
            decode_offset_value(&Bytes::from_static(v1)).unwrap(),
            expiring
        );

        // v0 and v2: offset, metadata, timestamp.
        let v2: &[u8] = &[0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        let read = decode_offset_value(&Bytes::from_static(v2)).unwrap();
        assert_eq!((read.offset, read.commit_timestamp), (7, 9));
        assert_eq!(read.leader_epoch, NO_LEADER_EPOCH);
        assert!(matches!(
            decode_offset_value(&Bytes::from_static(&[0, 4, 0])),
            Err(SchemaError::UnknownValueVersion { version: 4, .. })
        ));
    }

    #[test]
    fn group_key_known_bytes() {
        let key: &[u8] = &[0, 2, 0, 2, b'g', b'1'];
        assert_eq!(&group_key("g1").unwrap()[..], key);
        assert_eq!(
            decode_key(&Bytes::from_static(key)).unwrap(),
            RecordKey::Group(GroupMetadataKey { group: "g1".into() })
        );
        assert!(matches!(
            decode_key(&Bytes::from_static(&[0, 3, 0, 0])),
            Err(SchemaError::UnknownKeyVersion(3))
        ));
        assert!(matches!(
            decode_key(&Bytes::from_static(&[0])),
            Err(SchemaError::Malformed { .. })
        ));
    }

    #[test]
    fn group_value_known_bytes() {
        let value = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 2,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp: 1,
            members: vec![MemberMetadataValue {
                member_id: "m1".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/h".into(),
                rebalance_timeout: 300_000,
                session_timeout: 10_000,
                subscription: Bytes::from_static(&[9]),
                assignment: Bytes::from_static(&[8, 7]),
            }],
        };
        #[rustfmt::skip]
        let v3: &[u8] = &[
            0, 3,
            0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r', // protocol_type
            0, 0, 0, 2,                                           // generation
            0, 5, b'r', b'a', b'n', b'g', b'e',                   // protocol
            0, 2, b'm', b'1',                                     // leader
            0, 0, 0, 0, 0, 0, 0, 1,                               // current_state_timestamp
            0, 0, 0, 1,                                           // one member:
            0, 2, b'm', b'1',                                     //   member_id
            0xff, 0xff,                                           //   group_instance_id: null
            0, 1, b'c',                                           //   client_id
            0, 2, b'/', b'h',                                     //   client_host
            0, 4, 0x93, 0xe0,                                     //   rebalance_timeout
            0, 0, 0x27, 0x10,                                     //   session_timeout
            0, 0, 0, 1, 9,                                        //   subscription
            0, 0, 0, 2, 8, 7,                                     //   assignment
        ];
        assert_eq!(&group_value(&value).unwrap()[..], v3);
        assert_eq!(decode_group_value(&Bytes::from_static(v3)).unwrap(), value);
    }

    #[test]
    fn group_value_v0_reads_session_timeout_as_rebalance_timeout() {
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 0,
            0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            0, 0, 0, 1,
            0xff, 0xff,                 // protocol: null
            0xff, 0xff,                 // leader: null
            0, 0, 0, 1,
            0, 1, b'm',
            0, 1, b'c',
            0, 1, b'h',
            0, 0, 0x27, 0x10,           // session_timeout
            0, 0, 0, 0,
            0, 0, 0, 0,
        ];
        let value = decode_group_value(&Bytes::from_static(v0)).unwrap();
        assert_eq!(value.protocol, None);
        assert_eq!(value.current_state_timestamp, NO_TIMESTAMP);
        assert_eq!(value.members[0].session_timeout, 10_000);
        assert_eq!(value.members[0].rebalance_timeout, 10_000);
    }
}
