//! The broker's metadata cache (Kafka's `MetadataCache`): the live brokers,
//! the controller, and per topic its id and each partition's leader, leader
//! epoch, replicas, ISR and offline replicas. Metadata requests are answered
//! from here, never from ZooKeeper directly.
//!
//! The controller feeds the cache with UpdateMetadata ([`MetadataCache::update`]).
//! Before its first one arrives a broker knows only itself
//! ([`MetadataCache::set_brokers`]) and the controller its election saw
//! ([`MetadataCache::set_controller`]); [`MetadataCache::wait_for_controller`]
//! waits for it.
//!
//! Readers take a [`MetadataSnapshot`]: one consistent view (a partition's
//! leader and the live brokers it is checked against come from the same
//! update), as Kafka's `metadataSnapshot`. Writers build the next snapshot
//! and swap it in.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use gregor_protocol::id::Uuid;
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;

/// Where a broker is reached through one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub id: BrokerId,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

/// A live broker with its address on each of its advertised listeners
/// (Kafka's `aliveNodes`: broker id -> listener name -> node). Clients are
/// told the addresses on the listener their request arrived on, so one
/// cluster can be reached from inside a container network and from the
/// host at once; brokers reach each other on `inter.broker.listener.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBroker {
    pub id: BrokerId,
    pub rack: Option<String>,
    /// Listener name (upper case, as `listeners` normalises it) -> `(host, port)`.
    pub listeners: BTreeMap<String, (String, i32)>,
}

impl LiveBroker {
    /// The broker as reached through `listener`; `None` when it has no such
    /// listener (Kafka leaves it out of answers given on that listener).
    pub fn on(&self, listener: &str) -> Option<BrokerEndpoint> {
        let (host, port) = self.listeners.get(listener)?;
        Some(BrokerEndpoint {
            id: self.id,
            host: host.clone(),
            port: *port,
            rack: self.rack.clone(),
        })
    }
}

/// One partition as the controller last announced it (the parts of Kafka's
/// `UpdateMetadataPartitionState` that Metadata answers carry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// The leader, `None` if the partition has none (Kafka's -1).
    pub leader: Option<BrokerId>,
    pub leader_epoch: i32,
    /// All replicas, preferred leader first.
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    /// Replicas the controller considers offline (their broker is down or
    /// their log dir failed).
    pub offline_replicas: Vec<BrokerId>,
}

/// One topic in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicState {
    /// The topic's id, [`Uuid::ZERO`] when unknown (topics written by
    /// pre-2.8 tools, controllers sending UpdateMetadata before v7).
    pub topic_id: Uuid,
    pub partitions: BTreeMap<i32, PartitionState>,
}

/// What one UpdateMetadata request tells the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataUpdate {
    /// The controller, `None` if the request names none (a negative id).
    pub controller: Option<BrokerId>,
    /// Every live broker: replaces the cached list.
    pub brokers: Vec<LiveBroker>,
    /// Topic ids the controller sent (v7+); a topic not listed, or listed
    /// with [`Uuid::ZERO`], keeps the id it has.
    pub topic_ids: Vec<(String, Uuid)>,
    /// Changed partitions; partitions not listed keep their state (the
    /// controller sends only what changed).
    pub partitions: Vec<(TopicPartition, PartitionUpdate)>,
}

/// The new state of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionUpdate {
    /// The partition's current state, replacing the cached one.
    State(PartitionState),
    /// The topic is being deleted (Kafka's leader -2,
    /// `LeaderAndIsr.LeaderDuringDelete`): forget the partition, and the
    /// topic with its last partition.
    Deleted,
}

/// One consistent view of the cache.
#[derive(Debug, Clone, Default)]
pub struct MetadataSnapshot {
    brokers: BTreeMap<BrokerId, LiveBroker>,
    controller: Option<BrokerId>,
    topics: BTreeMap<String, TopicState>,
}

impl MetadataSnapshot {
    /// The live brokers reachable through `listener`, by id.
    pub fn brokers_on<'a>(
        &'a self,
        listener: &'a str,
    ) -> impl Iterator<Item = BrokerEndpoint> + 'a {
        self.brokers.values().filter_map(move |b| b.on(listener))
    }

    /// Live broker `id` as reached through `listener`.
    pub fn broker_on(&self, id: BrokerId, listener: &str) -> Option<BrokerEndpoint> {
        self.brokers.get(&id)?.on(listener)
    }

    pub fn is_alive(&self, broker: BrokerId) -> bool {
        self.brokers.contains_key(&broker)
    }

    pub fn controller(&self) -> Option<BrokerId> {
        self.controller
    }

    /// Every topic, by name.
    pub fn topics(&self) -> impl Iterator<Item = (&String, &TopicState)> {
        self.topics.iter()
    }

    pub fn topic(&self, name: &str) -> Option<&TopicState> {
        self.topics.get(name)
    }

    pub fn partition(&self, tp: &TopicPartition) -> Option<&PartitionState> {
        self.topics.get(&tp.topic)?.partitions.get(&tp.partition)
    }

    /// Applies `update`; returns the partitions it deleted that the cache
    /// held.
    fn apply(&mut self, update: MetadataUpdate) -> Vec<TopicPartition> {
        let mut deleted = Vec::new();
        self.controller = update.controller;
        self.brokers = update.brokers.into_iter().map(|b| (b.id, b)).collect();
        for (tp, change) in update.partitions {
            match change {
                PartitionUpdate::State(state) => {
                    self.topics
                        .entry(tp.topic)
                        .or_insert_with(|| TopicState {
                            topic_id: Uuid::ZERO,
                            partitions: BTreeMap::new(),
                        })
                        .partitions
                        .insert(tp.partition, state);
                }
                PartitionUpdate::Deleted => {
                    if let Some(topic) = self.topics.get_mut(&tp.topic) {
                        let known = topic.partitions.remove(&tp.partition).is_some();
                        if topic.partitions.is_empty() {
                            self.topics.remove(&tp.topic);
                        }
                        if known {
                            deleted.push(tp);
                        }
                    }
                }
            }
        }
        // After the partitions: an id names a topic the cache holds, so it
        // goes with the topic when its last partition is deleted.
        for (name, id) in update.topic_ids {
            if let Some(topic) = self.topics.get_mut(&name).filter(|_| id != Uuid::ZERO) {
                topic.topic_id = id;
            }
        }
        deleted
    }
}

pub struct MetadataCache {
    cluster_id: String,
    snapshot: RwLock<Arc<MetadataSnapshot>>,
    /// How many UpdateMetadata requests of a controller have been applied:
    /// waiters for the controller's outcome wake on each.
    controller_updates: watch::Sender<u64>,
}

impl MetadataCache {
    pub fn new(cluster_id: String) -> Self {
        MetadataCache {
            cluster_id,
            snapshot: RwLock::new(Arc::default()),
            controller_updates: watch::Sender::new(0),
        }
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The current view; later updates do not change it.
    pub fn snapshot(&self) -> Arc<MetadataSnapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Applies a controller's UpdateMetadata (Kafka's
    /// `MetadataCache.updateMetadata`). Fencing stale controllers is the
    /// caller's job (the replica manager knows the newest controller epoch).
    /// Returns the partitions the update deleted (Kafka's
    /// `deletedPartitions`), whose committed offsets go with them.
    pub fn update(&self, update: MetadataUpdate) -> Vec<TopicPartition> {
        let mut deleted = Vec::new();
        self.modify(|s| deleted = s.apply(update));
        self.controller_updates.send_modify(|n| *n += 1);
        deleted
    }

    /// Waits, at most `timeout`, until a controller has sent this broker
    /// the cluster's metadata; returns whether one has. Until then the
    /// cache cannot tell a topic that does not exist from one it has not
    /// heard of.
    pub async fn wait_for_controller(&self, timeout: Duration) -> bool {
        let mut updates = self.controller_updates.subscribe();
        tokio::time::timeout(timeout, updates.wait_for(|n| *n > 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits, at most `timeout`, until the cache satisfies `done`, checking
    /// after each UpdateMetadata (how CreateTopics and DeleteTopics wait for
    /// the controller, Kafka's delayed create/delete operations); returns
    /// whether it did.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&MetadataSnapshot) -> bool,
    ) -> bool {
        let mut updates = self.controller_updates.subscribe();
        let satisfied = async {
            loop {
                // Marks the current count seen before looking, so an update
                // in between wakes the next wait.
                updates.borrow_and_update();
                if done(&self.snapshot()) {
                    return;
                }
                if updates.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
        };
        tokio::time::timeout(timeout, satisfied).await.is_ok()
    }

    pub fn broker_ids(&self) -> Vec<BrokerId> {
        self.snapshot().brokers.keys().copied().collect()
    }

    pub fn set_brokers(&self, brokers: Vec<LiveBroker>) {
        self.modify(|s| s.brokers = brokers.into_iter().map(|b| (b.id, b)).collect());
    }

    pub fn set_controller(&self, id: Option<BrokerId>) {
        self.modify(|s| s.controller = id);
    }

    pub fn contains_topic(&self, name: &str) -> bool {
        self.snapshot().topics.contains_key(name)
    }

    /// Whether the cluster has this partition (Kafka's
    /// `MetadataCache.contains(tp)`).
    pub fn contains_partition(&self, tp: &TopicPartition) -> bool {
        self.snapshot().partition(tp).is_some()
    }

    /// Changes the snapshot in place when no reader holds it, else a copy
    /// (Kafka copies on every update too).
    fn modify(&self, change: impl FnOnce(&mut MetadataSnapshot)) {
        // Every change is map inserts and removals, which cannot panic short
        // of running out of memory: a poisoned lock still guards a whole
        // snapshot.
        let mut current = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        change(Arc::make_mut(&mut current));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(id: BrokerId) -> LiveBroker {
        LiveBroker {
            id,
            rack: None,
            listeners: BTreeMap::from([("PLAINTEXT".into(), (format!("host{id}"), 9090 + id))]),
        }
    }

    fn state(leader: BrokerId, epoch: i32) -> PartitionState {
        PartitionState {
            leader: Some(leader),
            leader_epoch: epoch,
            replicas: vec![1, 2],
            isr: vec![1, 2],
            offline_replicas: Vec::new(),
        }
    }

    fn upsert(topic: &str, partition: i32, s: PartitionState) -> (TopicPartition, PartitionUpdate) {
        (
            TopicPartition::new(topic, partition),
            PartitionUpdate::State(s),
        )
    }

    fn topic(cache: &MetadataCache, name: &str) -> TopicState {
        cache.snapshot().topic(name).cloned().unwrap()
    }

    fn id(byte: u8) -> Uuid {
        Uuid::from_bytes([byte; 16])
    }

    #[tokio::test]
    async fn a_wait_for_the_controller_ends_with_its_first_update() {
        let cache = Arc::new(MetadataCache::new("c".into()));
        cache.set_brokers(vec![broker(1)]);
        assert!(!cache.wait_for_controller(Duration::from_millis(10)).await);
        let waiting = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.wait_for_controller(Duration::from_secs(30)).await })
        };
        cache.update(MetadataUpdate::default());
        assert!(waiting.await.unwrap());
        assert!(cache.wait_for_controller(Duration::ZERO).await);
    }

    #[tokio::test]
    async fn a_wait_until_ends_with_the_update_that_satisfies_it() {
        let cache = Arc::new(MetadataCache::new("c".into()));
        let has_broker_2 = |s: &MetadataSnapshot| s.is_alive(2);
        assert!(
            !cache
                .wait_until(Duration::from_millis(10), has_broker_2)
                .await
        );
        let waiting = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                cache
                    .wait_until(Duration::from_secs(30), |s| s.is_alive(2))
                    .await
            })
        };
        // An update that does not satisfy it keeps it waiting.
        cache.update(MetadataUpdate {
            brokers: vec![broker(1)],
            ..Default::default()
        });
        cache.update(MetadataUpdate {
            brokers: vec![broker(1), broker(2)],
            ..Default::default()
        });
        assert!(waiting.await.unwrap());
        assert!(cache.wait_until(Duration::ZERO, has_broker_2).await);
    }

    #[test]
    fn update_replaces_brokers_and_controller() {
        let cache = MetadataCache::new("c".into());
        cache.update(MetadataUpdate {
            controller: Some(1),
            brokers: vec![broker(1), broker(2), broker(3)],
            ..Default::default()
        });
        assert_eq!(cache.broker_ids(), [1, 2, 3]);
        assert_eq!(cache.snapshot().controller(), Some(1));
        cache.update(MetadataUpdate {
            controller: None,
            brokers: vec![broker(3), broker(4)],
            ..Default::default()
        });
        let snapshot = cache.snapshot();
        let brokers: Vec<_> = snapshot.brokers_on("PLAINTEXT").collect();
        let expected: Vec<_> = [broker(3), broker(4)]
            .iter()
            .filter_map(|b| b.on("PLAINTEXT"))
            .collect();
        assert_eq!(brokers, expected);
        assert_eq!(cache.snapshot().controller(), None);
        assert!(!cache.snapshot().is_alive(1));
    }

    #[test]
    fn partition_states_are_upserted_and_untouched_ones_kept() {
        let cache = MetadataCache::new("c".into());
        cache.update(MetadataUpdate {
            topic_ids: vec![("t".into(), id(7))],
            partitions: vec![upsert("t", 0, state(1, 0)), upsert("t", 1, state(2, 0))],
            ..Default::default()
        });
        let mut newer = state(2, 1);
        newer.isr = vec![2];
        newer.offline_replicas = vec![1];
        cache.update(MetadataUpdate {
            partitions: vec![upsert("t", 0, newer.clone())],
            ..Default::default()
        });
        let t = topic(&cache, "t");
        assert_eq!(t.topic_id, id(7), "an update without ids keeps the id");
        assert_eq!(t.partitions[&0], newer);
        assert_eq!(t.partitions[&1], state(2, 0));
        assert!(cache.contains_partition(&TopicPartition::new("t", 1)));
        assert!(!cache.contains_partition(&TopicPartition::new("t", 2)));
    }

    #[test]
    fn delete_marker_removes_partitions_then_the_topic() {
        let cache = MetadataCache::new("c".into());
        cache.update(MetadataUpdate {
            topic_ids: vec![("t".into(), id(7)), ("u".into(), id(8))],
            partitions: vec![
                upsert("t", 0, state(1, 0)),
                upsert("t", 1, state(1, 0)),
                upsert("u", 0, state(1, 0)),
            ],
            ..Default::default()
        });
        let deleted = |p| (TopicPartition::new("t", p), PartitionUpdate::Deleted);
        let removed = cache.update(MetadataUpdate {
            partitions: vec![deleted(0)],
            ..Default::default()
        });
        assert_eq!(removed, [TopicPartition::new("t", 0)]);
        assert_eq!(
            topic(&cache, "t").partitions.keys().collect::<Vec<_>>(),
            [&1]
        );
        // Only partitions the cache held are reported deleted.
        let removed = cache.update(MetadataUpdate {
            partitions: vec![deleted(1), deleted(5)],
            ..Default::default()
        });
        assert_eq!(removed, [TopicPartition::new("t", 1)]);
        assert!(!cache.contains_topic("t"));
        assert_eq!(topic(&cache, "u").topic_id, id(8));
        // Created again, it does not inherit the deleted topic's id.
        cache.update(MetadataUpdate {
            partitions: vec![upsert("t", 0, state(1, 0))],
            ..Default::default()
        });
        assert_eq!(topic(&cache, "t").topic_id, Uuid::ZERO);
    }

    #[test]
    fn brokers_are_reached_on_the_asked_listener() {
        let two_listeners = |id: BrokerId| LiveBroker {
            id,
            rack: Some("r".into()),
            listeners: BTreeMap::from([
                ("INTERNAL".into(), (format!("broker{id}"), 9092)),
                ("EXTERNAL".into(), ("127.0.0.1".into(), 19090 + id)),
            ]),
        };
        let cache = MetadataCache::new("c".into());
        cache.update(MetadataUpdate {
            brokers: vec![two_listeners(1), two_listeners(2), broker(3)],
            ..Default::default()
        });
        let snapshot = cache.snapshot();
        let at = |listener| -> Vec<_> {
            snapshot
                .brokers_on(listener)
                .map(|b| (b.id, b.host, b.port))
                .collect()
        };
        assert_eq!(
            at("EXTERNAL"),
            [
                (1, "127.0.0.1".into(), 19091),
                (2, "127.0.0.1".into(), 19092)
            ]
        );
        assert_eq!(
            at("INTERNAL"),
            [(1, "broker1".into(), 9092), (2, "broker2".into(), 9092)]
        );
        assert_eq!(at("PLAINTEXT"), [(3, "host3".into(), 9093)]);
        let internal = snapshot.broker_on(2, "INTERNAL").unwrap();
        assert_eq!(
            (internal.host.as_str(), internal.rack.as_deref()),
            ("broker2", Some("r"))
        );
        assert_eq!(snapshot.broker_on(3, "INTERNAL"), None);
        assert_eq!(snapshot.broker_on(4, "PLAINTEXT"), None);
        assert!(snapshot.is_alive(3), "alive even where it has no listener");
    }

    #[test]
    fn a_snapshot_does_not_change_under_its_reader() {
        let cache = MetadataCache::new("c".into());
        cache.set_brokers(vec![broker(1)]);
        let before = cache.snapshot();
        cache.update(MetadataUpdate {
            brokers: vec![broker(2)],
            partitions: vec![upsert("t", 0, state(2, 0))],
            ..Default::default()
        });
        assert!(before.is_alive(1) && before.topic("t").is_none());
        let after = cache.snapshot();
        assert!(!after.is_alive(1) && after.is_alive(2));
        assert_eq!(
            after.partition(&TopicPartition::new("t", 0)),
            Some(&state(2, 0))
        );
    }
}
