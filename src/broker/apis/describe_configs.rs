//! DescribeConfigs (API key 32): a topic's effective configuration (its
//! overrides from `/config/topics/<t>` over the broker defaults), or this
//! broker's own settings.

use crate::config::describe;
use crate::protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResourceResult, DescribeConfigsResponse,
    DescribeConfigsResult,
};
use crate::protocol::ErrorCode;

use super::create_topics::{DEFAULT_CONFIG_SOURCE, TOPIC_CONFIG_SOURCE};
use crate::broker::Broker;

/// Kafka's `ConfigResource.Type` codes.
pub(super) const TOPIC_RESOURCE: i8 = 2;
pub(super) const BROKER_RESOURCE: i8 = 4;
/// `ConfigSource.STATIC_BROKER_CONFIG`: from server.properties.
const STATIC_BROKER_CONFIG_SOURCE: i8 = 4;

/// (name, value, source) of one config entry.
type Entry = (String, String, i8);

impl Broker {
    pub(crate) async fn describe_configs(
        &self,
        request: DescribeConfigsRequest,
    ) -> DescribeConfigsResponse {
        let mut results = Vec::with_capacity(request.resources.len());
        for resource in request.resources {
            let entries = match resource.resource_type {
                TOPIC_RESOURCE => self.topic_configs(&resource.resource_name).await,
                BROKER_RESOURCE => self.broker_configs(&resource.resource_name),
                other => Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("unsupported resource type {other}"),
                )),
            };
            let wanted = resource.configuration_keys.as_ref();
            // Topic configs can be altered (AlterConfigs); broker configs
            // come from server.properties only.
            let read_only = resource.resource_type != TOPIC_RESOURCE;
            results.push(match entries {
                Ok(entries) => DescribeConfigsResult {
                    error_code: ErrorCode::NONE.code(),
                    error_message: None,
                    resource_type: resource.resource_type,
                    resource_name: resource.resource_name,
                    configs: entries
                        .into_iter()
                        .filter(|(name, _, _)| wanted.is_none_or(|keys| keys.contains(name)))
                        .map(|(name, value, source)| DescribeConfigsResourceResult {
                            name,
                            value: Some(value),
                            read_only,
                            is_default: source == DEFAULT_CONFIG_SOURCE,
                            config_source: source,
                            ..Default::default()
                        })
                        .collect(),
                },
                Err((code, message)) => DescribeConfigsResult {
                    error_code: code.code(),
                    error_message: Some(message),
                    resource_type: resource.resource_type,
                    resource_name: resource.resource_name,
                    configs: Vec::new(),
                },
            });
        }
        DescribeConfigsResponse {
            throttle_time_ms: 0,
            results,
        }
    }

    async fn topic_configs(&self, topic: &str) -> Result<Vec<Entry>, (ErrorCode, String)> {
        if !self.metadata.contains_topic(topic) {
            return Err((
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{topic}' does not exist"),
            ));
        }
        let overrides = self
            .zk
            .client()
            .get_topic_config(topic)
            .await
            .map_err(|e| (ErrorCode::UNKNOWN_SERVER_ERROR, e.to_string()))?;
        let config = self
            .log_config_for(&overrides)
            .map_err(|e| (ErrorCode::INVALID_CONFIG, e.to_string()))?;
        Ok(describe(&config)
            .into_iter()
            .map(|(name, value)| {
                let source = if overrides.contains_key(name) {
                    TOPIC_CONFIG_SOURCE
                } else {
                    DEFAULT_CONFIG_SOURCE
                };
                (name.to_owned(), value, source)
            })
            .collect())
    }

    /// The broker settings clients commonly inspect, as configured. The
    /// empty name is the cluster-wide default resource, which holds the
    /// dynamic default configs: none, as gregor has no dynamic configs
    /// (`kafka-configs --entity-type brokers --entity-default --describe`).
    fn broker_configs(&self, id: &str) -> Result<Vec<Entry>, (ErrorCode, String)> {
        if id.is_empty() {
            return Ok(Vec::new());
        }
        if id.parse::<i32>().ok() != Some(self.id) {
            return Err((
                ErrorCode::INVALID_REQUEST,
                format!(
                    "Unexpected broker id, expected {} or empty string, but received {id}",
                    self.id
                ),
            ));
        }
        let c = &self.config;
        let log_dirs: Vec<String> = c.log_dirs.iter().map(|d| d.display().to_string()).collect();
        let entries = [
            ("broker.id", self.id.to_string()),
            ("zookeeper.connect", c.zookeeper_connect.clone()),
            ("log.dirs", log_dirs.join(",")),
            ("num.partitions", c.num_partitions.to_string()),
            (
                "default.replication.factor",
                c.default_replication_factor.to_string(),
            ),
            (
                "auto.create.topics.enable",
                c.auto_create_topics_enable.to_string(),
            ),
            ("delete.topic.enable", c.delete_topic_enable.to_string()),
            (
                "socket.request.max.bytes",
                c.socket_request_max_bytes.to_string(),
            ),
            (
                "message.max.bytes",
                c.log_config().max_message_bytes.to_string(),
            ),
        ];
        Ok(entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v, STATIC_BROKER_CONFIG_SOURCE))
            .collect())
    }
}
