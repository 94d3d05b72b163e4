//! gregor's Kafka producer, built like Kafka's own: `send` partitions a
//! record and appends it to a batch in the record accumulator
//! (`accumulator.rs`); the sender (`sender.rs`) drains full (or
//! `linger.ms`-old) batches into one Produce request per partition leader,
//! keeps up to `max.in.flight.requests.per.connection` requests in flight
//! per broker, retries what failed for a retriable reason after a metadata
//! refresh, and completes each record's [`DeliveryFuture`] (or callback)
//! with its offset or its error.
//!
//! Settings are Kafka's keys with Kafka 2.8's defaults ([`ProducerConfig`]),
//! notably `acks=1`; records are partitioned as by Kafka's default
//! partitioner ([`partitioner`](crate::partitioner)), so keys land
//! on the same partitions as with the Java client or librdkafka's
//! `murmur2_random`.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use gregor_client::{Acks, Producer, ProducerConfig, ProducerRecord};
//!
//! # async fn example() -> Result<(), gregor_client::ProduceError> {
//! let mut config = ProducerConfig::new("127.0.0.1:9092");
//! config.acks = Acks::All;
//! config.linger = Duration::from_millis(5);
//! let producer = Producer::connect(config).await?;
//!
//! // `send` returns once the record is in a batch; the returned future
//! // resolves when the batch is acknowledged.
//! let delivery = producer
//!     .send(ProducerRecord::new("orders", "created").with_key("order-42"))
//!     .await?;
//! let sent = delivery.await?;
//! println!("partition {} offset {}", sent.partition, sent.offset);
//!
//! // Many records: keep sending, then wait for all of them at once.
//! for i in 0..1000 {
//!     let record = ProducerRecord::new("orders", format!("event {i}"))
//!         .with_header("source", "example");
//!     producer
//!         .send_with_callback(record, |result| {
//!             if let Err(e) = result {
//!                 eprintln!("not delivered: {e}");
//!             }
//!         })
//!         .await?;
//! }
//! producer.flush().await;
//! producer.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! Not supported yet: idempotence and transactions (`enable.idempotence`,
//! `transactional.id`), and splitting a batch the broker refuses as too
//! large (MESSAGE_TOO_LARGE fails its records).

mod accumulator;
mod batch;
mod config;
mod delivery;
mod metadata;
mod sender;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use self::accumulator::{RecordAccumulator, Target};
use self::batch::record_size_upper_bound;
use self::metadata::ProducerMetadata;
use self::sender::{Sender, SenderContext};
use crate::partitioner::partition_for_key;
use crate::{ClientError, NetworkClient};
use gregor_protocol::ErrorCode;
use gregor_record::Record;

pub use self::config::{Acks, ConfigError, ProducerConfig};
pub use self::delivery::{Callback, DeliveryFuture};

/// A record to send (Kafka's `ProducerRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    pub topic: String,
    /// The partition to send to; `None` lets the partitioner choose (by
    /// key, or the sticky partition for a record without one).
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Milliseconds since the epoch; `None` stamps the time of `send`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with a value and nothing else.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push((name.into(), Some(value.into())));
        self
    }

    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// Where an acknowledged record was stored (Kafka's `RecordMetadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMetadata {
    pub partition: i32,
    /// The record's offset; -1 with `acks=0`, where the broker says nothing.
    pub offset: i64,
    /// The record's timestamp, or the broker's append time for a topic with
    /// `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
}

/// Why a record was not sent, or not acknowledged.
#[derive(Debug, Clone, Error)]
pub enum ProduceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No bootstrap server answered; names each address and why.
    #[error(transparent)]
    Connect(Arc<ClientError>),
    #[error("the record is {size} bytes (at most), more than {key} ({max})")]
    RecordTooLarge {
        size: usize,
        max: usize,
        key: &'static str,
    },
    #[error("topic {topic} has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        topic: String,
        partition: i32,
        partitions: usize,
    },
    #[error(
        "topic {topic} not present in metadata after {max_block:?} (max.block.ms){}{}",
        describe(" error ", .error),
        describe("; last metadata request: ", .last_error)
    )]
    TopicNotAvailable {
        topic: String,
        max_block: Duration,
        /// What the cluster last said about the topic, if anything.
        error: Option<ErrorCode>,
        last_error: Option<String>,
    },
    #[error("topic {topic} refused: {error:?}")]
    TopicRefused { topic: String, error: ErrorCode },
    #[error(
        "no room in buffer.memory ({buffer_memory} bytes) within {max_block:?} (max.block.ms)"
    )]
    BufferExhausted {
        buffer_memory: usize,
        max_block: Duration,
    },
    /// The partition leader refused the batch with a non-retriable error,
    /// or a retriable one too often.
    #[error("{topic}-{partition}: {error:?}{}", describe(": ", .message))]
    Broker {
        topic: String,
        partition: i32,
        error: ErrorCode,
        message: Option<String>,
    },
    /// The request carrying the batch failed and may not be retried.
    #[error("{topic}-{partition}: {error}")]
    Network {
        topic: String,
        partition: i32,
        error: String,
    },
    #[error("{topic}-{partition}: the broker's answer does not mention the partition")]
    NoAnswer { topic: String, partition: i32 },
    #[error(
        "expired {records} record(s) for {topic}-{partition}: not acknowledged within {delivery_timeout:?} (delivery.timeout.ms){}",
        describe("; last error: ", .last_error)
    )]
    DeliveryTimeout {
        topic: String,
        partition: i32,
        records: u32,
        delivery_timeout: Duration,
        last_error: Option<String>,
    },
    #[error("the producer is closed")]
    Closed,
}

/// `prefix` and the value, or nothing.
fn describe<T: std::fmt::Debug>(prefix: &str, value: &Option<T>) -> String {
    match value {
        // Strings without their quotes.
        Some(v) => format!("{prefix}{}", format!("{v:?}").trim_matches('"')),
        None => String::new(),
    }
}

/// A producer; clones share it. Dropping the last clone lets the records
/// already sent go out in the background; [`close`](Self::close) waits for
/// them.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Shared>,
}

struct Shared {
    config: Arc<ProducerConfig>,
    accumulator: Arc<RecordAccumulator>,
    metadata: Arc<ProducerMetadata>,
    sender: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.accumulator.close();
    }
}

impl Producer {
    /// Checks `config`, learns the cluster from the first bootstrap server
    /// that answers, and starts the sender. When none answers, the error
    /// names every address tried and why it failed.
    pub async fn connect(config: ProducerConfig) -> Result<Producer, ProduceError> {
        config.validate()?;
        let client = NetworkClient::connect(config.client.clone())
            .await
            .map_err(|e| ProduceError::Connect(Arc::new(e)))?;
        let config = Arc::new(config);
        let wakeup = Arc::new(Notify::new());
        let metadata = Arc::new(ProducerMetadata::new(
            client.metadata(),
            Arc::clone(&wakeup),
        ));
        let accumulator = Arc::new(RecordAccumulator::new(&config, Arc::clone(&wakeup)));
        let refresher = tokio::spawn(Arc::clone(&metadata).refresh_forever(
            client,
            config.retry_backoff,
            config.metadata_max_age,
        ));
        let context = Arc::new(SenderContext {
            accumulator: Arc::clone(&accumulator),
            metadata: Arc::clone(&metadata),
            config: Arc::clone(&config),
            wakeup,
        });
        let sender = tokio::spawn(Sender::new(context, refresher.abort_handle()).run());
        Ok(Producer {
            inner: Arc::new(Shared {
                config,
                accumulator,
                metadata,
                sender: Mutex::new(Some(sender)),
            }),
        })
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.inner.config
    }

    /// Partitions `record` and appends it to a batch. Waits (up to
    /// `max.block.ms`) only for the topic's metadata or for room in
    /// `buffer.memory`; the returned future resolves once the record is
    /// acknowledged.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, ProduceError> {
        self.append(record, None).await
    }

    /// As [`send`](Self::send), but `callback` gets the record's fate
    /// instead of a future (Kafka's `send(record, callback)`). It runs on
    /// the producer's I/O task, so it must be quick. It is not called when
    /// `send_with_callback` itself fails.
    pub async fn send_with_callback(
        &self,
        record: ProducerRecord,
        callback: impl FnOnce(Result<RecordMetadata, ProduceError>) + Send + 'static,
    ) -> Result<(), ProduceError> {
        // The future shares the batch's outcome; dropping it costs nothing.
        drop(self.append(record, Some(Box::new(callback))).await?);
        Ok(())
    }

    async fn append(
        &self,
        record: ProducerRecord,
        callback: Option<Callback>,
    ) -> Result<DeliveryFuture, ProduceError> {
        let shared = &*self.inner;
        let config = &*shared.config;
        if shared.accumulator.is_closed() {
            return Err(ProduceError::Closed);
        }
        let deadline = tokio::time::Instant::now() + config.max_block;
        let partitions = shared
            .metadata
            .wait_for_topic(&record.topic, deadline, config.max_block)
            .await?;
        let entry = Record {
            timestamp: record
                .timestamp
                .unwrap_or_else(|| config.clock.milliseconds()),
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: record
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_deref()))
                .collect(),
        };
        let size = record_size_upper_bound(&entry);
        if size > config.max_request_size {
            return Err(ProduceError::RecordTooLarge {
                size,
                max: config.max_request_size,
                key: "max.request.size",
            });
        }
        shared
            .accumulator
            .reserve(size, deadline, config.max_block)
            .await?;
        let target = match (record.partition, &record.key) {
            (Some(partition), _) => Target::Partition(partition),
            (None, Some(key)) => {
                Target::Partition(partition_for_key(key, partitions.partition_count()))
            }
            (None, None) => Target::Sticky,
        };
        shared
            .accumulator
            .append(&record.topic, target, &partitions, entry, size, callback)
            .inspect_err(|_| shared.accumulator.release(size))
    }

    /// Sends every batch now, ignoring `linger.ms`, and waits until every
    /// record sent before (or during) the flush has its outcome.
    pub async fn flush(&self) {
        let (_flushing, pending) = self.inner.accumulator.begin_flush();
        for outcome in pending {
            // Failed records report through their own futures.
            let _ = outcome.wait().await;
        }
    }

    /// Refuses further records, sends those already sent and waits for
    /// their outcomes, then stops the producer's tasks (for every clone).
    pub async fn close(&self) {
        self.inner.accumulator.close();
        self.flush().await;
        let sender = self
            .inner
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            // The sender only ends by finishing its work.
            let _ = sender.await;
        }
    }
}

#[cfg(test)]
mod tests;
