//! Metadata (key 3): which brokers exist, which topics and partitions they
//! host, who leads each partition and who is in sync. Clients call it to
//! route every produce and fetch.

use crate::protocol::codec::{message, Request};

message! {
    /// Metadata request.
    pub message MetadataRequest {
        api_key: Metadata, versions: 0..=9, flexible: 9..;
        /// The topics to describe. In v0 an empty array means all topics;
        /// from v1 null means all topics and empty means none.
        topics: Option<Vec<MetadataRequestTopic>> [0..] nullable [1..],
        /// Whether the broker may auto-create requested topics that do not
        /// exist (if `auto.create.topics.enable`).
        allow_auto_topic_creation: bool [4..] = true,
        /// Whether to include cluster authorized operations.
        include_cluster_authorized_operations: bool [8..=10],
        /// Whether to include topic authorized operations.
        include_topic_authorized_operations: bool [8..],
    }

    /// A topic to describe.
    pub struct MetadataRequestTopic {
        name: String [0..],
    }

    /// Metadata response.
    pub message MetadataResponse {
        api_key: Metadata, versions: 0..=9, flexible: 9..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [3..],
        /// Every live broker.
        brokers: Vec<MetadataResponseBroker> [0..],
        /// The cluster id (`/cluster/id`).
        cluster_id: Option<String> [2..] = None,
        /// The controller's broker id, -1 if none.
        controller_id: i32 [1..] = -1,
        /// Each requested topic.
        topics: Vec<MetadataResponseTopic> [0..],
        /// Bitfield of authorized cluster operations; i32::MIN if not asked.
        cluster_authorized_operations: i32 [8..] = i32::MIN,
    }

    /// A broker and where to reach it.
    pub struct MetadataResponseBroker {
        node_id: i32 [0..],
        host: String [0..],
        port: i32 [0..],
        /// The broker's rack, null if none was assigned.
        rack: Option<String> [1..] = None,
    }

    /// A topic's metadata.
    pub struct MetadataResponseTopic {
        error_code: i16 [0..],
        name: String [0..],
        /// True for internal topics such as `__consumer_offsets`.
        is_internal: bool [1..] = false,
        partitions: Vec<MetadataResponsePartition> [0..],
        /// Bitfield of authorized topic operations; i32::MIN if not asked.
        topic_authorized_operations: i32 [8..] = i32::MIN,
    }

    /// A partition's leader and replicas.
    pub struct MetadataResponsePartition {
        error_code: i16 [0..],
        partition_index: i32 [0..],
        /// The leader's broker id, -1 if none.
        leader_id: i32 [0..],
        /// The leader epoch, -1 if unknown.
        leader_epoch: i32 [7..] = -1,
        /// Every replica's broker id.
        replica_nodes: Vec<i32> [0..],
        /// The in-sync replicas.
        isr_nodes: Vec<i32> [0..],
        /// Replicas whose log directory is offline.
        offline_replicas: Vec<i32> [5..],
    }
}

impl Request for MetadataRequest {
    type Response = MetadataResponse;
}
