//! Kafka's `Admin` client on [`NetworkClient`]: topics, configs, consumer
//! groups and their offsets, each request sent where Kafka's
//! `KafkaAdminClient` sends it — topic creation and deletion to the
//! controller, group requests to the group's coordinator (found with
//! FindCoordinator), ListOffsets to each partition's leader, ListGroups to
//! every broker, config requests for a broker to that broker and all else
//! to any broker.
//!
//! Like Kafka's client, an operation whose request reached the wrong broker
//! (the controller or a coordinator moved, a leader is being elected) or
//! lost its connection is retried after `retry.backoff.ms` with fresh
//! metadata, until `default.api.timeout.ms` has passed; every other error
//! is returned at once, naming Kafka's error code.
//!
//! The request versions are Kafka 2.8's newest that gregor's codecs know;
//! Kafka 2.8 brokers serve all of them too.
//!
//! ```no_run
//! use gregor_client::admin::{AdminClient, AlterConfigOp, ConfigResource, NewTopic, OffsetSpec};
//! use gregor_client::ClientConfig;
//! use gregor_protocol::TopicPartition;
//!
//! # async fn example() -> Result<(), gregor_client::admin::AdminError> {
//! let mut admin = AdminClient::connect(ClientConfig::new("127.0.0.1:9092")).await?;
//!
//! // A topic of 3 partitions, 3 replicas each, compacted.
//! let orders = NewTopic::new("orders", 3, 3).with_config("cleanup.policy", "compact");
//! for (topic, result) in admin.create_topics(&[orders], false).await? {
//!     result?;
//!     println!("created {topic}");
//! }
//! for topic in admin.describe_topics(Some(&["orders".to_owned()])).await? {
//!     for p in &topic.partitions {
//!         println!("{}-{}: leader {} isr {:?}", topic.name, p.partition, p.leader, p.isr);
//!     }
//! }
//! let resource = ConfigResource::Topic("orders".into());
//! admin
//!     .alter_configs(&resource, &[AlterConfigOp::Set("retention.ms".into(), "60000".into())], false)
//!     .await?;
//!
//! // How far behind is group "billing"?
//! let committed = admin.list_consumer_group_offsets("billing").await?;
//! let specs: Vec<_> = committed.keys().map(|tp| (tp.clone(), OffsetSpec::Latest)).collect();
//! let ends = admin.list_offsets(&specs).await?;
//! for (tp, offset) in &committed {
//!     println!("{tp}: lag {}", ends[tp].offset - offset);
//! }
//! # Ok(())
//! # }
//! ```

mod configs;
mod groups;
mod offsets;
mod topics;

use std::time::Duration;

use log::debug;
use thiserror::Error;

use super::connection::ClientError;
use super::network::{ClientConfig, ClusterMetadata, NetworkClient};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_runtime::Backoff;

pub use configs::{AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource};
pub use groups::{GroupDescription, GroupListing, MemberDescription};
pub use offsets::{ListedOffset, OffsetSpec};
pub use topics::{NewTopic, TopicListing};

/// Kafka's default `default.api.timeout.ms` (60000): how long an operation
/// is retried, in all.
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_millis(60_000);
/// Kafka's default `retry.backoff.ms` (100): the pause before a retry.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Errors that a retry with fresh metadata or a fresh coordinator can cure:
/// the request went to a broker that is no longer the one to ask.
const ROUTING_ERRORS: &[ErrorCode] = &[
    ErrorCode::NOT_CONTROLLER,
    ErrorCode::NOT_COORDINATOR,
    ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode::NOT_LEADER_OR_FOLLOWER,
    ErrorCode::LEADER_NOT_AVAILABLE,
];

/// Why an admin operation failed.
#[derive(Debug, Error)]
pub enum AdminError {
    /// No usable answer (connection refused, timed out, undecodable).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A broker refused the operation; the code is named as in Kafka's
    /// `Errors` (`TOPIC_ALREADY_EXISTS`, ...), followed by the broker's
    /// message if it gave one.
    #[error("{context}: {code:?}{}", message_suffix(.message))]
    Broker {
        context: String,
        code: ErrorCode,
        message: Option<String>,
    },
    /// Metadata names no controller (an election is under way).
    #[error("the cluster has no controller right now")]
    NoController,
    /// The partition has no leader to ask (an election is under way), or
    /// the cluster does not know it.
    #[error("partition {0} has no leader")]
    NoLeader(TopicPartition),
    /// Offsets of a group with members are theirs to commit; Kafka's
    /// `kafka-consumer-groups.sh` refuses the same way.
    #[error(
        "Assignments can only be reset if the group '{group}' is inactive, \
         but the current state is {state}."
    )]
    GroupNotInactive { group: String, state: String },
}

fn message_suffix(message: &Option<String>) -> String {
    match message.as_deref() {
        Some(text) if !text.is_empty() => format!(": {text}"),
        _ => String::new(),
    }
}

impl AdminError {
    /// The Kafka error code the broker answered, if that is what failed.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            AdminError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn is_retriable(&self) -> bool {
        match self {
            AdminError::Client(e) => !matches!(e, ClientError::Encode(_) | ClientError::Decode(_)),
            AdminError::Broker { code, .. } => ROUTING_ERRORS.contains(code),
            AdminError::NoController | AdminError::NoLeader(_) => true,
            AdminError::GroupNotInactive { .. } => false,
        }
    }
}

/// `Ok` for error code 0, else the error with `context` (built only then).
fn check(
    code: i16,
    message: Option<String>,
    context: impl FnOnce() -> String,
) -> Result<(), AdminError> {
    match ErrorCode::from_code(code) {
        ErrorCode::NONE => Ok(()),
        code => Err(AdminError::Broker {
            context: context(),
            code,
            message,
        }),
    }
}

/// One outcome per item of a request that acts on several (topics,
/// groups), in request order.
pub type Outcomes = Vec<(String, Result<(), AdminError>)>;

/// An administrative client of one cluster.
#[derive(Debug)]
pub struct AdminClient {
    network: NetworkClient,
    /// `default.api.timeout.ms`.
    api_timeout: Duration,
}

impl AdminClient {
    /// Connects to the cluster (see [`NetworkClient::connect`]: when no
    /// bootstrap server answers, the error names each address).
    pub async fn connect(config: ClientConfig) -> Result<AdminClient, AdminError> {
        Ok(AdminClient::new(NetworkClient::connect(config).await?))
    }

    /// An admin client over an existing connection to the cluster.
    pub fn new(network: NetworkClient) -> AdminClient {
        AdminClient {
            network,
            api_timeout: DEFAULT_API_TIMEOUT,
        }
    }

    /// Sets `default.api.timeout.ms`.
    pub fn with_api_timeout(mut self, timeout: Duration) -> AdminClient {
        self.api_timeout = timeout;
        self
    }

    /// The brokers, the controller and the cluster id, asked afresh
    /// (Kafka's `describeCluster`).
    pub async fn describe_cluster(&mut self) -> Result<ClusterMetadata, AdminError> {
        self.retrying(async |admin: &mut AdminClient| {
            Ok(admin
                .network
                .refresh_metadata(Some(&[]), false)
                .await?
                .clone())
        })
        .await
    }

    /// The controller's broker id, from fresh metadata.
    async fn controller(&mut self) -> Result<i32, AdminError> {
        match self
            .network
            .refresh_metadata(Some(&[]), false)
            .await?
            .controller_id
        {
            id if id >= 0 => Ok(id),
            _ => Err(AdminError::NoController),
        }
    }

    /// How long a broker should wait for the controller before answering a
    /// topic creation or deletion: three quarters of `request.timeout.ms`,
    /// leaving the rest for the answer to come back before the connection
    /// gives up on it.
    fn operation_timeout_ms(&self) -> i32 {
        let millis = self.network.config().request_timeout.as_millis() * 3 / 4;
        i32::try_from(millis).unwrap_or(i32::MAX)
    }

    /// Runs `attempt` until it succeeds, fails for good, or
    /// `default.api.timeout.ms` has passed; before each retry it waits
    /// `retry.backoff.ms` and refreshes the cluster's metadata.
    async fn retrying<T>(
        &mut self,
        mut attempt: impl AsyncFnMut(&mut AdminClient) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        let deadline = tokio::time::Instant::now() + self.api_timeout;
        let mut retries = Backoff::fixed(RETRY_BACKOFF)
            .starting_before(deadline)
            .start();
        loop {
            match attempt(self).await {
                Err(e) if e.is_retriable() && retries.allows_another() => {
                    debug!("retrying after: {e}");
                    retries.pause().await;
                    if let Err(e) = self.network.refresh_metadata(Some(&[]), false).await {
                        debug!("cannot refresh metadata before retrying: {e}");
                    }
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_errors_name_kafkas_error_code_and_message() {
        let err = check(36, Some("Topic 't' already exists.".into()), || {
            "creating topic 't'".into()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "creating topic 't': TOPIC_ALREADY_EXISTS: Topic 't' already exists."
        );
        assert_eq!(err.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
        let err = check(3, None, || "describing topic 'x'".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "describing topic 'x': UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert!(check(0, Some("ignored".into()), || unreachable!()).is_ok());
    }

    #[test]
    fn only_routing_and_connection_errors_are_retried() {
        let broker = |code: ErrorCode| AdminError::Broker {
            context: String::new(),
            code,
            message: None,
        };
        assert!(broker(ErrorCode::NOT_CONTROLLER).is_retriable());
        assert!(broker(ErrorCode::NOT_COORDINATOR).is_retriable());
        assert!(broker(ErrorCode::NOT_LEADER_OR_FOLLOWER).is_retriable());
        // Retriable in Kafka's sense, but no retry makes a topic exist.
        assert!(!broker(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION).is_retriable());
        assert!(!broker(ErrorCode::TOPIC_ALREADY_EXISTS).is_retriable());
        assert!(AdminError::Client(ClientError::Closed).is_retriable());
        assert!(AdminError::NoController.is_retriable());
    }
}
