//! DescribeConfigs (API key 32): a topic's effective configuration (its
//! overrides from `/config/topics/<t>` over the broker defaults), or this
//! broker's own settings, each entry with its source and (on request) its
//! synonyms, as Kafka 2.8's `ConfigHelper` describes them: a topic
//! override, then `server.properties`, then Kafka's default. A broker is
//! described key for key as Kafka 2.8 describes one with the same
//! `server.properties`, from the table of keys ([`keys::KEYS`]).

use std::collections::BTreeMap;

use crate::config::describe_topic;
use crate::config::keys::{self, broker_config_synonyms};
use gregor_log::LogConfig;
use gregor_protocol::api::describe_configs::{
    DescribeConfigsRequest, DescribeConfigsResourceResult, DescribeConfigsResponse,
    DescribeConfigsResult, DescribeConfigsSynonym,
};
use gregor_protocol::ErrorCode;

use super::create_topics::{DEFAULT_CONFIG_SOURCE, TOPIC_CONFIG_SOURCE};
use crate::broker::Broker;

/// Kafka's `ConfigResource.Type` codes.
pub(super) const TOPIC_RESOURCE: i8 = 2;
pub(super) const BROKER_RESOURCE: i8 = 4;
/// `ConfigSource.STATIC_BROKER_CONFIG`: from server.properties.
const STATIC_BROKER_CONFIG_SOURCE: i8 = 4;

/// A value a config takes from one source: name, value, source.
type Synonym = (String, Option<String>, i8);

/// One config entry as Kafka describes it; `synonyms` are the values it
/// takes from each source, most specific first.
pub(super) struct Entry {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    pub synonyms: Vec<Synonym>,
    pub read_only: bool,
    pub sensitive: bool,
    pub config_type: i8,
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
                            value: e.value,
                            read_only: e.read_only,
                            is_default: e.source == DEFAULT_CONFIG_SOURCE,
                            config_source: e.source,
                            config_type: e.config_type,
                            // Documentation is not kept: null, as Kafka
                            // sends it when not asked for.
                            documentation: None,
                            synonyms: if synonyms {
                                e.synonyms
                                    .into_iter()
                                    .map(|(name, value, source)| DescribeConfigsSynonym {
                                        name,
                                        value,
                                        source,
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            },
                            name: e.name,
                            is_sensitive: e.sensitive,
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
                    synonyms.push((name.to_owned(), Some(own.clone()), TOPIC_CONFIG_SOURCE));
                }
                let key = keys::topic_key(name);
                if let Some(broker_key) = key.filter(|k| k.broker) {
                    synonyms.extend(self.broker_synonyms(broker_key.name, false));
                }
                let source = synonyms.first().map_or(DEFAULT_CONFIG_SOURCE, |s| s.2);
                Entry {
                    name: name.to_owned(),
                    value: Some(value),
                    source,
                    synonyms,
                    read_only: false,
                    sensitive: false,
                    config_type: key.map_or(0, |k| k.config_type.code()),
                }
            })
            .collect()
    }

    /// Kafka's `configSynonyms` for broker config `key`: the values of the
    /// keys that set it ([`broker_config_synonyms`]), from server.properties
    /// before Kafka's defaults, without those listed before `key` itself
    /// (Kafka's `dropWhile`: `log.retention.hours` alone is not shown for
    /// `log.retention.ms`). Sensitive values are not shown.
    fn broker_synonyms(&self, key: &str, sensitive: bool) -> Vec<Synonym> {
        let keys = broker_config_synonyms(key);
        let shown = |value: &str| (!sensitive).then(|| value.to_owned());
        let statics = keys.iter().filter_map(|k| {
            let value = self.config.static_props.get(*k)?;
            Some((
                k.to_string(),
                shown(value.trim()),
                STATIC_BROKER_CONFIG_SOURCE,
            ))
        });
        let defaults = keys.iter().filter_map(|k| {
            let default = keys::broker_key(k)?.default?;
            Some((k.to_string(), shown(default), DEFAULT_CONFIG_SOURCE))
        });
        statics
            .chain(defaults)
            .skip_while(|(name, _, _)| name != key)
            .collect()
    }

    /// This broker's configs as a Kafka 2.8 broker with the same
    /// `server.properties` describes them: every key of Kafka's
    /// `KafkaConfig`, valued from the file or Kafka's default, read-only
    /// unless Kafka can update it dynamically. The empty name is the
    /// cluster's dynamic defaults, of which gregor has none.
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
        Ok(keys::broker_keys()
            .map(|c| {
                let synonyms = self.broker_synonyms(c.name, c.sensitive());
                let value = match self.config.static_props.get(c.name) {
                    Some(value) => Some(value.trim().to_owned()),
                    None => c.default.map(str::to_owned),
                };
                Entry {
                    name: c.name.to_owned(),
                    value: value.filter(|_| !c.sensitive()),
                    source: synonyms.first().map_or(DEFAULT_CONFIG_SOURCE, |s| s.2),
                    synonyms,
                    read_only: !c.dynamic,
                    sensitive: c.sensitive(),
                    config_type: c.config_type.code(),
                }
            })
            .collect())
    }
}
