//! The group coordinator and `__consumer_offsets` (Kafka's
//! `kafka.coordinator.group`): consumer groups share a topic's partitions
//! through the join/sync rebalance protocol, and their committed offsets
//! survive restarts and coordinator failover because they are records in
//! `__consumer_offsets`, in Kafka's own binary schemas.
//!
//! * [`partition`]: which `__consumer_offsets` partition (and so which
//!   broker, its leader) coordinates a group.
//! * [`schema`]: the key and value schemas of that topic's records.
//! * [`group`], [`member`]: a group's state; [`membership`]: JoinGroup,
//!   SyncGroup, Heartbeat, LeaveGroup and session expiry on it;
//!   [`offsets`]: OffsetCommit and OffsetFetch, offset deletion and expiry.
//! * [`load`]: rebuilding a partition's groups when this broker becomes its
//!   leader; [`offsets_topic`]: the coordinator's view of the replicas.
//! * [`group_coordinator`]: the groups of the partitions this broker leads, and
//!   the request-level checks (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS).

pub mod config;
pub mod group;
pub mod group_coordinator;
pub mod load;
pub mod member;
pub mod membership;
pub mod offsets;
pub mod offsets_topic;
pub mod partition;
pub mod schema;
#[cfg(test)]
mod testing;

pub use config::GroupConfig;
pub use group::{GroupState, GroupSummary, JoinedMember, MemberSummary};
pub use group_coordinator::{GroupCoordinator, GroupOverview, OffsetsPartitionLeadership};
pub use member::Protocol;
pub use membership::{JoinRequest, JoinResult, LeavingMember, SyncRequest, SyncResult};
pub use offsets::{CommittedOffset, OffsetCommit};
pub use partition::{partition_for, GROUP_METADATA_TOPIC_NAME};
