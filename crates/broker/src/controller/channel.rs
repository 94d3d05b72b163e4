//! The controller's channel to the brokers: Kafka's
//! `ControllerChannelManager` and its `RequestSendThread`s.
//!
//! The controller tells brokers what to do with three requests only —
//! LeaderAndIsr, UpdateMetadata and StopReplica — and each broker must apply
//! them in the order they were decided. So every live broker gets its own
//! unbounded FIFO queue and one task draining it: the task takes the next
//! request, connects if it has no connection, sends it and waits for the
//! answer. On any failure (refused connection, I/O error, `request.timeout.ms`
//! elapsed, garbled answer) it drops the connection, pauses and sends the
//! *same* request again, until the broker answers or the controller removes
//! the broker (it died: its `/brokers/ids/<id>` went away). Only then does it
//! move on, which is what keeps one broker's requests in order.
//!
//! Each broker's task runs on its own node of the shutdown tree, below the
//! node the manager is given, so removing a broker stops its task alone and
//! stopping the controller stops them all.
//!
//! Every answer goes to the controller through the `responses` channel given
//! to [`ControllerChannelManager::new`], so it can react to per-partition
//! errors (Kafka's request callbacks).
//!
//! Owns: connections and per-broker queues. Must not depend on: the
//! controller's core or ZooKeeper — it carries whatever requests the core
//! decided.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use log::{debug, error, warn};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::request_batch::{ControllerRequest, ControllerResponse};
use gregor_client::{BrokerConnection, ClientError, DEFAULT_REQUEST_TIMEOUT};
use gregor_protocol::BrokerId;
use gregor_protocol::Request;
use gregor_runtime::{Backoff, Shutdown};

/// The pause before resending a request that failed. Kafka's
/// `RequestSendThread` pauses a fixed 100 ms, the default of the clients'
/// `retry.backoff.ms`.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// How the channel talks to brokers.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// `request.timeout.ms`, default 30000: bounds each connection attempt
    /// and each request. (Kafka bounds the controller's connection attempts
    /// by `controller.socket.timeout.ms`, which has the same default.)
    pub request_timeout: Duration,
    /// `retry.backoff.ms`, default 100: the pause after a failed attempt.
    pub retry_backoff: Duration,
    /// The `client.id` in every request header; Kafka's controller sends its
    /// broker id.
    pub client_id: String,
}

impl ChannelConfig {
    /// Kafka's defaults for the controller running on broker `controller_id`.
    pub fn new(controller_id: BrokerId) -> Self {
        ChannelConfig {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            client_id: controller_id.to_string(),
        }
    }
}

impl ControllerRequest {
    /// Sends the request on `connection` and waits for the answer.
    async fn send_on(
        &self,
        connection: &mut BrokerConnection,
    ) -> Result<ControllerResponse, ClientError> {
        Ok(match self {
            ControllerRequest::LeaderAndIsr(request) => {
                ControllerResponse::LeaderAndIsr(send_newest(connection, request).await?)
            }
            ControllerRequest::UpdateMetadata(request) => {
                ControllerResponse::UpdateMetadata(send_newest(connection, request).await?)
            }
            ControllerRequest::StopReplica(request) => {
                ControllerResponse::StopReplica(send_newest(connection, request).await?)
            }
        })
    }
}

/// Sends `request` in the newest version our codec has. Every broker of a
/// gregor cluster speaks it; Kafka picks the version from
/// `inter.broker.protocol.version` instead, for rolling upgrades.
async fn send_newest<R: Request>(
    connection: &mut BrokerConnection,
    request: &R,
) -> Result<R::Response, ClientError> {
    connection.send(*R::VERSIONS.end(), request).await
}

/// The controller's per-broker request queues and the tasks that send them.
///
/// Dropping the manager stops every task, like [`shutdown`](Self::shutdown)
/// but without waiting for them.
#[derive(Debug)]
pub struct ControllerChannelManager {
    config: Arc<ChannelConfig>,
    responses: UnboundedSender<(BrokerId, ControllerResponse)>,
    /// The node every broker's node is a child of.
    tasks: Shutdown,
    brokers: HashMap<BrokerId, BrokerChannel>,
}

/// One broker's queue and the task draining it.
#[derive(Debug)]
struct BrokerChannel {
    address: String,
    queue: UnboundedSender<ControllerRequest>,
    /// The node the task runs on.
    task: Shutdown,
}

impl BrokerChannel {
    /// Stops the task and waits until it is gone, so that no answer from it
    /// reaches the controller afterwards. Queued requests are dropped.
    async fn stop(self) {
        self.task.stop().await;
    }
}

impl ControllerChannelManager {
    /// A manager with no brokers yet; every answer will be sent to
    /// `responses`, tagged with the broker that gave it. Each broker's task
    /// runs on a child of `tasks`.
    pub fn new(
        config: ChannelConfig,
        responses: UnboundedSender<(BrokerId, ControllerResponse)>,
        tasks: Shutdown,
    ) -> Self {
        ControllerChannelManager {
            config: Arc::new(config),
            responses,
            tasks,
            brokers: HashMap::new(),
        }
    }

    /// Starts a queue and a send task for broker `id` at `address`
    /// (`host:port`). Nothing changes if the broker is already there at that
    /// address; at a new address (the broker restarted elsewhere) the old
    /// channel is stopped, its queued requests dropped, and a new one started.
    pub async fn add_broker(&mut self, id: BrokerId, address: String) {
        if let Some(channel) = self.brokers.get(&id) {
            if channel.address == address {
                return;
            }
            debug!(
                "broker {id} moved from {} to {address}; replacing its channel",
                channel.address
            );
            self.remove_broker(id).await;
        }
        let (queue, requests) = unbounded_channel();
        let sender = RequestSender {
            broker: id,
            address: address.clone(),
            config: Arc::clone(&self.config),
            connection: None,
        };
        let task = self.tasks.child();
        task.spawn(sender.run(requests, self.responses.clone()));
        self.brokers.insert(
            id,
            BrokerChannel {
                address,
                queue,
                task,
            },
        );
    }

    /// Stops broker `id`'s task, which stops retrying its current request,
    /// and drops its queue. Once this returns no more answers from that
    /// broker reach the controller.
    pub async fn remove_broker(&mut self, id: BrokerId) {
        if let Some(channel) = self.brokers.remove(&id) {
            channel.stop().await;
        }
    }

    /// Queues `request` for broker `id`. A request for a broker the channel
    /// does not know (dead, or not yet added) is dropped, as Kafka does: the
    /// controller sends it the full state when it comes back.
    pub fn send(&self, id: BrokerId, request: ControllerRequest) {
        match self.brokers.get(&id) {
            Some(channel) => {
                if channel.queue.send(request).is_err() {
                    // The task only ends when stopped or if it panicked.
                    warn!("controller send task to broker {id} is gone; request dropped");
                }
            }
            None => debug!(
                "not sending {:?} to broker {id}: it is not live",
                request.api_key()
            ),
        }
    }

    /// The brokers with a channel, in id order.
    pub fn brokers(&self) -> Vec<BrokerId> {
        let mut ids: Vec<BrokerId> = self.brokers.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Stops every broker's task and waits until they are gone.
    pub async fn shutdown(&mut self) {
        for (_, channel) in self.brokers.drain() {
            channel.stop().await;
        }
    }
}

impl Drop for ControllerChannelManager {
    /// Every broker's node is a child of the manager's: cancelling it stops
    /// them all.
    fn drop(&mut self) {
        self.tasks.cancel();
    }
}

/// Kafka's `RequestSendThread`: sends one broker's requests in order, each
/// until it is answered.
struct RequestSender {
    broker: BrokerId,
    address: String,
    config: Arc<ChannelConfig>,
    /// Kept between requests; dropped after any failure.
    connection: Option<BrokerConnection>,
}

impl RequestSender {
    async fn run(
        mut self,
        mut requests: UnboundedReceiver<ControllerRequest>,
        responses: UnboundedSender<(BrokerId, ControllerResponse)>,
    ) {
        while let Some(request) = requests.recv().await {
            let Some(response) = self.deliver(&request).await else {
                continue;
            };
            if responses.send((self.broker, response)).is_err() {
                debug!(
                    "answer of broker {} to {:?} dropped: the controller is gone",
                    self.broker,
                    request.api_key()
                );
            }
        }
    }

    /// Sends `request` until the broker answers. `None` if the request
    /// cannot be encoded: resending it would fail forever and hold up every
    /// request behind it.
    async fn deliver(&mut self, request: &ControllerRequest) -> Option<ControllerResponse> {
        // Unlimited: only removing the broker ends the retries.
        let retries = Backoff::fixed(self.config.retry_backoff).start();
        loop {
            match self.try_send(request).await {
                Ok(response) => return Some(response),
                Err(ClientError::Encode(e)) => {
                    error!(
                        "dropping {:?} for broker {}: {e}",
                        request.api_key(),
                        self.broker
                    );
                    return None;
                }
                Err(e) => {
                    warn!(
                        "controller failed to send {:?} to broker {} at {}: {e}; \
                         reconnecting in {:?}",
                        request.api_key(),
                        self.broker,
                        self.address,
                        self.config.retry_backoff
                    );
                    retries.pause().await;
                }
            }
        }
    }

    /// One attempt: connect if needed, send, wait for the answer. The
    /// connection is kept only if the attempt succeeded.
    async fn try_send(
        &mut self,
        request: &ControllerRequest,
    ) -> Result<ControllerResponse, ClientError> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => {
                BrokerConnection::connect(
                    &self.address,
                    &self.config.client_id,
                    self.config.request_timeout,
                )
                .await?
            }
        };
        let response = request.send_on(&mut connection).await?;
        self.connection = Some(connection);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::time::timeout;

    use super::*;
    use gregor_protocol::api::leader_and_isr::{LeaderAndIsrRequest, LeaderAndIsrResponse};
    use gregor_protocol::api::stop_replica::{StopReplicaRequest, StopReplicaResponse};
    use gregor_protocol::api::update_metadata::{UpdateMetadataRequest, UpdateMetadataResponse};
    use gregor_protocol::frame::write_frame;
    use gregor_protocol::header::response_header_version;
    use gregor_protocol::{ApiKey, Message};
    use gregor_protocol::{FrameDecoder, RequestHeader, ResponseHeader};

    /// Bounds every wait for something that should happen.
    const WAIT: Duration = Duration::from_secs(10);
    const CONTROLLER: BrokerId = 0;

    /// What the test broker does with a connection after reading its first
    /// request.
    #[derive(Debug, Clone, Copy)]
    enum Behaviour {
        /// Answer every request with an empty successful response.
        Answer,
        /// Close the connection without answering.
        Close,
        /// Keep the connection open and never answer.
        Ignore,
    }

    /// A broker stand-in on a loopback port. It reports every request it
    /// reads (header and body) on `received`. Its first `misbehaving`
    /// connections get `misbehaviour`, later ones are answered.
    struct TestBroker {
        address: String,
        received: UnboundedReceiver<(RequestHeader, ControllerRequest)>,
    }

    impl TestBroker {
        async fn start(misbehaving: usize, misbehaviour: Behaviour) -> TestBroker {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            TestBroker::serve(listener, misbehaving, misbehaviour)
        }

        fn serve(listener: TcpListener, misbehaving: usize, misbehaviour: Behaviour) -> TestBroker {
            let address = listener.local_addr().unwrap().to_string();
            let (report, received) = unbounded_channel();
            tokio::spawn(async move {
                for n in 0.. {
                    let (stream, _) = listener.accept().await.unwrap();
                    let behaviour = if n < misbehaving {
                        misbehaviour
                    } else {
                        Behaviour::Answer
                    };
                    tokio::spawn(serve_connection(stream, behaviour, report.clone()));
                }
            });
            TestBroker { address, received }
        }

        /// The next request the broker read.
        async fn next(&mut self) -> (RequestHeader, ControllerRequest) {
            timeout(WAIT, self.received.recv())
                .await
                .expect("no request reached the broker")
                .expect("the test broker stopped")
        }
    }

    async fn serve_connection(
        mut stream: TcpStream,
        behaviour: Behaviour,
        report: UnboundedSender<(RequestHeader, ControllerRequest)>,
    ) {
        let frames = FrameDecoder::default();
        let mut buf = BytesMut::new();
        loop {
            let Some(frame) = frames.decode(&mut buf).unwrap() else {
                if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                continue;
            };
            let (header, request) = decode_request(&frame);
            let _ = report.send((header.clone(), request));
            match behaviour {
                Behaviour::Answer => stream.write_all(&empty_answer(&header)).await.unwrap(),
                Behaviour::Close => return,
                Behaviour::Ignore => {}
            }
        }
    }

    fn decode_request(frame: &Bytes) -> (RequestHeader, ControllerRequest) {
        let (header, body) = RequestHeader::decode(frame).unwrap();
        let version = header.api_version;
        let request = match header.api_key {
            ApiKey::LeaderAndIsr => {
                ControllerRequest::LeaderAndIsr(Message::decode(&body, version).unwrap())
            }
            ApiKey::UpdateMetadata => {
                ControllerRequest::UpdateMetadata(Message::decode(&body, version).unwrap())
            }
            ApiKey::StopReplica => {
                ControllerRequest::StopReplica(Message::decode(&body, version).unwrap())
            }
            other => panic!("the controller sent {other:?}"),
        };
        (header, request)
    }

    /// An empty successful response in the request's version.
    fn empty_answer(header: &RequestHeader) -> BytesMut {
        let version = header.api_version;
        let mut buf = BytesMut::new();
        write_frame(&mut buf, |buf| {
            ResponseHeader {
                correlation_id: header.correlation_id,
            }
            .encode(buf, response_header_version(header.api_key, version));
            match header.api_key {
                ApiKey::LeaderAndIsr => LeaderAndIsrResponse::default().encode(buf, version),
                ApiKey::UpdateMetadata => UpdateMetadataResponse::default().encode(buf, version),
                _ => StopReplicaResponse::default().encode(buf, version),
            }
        })
        .unwrap();
        buf
    }

    fn config() -> ChannelConfig {
        ChannelConfig {
            retry_backoff: Duration::from_millis(10),
            ..ChannelConfig::new(CONTROLLER)
        }
    }

    fn new_manager(
        config: ChannelConfig,
    ) -> (
        ControllerChannelManager,
        UnboundedReceiver<(BrokerId, ControllerResponse)>,
    ) {
        let (responses, answers) = unbounded_channel();
        (
            ControllerChannelManager::new(config, responses, Shutdown::new()),
            answers,
        )
    }

    async fn next_answer(
        answers: &mut UnboundedReceiver<(BrokerId, ControllerResponse)>,
    ) -> (BrokerId, ControllerResponse) {
        timeout(WAIT, answers.recv())
            .await
            .expect("no answer reached the controller")
            .expect("every send task is gone")
    }

    /// A request of each kind, told apart by their controller epochs.
    fn leader_and_isr(epoch: i32) -> ControllerRequest {
        ControllerRequest::LeaderAndIsr(LeaderAndIsrRequest {
            controller_id: CONTROLLER,
            controller_epoch: epoch,
            ..Default::default()
        })
    }

    fn update_metadata(epoch: i32) -> ControllerRequest {
        ControllerRequest::UpdateMetadata(UpdateMetadataRequest {
            controller_id: CONTROLLER,
            controller_epoch: epoch,
            ..Default::default()
        })
    }

    fn stop_replica(epoch: i32) -> ControllerRequest {
        ControllerRequest::StopReplica(StopReplicaRequest {
            controller_id: CONTROLLER,
            controller_epoch: epoch,
            ..Default::default()
        })
    }

    #[tokio::test]
    async fn requests_arrive_in_order_and_answers_reach_the_controller() {
        let mut broker = TestBroker::start(0, Behaviour::Answer).await;
        let (mut manager, mut answers) = new_manager(config());
        manager.add_broker(1, broker.address.clone()).await;
        assert_eq!(manager.brokers(), [1]);

        let sent = [
            update_metadata(1),
            leader_and_isr(2),
            stop_replica(3),
            update_metadata(4),
            leader_and_isr(5),
        ];
        for request in &sent {
            manager.send(1, request.clone());
        }
        for request in &sent {
            let (header, received) = broker.next().await;
            assert_eq!(&received, request);
            assert_eq!(header.client_id.as_deref(), Some("0"));
            let newest = match request.api_key() {
                ApiKey::LeaderAndIsr => 5,
                ApiKey::UpdateMetadata => 7,
                _ => 3,
            };
            assert_eq!(header.api_version, newest, "{:?}", request.api_key());
        }
        for request in &sent {
            let (id, answer) = next_answer(&mut answers).await;
            assert_eq!(id, 1);
            let expected = match request {
                ControllerRequest::LeaderAndIsr(_) => {
                    ControllerResponse::LeaderAndIsr(Default::default())
                }
                ControllerRequest::UpdateMetadata(_) => {
                    ControllerResponse::UpdateMetadata(Default::default())
                }
                ControllerRequest::StopReplica(_) => {
                    ControllerResponse::StopReplica(Default::default())
                }
            };
            assert_eq!(answer, expected);
        }
    }

    #[tokio::test]
    async fn a_request_is_resent_after_the_connection_drops() {
        let mut broker = TestBroker::start(2, Behaviour::Close).await;
        let (mut manager, mut answers) = new_manager(config());
        manager.add_broker(1, broker.address.clone()).await;
        manager.send(1, leader_and_isr(1));
        manager.send(1, stop_replica(2));

        // Twice dropped unanswered, answered on the third connection; only
        // then does the next request go out.
        for _ in 0..3 {
            assert_eq!(broker.next().await.1, leader_and_isr(1));
        }
        assert_eq!(broker.next().await.1, stop_replica(2));
        let (_, first) = next_answer(&mut answers).await;
        assert!(matches!(first, ControllerResponse::LeaderAndIsr(_)));
        let (_, second) = next_answer(&mut answers).await;
        assert!(matches!(second, ControllerResponse::StopReplica(_)));
    }

    #[tokio::test]
    async fn a_request_that_times_out_is_resent() {
        let mut broker = TestBroker::start(1, Behaviour::Ignore).await;
        let (mut manager, mut answers) = new_manager(ChannelConfig {
            request_timeout: Duration::from_millis(200),
            ..config()
        });
        manager.add_broker(1, broker.address.clone()).await;
        manager.send(1, update_metadata(1));

        assert_eq!(broker.next().await.1, update_metadata(1));
        assert_eq!(broker.next().await.1, update_metadata(1));
        assert_eq!(
            next_answer(&mut answers).await,
            (1, ControllerResponse::UpdateMetadata(Default::default()))
        );
    }

    #[tokio::test]
    async fn a_broker_that_is_down_gets_the_request_once_it_is_up() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let (mut manager, mut answers) = new_manager(config());
        manager.add_broker(1, address.to_string()).await;
        manager.send(1, leader_and_isr(1));

        // Connections are refused until the broker listens again.
        let listener = TcpListener::bind(address).await.unwrap();
        let mut broker = TestBroker::serve(listener, 0, Behaviour::Answer);
        assert_eq!(broker.next().await.1, leader_and_isr(1));
        assert_eq!(next_answer(&mut answers).await.0, 1);
    }

    #[tokio::test]
    async fn remove_broker_stops_retrying() {
        let mut broker = TestBroker::start(usize::MAX, Behaviour::Close).await;
        let (mut manager, _answers) = new_manager(config());
        manager.add_broker(1, broker.address.clone()).await;
        manager.send(1, stop_replica(1));
        assert_eq!(broker.next().await.1, stop_replica(1));

        manager.remove_broker(1).await;
        assert!(manager.brokers().is_empty());
        // Dropped: the broker is no longer known.
        manager.send(1, stop_replica(2));

        // A second broker's channel to the same misbehaving address retries
        // as broker 1's did: while it retries 20 times, a live task for
        // broker 1 would retry about as often, however slow the machine. The
        // task is gone, so no new attempt starts; at most the attempt under
        // way when it was stopped may still reach the broker.
        manager.add_broker(2, broker.address.clone()).await;
        manager.send(2, update_metadata(3));
        let (mut retried, mut late) = (0, 0);
        while retried < 20 {
            match broker.next().await.1 {
                request if request == update_metadata(3) => retried += 1,
                request => {
                    assert_eq!(request, stop_replica(1));
                    late += 1;
                }
            }
        }
        assert!(late <= 1, "{late} attempts after remove_broker");
    }

    #[tokio::test]
    async fn a_broker_at_a_new_address_gets_a_new_channel() {
        let old = TestBroker::start(0, Behaviour::Answer).await;
        let mut new = TestBroker::start(0, Behaviour::Answer).await;
        let (mut manager, mut answers) = new_manager(config());
        manager.add_broker(1, old.address.clone()).await;
        manager.add_broker(1, old.address.clone()).await;
        manager.add_broker(1, new.address.clone()).await;
        assert_eq!(manager.brokers(), [1]);

        manager.send(1, update_metadata(1));
        assert_eq!(new.next().await.1, update_metadata(1));
        assert_eq!(next_answer(&mut answers).await.0, 1);
    }

    #[tokio::test]
    async fn shutdown_and_drop_stop_every_task() {
        let broker = TestBroker::start(usize::MAX, Behaviour::Close).await;
        let (mut manager, mut answers) = new_manager(config());
        manager.add_broker(1, broker.address.clone()).await;
        manager.add_broker(2, broker.address.clone()).await;
        manager.send(1, leader_and_isr(1));
        manager.shutdown().await;
        assert!(manager.brokers().is_empty());
        // Each task holds a sender of the answers: once the manager's own is
        // dropped too, the channel closes only if every task is gone.
        drop(manager);
        assert_eq!(timeout(WAIT, answers.recv()).await, Ok(None));

        let (mut manager, mut answers) = new_manager(config());
        manager.add_broker(1, broker.address.clone()).await;
        manager.send(1, leader_and_isr(1));
        drop(manager);
        assert_eq!(timeout(WAIT, answers.recv()).await, Ok(None));
    }
}
