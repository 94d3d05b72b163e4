//! The broker's metadata cache (Kafka's `MetadataCache`): the live brokers
//! and, per topic, its id and each partition's replicas and leader. Metadata
//! requests are answered from here, never from ZooKeeper directly.
//!
//! Until the controller exists this broker fills the cache itself, from
//! ZooKeeper at start-up and as it creates and deletes topics.

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::zk::data::BrokerId;
use crate::zk::id::Uuid;

/// Where clients reach a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub id: BrokerId,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

/// One partition's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub leader: Option<BrokerId>,
    pub leader_epoch: i32,
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub topic_id: Uuid,
    pub partitions: BTreeMap<i32, PartitionMetadata>,
}

pub struct MetadataCache {
    cluster_id: String,
    brokers: RwLock<BTreeMap<BrokerId, BrokerEndpoint>>,
    topics: RwLock<BTreeMap<String, TopicMetadata>>,
    controller: RwLock<Option<BrokerId>>,
}

impl MetadataCache {
    pub fn new(cluster_id: String) -> Self {
        MetadataCache {
            cluster_id,
            brokers: RwLock::new(BTreeMap::new()),
            topics: RwLock::new(BTreeMap::new()),
            controller: RwLock::new(None),
        }
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    pub fn brokers(&self) -> Vec<BrokerEndpoint> {
        read(&self.brokers).values().cloned().collect()
    }

    pub fn broker_ids(&self) -> Vec<BrokerId> {
        read(&self.brokers).keys().copied().collect()
    }

    pub fn set_brokers(&self, brokers: Vec<BrokerEndpoint>) {
        *write(&self.brokers) = brokers.into_iter().map(|b| (b.id, b)).collect();
    }

    pub fn controller(&self) -> Option<BrokerId> {
        *read(&self.controller)
    }

    pub fn set_controller(&self, id: Option<BrokerId>) {
        *write(&self.controller) = id;
    }

    pub fn topic(&self, name: &str) -> Option<TopicMetadata> {
        read(&self.topics).get(name).cloned()
    }

    pub fn topic_names(&self) -> Vec<String> {
        read(&self.topics).keys().cloned().collect()
    }

    pub fn contains_topic(&self, name: &str) -> bool {
        read(&self.topics).contains_key(name)
    }

    pub fn put_topic(&self, name: String, topic: TopicMetadata) {
        write(&self.topics).insert(name, topic);
    }

    pub fn remove_topic(&self, name: &str) -> Option<TopicMetadata> {
        write(&self.topics).remove(name)
    }
}

// A panic while holding the lock leaves the maps consistent (every update is
// a single insert or replace), so a poisoned lock is still safe to use.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}
