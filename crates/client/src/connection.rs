//! One TCP connection to a broker and the request/response exchange over
//! it: a request header (in the header version its API and version call
//! for) and body behind a length prefix, answered by one response frame
//! carrying the same correlation id.
//!
//! A connection carries one request at a time, which is all the controller
//! needs (Kafka's controller also allows one in-flight request per broker).
//! Every exchange is bounded by `request.timeout.ms`. A request that failed
//! part way leaves the stream in an unknown state (half a request written, or
//! an answer still on its way), so after such a failure the connection
//! refuses further requests: drop it and connect again, as Kafka's
//! `NetworkClient` does.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use log::debug;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use gregor_protocol::frame::{write_frame, DEFAULT_MAX_FRAME_SIZE};
use gregor_protocol::header::response_header_version;
use gregor_protocol::{
    ApiKey, DecodeError, EncodeError, FrameDecoder, FrameError, Message, Request, RequestHeader,
    ResponseHeader,
};

/// Kafka's default `request.timeout.ms` (30000): how long a client waits for
/// a connection or an answer before giving up on the request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(30_000);

/// Largest response frame accepted. Kafka's clients accept any size; gregor
/// bounds it at the default `socket.request.max.bytes` (100 MiB) so that a
/// corrupt size prefix cannot make the client buffer gigabytes.
pub const MAX_RESPONSE_SIZE: usize = DEFAULT_MAX_FRAME_SIZE;

/// Why a request got no usable answer.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: io::Error,
    },
    #[error("no connection to {address} within {timeout:?} (request.timeout.ms)")]
    ConnectTimeout { address: String, timeout: Duration },
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("no answer to {api:?} v{version} within {timeout:?} (request.timeout.ms)")]
    Timeout {
        api: ApiKey,
        version: i16,
        timeout: Duration,
    },
    #[error("the broker closed the connection before answering")]
    Closed,
    #[error("bad response frame: {0}")]
    Frame(#[from] FrameError),
    /// The request itself is invalid; nothing was sent and the connection
    /// is still usable.
    #[error("cannot encode the request: {0}")]
    Encode(#[from] EncodeError),
    #[error("cannot decode the response: {0}")]
    Decode(#[from] DecodeError),
    #[error("the answer carries correlation id {actual}, the request {expected}")]
    CorrelationMismatch { expected: i32, actual: i32 },
    #[error("an earlier request failed on this connection; connect again")]
    Broken,
    /// Metadata does not name this broker (it left, or was never there).
    #[error("broker {0} is not in the cluster's metadata")]
    UnknownBroker(i32),
    /// No bootstrap server or known broker answered; says who failed how.
    #[error("no broker answered: {0}")]
    NoBrokerReachable(String),
}

/// A connection to one broker.
#[derive(Debug)]
pub struct BrokerConnection {
    stream: TcpStream,
    client_id: String,
    /// `request.timeout.ms`.
    request_timeout: Duration,
    next_correlation_id: i32,
    /// Bytes read but not yet split into frames.
    read_buf: BytesMut,
    frames: FrameDecoder,
    /// Set while an exchange is under way and left set if it fails.
    broken: bool,
}

impl BrokerConnection {
    /// Connects to `address` (`host:port`) within `request_timeout`, which
    /// then also bounds every [`send`](Self::send). `client_id` goes into
    /// every request header (Kafka's `client.id`).
    pub async fn connect(
        address: &str,
        client_id: &str,
        request_timeout: Duration,
    ) -> Result<Self, ClientError> {
        let stream = open_stream(address, request_timeout).await?;
        Ok(BrokerConnection {
            stream,
            client_id: client_id.to_owned(),
            request_timeout,
            next_correlation_id: 0,
            read_buf: BytesMut::new(),
            frames: FrameDecoder::new(MAX_RESPONSE_SIZE),
            broken: false,
        })
    }

    /// Sends `request` in `version` and waits for its answer, all within the
    /// connection's `request.timeout.ms`.
    pub async fn send<R: Request>(
        &mut self,
        version: i16,
        request: &R,
    ) -> Result<R::Response, ClientError> {
        if self.broken {
            return Err(ClientError::Broken);
        }
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = correlation_id.wrapping_add(1);
        let mut frame = BytesMut::new();
        encode_request(
            &mut frame,
            &self.client_id,
            correlation_id,
            version,
            request,
        )?;

        self.broken = true;
        let answer = timeout(self.request_timeout, self.exchange(&frame))
            .await
            .map_err(|_| ClientError::Timeout {
                api: R::API_KEY,
                version,
                timeout: self.request_timeout,
            })??;
        let response = decode_response::<R>(&answer, version, correlation_id)?;
        self.broken = false;
        Ok(response)
    }

    /// Writes one request frame and reads one response frame.
    async fn exchange(&mut self, request: &[u8]) -> Result<Bytes, ClientError> {
        self.stream.write_all(request).await?;
        loop {
            if let Some(frame) = self.frames.decode(&mut self.read_buf)? {
                return Ok(frame);
            }
            if self.stream.read_buf(&mut self.read_buf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }
}

/// Opens a TCP connection to `address` (`host:port`) within `connect_timeout`.
pub(crate) async fn open_stream(
    address: &str,
    connect_timeout: Duration,
) -> Result<TcpStream, ClientError> {
    let stream = match timeout(connect_timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(source)) => {
            return Err(ClientError::Connect {
                address: address.to_owned(),
                source,
            })
        }
        Err(_) => {
            return Err(ClientError::ConnectTimeout {
                address: address.to_owned(),
                timeout: connect_timeout,
            })
        }
    };
    // Requests are small and each waits for its answer: do not let
    // Nagle's algorithm hold them back.
    stream.set_nodelay(true)?;
    debug!("connected to {address}");
    Ok(stream)
}

/// Appends `request` to `buf` as one frame: length prefix, the request
/// header its API and version call for, then the body.
pub(crate) fn encode_request<R: Request>(
    buf: &mut BytesMut,
    client_id: &str,
    correlation_id: i32,
    version: i16,
    request: &R,
) -> Result<(), EncodeError> {
    let header = RequestHeader {
        api_key: R::API_KEY,
        api_version: version,
        correlation_id,
        client_id: Some(client_id.to_owned()),
    };
    write_frame(buf, |buf| {
        header.encode(buf)?;
        request.encode(buf, version)
    })
}

/// Decodes the response frame (length prefix removed) that answers the
/// request `correlation_id`, sent as `version` of `R`.
pub(crate) fn decode_response<R: Request>(
    frame: &Bytes,
    version: i16,
    correlation_id: i32,
) -> Result<R::Response, ClientError> {
    let (header, body) =
        ResponseHeader::decode(frame, response_header_version(R::API_KEY, version))?;
    if header.correlation_id != correlation_id {
        return Err(ClientError::CorrelationMismatch {
            expected: correlation_id,
            actual: header.correlation_id,
        });
    }
    Ok(<R::Response as Message>::decode(&body, version)?)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use bytes::BufMut;
    use tokio::net::TcpListener;

    use super::*;
    use gregor_protocol::api::metadata::{MetadataRequest, MetadataRequestTopic, MetadataResponse};
    use gregor_server::Listener;
    use gregor_server::{Server, ServerConfig};
    use gregor_testkit::EchoBroker;

    /// Bounds every wait of a test that is not about timeouts.
    const WAIT: Duration = Duration::from_secs(10);

    fn metadata_request(topic: &str) -> MetadataRequest {
        MetadataRequest {
            topics: Some(vec![MetadataRequestTopic { name: topic.into() }]),
            ..Default::default()
        }
    }

    fn topic_names(response: &MetadataResponse) -> Vec<&str> {
        response.topics.iter().map(|t| t.name.as_str()).collect()
    }

    #[tokio::test]
    async fn exchanges_metadata_with_a_real_server() {
        let config = ServerConfig {
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 0,
            }],
            ..ServerConfig::default()
        };
        let server = Server::start(config, Arc::new(EchoBroker)).await.unwrap();
        let address = server.local_addr("PLAINTEXT").unwrap().to_string();
        let mut connection = BrokerConnection::connect(&address, "test", WAIT)
            .await
            .unwrap();

        // v9 is flexible (request header v2, response header v1), v1 is not:
        // both header versions and successive correlation ids must line up.
        let flexible = connection.send(9, &metadata_request("a")).await.unwrap();
        assert_eq!(topic_names(&flexible), ["a"]);
        let classic = connection.send(1, &metadata_request("b")).await.unwrap();
        assert_eq!(topic_names(&classic), ["b"]);

        drop(connection);
        server.shutdown().await;
    }

    /// A listener on a loopback port, and its address.
    async fn listener() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    #[tokio::test]
    async fn times_out_when_the_broker_never_answers() {
        let (listener, addr) = listener().await;
        let request_timeout = Duration::from_millis(200);
        let mut connection = BrokerConnection::connect(&addr.to_string(), "test", request_timeout)
            .await
            .unwrap();
        // Accept and hold the connection, never answering.
        let (_silent, _) = listener.accept().await.unwrap();

        let err = connection
            .send(9, &metadata_request("a"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Timeout { api: ApiKey::Metadata, version: 9, timeout }
                    if timeout == request_timeout
            ),
            "{err:?}"
        );
        // A late answer would now belong to no request: the connection is done.
        let err = connection
            .send(9, &metadata_request("a"))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Broken), "{err:?}");
    }

    #[tokio::test]
    async fn connection_refused_names_the_address() {
        let (listener, addr) = listener().await;
        drop(listener);
        let address = addr.to_string();
        let err = BrokerConnection::connect(&address, "test", WAIT)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ClientError::Connect { address: a, source }
                if *a == address && source.kind() == io::ErrorKind::ConnectionRefused),
            "{err:?}"
        );
        assert!(err.to_string().contains(&address), "{err}");
    }

    /// Sends one Metadata request to a peer that reads the request frame,
    /// writes `answer` and closes the connection; returns what `send` made of
    /// it.
    async fn send_to_peer_answering(answer: Vec<u8>) -> ClientError {
        let (listener, addr) = listener().await;
        let peer = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let size = stream.read_i32().await.unwrap();
            let mut request = vec![0; size as usize];
            stream.read_exact(&mut request).await.unwrap();
            stream.write_all(&answer).await.unwrap();
        });
        let mut connection = BrokerConnection::connect(&addr.to_string(), "test", WAIT)
            .await
            .unwrap();
        let err = connection
            .send(1, &metadata_request("a"))
            .await
            .unwrap_err();
        peer.await.unwrap();
        err
    }

    #[tokio::test]
    async fn refuses_an_answer_to_another_request() {
        let mut answer = Vec::new();
        answer.put_i32(4);
        answer.put_i32(99);
        let err = send_to_peer_answering(answer).await;
        assert!(
            matches!(
                err,
                ClientError::CorrelationMismatch {
                    expected: 0,
                    actual: 99
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn refuses_an_oversized_answer() {
        let size = MAX_RESPONSE_SIZE + 1;
        let err = send_to_peer_answering((size as i32).to_be_bytes().to_vec()).await;
        assert!(
            matches!(err, ClientError::Frame(FrameError::TooLarge { size: s, max })
                if s == size && max == MAX_RESPONSE_SIZE),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn reports_a_connection_closed_before_the_answer() {
        let err = send_to_peer_answering(vec![0, 0, 0, 8, 0, 0]).await;
        assert!(matches!(err, ClientError::Closed), "{err:?}");
    }

    #[tokio::test]
    async fn reports_an_undecodable_answer() {
        // The right correlation id, then a body too short for Metadata v1.
        let err = send_to_peer_answering(vec![0, 0, 0, 6, 0, 0, 0, 0, 0, 1]).await;
        assert!(matches!(err, ClientError::Decode(_)), "{err:?}");
    }
}
