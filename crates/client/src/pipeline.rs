//! A connection to one broker that carries several requests at once
//! (Kafka's `max.in.flight.requests.per.connection`): the producer's way to
//! keep a broker busy while earlier batches are still being acknowledged.
//!
//! The caller writes requests; a reader task reads the answers. Kafka
//! brokers answer the requests of one connection in the order they came, so
//! the reader matches each response frame to the oldest unanswered request
//! and checks that the correlation ids agree. As with
//! [`BrokerConnection`](super::BrokerConnection), any failure (a broken
//! stream, a bad frame, an answer that belongs to another request, a request
//! unanswered within `request.timeout.ms`) ends the connection: every
//! request still waiting fails, and the owner connects again.

use std::marker::PhantomData;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use log::debug;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::{timeout, timeout_at, Instant};

use super::connection::{decode_response, encode_request, open_stream, ClientError};
use super::MAX_RESPONSE_SIZE;
use gregor_protocol::{ApiKey, FrameDecoder, Request};

/// A request written and not yet answered, as the reader sees it.
struct Unanswered {
    correlation_id: i32,
    answer: oneshot::Sender<Result<Bytes, ClientError>>,
}

/// A pipelined connection to one broker.
#[derive(Debug)]
pub struct PipelinedConnection {
    address: String,
    writer: OwnedWriteHalf,
    client_id: String,
    /// `request.timeout.ms`: bounds the connect, each write and each wait
    /// for an answer.
    request_timeout: Duration,
    next_correlation_id: i32,
    /// Requests written, oldest first, for the reader to match answers to.
    unanswered: mpsc::UnboundedSender<Unanswered>,
    reader: AbortHandle,
    /// The frame being written, reused from one request to the next.
    buf: BytesMut,
}

impl PipelinedConnection {
    /// Connects to `address` (`host:port`) within `request_timeout` and
    /// starts reading answers. Must run inside a tokio runtime.
    pub async fn connect(
        address: &str,
        client_id: &str,
        request_timeout: Duration,
    ) -> Result<Self, ClientError> {
        let stream = open_stream(address, request_timeout).await?;
        let (read_half, writer) = stream.into_split();
        let (unanswered, queue) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_answers(read_half, queue, address.to_owned()));
        Ok(PipelinedConnection {
            address: address.to_owned(),
            writer,
            client_id: client_id.to_owned(),
            request_timeout,
            next_correlation_id: 0,
            unanswered,
            reader: reader.abort_handle(),
            buf: BytesMut::new(),
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether the connection has ended (the reader stopped after a
    /// failure or a timeout); then every further request fails.
    pub fn is_closed(&self) -> bool {
        self.unanswered.is_closed()
    }

    /// Writes `request` in `version` and returns the answer to come, without
    /// waiting for it: more requests may be written meanwhile.
    pub async fn send<R: Request>(
        &mut self,
        version: i16,
        request: &R,
    ) -> Result<PendingResponse<R>, ClientError> {
        let correlation_id = self.encode(version, request)?;
        let (answer, receiver) = oneshot::channel();
        // Registered before the bytes go out, so that the answer always
        // finds its request.
        self.unanswered
            .send(Unanswered {
                correlation_id,
                answer,
            })
            .map_err(|_| ClientError::Broken)?;
        let sent_at = Instant::now();
        self.write(R::API_KEY, version).await?;
        Ok(PendingResponse {
            receiver,
            deadline: sent_at + self.request_timeout,
            version,
            correlation_id,
            request_timeout: self.request_timeout,
            connection: self.reader.clone(),
            _response: PhantomData,
        })
    }

    /// Writes `request`, which the broker does not answer (Produce with
    /// `acks=0`).
    pub async fn send_unanswered<R: Request>(
        &mut self,
        version: i16,
        request: &R,
    ) -> Result<(), ClientError> {
        if self.is_closed() {
            return Err(ClientError::Broken);
        }
        self.encode(version, request)?;
        self.write(R::API_KEY, version).await
    }

    /// Frames `request` into the write buffer; returns its correlation id.
    fn encode<R: Request>(&mut self, version: i16, request: &R) -> Result<i32, ClientError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = correlation_id.wrapping_add(1);
        self.buf.clear();
        encode_request(
            &mut self.buf,
            &self.client_id,
            correlation_id,
            version,
            request,
        )?;
        Ok(correlation_id)
    }

    /// Writes the framed request. A write that fails or stalls past
    /// `request.timeout.ms` leaves half a request on the stream: the
    /// connection ends.
    async fn write(&mut self, api: ApiKey, version: i16) -> Result<(), ClientError> {
        let written = timeout(self.request_timeout, self.writer.write_all(&self.buf)).await;
        let error = match written {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => ClientError::Io(e),
            Err(_) => ClientError::Timeout {
                api,
                version,
                timeout: self.request_timeout,
            },
        };
        self.reader.abort();
        Err(error)
    }
}

impl Drop for PipelinedConnection {
    fn drop(&mut self) {
        // Requests still waiting fail rather than hang.
        self.reader.abort();
    }
}

/// The answer to come to one request.
#[derive(Debug)]
pub struct PendingResponse<R: Request> {
    receiver: oneshot::Receiver<Result<Bytes, ClientError>>,
    deadline: Instant,
    version: i16,
    correlation_id: i32,
    request_timeout: Duration,
    /// Ends the connection if the answer is late.
    connection: AbortHandle,
    _response: PhantomData<fn() -> R>,
}

impl<R: Request> PendingResponse<R> {
    /// Waits for the answer, at most `request.timeout.ms` after the request
    /// was written. A late answer ends the connection, failing every other
    /// request on it, as Kafka's `NetworkClient` disconnects on a request
    /// timeout.
    pub async fn wait(self) -> Result<R::Response, ClientError> {
        match timeout_at(self.deadline, self.receiver).await {
            Ok(Ok(Ok(frame))) => decode_response::<R>(&frame, self.version, self.correlation_id),
            Ok(Ok(Err(e))) => Err(e),
            // The reader stopped because of an earlier request's failure.
            Ok(Err(_)) => Err(ClientError::Broken),
            Err(_) => {
                self.connection.abort();
                Err(ClientError::Timeout {
                    api: R::API_KEY,
                    version: self.version,
                    timeout: self.request_timeout,
                })
            }
        }
    }
}

/// The reader task: hands each response frame to the oldest unanswered
/// request until the stream or a frame fails.
async fn read_answers(
    mut stream: OwnedReadHalf,
    mut queue: mpsc::UnboundedReceiver<Unanswered>,
    address: String,
) {
    let frames = FrameDecoder::new(MAX_RESPONSE_SIZE);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let frame = match frames.decode(&mut buf) {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => match stream.read_buf(&mut buf).await {
                Ok(0) => Err(ClientError::Closed),
                Ok(_) => continue,
                Err(e) => Err(ClientError::Io(e)),
            },
            Err(e) => Err(ClientError::Frame(e)),
        };
        let Ok(oldest) = queue.try_recv() else {
            // Nothing was asked: an answer nobody waits for, or the broker
            // closed an idle connection. Either way this connection is done.
            debug!("connection to {address} ends: {:?}", frame.err());
            return;
        };
        let failed = match &frame {
            Ok(frame) => match correlation_id_of(frame) {
                Some(actual) if actual != oldest.correlation_id => {
                    Some(ClientError::CorrelationMismatch {
                        expected: oldest.correlation_id,
                        actual,
                    })
                }
                _ => None,
            },
            Err(_) => None,
        };
        let stop = failed.is_some() || frame.is_err();
        // The waiter may have given up (timed out): nothing to tell it.
        let _ = oldest.answer.send(match failed {
            Some(e) => Err(e),
            None => frame,
        });
        if stop {
            debug!("connection to {address} ends after a failed answer");
            // Dropping the queue fails every request still waiting.
            return;
        }
    }
}

/// The correlation id at the front of a response frame (`None` if the frame
/// is too short, which decoding the answer then reports).
fn correlation_id_of(frame: &[u8]) -> Option<i32> {
    let id = frame.get(..4)?;
    Some(i32::from_be_bytes([id[0], id[1], id[2], id[3]]))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::BufMut;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use gregor_protocol::api::metadata::{MetadataRequest, MetadataRequestTopic, MetadataResponse};
    use gregor_protocol::{Message, RequestHeader, ResponseHeader};

    const WAIT: Duration = Duration::from_secs(10);

    fn metadata_request(topic: &str) -> MetadataRequest {
        MetadataRequest {
            topics: Some(vec![MetadataRequestTopic { name: topic.into() }]),
            ..Default::default()
        }
    }

    async fn listener() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    /// Reads one request frame; returns its header and body.
    async fn read_request(stream: &mut TcpStream) -> (RequestHeader, Bytes) {
        let size = stream.read_i32().await.unwrap();
        let mut frame = vec![0; size as usize];
        stream.read_exact(&mut frame).await.unwrap();
        RequestHeader::decode(&Bytes::from(frame)).unwrap()
    }

    /// A Metadata v1 answer naming the topic asked for.
    fn answer(correlation_id: i32, request: &Bytes) -> Vec<u8> {
        let request = MetadataRequest::decode(request, 1).unwrap();
        let response = MetadataResponse {
            topics: request
                .topics
                .unwrap_or_default()
                .into_iter()
                .map(|t| gregor_protocol::api::metadata::MetadataResponseTopic {
                    name: t.name,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let mut body = BytesMut::new();
        ResponseHeader { correlation_id }.encode(&mut body, 0);
        response.encode(&mut body, 1).unwrap();
        let mut frame = Vec::new();
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        frame
    }

    fn topic_of(response: &MetadataResponse) -> &str {
        &response.topics[0].name
    }

    #[tokio::test]
    async fn several_requests_are_in_flight_at_once() {
        let (listener, addr) = listener().await;
        let peer = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            // Read all three requests before answering any: the client
            // must not wait for an answer before writing the next one.
            let mut requests = Vec::new();
            for _ in 0..3 {
                requests.push(read_request(&mut stream).await);
            }
            for (header, body) in &requests {
                stream
                    .write_all(&answer(header.correlation_id, body))
                    .await
                    .unwrap();
            }
            let ids: Vec<i32> = requests.iter().map(|(h, _)| h.correlation_id).collect();
            (ids, stream)
        });
        let mut connection = PipelinedConnection::connect(&addr.to_string(), "test", WAIT)
            .await
            .unwrap();
        let a = connection.send(1, &metadata_request("a")).await.unwrap();
        let b = connection.send(1, &metadata_request("b")).await.unwrap();
        let c = connection.send(1, &metadata_request("c")).await.unwrap();
        assert_eq!(topic_of(&a.wait().await.unwrap()), "a");
        assert_eq!(topic_of(&b.wait().await.unwrap()), "b");
        assert_eq!(topic_of(&c.wait().await.unwrap()), "c");
        let (ids, _open) = peer.await.unwrap();
        assert_eq!(ids, [0, 1, 2]);
        assert!(!connection.is_closed());
    }

    #[tokio::test]
    async fn an_answer_out_of_order_ends_the_connection() {
        let (listener, addr) = listener().await;
        let peer = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let first = read_request(&mut stream).await;
            let second = read_request(&mut stream).await;
            stream
                .write_all(&answer(second.0.correlation_id, &second.1))
                .await
                .unwrap();
            let _ = stream
                .write_all(&answer(first.0.correlation_id, &first.1))
                .await;
            stream
        });
        let mut connection = PipelinedConnection::connect(&addr.to_string(), "test", WAIT)
            .await
            .unwrap();
        let a = connection.send(1, &metadata_request("a")).await.unwrap();
        let b = connection.send(1, &metadata_request("b")).await.unwrap();
        let err = a.wait().await.unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::CorrelationMismatch {
                    expected: 0,
                    actual: 1
                }
            ),
            "{err:?}"
        );
        assert!(matches!(b.wait().await.unwrap_err(), ClientError::Broken));
        let _stream = peer.await.unwrap();
        assert!(connection.is_closed());
        let err = connection
            .send(1, &metadata_request("c"))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Broken), "{err:?}");
    }

    #[tokio::test]
    async fn a_late_answer_times_out_and_fails_the_others() {
        let (listener, addr) = listener().await;
        let request_timeout = Duration::from_millis(200);
        let mut connection =
            PipelinedConnection::connect(&addr.to_string(), "test", request_timeout)
                .await
                .unwrap();
        let (_silent, _) = listener.accept().await.unwrap();
        let a = connection.send(9, &metadata_request("a")).await.unwrap();
        // b's own deadline comes well after a's.
        tokio::time::sleep(request_timeout / 2).await;
        let b = connection.send(9, &metadata_request("b")).await.unwrap();
        let err = a.wait().await.unwrap_err();
        assert!(
            matches!(err, ClientError::Timeout { version: 9, timeout, .. } if timeout == request_timeout),
            "{err:?}"
        );
        let err = b.wait().await.unwrap_err();
        assert!(matches!(err, ClientError::Broken), "{err:?}");
        // The reader has been stopped; give the runtime a moment to drop it.
        let closed = async {
            while !connection.is_closed() {
                tokio::task::yield_now().await;
            }
        };
        timeout(WAIT, closed).await.unwrap();
    }

    #[tokio::test]
    async fn a_broker_closing_the_connection_fails_the_waiting_requests() {
        let (listener, addr) = listener().await;
        let peer = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_request(&mut stream).await;
            read_request(&mut stream).await;
        });
        let mut connection = PipelinedConnection::connect(&addr.to_string(), "test", WAIT)
            .await
            .unwrap();
        let a = connection.send(1, &metadata_request("a")).await.unwrap();
        let b = connection.send(1, &metadata_request("b")).await.unwrap();
        peer.await.unwrap();
        assert!(matches!(a.wait().await.unwrap_err(), ClientError::Closed));
        assert!(matches!(b.wait().await.unwrap_err(), ClientError::Broken));
    }
}
