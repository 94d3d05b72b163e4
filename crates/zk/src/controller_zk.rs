//! The controller's reads and writes of Kafka's znodes.
//!
//! Every write the controller makes is fenced on the zkVersion of
//! `/controller_epoch` it got when it was elected: the write and a version
//! check of `/controller_epoch` go into one ZooKeeper multi, so once another
//! broker has been elected (and bumped the epoch), a deposed controller's
//! writes fail as [`ZkError::ControllerMoved`] instead of overwriting the new
//! controller's decisions — Kafka's `expectedControllerEpochZkVersion`.

use std::collections::BTreeMap;

use zookeeper_client as zkc;
use zookeeper_client::{MultiWriteError, OneshotWatcher};

use super::client::{zk_error, KafkaZkClient, ZkError, PERSISTENT};
use super::data::{
    BrokerInfo, FeatureZNode, FeatureZNodeStatus, LeaderIsrAndControllerEpoch,
    PartitionReassignment, ReassignPartitions, TopicAssignment, TopicPartition, TopicPartitionList,
    ZNodeData,
};
use super::paths;
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition as PartitionId;

/// One fenced write.
enum Op<'a> {
    Create {
        path: &'a str,
        data: &'a [u8],
    },
    Set {
        path: &'a str,
        data: &'a [u8],
        version: i32,
    },
    Delete {
        path: &'a str,
    },
}

impl KafkaZkClient {
    /// Runs `op` only if `/controller_epoch` is still at `epoch_zk_version`,
    /// returning the written node's new zkVersion (0 for a delete).
    async fn fenced(&self, epoch_zk_version: i32, op: Op<'_>) -> Result<i32, ZkError> {
        let zk = self.zookeeper();
        let mut multi = zk.new_multi_writer();
        let at = |op: &'static str, path: &str| {
            let path = path.to_owned();
            move |e| zk_error(op, &path, e)
        };
        let expected_version = match op {
            Op::Set { version, .. } => version,
            _ => -1,
        };
        multi
            .add_check_version(paths::CONTROLLER_EPOCH, epoch_zk_version)
            .map_err(at("multi check", paths::CONTROLLER_EPOCH))?;
        let path = match op {
            Op::Create { path, data } => {
                multi
                    .add_create(path, data, &PERSISTENT)
                    .map_err(at("multi create", path))?;
                path
            }
            Op::Set {
                path,
                data,
                version,
            } => {
                multi
                    .add_set_data(path, data, Some(version))
                    .map_err(at("multi set", path))?;
                path
            }
            Op::Delete { path } => {
                multi
                    .add_delete(path, None)
                    .map_err(at("multi delete", path))?;
                path
            }
        };
        match multi.commit().await {
            Ok(results) => Ok(results
                .into_iter()
                .find_map(|r| match r {
                    zkc::MultiWriteResult::SetData { stat } => Some(stat.version),
                    _ => None,
                })
                .unwrap_or(0)),
            Err(MultiWriteError::OperationFailed {
                index: 0,
                source: zkc::Error::BadVersion | zkc::Error::NoNode,
            }) => Err(ZkError::ControllerMoved),
            Err(MultiWriteError::OperationFailed {
                source: zkc::Error::BadVersion,
                ..
            }) => Err(ZkError::BadVersion {
                path: path.to_owned(),
                expected_version,
            }),
            Err(other) => Err(zk_error("multi", path, zkc::Error::from(other))),
        }
    }

    /// Every registered broker with its epoch (the czxid of its
    /// registration), Kafka's `getAllBrokerAndEpochsInCluster`. A broker
    /// that deregisters between the listing and the read is left out.
    pub async fn get_all_brokers_with_epochs(
        &self,
    ) -> Result<BTreeMap<BrokerId, (BrokerInfo, i64)>, ZkError> {
        let mut brokers = BTreeMap::new();
        for id in self.get_all_broker_ids().await? {
            let path = paths::broker(id);
            let Some((data, stat)) = self.get_raw(&path).await? else {
                continue;
            };
            let info =
                BrokerInfo::decode(id, &data).map_err(|source| ZkError::Decode { path, source })?;
            brokers.insert(id, (info, stat.czxid));
        }
        Ok(brokers)
    }

    /// Turns feature versioning on in `/feature`, as Kafka 2.8's controller
    /// does on failover when the inter-broker protocol is 2.7 or later
    /// (`enableFeatureVersioning`): creates it enabled with no finalized
    /// features if absent, enables a disabled one (dropping its features),
    /// and leaves an enabled one as it is. Not fenced, as in Kafka.
    pub async fn enable_feature_versioning(&self) -> Result<(), ZkError> {
        let path = paths::FEATURE;
        let Some(existing) = self.get::<FeatureZNode>(path).await? else {
            let enabled = FeatureZNode::new(FeatureZNodeStatus::Enabled, BTreeMap::new());
            return match self
                .zookeeper()
                .create(path, &enabled.encode(), &PERSISTENT)
                .await
            {
                // Another controller made it in between; it wrote the same.
                Ok(_) | Err(zkc::Error::NodeExists) => Ok(()),
                Err(e) => Err(zk_error("create", path, e)),
            };
        };
        let features = match existing.value.status {
            FeatureZNodeStatus::Enabled => existing.value.features.clone(),
            FeatureZNodeStatus::Disabled => BTreeMap::new(),
        };
        let enabled = FeatureZNode::new(FeatureZNodeStatus::Enabled, features);
        if enabled == existing.value {
            return Ok(());
        }
        self.zookeeper()
            .set_data(path, &enabled.encode(), None)
            .await
            .map(drop)
            .map_err(|e| zk_error("set", path, e))
    }

    /// Sets a one-shot watch on `path`'s children (creation or deletion of
    /// a child, or of `path` itself); a missing `path` is watched for creation.
    pub async fn watch_children(&self, path: &str) -> Result<OneshotWatcher, ZkError> {
        match self.zookeeper().list_and_watch_children(path).await {
            Ok((_, watcher)) => Ok(watcher),
            Err(zkc::Error::NoNode) => self.watch_exists(path).await,
            Err(e) => Err(zk_error("watch children", path, e)),
        }
    }

    /// Sets a one-shot watch on `path`'s creation, deletion or data change.
    pub async fn watch_exists(&self, path: &str) -> Result<OneshotWatcher, ZkError> {
        self.zookeeper()
            .check_and_watch_stat(path)
            .await
            .map(|(_, watcher)| watcher)
            .map_err(|e| zk_error("watch", path, e))
    }

    /// Writes a new partition's first leader and ISR, fenced.
    pub async fn create_partition_state_fenced(
        &self,
        tp: &PartitionId,
        state: &LeaderIsrAndControllerEpoch,
        epoch_zk_version: i32,
    ) -> Result<i32, ZkError> {
        let partitions = paths::topic_partitions(&tp.topic);
        self.zookeeper()
            .mkdir(&format!("{partitions}/{}", tp.partition), &PERSISTENT)
            .await
            .map_err(|e| zk_error("create", &partitions, e))?;
        let path = paths::partition_state(&tp.topic, tp.partition);
        let data = state.encode();
        self.fenced(
            epoch_zk_version,
            Op::Create {
                path: &path,
                data: &data,
            },
        )
        .await
    }

    /// Replaces a partition's leader and ISR if its state znode is still at
    /// `zk_version`, fenced; returns the new zkVersion.
    pub async fn update_partition_state_fenced(
        &self,
        tp: &PartitionId,
        state: &LeaderIsrAndControllerEpoch,
        zk_version: i32,
        epoch_zk_version: i32,
    ) -> Result<i32, ZkError> {
        let path = paths::partition_state(&tp.topic, tp.partition);
        let data = state.encode();
        self.fenced(
            epoch_zk_version,
            Op::Set {
                path: &path,
                data: &data,
                version: zk_version,
            },
        )
        .await
    }

    /// Deletes a znode the controller has finished with (an admin request
    /// or notification), fenced; a node already gone is fine.
    pub async fn delete_fenced(&self, path: &str, epoch_zk_version: i32) -> Result<(), ZkError> {
        match self.fenced(epoch_zk_version, Op::Delete { path }).await {
            Ok(_) | Err(ZkError::NoNode { .. }) => Ok(()),
            Err(ZkError::ZooKeeper {
                source: zkc::Error::NoNode,
                ..
            }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Rewrites a topic's assignment (with the replicas a reassignment adds
    /// and removes), fenced. The topic znode's version is not checked: only
    /// the controller writes it once the topic exists.
    pub async fn set_topic_assignment_fenced(
        &self,
        topic: &str,
        assignment: &TopicAssignment,
        epoch_zk_version: i32,
    ) -> Result<(), ZkError> {
        let written = self
            .overwrite_fenced(&paths::topic(topic), &assignment.encode(), epoch_zk_version)
            .await?;
        if written {
            Ok(())
        } else {
            Err(ZkError::UnknownTopic(topic.to_owned()))
        }
    }

    /// Overwrites an existing znode whatever its version, fenced; `false`
    /// if it does not exist.
    async fn overwrite_fenced(
        &self,
        path: &str,
        data: &[u8],
        epoch_zk_version: i32,
    ) -> Result<bool, ZkError> {
        let Some((_, stat)) = self.get_raw(path).await? else {
            return Ok(false);
        };
        let set = Op::Set {
            path,
            data,
            version: stat.version,
        };
        self.fenced(epoch_zk_version, set).await.map(|_| true)
    }

    /// The legacy reassignment request in `/admin/reassign_partitions`,
    /// `None` if there is none.
    pub async fn get_partition_reassignment(
        &self,
    ) -> Result<Option<Vec<PartitionReassignment>>, ZkError> {
        Ok(self
            .get::<ReassignPartitions>(paths::REASSIGN_PARTITIONS)
            .await?
            .map(|v| v.value.partitions))
    }

    /// Leaves only `remaining` in `/admin/reassign_partitions`, deleting it
    /// when none remain (Kafka removes each partition as it completes).
    pub async fn set_partition_reassignment_fenced(
        &self,
        remaining: Vec<PartitionReassignment>,
        epoch_zk_version: i32,
    ) -> Result<(), ZkError> {
        let path = paths::REASSIGN_PARTITIONS;
        if remaining.is_empty() {
            return self.delete_fenced(path, epoch_zk_version).await;
        }
        let data = ReassignPartitions::new(remaining).encode();
        self.overwrite_fenced(path, &data, epoch_zk_version)
            .await
            .map(drop)
    }

    /// The children of `/admin/delete_topics`: topics queued for deletion.
    pub async fn get_topics_marked_for_deletion(&self) -> Result<Vec<String>, ZkError> {
        let mut topics = self.children(paths::DELETE_TOPICS).await?;
        topics.sort_unstable();
        Ok(topics)
    }

    /// The ISR change notifications: each child's name with the partitions
    /// it lists. Unreadable ones are returned with no partitions, so they
    /// are still deleted.
    pub async fn get_isr_change_notifications(
        &self,
    ) -> Result<Vec<(String, Vec<TopicPartition>)>, ZkError> {
        let mut out = Vec::new();
        for child in self.children(paths::ISR_CHANGE_NOTIFICATION).await? {
            let path = format!("{}/{child}", paths::ISR_CHANGE_NOTIFICATION);
            let partitions = match self.get_raw(&path).await? {
                Some((data, _)) => TopicPartitionList::decode(&data)
                    .map(|list| list.partitions)
                    .unwrap_or_else(|e| {
                        log::warn!("ignoring unreadable {path}: {e}");
                        Vec::new()
                    }),
                None => continue,
            };
            out.push((path, partitions));
        }
        Ok(out)
    }

    /// The partitions listed in `/admin/preferred_replica_election`, `None`
    /// if there is no such request.
    pub async fn get_preferred_replica_election(
        &self,
    ) -> Result<Option<Vec<TopicPartition>>, ZkError> {
        Ok(self
            .get::<TopicPartitionList>(paths::PREFERRED_REPLICA_ELECTION)
            .await?
            .map(|v| v.value.partitions))
    }
}
