//! Kafka's `Sender`, split so that brokers proceed in parallel: one task
//! drains the accumulator into one request per broker whenever that broker
//! has room for another request in flight
//! (`max.in.flight.requests.per.connection`), and each broker has a link of
//! two tasks: one closes (compresses) the batches and writes requests on a
//! [`PipelinedConnection`], the other waits for the answers in order and
//! completes the batches.
//!
//! A batch that fails with a retriable error (a leader change, a topic
//! still being created, a lost connection, a timeout, too few in-sync
//! replicas) goes back to the front of its partition's queue after
//! `retry.backoff.ms`, with a metadata refresh, for as long as `retries` and
//! `delivery.timeout.ms` allow; any other error fails its records.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use log::{debug, warn};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;

use super::accumulator::RecordAccumulator;
use super::batch::ProducerBatch;
use super::delivery::BatchAck;
use super::metadata::ProducerMetadata;
use super::{Acks, ProduceError, ProducerConfig};
use crate::pipeline::{PendingResponse, PipelinedConnection};
use crate::versions::PRODUCE_VERSION;
use crate::ClientError;
use gregor_protocol::api::produce::{
    PartitionProduceData, PartitionProduceResponse, ProduceRequest, ProduceResponse,
    TopicProduceData,
};
use gregor_protocol::ErrorCode;

/// What every task of the sender shares.
pub(crate) struct SenderContext {
    pub accumulator: Arc<RecordAccumulator>,
    pub metadata: Arc<ProducerMetadata>,
    pub config: Arc<ProducerConfig>,
    /// Wakes the drain loop: new batches, freed in-flight slots, fresh
    /// metadata, retries.
    pub wakeup: Arc<Notify>,
}

/// The drain loop.
pub(crate) struct Sender {
    context: Arc<SenderContext>,
    links: HashMap<i32, BrokerLink>,
    /// The metadata refresh task, stopped with the sender.
    refresher: AbortHandle,
}

impl Sender {
    pub(super) fn new(context: Arc<SenderContext>, refresher: AbortHandle) -> Self {
        Sender {
            context,
            links: HashMap::new(),
            refresher,
        }
    }

    /// Drains and sends until the producer is closed and every batch is
    /// complete.
    pub(super) async fn run(mut self) {
        let context = Arc::clone(&self.context);
        loop {
            // Registered before looking, so no wake-up is missed.
            let wakeup = context.wakeup.notified();
            tokio::pin!(wakeup);
            wakeup.as_mut().enable();

            let now = Instant::now();
            let snapshot = context.metadata.snapshot();
            let links = &self.links;
            let drained = context.accumulator.drain(now, &snapshot, |node| {
                links.get(&node).is_none_or(BrokerLink::has_room)
            });
            for batch in drained.expired {
                let error = ProduceError::DeliveryTimeout {
                    topic: batch.topic.clone(),
                    partition: batch.partition,
                    records: batch.record_count(),
                    delivery_timeout: context.config.delivery_timeout,
                    last_error: batch.last_error.clone(),
                };
                context.accumulator.complete(batch, Err(error));
            }
            if drained.unknown_leaders {
                context.metadata.request_refresh();
            }
            for (node, batches) in drained.requests {
                self.link(node).submit(batches);
            }
            if context.accumulator.is_finished() {
                break;
            }
            match drained.next_check {
                Some(at) => {
                    tokio::select! {
                        () = wakeup => {}
                        () = tokio::time::sleep_until(at.into()) => {}
                    }
                }
                None => wakeup.await,
            }
        }
        debug!("producer sender finished");
        self.refresher.abort();
    }

    fn link(&mut self, node: i32) -> &mut BrokerLink {
        self.links
            .entry(node)
            .or_insert_with(|| BrokerLink::start(node, Arc::clone(&self.context)))
    }
}

/// One produce request on its way: its batches and its in-flight slot.
struct Job {
    batches: Vec<ProducerBatch>,
    _slot: OwnedSemaphorePermit,
}

/// The drain loop's handle on one broker's tasks.
struct BrokerLink {
    in_flight: Arc<Semaphore>,
    jobs: mpsc::UnboundedSender<Job>,
}

impl BrokerLink {
    fn start(node: i32, context: Arc<SenderContext>) -> BrokerLink {
        let in_flight = Arc::new(Semaphore::new(context.config.max_in_flight));
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_requests(node, context, queue));
        BrokerLink { in_flight, jobs }
    }

    fn has_room(&self) -> bool {
        self.in_flight.available_permits() > 0
    }

    fn submit(&mut self, batches: Vec<ProducerBatch>) {
        // Only the drain loop takes slots, and it checked `has_room`.
        let Ok(slot) = Arc::clone(&self.in_flight).try_acquire_owned() else {
            unreachable!("the drain loop only drains for brokers with room");
        };
        // The link's tasks end only when this sender is dropped.
        let _ = self.jobs.send(Job {
            batches,
            _slot: slot,
        });
    }
}

/// A request written and waiting for its answer.
struct InFlight {
    response: PendingResponse<ProduceRequest>,
    job: Job,
}

/// The writing half of a broker link: closes batches, connects when
/// needed, writes requests and hands them to the answer task.
async fn write_requests(
    node: i32,
    context: Arc<SenderContext>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let (in_flight, answers) = mpsc::unbounded_channel();
    tokio::spawn(read_answers(Arc::clone(&context), answers));
    let mut connection: Option<PipelinedConnection> = None;
    while let Some(mut job) = jobs.recv().await {
        let request = produce_request(&context.config, &mut job.batches);
        if connection
            .as_ref()
            .is_none_or(PipelinedConnection::is_closed)
        {
            connection = None;
            match connect(node, &context).await {
                Ok(c) => connection = Some(c),
                Err(e) => {
                    fail_or_retry(&context, job, &e);
                    continue;
                }
            }
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        if context.config.acks == Acks::None {
            match conn.send_unanswered(PRODUCE_VERSION, &request).await {
                Ok(()) => complete_unacknowledged(&context, job),
                Err(e) => fail_or_retry(&context, job, &e),
            }
            context.wakeup.notify_waiters();
            continue;
        }
        match conn.send(PRODUCE_VERSION, &request).await {
            Ok(response) => {
                // The answer task ends only after this task.
                let _ = in_flight.send(InFlight { response, job });
            }
            Err(e) => {
                fail_or_retry(&context, job, &e);
                context.wakeup.notify_waiters();
            }
        }
    }
}

/// The reading half of a broker link: answers come in request order.
async fn read_answers(context: Arc<SenderContext>, mut answers: mpsc::UnboundedReceiver<InFlight>) {
    while let Some(InFlight { response, job }) = answers.recv().await {
        match response.wait().await {
            Ok(response) => complete(&context, job, response),
            Err(e) => fail_or_retry(&context, job, &e),
        }
        // The job's in-flight slot is free now.
        context.wakeup.notify_waiters();
    }
}

async fn connect(node: i32, context: &SenderContext) -> Result<PipelinedConnection, ClientError> {
    let address = context
        .metadata
        .snapshot()
        .brokers
        .get(&node)
        .cloned()
        .ok_or(ClientError::UnknownBroker(node))?;
    let client = &context.config.client;
    PipelinedConnection::connect(&address, &client.client_id, client.request_timeout).await
}

/// Closes the batches (sorted by topic and partition, to find them again in
/// the answer) and frames them as one request.
fn produce_request(config: &ProducerConfig, batches: &mut [ProducerBatch]) -> ProduceRequest {
    batches.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let mut topic_data: Vec<TopicProduceData> = Vec::new();
    for batch in batches.iter_mut() {
        let data = PartitionProduceData {
            index: batch.partition,
            records: Some(batch.close()),
        };
        match topic_data.last_mut() {
            Some(topic) if topic.name == batch.topic => topic.partition_data.push(data),
            _ => topic_data.push(TopicProduceData {
                name: batch.topic.clone(),
                partition_data: vec![data],
            }),
        }
    }
    ProduceRequest {
        transactional_id: None,
        acks: config.acks.wire_value(),
        timeout_ms: i32::try_from(config.client.request_timeout.as_millis()).unwrap_or(i32::MAX),
        topic_data,
    }
}

/// `acks=0`: written is as good as it gets; offsets are unknown.
fn complete_unacknowledged(context: &SenderContext, job: Job) {
    for batch in job.batches {
        let ack = BatchAck {
            base_offset: -1,
            log_append_time: -1,
        };
        context.accumulator.complete(batch, Ok(ack));
    }
}

/// Hands each batch the answer for its partition.
fn complete(context: &SenderContext, job: Job, response: ProduceResponse) {
    let batches = job.batches;
    let mut answers: Vec<Option<PartitionProduceResponse>> = batches.iter().map(|_| None).collect();
    for topic in response.responses {
        for answer in topic.partition_responses {
            let key = (topic.name.as_str(), answer.index);
            if let Ok(i) = batches.binary_search_by(|b| (b.topic.as_str(), b.partition).cmp(&key)) {
                answers[i] = Some(answer);
            }
        }
    }
    for (batch, answer) in batches.into_iter().zip(answers) {
        match answer {
            Some(answer) => complete_batch(context, batch, answer),
            // A partition the broker did not answer for.
            None => {
                let error = ProduceError::NoAnswer {
                    topic: batch.topic.clone(),
                    partition: batch.partition,
                };
                context.accumulator.complete(batch, Err(error));
            }
        }
    }
}

fn complete_batch(context: &SenderContext, batch: ProducerBatch, answer: PartitionProduceResponse) {
    let error = ErrorCode::from_code(answer.error_code);
    if error == ErrorCode::NONE {
        let ack = BatchAck {
            base_offset: answer.base_offset,
            log_append_time: answer.log_append_time_ms,
        };
        context.accumulator.complete(batch, Ok(ack));
    } else if error.is_retriable() && can_retry(&context.config, &batch) {
        debug!(
            "retrying {}-{} after {error:?} (attempt {})",
            batch.topic,
            batch.partition,
            batch.attempts + 1
        );
        // NOT_LEADER_OR_FOLLOWER and friends: the leader moved.
        context.metadata.request_refresh();
        context.accumulator.reenqueue(batch, format!("{error:?}"));
    } else {
        let error = ProduceError::Broker {
            topic: batch.topic.clone(),
            partition: batch.partition,
            error,
            message: answer.error_message,
        };
        context.accumulator.complete(batch, Err(error));
    }
}

/// The request got no answer: its batches are retried if they may be (the
/// broker may or may not have appended them, as in Kafka without
/// idempotence).
fn fail_or_retry(context: &SenderContext, job: Job, error: &ClientError) {
    // A request that cannot even be encoded will not get better.
    let retriable = !matches!(error, ClientError::Encode(_));
    if retriable {
        warn!("produce request failed, retrying: {error}");
        context.metadata.request_refresh();
    }
    for batch in job.batches {
        if retriable && can_retry(&context.config, &batch) {
            context.accumulator.reenqueue(batch, error.to_string());
        } else {
            let failure = ProduceError::Network {
                topic: batch.topic.clone(),
                partition: batch.partition,
                error: error.to_string(),
            };
            context.accumulator.complete(batch, Err(failure));
        }
    }
}

/// Kafka's `canRetry`: within `retries` and `delivery.timeout.ms`.
fn can_retry(config: &ProducerConfig, batch: &ProducerBatch) -> bool {
    batch.attempts < config.retries && batch.created.elapsed() < config.delivery_timeout
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_record::Compression;
    use gregor_record::Record;

    fn batch(topic: &str, partition: i32) -> ProducerBatch {
        let mut b = ProducerBatch::new(topic, partition, 1, Compression::None, 0, Instant::now());
        drop(b.append(Record::new(1, None, Some(b"v".as_slice())), 40, None));
        b
    }

    #[test]
    fn a_request_groups_batches_by_topic_in_partition_order() {
        let mut batches = vec![batch("b", 1), batch("a", 2), batch("b", 0), batch("a", 0)];
        let mut config = ProducerConfig::new("x:1");
        config.acks = Acks::All;
        let request = produce_request(&config, &mut batches);
        assert_eq!(request.acks, -1);
        assert_eq!(request.timeout_ms, 30_000);
        let layout: Vec<(String, Vec<i32>)> = request
            .topic_data
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.partition_data.iter().map(|p| p.index).collect(),
                )
            })
            .collect();
        assert_eq!(
            layout,
            [("a".to_owned(), vec![0, 2]), ("b".to_owned(), vec![0, 1])]
        );
    }
}
