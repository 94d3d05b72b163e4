//! The broker's `server.properties`: Kafka's key names, Kafka's defaults and
//! Kafka's validation, so that an operator's existing file works unchanged.
//!
//! Loading goes file → [`parse_properties`] → command-line overrides
//! ([`apply_overrides`], Kafka's `--override key=value`) → [`KafkaConfig::from_map`].
//! Every key's type, default and valid values come from the one table in
//! [`keys`]; this module only adds the rules between keys (precedence of
//! `log.retention.ms` over `.minutes` over `.hours`, listeners, ...). Unknown
//! broker keys are logged and ignored, as Kafka does; a bad value or a
//! missing `zookeeper.connect` is a [`ConfigError`] naming the key.
//!
//! Topic-level settings (`/config/topics/<t>`) are layered on the broker's
//! `log.*` defaults by [`topic_log_config`], read by the same code as the
//! broker keys they override; there unknown keys are an error, because
//! Kafka answers them with INVALID_CONFIG.
//!
//! The Java-properties parser is ours, not the `java-properties` crate
//! (2.0): that crate drops an entry whose last line ends in a continuation
//! backslash, rejects a surrogate pair written as two `\uXXXX` escapes, and
//! decodes Windows-1252 unless told otherwise, where `java.util.Properties`
//! (what Kafka loads `server.properties` with) keeps the entry and decodes
//! the pair.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub mod keys;

use gregor_log::{CleanerConfig, CleanupPolicy, LogConfig};
pub use gregor_server::Listener;
use gregor_server::{ConnectionLimits, ServerConfig};
use gregor_zk::data::SecurityProtocol;
use gregor_zk::paths::split_chroot;
use keys::*;

/// Kafka's `Long.MaxValue`: the value Kafka uses to mean "never" for
/// flush intervals.
const LONG_MAX: u64 = i64::MAX as u64;
const MS_PER_MINUTE: i64 = 60 * 1000;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;

/// Why a configuration could not be loaded. Every variant names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The properties file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The properties text is malformed (only a bad `\uXXXX` escape can do this).
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    /// A key has a value of the wrong type or outside its range; worded
    /// as Kafka's `ConfigException` (`expected` is Kafka's reason, such as
    /// "Not a number of type LONG"), which clients show verbatim.
    #[error("Invalid value {value} for configuration {key}: {expected}")]
    InvalidValue {
        key: &'static str,
        value: String,
        expected: String,
    },
    /// A key without a default is not set.
    #[error("missing required config {key}")]
    Missing { key: &'static str },
    /// A command-line override is not `key=value`.
    #[error("invalid override {0:?}: expected key=value")]
    InvalidOverride(String),
    /// A topic config key Kafka does not know (or gregor does not support).
    #[error("Unknown topic config name: {0}")]
    UnknownTopicConfig(String),
}

fn invalid(key: &'static str, value: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key,
        value: value.to_owned(),
        expected: expected.into(),
    }
}

/// Parses one `NAME://host:port`, with `[v6addr]` brackets allowed, using
/// the same host character set as Kafka's listener regex.
fn parse_listener(key: &'static str, text: &str) -> Result<Listener, ConfigError> {
    let bad = || invalid(key, text, "a listener of the form NAME://host:port");
    let (name, address) = text.split_once("://").ok_or_else(bad)?;
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.strip_suffix(']').ok_or_else(bad)?,
        None => host,
    };
    let host_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-%._:".contains(c));
    if name.is_empty() || name.contains(char::is_whitespace) || !host_ok {
        return Err(bad());
    }
    let port = port.parse().map_err(|_| bad())?;
    Ok(Listener {
        name: name.to_ascii_uppercase(),
        host: host.to_owned(),
        port,
    })
}

/// Parses a comma-separated listener list; names must be unique because
/// the broker registration and inter-broker routing key on them.
fn parse_listeners(key: &'static str, text: &str) -> Result<Vec<Listener>, ConfigError> {
    let mut listeners: Vec<Listener> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let listener = parse_listener(key, entry)?;
        if listeners.iter().any(|l| l.name == listener.name) {
            return Err(invalid(key, text, "listeners with distinct names"));
        }
        listeners.push(listener);
    }
    if listeners.is_empty() {
        return Err(invalid(key, text, "at least one NAME://host:port"));
    }
    Ok(listeners)
}

/// The broker configuration, one field per supported `server.properties` key.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    /// `broker.id`, default -1 (`None`): the broker then takes a generated id
    /// above `reserved.broker.max.id` from `/brokers/seqid`.
    pub broker_id: Option<i32>,
    /// `reserved.broker.max.id`, default 1000: configured ids may not exceed
    /// it, so generated ids never collide with them.
    pub reserved_broker_max_id: i32,
    /// `listeners`, default `PLAINTEXT://:9092`: the sockets to bind.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners`, default: `listeners`. What clients and other
    /// brokers are told to connect to; names must be a subset of `listeners`.
    pub advertised_listeners: Vec<Listener>,
    /// `inter.broker.listener.name`, default `PLAINTEXT` (Kafka derives it from
    /// `security.inter.broker.protocol=PLAINTEXT`): the advertised listener
    /// followers and the controller use to reach this broker.
    pub inter_broker_listener_name: String,
    /// `listener.security.protocol.map`, default
    /// `PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL`:
    /// the security protocol of each listener name, so that listeners can
    /// be named after their purpose (`INTERNAL`, `EXTERNAL`). Every name in
    /// `listeners` must have an entry; gregor serves PLAINTEXT only, so a
    /// listener mapped to another protocol is refused at startup rather than
    /// served without the security its operator asked for.
    pub listener_security_protocol_map: BTreeMap<String, SecurityProtocol>,
    /// `log.dirs`, else `log.dir`, default `/tmp/kafka-logs`: comma-separated
    /// data directories, each holding `<topic>-<partition>/` subdirectories.
    pub log_dirs: Vec<PathBuf>,
    /// `zookeeper.connect`, required: `host:port[,host:port…][/chroot]`,
    /// kept verbatim; see [`KafkaConfig::zookeeper_hosts`] and
    /// [`KafkaConfig::zookeeper_chroot`].
    pub zookeeper_connect: String,
    /// `zookeeper.session.timeout.ms`, default 18000: after this long without
    /// contact ZooKeeper expires the session and the broker's ephemerals.
    pub zookeeper_session_timeout_ms: u64,
    /// `zookeeper.connection.timeout.ms`, default: the session timeout. How
    /// long Kafka waits for the first connection before its start-up fails;
    /// gregor never gives up on ZooKeeper at start-up (see
    /// `gregor_zk::session`), so nothing acts on it.
    pub zookeeper_connection_timeout_ms: u64,
    /// `num.partitions`, default 1: partitions of an auto-created topic.
    pub num_partitions: u32,
    /// `default.replication.factor`, default 1: replicas of an auto-created topic.
    pub default_replication_factor: u32,
    /// `auto.create.topics.enable`, default true: Metadata for an unknown
    /// topic creates it.
    pub auto_create_topics_enable: bool,
    /// `delete.topic.enable`, default true: whether DeleteTopics is honoured.
    pub delete_topic_enable: bool,
    /// `socket.request.max.bytes`, default 104857600 (100 MiB): a request
    /// frame larger than this closes the connection before it is buffered.
    pub socket_request_max_bytes: u32,
    /// `max.connections`, default `Int.MaxValue`: open connections across all
    /// listeners; further accepts wait.
    pub max_connections: u32,
    /// `queued.max.requests`, default 500: requests read but not yet handled
    /// before the broker stops reading from sockets (back-pressure).
    pub queued_max_requests: u32,
    /// `broker.rack`, default none: rack id for rack-aware replica placement.
    pub broker_rack: Option<String>,
    /// `controlled.shutdown.enable`, default true: ask the controller to move
    /// leadership away before shutting down.
    pub controlled_shutdown_enable: bool,
    /// `auto.leader.rebalance.enable`, default true: the controller
    /// periodically moves leadership back to preferred replicas.
    pub auto_leader_rebalance_enable: bool,
    /// `controlled.shutdown.max.retries`, default 3: how often a stopping
    /// broker asks the controller again while it still leads partitions.
    pub controlled_shutdown_max_retries: u32,
    /// `controlled.shutdown.retry.backoff.ms`, default 5000: pause between
    /// those attempts.
    pub controlled_shutdown_retry_backoff_ms: u64,
    /// `leader.imbalance.check.interval.seconds`, default 300: how often the
    /// controller checks for leaders away from their preferred replica.
    pub leader_imbalance_check_interval_seconds: u64,
    /// `leader.imbalance.per.broker.percentage`, default 10: the share of a
    /// broker's preferred partitions led elsewhere that triggers a rebalance.
    pub leader_imbalance_per_broker_percentage: u32,
    /// `controller.socket.timeout.ms`, default 30000: timeout of the
    /// controller's requests to brokers.
    pub controller_socket_timeout_ms: u64,
    /// `unclean.leader.election.enable`, default false: whether a replica
    /// outside the ISR may become leader (and lose committed records).
    pub unclean_leader_election_enable: bool,
    /// `replica.lag.time.max.ms`, default 30000: a follower that has not
    /// caught up for this long is dropped from the ISR.
    pub replica_lag_time_max_ms: u64,
    /// `replica.fetch.max.bytes`, default 1048576: per-partition byte budget
    /// of a follower's fetch.
    pub replica_fetch_max_bytes: u32,
    /// `num.replica.fetchers`, default 1: fetcher tasks per source broker.
    pub num_replica_fetchers: u32,
    /// `replica.fetch.wait.max.ms`, default 500: how long a follower's fetch
    /// waits at the leader for `replica.fetch.min.bytes`. At most
    /// `replica.lag.time.max.ms`, so an idle follower is not dropped from
    /// the ISR.
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.min.bytes`, default 1: the least data a follower's
    /// fetch waits for.
    pub replica_fetch_min_bytes: u32,
    /// `replica.fetch.response.max.bytes`, default 10485760: byte budget of
    /// a follower's whole fetch response (the first batch comes whole even
    /// past it).
    pub replica_fetch_response_max_bytes: u32,
    /// `replica.fetch.backoff.ms`, default 1000: pause before a follower
    /// fetches a partition again after an error.
    pub replica_fetch_backoff_ms: u64,
    /// `offsets.topic.num.partitions`, default 50: partitions of
    /// `__consumer_offsets` (fixed once created: group placement hashes on it).
    pub offsets_topic_num_partitions: u32,
    /// `offsets.topic.replication.factor`, default 3: replicas of
    /// `__consumer_offsets`, capped by the live brokers when it is created.
    pub offsets_topic_replication_factor: u16,
    /// `offsets.topic.segment.bytes`, default 104857600: `segment.bytes` of
    /// `__consumer_offsets`, kept small so compaction can work on it.
    pub offsets_topic_segment_bytes: u32,
    /// `offsets.load.buffer.size`, default 5242880: bytes read at a time
    /// when a coordinator loads a `__consumer_offsets` partition.
    pub offsets_load_buffer_size: u32,
    /// `offset.metadata.max.bytes`, default 4096: the longest metadata string
    /// an offset commit may carry (OFFSET_METADATA_TOO_LARGE beyond).
    pub offset_metadata_max_bytes: u32,
    /// `offsets.retention.minutes`, default 10080 (7 days): how long the
    /// offsets of a group without members (or of a partition its members no
    /// longer consume) are kept.
    pub offsets_retention_minutes: u32,
    /// `offsets.retention.check.interval.ms`, default 600000: how often the
    /// coordinator looks for expired offsets.
    pub offsets_retention_check_interval_ms: u64,
    /// `offsets.commit.timeout.ms`, default 5000: how long an offset commit
    /// waits for the in-sync replicas of its `__consumer_offsets` partition
    /// (REQUEST_TIMED_OUT after).
    pub offsets_commit_timeout_ms: u32,
    /// `group.initial.rebalance.delay.ms`, default 3000: how long a new group
    /// waits for more members before its first rebalance.
    pub group_initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`, default 6000: the shortest session
    /// timeout a member may ask for (INVALID_SESSION_TIMEOUT below).
    pub group_min_session_timeout_ms: u32,
    /// `group.max.session.timeout.ms`, default 1800000: the longest session
    /// timeout a member may ask for (INVALID_SESSION_TIMEOUT above).
    pub group_max_session_timeout_ms: u32,
    /// `group.max.size`, default `Int.MaxValue`: members a group may have;
    /// one more gets GROUP_MAX_SIZE_REACHED.
    pub group_max_size: u32,
    /// `log.retention.check.interval.ms`, default 300000: how often retention runs.
    pub log_retention_check_interval_ms: u64,
    /// `log.flush.scheduler.interval.ms`, default `Long.MaxValue` (`None`):
    /// how often to check logs against their `flush.ms`; `None` never checks.
    pub log_flush_scheduler_interval_ms: Option<u64>,
    /// `log.flush.offset.checkpoint.interval.ms`, default 60000: how often the
    /// recovery-point checkpoint is written.
    pub log_flush_offset_checkpoint_interval_ms: u64,
    /// `log.flush.start.offset.checkpoint.interval.ms`, default 60000: how
    /// often the log-start-offset checkpoint is written.
    pub log_flush_start_offset_checkpoint_interval_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`, default 5000: how
    /// often the replication-offset (high watermark) checkpoint is written.
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    /// `request.timeout.ms`, default 30000: timeout of the broker's own
    /// requests to other brokers (controller RPCs, follower fetches).
    pub request_timeout_ms: u64,
    /// The broker's `log.*` keys and `message.max.bytes`: the defaults every
    /// topic's [`LogConfig`] starts from. Read it with [`KafkaConfig::log_config`].
    log_defaults: LogConfig,
    /// The log cleaner's `log.cleaner.*` keys (compaction of
    /// `cleanup.policy=compact` topics).
    pub log_cleaner: CleanerConfig,
    /// Every key as `server.properties` (and overrides) set it: what Kafka
    /// reports as `STATIC_BROKER_CONFIG` in DescribeConfigs.
    pub static_props: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// Reads a `server.properties` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load(path, &[] as &[&str])
    }

    /// Reads a `server.properties` file and applies `key=value` overrides on
    /// top, like `kafka-server-start.sh server.properties --override k=v`.
    pub fn load<S: AsRef<str>>(
        path: impl AsRef<Path>,
        overrides: &[S],
    ) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut props = parse_properties(&text)?;
        apply_overrides(&mut props, overrides)?;
        Self::from_map(props)
    }

    /// Parses the text of a `server.properties` file.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::from_map(parse_properties(text)?)
    }

    /// Builds the configuration from raw key/value pairs, applying Kafka's
    /// defaults, precedence rules and validation. Unknown keys are logged.
    pub fn from_map(props: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let p = Props::broker(&props);
        let mut config = Self::from_props(&p)?;
        for key in p.unread() {
            if keys::broker_key(key).is_some() {
                log::warn!("The configuration '{key}' is a Kafka config gregor does not act on.");
            } else {
                log::warn!("The configuration '{key}' was supplied but isn't a known config.");
            }
        }
        config.static_props = props.clone();
        Ok(config)
    }

    /// Reads every broker key gregor acts on through `p`, which thereby
    /// learns which keys are known. Types, defaults and ranges are the
    /// table's ([`keys`]); only the rules between keys are written here.
    fn from_props(p: &Props<'_>) -> Result<Self, ConfigError> {
        let zookeeper_connect = p.string_or_default(&ZOOKEEPER_CONNECT)?.to_owned();
        validate_zookeeper_connect(&zookeeper_connect)?;
        let zookeeper_session_timeout_ms: u64 =
            p.number_or_default(&ZOOKEEPER_SESSION_TIMEOUT_MS)?;
        let zookeeper_connection_timeout_ms = p
            .number(&ZOOKEEPER_CONNECTION_TIMEOUT_MS)?
            .unwrap_or(zookeeper_session_timeout_ms);

        let reserved_broker_max_id: i32 = p.number_or_default(&RESERVED_BROKER_MAX_ID)?;
        let broker_id: i32 = p.number_or_default(&BROKER_ID)?;
        if broker_id > reserved_broker_max_id {
            return Err(invalid(
                BROKER_ID.name,
                &broker_id.to_string(),
                format!("Value must be no more than {reserved_broker_max_id}"),
            ));
        }

        let listeners = parse_listeners(
            LISTENERS.name,
            p.string(&LISTENERS)?.unwrap_or("PLAINTEXT://:9092"),
        )?;
        let advertised_listeners = match p.string(&ADVERTISED_LISTENERS)? {
            Some(text) => parse_listeners(ADVERTISED_LISTENERS.name, text)?,
            None => listeners.clone(),
        };
        let inter_broker_listener_name = p
            .string(&INTER_BROKER_LISTENER_NAME)?
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase();
        validate_advertised(
            &listeners,
            &advertised_listeners,
            &inter_broker_listener_name,
        )?;
        let listener_security_protocol_map = listener_security_protocol_map(
            p.string_or_default(&LISTENER_SECURITY_PROTOCOL_MAP)?,
            &listeners,
        )?;

        // Kafka reads both and lets `log.dirs` win; reading both also marks
        // both as known keys.
        let log_dir = p.string_or_default(&LOG_DIR)?;
        let log_dirs_set = p.string(&LOG_DIRS)?;
        let log_dirs_text = log_dirs_set.unwrap_or(log_dir);
        let log_dirs: Vec<PathBuf> = log_dirs_text
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
        if log_dirs.is_empty() {
            let key = if log_dirs_set.is_some() {
                LOG_DIRS.name
            } else {
                LOG_DIR.name
            };
            return Err(invalid(key, log_dirs_text, "at least one directory"));
        }

        let log_flush_scheduler_interval_ms =
            never_if_max(p.number_or_default(&LOG_FLUSH_SCHEDULER_INTERVAL_MS)?);
        Ok(KafkaConfig {
            broker_id: (broker_id != -1).then_some(broker_id),
            reserved_broker_max_id,
            listeners,
            advertised_listeners,
            inter_broker_listener_name,
            listener_security_protocol_map,
            log_dirs,
            zookeeper_connect,
            zookeeper_session_timeout_ms,
            zookeeper_connection_timeout_ms,
            num_partitions: p.number_or_default(&NUM_PARTITIONS)?,
            default_replication_factor: p.number_or_default(&DEFAULT_REPLICATION_FACTOR)?,
            auto_create_topics_enable: p.boolean_or_default(&AUTO_CREATE_TOPICS_ENABLE)?,
            delete_topic_enable: p.boolean_or_default(&DELETE_TOPIC_ENABLE)?,
            socket_request_max_bytes: p.number_or_default(&SOCKET_REQUEST_MAX_BYTES)?,
            max_connections: p.number_or_default(&MAX_CONNECTIONS)?,
            queued_max_requests: p.number_or_default(&QUEUED_MAX_REQUESTS)?,
            broker_rack: p
                .string(&BROKER_RACK)?
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            controlled_shutdown_enable: p.boolean_or_default(&CONTROLLED_SHUTDOWN_ENABLE)?,
            auto_leader_rebalance_enable: p.boolean_or_default(&AUTO_LEADER_REBALANCE_ENABLE)?,
            controlled_shutdown_max_retries: p
                .number_or_default(&CONTROLLED_SHUTDOWN_MAX_RETRIES)?,
            controlled_shutdown_retry_backoff_ms: p
                .number_or_default(&CONTROLLED_SHUTDOWN_RETRY_BACKOFF_MS)?,
            leader_imbalance_check_interval_seconds: p
                .number_or_default(&LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS)?,
            leader_imbalance_per_broker_percentage: p
                .number_or_default(&LEADER_IMBALANCE_PER_BROKER_PERCENTAGE)?,
            controller_socket_timeout_ms: p.number_or_default(&CONTROLLER_SOCKET_TIMEOUT_MS)?,
            unclean_leader_election_enable: p
                .boolean_or_default(&UNCLEAN_LEADER_ELECTION_ENABLE)?,
            replica_lag_time_max_ms: p.number_or_default(&REPLICA_LAG_TIME_MAX_MS)?,
            replica_fetch_max_bytes: p.number_or_default(&REPLICA_FETCH_MAX_BYTES)?,
            num_replica_fetchers: p.number_or_default(&NUM_REPLICA_FETCHERS)?,
            replica_fetch_wait_max_ms: replica_fetch_wait_max_ms(p)?,
            replica_fetch_min_bytes: p.number_or_default(&REPLICA_FETCH_MIN_BYTES)?,
            replica_fetch_response_max_bytes: p
                .number_or_default(&REPLICA_FETCH_RESPONSE_MAX_BYTES)?,
            replica_fetch_backoff_ms: p.number_or_default(&REPLICA_FETCH_BACKOFF_MS)?,
            offsets_topic_num_partitions: p.number_or_default(&OFFSETS_TOPIC_NUM_PARTITIONS)?,
            offsets_topic_replication_factor: p
                .number_or_default(&OFFSETS_TOPIC_REPLICATION_FACTOR)?,
            offsets_topic_segment_bytes: p.number_or_default(&OFFSETS_TOPIC_SEGMENT_BYTES)?,
            offsets_load_buffer_size: p.number_or_default(&OFFSETS_LOAD_BUFFER_SIZE)?,
            offset_metadata_max_bytes: p.number_or_default(&OFFSET_METADATA_MAX_BYTES)?,
            offsets_retention_minutes: p.number_or_default(&OFFSETS_RETENTION_MINUTES)?,
            offsets_retention_check_interval_ms: p
                .number_or_default(&OFFSETS_RETENTION_CHECK_INTERVAL_MS)?,
            offsets_commit_timeout_ms: p.number_or_default(&OFFSETS_COMMIT_TIMEOUT_MS)?,
            group_initial_rebalance_delay_ms: p
                .number_or_default(&GROUP_INITIAL_REBALANCE_DELAY_MS)?,
            group_min_session_timeout_ms: p.number_or_default(&GROUP_MIN_SESSION_TIMEOUT_MS)?,
            group_max_session_timeout_ms: p.number_or_default(&GROUP_MAX_SESSION_TIMEOUT_MS)?,
            group_max_size: p.number_or_default(&GROUP_MAX_SIZE)?,
            log_retention_check_interval_ms: p
                .number_or_default(&LOG_RETENTION_CHECK_INTERVAL_MS)?,
            log_flush_scheduler_interval_ms,
            log_flush_offset_checkpoint_interval_ms: p
                .number_or_default(&LOG_FLUSH_OFFSET_CHECKPOINT_INTERVAL_MS)?,
            log_flush_start_offset_checkpoint_interval_ms: p
                .number_or_default(&LOG_FLUSH_START_OFFSET_CHECKPOINT_INTERVAL_MS)?,
            replica_high_watermark_checkpoint_interval_ms: p
                .number_or_default(&REPLICA_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS)?,
            request_timeout_ms: p.number_or_default(&REQUEST_TIMEOUT_MS)?,
            log_defaults: broker_log_defaults(p, log_flush_scheduler_interval_ms)?,
            log_cleaner: cleaner_config(p)?,
            static_props: BTreeMap::new(),
        })
    }

    /// The log settings a topic gets when it has no overrides of its own.
    pub fn log_config(&self) -> LogConfig {
        self.log_defaults.clone()
    }

    /// The ZooKeeper ensemble part of `zookeeper.connect`:
    /// `"h1:2181,h2:2181/gregor"` → `"h1:2181,h2:2181"`.
    pub fn zookeeper_hosts(&self) -> &str {
        split_chroot(&self.zookeeper_connect).0
    }

    /// The chroot part of `zookeeper.connect`, under which every znode lives:
    /// `"h1:2181,h2:2181/gregor"` → `Some("/gregor")`; `None` without one.
    pub fn zookeeper_chroot(&self) -> Option<&str> {
        split_chroot(&self.zookeeper_connect).1
    }

    /// What the socket server takes from this configuration: the listener
    /// keys and the connection limits.
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            listeners: self.listeners.clone(),
            limits: ConnectionLimits {
                socket_request_max_bytes: self.socket_request_max_bytes as usize,
                queued_max_requests: self.queued_max_requests as usize,
            },
            max_connections: self.max_connections,
            shutdown_timeout: std::time::Duration::from_millis(self.request_timeout_ms),
        }
    }
}

impl FromStr for KafkaConfig {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse(text)
    }
}

/// Rejects what ZooKeeper would reject later, with less helpful messages:
/// no hosts, an empty host entry, or a chroot that is not a valid znode path.
fn validate_zookeeper_connect(connect: &str) -> Result<(), ConfigError> {
    let (hosts, chroot) = split_chroot(connect);
    let hosts_ok = hosts.split(',').all(|h| !h.trim().is_empty());
    let chroot_ok = chroot.is_none_or(|c| !c.ends_with('/') && !c.contains("//"));
    if hosts_ok && chroot_ok {
        Ok(())
    } else {
        Err(invalid(
            "zookeeper.connect",
            connect,
            "host:port[,host:port...][/chroot]",
        ))
    }
}

/// Kafka's checks on `advertised.listeners`: every name is also a bound
/// listener, the inter-broker listener is advertised, and nobody is told to
/// connect to the unroutable `0.0.0.0`.
fn validate_advertised(
    listeners: &[Listener],
    advertised: &[Listener],
    inter_broker_listener_name: &str,
) -> Result<(), ConfigError> {
    let names = |ls: &[Listener]| {
        ls.iter()
            .map(|l| l.name.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let as_text = || {
        advertised
            .iter()
            .map(Listener::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    if let Some(unbound) = advertised
        .iter()
        .find(|a| !listeners.iter().any(|l| l.name == a.name))
    {
        return Err(invalid(
            "advertised.listeners",
            &unbound.to_string(),
            format!("a listener name from listeners ({})", names(listeners)),
        ));
    }
    if advertised.iter().any(|a| a.host == "0.0.0.0") {
        return Err(invalid(
            "advertised.listeners",
            &as_text(),
            "a routable host, not 0.0.0.0",
        ));
    }
    if !advertised
        .iter()
        .any(|a| a.name == inter_broker_listener_name)
    {
        return Err(invalid(
            "inter.broker.listener.name",
            inter_broker_listener_name,
            format!(
                "a listener name from advertised.listeners ({})",
                names(advertised)
            ),
        ));
    }
    Ok(())
}

/// Parses `listener.security.protocol.map` (`NAME:PROTOCOL,…`, names
/// upper-cased as Kafka normalises them) and checks it against `listeners`:
/// each listener needs a protocol (Kafka: "No security protocol defined for
/// listener"), and that protocol must be PLAINTEXT, the only one gregor
/// serves.
fn listener_security_protocol_map(
    text: &str,
    listeners: &[Listener],
) -> Result<BTreeMap<String, SecurityProtocol>, ConfigError> {
    const KEY: &str = "listener.security.protocol.map";
    let mut map = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, protocol) = entry
            .split_once(':')
            .filter(|(name, _)| !name.trim().is_empty())
            .ok_or_else(|| invalid(KEY, text, "NAME:PROTOCOL pairs separated by commas"))?;
        let protocol = protocol.trim().parse().map_err(|_| {
            invalid(
                KEY,
                text,
                "protocols among PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
            )
        })?;
        if map
            .insert(name.trim().to_ascii_uppercase(), protocol)
            .is_some()
        {
            return Err(invalid(KEY, text, "each listener name once"));
        }
    }
    for listener in listeners {
        match map.get(&listener.name) {
            None => {
                return Err(invalid(
                    KEY,
                    text,
                    format!("a security protocol for listener {}", listener.name),
                ))
            }
            Some(SecurityProtocol::Plaintext) => {}
            Some(other) => {
                return Err(invalid(
                    KEY,
                    text,
                    format!(
                        "PLAINTEXT for listener {} (gregor does not support {})",
                        listener.name,
                        other.name()
                    ),
                ))
            }
        }
    }
    Ok(map)
}

/// `replica.fetch.wait.max.ms`, which Kafka requires to be at most
/// `replica.lag.time.max.ms`: a follower waiting longer than that at an idle
/// leader would fall out of the ISR between its fetches.
fn replica_fetch_wait_max_ms(p: &Props<'_>) -> Result<u64, ConfigError> {
    let lag: u64 = p.number_or_default(&REPLICA_LAG_TIME_MAX_MS)?;
    let wait: u64 = p.number_or_default(&REPLICA_FETCH_WAIT_MAX_MS)?;
    if wait > lag {
        return Err(invalid(
            REPLICA_FETCH_WAIT_MAX_MS.name,
            &wait.to_string(),
            format!("at most replica.lag.time.max.ms ({lag})"),
        ));
    }
    Ok(wait)
}

/// The broker-level `log.*` keys (and `message.max.bytes`), with Kafka's
/// precedence: `log.roll.ms` over `log.roll.hours`; `log.retention.ms` over
/// `.minutes` over `.hours`, any negative result meaning unlimited; an unset
/// `log.flush.interval.ms` inheriting `log.flush.scheduler.interval.ms`.
/// The fallbacks make the base that [`read_log_config`] layers the primary
/// keys on, as it layers a topic's overrides.
fn broker_log_defaults(
    p: &Props<'_>,
    flush_scheduler_interval_ms: Option<u64>,
) -> Result<LogConfig, ConfigError> {
    let mut base = LogConfig::default();
    if let Some(hours) = p.number::<u64>(&LOG_ROLL_HOURS)? {
        base.segment_ms = hours * MS_PER_HOUR as u64;
    }
    let retention_minutes = p.number::<i64>(&LOG_RETENTION_MINUTES)?;
    let retention_hours = p.number::<i64>(&LOG_RETENTION_HOURS)?;
    match (retention_minutes, retention_hours) {
        (Some(minutes), _) => base.retention_ms = unlimited_if_negative(minutes * MS_PER_MINUTE),
        (None, Some(hours)) => base.retention_ms = unlimited_if_negative(hours * MS_PER_HOUR),
        (None, None) => {}
    }
    base.flush_ms = flush_scheduler_interval_ms;
    base.producer_id_expiration_ms = p.number_or_default(&TRANSACTIONAL_ID_EXPIRATION_MS)?;
    read_log_config(p, &base)
}

/// The settings a topic can override, read at `p`'s level (a broker's
/// `log.*` keys, or a topic's overrides of them) on top of `base`: the one
/// place each of them is parsed.
fn read_log_config(p: &Props<'_>, base: &LogConfig) -> Result<LogConfig, ConfigError> {
    Ok(LogConfig {
        segment_bytes: p.number(&LOG_SEGMENT_BYTES)?.unwrap_or(base.segment_bytes),
        segment_ms: p.number(&LOG_ROLL_MS)?.unwrap_or(base.segment_ms),
        segment_index_bytes: p
            .number(&LOG_INDEX_SIZE_MAX_BYTES)?
            .unwrap_or(base.segment_index_bytes),
        index_interval_bytes: p
            .number(&LOG_INDEX_INTERVAL_BYTES)?
            .unwrap_or(base.index_interval_bytes),
        retention_ms: p
            .number(&LOG_RETENTION_MS)?
            .map_or(base.retention_ms, unlimited_if_negative),
        retention_bytes: p
            .number(&LOG_RETENTION_BYTES)?
            .map_or(base.retention_bytes, unlimited_if_negative),
        flush_messages: p
            .number(&LOG_FLUSH_INTERVAL_MESSAGES)?
            .map_or(base.flush_messages, never_if_max),
        flush_ms: p
            .number(&LOG_FLUSH_INTERVAL_MS)?
            .map_or(base.flush_ms, never_if_max),
        max_message_bytes: p
            .number(&MESSAGE_MAX_BYTES)?
            .unwrap_or(base.max_message_bytes),
        file_delete_delay_ms: p
            .number(&LOG_SEGMENT_DELETE_DELAY_MS)?
            .unwrap_or(base.file_delete_delay_ms),
        min_insync_replicas: p
            .number(&MIN_INSYNC_REPLICAS)?
            .unwrap_or(base.min_insync_replicas),
        cleanup_policy: cleanup_policy(p)?.unwrap_or(base.cleanup_policy),
        min_cleanable_dirty_ratio: p
            .double(&LOG_CLEANER_MIN_CLEANABLE_RATIO)?
            .unwrap_or(base.min_cleanable_dirty_ratio),
        delete_retention_ms: p
            .number(&LOG_CLEANER_DELETE_RETENTION_MS)?
            .unwrap_or(base.delete_retention_ms),
        min_compaction_lag_ms: p
            .number(&LOG_CLEANER_MIN_COMPACTION_LAG_MS)?
            .unwrap_or(base.min_compaction_lag_ms),
        max_compaction_lag_ms: p
            .number(&LOG_CLEANER_MAX_COMPACTION_LAG_MS)?
            .unwrap_or(base.max_compaction_lag_ms),
        producer_id_expiration_ms: base.producer_id_expiration_ms,
    })
}

/// The log cleaner's own keys (the per-topic ones are in [`LogConfig`]).
fn cleaner_config(p: &Props<'_>) -> Result<CleanerConfig, ConfigError> {
    Ok(CleanerConfig {
        enable: p.boolean_or_default(&LOG_CLEANER_ENABLE)?,
        threads: p.number_or_default(&LOG_CLEANER_THREADS)?,
        backoff_ms: p.number_or_default(&LOG_CLEANER_BACKOFF_MS)?,
        dedupe_buffer_size: p.number_or_default(&LOG_CLEANER_DEDUPE_BUFFER_SIZE)?,
        io_buffer_size: p.number_or_default(&LOG_CLEANER_IO_BUFFER_SIZE)?,
    })
}

/// `cleanup.policy` (or the broker's `log.cleanup.policy`): a list of
/// `compact` and `delete`.
fn cleanup_policy(p: &Props<'_>) -> Result<Option<CleanupPolicy>, ConfigError> {
    Ok(p.list(&LOG_CLEANUP_POLICY)?.map(|items| CleanupPolicy {
        compact: items.contains(&"compact"),
        delete: items.contains(&"delete"),
    }))
}

/// How Kafka spells a cleanup policy in DescribeConfigs.
fn describe_cleanup_policy(policy: CleanupPolicy) -> String {
    match (policy.compact, policy.delete) {
        (true, true) => "compact,delete",
        (true, false) => "compact",
        _ => "delete",
    }
    .to_owned()
}

/// Kafka treats any negative retention as "keep forever".
fn unlimited_if_negative(value: i64) -> Option<u64> {
    u64::try_from(value).ok()
}

/// Kafka spells "never" for flush settings as `Long.MaxValue`.
fn never_if_max(value: u64) -> Option<u64> {
    (value != LONG_MAX).then_some(value)
}

/// Layers a topic's config overrides on the broker defaults `base`.
///
/// Each key is validated as its table entry says ([`keys`]): Kafka's
/// `LogConfig` ranges (`segment.bytes` ≥ 14, `segment.ms` ≥ 1,
/// `retention.ms` ≥ -1, …), with Kafka 3's tighter `segment.index.bytes` ≥ 4
/// and `flush.messages` ≥ 1, whose smaller values meant nothing useful.
/// `-1` retention and `Long.MaxValue` flush settings map to `None`. Keys
/// gregor does not act on are refused as unknown.
pub fn topic_log_config(
    base: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, ConfigError> {
    let p = Props::topic(overrides);
    let config = read_log_config(&p, base)?;
    // Valid at topic level but read by the controller (from
    // `/config/topics`), so only validated here.
    p.boolean(&UNCLEAN_LEADER_ELECTION_ENABLE)?;
    p.string(&keys::COMPRESSION_TYPE)?;
    // Kafka's `LogConfig.validateValues`.
    if config.min_compaction_lag_ms > config.max_compaction_lag_ms {
        return Err(invalid(
            LOG_CLEANER_MIN_COMPACTION_LAG_MS.topic_name(),
            &config.min_compaction_lag_ms.to_string(),
            format!(
                "at most {} ({})",
                LOG_CLEANER_MAX_COMPACTION_LAG_MS.topic_name(),
                config.max_compaction_lag_ms
            ),
        ));
    }
    match p.unread().first() {
        Some(unknown) => Err(ConfigError::UnknownTopicConfig((*unknown).to_owned())),
        None => Ok(config),
    }
}

/// Every topic config key backed by a [`LogConfig`] field, with its value
/// in `config`, spelled as Kafka reports it in DescribeConfigs (`-1` for
/// unlimited retention, `Long.MaxValue` for never flushing). Feeding the
/// result back through [`topic_log_config`] reproduces `config`.
pub fn describe(config: &LogConfig) -> Vec<(&'static str, String)> {
    let unlimited = |v: Option<u64>| v.map_or_else(|| "-1".to_owned(), |v| v.to_string());
    let never = |v: Option<u64>| v.unwrap_or(LONG_MAX).to_string();
    [
        (&LOG_SEGMENT_BYTES, config.segment_bytes.to_string()),
        (&LOG_ROLL_MS, config.segment_ms.to_string()),
        (
            &LOG_INDEX_SIZE_MAX_BYTES,
            config.segment_index_bytes.to_string(),
        ),
        (
            &LOG_INDEX_INTERVAL_BYTES,
            config.index_interval_bytes.to_string(),
        ),
        (&LOG_RETENTION_MS, unlimited(config.retention_ms)),
        (&LOG_RETENTION_BYTES, unlimited(config.retention_bytes)),
        (&LOG_FLUSH_INTERVAL_MESSAGES, never(config.flush_messages)),
        (&LOG_FLUSH_INTERVAL_MS, never(config.flush_ms)),
        (&MESSAGE_MAX_BYTES, config.max_message_bytes.to_string()),
        (
            &LOG_SEGMENT_DELETE_DELAY_MS,
            config.file_delete_delay_ms.to_string(),
        ),
        (&MIN_INSYNC_REPLICAS, config.min_insync_replicas.to_string()),
        (
            &LOG_CLEANUP_POLICY,
            describe_cleanup_policy(config.cleanup_policy),
        ),
        (
            &LOG_CLEANER_MIN_CLEANABLE_RATIO,
            config.min_cleanable_dirty_ratio.to_string(),
        ),
        (
            &LOG_CLEANER_DELETE_RETENTION_MS,
            config.delete_retention_ms.to_string(),
        ),
        (
            &LOG_CLEANER_MIN_COMPACTION_LAG_MS,
            config.min_compaction_lag_ms.to_string(),
        ),
        (
            &LOG_CLEANER_MAX_COMPACTION_LAG_MS,
            config.max_compaction_lag_ms.to_string(),
        ),
    ]
    .into_iter()
    .map(|(key, value)| (key.topic_name(), value))
    .collect()
}

/// Every topic config Kafka 2.8 describes, with its value for a topic with
/// these `overrides` whose log config is `config`: [`describe`], then the
/// other topic keys of the table by name, each at its override or at the
/// value whose behaviour gregor has (Kafka 2.8's default: producer
/// compression kept, CreateTime timestamps, no throttling, no
/// preallocation or segment jitter, the 2.8 message format).
pub fn describe_topic(
    config: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<(&'static str, String)> {
    let mut described = describe(config);
    for key in keys::topic_keys() {
        let name = key.topic_name();
        if described.iter().any(|(known, _)| *known == name) {
            continue;
        }
        let value = overrides
            .get(name)
            .map_or(key.topic_default().unwrap_or_default(), String::as_str);
        described.push((name, value.to_owned()));
    }
    described
}

/// Applies command-line overrides (`key=value`, split at the first `=`) on
/// top of the file's properties; later overrides win.
pub fn apply_overrides<S: AsRef<str>>(
    props: &mut BTreeMap<String, String>,
    overrides: &[S],
) -> Result<(), ConfigError> {
    for entry in overrides {
        let entry = entry.as_ref();
        let (key, value) = entry
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
            .ok_or_else(|| ConfigError::InvalidOverride(entry.to_owned()))?;
        props.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(())
}

/// Parses Java properties text: `key=value`, `key: value` or `key value`;
/// `#`/`!` comment lines; blank lines; a line ending in an odd number of
/// backslashes continues on the next; `\t \n \r \f \uXXXX` escapes, and a
/// backslash before any other character keeps that character literally.
/// Keys and values are trimmed. A repeated key keeps its last value.
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut props = BTreeMap::new();
    let mut logical = String::new();
    let mut first_line = 0;
    let mut continued = false;
    for (index, physical) in text.lines().enumerate() {
        let line = physical.trim_start();
        if !continued {
            if line.is_empty() || line.starts_with(['#', '!']) {
                continue;
            }
            first_line = index + 1;
        }
        let trailing_backslashes = line.len() - line.trim_end_matches('\\').len();
        continued = trailing_backslashes % 2 == 1;
        if continued {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let (key, value) = split_entry(&logical).map_err(|reason| ConfigError::Syntax {
            line: first_line,
            reason,
        })?;
        props.insert(key, value);
        logical.clear();
    }
    // A continuation on the last line simply ends the entry, as in Java.
    if continued {
        let (key, value) = split_entry(&logical).map_err(|reason| ConfigError::Syntax {
            line: first_line,
            reason,
        })?;
        props.insert(key, value);
    }
    Ok(props)
}

/// Splits one logical line at the first unescaped `=`, `:` or whitespace.
fn split_entry(line: &str) -> Result<(String, String), String> {
    let mut escaped = false;
    let mut key_end = line.len();
    for (at, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || c.is_whitespace() {
            key_end = at;
            break;
        }
    }
    let rest = line[key_end..].trim_start();
    let value = rest.strip_prefix(['=', ':']).unwrap_or(rest).trim();
    Ok((unescape(line[..key_end].trim())?, unescape(value)?))
}

/// Resolves Java properties escapes. `\u` escapes are collected as UTF-16
/// code units so that a surrogate pair written as two escapes decodes.
fn unescape(raw: &str) -> Result<String, String> {
    fn flush(units: &mut Vec<u16>, out: &mut String) -> Result<(), String> {
        if !units.is_empty() {
            let decoded = String::from_utf16(units)
                .map_err(|_| "unpaired surrogate in \\u escape".to_owned())?;
            out.push_str(&decoded);
            units.clear();
        }
        Ok(())
    }

    let mut out = String::with_capacity(raw.len());
    let mut units = Vec::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush(&mut units, &mut out)?;
            out.push(c);
            continue;
        }
        // A lone trailing backslash stands for nothing, as in Java.
        let Some(escaped) = chars.next() else { break };
        if escaped == 'u' {
            let hex: String = chars.by_ref().take(4).collect();
            if hex.len() != 4 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Err(format!("malformed \\uxxxx escape \"\\u{hex}\""));
            }
            units.push(u16::from_str_radix(&hex, 16).map_err(|e| e.to_string())?);
            continue;
        }
        flush(&mut units, &mut out)?;
        out.push(match escaped {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\u{c}',
            other => other,
        });
    }
    flush(&mut units, &mut out)?;
    Ok(out)
}

/// Which names and validators of the table [`Props`] reads by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// `server.properties`: broker key names.
    Broker,
    /// A topic's overrides: topic key names and their validators.
    Topic,
}

/// Typed read access to raw properties by table entry, at one [`Level`].
/// It records which keys were asked for, so whatever is left over can be
/// reported as unknown without a second list of key names to keep in step
/// with the parser.
struct Props<'a> {
    raw: &'a BTreeMap<String, String>,
    level: Level,
    read: RefCell<BTreeSet<&'static str>>,
}

impl<'a> Props<'a> {
    fn broker(raw: &'a BTreeMap<String, String>) -> Self {
        Self::new(raw, Level::Broker)
    }

    fn topic(raw: &'a BTreeMap<String, String>) -> Self {
        Self::new(raw, Level::Topic)
    }

    fn new(raw: &'a BTreeMap<String, String>, level: Level) -> Self {
        Props {
            raw,
            level,
            read: RefCell::new(BTreeSet::new()),
        }
    }

    /// The key's name and validator at this level.
    fn spec(&self, key: &ConfigKey) -> (&'static str, Validator) {
        match self.level {
            Level::Broker => (key.name, key.validator),
            Level::Topic => (key.topic_name(), key.topic_validator()),
        }
    }

    /// The trimmed value of `key`, if set (Kafka trims every value), or
    /// else its default; `None` if it has neither.
    fn raw(&self, key: &ConfigKey, or_default: bool) -> Option<&'a str> {
        let (name, _) = self.spec(key);
        self.read.borrow_mut().insert(name);
        let default = match self.level {
            Level::Broker => key.default,
            Level::Topic => key.topic_default(),
        };
        match self.raw.get(name) {
            Some(value) => Some(value.trim()),
            None if or_default => default,
            None => None,
        }
    }

    /// Reads `key` with `parse`, falling back to its table default; a key
    /// with neither is missing (`zookeeper.connect`).
    fn or_default<T>(
        &self,
        key: &ConfigKey,
        parse: impl Fn(&'static str, &'a str, Validator) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        let (name, validator) = self.spec(key);
        let raw = self
            .raw(key, true)
            .ok_or(ConfigError::Missing { key: name })?;
        parse(name, raw, validator)
    }

    /// Reads `key` with `parse` if it is set.
    fn optional<T>(
        &self,
        key: &ConfigKey,
        parse: impl Fn(&'static str, &'a str, Validator) -> Result<T, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        let (name, validator) = self.spec(key);
        self.raw(key, false)
            .map(|raw| parse(name, raw, validator))
            .transpose()
    }

    fn string(&self, key: &ConfigKey) -> Result<Option<&'a str>, ConfigError> {
        self.optional(key, parse_string)
    }

    fn string_or_default(&self, key: &ConfigKey) -> Result<&'a str, ConfigError> {
        self.or_default(key, parse_string)
    }

    /// An integer of the key's Kafka type (`SHORT`, `INT`, `LONG`) within
    /// its validator's range, as `T`.
    fn number<T: TryFrom<i64>>(&self, key: &ConfigKey) -> Result<Option<T>, ConfigError> {
        self.optional(key, |name, raw, validator| {
            parse_number(name, raw, key.config_type, validator)
        })
    }

    fn number_or_default<T: TryFrom<i64>>(&self, key: &ConfigKey) -> Result<T, ConfigError> {
        self.or_default(key, |name, raw, validator| {
            parse_number(name, raw, key.config_type, validator)
        })
    }

    fn boolean(&self, key: &ConfigKey) -> Result<Option<bool>, ConfigError> {
        self.optional(key, |name, raw, _| parse_boolean(name, raw))
    }

    fn boolean_or_default(&self, key: &ConfigKey) -> Result<bool, ConfigError> {
        self.or_default(key, |name, raw, _| parse_boolean(name, raw))
    }

    fn double(&self, key: &ConfigKey) -> Result<Option<f64>, ConfigError> {
        self.optional(key, parse_double)
    }

    /// A comma-separated `LIST`, each item checked by the validator.
    fn list(&self, key: &ConfigKey) -> Result<Option<Vec<&'a str>>, ConfigError> {
        self.optional(key, |name, raw, validator| {
            raw.split(',')
                .map(|item| {
                    check_one_of(name, raw, item.trim(), validator)?;
                    Ok(item.trim())
                })
                .collect()
        })
    }

    /// The keys present but never asked for.
    fn unread(&self) -> Vec<&'a str> {
        let read = self.read.borrow();
        self.raw
            .keys()
            .map(String::as_str)
            .filter(|k| !read.contains(k))
            .collect()
    }
}

/// A `STRING`, checked by a one-of validator if it has one.
fn parse_string<'a>(
    name: &'static str,
    raw: &'a str,
    validator: Validator,
) -> Result<&'a str, ConfigError> {
    check_one_of(name, raw, raw, validator)?;
    Ok(raw)
}

/// Kafka's `ValidString`/`ValidList` check of one `item` of `raw`.
fn check_one_of(
    name: &'static str,
    raw: &str,
    item: &str,
    validator: Validator,
) -> Result<(), ConfigError> {
    match validator {
        Validator::OneOf(values) if !values.contains(&item) => Err(invalid(
            name,
            raw,
            format!("String must be one of: {}", values.join(", ")),
        )),
        Validator::Only { value, why } if item != value => {
            Err(invalid(name, raw, format!("{value} ({why})")))
        }
        _ => Ok(()),
    }
}

/// Kafka's `ConfigDef` parsing of a `SHORT`, `INT` or `LONG`: a value the
/// type cannot hold is "Not a number", one outside the validator's range
/// says which bound.
fn parse_number<T: TryFrom<i64>>(
    name: &'static str,
    raw: &str,
    config_type: ConfigType,
    validator: Validator,
) -> Result<T, ConfigError> {
    let type_range = match config_type {
        ConfigType::Short => i128::from(i16::MIN)..=i128::from(i16::MAX),
        ConfigType::Int => i128::from(i32::MIN)..=i128::from(i32::MAX),
        _ => i128::from(i64::MIN)..=i128::from(i64::MAX),
    };
    let not_a_number = || {
        invalid(
            name,
            raw,
            format!("Not a number of type {}", config_type.name()),
        )
    };
    let value = raw
        .parse::<i128>()
        .ok()
        .filter(|v| type_range.contains(v))
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(not_a_number)?;
    // Exact: every bound is a small integer, and i64 to f64 keeps order.
    check_range(name, raw, value as f64, validator)?;
    T::try_from(value).map_err(|_| not_a_number())
}

/// `true` or `false`, case-insensitively as in Kafka.
fn parse_boolean(name: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(
            name,
            raw,
            "Expected value to be either true or false",
        )),
    }
}

/// A Kafka `DOUBLE` within its validator's range; NaN is below any range.
fn parse_double(name: &'static str, raw: &str, validator: Validator) -> Result<f64, ConfigError> {
    let value = raw
        .parse::<f64>()
        .map_err(|_| invalid(name, raw, "Not a number of type DOUBLE"))?;
    check_range(name, raw, value, validator)?;
    Ok(value)
}

/// Kafka's `Range` validator, worded as its `ConfigException`.
fn check_range(
    name: &'static str,
    raw: &str,
    value: f64,
    validator: Validator,
) -> Result<(), ConfigError> {
    let Validator::Range { min, max } = validator else {
        return Ok(());
    };
    if let Some(min) = min {
        if value.is_nan() || value < min as f64 {
            return Err(invalid(name, raw, format!("Value must be at least {min}")));
        }
    }
    if let Some(max) = max {
        if value > max as f64 {
            return Err(invalid(
                name,
                raw,
                format!("Value must be no more than {max}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Kafka's `Int.MaxValue`, the upper bound of every `INT` config.
    const INT_MAX: u32 = i32::MAX as u32;

    const ZK: &str = "zookeeper.connect=localhost:2181\n";

    fn parse(extra: &str) -> Result<KafkaConfig, ConfigError> {
        KafkaConfig::parse(&format!("{ZK}{extra}"))
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn listener(name: &str, host: &str, port: u16) -> Listener {
        Listener {
            name: name.into(),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn defaults_with_only_zookeeper_connect() {
        let c = parse("").unwrap();
        assert_eq!(c.broker_id, None);
        assert_eq!(c.reserved_broker_max_id, 1000);
        assert_eq!(c.listeners, vec![listener("PLAINTEXT", "", 9092)]);
        assert_eq!(c.advertised_listeners, c.listeners);
        assert_eq!(c.inter_broker_listener_name, "PLAINTEXT");
        assert_eq!(c.log_dirs, vec![PathBuf::from("/tmp/kafka-logs")]);
        assert_eq!(c.zookeeper_connect, "localhost:2181");
        assert_eq!(c.zookeeper_session_timeout_ms, 18_000);
        assert_eq!(c.zookeeper_connection_timeout_ms, 18_000);
        assert_eq!(c.num_partitions, 1);
        assert_eq!(c.default_replication_factor, 1);
        assert!(c.auto_create_topics_enable);
        assert!(c.delete_topic_enable);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
        assert_eq!(c.max_connections, 2_147_483_647);
        assert_eq!(c.queued_max_requests, 500);
        assert_eq!(c.broker_rack, None);
        assert!(c.controlled_shutdown_enable);
        assert!(c.auto_leader_rebalance_enable);
        assert!(!c.unclean_leader_election_enable);
        assert_eq!(c.log_config().min_insync_replicas, 1);
        assert_eq!(c.replica_lag_time_max_ms, 30_000);
        assert_eq!(c.replica_fetch_max_bytes, 1_048_576);
        assert_eq!(c.num_replica_fetchers, 1);
        assert_eq!(c.replica_fetch_wait_max_ms, 500);
        assert_eq!(c.replica_fetch_min_bytes, 1);
        assert_eq!(c.replica_fetch_response_max_bytes, 10_485_760);
        assert_eq!(c.replica_fetch_backoff_ms, 1000);
        assert_eq!(c.offsets_topic_num_partitions, 50);
        assert_eq!(c.offsets_topic_replication_factor, 3);
        assert_eq!(c.offsets_topic_segment_bytes, 104_857_600);
        assert_eq!(c.offsets_load_buffer_size, 5_242_880);
        assert_eq!(c.offset_metadata_max_bytes, 4096);
        assert_eq!(c.offsets_retention_minutes, 10_080);
        assert_eq!(c.offsets_retention_check_interval_ms, 600_000);
        assert_eq!(c.offsets_commit_timeout_ms, 5000);
        assert_eq!(c.group_initial_rebalance_delay_ms, 3000);
        assert_eq!(c.group_min_session_timeout_ms, 6000);
        assert_eq!(c.group_max_session_timeout_ms, 1_800_000);
        assert_eq!(c.group_max_size, INT_MAX);
        assert_eq!(c.log_retention_check_interval_ms, 300_000);
        assert_eq!(c.log_flush_scheduler_interval_ms, None);
        assert_eq!(c.log_flush_offset_checkpoint_interval_ms, 60_000);
        assert_eq!(c.log_flush_start_offset_checkpoint_interval_ms, 60_000);
        assert_eq!(c.replica_high_watermark_checkpoint_interval_ms, 5000);
        assert_eq!(c.request_timeout_ms, 30_000);
        assert_eq!(c.log_config(), LogConfig::default());
        assert_eq!(c.log_config().max_message_bytes, 1_048_588);
    }

    #[test]
    fn properties_syntax() {
        let text = "# comment\n  ! also a comment\n\n  a = 1  \nb: 2\nc 3\nd=x=y\ne=\n\
                    long = one, \\\n       two\nesc\\=key = tab\\there \\u00e9\\uD83D\\uDE00\r\n";
        let props = parse_properties(text).unwrap();
        assert_eq!(
            props,
            map(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "x=y"),
                ("e", ""),
                ("long", "one, two"),
                ("esc=key", "tab\there é😀"),
            ])
        );
    }

    #[test]
    fn properties_continuation_and_escaped_backslash() {
        let props = parse_properties("a=x\\\\\nb=y\\\n# not a comment\nc=z\\").unwrap();
        assert_eq!(
            props,
            map(&[("a", "x\\"), ("b", "y# not a comment"), ("c", "z")])
        );
    }

    #[test]
    fn malformed_unicode_escape_names_the_line() {
        let err = parse_properties("a=1\nb=\\u12").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
        let err = parse_properties("a=\\uD83D").unwrap_err();
        assert!(err.to_string().contains("surrogate"), "{err}");
    }

    #[test]
    fn log_dirs_wins_over_log_dir() {
        let c = parse("log.dir=/a\nlog.dirs=/b, /c,\n").unwrap();
        assert_eq!(c.log_dirs, vec![PathBuf::from("/b"), PathBuf::from("/c")]);
        let c = parse("log.dir=/a\n").unwrap();
        assert_eq!(c.log_dirs, vec![PathBuf::from("/a")]);
        let err = parse("log.dirs= , \n").unwrap_err();
        assert!(err.to_string().contains("log.dirs"), "{err}");
    }

    #[test]
    fn retention_precedence_ms_minutes_hours() {
        let ms = |extra: &str| parse(extra).unwrap().log_config().retention_ms;
        assert_eq!(ms("log.retention.hours=2\n"), Some(2 * 3_600_000));
        assert_eq!(
            ms("log.retention.hours=2\nlog.retention.minutes=3\n"),
            Some(180_000)
        );
        assert_eq!(
            ms("log.retention.hours=2\nlog.retention.minutes=3\nlog.retention.ms=42\n"),
            Some(42)
        );
        assert_eq!(ms("log.retention.ms=-1\nlog.retention.hours=2\n"), None);
        assert_eq!(ms("log.retention.minutes=-1\n"), None);
        assert_eq!(ms("log.retention.hours=-1\n"), None);
        assert_eq!(ms("log.retention.ms=0\n"), Some(0));
    }

    #[test]
    fn roll_flush_and_size_precedence() {
        let log = parse("log.roll.hours=1\n").unwrap().log_config();
        assert_eq!(log.segment_ms, 3_600_000);
        let log = parse("log.roll.hours=1\nlog.roll.ms=5000\n")
            .unwrap()
            .log_config();
        assert_eq!(log.segment_ms, 5000);

        let log = parse("log.retention.bytes=-1\n").unwrap().log_config();
        assert_eq!(log.retention_bytes, None);
        let log = parse("log.retention.bytes=1000\n").unwrap().log_config();
        assert_eq!(log.retention_bytes, Some(1000));

        let c = parse("log.flush.scheduler.interval.ms=2000\n").unwrap();
        assert_eq!(c.log_flush_scheduler_interval_ms, Some(2000));
        assert_eq!(c.log_config().flush_ms, Some(2000));
        let log = parse("log.flush.scheduler.interval.ms=2000\nlog.flush.interval.ms=7\n")
            .unwrap()
            .log_config();
        assert_eq!(log.flush_ms, Some(7));
        let log = parse("log.flush.interval.messages=9223372036854775807\n")
            .unwrap()
            .log_config();
        assert_eq!(log.flush_messages, None);
        let log = parse("log.flush.interval.messages=10000\n")
            .unwrap()
            .log_config();
        assert_eq!(log.flush_messages, Some(10_000));
    }

    #[test]
    fn broker_log_keys_map_onto_log_config() {
        let log = parse(
            "log.segment.bytes=1024\nlog.index.size.max.bytes=4096\nlog.index.interval.bytes=1\n\
             message.max.bytes=2000\nlog.segment.delete.delay.ms=0\nmin.insync.replicas=2\n",
        )
        .unwrap()
        .log_config();
        assert_eq!(log.min_insync_replicas, 2);
        assert_eq!(log.segment_bytes, 1024);
        assert_eq!(log.segment_index_bytes, 4096);
        assert_eq!(log.index_interval_bytes, 1);
        assert_eq!(log.max_message_bytes, 2000);
        assert_eq!(log.file_delete_delay_ms, 0);
    }

    #[test]
    fn transactional_id_expiration_ms_expires_producers_of_every_log() {
        let c = parse("").unwrap();
        assert_eq!(c.log_config().producer_id_expiration_ms, 604_800_000);
        let c = parse("transactional.id.expiration.ms=1000\n").unwrap();
        assert_eq!(c.log_config().producer_id_expiration_ms, 1000);
        assert!(parse("transactional.id.expiration.ms=0\n").is_err());
        // No topic can override it.
        let overrides = BTreeMap::from([("segment.ms".to_owned(), "5".to_owned())]);
        let topic = topic_log_config(&c.log_config(), &overrides).unwrap();
        assert_eq!(topic.producer_id_expiration_ms, 1000);
    }

    #[test]
    fn cleaner_keys_map_onto_the_cleaner_and_log_configs() {
        let c = parse("").unwrap();
        assert_eq!(c.log_cleaner, CleanerConfig::default());
        assert_eq!(
            (
                c.log_cleaner.threads,
                c.log_cleaner.backoff_ms,
                c.log_cleaner.dedupe_buffer_size
            ),
            (1, 15_000, 134_217_728)
        );
        let c = parse(
            "log.cleaner.enable=false\nlog.cleaner.threads=3\nlog.cleaner.backoff.ms=5\n\
             log.cleaner.dedupe.buffer.size=1048576\nlog.cleaner.io.buffer.size=4096\n\
             log.cleanup.policy=compact,delete\nlog.cleaner.min.cleanable.ratio=0.25\n\
             log.cleaner.delete.retention.ms=10\nlog.cleaner.min.compaction.lag.ms=20\n\
             log.cleaner.max.compaction.lag.ms=30\n",
        )
        .unwrap();
        assert_eq!(
            c.log_cleaner,
            CleanerConfig {
                enable: false,
                threads: 3,
                backoff_ms: 5,
                dedupe_buffer_size: 1_048_576,
                io_buffer_size: 4096,
            }
        );
        let log = c.log_config();
        assert_eq!(
            log.cleanup_policy,
            CleanupPolicy {
                compact: true,
                delete: true
            }
        );
        assert_eq!(
            (
                log.min_cleanable_dirty_ratio,
                log.delete_retention_ms,
                log.min_compaction_lag_ms,
                log.max_compaction_lag_ms
            ),
            (0.25, 10, 20, 30)
        );
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let err = parse("broker.id=abc\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value abc for configuration broker.id: Not a number of type INT"
        );
        // Kafka's ConfigDef wording, which AdminClient users see.
        let err = parse(
            "broker.id=0
num.partitions=0
",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value 0 for configuration num.partitions: Value must be at least 1"
        );
        let cases = [
            ("broker.id=1001\n", "broker.id"),
            ("broker.id=-2\n", "broker.id"),
            ("num.partitions=0\n", "num.partitions"),
            ("num.partitions=-5\n", "num.partitions"),
            ("num.partitions=2147483648\n", "num.partitions"),
            (
                "auto.create.topics.enable=yes\n",
                "auto.create.topics.enable",
            ),
            ("log.segment.bytes=13\n", "log.segment.bytes"),
            ("log.retention.hours=1.5\n", "log.retention.hours"),
            ("log.cleaner.threads=-1\n", "log.cleaner.threads"),
            ("log.cleanup.policy=none\n", "log.cleanup.policy"),
            (
                "log.cleaner.min.cleanable.ratio=2\n",
                "log.cleaner.min.cleanable.ratio",
            ),
            (
                "zookeeper.session.timeout.ms=\n",
                "zookeeper.session.timeout.ms",
            ),
            (
                "offsets.topic.replication.factor=40000\n",
                "offsets.topic.replication.factor",
            ),
            ("listeners=PLAINTEXT:/:9092\n", "listeners"),
            ("listeners=PLAINTEXT://host name:9092\n", "listeners"),
            ("listeners=PLAINTEXT://:70000\n", "listeners"),
            ("listeners=A://:1,a://:2\n", "listeners"),
            ("advertised.listeners=OTHER://h:1\n", "advertised.listeners"),
            (
                "advertised.listeners=PLAINTEXT://0.0.0.0:9092\n",
                "advertised.listeners",
            ),
            (
                "inter.broker.listener.name=INTERNAL\n",
                "inter.broker.listener.name",
            ),
            (
                "replica.lag.time.max.ms=400\nreplica.fetch.wait.max.ms=401\n",
                "replica.fetch.wait.max.ms",
            ),
        ];
        for (line, key) in cases {
            let err = parse(line).unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidValue { key: k, .. } if *k == key),
                "{line}: {err}"
            );
            assert!(err.to_string().contains(key), "{err}");
        }
        let err = parse("broker.id=1001\n").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("broker.id: Value must be no more than 1000"),
            "{err}"
        );
    }

    #[test]
    fn zookeeper_connect_is_required_and_validated() {
        let err = KafkaConfig::parse("broker.id=1\n").unwrap_err();
        assert_eq!(err.to_string(), "missing required config zookeeper.connect");
        for bad in ["", "h1:2181,", "h:2181/chroot/", "h:2181/a//b"] {
            let err = KafkaConfig::from_map(map(&[("zookeeper.connect", bad)])).unwrap_err();
            assert!(
                err.to_string().contains("zookeeper.connect"),
                "{bad:?}: {err}"
            );
        }
    }

    /// Every supported key, set to a valid non-default value.
    const EVERY_KEY: &str = "broker.id=5\nreserved.broker.max.id=2000\n\
        listeners=PLAINTEXT://:9000,INTERNAL://:9001\n\
        advertised.listeners=PLAINTEXT://a:9000,INTERNAL://b:9001\n\
        listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT\n\
        inter.broker.listener.name=INTERNAL\nlog.dir=/a\nlog.dirs=/b\n\
        zookeeper.session.timeout.ms=1\nzookeeper.connection.timeout.ms=2\n\
        num.partitions=3\ndefault.replication.factor=3\nauto.create.topics.enable=false\n\
        delete.topic.enable=false\nsocket.request.max.bytes=1\nmax.connections=1\n\
        queued.max.requests=1\nbroker.rack=r\ncontrolled.shutdown.enable=false\n\
        auto.leader.rebalance.enable=false\nunclean.leader.election.enable=true\n\
        min.insync.replicas=2\nreplica.lag.time.max.ms=1\nreplica.fetch.max.bytes=1\n\
        num.replica.fetchers=2\nreplica.fetch.wait.max.ms=1\nreplica.fetch.min.bytes=2\n\
        replica.fetch.response.max.bytes=3\nreplica.fetch.backoff.ms=4\n\
        offsets.topic.num.partitions=1\n\
        offsets.topic.replication.factor=1\ngroup.initial.rebalance.delay.ms=0\n\
        offsets.topic.segment.bytes=1\noffsets.load.buffer.size=1\noffset.metadata.max.bytes=1\n\
        offsets.retention.minutes=1\noffsets.retention.check.interval.ms=1\n\
        offsets.commit.timeout.ms=1\n\
        group.min.session.timeout.ms=1\ngroup.max.session.timeout.ms=1\n\
        log.retention.check.interval.ms=1\nlog.flush.scheduler.interval.ms=1\n\
        log.flush.offset.checkpoint.interval.ms=1\n\
        log.flush.start.offset.checkpoint.interval.ms=1\n\
        replica.high.watermark.checkpoint.interval.ms=1\nrequest.timeout.ms=1\n\
        log.segment.bytes=100\nlog.roll.ms=1\nlog.roll.hours=1\n\
        log.index.size.max.bytes=8\nlog.index.interval.bytes=1\nlog.retention.ms=1\n\
        log.retention.minutes=1\nlog.retention.hours=1\nlog.retention.bytes=1\n\
        log.flush.interval.messages=1\nlog.flush.interval.ms=1\nmessage.max.bytes=1\n\
        log.segment.delete.delay.ms=1\nlog.cleanup.policy=compact\n\
        log.cleaner.min.cleanable.ratio=0.1\nlog.cleaner.delete.retention.ms=1\n\
        log.cleaner.min.compaction.lag.ms=1\nlog.cleaner.max.compaction.lag.ms=2\n\
        log.cleaner.enable=false\nlog.cleaner.threads=2\n\
        log.cleaner.backoff.ms=1\nlog.cleaner.dedupe.buffer.size=1\n\
        log.cleaner.io.buffer.size=1\n";

    #[test]
    fn every_supported_key_is_known() {
        let props = parse_properties(&format!("{ZK}{EVERY_KEY}")).unwrap();
        let p = Props::broker(&props);
        let config = KafkaConfig::from_props(&p).unwrap();
        assert_eq!(p.unread(), Vec::<&str>::new());
        assert_ne!(config, parse("").unwrap());
    }

    /// The table and the parser agree: the broker keys gregor reads are
    /// exactly those the table marks as read, each set to its table default
    /// changes nothing, and every topic key gregor acts on is accepted at
    /// its default while the others are refused as unknown.
    #[test]
    fn the_parser_reads_what_the_table_says() {
        let reads: Vec<&ConfigKey> = keys::broker_keys()
            .filter(|k| k.gregor == keys::Use::Reads)
            .collect();
        let props = parse_properties(ZK).unwrap();
        let p = Props::broker(&props);
        let defaults = KafkaConfig::from_props(&p).unwrap();
        let read: BTreeSet<&str> = p.read.borrow().iter().copied().collect();
        let marked: BTreeSet<&str> = reads.iter().map(|k| k.name).collect();
        assert_eq!(read, marked);

        let every_default: String = reads
            .iter()
            .filter_map(|k| Some(format!("{}={}\n", k.name, k.default?)))
            .collect();
        let props = parse_properties(&format!("{ZK}{every_default}")).unwrap();
        assert_eq!(
            KafkaConfig::from_props(&Props::broker(&props)).unwrap(),
            defaults
        );

        let base = LogConfig::default();
        for key in keys::topic_keys() {
            let name = key.topic_name();
            let default = key.topic_default();
            let result = topic_log_config(&base, &map(&[(name, default.unwrap_or("1"))]));
            match key.gregor {
                keys::Use::Ignores => assert!(
                    matches!(&result, Err(ConfigError::UnknownTopicConfig(k)) if k == name),
                    "{name}: {result:?}"
                ),
                _ if default.is_some() => assert_eq!(result.unwrap(), base, "{name}"),
                _ => assert!(result.is_ok(), "{name}: {result:?}"),
            }
        }
    }

    #[test]
    fn unknown_key_is_accepted() {
        let text = format!("{ZK}some.future.key=1\nnum.network.threads=3\nbroker.id=7\n");
        let c = KafkaConfig::parse(&text).unwrap();
        assert_eq!(c.broker_id, Some(7));

        let props = parse_properties(&text).unwrap();
        let p = Props::broker(&props);
        KafkaConfig::from_props(&p).unwrap();
        assert_eq!(p.unread(), ["num.network.threads", "some.future.key"]);
    }

    #[test]
    fn listeners_parsing() {
        let c = parse(
            "listeners=PLAINTEXT://127.0.0.1:9092, other://:9093\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT\n",
        )
        .unwrap();
        assert_eq!(
            c.listeners,
            vec![
                listener("PLAINTEXT", "127.0.0.1", 9092),
                listener("OTHER", "", 9093)
            ]
        );
        assert_eq!(c.advertised_listeners, c.listeners);

        let c = parse("listeners=PLAINTEXT://[::1]:9092\n").unwrap();
        assert_eq!(c.listeners, vec![listener("PLAINTEXT", "::1", 9092)]);
        assert_eq!(c.listeners[0].to_string(), "PLAINTEXT://[::1]:9092");

        let c = parse(
            "listeners=INTERNAL://:9092,EXTERNAL://:9093\n\
             advertised.listeners=INTERNAL://broker1:9092,EXTERNAL://example.com:19093\n\
             listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT\n\
             inter.broker.listener.name=INTERNAL\n",
        )
        .unwrap();
        assert_eq!(c.listeners[1], listener("EXTERNAL", "", 9093));
        assert_eq!(
            c.advertised_listeners[1].to_string(),
            "EXTERNAL://example.com:19093"
        );
        assert_eq!(c.inter_broker_listener_name, "INTERNAL");
    }

    #[test]
    fn listener_security_protocol_map() {
        let c = parse("").unwrap();
        assert_eq!(c.listener_security_protocol_map.len(), 4);
        assert_eq!(
            c.listener_security_protocol_map.get("SASL_SSL"),
            Some(&SecurityProtocol::SaslSsl)
        );

        // Names are normalised to upper case, as in `listeners`.
        let c = parse(
            "listeners=internal://:9092,External://:9093\n\
             listener.security.protocol.map=Internal:plaintext, EXTERNAL:PLAINTEXT\n\
             inter.broker.listener.name=INTERNAL\n",
        )
        .unwrap();
        assert_eq!(
            c.listener_security_protocol_map,
            BTreeMap::from([
                ("EXTERNAL".to_owned(), SecurityProtocol::Plaintext),
                ("INTERNAL".to_owned(), SecurityProtocol::Plaintext),
            ])
        );

        for (extra, why) in [
            // A listener name without a protocol (Kafka refuses it too).
            (
                "listeners=INTERNAL://:9092\ninter.broker.listener.name=INTERNAL\n",
                "INTERNAL",
            ),
            // A protocol gregor does not serve.
            (
                "listeners=PLAINTEXT://:9092,SSL://:9093\n",
                "does not support SSL",
            ),
            (
                "listener.security.protocol.map=PLAINTEXT:SASL_PLAINTEXT\n",
                "does not support SASL_PLAINTEXT",
            ),
            (
                "listener.security.protocol.map=PLAINTEXT:TLS\n",
                "protocols among",
            ),
            (
                "listener.security.protocol.map=PLAINTEXT\n",
                "NAME:PROTOCOL",
            ),
            (
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,plaintext:PLAINTEXT\n",
                "once",
            ),
        ] {
            let err = parse(extra).unwrap_err();
            assert!(err.to_string().contains(why), "{extra}: {err}");
        }
    }

    #[test]
    fn zookeeper_chroot_split() {
        let c =
            KafkaConfig::from_map(map(&[("zookeeper.connect", "h1:2181,h2:2181/gregor")])).unwrap();
        assert_eq!(c.zookeeper_hosts(), "h1:2181,h2:2181");
        assert_eq!(c.zookeeper_chroot(), Some("/gregor"));
        assert_eq!(split_chroot("h:1/a/b"), ("h:1", Some("/a/b")));
        assert_eq!(split_chroot("h:1/"), ("h:1", None));
        assert_eq!(split_chroot("h:1"), ("h:1", None));
        assert_eq!(
            split_chroot("h1:2181,h2:2181/gregor"),
            ("h1:2181,h2:2181", Some("/gregor"))
        );
    }

    #[test]
    fn zookeeper_connection_timeout_follows_session_timeout() {
        let c = parse("zookeeper.session.timeout.ms=6000\n").unwrap();
        assert_eq!(c.zookeeper_connection_timeout_ms, 6000);
        let c = parse("zookeeper.session.timeout.ms=6000\nzookeeper.connection.timeout.ms=100\n")
            .unwrap();
        assert_eq!(c.zookeeper_connection_timeout_ms, 100);
    }

    #[test]
    fn overrides_win_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.properties");
        std::fs::write(&path, format!("{ZK}broker.id=1\nnum.partitions=3\n")).unwrap();

        let c = KafkaConfig::from_file(&path).unwrap();
        assert_eq!((c.broker_id, c.num_partitions), (Some(1), 3));

        let c = KafkaConfig::load(&path, &["broker.id=2", "broker.id = 4", "log.dirs=/x"]).unwrap();
        assert_eq!((c.broker_id, c.num_partitions), (Some(4), 3));
        assert_eq!(c.log_dirs, vec![PathBuf::from("/x")]);

        let err = KafkaConfig::load(&path, &["broker.id"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid override \"broker.id\": expected key=value"
        );
        assert!(matches!(
            KafkaConfig::load(&path, &["=1"]),
            Err(ConfigError::InvalidOverride(_))
        ));
        let err = KafkaConfig::from_file(dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, ConfigError::Io { .. }), "{err}");
    }

    #[test]
    fn from_str_matches_parse() {
        let c: KafkaConfig = format!("{ZK}broker.rack=r1\n").parse().unwrap();
        assert_eq!(c.broker_rack.as_deref(), Some("r1"));
    }

    #[test]
    fn topic_overrides_layer_on_base() {
        let base = LogConfig::default();
        let log = topic_log_config(
            &base,
            &map(&[
                ("segment.bytes", "1048576"),
                ("retention.ms", "-1"),
                ("retention.bytes", "5000"),
                ("flush.messages", "1"),
                ("max.message.bytes", "10"),
                ("min.insync.replicas", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(
            log,
            LogConfig {
                segment_bytes: 1_048_576,
                retention_ms: None,
                retention_bytes: Some(5000),
                flush_messages: Some(1),
                max_message_bytes: 10,
                min_insync_replicas: 2,
                ..base.clone()
            }
        );
        assert_eq!(topic_log_config(&log, &BTreeMap::new()).unwrap(), log);
        let unclean = map(&[("unclean.leader.election.enable", "true")]);
        assert_eq!(topic_log_config(&log, &unclean).unwrap(), log);
    }

    #[test]
    fn topic_overrides_are_validated() {
        let base = LogConfig::default();
        let err = topic_log_config(&base, &map(&[("cleanup.polic", "compact")])).unwrap_err();
        assert_eq!(err.to_string(), "Unknown topic config name: cleanup.polic");
        for (policy, compact, delete) in [
            ("compact", true, false),
            ("delete", false, true),
            ("compact, delete", true, true),
        ] {
            let config = topic_log_config(&base, &map(&[("cleanup.policy", policy)])).unwrap();
            assert_eq!(config.cleanup_policy, CleanupPolicy { compact, delete });
        }
        // What Kafka sets on __consumer_offsets, and gregor does anyway.
        let keep = topic_log_config(&base, &map(&[("compression.type", "producer")])).unwrap();
        assert_eq!(keep, base);
        for (key, value) in [
            ("cleanup.policy", "compacted"),
            ("cleanup.policy", ""),
            ("min.cleanable.dirty.ratio", "1.5"),
            ("min.cleanable.dirty.ratio", "NaN"),
            ("delete.retention.ms", "-1"),
            ("min.compaction.lag.ms", "-1"),
            ("max.compaction.lag.ms", "0"),
            ("segment.bytes", "13"),
            ("segment.ms", "0"),
            ("segment.index.bytes", "3"),
            ("index.interval.bytes", "-1"),
            ("retention.ms", "-2"),
            ("flush.messages", "0"),
            ("flush.ms", "-1"),
            ("max.message.bytes", "x"),
            ("file.delete.delay.ms", "-1"),
            ("min.insync.replicas", "0"),
            ("unclean.leader.election.enable", "yes"),
            ("compression.type", "gzip"),
            ("compression.type", "Producer"),
        ] {
            let err = topic_log_config(&base, &map(&[(key, value)])).unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidValue { key: k, .. } if *k == key),
                "{key}={value}: {err}"
            );
        }
        let lags = map(&[
            ("min.compaction.lag.ms", "10"),
            ("max.compaction.lag.ms", "5"),
        ]);
        let err = topic_log_config(&base, &lags).unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidValue { key, .. } if *key == "min.compaction.lag.ms"),
            "{err}"
        );
    }

    #[test]
    fn describe_lists_every_topic_key() {
        let described = describe(&LogConfig::default());
        let keys: Vec<_> = described.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "segment.bytes",
                "segment.ms",
                "segment.index.bytes",
                "index.interval.bytes",
                "retention.ms",
                "retention.bytes",
                "flush.messages",
                "flush.ms",
                "max.message.bytes",
                "file.delete.delay.ms",
                "min.insync.replicas",
                "cleanup.policy",
                "min.cleanable.dirty.ratio",
                "delete.retention.ms",
                "min.compaction.lag.ms",
                "max.compaction.lag.ms"
            ]
        );
        let value = |key: &str| {
            described
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("retention.bytes"), Some("-1"));
        assert_eq!(value("flush.ms"), Some("9223372036854775807"));
        assert_eq!(value("retention.ms"), Some("604800000"));
        assert_eq!(value("cleanup.policy"), Some("delete"));
        assert_eq!(value("min.cleanable.dirty.ratio"), Some("0.5"));
        assert_eq!(value("delete.retention.ms"), Some("86400000"));
        assert_eq!(value("min.compaction.lag.ms"), Some("0"));
        assert_eq!(value("max.compaction.lag.ms"), Some("9223372036854775807"));
    }

    fn arb_log_config() -> impl Strategy<Value = LogConfig> {
        let int = |min: u32| (min..=INT_MAX).prop_map(u64::from);
        (
            (int(14), 1..=LONG_MAX, int(4), int(0)),
            (
                proptest::option::of(0..LONG_MAX),
                proptest::option::of(0..LONG_MAX),
            ),
            (
                proptest::option::of(1..LONG_MAX),
                proptest::option::of(0..LONG_MAX),
            ),
            (0..=INT_MAX, 0..=LONG_MAX, 1..=INT_MAX),
            (
                (any::<bool>(), any::<bool>()),
                0.0..=1.0f64,
                0..=LONG_MAX,
                (0..=LONG_MAX).prop_flat_map(|min| (Just(min), min.max(1)..=LONG_MAX)),
            ),
        )
            .prop_map(
                |(
                    (segment_bytes, segment_ms, segment_index_bytes, index_interval_bytes),
                    (retention_ms, retention_bytes),
                    (flush_messages, flush_ms),
                    (max_message_bytes, file_delete_delay_ms, min_insync_replicas),
                    (
                        (compact, delete),
                        min_cleanable_dirty_ratio,
                        delete_retention_ms,
                        (min_compaction_lag_ms, max_compaction_lag_ms),
                    ),
                )| LogConfig {
                    segment_bytes,
                    segment_ms,
                    segment_index_bytes,
                    index_interval_bytes,
                    retention_ms,
                    retention_bytes,
                    flush_messages,
                    flush_ms,
                    max_message_bytes,
                    file_delete_delay_ms,
                    min_insync_replicas,
                    // A list with neither is not valid: `delete` stands in.
                    cleanup_policy: CleanupPolicy {
                        compact,
                        delete: delete || !compact,
                    },
                    min_cleanable_dirty_ratio,
                    delete_retention_ms,
                    min_compaction_lag_ms,
                    max_compaction_lag_ms,
                    // A broker key, which no topic overrides.
                    producer_id_expiration_ms: LogConfig::default().producer_id_expiration_ms,
                },
            )
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = KafkaConfig::parse(&text);
            let _ = KafkaConfig::parse(&format!("{ZK}{text}"));
        }

        #[test]
        fn parse_never_panics_on_property_like_text(
            text in "([a-z.]{1,12}[ =:]{1,2}[-+0-9a-zA-Z:/\\[\\]\\\\,.]{0,20}\n){0,8}"
        ) {
            let _ = KafkaConfig::parse(&format!("{ZK}{text}"));
        }

        #[test]
        fn describe_round_trips(config in arb_log_config()) {
            let described: BTreeMap<String, String> =
                describe(&config).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            prop_assert_eq!(topic_log_config(&LogConfig::default(), &described).unwrap(), config);
        }

        #[test]
        fn listener_display_round_trips(
            name in "[A-Z_]{1,10}",
            host in "([a-z0-9.-]{0,15}|[0-9a-f:]{2,15})",
            port in any::<u16>(),
        ) {
            let original = Listener { name, host, port };
            prop_assert_eq!(parse_listener("listeners", &original.to_string()).unwrap(), original);
        }
    }
}
