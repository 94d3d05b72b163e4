//! The producer's view of the cluster (Kafka's `ProducerMetadata`): which
//! broker leads each partition of the topics it sends to, refreshed by a
//! task of its own when asked (a new topic, an unknown leader, a retriable
//! error), at most once per `retry.backoff.ms`, and at least once per
//! `metadata.max.age.ms`.
//!
//! Readers take an immutable snapshot, so a `send` costs one read lock and
//! the sender never waits for a Metadata request.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use log::{debug, warn};
use tokio::sync::{watch, Notify};
use tokio::time::{sleep_until, timeout_at, Instant};

use super::ProduceError;
use crate::{ClusterMetadata, NetworkClient};
use gregor_protocol::ErrorCode;

/// One topic's partitions as last described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicPartitions {
    /// NONE, or why the topic could not be described.
    pub error: ErrorCode,
    /// Leader broker id per partition id, -1 while it has none.
    pub leaders: Vec<i32>,
    /// The partitions with a leader, in order: where keyless records go.
    pub available: Vec<i32>,
}

impl TopicPartitions {
    pub(super) fn partition_count(&self) -> usize {
        self.leaders.len()
    }

    /// The leader of `partition`, if it has one.
    pub(super) fn leader(&self, partition: i32) -> Option<i32> {
        usize::try_from(partition)
            .ok()
            .and_then(|p| self.leaders.get(p))
            .copied()
            .filter(|leader| *leader >= 0)
    }

    /// Records can be sent to the topic: it exists and has partitions.
    fn is_usable(&self) -> bool {
        self.error == ErrorCode::NONE && !self.leaders.is_empty()
    }
}

/// The cluster as one Metadata answer described it.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// `host:port` per broker id.
    pub brokers: HashMap<i32, String>,
    pub topics: HashMap<String, Arc<TopicPartitions>>,
}

impl Snapshot {
    fn from_cluster(cluster: &ClusterMetadata) -> Snapshot {
        let brokers: HashMap<i32, String> = cluster
            .brokers
            .iter()
            .map(|(id, address)| (*id, address.address()))
            .collect();
        let topics = cluster
            .topics
            .values()
            .map(|topic| {
                // Partitions are numbered 0..count; an id outside that
                // (a malformed answer) is ignored rather than trusted to
                // size the table.
                let count = topic.partitions.len();
                let mut leaders = vec![-1; count];
                for p in &topic.partitions {
                    let slot = usize::try_from(p.partition)
                        .ok()
                        .and_then(|i| leaders.get_mut(i));
                    // A leader the answer names but does not list among the
                    // brokers cannot be reached: treat it as none.
                    if let Some(slot) = slot.filter(|_| brokers.contains_key(&p.leader)) {
                        *slot = p.leader;
                    }
                }
                let available = (0..count as i32)
                    .filter(|p| leaders[*p as usize] >= 0)
                    .collect();
                let partitions = TopicPartitions {
                    error: topic.error,
                    leaders,
                    available,
                };
                (topic.name.clone(), Arc::new(partitions))
            })
            .collect();
        Snapshot { brokers, topics }
    }
}

/// Shared between `send`, the sender and the refresh task.
#[derive(Debug)]
pub(crate) struct ProducerMetadata {
    current: RwLock<Arc<Snapshot>>,
    /// Topics the producer sends to: what every refresh asks about.
    topics: Mutex<BTreeSet<String>>,
    /// Asks the refresh task for a refresh (a stored permit coalesces many
    /// requests into one).
    refresh: Notify,
    /// Counts refreshes, for those waiting on one.
    version: watch::Sender<u64>,
    /// Why the last refresh failed, if it did.
    last_error: Mutex<Option<String>>,
    /// Woken after every refresh: the sender, which may now know leaders.
    sender_wakeup: Arc<Notify>,
}

impl ProducerMetadata {
    pub(super) fn new(cluster: &ClusterMetadata, sender_wakeup: Arc<Notify>) -> Self {
        ProducerMetadata {
            current: RwLock::new(Arc::new(Snapshot::from_cluster(cluster))),
            topics: Mutex::new(BTreeSet::new()),
            refresh: Notify::new(),
            version: watch::Sender::new(0),
            last_error: Mutex::new(None),
            sender_wakeup,
        }
    }

    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn topic(&self, name: &str) -> Option<Arc<TopicPartitions>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .topics
            .get(name)
            .cloned()
    }

    /// Asks for a refresh soon (at most one per `retry.backoff.ms`).
    pub(super) fn request_refresh(&self) {
        self.refresh.notify_one();
    }

    /// `topic`'s partitions, refreshing metadata until the cluster knows
    /// the topic (it may be being created) or `deadline` (`max.block.ms`)
    /// passes. A topic the cluster refuses for good (invalid name, no
    /// authorization) fails at once.
    pub(super) async fn wait_for_topic(
        &self,
        topic: &str,
        deadline: Instant,
        max_block: Duration,
    ) -> Result<Arc<TopicPartitions>, ProduceError> {
        if let Some(partitions) = self.topic(topic).filter(|t| t.is_usable()) {
            return Ok(partitions);
        }
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned());
        let mut version = self.version.subscribe();
        loop {
            version.borrow_and_update();
            let known = self.topic(topic);
            match &known {
                Some(t) if t.is_usable() => return Ok(Arc::clone(t)),
                Some(t) if t.error != ErrorCode::NONE && !t.error.is_retriable() => {
                    return Err(ProduceError::TopicRefused {
                        topic: topic.to_owned(),
                        error: t.error,
                    })
                }
                _ => {}
            }
            self.request_refresh();
            if timeout_at(deadline, version.changed()).await.is_err() {
                let last_error = self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                return Err(ProduceError::TopicNotAvailable {
                    topic: topic.to_owned(),
                    max_block,
                    error: known.map(|t| t.error),
                    last_error,
                });
            }
        }
    }

    fn publish(&self, cluster: &ClusterMetadata) {
        let snapshot = Arc::new(Snapshot::from_cluster(cluster));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = snapshot;
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.version.send_modify(|v| *v += 1);
        self.sender_wakeup.notify_waiters();
    }

    fn failed(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
        // Those waiting for a topic check the deadline again.
        self.version.send_modify(|v| *v += 1);
    }

    /// The refresh task: runs until aborted (when the producer's sender
    /// has finished).
    pub(super) async fn refresh_forever(
        self: Arc<Self>,
        mut client: NetworkClient,
        retry_backoff: Duration,
        max_age: Duration,
    ) {
        let mut last = Instant::now();
        loop {
            tokio::select! {
                () = self.refresh.notified() => {}
                () = sleep_until(last + max_age) => {}
            }
            // Coalesce a burst of requests into one refresh.
            sleep_until(last + retry_backoff).await;
            let topics: Vec<String> = self
                .topics
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .cloned()
                .collect();
            // As Kafka's producer: a topic it sends to is created if the
            // brokers' auto.create.topics.enable says so.
            match client.refresh_metadata(Some(&topics), true).await {
                Ok(cluster) => {
                    debug!("producer metadata refreshed for {topics:?}");
                    self.publish(cluster);
                }
                Err(e) => {
                    warn!("producer metadata refresh failed: {e}");
                    self.failed(e.to_string());
                    // Keep trying while someone needs it.
                    self.request_refresh();
                }
            }
            last = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::network::BrokerAddress;
    use crate::{PartitionInfo, TopicInfo};

    fn partition(partition: i32, leader: i32) -> PartitionInfo {
        PartitionInfo {
            partition,
            leader,
            leader_epoch: 0,
            replicas: vec![],
            isr: vec![],
            offline_replicas: vec![],
            error: ErrorCode::NONE,
        }
    }

    fn cluster(partitions: Vec<PartitionInfo>) -> ClusterMetadata {
        let broker = |port| BrokerAddress {
            host: "127.0.0.1".into(),
            port,
            rack: None,
        };
        ClusterMetadata {
            cluster_id: None,
            controller_id: 1,
            brokers: BTreeMap::from([(1, broker(9092)), (2, broker(9093))]),
            topics: BTreeMap::from([(
                "t".to_owned(),
                TopicInfo {
                    name: "t".into(),
                    error: ErrorCode::NONE,
                    is_internal: false,
                    partitions,
                },
            )]),
        }
    }

    #[test]
    fn snapshot_lists_leaders_by_partition_and_the_available_ones() {
        let snapshot = Snapshot::from_cluster(&cluster(vec![
            partition(2, 2),
            partition(0, 1),
            partition(1, -1),
            // Broker 7 is not in the answer's broker list.
            partition(3, 7),
            // Not a partition of a 5-partition topic.
            partition(i32::MAX, 1),
        ]));
        let t = &snapshot.topics["t"];
        assert_eq!(t.leaders, [1, -1, 2, -1, -1]);
        assert_eq!(t.available, [0, 2]);
        assert_eq!(t.partition_count(), 5);
        assert_eq!(t.leader(2), Some(2));
        assert_eq!(t.leader(1), None);
        assert_eq!(t.leader(9), None);
        assert_eq!(t.leader(-1), None);
        assert_eq!(snapshot.brokers[&2], "127.0.0.1:9093");
    }

    #[tokio::test]
    async fn a_known_topic_needs_no_refresh_and_an_unknown_one_times_out() {
        let metadata = ProducerMetadata::new(&cluster(vec![partition(0, 1)]), Arc::default());
        let deadline = Instant::now() + Duration::from_millis(50);
        let t = metadata
            .wait_for_topic("t", deadline, Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(t.leaders, [1]);
        let err = metadata
            .wait_for_topic("other", deadline, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ProduceError::TopicNotAvailable { topic, error: None, .. } if topic == "other"),
            "{err:?}"
        );
        // The waiter asked for a refresh of the topic.
        assert!(metadata.topics.lock().unwrap().contains("other"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_sees_the_topic_once_a_refresh_brings_it() {
        let metadata = Arc::new(ProducerMetadata::new(&cluster(vec![]), Arc::default()));
        let m = Arc::clone(&metadata);
        let waiter = tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            m.wait_for_topic("t", deadline, Duration::from_secs(10))
                .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        metadata.publish(&cluster(vec![partition(0, 2)]));
        let t = waiter.await.unwrap().unwrap();
        assert_eq!(t.available, [0]);
    }
}
