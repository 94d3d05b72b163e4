//! The version of each API gregor's client speaks, in one place: Kafka
//! 2.8's newest, which gregor's broker serves, unless said otherwise. The
//! client does not negotiate with ApiVersions: it talks to gregor brokers
//! and to Kafka 2.8 or newer.

pub const PRODUCE_VERSION: i16 = 9;
pub const FETCH_VERSION: i16 = 12;
pub const LIST_OFFSETS_VERSION: i16 = 6;
pub const METADATA_VERSION: i16 = 9;
pub const OFFSET_COMMIT_VERSION: i16 = 8;
pub const OFFSET_FETCH_VERSION: i16 = 7;
/// v4 (Kafka 3) batches keys.
pub const FIND_COORDINATOR_VERSION: i16 = 3;
pub const JOIN_GROUP_VERSION: i16 = 7;
pub const HEARTBEAT_VERSION: i16 = 4;
pub const LEAVE_GROUP_VERSION: i16 = 4;
pub const SYNC_GROUP_VERSION: i16 = 5;
pub const DESCRIBE_GROUPS_VERSION: i16 = 5;
pub const LIST_GROUPS_VERSION: i16 = 4;
/// Kafka 2.8 knows v6, which only adds quota errors.
pub const CREATE_TOPICS_VERSION: i16 = 5;
/// v6 names topics by id, which gregor's codec does not.
pub const DELETE_TOPICS_VERSION: i16 = 5;
pub const DELETE_GROUPS_VERSION: i16 = 2;
pub const DESCRIBE_CONFIGS_VERSION: i16 = 4;
pub const INCREMENTAL_ALTER_CONFIGS_VERSION: i16 = 1;

/// FindCoordinator's key type for a consumer group (Kafka's
/// `CoordinatorType.GROUP`; 1 is a transaction).
pub const GROUP_KEY_TYPE: i8 = 0;
