//! The payload of every znode, as a typed struct whose JSON has exactly the
//! fields Kafka 2.8's `ZkData.scala` writes.
//!
//! Kafka builds these payloads from Java maps, so field order carries no
//! meaning; field names, value types (note the numbers Kafka writes as
//! strings) and presence do. Decoding is as lenient as Kafka's decoders:
//! fields Kafka ignores may be absent, older versions are accepted, unknown
//! fields are skipped. Anything Kafka would reject is a [`DecodeError`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use gregor_protocol::{BrokerId, Uuid};

/// A znode's payload could not be decoded the way Kafka would decode it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{znode}: not the JSON Kafka writes there: {source}")]
    Json {
        znode: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{znode}: {reason}")]
    Invalid { znode: &'static str, reason: String },
}

/// Bytes stored in a znode, with Kafka's encoding.
pub trait ZNodeData: Sized {
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

/// A payload stored as JSON; [`ZNodeData`] follows from serde.
pub trait JsonZNode: Serialize + DeserializeOwned {
    /// Names the znode in decode errors.
    const ZNODE: &'static str;
}

impl<T: JsonZNode> ZNodeData for T {
    fn encode(&self) -> Vec<u8> {
        // Every payload is a derived struct with string or integer map keys,
        // which serde_json always serialises.
        serde_json::to_vec(self).expect("znode payloads always serialise to JSON")
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(bytes).map_err(|source| DecodeError::Json {
            znode: T::ZNODE,
            source,
        })
    }
}

/// The `version` field of a payload Kafka writes at version `N`. It always
/// encodes as `N`; decoding accepts anything, because Kafka's decoders for
/// these payloads never read it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Version<const N: i32>;

impl<const N: i32> Serialize for Version<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(N)
    }
}

impl<'de, const N: i32> Deserialize<'de> for Version<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Version)
    }
}

/// Kafka writes timestamps and producer id bounds (Java longs) as JSON
/// strings, e.g. `"timestamp":"1700000000000"`.
mod long_as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `/cluster/id`: `{"version":"1","id":"<22-char base64>"}`. The version is a
/// JSON string here, unlike everywhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIdZNode {
    #[serde(default = "ClusterIdZNode::current_version")]
    pub version: String,
    pub id: String,
}

impl ClusterIdZNode {
    pub fn new(id: impl Into<String>) -> Self {
        ClusterIdZNode {
            version: Self::current_version(),
            id: id.into(),
        }
    }

    fn current_version() -> String {
        "1".to_owned()
    }
}

impl JsonZNode for ClusterIdZNode {
    const ZNODE: &'static str = "/cluster/id";
}

/// `/controller`: `{"version":1,"brokerid":1,"timestamp":"..."}`. Kafka's
/// decoder reads only `brokerid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerZNode {
    #[serde(default)]
    pub version: Version<1>,
    pub brokerid: BrokerId,
    /// Milliseconds since the epoch when the controller was elected.
    #[serde(default, with = "long_as_string")]
    pub timestamp: i64,
}

impl ControllerZNode {
    pub fn new(brokerid: BrokerId, timestamp: i64) -> Self {
        ControllerZNode {
            version: Version,
            brokerid,
            timestamp,
        }
    }
}

impl JsonZNode for ControllerZNode {
    const ZNODE: &'static str = "/controller";
}

/// `/controller_epoch`: the epoch as plain decimal text, not JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ControllerEpoch(pub i32);

impl ZNodeData for ControllerEpoch {
    fn encode(&self) -> Vec<u8> {
        self.0.to_string().into_bytes()
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let invalid = || DecodeError::Invalid {
            znode: "/controller_epoch",
            reason: format!("not an integer: {:?}", String::from_utf8_lossy(bytes)),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid())?;
        text.parse().map(ControllerEpoch).map_err(|_| invalid())
    }
}

/// Kafka's security protocols, named as in `listener_security_protocol_map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's wire id of the protocol (`SecurityProtocol.id`), as
    /// UpdateMetadata carries it.
    pub fn id(self) -> i16 {
        match self {
            SecurityProtocol::Plaintext => 0,
            SecurityProtocol::Ssl => 1,
            SecurityProtocol::SaslPlaintext => 2,
            SecurityProtocol::SaslSsl => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
}

impl FromStr for SecurityProtocol {
    type Err = String;

    /// Case-insensitive, as Kafka's `SecurityProtocol.forName`.
    fn from_str(name: &str) -> Result<Self, String> {
        [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ]
        .into_iter()
        .find(|protocol| protocol.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("unknown security protocol {name:?}"))
    }
}

/// One advertised listener of a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndPoint {
    /// The listener name, e.g. `PLAINTEXT` or `REPLICATION`.
    pub listener_name: String,
    pub security_protocol: SecurityProtocol,
    /// Empty when the listener binds every interface (Kafka's null host).
    pub host: String,
    pub port: i32,
}

impl EndPoint {
    /// `NAME://host:port`, with an IPv6 host in brackets, as Kafka's
    /// `EndPoint.connectionString`.
    pub fn connection_string(&self) -> String {
        if self.host.contains(':') {
            format!("{}://[{}]:{}", self.listener_name, self.host, self.port)
        } else {
            format!("{}://{}:{}", self.listener_name, self.host, self.port)
        }
    }

    /// Parses a connection string, resolving the security protocol through
    /// `protocols` or, without a map (registrations before v4), from the
    /// listener name itself, as Kafka's `EndPoint.createEndPoint`.
    fn parse(text: &str, protocols: Option<&BTreeMap<String, String>>) -> Result<Self, String> {
        let malformed = || format!("malformed endpoint {text:?}");
        let (listener_name, address) = text.rsplit_once("://").ok_or_else(malformed)?;
        let (host, port) = address.rsplit_once(':').ok_or_else(malformed)?;
        let port = port.parse().map_err(|_| malformed())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let protocol_name = match protocols {
            Some(map) => map
                .get(listener_name)
                .ok_or_else(|| format!("no security protocol for listener {listener_name:?}"))?,
            None => listener_name,
        };
        Ok(EndPoint {
            listener_name: listener_name.to_owned(),
            security_protocol: protocol_name.parse()?,
            host: host.to_owned(),
            port,
        })
    }
}

/// A feature's supported version range, KIP-584, `{"min_version":1,"max_version":3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportedVersionRange {
    pub min_version: i16,
    pub max_version: i16,
}

/// A broker as it registers itself under `/brokers/ids/<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: BrokerId,
    /// The advertised listeners.
    pub endpoints: Vec<EndPoint>,
    pub rack: Option<String>,
    pub jmx_port: i32,
    /// Supported features by name, empty unless a feature is versioned.
    pub features: BTreeMap<String, SupportedVersionRange>,
}

/// The JSON of `/brokers/ids/<id>`. gregor writes version 5 (Kafka 2.7+);
/// older versions are read like Kafka reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct BrokerIdZNode {
    version: i32,
    /// Host and port of the first PLAINTEXT listener, for pre-0.9 clients;
    /// `null` and -1 when there is none.
    #[serde(default)]
    host: Option<String>,
    #[serde(default = "BrokerIdZNode::no_port")]
    port: i32,
    #[serde(default)]
    endpoints: Vec<String>,
    jmx_port: i32,
    #[serde(default, with = "long_as_string")]
    timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rack: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listener_security_protocol_map: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    features: Option<BTreeMap<String, SupportedVersionRange>>,
}

impl BrokerIdZNode {
    const CURRENT_VERSION: i32 = 5;

    fn no_port() -> i32 {
        -1
    }
}

impl JsonZNode for BrokerIdZNode {
    const ZNODE: &'static str = "/brokers/ids/<id>";
}

impl BrokerInfo {
    /// The version 5 registration, stamped with `timestamp` (ms since the epoch).
    pub fn encode(&self, timestamp: i64) -> Vec<u8> {
        let plaintext = self
            .endpoints
            .iter()
            .find(|endpoint| endpoint.security_protocol == SecurityProtocol::Plaintext);
        BrokerIdZNode {
            version: BrokerIdZNode::CURRENT_VERSION,
            host: plaintext
                .map(|endpoint| endpoint.host.clone())
                .filter(|host| !host.is_empty()),
            port: plaintext.map_or(-1, |endpoint| endpoint.port),
            endpoints: self
                .endpoints
                .iter()
                .map(EndPoint::connection_string)
                .collect(),
            jmx_port: self.jmx_port,
            timestamp,
            rack: self.rack.clone(),
            listener_security_protocol_map: Some(
                self.endpoints
                    .iter()
                    .map(|endpoint| {
                        let protocol = endpoint.security_protocol.name().to_owned();
                        (endpoint.listener_name.clone(), protocol)
                    })
                    .collect(),
            ),
            features: Some(self.features.clone()),
        }
        .encode()
    }

    /// Reads any registration version Kafka 2.8 reads (1 to 5).
    pub fn decode(id: BrokerId, bytes: &[u8]) -> Result<Self, DecodeError> {
        let znode = BrokerIdZNode::decode(bytes)?;
        let invalid = |reason: String| DecodeError::Invalid {
            znode: BrokerIdZNode::ZNODE,
            reason: format!("broker {id}: {reason}"),
        };
        let endpoints = match znode.version {
            version if version < 1 => {
                return Err(invalid(format!(
                    "unsupported registration version {version}"
                )))
            }
            1 => vec![EndPoint {
                listener_name: SecurityProtocol::Plaintext.name().to_owned(),
                security_protocol: SecurityProtocol::Plaintext,
                host: znode.host.unwrap_or_default(),
                port: znode.port,
            }],
            _ => znode
                .endpoints
                .iter()
                .map(|text| EndPoint::parse(text, znode.listener_security_protocol_map.as_ref()))
                .collect::<Result<_, _>>()
                .map_err(invalid)?,
        };
        Ok(BrokerInfo {
            id,
            endpoints,
            rack: znode.rack,
            jmx_port: znode.jmx_port,
            features: znode.features.unwrap_or_default(),
        })
    }
}

/// Replica lists by partition id; JSON object keys are the decimal partition ids.
pub type PartitionReplicas = BTreeMap<i32, Vec<BrokerId>>;

/// `/brokers/topics/<topic>`: the topic id and where each partition's
/// replicas live, plus the replicas an ongoing reassignment adds or removes.
/// Kafka's decoder reads every field as optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicAssignment {
    #[serde(default)]
    pub version: Version<3>,
    /// Absent in topics created before Kafka 2.8 (versions 1 and 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<Uuid>,
    #[serde(default)]
    pub partitions: PartitionReplicas,
    /// Only partitions with replicas being added appear.
    #[serde(default)]
    pub adding_replicas: PartitionReplicas,
    /// Only partitions with replicas being removed appear.
    #[serde(default)]
    pub removing_replicas: PartitionReplicas,
}

impl TopicAssignment {
    /// A new topic's assignment: no reassignment in progress.
    pub fn new(topic_id: Uuid, partitions: PartitionReplicas) -> Self {
        TopicAssignment {
            version: Version,
            topic_id: Some(topic_id),
            partitions,
            adding_replicas: BTreeMap::new(),
            removing_replicas: BTreeMap::new(),
        }
    }
}

impl JsonZNode for TopicAssignment {
    const ZNODE: &'static str = "/brokers/topics/<topic>";
}

/// `/brokers/topics/<t>/partitions/<p>/state`: the partition's leader, leader
/// epoch and ISR, stamped with the epoch of the controller that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderIsrAndControllerEpoch {
    #[serde(default)]
    pub version: Version<1>,
    pub leader: BrokerId,
    pub leader_epoch: i32,
    pub isr: Vec<BrokerId>,
    pub controller_epoch: i32,
}

impl LeaderIsrAndControllerEpoch {
    pub fn new(
        leader: BrokerId,
        leader_epoch: i32,
        isr: Vec<BrokerId>,
        controller_epoch: i32,
    ) -> Self {
        LeaderIsrAndControllerEpoch {
            version: Version,
            leader,
            leader_epoch,
            isr,
            controller_epoch,
        }
    }
}

impl JsonZNode for LeaderIsrAndControllerEpoch {
    const ZNODE: &'static str = "/brokers/topics/<topic>/partitions/<partition>/state";
}

/// A topic partition as the admin and notification znodes list it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// `{"version":1,"partitions":[{"topic":"t","partition":0}]}`, the payload of
/// both `/admin/preferred_replica_election` and each
/// `/isr_change_notification/isr_change_<seq>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicPartitionList {
    #[serde(default)]
    pub version: Version<1>,
    pub partitions: Vec<TopicPartition>,
}

impl TopicPartitionList {
    pub fn new(partitions: Vec<TopicPartition>) -> Self {
        TopicPartitionList {
            version: Version,
            partitions,
        }
    }
}

impl JsonZNode for TopicPartitionList {
    const ZNODE: &'static str = "partition list (preferred election or ISR change)";
}

/// The payload of `/admin/preferred_replica_election`.
pub type PreferredReplicaElection = TopicPartitionList;
/// The payload of `/isr_change_notification/isr_change_<seq>`.
pub type IsrChangeNotification = TopicPartitionList;

/// One partition's target replicas in a legacy reassignment request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionReassignment {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<BrokerId>,
}

/// `/admin/reassign_partitions`: `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3]}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReassignPartitions {
    #[serde(default)]
    pub version: Version<1>,
    pub partitions: Vec<PartitionReassignment>,
}

impl ReassignPartitions {
    pub fn new(partitions: Vec<PartitionReassignment>) -> Self {
        ReassignPartitions {
            version: Version,
            partitions,
        }
    }
}

impl JsonZNode for ReassignPartitions {
    const ZNODE: &'static str = "/admin/reassign_partitions";
}

/// `/config/<type>/<name>`: `{"version":1,"config":{"retention.ms":"60000"}}`,
/// the entity's overrides; every value is a string, as Java properties.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityConfig {
    #[serde(default)]
    pub version: Version<1>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

impl EntityConfig {
    pub fn new(config: BTreeMap<String, String>) -> Self {
        EntityConfig {
            version: Version,
            config,
        }
    }
}

impl JsonZNode for EntityConfig {
    const ZNODE: &'static str = "/config/<type>/<name>";
}

/// `/config/changes/config_change_<seq>`: `{"version":2,"entity_path":"topics/t"}`,
/// telling every broker to reload that entity's config. (Version 1
/// notifications, written by pre-0.10.1 tools, are not read.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChangeNotification {
    #[serde(default)]
    pub version: Version<2>,
    pub entity_path: String,
}

impl ConfigChangeNotification {
    pub fn new(entity_path: impl Into<String>) -> Self {
        ConfigChangeNotification {
            version: Version,
            entity_path: entity_path.into(),
        }
    }
}

impl JsonZNode for ConfigChangeNotification {
    const ZNODE: &'static str = "/config/changes/config_change_<seq>";
}

/// `/latest_producer_id_block`: the last block of producer ids a broker took,
/// both bounds inclusive and written as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerIdBlock {
    #[serde(default)]
    pub version: Version<1>,
    pub broker: BrokerId,
    #[serde(with = "long_as_string")]
    pub block_start: i64,
    #[serde(with = "long_as_string")]
    pub block_end: i64,
}

impl ProducerIdBlock {
    pub fn new(broker: BrokerId, block_start: i64, block_end: i64) -> Self {
        ProducerIdBlock {
            version: Version,
            broker,
            block_start,
            block_end,
        }
    }
}

impl JsonZNode for ProducerIdBlock {
    const ZNODE: &'static str = "/latest_producer_id_block";
}

/// A finalized feature's version range in `/feature`, KIP-584,
/// `{"min_version_level":1,"max_version_level":2}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalizedVersionRange {
    pub min_version_level: i16,
    pub max_version_level: i16,
}

/// Whether feature versioning is on, `/feature`'s `status` (Kafka's
/// `FeatureZNodeStatus`): 0 disabled, 1 enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureZNodeStatus {
    Disabled,
    Enabled,
}

impl Serialize for FeatureZNodeStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(match self {
            FeatureZNodeStatus::Disabled => 0,
            FeatureZNodeStatus::Enabled => 1,
        })
    }
}

impl<'de> Deserialize<'de> for FeatureZNodeStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match i32::deserialize(deserializer)? {
            0 => Ok(FeatureZNodeStatus::Disabled),
            1 => Ok(FeatureZNodeStatus::Enabled),
            other => Err(serde::de::Error::custom(format!(
                "unknown feature status {other}"
            ))),
        }
    }
}

/// `/feature`: the cluster-wide finalized features (KIP-584),
/// `{"version":1,"status":1,"features":{}}`. The controller of a cluster
/// whose inter-broker protocol is 2.7 or later creates it enabled (Kafka's
/// `KafkaController.enableFeatureVersioning`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureZNode {
    #[serde(default)]
    pub version: Version<1>,
    pub status: FeatureZNodeStatus,
    pub features: BTreeMap<String, FinalizedVersionRange>,
}

impl FeatureZNode {
    pub fn new(
        status: FeatureZNodeStatus,
        features: BTreeMap<String, FinalizedVersionRange>,
    ) -> Self {
        FeatureZNode {
            version: Version,
            status,
            features,
        }
    }
}

impl JsonZNode for FeatureZNode {
    const ZNODE: &'static str = "/feature";
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn as_json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("encoder writes JSON")
    }

    fn plaintext(host: &str, port: i32) -> EndPoint {
        EndPoint {
            listener_name: "PLAINTEXT".to_owned(),
            security_protocol: SecurityProtocol::Plaintext,
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn cluster_id_version_is_a_string() {
        let bytes = ClusterIdZNode::new("AAAAAAAAAAAAAAAAAAAAAA").encode();
        assert_eq!(
            as_json(&bytes),
            json!({"version": "1", "id": "AAAAAAAAAAAAAAAAAAAAAA"})
        );
        let decoded = ClusterIdZNode::decode(br#"{"version":"1","id":"abc"}"#).expect("decodes");
        assert_eq!(decoded.id, "abc");
    }

    #[test]
    fn controller_shape() {
        let bytes = ControllerZNode::new(1, 1_700_000_000_000).encode();
        assert_eq!(
            as_json(&bytes),
            json!({"version": 1, "brokerid": 1, "timestamp": "1700000000000"})
        );
        // Kafka reads only brokerid.
        let decoded = ControllerZNode::decode(br#"{"brokerid":4}"#).expect("decodes");
        assert_eq!(decoded.brokerid, 4);
    }

    #[test]
    fn controller_epoch_is_plain_text() {
        assert_eq!(ControllerEpoch(7).encode(), b"7");
        assert_eq!(
            ControllerEpoch::decode(b"42").expect("decodes"),
            ControllerEpoch(42)
        );
        assert!(ControllerEpoch::decode(b"{\"epoch\":1}").is_err());
        assert!(ControllerEpoch::decode(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn broker_registration_is_version_5() {
        let broker = BrokerInfo {
            id: 1,
            endpoints: vec![plaintext("127.0.0.1", 9092)],
            rack: None,
            jmx_port: -1,
            features: BTreeMap::new(),
        };
        let bytes = broker.encode(1_700_000_000_000);
        assert_eq!(
            as_json(&bytes),
            json!({
                "listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT"},
                "endpoints": ["PLAINTEXT://127.0.0.1:9092"],
                "jmx_port": -1,
                "features": {},
                "host": "127.0.0.1",
                "timestamp": "1700000000000",
                "port": 9092,
                "version": 5
            })
        );
        assert_eq!(BrokerInfo::decode(1, &bytes).expect("decodes"), broker);
    }

    #[test]
    fn broker_registration_with_rack_ssl_and_ipv6() {
        let broker = BrokerInfo {
            id: 2,
            endpoints: vec![EndPoint {
                listener_name: "CLIENT".to_owned(),
                security_protocol: SecurityProtocol::Ssl,
                host: "::1".to_owned(),
                port: 9093,
            }],
            rack: Some("dc1".to_owned()),
            jmx_port: 9999,
            features: BTreeMap::from([(
                "feature".to_owned(),
                SupportedVersionRange {
                    min_version: 1,
                    max_version: 3,
                },
            )]),
        };
        let bytes = broker.encode(5);
        assert_eq!(
            as_json(&bytes),
            json!({
                "listener_security_protocol_map": {"CLIENT": "SSL"},
                "endpoints": ["CLIENT://[::1]:9093"],
                "jmx_port": 9999,
                "features": {"feature": {"min_version": 1, "max_version": 3}},
                "host": null,
                "timestamp": "5",
                "port": -1,
                "rack": "dc1",
                "version": 5
            })
        );
        assert_eq!(BrokerInfo::decode(2, &bytes).expect("decodes"), broker);
    }

    #[test]
    fn decodes_kafkas_documented_broker_versions() {
        // The examples from the doc comment of Kafka's BrokerIdZNode.decode.
        let v1 = br#"{"version":1,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666"}"#;
        let broker = BrokerInfo::decode(0, v1).expect("v1");
        assert_eq!(broker.endpoints, vec![plaintext("localhost", 9092)]);

        let v3 = br#"{"version":3,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666",
            "endpoints":["PLAINTEXT://host1:9092", "SSL://host1:9093"],"rack":"dc1"}"#;
        let broker = BrokerInfo::decode(0, v3).expect("v3");
        assert_eq!(broker.endpoints.len(), 2);
        assert_eq!(broker.endpoints[1].security_protocol, SecurityProtocol::Ssl);
        assert_eq!(broker.rack.as_deref(), Some("dc1"));

        let v4 = br#"{"version":4,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666",
            "endpoints":["CLIENT://host1:9092", "REPLICATION://host1:9093"],"rack":"dc1",
            "listener_security_protocol_map":{"CLIENT":"SASL_PLAINTEXT","REPLICATION":"PLAINTEXT"}}"#;
        let broker = BrokerInfo::decode(0, v4).expect("v4");
        assert_eq!(
            broker.endpoints[0].security_protocol,
            SecurityProtocol::SaslPlaintext
        );
        assert_eq!(broker.endpoints[1].listener_name, "REPLICATION");

        let v5 = br#"{"version":5,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666",
            "endpoints":["PLAINTEXT://host1:9092"],"rack":"dc1",
            "features":{"feature":{"min_version":1,"first_active_version":2,"max_version":3}}}"#;
        let broker = BrokerInfo::decode(0, v5).expect("v5");
        assert_eq!(broker.features["feature"].max_version, 3);
    }

    #[test]
    fn rejects_bad_broker_registrations() {
        for bad in [
            &b"not json"[..],
            br#"{"version":0,"jmx_port":-1}"#,
            br#"{"version":4,"jmx_port":-1,"endpoints":["CLIENT://h:1"],"listener_security_protocol_map":{}}"#,
            br#"{"version":4,"jmx_port":-1,"endpoints":["PLAINTEXT//h:1"]}"#,
            br#"{"version":4,"jmx_port":-1,"endpoints":["FOO://h:1"]}"#,
            br#"{"version":5,"endpoints":[]}"#,
        ] {
            assert!(BrokerInfo::decode(1, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn topic_assignment_is_version_3_with_topic_id() {
        let id: Uuid = "AAAAAAAAAAAAAAAAAAAAAQ".parse().expect("valid id");
        let assignment =
            TopicAssignment::new(id, BTreeMap::from([(0, vec![1, 2, 3]), (1, vec![2, 3, 1])]));
        assert_eq!(
            as_json(&assignment.encode()),
            json!({
                "version": 3,
                "topic_id": "AAAAAAAAAAAAAAAAAAAAAQ",
                "partitions": {"0": [1, 2, 3], "1": [2, 3, 1]},
                "adding_replicas": {},
                "removing_replicas": {}
            })
        );
        assert_eq!(
            TopicAssignment::decode(&assignment.encode()).expect("decodes"),
            assignment
        );
    }

    #[test]
    fn decodes_topic_assignments_without_topic_id() {
        let v1 = TopicAssignment::decode(br#"{"version":1,"partitions":{"0":[1],"1":[2]}}"#)
            .expect("v1");
        assert_eq!(v1.topic_id, None);
        assert_eq!(v1.partitions[&1], vec![2]);
        let v2 = TopicAssignment::decode(
            br#"{"version":2,"partitions":{"0":[1,2]},"adding_replicas":{"0":[2]},"removing_replicas":{}}"#,
        )
        .expect("v2");
        assert_eq!(v2.adding_replicas[&0], vec![2]);
        assert!(TopicAssignment::decode(br#"{"partitions":{"zero":[1]}}"#).is_err());
        assert!(TopicAssignment::decode(br#"{"topic_id":"short","partitions":{}}"#).is_err());
    }

    #[test]
    fn partition_state_shape() {
        let state = LeaderIsrAndControllerEpoch::new(1, 3, vec![1, 2, 3], 7);
        assert_eq!(
            as_json(&state.encode()),
            json!({"controller_epoch": 7, "leader": 1, "version": 1, "leader_epoch": 3, "isr": [1, 2, 3]})
        );
        let decoded = LeaderIsrAndControllerEpoch::decode(
            br#"{"controller_epoch":7,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2,3]}"#,
        )
        .expect("decodes");
        assert_eq!(decoded, state);
        assert!(LeaderIsrAndControllerEpoch::decode(br#"{"leader":1,"isr":[1]}"#).is_err());
    }

    #[test]
    fn admin_and_notification_shapes() {
        let partitions = TopicPartitionList::new(vec![TopicPartition {
            topic: "t".to_owned(),
            partition: 0,
        }]);
        let expected = json!({"version": 1, "partitions": [{"topic": "t", "partition": 0}]});
        assert_eq!(as_json(&partitions.encode()), expected);
        assert_eq!(
            IsrChangeNotification::decode(expected.to_string().as_bytes()).expect("decodes"),
            partitions
        );

        let reassignment = ReassignPartitions::new(vec![PartitionReassignment {
            topic: "t".to_owned(),
            partition: 0,
            replicas: vec![2, 3],
        }]);
        assert_eq!(
            as_json(&reassignment.encode()),
            json!({"version": 1, "partitions": [{"topic": "t", "partition": 0, "replicas": [2, 3]}]})
        );
        assert!(PreferredReplicaElection::decode(br#"{"version":1}"#).is_err());
    }

    #[test]
    fn config_shapes() {
        let config = EntityConfig::new(BTreeMap::from([(
            "retention.ms".to_owned(),
            "60000".to_owned(),
        )]));
        assert_eq!(
            as_json(&config.encode()),
            json!({"version": 1, "config": {"retention.ms": "60000"}})
        );
        assert_eq!(
            EntityConfig::decode(br#"{"version":1}"#)
                .expect("decodes")
                .config
                .len(),
            0
        );
        assert!(EntityConfig::decode(br#"{"version":1,"config":{"retention.ms":60000}}"#).is_err());

        let change = ConfigChangeNotification::new("topics/t");
        assert_eq!(
            as_json(&change.encode()),
            json!({"version": 2, "entity_path": "topics/t"})
        );
    }

    #[test]
    fn producer_id_block_bounds_are_strings() {
        let block = ProducerIdBlock::new(1, 0, 999);
        let expected = json!({"version": 1, "broker": 1, "block_start": "0", "block_end": "999"});
        assert_eq!(as_json(&block.encode()), expected);
        assert_eq!(
            ProducerIdBlock::decode(expected.to_string().as_bytes()).expect("decodes"),
            block
        );
        assert!(ProducerIdBlock::decode(
            br#"{"version":1,"broker":1,"block_start":"x","block_end":"9"}"#
        )
        .is_err());
    }

    #[test]
    fn feature_znode_is_version_1_with_a_numeric_status() {
        let enabled = FeatureZNode::new(FeatureZNodeStatus::Enabled, BTreeMap::new());
        assert_eq!(
            as_json(&enabled.encode()),
            json!({"version": 1, "status": 1, "features": {}})
        );
        let kafkas = br#"{"features":{"f":{"min_version_level":1,"max_version_level":2}},"version":1,"status":0}"#;
        let decoded = FeatureZNode::decode(kafkas).expect("decodes");
        assert_eq!(decoded.status, FeatureZNodeStatus::Disabled);
        assert_eq!(
            decoded.features["f"],
            FinalizedVersionRange {
                min_version_level: 1,
                max_version_level: 2
            }
        );
        assert!(FeatureZNode::decode(br#"{"version":1,"status":2,"features":{}}"#).is_err());
    }
}
