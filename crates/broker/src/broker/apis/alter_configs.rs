//! AlterConfigs (API key 33) and IncrementalAlterConfigs (API key 44) for
//! topics, as Kafka 2.8's `ZkAdminManager` does them with ZooKeeper.
//!
//! AlterConfigs replaces a topic's whole set of overrides with the one in
//! the request; IncrementalAlterConfigs reads the current overrides from
//! `/config/topics/<t>` and sets, deletes, appends to or subtracts from
//! single keys. Either way the result is checked as CreateTopics checks
//! configs ([`crate::config::topic_log_config`]) and, unless the request is
//! `validate_only`, written back to `/config/topics/<t>` with a
//! `/config/changes/config_change_<seq>` notification, from which every
//! broker (this one included) reloads the topic's config
//! (`crate::broker::topic_configs`).
//!
//! Error codes are Kafka's: an unknown topic is UNKNOWN_TOPIC_OR_PARTITION;
//! an unknown config key INVALID_CONFIG (Kafka's
//! `InvalidConfigurationException`); a value that does not parse or is out
//! of range INVALID_REQUEST (Kafka wraps the `ConfigException` of its
//! `ConfigDef` in an `InvalidRequestException`), as are null values,
//! duplicate keys and APPEND/SUBTRACT on a key that is not a list.
//! BROKER resources get INVALID_REQUEST too: gregor has no dynamic broker
//! configs, and INVALID_REQUEST is what Kafka answers for a broker config
//! it cannot update dynamically ("Cannot update these configs
//! dynamically").

use std::collections::BTreeMap;

use crate::config::keys::{self, ConfigType};
use crate::config::{describe, topic_log_config, ConfigError};
use gregor_log::LogConfig;
use gregor_protocol::api::alter_configs::{
    self as full, AlterConfigsRequest, AlterConfigsResourceResponse, AlterConfigsResponse,
};
use gregor_protocol::api::incremental_alter_configs::{
    self as incremental, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use gregor_protocol::ErrorCode;
use gregor_zk::ZkError;

use super::describe_configs::{BROKER_RESOURCE, TOPIC_RESOURCE};
use crate::broker::Broker;

/// A topic's config overrides, key to value, as `/config/topics/<t>` holds
/// them.
type Overrides = BTreeMap<String, String>;

/// Why a resource's configs were not altered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AlterConfigsError {
    #[error("The topic '{0}' does not exist.")]
    UnknownTopic(String),
    /// Kafka's `InvalidConfigurationException`.
    #[error("Unknown topic config name: {0}")]
    UnknownConfig(String),
    #[error(
        "Invalid config value for resource ConfigResource(type=TOPIC, name='{topic}'): {source}"
    )]
    InvalidValue {
        topic: String,
        #[source]
        source: ConfigError,
    },
    #[error("Null value not supported for : {0}")]
    NullValue(String),
    #[error("Error due to duplicate config keys : {0}")]
    DuplicateKeys(String),
    #[error("Config value {} is not allowed for config key: {key}", operation.to_lowercase())]
    NotAList {
        operation: &'static str,
        key: String,
    },
    #[error("Unknown config operation {0} for config key {1}")]
    UnknownOperation(i8, String),
    #[error(
        "gregor has no dynamic broker configs: set them in server.properties \
         (Kafka answers the same for a config it cannot update dynamically)"
    )]
    BrokerConfigsNotDynamic,
    #[error("AlterConfigs is only supported for topics and brokers, but resource type is {0}")]
    UnsupportedResourceType(i8),
    #[error("ZooKeeper: {0}")]
    Zk(#[from] ZkError),
}

impl AlterConfigsError {
    pub(crate) fn error_code(&self) -> ErrorCode {
        match self {
            AlterConfigsError::UnknownTopic(_) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            AlterConfigsError::UnknownConfig(_) => ErrorCode::INVALID_CONFIG,
            AlterConfigsError::InvalidValue { .. }
            | AlterConfigsError::NullValue(_)
            | AlterConfigsError::DuplicateKeys(_)
            | AlterConfigsError::NotAList { .. }
            | AlterConfigsError::BrokerConfigsNotDynamic
            | AlterConfigsError::UnsupportedResourceType(_) => ErrorCode::INVALID_REQUEST,
            // Kafka 2.8 looks the operation up, gets null and fails with a
            // NullPointerException: an unknown server error without message.
            AlterConfigsError::UnknownOperation(..) | AlterConfigsError::Zk(_) => {
                ErrorCode::UNKNOWN_SERVER_ERROR
            }
        }
    }

    /// The response's `error_message`: the error's text, except where Kafka
    /// 2.8 sends none.
    fn error_message(&self) -> Option<String> {
        match self {
            AlterConfigsError::UnknownOperation(..) => None,
            other => Some(other.to_string()),
        }
    }
}

/// Kafka's `AlterConfigOp.OpType`, numbered as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpType {
    Set = 0,
    Delete = 1,
    Append = 2,
    Subtract = 3,
}

impl OpType {
    fn from_id(id: i8, key: &str) -> Result<OpType, AlterConfigsError> {
        match id {
            0 => Ok(OpType::Set),
            1 => Ok(OpType::Delete),
            2 => Ok(OpType::Append),
            3 => Ok(OpType::Subtract),
            other => Err(AlterConfigsError::UnknownOperation(other, key.to_owned())),
        }
    }

    /// As Kafka spells it in error messages.
    fn name(self) -> &'static str {
        match self {
            OpType::Set => "SET",
            OpType::Delete => "DELETE",
            OpType::Append => "APPEND",
            OpType::Subtract => "SUBTRACT",
        }
    }
}

impl Broker {
    pub(crate) async fn alter_configs(&self, request: AlterConfigsRequest) -> AlterConfigsResponse {
        let mut responses = Vec::with_capacity(request.resources.len());
        for resource in request.resources {
            let outcome = match resource.resource_type {
                TOPIC_RESOURCE => match replaced_overrides(&resource.configs) {
                    Ok(overrides) => {
                        self.commit_topic_overrides(
                            &resource.resource_name,
                            &overrides,
                            request.validate_only,
                        )
                        .await
                    }
                    Err(e) => Err(e),
                },
                BROKER_RESOURCE => Err(AlterConfigsError::BrokerConfigsNotDynamic),
                other => Err(AlterConfigsError::UnsupportedResourceType(other)),
            };
            let (error_code, error_message) = result_fields(&resource.resource_name, outcome);
            responses.push(AlterConfigsResourceResponse {
                error_code,
                error_message,
                resource_type: resource.resource_type,
                resource_name: resource.resource_name,
            });
        }
        AlterConfigsResponse {
            throttle_time_ms: 0,
            responses,
        }
    }

    pub(crate) async fn incremental_alter_configs(
        &self,
        request: IncrementalAlterConfigsRequest,
    ) -> IncrementalAlterConfigsResponse {
        let mut responses = Vec::with_capacity(request.resources.len());
        for resource in request.resources {
            let outcome = match resource.resource_type {
                TOPIC_RESOURCE => {
                    self.alter_topic_incrementally(
                        &resource.resource_name,
                        &resource.configs,
                        request.validate_only,
                    )
                    .await
                }
                BROKER_RESOURCE => Err(AlterConfigsError::BrokerConfigsNotDynamic),
                other => Err(AlterConfigsError::UnsupportedResourceType(other)),
            };
            let (error_code, error_message) = result_fields(&resource.resource_name, outcome);
            responses.push(incremental::AlterConfigsResourceResponse {
                error_code,
                error_message,
                resource_type: resource.resource_type,
                resource_name: resource.resource_name,
            });
        }
        IncrementalAlterConfigsResponse {
            throttle_time_ms: 0,
            responses,
        }
    }

    async fn alter_topic_incrementally(
        &self,
        topic: &str,
        changes: &[incremental::AlterableConfig],
        validate_only: bool,
    ) -> Result<(), AlterConfigsError> {
        check_incremental_request(changes)?;
        let current = self.zk.client().get_topic_config(topic).await?;
        let overrides = incremental_overrides(current, changes, self.logs.default_log_config())?;
        self.commit_topic_overrides(topic, &overrides, validate_only)
            .await
    }

    /// Checks a topic's new overrides and, unless `validate_only`, makes
    /// them the topic's (Kafka's `alterTopicConfigs`).
    async fn commit_topic_overrides(
        &self,
        topic: &str,
        overrides: &Overrides,
        validate_only: bool,
    ) -> Result<(), AlterConfigsError> {
        if !self.metadata.contains_topic(topic) {
            return Err(AlterConfigsError::UnknownTopic(topic.to_owned()));
        }
        validate_overrides(topic, self.logs.default_log_config(), overrides)?;
        if !validate_only {
            ::log::info!("updating topic {topic} with new configuration {overrides:?}");
            self.zk
                .client()
                .change_topic_config(topic, overrides)
                .await?;
        }
        Ok(())
    }
}

/// The `error_code` and `error_message` of a resource's response.
fn result_fields(resource: &str, outcome: Result<(), AlterConfigsError>) -> (i16, Option<String>) {
    match outcome {
        Ok(()) => (ErrorCode::NONE.code(), None),
        Err(e) => {
            ::log::info!("altering the configs of {resource:?} failed: {e}");
            (e.error_code().code(), e.error_message())
        }
    }
}

/// AlterConfigs' new overrides: exactly the request's, none of them null.
fn replaced_overrides(configs: &[full::AlterableConfig]) -> Result<Overrides, AlterConfigsError> {
    let nulls: Vec<&str> = configs
        .iter()
        .filter(|c| c.value.is_none())
        .map(|c| c.name.as_str())
        .collect();
    if !nulls.is_empty() {
        return Err(AlterConfigsError::NullValue(nulls.join(",")));
    }
    Ok(configs
        .iter()
        .filter_map(|c| Some((c.name.clone(), c.value.clone()?)))
        .collect())
}

/// Kafka's checks of an incremental request before it looks at the topic:
/// no key twice, a value for every operation but DELETE, and known
/// operations.
fn check_incremental_request(
    changes: &[incremental::AlterableConfig],
) -> Result<(), AlterConfigsError> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for change in changes {
        *counts.entry(change.name.as_str()).or_default() += 1;
    }
    let duplicates: Vec<&str> = counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(key, _)| key)
        .collect();
    if !duplicates.is_empty() {
        return Err(AlterConfigsError::DuplicateKeys(duplicates.join(",")));
    }
    let mut nulls = Vec::new();
    for change in changes {
        let op = OpType::from_id(change.config_operation, &change.name)?;
        if change.value.is_none() && op != OpType::Delete {
            nulls.push(format!("{}:{}", op.name(), change.name));
        }
    }
    if !nulls.is_empty() {
        return Err(AlterConfigsError::NullValue(nulls.join(",")));
    }
    Ok(())
}

/// IncrementalAlterConfigs' new overrides: `changes` applied in order to
/// `current` (Kafka's `prepareIncrementalConfigs`). APPEND and SUBTRACT
/// start from the override if there is one, else from the broker default
/// in `defaults`; list items are comma-separated.
fn incremental_overrides(
    mut current: Overrides,
    changes: &[incremental::AlterableConfig],
    defaults: &LogConfig,
) -> Result<Overrides, AlterConfigsError> {
    for change in changes {
        let key = &change.name;
        let value = change.value.as_deref().unwrap_or_default();
        match OpType::from_id(change.config_operation, key)? {
            OpType::Set => {
                current.insert(key.clone(), value.to_owned());
            }
            OpType::Delete => {
                current.remove(key);
            }
            op @ (OpType::Append | OpType::Subtract) => {
                let default = list_default(key, op, defaults)?;
                let old = current.get(key).cloned().unwrap_or(default);
                let mut items = list_items(&old);
                if op == OpType::Append {
                    items.extend(list_items(value));
                } else {
                    // Scala's `List.diff`: each operand removes one occurrence.
                    for gone in list_items(value) {
                        if let Some(at) = items.iter().position(|item| *item == gone) {
                            items.remove(at);
                        }
                    }
                }
                current.insert(key.clone(), items.join(","));
            }
        }
    }
    Ok(current)
}

/// The broker default of `key`, which must be a list config to take `op`.
fn list_default(key: &str, op: OpType, defaults: &LogConfig) -> Result<String, AlterConfigsError> {
    let Some((_, default)) = describe(defaults)
        .into_iter()
        .find(|(name, _)| *name == key)
    else {
        return Err(AlterConfigsError::UnknownConfig(key.to_owned()));
    };
    // Only a config whose Kafka type is LIST takes APPEND and SUBTRACT.
    if keys::topic_key(key).map(|k| k.config_type) != Some(ConfigType::List) {
        return Err(AlterConfigsError::NotAList {
            operation: op.name(),
            key: key.to_owned(),
        });
    }
    Ok(default)
}

fn list_items(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks `overrides` as CreateTopics does: every key a topic config
/// gregor supports, every value in range.
fn validate_overrides(
    topic: &str,
    defaults: &LogConfig,
    overrides: &Overrides,
) -> Result<(), AlterConfigsError> {
    match topic_log_config(defaults, overrides) {
        Ok(_) => Ok(()),
        Err(ConfigError::UnknownTopicConfig(key)) => Err(AlterConfigsError::UnknownConfig(key)),
        Err(source) => Err(AlterConfigsError::InvalidValue {
            topic: topic.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEANUP_POLICY: &str = "cleanup.policy";

    fn op(name: &str, operation: OpType, value: Option<&str>) -> incremental::AlterableConfig {
        incremental::AlterableConfig {
            name: name.to_owned(),
            config_operation: operation as i8,
            value: value.map(str::to_owned),
        }
    }

    fn overrides(entries: &[(&str, &str)]) -> Overrides {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn code(result: Result<impl std::fmt::Debug, AlterConfigsError>) -> ErrorCode {
        result.expect_err("should fail").error_code()
    }

    #[test]
    fn alter_configs_takes_exactly_the_requested_overrides_and_refuses_nulls() {
        let configs = [
            full::AlterableConfig {
                name: "retention.ms".into(),
                value: Some("1000".into()),
            },
            full::AlterableConfig {
                name: "segment.bytes".into(),
                value: Some("2048".into()),
            },
        ];
        assert_eq!(
            replaced_overrides(&configs).unwrap(),
            overrides(&[("retention.ms", "1000"), ("segment.bytes", "2048")])
        );
        let with_null = [full::AlterableConfig {
            name: "retention.ms".into(),
            value: None,
        }];
        let err = replaced_overrides(&with_null).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::INVALID_REQUEST);
        assert!(err.to_string().contains("retention.ms"), "{err}");
    }

    #[test]
    fn set_and_delete_change_single_keys_and_keep_the_rest() {
        let current = overrides(&[("retention.ms", "1000"), ("segment.ms", "5000")]);
        let changes = [
            op("retention.ms", OpType::Set, Some("2000")),
            op("segment.ms", OpType::Delete, None),
            op("max.message.bytes", OpType::Set, Some("4096")),
        ];
        check_incremental_request(&changes).unwrap();
        let new = incremental_overrides(current, &changes, &LogConfig::default()).unwrap();
        assert_eq!(
            new,
            overrides(&[("max.message.bytes", "4096"), ("retention.ms", "2000")])
        );
    }

    #[test]
    fn append_and_subtract_work_on_list_configs_from_the_default() {
        let defaults = LogConfig::default();
        let appended = incremental_overrides(
            Overrides::new(),
            &[op(CLEANUP_POLICY, OpType::Append, Some("compact"))],
            &defaults,
        )
        .unwrap();
        assert_eq!(appended[CLEANUP_POLICY], "delete,compact");
        let subtracted = incremental_overrides(
            appended,
            &[op(CLEANUP_POLICY, OpType::Subtract, Some("delete"))],
            &defaults,
        )
        .unwrap();
        assert_eq!(subtracted[CLEANUP_POLICY], "compact");
        validate_overrides("t", &defaults, &subtracted).unwrap();
    }

    #[test]
    fn append_refuses_non_list_and_unknown_keys() {
        let defaults = LogConfig::default();
        let not_a_list = incremental_overrides(
            Overrides::new(),
            &[op("retention.ms", OpType::Append, Some("1"))],
            &defaults,
        );
        assert_eq!(code(not_a_list), ErrorCode::INVALID_REQUEST);
        let unknown = incremental_overrides(
            Overrides::new(),
            &[op("no.such.config", OpType::Subtract, Some("1"))],
            &defaults,
        );
        assert_eq!(code(unknown), ErrorCode::INVALID_CONFIG);
    }

    #[test]
    fn incremental_requests_refuse_duplicates_nulls_and_unknown_operations() {
        let duplicate = [
            op("retention.ms", OpType::Set, Some("1")),
            op("retention.ms", OpType::Delete, None),
        ];
        let err = check_incremental_request(&duplicate).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::INVALID_REQUEST);
        assert!(err.to_string().contains("duplicate"), "{err}");

        let null_set = [op("retention.ms", OpType::Set, None)];
        let err = check_incremental_request(&null_set).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::INVALID_REQUEST);
        assert!(err.to_string().contains("SET:retention.ms"), "{err}");

        let mut unknown = op("retention.ms", OpType::Set, Some("1"));
        unknown.config_operation = 9;
        // Kafka 2.8 fails with a NullPointerException: an unknown server
        // error, without message.
        let err = check_incremental_request(&[unknown]).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::UNKNOWN_SERVER_ERROR);
        assert_eq!(err.error_message(), None);
        // A delete needs no value.
        check_incremental_request(&[op("retention.ms", OpType::Delete, None)]).unwrap();
    }

    #[test]
    fn validation_tells_unknown_keys_from_bad_values() {
        let defaults = LogConfig::default();
        let unknown = validate_overrides("t", &defaults, &overrides(&[("retention.mss", "1")]));
        assert_eq!(code(unknown), ErrorCode::INVALID_CONFIG);
        let not_a_number =
            validate_overrides("t", &defaults, &overrides(&[("retention.ms", "soon")]));
        let err = not_a_number.unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::INVALID_REQUEST);
        assert!(err.to_string().contains("retention.ms"), "{err}");
        let out_of_range =
            validate_overrides("t", &defaults, &overrides(&[("segment.bytes", "1")]));
        assert_eq!(code(out_of_range), ErrorCode::INVALID_REQUEST);
        validate_overrides("t", &defaults, &overrides(&[("retention.ms", "-1")])).unwrap();
    }
}
