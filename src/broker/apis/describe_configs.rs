//! DescribeConfigs (API key 32): a topic's effective configuration (its
//! overrides from `/config/topics/<t>` over the broker defaults), or this
//! broker's own settings.

use std::collections::BTreeMap;

use crate::config::{describe_topic, topic_config_synonym};
use crate::log::LogConfig;
use crate::protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResourceResult, DescribeConfigsResponse,
    DescribeConfigsResult, DescribeConfigsSynonym,
};
use crate::protocol::ErrorCode;

use super::create_topics::{DEFAULT_CONFIG_SOURCE, TOPIC_CONFIG_SOURCE};
use crate::broker::Broker;

/// Kafka's `ConfigResource.Type` codes.
pub(super) const TOPIC_RESOURCE: i8 = 2;
pub(super) const BROKER_RESOURCE: i8 = 4;
/// `ConfigSource.STATIC_BROKER_CONFIG`: from server.properties.
const STATIC_BROKER_CONFIG_SOURCE: i8 = 4;

/// One config entry: name, value, source and the synonyms Kafka lists
/// for it (name, value, source), most specific first.
pub(super) struct Entry {
    pub name: String,
    pub value: String,
    pub source: i8,
    pub synonyms: Vec<(String, String, i8)>,
}

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
                // Kafka answers the generic InvalidRequestException message.
                _ => Err((
                    ErrorCode::INVALID_REQUEST,
                    "This most likely occurs because of a request being malformed by the client \
                     library or the message was sent to an incompatible broker. See the broker \
                     logs for more details."
                        .to_owned(),
                )),
            };
            let wanted = resource.configuration_keys.as_ref();
            let synonyms = request.include_synonyms;
            // Topic configs can be altered (AlterConfigs); broker configs
            // come from server.properties only.
            let read_only = resource.resource_type != TOPIC_RESOURCE;
            results.push(match entries {
                Ok(entries) => DescribeConfigsResult {
                    error_code: ErrorCode::NONE.code(),
                    // Kafka's success carries an empty message, not null.
                    error_message: Some(String::new()),
                    resource_type: resource.resource_type,
                    resource_name: resource.resource_name,
                    configs: entries
                        .into_iter()
                        .filter(|e| wanted.is_none_or(|keys| keys.contains(&e.name)))
                        .map(|e| DescribeConfigsResourceResult {
                            value: Some(e.value),
                            read_only,
                            is_default: e.source == DEFAULT_CONFIG_SOURCE,
                            config_source: e.source,
                            config_type: config_type(&e.name),
                            // Documentation is not kept: null, as Kafka
                            // sends it when not asked for.
                            documentation: None,
                            synonyms: if synonyms {
                                e.synonyms
                                    .into_iter()
                                    .map(|(name, value, source)| DescribeConfigsSynonym {
                                        name,
                                        value: Some(value),
                                        source,
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            },
                            name: e.name,
                            is_sensitive: false,
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
            // Kafka sends the error code with an empty message.
            return Err((ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, String::new()));
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
        Ok(self.topic_config_entries(&config, &overrides))
    }

    /// A topic's config entries as Kafka's `createTopicConfigEntry` builds
    /// them (for DescribeConfigs and CreateTopics): the topic's override,
    /// then the broker synonym as server.properties sets it, then Kafka's
    /// default for it; the first of these is the entry's source.
    pub(super) fn topic_config_entries(
        &self,
        config: &LogConfig,
        overrides: &BTreeMap<String, String>,
    ) -> Vec<Entry> {
        describe_topic(config, overrides)
            .into_iter()
            .map(|(name, value)| {
                let mut synonyms = Vec::new();
                if let Some(own) = overrides.get(name) {
                    synonyms.push((name.to_owned(), own.clone(), TOPIC_CONFIG_SOURCE));
                }
                synonyms.extend(self.broker_synonyms(name));
                let source = synonyms.first().map_or(DEFAULT_CONFIG_SOURCE, |s| s.2);
                Entry {
                    name: name.to_owned(),
                    value,
                    source,
                    synonyms,
                }
            })
            .collect()
    }

    /// Kafka's `configSynonyms` for a topic config's broker synonym: the
    /// broker keys it may come from, static ones (server.properties) before
    /// defaults, without those listed before the synonym itself (Kafka's
    /// `dropWhile`: `log.retention.hours` alone is not shown for
    /// `retention.ms`).
    fn broker_synonyms(&self, topic_key: &str) -> Vec<(String, String, i8)> {
        let Some((primary, default)) = topic_config_synonym(topic_key) else {
            return Vec::new();
        };
        // Kafka's `brokerConfigSynonyms`: the key and the coarser keys
        // standing in for it, with their Kafka defaults.
        let keys: Vec<(&str, Option<&str>)> = match primary {
            "log.retention.ms" => vec![
                (primary, default),
                ("log.retention.minutes", None),
                ("log.retention.hours", Some("168")),
            ],
            "log.roll.ms" => vec![(primary, default), ("log.roll.hours", Some("168"))],
            "log.roll.jitter.ms" => vec![(primary, default), ("log.roll.jitter.hours", Some("0"))],
            "log.flush.interval.ms" => vec![
                (primary, default),
                (
                    "log.flush.scheduler.interval.ms",
                    Some("9223372036854775807"),
                ),
            ],
            _ => vec![(primary, default)],
        };
        let statics = keys.iter().filter_map(|(key, _)| {
            let value = self.config.static_props.get(*key)?;
            Some((
                key.to_string(),
                value.trim().to_owned(),
                STATIC_BROKER_CONFIG_SOURCE,
            ))
        });
        let defaults = keys.iter().filter_map(|(key, default)| {
            Some((
                key.to_string(),
                (*default)?.to_owned(),
                DEFAULT_CONFIG_SOURCE,
            ))
        });
        statics
            .chain(defaults)
            .skip_while(|(key, _, _)| key != primary)
            .collect()
    }

    /// The broker settings clients commonly inspect, as configured.
    fn broker_configs(&self, id: &str) -> Result<Vec<Entry>, (ErrorCode, String)> {
        // The cluster-wide dynamic defaults: gregor has no dynamic broker
        // configs, so none are set.
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
            .map(|(k, v)| Entry {
                name: k.to_owned(),
                value: v,
                source: STATIC_BROKER_CONFIG_SOURCE,
                synonyms: Vec::new(),
            })
            .collect())
    }
}

/// Kafka's `ConfigDef.Type` of a config, as DescribeConfigs v3+ reports it
/// (BOOLEAN 1, STRING 2, INT 3, SHORT 4, LONG 5, DOUBLE 6, LIST 7); 0
/// (UNKNOWN) for a name gregor does not describe.
fn config_type(name: &str) -> i8 {
    const BOOLEAN: i8 = 1;
    const STRING: i8 = 2;
    const INT: i8 = 3;
    const LONG: i8 = 5;
    const DOUBLE: i8 = 6;
    const LIST: i8 = 7;
    match name {
        "cleanup.policy"
        | "follower.replication.throttled.replicas"
        | "leader.replication.throttled.replicas" => LIST,
        "compression.type"
        | "message.format.version"
        | "message.timestamp.type"
        | "zookeeper.connect"
        | "log.dirs" => STRING,
        "index.interval.bytes"
        | "max.message.bytes"
        | "min.insync.replicas"
        | "segment.bytes"
        | "segment.index.bytes"
        | "broker.id"
        | "num.partitions"
        | "default.replication.factor"
        | "socket.request.max.bytes"
        | "message.max.bytes" => INT,
        "delete.retention.ms"
        | "file.delete.delay.ms"
        | "flush.messages"
        | "flush.ms"
        | "max.compaction.lag.ms"
        | "message.timestamp.difference.max.ms"
        | "min.compaction.lag.ms"
        | "retention.bytes"
        | "retention.ms"
        | "segment.jitter.ms"
        | "segment.ms" => LONG,
        "min.cleanable.dirty.ratio" => DOUBLE,
        "message.downconversion.enable"
        | "preallocate"
        | "unclean.leader.election.enable"
        | "auto.create.topics.enable"
        | "delete.topic.enable" => BOOLEAN,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_types_are_kafkas() {
        assert_eq!(config_type("cleanup.policy"), 7);
        assert_eq!(config_type("retention.ms"), 5);
        assert_eq!(config_type("max.message.bytes"), 3);
        assert_eq!(config_type("no.such.config"), 0);
    }
}
