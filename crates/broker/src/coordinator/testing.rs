//! Test support for the coordinator: members, consumer subscriptions and a
//! group log that records what it is asked to write.

use std::cell::RefCell;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::replica::AwaitedCommit;
use gregor_protocol::consumer_protocol::Subscription;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use super::config::GroupConfig;
use super::member::{Member, Protocol};
use super::membership::{Ctx, GroupLog, LogRecord};
use super::partition::GROUP_METADATA_TOPIC_NAME;

/// A dynamic consumer-group member supporting `protocols`, each with its
/// name as metadata.
pub(super) fn member(id: &str, protocols: &[&str]) -> Member {
    Member {
        member_id: id.into(),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        rebalance_timeout: Duration::from_secs(60),
        session_timeout: Duration::from_secs(10),
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|name| Protocol {
                name: (*name).into(),
                metadata: Bytes::from(name.to_string()),
            })
            .collect(),
        assignment: Bytes::new(),
        awaiting_join: None,
        awaiting_sync: None,
        last_heartbeat: Instant::now(),
        is_new: false,
    }
}

/// A `ConsumerProtocolSubscription` of `topics`, as gregor's consumer writes it.
pub(super) fn subscription(topics: &[&str]) -> Bytes {
    Subscription::new(topics.iter().map(|t| (*t).to_owned()))
        .encode()
        .expect("a subscription encodes")
}

/// Records every append; fails them with `fail_with` when set.
#[derive(Default)]
pub(super) struct RecordingLog {
    pub appended: RefCell<Vec<Vec<LogRecord>>>,
    pub fail_with: RefCell<Option<ErrorCode>>,
}

impl GroupLog for RecordingLog {
    fn append(
        &self,
        records: Vec<LogRecord>,
        _timestamp_ms: i64,
    ) -> Result<AwaitedCommit, ErrorCode> {
        if let Some(code) = *self.fail_with.borrow() {
            return Err(code);
        }
        let mut appended = self.appended.borrow_mut();
        appended.push(records);
        let required_offset: usize = appended.iter().map(Vec::len).sum();
        Ok(AwaitedCommit {
            topic_partition: TopicPartition::new(GROUP_METADATA_TOPIC_NAME, 0),
            required_offset: required_offset as i64,
            leader_epoch: 0,
        })
    }
}

/// A context at `now` with Kafka's default config and no initial delay.
pub(super) fn ctx<'a>(now: Instant, config: &'a GroupConfig, log: &'a RecordingLog) -> Ctx<'a> {
    Ctx {
        now,
        now_ms: 1_000,
        config,
        log,
    }
}

/// Kafka's defaults, but new groups rebalance at once.
pub(super) fn config() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay: Duration::ZERO,
        ..GroupConfig::default()
    }
}
