//! The one table of configuration keys: every broker config of Apache
//! Kafka 2.8 (`KafkaConfig.configDef`) and every topic config
//! (`LogConfig.configDef`), each with its type, Kafka's default, the values
//! it may take, its topic synonym (`log.segment.bytes` ↔ `segment.bytes`,
//! Kafka's `LogConfig.TopicConfigSynonyms`), its broker synonyms
//! (`DynamicBrokerConfig.brokerConfigSynonyms`), whether Kafka can change
//! it dynamically, and whether gregor acts on it.
//!
//! Everything about a key is read from here: `server.properties` parsing and
//! topic overrides (`crate::config`) take type, default and valid range from
//! it, so their error messages are Kafka's `ConfigDef` wording;
//! DescribeConfigs reports values, sources, synonyms, types, read-only and
//! sensitive flags from it; and `docs/CONFIGURATION.md` is rendered from it
//! ([`render_markdown`], checked by a test). Keys Kafka has but gregor does
//! not act on stay in the table so that a broker is described as Kafka 2.8
//! describes one with the same `server.properties`.
//!
//! Names, types, defaults and the dynamic and sensitive flags were recorded
//! from a Kafka 2.8.2 broker's DescribeConfigs answer. This module holds
//! data only: it parses nothing and depends on nothing else of gregor.

use std::fmt::Write as _;

/// Kafka's `ConfigDef.Type`. Its DescribeConfigs code is [`ConfigType::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    /// The `config_type` DescribeConfigs v3+ sends: `ConfigDef.Type` + 1.
    pub const fn code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Short => 4,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Class => 8,
            ConfigType::Password => 9,
        }
    }

    /// Kafka's name of the type, as its "Not a number of type INT" says it.
    pub const fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

/// The values a key accepts beyond its type (Kafka's `ConfigDef.Validator`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Validator {
    /// Any value of the type.
    Any,
    /// Kafka's `Range.atLeast` / `Range.between` (inclusive), for numbers.
    Range { min: Option<i64>, max: Option<i64> },
    /// Kafka's `ValidString.in` / `ValidList.in`: every (list) item one of these.
    OneOf(&'static [&'static str]),
    /// Narrower than Kafka: only `value` is accepted, because gregor
    /// implements nothing else (`why` says so in the error).
    Only {
        value: &'static str,
        why: &'static str,
    },
}

impl Validator {
    /// How `docs/CONFIGURATION.md` shows the accepted values.
    fn describe(self) -> String {
        match self {
            Validator::Any => String::new(),
            Validator::Range {
                min: Some(min),
                max: Some(max),
            } => format!("[{min}, {max}]"),
            Validator::Range {
                min: Some(min),
                max: None,
            } => format!("≥ {min}"),
            Validator::Range {
                min: None,
                max: Some(max),
            } => format!("≤ {max}"),
            Validator::Range {
                min: None,
                max: None,
            } => String::new(),
            Validator::OneOf(values) => values.join(", "),
            Validator::Only { value, .. } => format!("{value} only"),
        }
    }
}

/// What gregor does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Read at the broker level and, if it has a topic synonym, as a topic
    /// override.
    Reads,
    /// Read as a topic override only; ignored in `server.properties`.
    ReadsTopicOnly,
    /// Known to Kafka, not acted on: ignored in `server.properties`, refused
    /// as a topic override, described with Kafka's default.
    Ignores,
}

/// One configuration key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfigKey {
    /// Kafka's name: the `server.properties` key, or the topic key of a
    /// topic-only config.
    pub name: &'static str,
    /// Whether `name` is a broker key (false: topic-only, no broker synonym).
    pub broker: bool,
    /// The topic-level key this broker key is the default of.
    pub topic: Option<&'static str>,
    pub config_type: ConfigType,
    /// Kafka's default as DescribeConfigs shows it; `None` where Kafka has
    /// none (a required key, or one derived from another).
    pub default: Option<&'static str>,
    /// The topic key's default where it differs from `default`.
    pub topic_default: Option<&'static str>,
    pub validator: Validator,
    /// The topic key's validator where it differs from `validator`
    /// (`retention.ms` is at least -1, `log.retention.ms` anything).
    pub topic_validator: Option<Validator>,
    /// Kafka's `brokerConfigSynonyms`: the keys that set this one, most
    /// specific first; empty means the key alone.
    pub synonyms: &'static [&'static str],
    /// Whether Kafka can update it without a restart (else read-only).
    pub dynamic: bool,
    pub gregor: Use,
    /// One line on what the key does in gregor (empty if it does nothing).
    pub doc: &'static str,
}

/// A Kafka broker key gregor ignores until told otherwise by the builders.
const fn kafka(
    name: &'static str,
    config_type: ConfigType,
    default: Option<&'static str>,
) -> ConfigKey {
    ConfigKey {
        name,
        broker: true,
        topic: None,
        config_type,
        default,
        topic_default: None,
        validator: Validator::Any,
        topic_validator: None,
        synonyms: &[],
        dynamic: false,
        gregor: Use::Ignores,
        doc: "",
    }
}

/// A Kafka topic key without a broker synonym.
const fn kafka_topic(
    name: &'static str,
    config_type: ConfigType,
    default: Option<&'static str>,
) -> ConfigKey {
    let mut key = kafka(name, config_type, default);
    key.broker = false;
    key.topic = Some(name);
    key
}

impl ConfigKey {
    const fn dynamic(mut self) -> Self {
        self.dynamic = true;
        self
    }

    const fn at_least(mut self, min: i64) -> Self {
        self.validator = Validator::Range {
            min: Some(min),
            max: None,
        };
        self
    }

    const fn between(mut self, min: i64, max: i64) -> Self {
        self.validator = Validator::Range {
            min: Some(min),
            max: Some(max),
        };
        self
    }

    const fn one_of(mut self, values: &'static [&'static str]) -> Self {
        self.validator = Validator::OneOf(values);
        self
    }

    const fn only(mut self, value: &'static str, why: &'static str) -> Self {
        self.validator = Validator::Only { value, why };
        self
    }

    const fn topic(mut self, name: &'static str) -> Self {
        self.topic = Some(name);
        self
    }

    const fn topic_at_least(mut self, min: i64) -> Self {
        self.topic_validator = Some(Validator::Range {
            min: Some(min),
            max: None,
        });
        self
    }

    const fn topic_defaults_to(mut self, default: &'static str) -> Self {
        self.topic_default = Some(default);
        self
    }

    const fn synonyms(mut self, synonyms: &'static [&'static str]) -> Self {
        self.synonyms = synonyms;
        self
    }

    const fn reads(mut self, doc: &'static str) -> Self {
        self.gregor = Use::Reads;
        self.doc = doc;
        self
    }

    const fn reads_topic_only(mut self, doc: &'static str) -> Self {
        self.gregor = Use::ReadsTopicOnly;
        self.doc = doc;
        self
    }

    /// The topic key; the broker key for one without a topic synonym.
    pub const fn topic_name(&self) -> &'static str {
        match self.topic {
            Some(name) => name,
            None => self.name,
        }
    }

    /// PASSWORD values are never shown.
    pub fn sensitive(&self) -> bool {
        self.config_type == ConfigType::Password
    }

    /// The validator of the topic key.
    pub fn topic_validator(&self) -> Validator {
        self.topic_validator.unwrap_or(self.validator)
    }

    /// The default of the topic key, as a topic without overrides describes it.
    pub fn topic_default(&self) -> Option<&'static str> {
        self.topic_default.or(self.default)
    }
}

/// The `compression.type` that keeps the producer's compression, the only
/// one gregor implements (and what Kafka sets on `__consumer_offsets`).
pub const PRODUCER_COMPRESSION: &str = "producer";

/// Kafka's `LogRetentionTimeMillisProp` and the keys it falls back to.
const LOG_RETENTION_SYNONYMS: &[&str] = &[
    "log.retention.ms",
    "log.retention.minutes",
    "log.retention.hours",
];
const LOG_ROLL_SYNONYMS: &[&str] = &["log.roll.ms", "log.roll.hours"];
const LOG_ROLL_JITTER_SYNONYMS: &[&str] = &["log.roll.jitter.ms", "log.roll.jitter.hours"];
/// `log.flush.scheduler.interval.ms` is `log.flush.interval.ms`'s default,
/// not the other way round: it has no synonyms of its own.
const LOG_FLUSH_INTERVAL_SYNONYMS: &[&str] =
    &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"];
/// Kafka's `LegacyRecord.RECORD_OVERHEAD_V0`: the smallest segment Kafka accepts.
const MIN_SEGMENT_BYTES: i64 = 14;

/// The broker key `name`.
pub fn broker_key(name: &str) -> Option<&'static ConfigKey> {
    KEYS.iter().find(|k| k.broker && k.name == name)
}

/// The entry whose topic key is `name`.
pub fn topic_key(name: &str) -> Option<&'static ConfigKey> {
    KEYS.iter().find(|k| k.topic == Some(name))
}

/// Every broker key, by name.
pub fn broker_keys() -> impl Iterator<Item = &'static ConfigKey> {
    KEYS.iter().filter(|k| k.broker)
}

/// Every topic-level key, by topic name.
pub fn topic_keys() -> Vec<&'static ConfigKey> {
    let mut keys: Vec<_> = KEYS.iter().filter(|k| k.topic.is_some()).collect();
    keys.sort_by_key(|k| k.topic);
    keys
}

/// Kafka 2.8's `DynamicBrokerConfig.brokerConfigSynonyms`: the broker keys
/// that set `name`, most specific first (`log.retention.ms` also comes from
/// `log.retention.minutes` and `log.retention.hours`).
pub fn broker_config_synonyms(name: &str) -> Vec<&str> {
    match broker_key(name) {
        Some(key) if !key.synonyms.is_empty() => key.synonyms.to_vec(),
        _ => vec![name],
    }
}

/// `docs/CONFIGURATION.md`: the keys gregor reads, the topic keys, and
/// the Kafka keys gregor ignores, all from [`KEYS`].
pub fn render_markdown() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let code = |text: Option<&str>| match text {
        Some("") => "`\"\"`".to_owned(),
        Some(text) => format!("`{}`", cell(text)),
        None => String::new(),
    };
    let mut doc = String::from(
        "# Configuration\n\n\
         <!-- Rendered from crates/broker/src/config/keys.rs by its tests; \
         GREGOR_UPDATE_DOCS=1 cargo test -p gregor-broker --lib config::keys \
         rewrites it. -->\n\n\
         Brokers read Kafka's `server.properties` keys with Kafka's defaults \
         and Kafka's validation messages. A key Kafka 2.8 knows but gregor does \
         not act on is logged and ignored (DescribeConfigs still shows it with \
         Kafka's default); any other unknown key is logged and ignored, as \
         Kafka does. *Dynamic* is whether Kafka can change the key without a \
         restart (DescribeConfigs' read-only flag); gregor changes none.\n\n\
         ## Broker keys gregor acts on\n\n\
         | key | type | default | valid values | topic key | dynamic | what it does |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for key in broker_keys().filter(|k| k.gregor == Use::Reads) {
        let _ = writeln!(
            doc,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            key.name,
            key.config_type.name(),
            code(key.default),
            cell(&key.validator.describe()),
            code(key.topic),
            if key.dynamic { "yes" } else { "no" },
            cell(key.doc),
        );
    }
    doc.push_str(
        "\n## Topic keys\n\n\
         Set by CreateTopics, AlterConfigs and `gregor topics alter`; a topic \
         without an override takes its broker key's value. Keys gregor does not \
         act on are described but refused as overrides with INVALID_CONFIG. An \
         empty default is derived from other broker keys (`log.retention.hours`, \
         `log.roll.hours`, `log.flush.scheduler.interval.ms`).\n\n\
         | topic key | broker key | type | default | valid values | gregor |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for key in topic_keys() {
        let _ = writeln!(
            doc,
            "| `{}` | {} | {} | {} | {} | {} |",
            key.topic.unwrap_or_default(),
            code(key.broker.then_some(key.name)),
            key.config_type.name(),
            code(key.topic_default()),
            cell(&key.topic_validator().describe()),
            if key.gregor == Use::Ignores {
                "not acted on"
            } else {
                "acts on it"
            },
        );
    }
    doc.push_str("\n## Kafka broker keys gregor does not act on\n\n");
    let ignored: Vec<String> = broker_keys()
        .filter(|k| k.gregor != Use::Reads)
        .map(|k| format!("`{}`", k.name))
        .collect();
    doc.push_str(&ignored.join(", "));
    doc.push_str(".\n");
    doc
}

/// `advertised.listeners`.
pub const ADVERTISED_LISTENERS: ConfigKey = kafka("advertised.listeners", ConfigType::String, None)
    .dynamic()
    .reads(
        "What clients and other brokers are told to connect to; names from `listeners`; unset means `listeners`.",
    );

/// `auto.create.topics.enable`.
pub const AUTO_CREATE_TOPICS_ENABLE: ConfigKey = kafka(
    "auto.create.topics.enable",
    ConfigType::Boolean,
    Some("true"),
)
.reads("Metadata for an unknown topic creates it.");

/// `auto.leader.rebalance.enable`.
pub const AUTO_LEADER_REBALANCE_ENABLE: ConfigKey = kafka(
    "auto.leader.rebalance.enable",
    ConfigType::Boolean,
    Some("true"),
)
.reads("The controller periodically moves leadership back to preferred replicas.");

/// `broker.id`.
pub const BROKER_ID: ConfigKey = kafka("broker.id", ConfigType::Int, Some("-1"))
    .at_least(-1)
    .reads(
        "This broker's id, at most `reserved.broker.max.id`; -1 takes a generated id from `/brokers/seqid`.",
    );

/// `broker.rack`.
pub const BROKER_RACK: ConfigKey = kafka("broker.rack", ConfigType::String, None)
    .reads("Rack id for rack-aware replica placement.");

/// `compression.type`.
pub const COMPRESSION_TYPE: ConfigKey = kafka(
    "compression.type",
    ConfigType::String,
    Some("producer"),
)
.dynamic()
.topic("compression.type")
.only(
    PRODUCER_COMPRESSION,
    "gregor keeps batches as their producer compressed them",
)
.reads_topic_only(
    "gregor keeps batches as their producer compressed them: a topic may set only `producer`.",
);

/// `controlled.shutdown.enable`.
pub const CONTROLLED_SHUTDOWN_ENABLE: ConfigKey = kafka(
    "controlled.shutdown.enable",
    ConfigType::Boolean,
    Some("true"),
)
.reads("Ask the controller to move leadership away before shutting down.");

/// `controlled.shutdown.max.retries`.
pub const CONTROLLED_SHUTDOWN_MAX_RETRIES: ConfigKey = kafka(
    "controlled.shutdown.max.retries",
    ConfigType::Int,
    Some("3"),
)
.at_least(0)
.reads("How often a stopping broker asks the controller again.");

/// `controlled.shutdown.retry.backoff.ms`.
pub const CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS: ConfigKey = kafka(
    "controlled.shutdown.retry.backoff.ms",
    ConfigType::Long,
    Some("5000"),
)
.at_least(0)
.reads("Pause between controlled shutdown attempts.");

/// `controller.socket.timeout.ms`.
pub const CONTROLLER_SOCKET_TIMEOUT_MS: ConfigKey = kafka(
    "controller.socket.timeout.ms",
    ConfigType::Int,
    Some("30000"),
)
.at_least(1)
.reads("Timeout of the controller's requests to brokers.");

/// `default.replication.factor`.
pub const DEFAULT_REPLICATION_FACTOR: ConfigKey =
    kafka("default.replication.factor", ConfigType::Int, Some("1"))
        .at_least(1)
        .reads("Replicas of an auto-created topic.");

/// `delete.topic.enable`.
pub const DELETE_TOPIC_ENABLE: ConfigKey =
    kafka("delete.topic.enable", ConfigType::Boolean, Some("true"))
        .reads("Whether DeleteTopics is honoured.");

/// `group.initial.rebalance.delay.ms`.
pub const GROUP_INITIAL_REBALANCE_DELAY_MS: ConfigKey = kafka(
    "group.initial.rebalance.delay.ms",
    ConfigType::Int,
    Some("3000"),
)
.at_least(0)
.reads("How long a new group waits for more members before its first rebalance.");

/// `group.max.session.timeout.ms`.
pub const GROUP_MAX_SESSION_TIMEOUT_MS: ConfigKey = kafka(
    "group.max.session.timeout.ms",
    ConfigType::Int,
    Some("1800000"),
)
.at_least(0)
.reads("Longest session timeout a member may ask for.");

/// `group.max.size`.
pub const GROUP_MAX_SIZE: ConfigKey = kafka("group.max.size", ConfigType::Int, Some("2147483647"))
    .at_least(1)
    .reads("Members a group may have.");

/// `group.min.session.timeout.ms`.
pub const GROUP_MIN_SESSION_TIMEOUT_MS: ConfigKey = kafka(
    "group.min.session.timeout.ms",
    ConfigType::Int,
    Some("6000"),
)
.at_least(0)
.reads("Shortest session timeout a member may ask for.");

/// `inter.broker.listener.name`.
pub const INTER_BROKER_LISTENER_NAME: ConfigKey =
    kafka("inter.broker.listener.name", ConfigType::String, None).reads(
        "The advertised listener other brokers and the controller use; unset means `PLAINTEXT`.",
    );

/// `leader.imbalance.check.interval.seconds`.
pub const LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS: ConfigKey = kafka(
    "leader.imbalance.check.interval.seconds",
    ConfigType::Long,
    Some("300"),
)
.at_least(1)
.reads("How often the controller checks for leaders away from their preferred replica.");

/// `leader.imbalance.per.broker.percentage`.
pub const LEADER_IMBALANCE_PER_BROKER_PERCENTAGE: ConfigKey = kafka(
    "leader.imbalance.per.broker.percentage",
    ConfigType::Int,
    Some("10"),
)
.between(0, 100)
.reads("Share of a broker's preferred partitions led elsewhere that triggers a rebalance.");

/// `listener.security.protocol.map`.
pub const LISTENER_SECURITY_PROTOCOL_MAP: ConfigKey = kafka(
    "listener.security.protocol.map",
    ConfigType::String,
    Some("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
)
.dynamic()
.reads(
    "Security protocol of each listener name; gregor serves PLAINTEXT only and refuses a \
     listener mapped to another.",
);

/// `listeners`.
pub const LISTENERS: ConfigKey = kafka("listeners", ConfigType::String, None)
    .dynamic()
    .reads("The sockets to bind, `NAME://host:port,…`; unset means `PLAINTEXT://:9092`.");

/// `log.cleaner.backoff.ms`.
pub const LOG_CLEANER_BACKOFF_MS: ConfigKey =
    kafka("log.cleaner.backoff.ms", ConfigType::Long, Some("15000"))
        .dynamic()
        .at_least(0)
        .reads("Pause when there is nothing to clean.");

/// `log.cleaner.dedupe.buffer.size`.
pub const LOG_CLEANER_DEDUPE_BUFFER_SIZE: ConfigKey = kafka(
    "log.cleaner.dedupe.buffer.size",
    ConfigType::Long,
    Some("134217728"),
)
.dynamic()
.at_least(0)
.reads("Memory for the cleaner's key-to-offset map.");

/// `log.cleaner.delete.retention.ms`.
pub const LOG_CLEANER_DELETE_RETENTION_MS: ConfigKey = kafka(
    "log.cleaner.delete.retention.ms",
    ConfigType::Long,
    Some("86400000"),
)
.dynamic()
.at_least(0)
.topic("delete.retention.ms")
.reads("How long a tombstone outlives its cleaning.");

/// `log.cleaner.enable`.
pub const LOG_CLEANER_ENABLE: ConfigKey =
    kafka("log.cleaner.enable", ConfigType::Boolean, Some("true"))
        .reads("Run the log cleaner (compaction).");

/// `log.cleaner.io.buffer.size`.
pub const LOG_CLEANER_IO_BUFFER_SIZE: ConfigKey = kafka(
    "log.cleaner.io.buffer.size",
    ConfigType::Int,
    Some("524288"),
)
.dynamic()
.at_least(0)
.reads("Cleaner read and write buffer size.");

/// `log.cleaner.max.compaction.lag.ms`.
pub const LOG_CLEANER_MAX_COMPACTION_LAG_MS: ConfigKey = kafka(
    "log.cleaner.max.compaction.lag.ms",
    ConfigType::Long,
    Some("9223372036854775807"),
)
.dynamic()
.at_least(1)
.topic("max.compaction.lag.ms")
.reads("A record older than this is compacted whatever the dirty ratio.");

/// `log.cleaner.min.cleanable.ratio`.
pub const LOG_CLEANER_MIN_CLEANABLE_RATIO: ConfigKey = kafka(
    "log.cleaner.min.cleanable.ratio",
    ConfigType::Double,
    Some("0.5"),
)
.dynamic()
.between(0, 1)
.topic("min.cleanable.dirty.ratio")
.reads("The cleaner takes a compacted log once this share of it is uncleaned.");

/// `log.cleaner.min.compaction.lag.ms`.
pub const LOG_CLEANER_MIN_COMPACTION_LAG_MS: ConfigKey = kafka(
    "log.cleaner.min.compaction.lag.ms",
    ConfigType::Long,
    Some("0"),
)
.dynamic()
.at_least(0)
.topic("min.compaction.lag.ms")
.reads("A record stays uncompacted at least this long.");

/// `log.cleaner.threads`.
pub const LOG_CLEANER_THREADS: ConfigKey = kafka("log.cleaner.threads", ConfigType::Int, Some("1"))
    .dynamic()
    .at_least(0)
    .reads("Cleaner threads.");

/// `log.cleanup.policy`.
pub const LOG_CLEANUP_POLICY: ConfigKey = kafka(
    "log.cleanup.policy",
    ConfigType::List,
    Some("delete"),
)
.dynamic()
.one_of(&["compact", "delete"])
.topic("cleanup.policy")
.reads("`delete` old segments by retention, `compact` to the latest record of each key, or both.");

/// `log.dir`.
pub const LOG_DIR: ConfigKey = kafka("log.dir", ConfigType::String, Some("/tmp/kafka-logs"))
    .reads("The data directory, when `log.dirs` is unset.");

/// `log.dirs`.
pub const LOG_DIRS: ConfigKey = kafka("log.dirs", ConfigType::String, None)
    .reads("Comma-separated data directories, each holding `<topic>-<partition>/` directories.");

/// `log.flush.interval.messages`.
pub const LOG_FLUSH_INTERVAL_MESSAGES: ConfigKey = kafka(
    "log.flush.interval.messages",
    ConfigType::Long,
    Some("9223372036854775807"),
)
.dynamic()
.at_least(1)
.topic("flush.messages")
.reads("fsync after this many unflushed records; `Long.MaxValue` never.");

/// `log.flush.interval.ms`.
pub const LOG_FLUSH_INTERVAL_MS: ConfigKey = kafka("log.flush.interval.ms", ConfigType::Long, None)
    .dynamic()
    .at_least(0)
    .topic("flush.ms")
    .synonyms(LOG_FLUSH_INTERVAL_SYNONYMS)
    .reads(
        "fsync when the oldest unflushed data is this old; unset means `log.flush.scheduler.interval.ms`.",
    );

/// `log.flush.offset.checkpoint.interval.ms`.
pub const LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS: ConfigKey = kafka(
    "log.flush.offset.checkpoint.interval.ms",
    ConfigType::Int,
    Some("60000"),
)
.at_least(1)
.reads("How often the recovery-point checkpoint is written.");

/// `log.flush.scheduler.interval.ms`.
pub const LOG_FLUSH_SCHEDULER_INTERVAL_MS: ConfigKey = kafka(
    "log.flush.scheduler.interval.ms",
    ConfigType::Long,
    Some("9223372036854775807"),
)
.at_least(1)
.reads("How often logs are checked against their `flush.ms`; `Long.MaxValue` never checks.");

/// `log.flush.start.offset.checkpoint.interval.ms`.
pub const LOG_FLUSH_START_OFFSET_CHECKPOINT_INTERVAL_MS: ConfigKey = kafka(
    "log.flush.start.offset.checkpoint.interval.ms",
    ConfigType::Int,
    Some("60000"),
)
.at_least(1)
.reads("How often the log-start-offset checkpoint is written.");

/// `log.index.interval.bytes`.
pub const LOG_INDEX_INTERVAL_BYTES: ConfigKey =
    kafka("log.index.interval.bytes", ConfigType::Int, Some("4096"))
        .dynamic()
        .at_least(0)
        .topic("index.interval.bytes")
        .reads("Bytes of batches between two index entries.");

/// `log.index.size.max.bytes`.
pub const LOG_INDEX_SIZE_MAX_BYTES: ConfigKey = kafka(
    "log.index.size.max.bytes",
    ConfigType::Int,
    Some("10485760"),
)
.dynamic()
.at_least(4)
.topic("segment.index.bytes")
.reads("Size each index file is preallocated to.");

/// `log.retention.bytes`.
pub const LOG_RETENTION_BYTES: ConfigKey =
    kafka("log.retention.bytes", ConfigType::Long, Some("-1"))
        .dynamic()
        .topic("retention.bytes")
        .reads("Size limit of a log, enforced by deleting whole segments; negative means none.");

/// `log.retention.check.interval.ms`.
pub const LOG_RETENTION_CHECK_INTERVAL_MS: ConfigKey = kafka(
    "log.retention.check.interval.ms",
    ConfigType::Long,
    Some("300000"),
)
.at_least(1)
.reads("How often retention runs.");

/// `log.retention.hours`.
pub const LOG_RETENTION_HOURS: ConfigKey =
    kafka("log.retention.hours", ConfigType::Int, Some("168"))
        .synonyms(LOG_RETENTION_SYNONYMS)
        .reads("`log.retention.ms` in hours.");

/// `log.retention.minutes`.
pub const LOG_RETENTION_MINUTES: ConfigKey = kafka("log.retention.minutes", ConfigType::Int, None)
    .synonyms(LOG_RETENTION_SYNONYMS)
    .reads("`log.retention.ms` in minutes; unset means `log.retention.hours`.");

/// `log.retention.ms`.
pub const LOG_RETENTION_MS: ConfigKey = kafka("log.retention.ms", ConfigType::Long, None)
    .dynamic()
    .topic("retention.ms")
    .topic_at_least(-1)
    .synonyms(LOG_RETENTION_SYNONYMS)
    .reads(
        "Delete segments older than this; negative keeps them forever; unset means `log.retention.minutes`.",
    );

/// `log.roll.hours`.
pub const LOG_ROLL_HOURS: ConfigKey = kafka("log.roll.hours", ConfigType::Int, Some("168"))
    .at_least(1)
    .synonyms(LOG_ROLL_SYNONYMS)
    .reads("`log.roll.ms` in hours.");

/// `log.roll.ms`.
pub const LOG_ROLL_MS: ConfigKey = kafka("log.roll.ms", ConfigType::Long, None)
    .dynamic()
    .at_least(1)
    .topic("segment.ms")
    .synonyms(LOG_ROLL_SYNONYMS)
    .reads(
        "Roll a non-empty active segment this long after its first append; unset means `log.roll.hours`.",
    );

/// `log.segment.bytes`.
pub const LOG_SEGMENT_BYTES: ConfigKey =
    kafka("log.segment.bytes", ConfigType::Int, Some("1073741824"))
        .dynamic()
        .at_least(MIN_SEGMENT_BYTES)
        .topic("segment.bytes")
        .reads("Roll the active segment before it would grow past this.");

/// `log.segment.delete.delay.ms`.
pub const LOG_SEGMENT_DELETE_DELAY_MS: ConfigKey = kafka(
    "log.segment.delete.delay.ms",
    ConfigType::Long,
    Some("60000"),
)
.dynamic()
.at_least(0)
.topic("file.delete.delay.ms")
.reads("How long a `.deleted` segment lingers before it is unlinked.");

/// `max.connections`.
pub const MAX_CONNECTIONS: ConfigKey =
    kafka("max.connections", ConfigType::Int, Some("2147483647"))
        .dynamic()
        .at_least(0)
        .reads("Open connections across all listeners; further accepts wait.");

/// `message.max.bytes`.
pub const MESSAGE_MAX_BYTES: ConfigKey =
    kafka("message.max.bytes", ConfigType::Int, Some("1048588"))
        .dynamic()
        .at_least(0)
        .topic("max.message.bytes")
        .reads("The largest record batch a log accepts.");

/// `min.insync.replicas`.
pub const MIN_INSYNC_REPLICAS: ConfigKey = kafka("min.insync.replicas", ConfigType::Int, Some("1"))
    .dynamic()
    .at_least(1)
    .topic("min.insync.replicas")
    .reads("With `acks=all`, a smaller ISR makes the leader refuse writes.");

/// `num.partitions`.
pub const NUM_PARTITIONS: ConfigKey = kafka("num.partitions", ConfigType::Int, Some("1"))
    .at_least(1)
    .reads("Partitions of an auto-created topic.");

/// `num.replica.fetchers`.
pub const NUM_REPLICA_FETCHERS: ConfigKey =
    kafka("num.replica.fetchers", ConfigType::Int, Some("1"))
        .dynamic()
        .at_least(1)
        .reads("Fetcher tasks per source broker.");

/// `offset.metadata.max.bytes`.
pub const OFFSET_METADATA_MAX_BYTES: ConfigKey =
    kafka("offset.metadata.max.bytes", ConfigType::Int, Some("4096"))
        .at_least(0)
        .reads("Longest metadata string an offset commit may carry.");

/// `offsets.commit.timeout.ms`.
pub const OFFSETS_COMMIT_TIMEOUT_MS: ConfigKey =
    kafka("offsets.commit.timeout.ms", ConfigType::Int, Some("5000"))
        .at_least(1)
        .reads("How long an offset commit waits for its partition's in-sync replicas.");

/// `offsets.load.buffer.size`.
pub const OFFSETS_LOAD_BUFFER_SIZE: ConfigKey =
    kafka("offsets.load.buffer.size", ConfigType::Int, Some("5242880"))
        .at_least(1)
        .reads("Bytes read at a time when a coordinator loads its offsets partition.");

/// `offsets.retention.check.interval.ms`.
pub const OFFSETS_RETENTION_CHECK_INTERVAL_MS: ConfigKey = kafka(
    "offsets.retention.check.interval.ms",
    ConfigType::Long,
    Some("600000"),
)
.at_least(1)
.reads("How often the coordinator looks for expired offsets.");

/// `offsets.retention.minutes`.
pub const OFFSETS_RETENTION_MINUTES: ConfigKey =
    kafka("offsets.retention.minutes", ConfigType::Int, Some("10080"))
        .at_least(1)
        .reads("How long the offsets of a group without members are kept.");

/// `offsets.topic.num.partitions`.
pub const OFFSETS_TOPIC_NUM_PARTITIONS: ConfigKey =
    kafka("offsets.topic.num.partitions", ConfigType::Int, Some("50"))
        .at_least(1)
        .reads("Partitions of `__consumer_offsets` (fixed once it exists).");

/// `offsets.topic.replication.factor`.
pub const OFFSETS_TOPIC_REPLICATION_FACTOR: ConfigKey = kafka(
    "offsets.topic.replication.factor",
    ConfigType::Short,
    Some("3"),
)
.at_least(1)
.reads("Replicas of `__consumer_offsets`, capped by the live brokers when it is created.");

/// `offsets.topic.segment.bytes`.
pub const OFFSETS_TOPIC_SEGMENT_BYTES: ConfigKey = kafka(
    "offsets.topic.segment.bytes",
    ConfigType::Int,
    Some("104857600"),
)
.at_least(1)
.reads("`segment.bytes` of `__consumer_offsets`.");

/// `queued.max.requests`.
pub const QUEUED_MAX_REQUESTS: ConfigKey =
    kafka("queued.max.requests", ConfigType::Int, Some("500"))
        .at_least(1)
        .reads("Requests read but not yet handled before the broker stops reading sockets.");

/// `replica.fetch.backoff.ms`.
pub const REPLICA_FETCH_BACKOFF_MS: ConfigKey =
    kafka("replica.fetch.backoff.ms", ConfigType::Int, Some("1000"))
        .at_least(0)
        .reads("Pause before a follower fetches a partition again after an error.");

/// `replica.fetch.max.bytes`.
pub const REPLICA_FETCH_MAX_BYTES: ConfigKey =
    kafka("replica.fetch.max.bytes", ConfigType::Int, Some("1048576"))
        .at_least(0)
        .reads("Per-partition byte budget of a follower's fetch.");

/// `replica.fetch.min.bytes`.
pub const REPLICA_FETCH_MIN_BYTES: ConfigKey =
    kafka("replica.fetch.min.bytes", ConfigType::Int, Some("1"))
        .at_least(0)
        .reads("The least data a follower's fetch waits for.");

/// `replica.fetch.response.max.bytes`.
pub const REPLICA_FETCH_RESPONSE_MAX_BYTES: ConfigKey = kafka(
    "replica.fetch.response.max.bytes",
    ConfigType::Int,
    Some("10485760"),
)
.at_least(0)
.reads("Byte budget of a follower's whole fetch response.");

/// `replica.fetch.wait.max.ms`.
pub const REPLICA_FETCH_WAIT_MAX_MS: ConfigKey =
    kafka("replica.fetch.wait.max.ms", ConfigType::Int, Some("500"))
        .at_least(0)
        .reads(
            "How long a follower's fetch waits at the leader; at most `replica.lag.time.max.ms`.",
        );

/// `replica.high.watermark.checkpoint.interval.ms`.
pub const REPLICA_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS: ConfigKey = kafka(
    "replica.high.watermark.checkpoint.interval.ms",
    ConfigType::Long,
    Some("5000"),
)
.at_least(1)
.reads("How often the high-watermark checkpoint is written.");

/// `replica.lag.time.max.ms`.
pub const REPLICA_LAG_TIME_MAX_MS: ConfigKey =
    kafka("replica.lag.time.max.ms", ConfigType::Long, Some("30000"))
        .at_least(1)
        .reads("A follower that has not caught up for this long leaves the ISR.");

/// `request.timeout.ms`.
pub const REQUEST_TIMEOUT_MS: ConfigKey =
    kafka("request.timeout.ms", ConfigType::Int, Some("30000"))
        .at_least(1)
        .reads("Timeout of the broker's own requests to other brokers.");

/// `reserved.broker.max.id`.
pub const RESERVED_BROKER_MAX_ID: ConfigKey =
    kafka("reserved.broker.max.id", ConfigType::Int, Some("1000"))
        .at_least(0)
        .reads("The largest configurable broker id; generated ids start above it.");

/// `socket.request.max.bytes`.
pub const SOCKET_REQUEST_MAX_BYTES: ConfigKey = kafka(
    "socket.request.max.bytes",
    ConfigType::Int,
    Some("104857600"),
)
.at_least(1)
.reads("A larger request frame closes the connection before it is buffered.");

/// `transactional.id.expiration.ms`.
pub const TRANSACTIONAL_ID_EXPIRATION_MS: ConfigKey = kafka(
    "transactional.id.expiration.ms",
    ConfigType::Int,
    Some("604800000"),
)
.at_least(1)
.reads("An idempotent producer silent this long is forgotten.");

/// `unclean.leader.election.enable`.
pub const UNCLEAN_LEADER_ELECTION_ENABLE: ConfigKey = kafka(
    "unclean.leader.election.enable",
    ConfigType::Boolean,
    Some("false"),
)
.dynamic()
.topic("unclean.leader.election.enable")
.reads("Whether a replica outside the ISR may become leader (and lose committed records).");

/// `zookeeper.connect`.
pub const ZOOKEEPER_CONNECT: ConfigKey = kafka("zookeeper.connect", ConfigType::String, None)
    .reads("`host:port[,host:port…][/chroot]` of the ZooKeeper ensemble (required).");

/// `zookeeper.connection.timeout.ms`.
pub const ZOOKEEPER_CONNECTION_TIMEOUT_MS: ConfigKey =
    kafka("zookeeper.connection.timeout.ms", ConfigType::Int, None)
        .at_least(1)
        .reads(
            "Kafka's limit on the wait for the first ZooKeeper connection; accepted, but gregor waits for ZooKeeper as long as it takes at start-up, logging each failed attempt.",
        );

/// `zookeeper.session.timeout.ms`.
pub const ZOOKEEPER_SESSION_TIMEOUT_MS: ConfigKey = kafka(
    "zookeeper.session.timeout.ms",
    ConfigType::Int,
    Some("18000"),
)
.at_least(1)
.reads(
    "ZooKeeper expires the session (and this broker's ephemerals) after this long without contact.",
);

/// Every config key of Kafka 2.8, by name.
pub const KEYS: &[ConfigKey] = &[
    kafka("advertised.host.name", ConfigType::String, None),
    ADVERTISED_LISTENERS,
    kafka("advertised.port", ConfigType::Int, None),
    kafka("alter.config.policy.class.name", ConfigType::Class, None),
    kafka(
        "alter.log.dirs.replication.quota.window.num",
        ConfigType::Int,
        Some("11"),
    ),
    kafka(
        "alter.log.dirs.replication.quota.window.size.seconds",
        ConfigType::Int,
        Some("1"),
    ),
    kafka("authorizer.class.name", ConfigType::String, Some("")),
    AUTO_CREATE_TOPICS_ENABLE,
    AUTO_LEADER_REBALANCE_ENABLE,
    kafka("background.threads", ConfigType::Int, Some("10")).dynamic(),
    BROKER_ID,
    kafka(
        "broker.id.generation.enable",
        ConfigType::Boolean,
        Some("true"),
    ),
    BROKER_RACK,
    kafka("client.quota.callback.class", ConfigType::Class, None),
    COMPRESSION_TYPE,
    kafka(
        "connection.failed.authentication.delay.ms",
        ConfigType::Int,
        Some("100"),
    ),
    kafka("connections.max.idle.ms", ConfigType::Long, Some("600000")),
    kafka("connections.max.reauth.ms", ConfigType::Long, Some("0")),
    kafka("control.plane.listener.name", ConfigType::String, None),
    CONTROLLED_SHUTDOWN_ENABLE,
    CONTROLLED_SHUTDOWN_MAX_RETRIES,
    CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS,
    kafka("controller.quota.window.num", ConfigType::Int, Some("11")),
    kafka(
        "controller.quota.window.size.seconds",
        ConfigType::Int,
        Some("1"),
    ),
    CONTROLLER_SOCKET_TIMEOUT_MS,
    kafka("create.topic.policy.class.name", ConfigType::Class, None),
    DEFAULT_REPLICATION_FACTOR,
    kafka(
        "delegation.token.expiry.check.interval.ms",
        ConfigType::Long,
        Some("3600000"),
    ),
    kafka(
        "delegation.token.expiry.time.ms",
        ConfigType::Long,
        Some("86400000"),
    ),
    kafka("delegation.token.master.key", ConfigType::Password, None),
    kafka(
        "delegation.token.max.lifetime.ms",
        ConfigType::Long,
        Some("604800000"),
    ),
    kafka("delegation.token.secret.key", ConfigType::Password, None),
    kafka(
        "delete.records.purgatory.purge.interval.requests",
        ConfigType::Int,
        Some("1"),
    ),
    DELETE_TOPIC_ENABLE,
    kafka("fetch.max.bytes", ConfigType::Int, Some("57671680")),
    kafka(
        "fetch.purgatory.purge.interval.requests",
        ConfigType::Int,
        Some("1000"),
    ),
    kafka_topic(
        "follower.replication.throttled.replicas",
        ConfigType::List,
        Some(""),
    ),
    GROUP_INITIAL_REBALANCE_DELAY_MS,
    GROUP_MAX_SESSION_TIMEOUT_MS,
    GROUP_MAX_SIZE,
    GROUP_MIN_SESSION_TIMEOUT_MS,
    kafka("host.name", ConfigType::String, Some("")),
    INTER_BROKER_LISTENER_NAME,
    kafka(
        "inter.broker.protocol.version",
        ConfigType::String,
        Some("2.8-IV1"),
    ),
    kafka(
        "kafka.metrics.polling.interval.secs",
        ConfigType::Int,
        Some("10"),
    ),
    kafka("kafka.metrics.reporters", ConfigType::List, Some("")),
    LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS,
    LEADER_IMBALANCE_PER_BROKER_PERCENTAGE,
    kafka_topic(
        "leader.replication.throttled.replicas",
        ConfigType::List,
        Some(""),
    ),
    LISTENER_SECURITY_PROTOCOL_MAP,
    LISTENERS,
    LOG_CLEANER_BACKOFF_MS,
    LOG_CLEANER_DEDUPE_BUFFER_SIZE,
    LOG_CLEANER_DELETE_RETENTION_MS,
    LOG_CLEANER_ENABLE,
    kafka(
        "log.cleaner.io.buffer.load.factor",
        ConfigType::Double,
        Some("0.9"),
    )
    .dynamic(),
    LOG_CLEANER_IO_BUFFER_SIZE,
    kafka(
        "log.cleaner.io.max.bytes.per.second",
        ConfigType::Double,
        Some("1.7976931348623157E308"),
    )
    .dynamic(),
    LOG_CLEANER_MAX_COMPACTION_LAG_MS,
    LOG_CLEANER_MIN_CLEANABLE_RATIO,
    LOG_CLEANER_MIN_COMPACTION_LAG_MS,
    LOG_CLEANER_THREADS,
    LOG_CLEANUP_POLICY,
    LOG_DIR,
    LOG_DIRS,
    LOG_FLUSH_INTERVAL_MESSAGES,
    LOG_FLUSH_INTERVAL_MS,
    LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS,
    LOG_FLUSH_SCHEDULER_INTERVAL_MS,
    LOG_FLUSH_START_OFFSET_CHECKPOINT_INTERVAL_MS,
    LOG_INDEX_INTERVAL_BYTES,
    LOG_INDEX_SIZE_MAX_BYTES,
    kafka(
        "log.message.downconversion.enable",
        ConfigType::Boolean,
        Some("true"),
    )
    .dynamic()
    .topic("message.downconversion.enable"),
    kafka(
        "log.message.format.version",
        ConfigType::String,
        Some("2.8-IV1"),
    )
    .topic("message.format.version"),
    kafka(
        "log.message.timestamp.difference.max.ms",
        ConfigType::Long,
        Some("9223372036854775807"),
    )
    .dynamic()
    .topic("message.timestamp.difference.max.ms"),
    kafka(
        "log.message.timestamp.type",
        ConfigType::String,
        Some("CreateTime"),
    )
    .dynamic()
    .topic("message.timestamp.type"),
    kafka("log.preallocate", ConfigType::Boolean, Some("false"))
        .dynamic()
        .topic("preallocate"),
    LOG_RETENTION_BYTES,
    LOG_RETENTION_CHECK_INTERVAL_MS,
    LOG_RETENTION_HOURS,
    LOG_RETENTION_MINUTES,
    LOG_RETENTION_MS,
    LOG_ROLL_HOURS,
    kafka("log.roll.jitter.hours", ConfigType::Int, Some("0")).synonyms(LOG_ROLL_JITTER_SYNONYMS),
    kafka("log.roll.jitter.ms", ConfigType::Long, None)
        .dynamic()
        .topic("segment.jitter.ms")
        .topic_defaults_to("0")
        .synonyms(LOG_ROLL_JITTER_SYNONYMS),
    LOG_ROLL_MS,
    LOG_SEGMENT_BYTES,
    LOG_SEGMENT_DELETE_DELAY_MS,
    kafka(
        "max.connection.creation.rate",
        ConfigType::Int,
        Some("2147483647"),
    )
    .dynamic(),
    MAX_CONNECTIONS,
    kafka(
        "max.connections.per.ip",
        ConfigType::Int,
        Some("2147483647"),
    )
    .dynamic(),
    kafka(
        "max.connections.per.ip.overrides",
        ConfigType::String,
        Some(""),
    )
    .dynamic(),
    kafka(
        "max.incremental.fetch.session.cache.slots",
        ConfigType::Int,
        Some("1000"),
    ),
    MESSAGE_MAX_BYTES,
    kafka("metric.reporters", ConfigType::List, Some("")).dynamic(),
    kafka("metrics.num.samples", ConfigType::Int, Some("2")),
    kafka("metrics.recording.level", ConfigType::String, Some("INFO")),
    kafka("metrics.sample.window.ms", ConfigType::Long, Some("30000")),
    MIN_INSYNC_REPLICAS,
    kafka("num.io.threads", ConfigType::Int, Some("8")).dynamic(),
    kafka("num.network.threads", ConfigType::Int, Some("3")).dynamic(),
    NUM_PARTITIONS,
    kafka(
        "num.recovery.threads.per.data.dir",
        ConfigType::Int,
        Some("1"),
    )
    .dynamic(),
    kafka("num.replica.alter.log.dirs.threads", ConfigType::Int, None),
    NUM_REPLICA_FETCHERS,
    OFFSET_METADATA_MAX_BYTES,
    kafka(
        "offsets.commit.required.acks",
        ConfigType::Short,
        Some("-1"),
    ),
    OFFSETS_COMMIT_TIMEOUT_MS,
    OFFSETS_LOAD_BUFFER_SIZE,
    OFFSETS_RETENTION_CHECK_INTERVAL_MS,
    OFFSETS_RETENTION_MINUTES,
    kafka(
        "offsets.topic.compression.codec",
        ConfigType::Int,
        Some("0"),
    ),
    OFFSETS_TOPIC_NUM_PARTITIONS,
    OFFSETS_TOPIC_REPLICATION_FACTOR,
    OFFSETS_TOPIC_SEGMENT_BYTES,
    kafka(
        "password.encoder.cipher.algorithm",
        ConfigType::String,
        Some("AES/CBC/PKCS5Padding"),
    ),
    kafka("password.encoder.iterations", ConfigType::Int, Some("4096")),
    kafka("password.encoder.key.length", ConfigType::Int, Some("128")),
    kafka(
        "password.encoder.keyfactory.algorithm",
        ConfigType::String,
        None,
    ),
    kafka("password.encoder.old.secret", ConfigType::Password, None),
    kafka("password.encoder.secret", ConfigType::Password, None),
    kafka("port", ConfigType::Int, Some("9092")),
    kafka("principal.builder.class", ConfigType::Class, None).dynamic(),
    kafka(
        "producer.purgatory.purge.interval.requests",
        ConfigType::Int,
        Some("1000"),
    ),
    kafka("queued.max.request.bytes", ConfigType::Long, Some("-1")),
    QUEUED_MAX_REQUESTS,
    kafka(
        "quota.consumer.default",
        ConfigType::Long,
        Some("9223372036854775807"),
    ),
    kafka(
        "quota.producer.default",
        ConfigType::Long,
        Some("9223372036854775807"),
    ),
    kafka("quota.window.num", ConfigType::Int, Some("11")),
    kafka("quota.window.size.seconds", ConfigType::Int, Some("1")),
    REPLICA_FETCH_BACKOFF_MS,
    REPLICA_FETCH_MAX_BYTES,
    REPLICA_FETCH_MIN_BYTES,
    REPLICA_FETCH_RESPONSE_MAX_BYTES,
    REPLICA_FETCH_WAIT_MAX_MS,
    REPLICA_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS,
    REPLICA_LAG_TIME_MAX_MS,
    kafka("replica.selector.class", ConfigType::String, None),
    kafka(
        "replica.socket.receive.buffer.bytes",
        ConfigType::Int,
        Some("65536"),
    ),
    kafka("replica.socket.timeout.ms", ConfigType::Int, Some("30000")),
    kafka("replication.quota.window.num", ConfigType::Int, Some("11")),
    kafka(
        "replication.quota.window.size.seconds",
        ConfigType::Int,
        Some("1"),
    ),
    REQUEST_TIMEOUT_MS,
    RESERVED_BROKER_MAX_ID,
    kafka(
        "sasl.client.callback.handler.class",
        ConfigType::Class,
        None,
    ),
    kafka("sasl.enabled.mechanisms", ConfigType::List, Some("GSSAPI")).dynamic(),
    kafka("sasl.jaas.config", ConfigType::Password, None).dynamic(),
    kafka(
        "sasl.kerberos.kinit.cmd",
        ConfigType::String,
        Some("/usr/bin/kinit"),
    )
    .dynamic(),
    kafka(
        "sasl.kerberos.min.time.before.relogin",
        ConfigType::Long,
        Some("60000"),
    )
    .dynamic(),
    kafka(
        "sasl.kerberos.principal.to.local.rules",
        ConfigType::List,
        Some("DEFAULT"),
    )
    .dynamic(),
    kafka("sasl.kerberos.service.name", ConfigType::String, None).dynamic(),
    kafka(
        "sasl.kerberos.ticket.renew.jitter",
        ConfigType::Double,
        Some("0.05"),
    )
    .dynamic(),
    kafka(
        "sasl.kerberos.ticket.renew.window.factor",
        ConfigType::Double,
        Some("0.8"),
    )
    .dynamic(),
    kafka("sasl.login.callback.handler.class", ConfigType::Class, None),
    kafka("sasl.login.class", ConfigType::Class, None),
    kafka(
        "sasl.login.refresh.buffer.seconds",
        ConfigType::Short,
        Some("300"),
    )
    .dynamic(),
    kafka(
        "sasl.login.refresh.min.period.seconds",
        ConfigType::Short,
        Some("60"),
    )
    .dynamic(),
    kafka(
        "sasl.login.refresh.window.factor",
        ConfigType::Double,
        Some("0.8"),
    )
    .dynamic(),
    kafka(
        "sasl.login.refresh.window.jitter",
        ConfigType::Double,
        Some("0.05"),
    )
    .dynamic(),
    kafka(
        "sasl.mechanism.inter.broker.protocol",
        ConfigType::String,
        Some("GSSAPI"),
    )
    .dynamic(),
    kafka(
        "sasl.server.callback.handler.class",
        ConfigType::Class,
        None,
    ),
    kafka(
        "sasl.server.max.receive.size",
        ConfigType::Int,
        Some("524288"),
    ),
    kafka(
        "security.inter.broker.protocol",
        ConfigType::String,
        Some("PLAINTEXT"),
    ),
    kafka("security.providers", ConfigType::String, None),
    kafka(
        "socket.connection.setup.timeout.max.ms",
        ConfigType::Long,
        Some("30000"),
    ),
    kafka(
        "socket.connection.setup.timeout.ms",
        ConfigType::Long,
        Some("10000"),
    ),
    kafka(
        "socket.receive.buffer.bytes",
        ConfigType::Int,
        Some("102400"),
    ),
    SOCKET_REQUEST_MAX_BYTES,
    kafka("socket.send.buffer.bytes", ConfigType::Int, Some("102400")),
    kafka("ssl.cipher.suites", ConfigType::List, Some("")).dynamic(),
    kafka("ssl.client.auth", ConfigType::String, Some("none")).dynamic(),
    kafka(
        "ssl.enabled.protocols",
        ConfigType::List,
        Some("TLSv1.2,TLSv1.3"),
    )
    .dynamic(),
    kafka(
        "ssl.endpoint.identification.algorithm",
        ConfigType::String,
        Some("https"),
    )
    .dynamic(),
    kafka("ssl.engine.factory.class", ConfigType::Class, None).dynamic(),
    kafka("ssl.key.password", ConfigType::Password, None).dynamic(),
    kafka(
        "ssl.keymanager.algorithm",
        ConfigType::String,
        Some("SunX509"),
    )
    .dynamic(),
    kafka("ssl.keystore.certificate.chain", ConfigType::Password, None).dynamic(),
    kafka("ssl.keystore.key", ConfigType::Password, None).dynamic(),
    kafka("ssl.keystore.location", ConfigType::String, None).dynamic(),
    kafka("ssl.keystore.password", ConfigType::Password, None).dynamic(),
    kafka("ssl.keystore.type", ConfigType::String, Some("JKS")).dynamic(),
    kafka(
        "ssl.principal.mapping.rules",
        ConfigType::String,
        Some("DEFAULT"),
    ),
    kafka("ssl.protocol", ConfigType::String, Some("TLSv1.3")).dynamic(),
    kafka("ssl.provider", ConfigType::String, None).dynamic(),
    kafka("ssl.secure.random.implementation", ConfigType::String, None).dynamic(),
    kafka(
        "ssl.trustmanager.algorithm",
        ConfigType::String,
        Some("PKIX"),
    )
    .dynamic(),
    kafka("ssl.truststore.certificates", ConfigType::Password, None).dynamic(),
    kafka("ssl.truststore.location", ConfigType::String, None).dynamic(),
    kafka("ssl.truststore.password", ConfigType::Password, None).dynamic(),
    kafka("ssl.truststore.type", ConfigType::String, Some("JKS")).dynamic(),
    kafka(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        ConfigType::Int,
        Some("10000"),
    ),
    kafka(
        "transaction.max.timeout.ms",
        ConfigType::Int,
        Some("900000"),
    ),
    kafka(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        ConfigType::Int,
        Some("3600000"),
    ),
    kafka(
        "transaction.state.log.load.buffer.size",
        ConfigType::Int,
        Some("5242880"),
    ),
    kafka("transaction.state.log.min.isr", ConfigType::Int, Some("2")),
    kafka(
        "transaction.state.log.num.partitions",
        ConfigType::Int,
        Some("50"),
    ),
    kafka(
        "transaction.state.log.replication.factor",
        ConfigType::Short,
        Some("3"),
    ),
    kafka(
        "transaction.state.log.segment.bytes",
        ConfigType::Int,
        Some("104857600"),
    ),
    TRANSACTIONAL_ID_EXPIRATION_MS,
    UNCLEAN_LEADER_ELECTION_ENABLE,
    kafka("zookeeper.clientCnxnSocket", ConfigType::String, None),
    ZOOKEEPER_CONNECT,
    ZOOKEEPER_CONNECTION_TIMEOUT_MS,
    kafka(
        "zookeeper.max.in.flight.requests",
        ConfigType::Int,
        Some("10"),
    ),
    ZOOKEEPER_SESSION_TIMEOUT_MS,
    kafka("zookeeper.set.acl", ConfigType::Boolean, Some("false")),
    kafka("zookeeper.ssl.cipher.suites", ConfigType::List, None),
    kafka(
        "zookeeper.ssl.client.enable",
        ConfigType::Boolean,
        Some("false"),
    ),
    kafka(
        "zookeeper.ssl.crl.enable",
        ConfigType::Boolean,
        Some("false"),
    ),
    kafka("zookeeper.ssl.enabled.protocols", ConfigType::List, None),
    kafka(
        "zookeeper.ssl.endpoint.identification.algorithm",
        ConfigType::String,
        Some("HTTPS"),
    ),
    kafka("zookeeper.ssl.keystore.location", ConfigType::String, None),
    kafka(
        "zookeeper.ssl.keystore.password",
        ConfigType::Password,
        None,
    ),
    kafka("zookeeper.ssl.keystore.type", ConfigType::String, None),
    kafka(
        "zookeeper.ssl.ocsp.enable",
        ConfigType::Boolean,
        Some("false"),
    ),
    kafka(
        "zookeeper.ssl.protocol",
        ConfigType::String,
        Some("TLSv1.2"),
    ),
    kafka(
        "zookeeper.ssl.truststore.location",
        ConfigType::String,
        None,
    ),
    kafka(
        "zookeeper.ssl.truststore.password",
        ConfigType::Password,
        None,
    ),
    kafka("zookeeper.ssl.truststore.type", ConfigType::String, None),
    kafka("zookeeper.sync.time.ms", ConfigType::Int, Some("2000")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_consistent() {
        assert!(KEYS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(broker_keys().count(), 218);
        for key in KEYS {
            assert_eq!(
                key.gregor == Use::Ignores,
                key.doc.is_empty(),
                "{}",
                key.name
            );
            assert!(key.synonyms.is_empty() || key.synonyms.contains(&key.name));
        }
        let topic_names: Vec<_> = topic_keys().iter().map(|k| k.topic).collect();
        assert_eq!(topic_names.len(), 26);
        assert!(topic_names.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            broker_key("message.max.bytes").and_then(|k| k.default),
            Some("1048588")
        );
        assert!(broker_key("ssl.key.password").is_some_and(ConfigKey::sensitive));
        assert!(broker_key("broker.id").is_some_and(|k| !k.dynamic));
        assert_eq!(
            topic_key("segment.bytes").map(|k| k.name),
            Some("log.segment.bytes")
        );
        assert_eq!(
            broker_config_synonyms("log.retention.hours"),
            [
                "log.retention.ms",
                "log.retention.minutes",
                "log.retention.hours"
            ]
        );
        assert_eq!(
            broker_config_synonyms("log.flush.scheduler.interval.ms"),
            ["log.flush.scheduler.interval.ms"]
        );
    }

    #[test]
    fn config_types_are_kafkas() {
        let code = |topic: &str| topic_key(topic).map(|k| k.config_type.code());
        assert_eq!(code("cleanup.policy"), Some(7));
        assert_eq!(code("retention.ms"), Some(5));
        assert_eq!(code("max.message.bytes"), Some(3));
        assert_eq!(code("no.such.config"), None);
    }

    /// `docs/CONFIGURATION.md` is what [`render_markdown`] makes of the
    /// table; `GREGOR_UPDATE_DOCS=1` rewrites it after a change.
    #[test]
    fn configuration_doc_is_rendered_from_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIGURATION.md");
        let rendered = render_markdown();
        if std::env::var("GREGOR_UPDATE_DOCS").is_ok_and(|v| v == "1") {
            std::fs::write(path, &rendered).expect("write docs/CONFIGURATION.md");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == rendered,
            "{path} is out of date: run GREGOR_UPDATE_DOCS=1 cargo test -p gregor-broker --lib config::keys"
        );
    }
}
