//! The whole producer against a scripted broker (gregor's own server with
//! a test handler): retries, errors that reach the caller, the delivery
//! timeout and a lost connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use gregor_protocol::api::metadata::{
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};
use gregor_protocol::api::produce::{
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceResponse,
};
use gregor_record::decode_batch;
use gregor_runtime::{ManualClock, SharedClock};
use gregor_server::Listener;
use gregor_server::{Reply, RequestContext, RequestHandler, Server, ServerConfig};

/// Bounds every wait that is not about timeouts.
const WAIT: Duration = Duration::from_secs(10);

/// How the scripted broker answers one produce request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Error(ErrorCode),
    /// Close the connection instead of answering.
    Hang,
}

/// A one-broker cluster with topic `t` of one partition, led by itself.
/// Produce requests take the next scripted answer; once the script is
/// done they succeed, appending to an in-memory log.
#[derive(Default)]
struct ScriptedBroker {
    port: Mutex<i32>,
    script: Mutex<VecDeque<Answer>>,
    /// Record values appended, in offset order.
    log: Mutex<Vec<Bytes>>,
    /// Their timestamps.
    timestamps: Mutex<Vec<i64>>,
    produce_requests: Mutex<u32>,
    metadata_requests: Mutex<u32>,
}

impl RequestHandler for ScriptedBroker {
    async fn metadata(
        &self,
        _ctx: &RequestContext<'_>,
        request: MetadataRequest,
    ) -> Reply<MetadataResponse> {
        *self.metadata_requests.lock().unwrap() += 1;
        let topics = request.topics.unwrap_or_default();
        MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: *self.port.lock().unwrap(),
                rack: None,
            }],
            controller_id: 1,
            topics: topics
                .into_iter()
                .filter(|t| t.name == "t")
                .map(|t| MetadataResponseTopic {
                    name: t.name,
                    partitions: vec![MetadataResponsePartition {
                        leader_id: 1,
                        replica_nodes: vec![1],
                        isr_nodes: vec![1],
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
        .into()
    }

    async fn produce(
        &self,
        _ctx: &RequestContext<'_>,
        request: ProduceRequest,
    ) -> Reply<ProduceResponse> {
        *self.produce_requests.lock().unwrap() += 1;
        let answer = self.script.lock().unwrap().pop_front();
        let (error, base_offset) = match answer {
            Some(Answer::Hang) => return Reply::CloseConnection,
            Some(Answer::Error(error)) => (error, -1),
            None => {
                let mut log = self.log.lock().unwrap();
                let base = log.len() as i64;
                for topic in &request.topic_data {
                    for partition in &topic.partition_data {
                        let batch = partition.records.clone().unwrap_or_default();
                        for record in decode_batch(&batch).unwrap() {
                            self.timestamps.lock().unwrap().push(record.timestamp);
                            log.push(record.value.unwrap_or_default());
                        }
                    }
                }
                (ErrorCode::NONE, base)
            }
        };
        ProduceResponse {
            responses: request
                .topic_data
                .into_iter()
                .map(|t| TopicProduceResponse {
                    name: t.name,
                    partition_responses: t
                        .partition_data
                        .into_iter()
                        .map(|p| PartitionProduceResponse {
                            index: p.index,
                            error_code: error.code(),
                            base_offset,
                            ..Default::default()
                        })
                        .collect(),
                })
                .collect(),
            throttle_time_ms: 0,
        }
        .into()
    }
}

/// Starts a scripted broker; returns it, its server and a producer config
/// bootstrapping from it.
async fn start(script: &[Answer]) -> (Arc<ScriptedBroker>, Server, ProducerConfig) {
    let broker = Arc::new(ScriptedBroker::default());
    broker.script.lock().unwrap().extend(script.iter().copied());
    let config = ServerConfig {
        listeners: vec![Listener {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 0,
        }],
        ..ServerConfig::default()
    };
    let server = Server::start(config, Arc::clone(&broker)).await.unwrap();
    let address = server.local_addr("PLAINTEXT").unwrap();
    *broker.port.lock().unwrap() = i32::from(address.port());
    let mut producer = ProducerConfig::new(&address.to_string());
    producer.retry_backoff = Duration::from_millis(10);
    (broker, server, producer)
}

async fn send(producer: &Producer, value: &'static str) -> Result<RecordMetadata, ProduceError> {
    let delivery = producer.send(ProducerRecord::new("t", value)).await?;
    tokio::time::timeout(WAIT, delivery).await.unwrap()
}

#[tokio::test]
async fn retriable_errors_are_retried_after_a_metadata_refresh() {
    let (broker, server, config) = start(&[
        Answer::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER),
        Answer::Error(ErrorCode::NOT_ENOUGH_REPLICAS),
    ])
    .await;
    let producer = Producer::connect(config).await.unwrap();
    let sent = send(&producer, "v").await.unwrap();
    assert_eq!((sent.partition, sent.offset), (0, 0));
    assert_eq!(*broker.produce_requests.lock().unwrap(), 3);
    // Bootstrap, the topic, then a refresh after each error (the last two
    // may coalesce).
    assert!(*broker.metadata_requests.lock().unwrap() >= 3);
    assert_eq!(*broker.log.lock().unwrap(), [Bytes::from("v")]);
    producer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_non_retriable_error_reaches_the_caller() {
    let (broker, server, config) = start(&[Answer::Error(ErrorCode::MESSAGE_TOO_LARGE)]).await;
    let producer = Producer::connect(config).await.unwrap();
    let err = send(&producer, "v").await.unwrap_err();
    assert!(
        matches!(&err, ProduceError::Broker { topic, partition: 0, error: ErrorCode::MESSAGE_TOO_LARGE, .. } if topic == "t"),
        "{err:?}"
    );
    assert_eq!(*broker.produce_requests.lock().unwrap(), 1);
    // The next record is fine.
    assert_eq!(send(&producer, "w").await.unwrap().offset, 0);
    producer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn retries_end_at_delivery_timeout() {
    let (broker, server, mut config) =
        start(&[Answer::Error(ErrorCode::NOT_ENOUGH_REPLICAS); 1000]).await;
    config.client.request_timeout = Duration::from_millis(200);
    config.delivery_timeout = Duration::from_millis(300);
    let producer = Producer::connect(config).await.unwrap();
    let started = std::time::Instant::now();
    let err = send(&producer, "v").await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300), "{err}");
    assert!(
        matches!(
            &err,
            ProduceError::Broker {
                error: ErrorCode::NOT_ENOUGH_REPLICAS,
                ..
            } | ProduceError::DeliveryTimeout {
                last_error: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(*broker.produce_requests.lock().unwrap() > 2);
    producer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_record_without_a_timestamp_is_stamped_by_the_producers_clock() {
    let (broker, server, mut config) = start(&[]).await;
    let clock = ManualClock::new(1_700_000_000_000);
    config.clock = Arc::clone(&clock) as SharedClock;
    let producer = Producer::connect(config).await.unwrap();
    send(&producer, "now").await.unwrap();
    clock.advance(Duration::from_secs(5));
    send(&producer, "later").await.unwrap();
    let mut stamped = ProducerRecord::new("t", "stamped");
    stamped.timestamp = Some(42);
    let delivery = producer.send(stamped).await.unwrap();
    tokio::time::timeout(WAIT, delivery).await.unwrap().unwrap();
    assert_eq!(
        *broker.timestamps.lock().unwrap(),
        [1_700_000_000_000, 1_700_000_005_000, 42]
    );
    producer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_lost_connection_is_retried_on_a_new_one() {
    let (broker, server, config) = start(&[Answer::Hang]).await;
    let producer = Producer::connect(config).await.unwrap();
    assert_eq!(send(&producer, "v").await.unwrap().offset, 0);
    assert_eq!(*broker.produce_requests.lock().unwrap(), 2);
    producer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn flush_and_close_deliver_lingering_records_and_refuse_more() {
    let (broker, server, mut config) = start(&[]).await;
    config.linger = Duration::from_secs(60);
    let producer = Producer::connect(config).await.unwrap();
    let mut deliveries = Vec::new();
    for value in ["a", "b", "c"] {
        deliveries.push(
            producer
                .send(ProducerRecord::new("t", value))
                .await
                .unwrap(),
        );
    }
    tokio::time::timeout(WAIT, producer.flush()).await.unwrap();
    assert!(deliveries.iter().all(DeliveryFuture::is_done));
    // One batch, one request.
    assert_eq!(*broker.produce_requests.lock().unwrap(), 1);
    let last = producer.send(ProducerRecord::new("t", "d")).await.unwrap();
    tokio::time::timeout(WAIT, producer.close()).await.unwrap();
    assert_eq!(last.await.unwrap().offset, 3);
    let err = producer
        .send(ProducerRecord::new("t", "e"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProduceError::Closed), "{err:?}");
    assert_eq!(
        *broker.log.lock().unwrap(),
        ["a", "b", "c", "d"].map(Bytes::from)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn records_too_large_and_unknown_partitions_fail_at_send() {
    let (_broker, server, mut config) = start(&[]).await;
    config.max_request_size = 1000;
    let producer = Producer::connect(config).await.unwrap();
    let big = ProducerRecord::new("t", vec![0; 1000]);
    let err = producer.send(big).await.unwrap_err();
    assert!(
        matches!(
            err,
            ProduceError::RecordTooLarge {
                max: 1000,
                key: "max.request.size",
                ..
            }
        ),
        "{err:?}"
    );
    let err = producer
        .send(ProducerRecord::new("t", "v").with_partition(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProduceError::UnknownPartition {
                partition: 1,
                partitions: 1,
                ..
            }
        ),
        "{err:?}"
    );
    producer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_topic_fails_after_max_block() {
    let (_broker, server, mut config) = start(&[]).await;
    config.max_block = Duration::from_millis(200);
    let producer = Producer::connect(config).await.unwrap();
    let err = producer
        .send(ProducerRecord::new("missing", "v"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProduceError::TopicNotAvailable { topic, .. } if topic == "missing"),
        "{err:?}"
    );
    assert!(err.to_string().contains("max.block.ms"), "{err}");
    producer.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_cluster_names_its_addresses() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let Err(err) = Producer::connect(ProducerConfig::new(&address)).await else {
        panic!("connected to nothing");
    };
    assert!(err.to_string().contains(&address), "{err}");
}
