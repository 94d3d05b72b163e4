//! Topics: create and delete them (through the controller), list and
//! describe them (from Metadata).

use std::collections::BTreeMap;

use super::{check, AdminClient, AdminError, Outcomes};
use crate::network::TopicInfo;
use crate::versions::{CREATE_TOPICS_VERSION, DELETE_TOPICS_VERSION};
use gregor_protocol::api::create_topics::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use gregor_protocol::api::delete_topics::DeleteTopicsRequest;
use gregor_protocol::ErrorCode;

/// A topic to create (Kafka's `NewTopic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    /// -1 for the broker's `num.partitions`; must be -1 with an assignment.
    pub num_partitions: i32,
    /// -1 for the broker's `default.replication.factor`; must be -1 with an
    /// assignment.
    pub replication_factor: i16,
    /// Partition to its replicas, the first the preferred leader; when not
    /// empty it decides the partitions and replicas.
    pub assignment: BTreeMap<i32, Vec<i32>>,
    /// Topic config overrides (`retention.ms`, ...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic of `num_partitions` partitions with `replication_factor`
    /// replicas each, placed by the broker.
    pub fn new(name: impl Into<String>, num_partitions: i32, replication_factor: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions,
            replication_factor,
            assignment: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    /// A topic whose partitions (numbered from 0) live on the given
    /// replicas.
    pub fn with_assignment(
        name: impl Into<String>,
        assignment: BTreeMap<i32, Vec<i32>>,
    ) -> NewTopic {
        NewTopic {
            assignment,
            ..NewTopic::new(name, -1, -1)
        }
    }

    /// Adds a config override.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> NewTopic {
        self.configs.insert(key.into(), value.into());
        self
    }

    fn to_request(&self) -> CreatableTopic {
        CreatableTopic {
            name: self.name.clone(),
            num_partitions: self.num_partitions,
            replication_factor: self.replication_factor,
            assignments: self
                .assignment
                .iter()
                .map(|(&partition_index, replicas)| CreatableReplicaAssignment {
                    partition_index,
                    broker_ids: replicas.clone(),
                })
                .collect(),
            configs: self
                .configs
                .iter()
                .map(|(name, value)| CreatableTopicConfig {
                    name: name.clone(),
                    value: Some(value.clone()),
                })
                .collect(),
        }
    }
}

/// A topic's name and whether it is internal (`__consumer_offsets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    pub name: String,
    pub is_internal: bool,
}

impl AdminClient {
    /// Creates `topics` (or, with `validate_only`, only checks that they
    /// could be created) and waits until the controller has elected their
    /// leaders; one outcome per topic.
    pub async fn create_topics(
        &mut self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<Outcomes, AdminError> {
        let request = CreateTopicsRequest {
            topics: topics.iter().map(NewTopic::to_request).collect(),
            timeout_ms: self.operation_timeout_ms(),
            validate_only,
        };
        self.retrying(async |admin: &mut AdminClient| {
            let controller = admin.controller().await?;
            let response = admin
                .network
                .send(controller, CREATE_TOPICS_VERSION, &request)
                .await?;
            let outcomes = response
                .topics
                .into_iter()
                .map(|t| {
                    let name = t.name;
                    let result = check(t.error_code, t.error_message, || {
                        format!("creating topic '{name}'")
                    });
                    (name, result)
                })
                .collect();
            retry_if_misrouted(outcomes)
        })
        .await
    }

    /// Deletes `topics` and waits until the controller has removed them
    /// from the brokers' metadata; one outcome per topic.
    pub async fn delete_topics(&mut self, topics: &[String]) -> Result<Outcomes, AdminError> {
        let request = DeleteTopicsRequest {
            topic_names: topics.to_vec(),
            timeout_ms: self.operation_timeout_ms(),
        };
        self.retrying(async |admin: &mut AdminClient| {
            let controller = admin.controller().await?;
            let response = admin
                .network
                .send(controller, DELETE_TOPICS_VERSION, &request)
                .await?;
            let outcomes = response
                .responses
                .into_iter()
                .map(|t| {
                    let name = t.name;
                    let result = check(t.error_code, t.error_message, || {
                        format!("deleting topic '{name}'")
                    });
                    (name, result)
                })
                .collect();
            retry_if_misrouted(outcomes)
        })
        .await
    }

    /// Every topic, internal ones included, sorted by name.
    pub async fn list_topics(&mut self) -> Result<Vec<TopicListing>, AdminError> {
        self.retrying(async |admin: &mut AdminClient| {
            let metadata = admin.network.refresh_metadata(None, false).await?;
            Ok(metadata
                .topics
                .values()
                .map(|t| TopicListing {
                    name: t.name.clone(),
                    is_internal: t.is_internal,
                })
                .collect())
        })
        .await
    }

    /// The partitions of `topics` (`None`: every topic) with their leader,
    /// replicas, ISR and offline replicas, sorted by name. Fails if a named
    /// topic does not exist.
    pub async fn describe_topics(
        &mut self,
        topics: Option<&[String]>,
    ) -> Result<Vec<TopicInfo>, AdminError> {
        self.retrying(async |admin: &mut AdminClient| {
            let metadata = admin.network.refresh_metadata(topics, false).await?;
            let described: Vec<TopicInfo> = match topics {
                None => metadata.topics.values().cloned().collect(),
                Some(names) => {
                    let mut named: Vec<TopicInfo> =
                        names
                            .iter()
                            .map(|name| {
                                metadata.topics.get(name).cloned().ok_or_else(|| {
                                    AdminError::Broker {
                                        context: format!("describing topic '{name}'"),
                                        code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                                        message: None,
                                    }
                                })
                            })
                            .collect::<Result<_, _>>()?;
                    named.sort_by(|a, b| a.name.cmp(&b.name));
                    named
                }
            };
            for topic in &described {
                check(topic.error.code(), None, || {
                    format!("describing topic '{}'", topic.name)
                })?;
            }
            Ok(described)
        })
        .await
    }
}

/// The outcomes, unless one says the request reached a broker that is no
/// longer the controller: then the error, so that the whole request is
/// sent again to the new one.
fn retry_if_misrouted(mut outcomes: Outcomes) -> Result<Outcomes, AdminError> {
    let misrouted = outcomes.iter().position(
        |(_, result)| matches!(result, Err(e) if e.code() == Some(ErrorCode::NOT_CONTROLLER)),
    );
    match misrouted {
        Some(at) => {
            let (_, error) = outcomes.swap_remove(at);
            error.map(|()| outcomes)
        }
        None => Ok(outcomes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_assignment_leaves_the_counts_to_it() {
        let assignment = BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 3])]);
        let topic = NewTopic::with_assignment("t", assignment).with_config("retention.ms", "1");
        let request = topic.to_request();
        assert_eq!(
            (request.num_partitions, request.replication_factor),
            (-1, -1)
        );
        assert_eq!(request.assignments.len(), 2);
        assert_eq!(request.assignments[1].partition_index, 1);
        assert_eq!(request.assignments[1].broker_ids, [2, 3]);
        assert_eq!(request.configs[0].name, "retention.ms");
        assert_eq!(request.configs[0].value.as_deref(), Some("1"));
    }

    #[test]
    fn a_not_controller_answer_fails_the_whole_request() {
        let misrouted = vec![
            ("a".to_owned(), Ok(())),
            (
                "b".to_owned(),
                check(41, None, || "creating topic 'b'".into()),
            ),
        ];
        let err = retry_if_misrouted(misrouted).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::NOT_CONTROLLER));
        let fine = vec![
            ("a".to_owned(), Ok(())),
            ("b".to_owned(), check(36, None, || "b".into())),
        ];
        assert_eq!(retry_if_misrouted(fine).unwrap().len(), 2);
    }
}
