//! Every znode path gregor uses, as Kafka 2.8's `ZkData.scala` spells it.
//!
//! All paths are relative to the chroot of `zookeeper.connect`; the client
//! applies the chroot, so nothing here mentions it.

use gregor_protocol::BrokerId;

/// `/cluster/id`: the cluster id, created once by the first broker.
pub const CLUSTER_ID: &str = "/cluster/id";
/// `/controller`: ephemeral, held by the active controller.
pub const CONTROLLER: &str = "/controller";
/// `/controller_epoch`: the controller generation, a plain integer.
pub const CONTROLLER_EPOCH: &str = "/controller_epoch";
/// `/brokers/ids`: parent of the ephemeral broker registrations.
pub const BROKER_IDS: &str = "/brokers/ids";
/// `/brokers/topics`: parent of the topic assignment znodes.
pub const BROKER_TOPICS: &str = "/brokers/topics";
/// `/brokers/seqid`: its data version is the sequence behind generated broker ids.
pub const BROKER_SEQUENCE_ID: &str = "/brokers/seqid";
/// `/admin/delete_topics`: parent of the topic deletion markers.
pub const DELETE_TOPICS: &str = "/admin/delete_topics";
/// `/admin/reassign_partitions`: the legacy (pre-KIP-455) reassignment request.
pub const REASSIGN_PARTITIONS: &str = "/admin/reassign_partitions";
/// `/admin/preferred_replica_election`: the legacy preferred-leader election request.
pub const PREFERRED_REPLICA_ELECTION: &str = "/admin/preferred_replica_election";
/// `/isr_change_notification`: parent of the ISR change notifications.
pub const ISR_CHANGE_NOTIFICATION: &str = "/isr_change_notification";
/// Prefix of the persistent sequential ISR change notifications; ZooKeeper
/// appends the 10-digit sequence number.
pub const ISR_CHANGE_NOTIFICATION_PREFIX: &str = "/isr_change_notification/isr_change_";
/// `/config/changes`: parent of the config change notifications.
pub const CONFIG_CHANGES: &str = "/config/changes";
/// Prefix of the persistent sequential config change notifications.
pub const CONFIG_CHANGE_PREFIX: &str = "/config/changes/config_change_";
/// `/latest_producer_id_block`: the last producer id block handed out.
pub const LATEST_PRODUCER_ID_BLOCK: &str = "/latest_producer_id_block";
/// `/consumers`: the pre-0.9 consumer root. Nothing reads it, but Kafka still
/// creates it at startup, so an operator finds the same tree.
pub const CONSUMERS: &str = "/consumers";
/// `/feature`: the cluster's finalized features (KIP-584), kept by the
/// controller.
pub const FEATURE: &str = "/feature";
/// `/log_dir_event_notification`: parent of log dir failure notifications.
pub const LOG_DIR_EVENT_NOTIFICATION: &str = "/log_dir_event_notification";

/// The entity name of the cluster-wide default broker config,
/// `/config/brokers/<default>`.
pub const DEFAULT_BROKER_CONFIG_ENTITY: &str = "<default>";

/// The config entity types under `/config`, Kafka's `ConfigType.all` in 2.8
/// (`kafka.server.ConfigType`; `Ip` came with KIP-612's per-IP connection
/// rate quotas in 2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Topic,
    Client,
    User,
    Broker,
    Ip,
}

impl ConfigType {
    /// Every entity type, in Kafka's order.
    pub const ALL: [ConfigType; 5] = [
        ConfigType::Topic,
        ConfigType::Client,
        ConfigType::User,
        ConfigType::Broker,
        ConfigType::Ip,
    ];

    /// The path segment under `/config`, e.g. `topics`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigType::Topic => "topics",
            ConfigType::Client => "clients",
            ConfigType::User => "users",
            ConfigType::Broker => "brokers",
            ConfigType::Ip => "ips",
        }
    }
}

/// The persistent znodes every broker makes sure exist at startup, in the
/// order of Kafka's `ZkData.PersistentZkPaths`.
pub const PERSISTENT_PATHS: [&str; 14] = [
    CONSUMERS,
    BROKER_IDS,
    BROKER_TOPICS,
    CONFIG_CHANGES,
    DELETE_TOPICS,
    BROKER_SEQUENCE_ID,
    ISR_CHANGE_NOTIFICATION,
    LATEST_PRODUCER_ID_BLOCK,
    LOG_DIR_EVENT_NOTIFICATION,
    "/config/topics",
    "/config/clients",
    "/config/users",
    "/config/brokers",
    "/config/ips",
];

/// `/brokers/ids/<id>`: one broker's ephemeral registration.
pub fn broker(id: BrokerId) -> String {
    format!("{BROKER_IDS}/{id}")
}

/// `/brokers/topics/<topic>`: the topic's id and replica assignment.
pub fn topic(topic: &str) -> String {
    format!("{BROKER_TOPICS}/{topic}")
}

/// `/brokers/topics/<topic>/partitions`.
pub fn topic_partitions(topic: &str) -> String {
    format!("{BROKER_TOPICS}/{topic}/partitions")
}

/// `/brokers/topics/<topic>/partitions/<partition>/state`: leader, ISR and epochs.
pub fn partition_state(topic: &str, partition: i32) -> String {
    format!("{BROKER_TOPICS}/{topic}/partitions/{partition}/state")
}

/// `/admin/delete_topics/<topic>`: marks the topic for deletion.
pub fn delete_topic(topic: &str) -> String {
    format!("{DELETE_TOPICS}/{topic}")
}

/// `/config/<entity type>`.
pub fn config_entity_type(entity_type: ConfigType) -> String {
    format!("/config/{}", entity_type.as_str())
}

/// `/config/<entity type>/<entity name>`, e.g. `/config/topics/orders`.
pub fn config_entity(entity_type: ConfigType, entity_name: &str) -> String {
    format!("/config/{}/{entity_name}", entity_type.as_str())
}

/// `/config/topics/<topic>`: the topic's overrides of the broker defaults.
pub fn topic_config(topic: &str) -> String {
    config_entity(ConfigType::Topic, topic)
}

/// `/config/brokers/<id>`; use [`DEFAULT_BROKER_CONFIG_ENTITY`] with
/// [`config_entity`] for the cluster-wide default.
pub fn broker_config(id: BrokerId) -> String {
    config_entity(ConfigType::Broker, &id.to_string())
}

/// The `entity_path` a config change notification carries, e.g. `topics/orders`.
pub fn config_entity_change_path(entity_type: ConfigType, entity_name: &str) -> String {
    format!("{}/{entity_name}", entity_type.as_str())
}

/// Splits a ZooKeeper connect string (`zookeeper.connect`: `hosts[/chroot]`)
/// at the first `/`. A bare `/` is no chroot, as in ZooKeeper's own
/// connect-string parser.
pub fn split_chroot(connect: &str) -> (&str, Option<&str>) {
    match connect.find('/') {
        Some(at) if &connect[at..] != "/" => (&connect[..at], Some(&connect[at..])),
        Some(at) => (&connect[..at], None),
        None => (connect, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_kafka() {
        assert_eq!(broker(3), "/brokers/ids/3");
        assert_eq!(topic("t"), "/brokers/topics/t");
        assert_eq!(topic_partitions("t"), "/brokers/topics/t/partitions");
        assert_eq!(
            partition_state("t", 7),
            "/brokers/topics/t/partitions/7/state"
        );
        assert_eq!(delete_topic("t"), "/admin/delete_topics/t");
        assert_eq!(topic_config("t"), "/config/topics/t");
        assert_eq!(broker_config(1), "/config/brokers/1");
        assert_eq!(
            config_entity(ConfigType::Broker, DEFAULT_BROKER_CONFIG_ENTITY),
            "/config/brokers/<default>"
        );
        assert_eq!(
            config_entity_change_path(ConfigType::Topic, "t"),
            "topics/t"
        );
    }

    #[test]
    fn config_entity_types_are_kafka_2_8s() {
        let names: Vec<&str> = ConfigType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, ["topics", "clients", "users", "brokers", "ips"]);
    }

    #[test]
    fn persistent_paths_cover_every_config_entity_type() {
        for entity_type in ConfigType::ALL {
            assert!(PERSISTENT_PATHS.contains(&config_entity_type(entity_type).as_str()));
        }
    }
}
