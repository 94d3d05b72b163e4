//! The client's view of a cluster and its connections to it: Kafka's
//! `NetworkClient` and `Metadata` in one place.
//!
//! A [`NetworkClient`] starts from `bootstrap.servers` (any broker will do),
//! learns every broker and the topics it is asked about from Metadata, and
//! then sends each request to the broker it is meant for (a partition's
//! leader, a group's coordinator, the controller), keeping one connection
//! per broker. The producer, the consumer, the admin client and the CLI are
//! all built on it.
//!
//! Connections carry one request at a time (see [`BrokerConnection`]); a
//! failed exchange drops its connection and the next request to that broker
//! connects again, as Kafka's `NetworkClient` does.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use log::debug;

use super::connection::{BrokerConnection, ClientError, DEFAULT_REQUEST_TIMEOUT};
use crate::versions::METADATA_VERSION;
use gregor_protocol::api::metadata::{
    MetadataRequest, MetadataRequestTopic, MetadataResponse, MetadataResponseTopic,
};
use gregor_protocol::error_code::ErrorCode;
use gregor_protocol::Request;

/// Kafka's default `client.id` is empty; gregor's tools name themselves so
/// that broker logs say who asked.
pub const DEFAULT_CLIENT_ID: &str = "gregor";

/// What every client needs to reach a cluster.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `bootstrap.servers`: `host:port` addresses tried in order until one
    /// answers.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`, sent in every request header.
    pub client_id: String,
    /// `request.timeout.ms` (default 30000): bounds every connect and every
    /// exchange.
    pub request_timeout: Duration,
}

impl ClientConfig {
    /// A config for `bootstrap`, a comma-separated `host:port` list as
    /// Kafka's tools take it.
    pub fn new(bootstrap: &str) -> ClientConfig {
        ClientConfig {
            bootstrap_servers: bootstrap
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Where a broker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerAddress {
    /// `host:port`, the form `TcpStream::connect` takes.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition as the cluster last described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    /// The leader's broker id, -1 while it has none.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
    pub error: ErrorCode,
}

/// One topic as the cluster last described it; `error` is NONE or why the
/// topic could not be described (UNKNOWN_TOPIC_OR_PARTITION, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub error: ErrorCode,
    pub is_internal: bool,
    /// Sorted by partition id.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    fn from_response(topic: MetadataResponseTopic) -> TopicInfo {
        let mut partitions: Vec<PartitionInfo> = topic
            .partitions
            .into_iter()
            .map(|p| PartitionInfo {
                partition: p.partition_index,
                leader: p.leader_id,
                leader_epoch: p.leader_epoch,
                replicas: p.replica_nodes,
                isr: p.isr_nodes,
                offline_replicas: p.offline_replicas,
                error: ErrorCode::from_code(p.error_code),
            })
            .collect();
        partitions.sort_by_key(|p| p.partition);
        TopicInfo {
            name: topic.name,
            error: ErrorCode::from_code(topic.error_code),
            is_internal: topic.is_internal,
            partitions,
        }
    }

    /// The leader of `partition`, if it has one.
    pub fn leader_of(&self, partition: i32) -> Option<i32> {
        self.partitions
            .iter()
            .find(|p| p.partition == partition)
            .map(|p| p.leader)
            .filter(|leader| *leader >= 0)
    }
}

/// The cluster as the last Metadata answers described it.
#[derive(Debug, Clone, Default)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    /// The controller's broker id, -1 if the cluster has none right now.
    pub controller_id: i32,
    pub brokers: BTreeMap<i32, BrokerAddress>,
    pub topics: BTreeMap<String, TopicInfo>,
}

/// Connections to a cluster, routed by broker id.
#[derive(Debug)]
pub struct NetworkClient {
    config: ClientConfig,
    metadata: ClusterMetadata,
    connections: HashMap<i32, BrokerConnection>,
}

impl NetworkClient {
    /// Connects to the first bootstrap server that answers Metadata and
    /// learns the cluster's brokers from it. When none answers, the error
    /// names every address tried and why it failed.
    pub async fn connect(config: ClientConfig) -> Result<NetworkClient, ClientError> {
        let mut failures = Vec::new();
        for address in &config.bootstrap_servers {
            match BrokerConnection::connect(address, &config.client_id, config.request_timeout)
                .await
            {
                Ok(mut connection) => {
                    match connection
                        .send(METADATA_VERSION, &metadata_request(Some(&[]), false))
                        .await
                    {
                        Ok(response) => {
                            let mut client = NetworkClient {
                                config,
                                metadata: ClusterMetadata::default(),
                                connections: HashMap::new(),
                            };
                            client.apply(response, Some(&[]));
                            return Ok(client);
                        }
                        Err(e) => failures.push(format!("{address}: {e}")),
                    }
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        if failures.is_empty() {
            failures.push("bootstrap.servers is empty".to_owned());
        }
        Err(ClientError::NoBrokerReachable(failures.join("; ")))
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The cluster as last described.
    pub fn metadata(&self) -> &ClusterMetadata {
        &self.metadata
    }

    /// Asks the cluster about `topics` (`None`: every topic) and replaces
    /// what was known about them (all topics, for `None`); brokers and the
    /// controller are always refreshed. `allow_auto_create` lets the broker
    /// create missing topics if its `auto.create.topics.enable` says so.
    pub async fn refresh_metadata(
        &mut self,
        topics: Option<&[String]>,
        allow_auto_create: bool,
    ) -> Result<&ClusterMetadata, ClientError> {
        let request = metadata_request(topics, allow_auto_create);
        let response = self.send_to_any(METADATA_VERSION, &request).await?;
        self.apply(response, topics);
        Ok(&self.metadata)
    }

    /// Sends `request` to broker `node` and waits for its answer.
    pub async fn send<R: Request>(
        &mut self,
        node: i32,
        version: i16,
        request: &R,
    ) -> Result<R::Response, ClientError> {
        if !self.connections.contains_key(&node) {
            let address = self
                .metadata
                .brokers
                .get(&node)
                .ok_or(ClientError::UnknownBroker(node))?
                .address();
            let connection = BrokerConnection::connect(
                &address,
                &self.config.client_id,
                self.config.request_timeout,
            )
            .await?;
            self.connections.insert(node, connection);
        }
        let Some(connection) = self.connections.get_mut(&node) else {
            return Err(ClientError::UnknownBroker(node));
        };
        let result = connection.send(version, request).await;
        if result.is_err() {
            debug!("dropping the connection to broker {node} after a failed request");
            self.connections.remove(&node);
        }
        result
    }

    /// Sends `request` to some live broker: one already connected if any,
    /// else each known broker in turn, then the bootstrap servers.
    pub async fn send_to_any<R: Request>(
        &mut self,
        version: i16,
        request: &R,
    ) -> Result<R::Response, ClientError> {
        let mut candidates: Vec<i32> = self.connections.keys().copied().collect();
        candidates.extend(
            self.metadata
                .brokers
                .keys()
                .filter(|id| !self.connections.contains_key(id)),
        );
        let mut failures = Vec::new();
        for node in candidates {
            match self.send(node, version, request).await {
                Ok(response) => return Ok(response),
                Err(e) => failures.push(format!("broker {node}: {e}")),
            }
        }
        for address in self.config.bootstrap_servers.clone() {
            let attempt = async {
                BrokerConnection::connect(
                    &address,
                    &self.config.client_id,
                    self.config.request_timeout,
                )
                .await?
                .send(version, request)
                .await
            };
            match attempt.await {
                Ok(response) => return Ok(response),
                Err(e) => failures.push(format!("{address}: {e}")),
            }
        }
        Err(ClientError::NoBrokerReachable(failures.join("; ")))
    }

    fn apply(&mut self, response: MetadataResponse, topics: Option<&[String]>) {
        self.metadata.cluster_id = response.cluster_id;
        self.metadata.controller_id = response.controller_id;
        self.metadata.brokers = response
            .brokers
            .into_iter()
            .map(|b| {
                let address = BrokerAddress {
                    host: b.host,
                    port: b.port,
                    rack: b.rack,
                };
                (b.node_id, address)
            })
            .collect();
        // A broker that left the cluster keeps no connection.
        let brokers = &self.metadata.brokers;
        self.connections.retain(|id, _| brokers.contains_key(id));
        match topics {
            None => self.metadata.topics.clear(),
            Some(names) => {
                for name in names {
                    self.metadata.topics.remove(name);
                }
            }
        }
        for topic in response.topics {
            self.metadata
                .topics
                .insert(topic.name.clone(), TopicInfo::from_response(topic));
        }
    }
}

fn metadata_request(topics: Option<&[String]>, allow_auto_create: bool) -> MetadataRequest {
    MetadataRequest {
        topics: topics.map(|names| {
            names
                .iter()
                .map(|name| MetadataRequestTopic { name: name.clone() })
                .collect()
        }),
        allow_auto_topic_creation: allow_auto_create,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists_are_split_and_trimmed() {
        let config = ClientConfig::new(" a:1, b:2,,c:3 ");
        assert_eq!(config.bootstrap_servers, ["a:1", "b:2", "c:3"]);
    }
}
