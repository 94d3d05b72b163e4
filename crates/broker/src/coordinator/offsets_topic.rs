//! This broker's replicas of `__consumer_offsets` as the coordinator uses
//! them: it appends a group's records to the partition it leads, as an
//! acks=all producer (Kafka's coordinator writes with `acks=-1`), waits for
//! the in-sync replicas where an answer depends on it, and reads a
//! partition whole when it becomes its leader.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

use crate::replica::{AwaitedCommit, ReplicaManager};
use gregor_log::LogError;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_record::{Record, RecordBatchBuilder};

use super::membership::{GroupLog, LogRecord};
use super::partition::GROUP_METADATA_TOPIC_NAME;

/// Why a partition of `__consumer_offsets` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OffsetsTopicError {
    #[error("this broker hosts no partition {0}")]
    NotHosted(TopicPartition),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Waits for an append to be committed.
pub type CommitFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ErrorCode>> + Send + 'a>>;

/// Access to the `__consumer_offsets` partitions this broker hosts.
pub trait OffsetsTopic: Send + Sync + 'static {
    /// Appends one batch to `partition` as its leader, as for acks=all
    /// (refused while the ISR is below `min.insync.replicas`); the error is
    /// the one a producer would get. The batch is committed once
    /// [`wait_for_commit`](Self::wait_for_commit) says so.
    fn append(&self, partition: i32, batch: &[u8]) -> Result<AwaitedCommit, ErrorCode>;

    /// Waits until the in-sync replicas have an append, or `timeout`
    /// passes (REQUEST_TIMED_OUT).
    fn wait_for_commit(&self, awaited: AwaitedCommit, timeout: Duration) -> CommitFuture<'_>;

    /// The partition's log start and log end offsets.
    fn bounds(&self, partition: i32) -> Result<(i64, i64), OffsetsTopicError>;

    /// Whole batches from the one holding `offset`, about `max_bytes` (at
    /// least one batch), up to the log end: a new coordinator reads what
    /// the previous one wrote, committed or not yet (Kafka's `FetchLogEnd`).
    fn read(
        &self,
        partition: i32,
        offset: i64,
        max_bytes: u64,
    ) -> Result<Option<Bytes>, OffsetsTopicError>;
}

fn topic_partition(partition: i32) -> TopicPartition {
    TopicPartition::new(GROUP_METADATA_TOPIC_NAME, partition)
}

impl OffsetsTopic for ReplicaManager {
    fn append(&self, partition: i32, batch: &[u8]) -> Result<AwaitedCommit, ErrorCode> {
        self.append_for_all_acks(&topic_partition(partition), batch)
            .map(|(_, awaited)| awaited)
            .map_err(|e| e.error_code())
    }

    fn wait_for_commit(&self, awaited: AwaitedCommit, timeout: Duration) -> CommitFuture<'_> {
        Box::pin(async move {
            let outcome = self.wait_for_commits(&[awaited], timeout).await;
            match outcome.into_iter().next() {
                Some(Err(e)) => Err(e.error_code()),
                _ => Ok(()),
            }
        })
    }

    fn bounds(&self, partition: i32) -> Result<(i64, i64), OffsetsTopicError> {
        let tp = topic_partition(partition);
        let hosted = self
            .partition(&tp)
            .ok_or(OffsetsTopicError::NotHosted(tp))?;
        let log = hosted.log();
        Ok((log.log_start_offset(), log.log_end_offset()))
    }

    fn read(
        &self,
        partition: i32,
        offset: i64,
        max_bytes: u64,
    ) -> Result<Option<Bytes>, OffsetsTopicError> {
        let tp = topic_partition(partition);
        let hosted = self
            .partition(&tp)
            .ok_or(OffsetsTopicError::NotHosted(tp))?;
        let range = hosted.log().read(offset, max_bytes, None, true)?;
        match range {
            Some(range) => {
                let bytes = range.read_to_vec().map_err(LogError::io(&range.path))?;
                Ok(Some(Bytes::from(bytes)))
            }
            None => Ok(None),
        }
    }
}

/// A group's partition, as the [`GroupLog`] its operations write to.
pub struct PartitionLog<'a> {
    pub topic: &'a dyn OffsetsTopic,
    pub partition: i32,
}

impl GroupLog for PartitionLog<'_> {
    fn append(
        &self,
        records: Vec<LogRecord>,
        timestamp_ms: i64,
    ) -> Result<AwaitedCommit, ErrorCode> {
        let mut batch = RecordBatchBuilder::new(timestamp_ms);
        for (key, value) in &records {
            batch.append(Record::new(timestamp_ms, Some(key), value.as_deref()));
        }
        self.topic.append(self.partition, &batch.build())
    }
}
