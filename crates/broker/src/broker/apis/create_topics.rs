//! CreateTopics (API key 19) and DeleteTopics (API key 20).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::metadata::MetadataSnapshot;
use gregor_protocol::api::create_topics::{
    CreatableTopic, CreatableTopicConfigs, CreatableTopicResult, CreateTopicsRequest,
    CreateTopicsResponse,
};
use gregor_protocol::api::delete_topics::{
    DeletableTopicResult, DeleteTopicsRequest, DeleteTopicsResponse,
};
use gregor_protocol::ErrorCode;

use crate::broker::topics::{NewTopic, TopicError};
use crate::broker::Broker;

/// `config_source` of a config set on the topic itself (Kafka's
/// `ConfigSource.TOPIC_CONFIG`) and of a broker default (`DEFAULT_CONFIG`).
pub(super) const TOPIC_CONFIG_SOURCE: i8 = 1;
pub(super) const DEFAULT_CONFIG_SOURCE: i8 = 5;

impl Broker {
    pub(crate) async fn create_topics(&self, request: CreateTopicsRequest) -> CreateTopicsResponse {
        if self.active_controller().is_none() {
            return CreateTopicsResponse {
                throttle_time_ms: 0,
                topics: request.topics.into_iter().map(not_controller).collect(),
            };
        }
        // Kafka refuses every topic named twice in one request.
        let mut seen = BTreeSet::new();
        let duplicates: BTreeSet<String> = request
            .topics
            .iter()
            .filter(|t| !seen.insert(t.name.clone()))
            .map(|t| t.name.clone())
            .collect();
        let mut topics = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let name = topic.name.clone();
            let result = if duplicates.contains(&name) {
                Err((
                    ErrorCode::INVALID_REQUEST,
                    "Found multiple entries for this topic.".to_owned(),
                ))
            } else {
                match self.create_one(topic, request.validate_only).await {
                    Ok(created) if request.validate_only => Ok(created),
                    Ok(created) => {
                        let ready = |m: &MetadataSnapshot| {
                            m.topic(&name).is_some_and(|t| {
                                t.partitions.len() as i32 == created.num_partitions
                                    && t.partitions.values().all(|p| p.leader.is_some())
                            })
                        };
                        self.await_controller(request.timeout_ms, ready)
                            .await
                            .map(|()| created)
                    }
                    Err(e) => Err((e.error_code(), e.to_string())),
                }
            };
            topics.push(match result {
                Ok(created) => created,
                Err((code, message)) => CreatableTopicResult {
                    name,
                    error_code: code.code(),
                    error_message: Some(message),
                    ..Default::default()
                },
            });
        }
        CreateTopicsResponse {
            throttle_time_ms: 0,
            topics,
        }
    }

    /// Waits up to the request's `timeout_ms` for the controller's outcome
    /// to reach this broker's metadata; a timeout of 0 or less answers at
    /// once, as in Kafka. On timeout the request was accepted but is not
    /// done: REQUEST_TIMED_OUT, and the controller still finishes it.
    async fn await_controller(
        &self,
        timeout_ms: i32,
        done: impl Fn(&MetadataSnapshot) -> bool,
    ) -> Result<(), (ErrorCode, String)> {
        let Ok(timeout_ms) = u64::try_from(timeout_ms) else {
            return Ok(());
        };
        if timeout_ms == 0
            || self
                .metadata
                .wait_until(Duration::from_millis(timeout_ms), done)
                .await
        {
            return Ok(());
        }
        Err((
            ErrorCode::REQUEST_TIMED_OUT,
            format!("the controller did not finish within {timeout_ms} ms"),
        ))
    }

    async fn create_one(
        &self,
        topic: CreatableTopic,
        validate_only: bool,
    ) -> Result<CreatableTopicResult, TopicError> {
        let mut configs = BTreeMap::new();
        for c in topic.configs {
            let value = c.value.ok_or_else(|| {
                TopicError::InvalidRequest(format!(
                    "Null value not supported for topic configs : {}",
                    c.name
                ))
            })?;
            configs.insert(c.name, value);
        }
        let new = NewTopic {
            name: topic.name.clone(),
            num_partitions: topic.num_partitions,
            replication_factor: i32::from(topic.replication_factor),
            assignment: topic
                .assignments
                .into_iter()
                .map(|a| (a.partition_index, a.broker_ids))
                .collect(),
            configs: configs.clone(),
        };
        let created = self.create_topic(new, validate_only).await?;
        let log_config = self.log_config_for(&configs)?;
        let entries = self.topic_config_entries(&log_config, &configs);
        let replication_factor = created.values().next().map_or(0, |r| r.len() as i16);
        Ok(CreatableTopicResult {
            name: topic.name,
            error_code: ErrorCode::NONE.code(),
            error_message: None,
            num_partitions: created.len() as i32,
            replication_factor,
            configs: Some(
                entries
                    .into_iter()
                    .map(|e| CreatableTopicConfigs {
                        config_source: e.source,
                        name: e.name,
                        value: e.value,
                        read_only: false,
                        is_sensitive: false,
                    })
                    .collect(),
            ),
            ..Default::default()
        })
    }

    pub(crate) async fn delete_topics(&self, request: DeleteTopicsRequest) -> DeleteTopicsResponse {
        let mut responses = Vec::with_capacity(request.topic_names.len());
        if self.active_controller().is_none() {
            for name in request.topic_names {
                responses.push(DeletableTopicResult {
                    name,
                    error_code: ErrorCode::NOT_CONTROLLER.code(),
                    error_message: None,
                });
            }
            return DeleteTopicsResponse {
                throttle_time_ms: 0,
                responses,
            };
        }
        for name in request.topic_names {
            let outcome = match self.delete_topic(&name).await {
                Ok(()) => {
                    let gone = |m: &MetadataSnapshot| m.topic(&name).is_none();
                    self.await_controller(request.timeout_ms, gone).await
                }
                Err(e) => Err((e.error_code(), e.to_string())),
            };
            // Kafka 2.8 answers DeleteTopics with error codes only.
            let error_code = match outcome {
                Ok(()) => ErrorCode::NONE,
                Err((code, message)) => {
                    log::info!("deleting topic {name:?} failed: {message}");
                    code
                }
            };
            responses.push(DeletableTopicResult {
                name,
                error_code: error_code.code(),
                error_message: None,
            });
        }
        DeleteTopicsResponse {
            throttle_time_ms: 0,
            responses,
        }
    }
}

/// Kafka's answer for a topic sent to a broker that is not the controller
/// (ZooKeeper mode): NOT_CONTROLLER and the result's defaults (an empty
/// message, -1 partitions and replication factor, no configs), so the
/// client looks the controller up and retries there.
fn not_controller(topic: CreatableTopic) -> CreatableTopicResult {
    CreatableTopicResult {
        name: topic.name,
        error_code: ErrorCode::NOT_CONTROLLER.code(),
        ..Default::default()
    }
}
