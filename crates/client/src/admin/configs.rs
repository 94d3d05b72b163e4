//! Configs of topics and brokers: DescribeConfigs and
//! IncrementalAlterConfigs.

use super::{check, AdminClient, AdminError};
use crate::versions::{DESCRIBE_CONFIGS_VERSION, INCREMENTAL_ALTER_CONFIGS_VERSION};
use gregor_protocol::api::describe_configs::{DescribeConfigsRequest, DescribeConfigsResource};
use gregor_protocol::api::incremental_alter_configs::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
};

/// A resource with configs (Kafka's `ConfigResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    Topic(String),
    /// A broker by id; its configs are asked of that broker.
    Broker(i32),
}

impl ConfigResource {
    /// Kafka's `ConfigResource.Type` id.
    fn type_id(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => 2,
            ConfigResource::Broker(_) => 4,
        }
    }

    fn name(&self) -> String {
        match self {
            ConfigResource::Topic(name) => name.clone(),
            ConfigResource::Broker(id) => id.to_string(),
        }
    }

    fn describe(&self) -> String {
        match self {
            ConfigResource::Topic(name) => format!("topic '{name}'"),
            ConfigResource::Broker(id) => format!("broker {id}"),
        }
    }
}

/// Where a config's value comes from (Kafka's `ConfigEntry.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic (`/config/topics/<t>`).
    DynamicTopicConfig,
    DynamicBrokerConfig,
    DynamicDefaultBrokerConfig,
    /// From the broker's server.properties.
    StaticBrokerConfig,
    /// Nobody set it: the built-in default.
    DefaultConfig,
    DynamicBrokerLoggerConfig,
    Unknown,
}

impl ConfigSource {
    fn from_id(id: i8) -> ConfigSource {
        match id {
            1 => ConfigSource::DynamicTopicConfig,
            2 => ConfigSource::DynamicBrokerConfig,
            3 => ConfigSource::DynamicDefaultBrokerConfig,
            4 => ConfigSource::StaticBrokerConfig,
            5 => ConfigSource::DefaultConfig,
            6 => ConfigSource::DynamicBrokerLoggerConfig,
            _ => ConfigSource::Unknown,
        }
    }
}

/// One config of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None` for sensitive configs.
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
}

/// One change of one config key (Kafka's `AlterConfigOp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Sets the key to the value.
    Set(String, String),
    /// Removes the override: the key goes back to its default.
    Delete(String),
    /// Adds the comma-separated items to a list config.
    Append(String, String),
    /// Removes the comma-separated items from a list config.
    Subtract(String, String),
}

impl AlterConfigOp {
    fn to_request(&self) -> AlterableConfig {
        let (name, config_operation, value) = match self {
            AlterConfigOp::Set(k, v) => (k, 0, Some(v)),
            AlterConfigOp::Delete(k) => (k, 1, None),
            AlterConfigOp::Append(k, v) => (k, 2, Some(v)),
            AlterConfigOp::Subtract(k, v) => (k, 3, Some(v)),
        };
        AlterableConfig {
            name: name.clone(),
            config_operation,
            value: value.cloned(),
        }
    }
}

impl AdminClient {
    /// Every config of `resource` with its value and source.
    pub async fn describe_configs(
        &mut self,
        resource: &ConfigResource,
    ) -> Result<Vec<ConfigEntry>, AdminError> {
        let request = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: resource.type_id(),
                resource_name: resource.name(),
                configuration_keys: None,
            }],
            include_synonyms: false,
            include_documentation: false,
        };
        self.retrying(async |admin: &mut AdminClient| {
            let response = match resource {
                ConfigResource::Topic(_) => {
                    admin
                        .network
                        .send_to_any(DESCRIBE_CONFIGS_VERSION, &request)
                        .await?
                }
                ConfigResource::Broker(id) => {
                    admin
                        .network
                        .send(*id, DESCRIBE_CONFIGS_VERSION, &request)
                        .await?
                }
            };
            let mut entries = Vec::new();
            for result in response.results {
                check(result.error_code, result.error_message, || {
                    format!("describing the configs of {}", resource.describe())
                })?;
                entries.extend(result.configs.into_iter().map(|c| ConfigEntry {
                    name: c.name,
                    value: c.value,
                    source: ConfigSource::from_id(c.config_source),
                    read_only: c.read_only,
                    sensitive: c.is_sensitive,
                }));
            }
            Ok(entries)
        })
        .await
    }

    /// Applies `changes` to the config of `resource` (or, with
    /// `validate_only`, only checks them), leaving its other configs as
    /// they are.
    pub async fn alter_configs(
        &mut self,
        resource: &ConfigResource,
        changes: &[AlterConfigOp],
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let request = IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: resource.type_id(),
                resource_name: resource.name(),
                configs: changes.iter().map(AlterConfigOp::to_request).collect(),
            }],
            validate_only,
        };
        self.retrying(async |admin: &mut AdminClient| {
            let response = match resource {
                ConfigResource::Topic(_) => {
                    admin
                        .network
                        .send_to_any(INCREMENTAL_ALTER_CONFIGS_VERSION, &request)
                        .await?
                }
                ConfigResource::Broker(id) => {
                    admin
                        .network
                        .send(*id, INCREMENTAL_ALTER_CONFIGS_VERSION, &request)
                        .await?
                }
            };
            for result in response.responses {
                check(result.error_code, result.error_message, || {
                    format!("altering the configs of {}", resource.describe())
                })?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_carry_kafkas_op_type_ids() {
        let ops = [
            AlterConfigOp::Set("a".into(), "1".into()),
            AlterConfigOp::Delete("b".into()),
            AlterConfigOp::Append("c".into(), "x".into()),
            AlterConfigOp::Subtract("d".into(), "y".into()),
        ];
        let wire: Vec<(String, i8, Option<String>)> = ops
            .iter()
            .map(AlterConfigOp::to_request)
            .map(|c| (c.name, c.config_operation, c.value))
            .collect();
        assert_eq!(
            wire,
            [
                ("a".into(), 0, Some("1".into())),
                ("b".into(), 1, None),
                ("c".into(), 2, Some("x".into())),
                ("d".into(), 3, Some("y".into())),
            ]
        );
        assert_eq!(ConfigResource::Broker(3).type_id(), 4);
        assert_eq!(ConfigResource::Broker(3).name(), "3");
        assert_eq!(ConfigSource::from_id(1), ConfigSource::DynamicTopicConfig);
        assert_eq!(ConfigSource::from_id(5), ConfigSource::DefaultConfig);
    }
}
