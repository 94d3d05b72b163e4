//! Topic creation and deletion on behalf of CreateTopics, DeleteTopics and
//! auto-creation, through ZooKeeper as Kafka's admin path does.
//!
//! The assignment (and config) is written to `/brokers/topics/<t>` and
//! `/config/topics/<t>`, a deletion is requested with
//! `/admin/delete_topics/<t>`; the controller, watching those, does the rest
//! and tells every broker with UpdateMetadata. Like Kafka's
//! `DelayedCreatePartitions`/`DelayedDeleteTopics`, the request handlers
//! then wait (up to the request's timeout) until this broker's metadata
//! cache shows the outcome.

use std::collections::BTreeMap;

use crate::admin::{assign_replicas, validate_topic_name, AssignmentError, TopicNameError};
use crate::config::ConfigError;
use crate::replica::ReplicaError;
use gregor_protocol::id::Uuid;
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_zk::client::ZkError;
use gregor_zk::data::PartitionReplicas;

use super::Broker;

/// Why a topic could not be created or deleted.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("{0}")]
    InvalidName(#[from] TopicNameError),
    #[error("Topic '{0}' already exists.")]
    Exists(String),
    #[error("topic '{0}' does not exist")]
    Unknown(String),
    #[error("{0}")]
    Assignment(#[from] AssignmentError),
    #[error("{0}")]
    InvalidAssignment(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("topic deletion is disabled (delete.topic.enable=false)")]
    DeletionDisabled,
    #[error("ZooKeeper: {0}")]
    Zk(#[from] ZkError),
    #[error("{0}")]
    Replica(#[from] ReplicaError),
}

impl TopicError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TopicError::InvalidName(_) => ErrorCode::INVALID_TOPIC_EXCEPTION,
            TopicError::Exists(_) => ErrorCode::TOPIC_ALREADY_EXISTS,
            TopicError::Unknown(_) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            TopicError::Assignment(AssignmentError::InvalidPartitions(_)) => {
                ErrorCode::INVALID_PARTITIONS
            }
            TopicError::Assignment(_) => ErrorCode::INVALID_REPLICATION_FACTOR,
            TopicError::InvalidAssignment(_) => ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            TopicError::InvalidRequest(_) => ErrorCode::INVALID_REQUEST,
            TopicError::Config(_) => ErrorCode::INVALID_CONFIG,
            TopicError::DeletionDisabled => ErrorCode::TOPIC_DELETION_DISABLED,
            TopicError::Zk(ZkError::TopicExists(_)) => ErrorCode::TOPIC_ALREADY_EXISTS,
            TopicError::Zk(_) => ErrorCode::UNKNOWN_SERVER_ERROR,
            TopicError::Replica(e) => e.error_code(),
        }
    }
}

/// A topic to create. `-1` partitions or replication factor mean the broker
/// defaults (`num.partitions`, `default.replication.factor`); a non-empty
/// `assignment` replaces both.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewTopic {
    pub name: String,
    pub num_partitions: i32,
    pub replication_factor: i32,
    pub assignment: BTreeMap<i32, Vec<BrokerId>>,
    pub configs: BTreeMap<String, String>,
}

impl Broker {
    /// Validates and (unless `validate_only`) creates a topic. Returns its
    /// replica assignment; the controller elects the leaders.
    pub(crate) async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<PartitionReplicas, TopicError> {
        validate_topic_name(&topic.name)?;
        if self.metadata.contains_topic(&topic.name) {
            return Err(TopicError::Exists(topic.name));
        }
        // Refuse bad config overrides before anything is written.
        self.log_config_for(&topic.configs)?;
        let assignment = self.assignment_for(&topic)?;
        let topic_id = Uuid::random();
        if !validate_only {
            self.zk
                .client()
                .create_topic_assignment(&topic.name, topic_id, &assignment, &topic.configs)
                .await?;
        }
        Ok(assignment)
    }

    /// The explicit assignment, checked; or Kafka's rack-unaware one over
    /// the live brokers.
    fn assignment_for(&self, topic: &NewTopic) -> Result<BTreeMap<i32, Vec<BrokerId>>, TopicError> {
        let brokers = self.metadata.broker_ids();
        if !topic.assignment.is_empty() {
            if topic.num_partitions != -1 || topic.replication_factor != -1 {
                return Err(TopicError::InvalidRequest(
                    "Both numPartitions or replicationFactor and replicasAssignments were set. \
                     Both cannot be used at the same time."
                        .into(),
                ));
            }
            let expected: Vec<i32> = (0..topic.assignment.len() as i32).collect();
            if topic.assignment.keys().copied().collect::<Vec<_>>() != expected {
                return Err(TopicError::InvalidAssignment(
                    "partitions must be numbered 0..n".into(),
                ));
            }
            let has_duplicates = |replicas: &Vec<BrokerId>| {
                let mut distinct = replicas.clone();
                distinct.sort_unstable();
                distinct.dedup();
                distinct.len() != replicas.len()
            };
            if topic.assignment.values().any(has_duplicates) {
                // Kafka prints the whole assignment, as Scala shows it.
                let shown: Vec<String> = topic
                    .assignment
                    .iter()
                    .map(|(p, replicas)| {
                        let replicas: Vec<String> = replicas.iter().map(i32::to_string).collect();
                        format!("{p} -> ArrayBuffer({})", replicas.join(", "))
                    })
                    .collect();
                return Err(TopicError::InvalidAssignment(format!(
                    "Duplicate replica assignment found: HashMap({})",
                    shown.join(", ")
                )));
            }
            // Kafka 2.8 (ZooKeeper mode) does not check that the brokers
            // are registered: a replica on an unknown broker starts offline.
            if let Some((p, _)) = topic.assignment.iter().find(|(_, r)| r.is_empty()) {
                return Err(TopicError::InvalidAssignment(format!(
                    "partition {p} has no replicas"
                )));
            }
            return Ok(topic.assignment.clone());
        }
        let partitions = match topic.num_partitions {
            -1 => self.config.num_partitions as i32,
            n => n,
        };
        let factor = match topic.replication_factor {
            -1 => self.config.default_replication_factor as i32,
            n => n,
        };
        // Kafka picks both at random so leaders of many topics spread out.
        let random = Uuid::random().to_string();
        let seed = random.bytes().fold(0usize, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(b as usize)
        });
        Ok(assign_replicas(
            &brokers,
            partitions,
            factor,
            seed,
            seed / 7,
        )?)
    }

    /// Asks the controller to delete a topic (`/admin/delete_topics/<t>`).
    /// A topic already marked counts as success, as in Kafka, so several
    /// admins may delete the same topic.
    pub(crate) async fn delete_topic(&self, name: &str) -> Result<(), TopicError> {
        if !self.config.delete_topic_enable {
            return Err(TopicError::DeletionDisabled);
        }
        if !self.metadata.contains_topic(name) {
            return Err(TopicError::Unknown(name.to_owned()));
        }
        match self.zk.client().delete_topic_marker(name).await {
            Ok(()) | Err(ZkError::TopicAlreadyMarkedForDeletion(_)) => Ok(()),
            Err(ZkError::UnknownTopic(_)) => Err(TopicError::Unknown(name.to_owned())),
            Err(e) => Err(e.into()),
        }
    }
}
