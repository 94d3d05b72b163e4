//! The socket server against raw TCP clients: framing, ordering, limits,
//! malformed input and shutdown. Every wait is bounded by a timeout.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use gregor_protocol::api::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use gregor_protocol::api::metadata::{MetadataRequest, MetadataRequestTopic, MetadataResponse};
use gregor_protocol::frame::write_frame;
use gregor_protocol::header::response_header_version;
use gregor_protocol::{ApiKey, Message, RequestHeader, ResponseHeader};
use gregor_server::Listener;
use gregor_server::{Reply, RequestContext, RequestHandler, Server, ServerConfig};
use gregor_testkit::echo_topics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

/// Echoes the requested topic names after a pseudo-random delay of up to
/// `max_delay_ms`. The client id steers it: `silent` gets no response,
/// `close` closes the connection, `panic` panics, `slow` sleeps 300 ms.
struct TestBroker {
    max_delay_ms: u64,
    seed: AtomicU64,
}

impl TestBroker {
    fn new(max_delay_ms: u64) -> Arc<Self> {
        Arc::new(TestBroker {
            max_delay_ms,
            seed: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
        })
    }

    fn random(&self) -> u64 {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        x
    }
}

impl RequestHandler for TestBroker {
    async fn metadata(
        &self,
        ctx: &RequestContext<'_>,
        request: MetadataRequest,
    ) -> Reply<MetadataResponse> {
        match ctx.header.client_id.as_deref() {
            Some("silent") => return Reply::NoResponse,
            Some("close") => return Reply::CloseConnection,
            Some("panic") => panic!("test handler panics on purpose"),
            Some("slow") => tokio::time::sleep(Duration::from_millis(300)).await,
            _ => {}
        }
        if self.max_delay_ms > 0 {
            let delay = self.random() % (self.max_delay_ms + 1);
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        echo_topics(request).into()
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        listeners: vec![Listener {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 0,
        }],
        shutdown_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    }
}

async fn start(config: ServerConfig, broker: Arc<TestBroker>) -> (Server, SocketAddr) {
    let server = Server::start(config, broker).await.unwrap();
    let addr = server.local_addr("PLAINTEXT").unwrap();
    (server, addr)
}

async fn connect(addr: SocketAddr) -> TcpStream {
    timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .unwrap()
}

fn request<M: Message>(
    buf: &mut BytesMut,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &M,
) {
    write_frame(buf, |b| {
        RequestHeader {
            api_key: M::API_KEY,
            api_version: version,
            correlation_id,
            client_id: Some(client_id.into()),
        }
        .encode(b)
        .unwrap();
        body.encode(b, version)
    })
    .unwrap();
}

fn metadata_request(topic: &str) -> MetadataRequest {
    MetadataRequest {
        topics: Some(vec![MetadataRequestTopic { name: topic.into() }]),
        ..Default::default()
    }
}

fn api_versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest {
        client_software_name: "gregor-test".into(),
        client_software_version: "0.1.0".into(),
    }
}

/// Reads one response frame: its correlation id and body.
async fn read_response(stream: &mut TcpStream, header_version: i16) -> (i32, Bytes) {
    let frame = timeout(WAIT, async {
        let len = stream.read_i32().await?;
        let mut frame = vec![0; len as usize];
        stream.read_exact(&mut frame).await?;
        io::Result::Ok(Bytes::from(frame))
    })
    .await
    .expect("response timed out")
    .expect("read failed");
    let (header, body) = ResponseHeader::decode(&frame, header_version).unwrap();
    (header.correlation_id, body)
}

/// Asserts the server closes the connection (EOF or reset) without
/// sending anything more.
async fn assert_closed(stream: &mut TcpStream) {
    let mut buf = [0; 64];
    match timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("connection not closed in time")
    {
        Ok(0) => {}
        Ok(n) => panic!("expected close, got {n} bytes"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{e}"
        ),
    }
}

/// Asserts nothing arrives on `stream` within `wait`.
async fn assert_silent(stream: &mut TcpStream, wait: Duration) {
    let mut buf = [0; 1];
    if let Ok(r) = timeout(wait, stream.read(&mut buf)).await {
        panic!("expected silence, got {r:?}");
    }
}

/// One ApiVersions v3 round trip on a fresh connection.
async fn assert_serving(addr: SocketAddr) {
    let mut stream = connect(addr).await;
    api_versions_round_trip(&mut stream, 3, 1).await;
}

async fn api_versions_round_trip(stream: &mut TcpStream, version: i16, correlation_id: i32) {
    let mut buf = BytesMut::new();
    request(
        &mut buf,
        version,
        correlation_id,
        "test",
        &api_versions_request(),
    );
    stream.write_all(&buf).await.unwrap();
    let (corr, body) = read_response(stream, 0).await;
    assert_eq!(corr, correlation_id);
    let resp = ApiVersionsResponse::decode(&body, version).unwrap();
    assert_eq!(resp.error_code, 0);
    let versions: Vec<_> = resp
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    assert!(versions.contains(&(18, 0, 3)), "{versions:?}");
    assert!(versions.contains(&(3, 0, 9)), "{versions:?}");
    // Exactly what the dispatch table implements is advertised.
    let table: Vec<_> = gregor_server::dispatch::api_versions_list()
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    assert_eq!(versions, table);
}

#[tokio::test]
async fn api_versions_v0_to_v3() {
    let (server, addr) = start(config(), TestBroker::new(0)).await;
    let mut stream = connect(addr).await;
    for version in 0..=3 {
        api_versions_round_trip(&mut stream, version, 100 + i32::from(version)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn api_versions_unknown_version_falls_back_to_v0() {
    let (server, addr) = start(config(), TestBroker::new(0)).await;
    let mut stream = connect(addr).await;
    // Header v2 (what a future client sends for ApiVersions v99), then a
    // body this broker cannot know.
    let mut buf = BytesMut::new();
    write_frame::<()>(&mut buf, |b| {
        RequestHeader {
            api_key: ApiKey::ApiVersions,
            api_version: 99,
            correlation_id: 7,
            client_id: Some("future".into()),
        }
        .encode(b)
        .unwrap();
        b.put_slice(&[1, 2, 3, 4, 5]);
        Ok(())
    })
    .unwrap();
    stream.write_all(&buf).await.unwrap();
    assert_eq!(response_header_version(ApiKey::ApiVersions, 99), 0);
    let (corr, body) = read_response(&mut stream, 0).await;
    assert_eq!(corr, 7);
    let resp = ApiVersionsResponse::decode(&body, 0).unwrap();
    assert_eq!(resp.error_code, 35);
    assert!(resp
        .api_keys
        .iter()
        .any(|k| (k.api_key, k.min_version, k.max_version) == (18, 0, 3)));
    // The client retries with a version it found; the connection is intact.
    api_versions_round_trip(&mut stream, 3, 8).await;
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (server, addr) = start(config(), TestBroker::new(3)).await;
    let mut stream = connect(addr).await;
    let mut buf = BytesMut::new();
    for i in 0..50 {
        let version = (i % 10) as i16;
        request(
            &mut buf,
            version,
            1000 + i,
            "pipeline",
            &metadata_request(&format!("topic-{i}")),
        );
    }
    stream.write_all(&buf).await.unwrap();
    for i in 0..50 {
        let version = (i % 10) as i16;
        let header_version = response_header_version(ApiKey::Metadata, version);
        let (corr, body) = read_response(&mut stream, header_version).await;
        assert_eq!(corr, 1000 + i);
        let resp = MetadataResponse::decode(&body, version).unwrap();
        assert_eq!(resp.topics[0].name, format!("topic-{i}"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn no_response_and_close_replies() {
    let (server, addr) = start(config(), TestBroker::new(0)).await;
    let mut stream = connect(addr).await;
    let mut buf = BytesMut::new();
    request(&mut buf, 1, 1, "silent", &metadata_request("a"));
    request(&mut buf, 1, 2, "test", &metadata_request("b"));
    request(&mut buf, 1, 3, "close", &metadata_request("c"));
    request(&mut buf, 1, 4, "test", &metadata_request("d"));
    stream.write_all(&buf).await.unwrap();
    let (corr, _) = read_response(&mut stream, 0).await;
    assert_eq!(corr, 2);
    assert_closed(&mut stream).await;
    assert_serving(addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_and_negative_frames_close_the_connection() {
    let mut cfg = config();
    cfg.limits.socket_request_max_bytes = 1024;
    let (server, addr) = start(cfg, TestBroker::new(0)).await;
    for size in [1025_i32, i32::MAX, -1, i32::MIN] {
        let mut stream = connect(addr).await;
        stream.write_all(&size.to_be_bytes()).await.unwrap();
        assert_closed(&mut stream).await;
        assert_serving(addr).await;
    }
    // A request just under the limit is served.
    let mut stream = connect(addr).await;
    let mut buf = BytesMut::new();
    request(&mut buf, 1, 5, "test", &metadata_request(&"x".repeat(900)));
    assert!(buf.len() - 4 <= 1024);
    stream.write_all(&buf).await.unwrap();
    assert_eq!(read_response(&mut stream, 0).await.0, 5);
    server.shutdown().await;
}

#[tokio::test]
async fn truncated_frame_then_close() {
    let (server, addr) = start(config(), TestBroker::new(0)).await;
    let mut stream = connect(addr).await;
    let mut buf = BytesMut::new();
    request(&mut buf, 1, 1, "test", &metadata_request("t"));
    stream.write_all(&buf[..buf.len() - 3]).await.unwrap();
    stream.shutdown().await.unwrap();
    assert_closed(&mut stream).await;
    drop(stream);
    assert_serving(addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_close_only_their_connection() {
    let (server, addr) = start(config(), TestBroker::new(0)).await;
    let mut cases: Vec<(&str, BytesMut)> = Vec::new();
    let framed = |body: &[u8]| {
        let mut buf = BytesMut::new();
        write_frame::<()>(&mut buf, |b| {
            b.put_slice(body);
            Ok(())
        })
        .unwrap();
        buf
    };
    cases.push((
        "unknown api key",
        framed(&[0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]),
    ));
    cases.push(("truncated header", framed(&[0, 3, 0])));
    cases.push(("empty frame", framed(&[])));
    let mut buf = BytesMut::new();
    request(&mut buf, 0, 1, "test", &ApiVersionsRequest::default());
    buf.unsplit(framed(&[0, 11, 0, 0, 0, 0, 0, 2, 0, 0])); // JoinGroup: not implemented
    cases.push(("unimplemented api", buf));
    let mut buf = BytesMut::new();
    request(&mut buf, 1, 1, "test", &ApiVersionsRequest::default());
    buf.unsplit(framed(&[0, 3, 0, 42, 0, 0, 0, 2, 0, 0])); // Metadata v42
    cases.push(("unsupported version", buf));
    let mut buf = framed(&[0, 3, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 9]); // body truncated
    buf.extend_from_slice(&buf.clone());
    cases.push(("undecodable body", buf));
    cases.push(("handler panic", {
        let mut buf = BytesMut::new();
        request(&mut buf, 1, 1, "panic", &metadata_request("t"));
        buf
    }));

    for (what, bytes) in cases {
        let mut stream = connect(addr).await;
        stream.write_all(&bytes).await.unwrap();
        // A valid request in front of the bad one is still answered.
        if what == "unimplemented api" || what == "unsupported version" {
            assert_eq!(read_response(&mut stream, 0).await.0, 1, "{what}");
        }
        assert_closed(&mut stream).await;
        assert_serving(addr).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn random_garbage_never_takes_the_server_down() {
    let mut cfg = config();
    cfg.limits.socket_request_max_bytes = 4096;
    let (server, addr) = start(cfg, TestBroker::new(0)).await;
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..40 {
        let mut stream = connect(addr).await;
        let len = (next() % 200) as usize;
        let mut garbage: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && len >= 4 {
            // A plausible frame size, so the garbage reaches the decoders.
            let size = (len - 4) as i32;
            garbage[..4].copy_from_slice(&size.to_be_bytes());
            if round % 4 == 0 && len >= 6 {
                garbage[4..6].copy_from_slice(&[0, 3]); // Metadata
            }
        }
        let _ = stream.write_all(&garbage).await;
        let _ = stream.shutdown().await;
        let mut sink = Vec::new();
        let _ = timeout(WAIT, stream.read_to_end(&mut sink))
            .await
            .expect("connection not closed in time");
    }
    assert_serving(addr).await;
    server.shutdown().await;
}

#[tokio::test]
async fn max_connections_waits_for_a_free_slot() {
    let mut cfg = config();
    cfg.max_connections = 2;
    let (server, addr) = start(cfg, TestBroker::new(0)).await;
    let mut first = connect(addr).await;
    api_versions_round_trip(&mut first, 3, 1).await;
    let mut second = connect(addr).await;
    api_versions_round_trip(&mut second, 3, 1).await;

    // The kernel completes the handshake, but the broker does not accept
    // it, so the request is not served...
    let mut third = connect(addr).await;
    let mut buf = BytesMut::new();
    request(&mut buf, 3, 9, "test", &api_versions_request());
    third.write_all(&buf).await.unwrap();
    assert_silent(&mut third, Duration::from_millis(300)).await;

    // ...until a connection closes.
    drop(first);
    let (corr, body) = read_response(&mut third, 0).await;
    assert_eq!(corr, 9);
    assert_eq!(ApiVersionsResponse::decode(&body, 3).unwrap().error_code, 0);
    api_versions_round_trip(&mut second, 3, 2).await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_in_flight_request_and_stops_accepting() {
    let (server, addr) = start(config(), TestBroker::new(0)).await;
    let mut idle = connect(addr).await;
    api_versions_round_trip(&mut idle, 0, 1).await;

    let mut busy = connect(addr).await;
    let mut buf = BytesMut::new();
    request(&mut buf, 1, 42, "slow", &metadata_request("t"));
    busy.write_all(&buf).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stopping = tokio::spawn(server.shutdown());
    // The in-flight request (300 ms) is still answered...
    let (corr, body) = read_response(&mut busy, 0).await;
    assert_eq!(corr, 42);
    assert_eq!(
        MetadataResponse::decode(&body, 1).unwrap().topics[0].name,
        "t"
    );
    // ...then both connections are closed and the listener is gone.
    assert_closed(&mut busy).await;
    assert_closed(&mut idle).await;
    timeout(WAIT, stopping)
        .await
        .expect("shutdown timed out")
        .unwrap();
    let refused = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect timed out");
    assert!(refused.is_err(), "listener still accepting");
}

#[tokio::test]
async fn shutdown_cuts_off_connections_after_the_timeout() {
    let mut cfg = config();
    cfg.shutdown_timeout = Duration::from_millis(100);
    let (server, addr) = start(cfg, TestBroker::new(0)).await;
    let mut stream = connect(addr).await;
    let mut buf = BytesMut::new();
    request(&mut buf, 1, 1, "slow", &metadata_request("t"));
    stream.write_all(&buf).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown timed out");
    assert_closed(&mut stream).await;
}

#[tokio::test]
async fn listeners_bind_every_interface_and_several_names() {
    let mut cfg = config();
    cfg.listeners = vec![
        Listener {
            name: "PLAINTEXT".into(),
            host: String::new(),
            port: 0,
        },
        Listener {
            name: "INTERNAL".into(),
            host: "localhost".into(),
            port: 0,
        },
    ];
    let server = Server::start(cfg, TestBroker::new(0)).await.unwrap();
    assert_eq!(server.listeners().len(), 2);
    for b in server.listeners() {
        let addr = SocketAddr::new(
            if b.addr.is_ipv6() && b.addr.ip().is_unspecified() {
                "::1".parse().unwrap()
            } else if b.addr.ip().is_unspecified() {
                "127.0.0.1".parse().unwrap()
            } else {
                b.addr.ip()
            },
            b.addr.port(),
        );
        assert_serving(addr).await;
    }
    // A port in use fails the whole start.
    let mut cfg = config();
    cfg.listeners[0].port = server.local_addr("INTERNAL").unwrap().port();
    cfg.listeners[0].host = server.local_addr("INTERNAL").unwrap().ip().to_string();
    assert!(Server::start(cfg, TestBroker::new(0)).await.is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn pipelining_with_a_queue_of_one() {
    let mut cfg = config();
    cfg.limits.queued_max_requests = 1;
    let (server, addr) = start(cfg, TestBroker::new(1)).await;
    let mut stream = connect(addr).await;
    let mut buf = BytesMut::new();
    for i in 0..200 {
        request(&mut buf, 1, i, "q", &metadata_request(&format!("t{i}")));
    }
    stream.write_all(&buf).await.unwrap();
    for i in 0..200 {
        let (corr, body) = read_response(&mut stream, 0).await;
        assert_eq!(corr, i);
        let resp = MetadataResponse::decode(&body, 1).unwrap();
        assert_eq!(resp.topics[0].name, format!("t{i}"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn bad_frame_behind_a_running_request_lets_it_finish() {
    let mut cfg = config();
    cfg.limits.socket_request_max_bytes = 1024;
    let (server, addr) = start(cfg, TestBroker::new(0)).await;
    let mut stream = connect(addr).await;
    let mut buf = BytesMut::new();
    request(&mut buf, 1, 1, "slow", &metadata_request("t"));
    request(&mut buf, 1, 2, "test", &metadata_request("queued"));
    stream.write_all(&buf).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Read while the slow request runs: the oversized frame is seen then.
    stream.write_all(&5000_i32.to_be_bytes()).await.unwrap();
    let (corr, _) = read_response(&mut stream, 0).await;
    assert_eq!(corr, 1);
    // The request queued behind it is dropped with the connection.
    assert_closed(&mut stream).await;
    server.shutdown().await;
}
