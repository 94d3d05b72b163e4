//! [`KafkaZkClient`]: typed reads and writes of Kafka's znodes over one
//! ZooKeeper session, mirroring the operations of Kafka's `KafkaZkClient`
//! that a broker, the controller and the admin path need.

use std::collections::BTreeMap;
use std::time::Duration;

use zookeeper_client as zkc;
use zookeeper_client::{Acls, CreateMode, CreateOptions, Stat};

use super::data::{
    BrokerInfo, ClusterIdZNode, ConfigChangeNotification, DecodeError, EntityConfig,
    IsrChangeNotification, LeaderIsrAndControllerEpoch, PartitionReplicas, ProducerIdBlock,
    TopicAssignment, TopicPartition, ZNodeData,
};
use super::paths;
use gregor_protocol::id::{generate_cluster_id, Uuid};
use gregor_protocol::BrokerId;

/// Every znode is world-accessible, as Kafka's with `zookeeper.set.acl=false`.
pub const PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());
pub const EPHEMERAL: CreateOptions<'static> = CreateMode::Ephemeral.with_acls(Acls::anyone_all());

/// What can go wrong talking to ZooKeeper, with the Kafka-level meaning
/// pulled out where a caller acts on it.
#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("invalid zookeeper.connect {0:?}: expected host:port[,host:port...][/chroot]")]
    InvalidConnectString(String),
    #[error("znode {path} already exists")]
    NodeExists { path: String },
    #[error("znode {path} does not exist")]
    NoNode { path: String },
    /// A conditional write lost a race: the znode is no longer at the
    /// zkVersion the caller read (Kafka fences stale leaders this way).
    #[error("znode {path} is no longer at zkVersion {expected_version}")]
    BadVersion { path: String, expected_version: i32 },
    /// Another live session holds `/brokers/ids/<id>` (Kafka refuses to
    /// start a second broker with the same `broker.id`).
    #[error("broker id {0} is already registered by another ZooKeeper session")]
    BrokerIdInUse(BrokerId),
    /// The session ended for good other than by expiry (closed, or
    /// authentication failed); [`ZkSession`](super::ZkSession) gives up.
    #[error("ZooKeeper session ended: {0:?}")]
    SessionEnded(zkc::SessionState),
    /// A fenced controller write found `/controller_epoch` moved on: another
    /// broker was elected, and this one must stop acting as controller.
    #[error("the controller epoch moved on: another broker is the controller")]
    ControllerMoved,
    #[error("topic {0} already exists")]
    TopicExists(String),
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    #[error("topic {0} is already marked for deletion")]
    TopicAlreadyMarkedForDeletion(String),
    /// Every producer id up to `i64::MAX` has been handed out.
    #[error("producer ids are exhausted (the last block ends at {last_block_end})")]
    ProducerIdsExhausted { last_block_end: i64 },
    #[error("znode {path}: {source}")]
    Decode {
        path: String,
        #[source]
        source: DecodeError,
    },
    #[error("ZooKeeper {op} on {path} failed: {source}")]
    ZooKeeper {
        op: &'static str,
        path: String,
        #[source]
        source: zkc::Error,
    },
}

impl ZkError {
    /// Whether the call failed because ZooKeeper could not be reached in
    /// time (connection lost or idle, the ensemble down or throttling) or
    /// the session expired: the same call may succeed once ZooKeeper is
    /// back, on a new session if need be. Everything else (a bad connect
    /// string, a refused authentication, a znode that is not as expected)
    /// stays the same however often it is tried.
    pub fn is_transient(&self) -> bool {
        let ZkError::ZooKeeper { source, .. } = self else {
            return false;
        };
        matches!(
            source,
            zkc::Error::ConnectionLoss
                | zkc::Error::Timeout
                | zkc::Error::SessionExpired
                | zkc::Error::SessionMoved
                | zkc::Error::Throttled
                | zkc::Error::NoHosts
                // The client's connection-level failures (I/O errors, "no
                // response from connection in 2400ms") carry only a message.
                | zkc::Error::Custom(_)
        )
    }
}

/// Attaches the operation and path to a ZooKeeper error, turning the
/// outcomes callers branch on into their own variants.
trait At<T> {
    fn at(self, op: &'static str, path: &str) -> Result<T, ZkError>;
}

impl<T> At<T> for Result<T, zkc::Error> {
    fn at(self, op: &'static str, path: &str) -> Result<T, ZkError> {
        self.map_err(|source| zk_error(op, path, source))
    }
}

/// A ZooKeeper error with its operation and path, the outcomes callers
/// branch on turned into their own variants.
pub fn zk_error(op: &'static str, path: &str, source: zkc::Error) -> ZkError {
    let path = path.to_owned();
    match source {
        zkc::Error::NodeExists => ZkError::NodeExists { path },
        zkc::Error::NoNode => ZkError::NoNode { path },
        source => ZkError::ZooKeeper { op, path, source },
    }
}

/// A znode's decoded data with the zkVersion it was read at, for a later
/// conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    pub zk_version: i32,
}

/// Typed access to Kafka's znodes over one ZooKeeper session. Cheap to
/// clone; clones share the session, which closes when the last is dropped.
#[derive(Debug, Clone)]
pub struct KafkaZkClient {
    zk: zkc::Client,
}

impl KafkaZkClient {
    /// Connects to `zookeeper.connect`, e.g. `h1:2181,h2:2181/gregor`.
    ///
    /// Like Kafka, a missing chroot is created first, so a fresh ensemble
    /// needs no preparation; unlike Kafka (whose Java client cannot change
    /// root), this happens on the same session, saving a second handshake.
    pub async fn connect(connect_string: &str, session_timeout: Duration) -> Result<Self, ZkError> {
        let (hosts, chroot) = crate::paths::split_chroot(connect_string);
        if hosts.is_empty() {
            return Err(ZkError::InvalidConnectString(connect_string.to_owned()));
        }
        let zk = zkc::Client::connector()
            .with_session_timeout(session_timeout)
            .connect(hosts)
            .await
            .at("connect", connect_string)?;
        let Some(chroot) = chroot else {
            return Ok(KafkaZkClient { zk });
        };
        zk.mkdir(chroot, &PERSISTENT)
            .await
            .at("create chroot", chroot)?;
        let zk = zk
            .chroot(chroot)
            .map_err(|_| ZkError::InvalidConnectString(connect_string.to_owned()))?;
        Ok(KafkaZkClient { zk })
    }

    /// The underlying client, for watches and operations this type does not wrap.
    pub fn zookeeper(&self) -> &zkc::Client {
        &self.zk
    }

    /// The ZooKeeper session id; it owns the ephemeral znodes this client creates.
    pub fn session_id(&self) -> i64 {
        self.zk.session_id().0
    }

    /// The session's state as last reported.
    pub fn state(&self) -> zkc::SessionState {
        self.zk.state()
    }

    /// A stream of future session state changes (disconnects, expiry).
    pub fn state_watcher(&self) -> zkc::StateWatcher {
        self.zk.state_watcher()
    }

    /// Creates the persistent znodes every broker expects, Kafka's
    /// `ZkData.PersistentZkPaths`, so watches and child listings never meet
    /// a missing parent.
    pub async fn ensure_persistent_paths(&self) -> Result<(), ZkError> {
        for path in paths::PERSISTENT_PATHS {
            self.zk.mkdir(path, &PERSISTENT).await.at("create", path)?;
        }
        Ok(())
    }

    /// Returns `/cluster/id`, creating it with a fresh id if this is the
    /// cluster's first broker (Kafka's `createOrGetClusterId`). When brokers
    /// race, every one returns the id of the winner.
    pub async fn get_or_create_cluster_id(&self) -> Result<String, ZkError> {
        if let Some(existing) = self.get::<ClusterIdZNode>(paths::CLUSTER_ID).await? {
            return Ok(existing.value.id);
        }
        let proposed = ClusterIdZNode::new(generate_cluster_id());
        match self
            .create_recursive(paths::CLUSTER_ID, &proposed.encode(), &PERSISTENT)
            .await
        {
            Ok(_) => Ok(proposed.id),
            Err(ZkError::NodeExists { .. }) => self
                .get::<ClusterIdZNode>(paths::CLUSTER_ID)
                .await?
                .map(|winner| winner.value.id)
                .ok_or_else(|| ZkError::NoNode {
                    path: paths::CLUSTER_ID.to_owned(),
                }),
            Err(other) => Err(other),
        }
    }

    /// Registers the broker as the ephemeral `/brokers/ids/<id>`, stamped
    /// `timestamp_ms` (the broker's clock), and returns its creation zxid,
    /// which Kafka uses as the broker epoch.
    ///
    /// A znode left by this very session (a retry after a lost response)
    /// counts as success, as in Kafka's `checkedEphemeralCreate`; one held by
    /// another session is [`ZkError::BrokerIdInUse`].
    pub async fn register_broker(
        &self,
        broker: &BrokerInfo,
        timestamp_ms: i64,
    ) -> Result<i64, ZkError> {
        let path = paths::broker(broker.id);
        let data = broker.encode(timestamp_ms);
        loop {
            match self.create_recursive(&path, &data, &EPHEMERAL).await {
                Ok(stat) => return Ok(stat.czxid),
                Err(ZkError::NodeExists { .. }) => {}
                Err(other) => return Err(other),
            }
            match self.zk.check_stat(&path).await.at("stat", &path)? {
                Some(stat) if stat.ephemeral_owner == self.session_id() => return Ok(stat.czxid),
                Some(_) => return Err(ZkError::BrokerIdInUse(broker.id)),
                // The holder's session ended in between: try again.
                None => continue,
            }
        }
    }

    /// Removes this session's `/brokers/ids/<id>` at shutdown, so the broker
    /// leaves the cluster at once instead of when its session times out.
    /// A node owned by another session is left alone.
    pub async fn deregister_broker(&self, id: BrokerId) -> Result<(), ZkError> {
        let path = paths::broker(id);
        match self.zk.check_stat(&path).await.at("stat", &path)? {
            Some(stat) if stat.ephemeral_owner == self.session_id() => {
                match self.zk.delete(&path, Some(stat.version)).await {
                    Err(zkc::Error::NoNode) => Ok(()),
                    result => result.at("delete", &path),
                }
            }
            _ => Ok(()),
        }
    }

    /// A fresh broker id for a broker configured without `broker.id`:
    /// `reserved_max` (`reserved.broker.max.id`) plus the data version of
    /// `/brokers/seqid` after bumping it, as Kafka's
    /// `generateBrokerSequenceId`. Ids so made never collide with configured
    /// ones nor with each other.
    pub async fn generate_broker_id(&self, reserved_max: BrokerId) -> Result<BrokerId, ZkError> {
        let path = paths::BROKER_SEQUENCE_ID;
        let stat = match self.zk.set_data(path, &[], None).await {
            Err(zkc::Error::NoNode) => {
                self.zk.mkdir(path, &PERSISTENT).await.at("create", path)?;
                self.zk.set_data(path, &[], None).await.at("set", path)?
            }
            result => result.at("set", path)?,
        };
        // The version is ZooKeeper's; near i32::MAX it cannot make an id.
        reserved_max
            .checked_add(stat.version)
            .ok_or_else(|| ZkError::Decode {
                path: path.to_owned(),
                source: DecodeError::Invalid {
                    znode: "/brokers/seqid",
                    reason: format!(
                        "zkVersion {} plus reserved.broker.max.id {reserved_max} overflows a broker id",
                        stat.version
                    ),
                },
            })
    }

    /// The ids of the live brokers, ascending.
    pub async fn get_all_broker_ids(&self) -> Result<Vec<BrokerId>, ZkError> {
        let mut ids = self
            .children(paths::BROKER_IDS)
            .await?
            .iter()
            .map(|child| {
                child.parse().map_err(|_| ZkError::Decode {
                    path: format!("{}/{child}", paths::BROKER_IDS),
                    source: DecodeError::Invalid {
                        znode: "/brokers/ids/<id>",
                        reason: format!("{child:?} is not a broker id"),
                    },
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// The registration of broker `id`, or `None` if it is not live.
    pub async fn get_broker(&self, id: BrokerId) -> Result<Option<BrokerInfo>, ZkError> {
        let path = paths::broker(id);
        let Some((data, _)) = self.get_raw(&path).await? else {
            return Ok(None);
        };
        BrokerInfo::decode(id, &data)
            .map(Some)
            .map_err(|source| ZkError::Decode { path, source })
    }

    /// Creates a topic the way Kafka's `AdminZkClient.createTopicWithAssignment`
    /// does: its config overrides go to `/config/topics/<t>` first, then the
    /// assignment to `/brokers/topics/<t>`, whose appearance is what the
    /// controller watches for. Fails with [`ZkError::TopicExists`] if the
    /// topic is there already, leaving its config untouched.
    pub async fn create_topic_assignment(
        &self,
        topic: &str,
        topic_id: Uuid,
        assignment: &PartitionReplicas,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), ZkError> {
        let topic_path = paths::topic(topic);
        if self.exists(&topic_path).await? {
            return Err(ZkError::TopicExists(topic.to_owned()));
        }
        let config = EntityConfig::new(configs.clone()).encode();
        self.set_or_create(&paths::topic_config(topic), &config)
            .await?;
        let assignment = TopicAssignment::new(topic_id, assignment.clone()).encode();
        match self
            .create_recursive(&topic_path, &assignment, &PERSISTENT)
            .await
        {
            Ok(_) => Ok(()),
            Err(ZkError::NodeExists { .. }) => Err(ZkError::TopicExists(topic.to_owned())),
            Err(other) => Err(other),
        }
    }

    /// The topic's id and replica assignment, or `None` if there is no such topic.
    pub async fn get_topic_assignment(
        &self,
        topic: &str,
    ) -> Result<Option<TopicAssignment>, ZkError> {
        Ok(self
            .get::<TopicAssignment>(&paths::topic(topic))
            .await?
            .map(|versioned| versioned.value))
    }

    /// Every topic name, sorted.
    pub async fn get_all_topics(&self) -> Result<Vec<String>, ZkError> {
        let mut topics = self.children(paths::BROKER_TOPICS).await?;
        topics.sort_unstable();
        Ok(topics)
    }

    /// Asks the controller to delete `topic` by creating
    /// `/admin/delete_topics/<t>`, as Kafka's `AdminZkClient.deleteTopic`.
    pub async fn delete_topic_marker(&self, topic: &str) -> Result<(), ZkError> {
        if !self.exists(&paths::topic(topic)).await? {
            return Err(ZkError::UnknownTopic(topic.to_owned()));
        }
        match self
            .create_recursive(&paths::delete_topic(topic), &[], &PERSISTENT)
            .await
        {
            Ok(_) => Ok(()),
            Err(ZkError::NodeExists { .. }) => {
                Err(ZkError::TopicAlreadyMarkedForDeletion(topic.to_owned()))
            }
            Err(other) => Err(other),
        }
    }

    /// Removes a deleted topic's znodes: its partition states, its
    /// assignment, its config and its deletion marker (what Kafka's
    /// controller does once every replica has stopped).
    pub async fn delete_topic_znodes(&self, topic: &str) -> Result<(), ZkError> {
        self.delete_recursive(&paths::topic(topic)).await?;
        self.delete_recursive(&paths::topic_config(topic)).await?;
        self.delete_recursive(&paths::delete_topic(topic)).await
    }

    /// The partition's leader and ISR with the zkVersion a conditional
    /// update must name, or `None` before the controller has elected a leader.
    pub async fn get_partition_state(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<Versioned<LeaderIsrAndControllerEpoch>>, ZkError> {
        self.get(&paths::partition_state(topic, partition)).await
    }

    /// Writes a new partition's first state (the controller's
    /// `createTopicPartitionStatesRaw`), creating the parents; returns its
    /// zkVersion (0). [`ZkError::NodeExists`] if the partition has one.
    pub async fn create_partition_state(
        &self,
        topic: &str,
        partition: i32,
        state: &LeaderIsrAndControllerEpoch,
    ) -> Result<i32, ZkError> {
        let path = paths::partition_state(topic, partition);
        let stat = self
            .create_recursive(&path, &state.encode(), &PERSISTENT)
            .await?;
        Ok(stat.version)
    }

    /// Replaces the partition state only if it is still at `expected_version`
    /// and returns the new zkVersion. This is how Kafka fences a stale
    /// controller or leader: a concurrent writer makes the loser get
    /// [`ZkError::BadVersion`] and re-read.
    pub async fn update_partition_state(
        &self,
        topic: &str,
        partition: i32,
        state: &LeaderIsrAndControllerEpoch,
        expected_version: i32,
    ) -> Result<i32, ZkError> {
        let path = paths::partition_state(topic, partition);
        match self
            .zk
            .set_data(&path, &state.encode(), Some(expected_version))
            .await
        {
            Ok(stat) => Ok(stat.version),
            Err(zkc::Error::BadVersion) => Err(ZkError::BadVersion {
                path,
                expected_version,
            }),
            Err(other) => Err(other).at("set", &path),
        }
    }

    /// Tells the controller that the ISR of `partitions` changed (Kafka's
    /// `propagateIsrChanges`): a persistent sequential
    /// `/isr_change_notification/isr_change_<seq>` listing them, which the
    /// controller reads, answers with UpdateMetadata, and deletes. Returns
    /// the created path.
    pub async fn create_isr_change_notification(
        &self,
        partitions: &[gregor_protocol::TopicPartition],
    ) -> Result<String, ZkError> {
        let list = IsrChangeNotification::new(
            partitions
                .iter()
                .map(|tp| TopicPartition {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                })
                .collect(),
        );
        let prefix = paths::ISR_CHANGE_NOTIFICATION_PREFIX;
        let options = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
        let (_, sequence) = self
            .zk
            .create(prefix, &list.encode(), &options)
            .await
            .at("create", prefix)?;
        Ok(format!("{prefix}{sequence}"))
    }

    /// Claims the next `block_size` producer ids for `broker_id` and returns
    /// the block's first and last id (inclusive), as Kafka's
    /// `ProducerIdManager.getNewProducerIdBlock`: read
    /// `/latest_producer_id_block` with its zkVersion, write the block after
    /// it (the first block is `0..=block_size-1`) with a conditional write,
    /// and start over if another broker got there first. The znode is
    /// created if missing; an empty one (Kafka creates it empty at start-up)
    /// counts as no block yet.
    pub async fn allocate_producer_id_block(
        &self,
        broker_id: BrokerId,
        block_size: i64,
    ) -> Result<(i64, i64), ZkError> {
        let path = paths::LATEST_PRODUCER_ID_BLOCK;
        loop {
            let current = self.get_raw(path).await?;
            let start = match &current {
                Some((data, _)) if !data.is_empty() => {
                    let last = ProducerIdBlock::decode(data).map_err(|source| ZkError::Decode {
                        path: path.to_owned(),
                        source,
                    })?;
                    if last.block_end > i64::MAX - block_size {
                        return Err(ZkError::ProducerIdsExhausted {
                            last_block_end: last.block_end,
                        });
                    }
                    last.block_end + 1
                }
                _ => 0,
            };
            let end = start + block_size - 1;
            let data = ProducerIdBlock::new(broker_id, start, end).encode();
            let written = match current {
                Some((_, stat)) => match self.zk.set_data(path, &data, Some(stat.version)).await {
                    Ok(_) => true,
                    // Another broker took a block (or removed the node) in between.
                    Err(zkc::Error::BadVersion | zkc::Error::NoNode) => false,
                    Err(other) => return Err(other).at("set", path),
                },
                None => match self.create_recursive(path, &data, &PERSISTENT).await {
                    Ok(_) => true,
                    Err(ZkError::NodeExists { .. }) => false,
                    Err(other) => return Err(other),
                },
            };
            if written {
                return Ok((start, end));
            }
        }
    }

    /// The topic's config overrides; empty when it has none, as Kafka's
    /// `fetchEntityConfig`.
    pub async fn get_topic_config(&self, topic: &str) -> Result<BTreeMap<String, String>, ZkError> {
        let path = paths::topic_config(topic);
        match self.get_raw(&path).await? {
            Some((data, _)) if !data.is_empty() => EntityConfig::decode(&data)
                .map(|entity| entity.config)
                .map_err(|source| ZkError::Decode { path, source }),
            _ => Ok(BTreeMap::new()),
        }
    }

    /// Replaces the topic's config overrides and tells every broker, as
    /// Kafka's `AdminZkClient.changeTopicConfig`: `overrides` go to
    /// `/config/topics/<t>`, then a persistent sequential
    /// `/config/changes/config_change_<seq>` names `topics/<t>`, which each
    /// broker's config change watcher reads to reload the topic's config.
    /// Returns the notification's path.
    pub async fn change_topic_config(
        &self,
        topic: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<String, ZkError> {
        let config = EntityConfig::new(overrides.clone()).encode();
        self.set_or_create(&paths::topic_config(topic), &config)
            .await?;
        let notification = ConfigChangeNotification::new(paths::config_entity_change_path(
            paths::ConfigType::Topic,
            topic,
        ));
        let prefix = paths::CONFIG_CHANGE_PREFIX;
        let options = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
        let (_, sequence) = self
            .zk
            .create(prefix, &notification.encode(), &options)
            .await
            .at("create", prefix)?;
        Ok(format!("{prefix}{sequence}"))
    }

    /// Whether `path` exists.
    async fn exists(&self, path: &str) -> Result<bool, ZkError> {
        Ok(self.zk.check_stat(path).await.at("stat", path)?.is_some())
    }

    /// Data and stat of `path`, `None` if it does not exist.
    pub async fn get_raw(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>, ZkError> {
        match self.zk.get_data(path).await {
            Err(zkc::Error::NoNode) => Ok(None),
            result => result.at("get", path).map(Some),
        }
    }

    /// The decoded data of `path` with its zkVersion, `None` if it does not exist.
    pub async fn get<T: ZNodeData>(&self, path: &str) -> Result<Option<Versioned<T>>, ZkError> {
        let Some((data, stat)) = self.get_raw(path).await? else {
            return Ok(None);
        };
        let value = T::decode(&data).map_err(|source| ZkError::Decode {
            path: path.to_owned(),
            source,
        })?;
        Ok(Some(Versioned {
            value,
            zk_version: stat.version,
        }))
    }

    /// Children of `path`; none if it does not exist.
    pub async fn children(&self, path: &str) -> Result<Vec<String>, ZkError> {
        match self.zk.list_children(path).await {
            Err(zkc::Error::NoNode) => Ok(Vec::new()),
            result => result.at("list", path),
        }
    }

    /// Deletes `path` and everything under it; a missing node is fine.
    async fn delete_recursive(&self, path: &str) -> Result<(), ZkError> {
        let mut stack = vec![path.to_owned()];
        let mut order = Vec::new();
        while let Some(node) = stack.pop() {
            for child in self.children(&node).await? {
                stack.push(format!("{node}/{child}"));
            }
            order.push(node);
        }
        for node in order.iter().rev() {
            match self.zk.delete(node, None).await {
                Err(zkc::Error::NoNode) => {}
                result => result.at("delete", node)?,
            }
        }
        Ok(())
    }

    /// Creates `path`, creating missing persistent parents first (Kafka's
    /// `createRecursive`).
    async fn create_recursive(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions<'_>,
    ) -> Result<Stat, ZkError> {
        match self.zk.create(path, data, options).await {
            Err(zkc::Error::NoNode) => {
                let parent = parent(path);
                self.zk
                    .mkdir(parent, &PERSISTENT)
                    .await
                    .at("create", parent)?;
                self.zk.create(path, data, options).await.at("create", path)
            }
            result => result.at("create", path),
        }
        .map(|(stat, _sequence)| stat)
    }

    /// Overwrites `path` whatever its version, creating it if missing
    /// (Kafka's `setOrCreateEntityConfigs`).
    async fn set_or_create(&self, path: &str, data: &[u8]) -> Result<(), ZkError> {
        match self.zk.set_data(path, data, None).await {
            Err(zkc::Error::NoNode) => match self.create_recursive(path, data, &PERSISTENT).await {
                // Someone created it in between; ours is the later write.
                Err(ZkError::NodeExists { .. }) => self
                    .zk
                    .set_data(path, data, None)
                    .await
                    .at("set", path)
                    .map(drop),
                result => result.map(drop),
            },
            result => result.at("set", path).map(drop),
        }
    }
}

/// The parent of an absolute, non-root path.
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(index) => &path[..index],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_paths() {
        assert_eq!(parent("/brokers/ids/1"), "/brokers/ids");
        assert_eq!(parent("/controller"), "/");
    }
}
