//! Socket-server overhead per request: a trivial Metadata handler behind the
//! real listener, connection and dispatch, driven over loopback by a
//! blocking client thread in the same process.
//!
//! * pipelined: the client writes `GREGOR_BENCH_REQUESTS` (default 200000)
//!   small requests while a second thread reads the responses;
//! * round trip: one request in flight at a time (latency).
//!
//! Reports wall time and the process's CPU time (client included) per
//! request. `cargo bench --bench server_pipeline`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use gregor_protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use gregor_protocol::frame::write_frame;
use gregor_protocol::{Message, RequestHeader};
use gregor_server::Listener;
use gregor_server::{Server, ServerConfig};
use gregor_testkit::EchoBroker;

fn request(buf: &mut BytesMut, correlation_id: i32) {
    let body = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: "bench".into(),
        }]),
        ..Default::default()
    };
    write_frame(buf, |b| {
        RequestHeader {
            api_key: gregor_protocol::ApiKey::Metadata,
            api_version: 1,
            correlation_id,
            client_id: Some("bench".into()),
        }
        .encode(b)
        .unwrap();
        body.encode(b, 1)
    })
    .unwrap();
}

/// User + system CPU time of this process, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn read_responses(mut stream: TcpStream, n: usize) {
    let mut len = [0; 4];
    let mut body = vec![0; 4096];
    for _ in 0..n {
        stream.read_exact(&mut len).unwrap();
        let l = i32::from_be_bytes(len) as usize;
        stream.read_exact(&mut body[..l]).unwrap();
    }
}

fn report(what: &str, n: usize, wall: Duration, cpu: Duration) {
    println!(
        "{what:>10}: {n} requests in {wall:.2?}: {:.0} req/s, {:.2} µs wall and {:.2} µs CPU (client included) per request",
        n as f64 / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / n as f64,
        cpu.as_secs_f64() * 1e6 / n as f64,
    );
}

fn main() {
    let n: usize = std::env::var("GREGOR_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = ServerConfig {
        listeners: vec![Listener {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 0,
        }],
        ..ServerConfig::default()
    };
    let server = rt
        .block_on(Server::start(config, Arc::new(EchoBroker)))
        .unwrap();
    let addr = server.local_addr("PLAINTEXT").unwrap();

    // Pipelined.
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let reader = stream.try_clone().unwrap();
    let mut one = BytesMut::new();
    request(&mut one, 0);
    let mut chunk = BytesMut::new();
    for i in 0..1000 {
        request(&mut chunk, i);
    }
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let reading = std::thread::spawn(move || read_responses(reader, n));
    let mut writer = stream;
    for _ in 0..n / 1000 {
        writer.write_all(&chunk).unwrap();
    }
    reading.join().unwrap();
    report(
        "pipelined",
        n / 1000 * 1000,
        t0.elapsed(),
        cpu_time() - cpu0,
    );

    // One in flight.
    let rounds = n / 10;
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut len = [0; 4];
    let mut body = vec![0; 4096];
    for _ in 0..rounds {
        stream.write_all(&one).unwrap();
        stream.read_exact(&mut len).unwrap();
        let l = i32::from_be_bytes(len) as usize;
        stream.read_exact(&mut body[..l]).unwrap();
    }
    report("round trip", rounds, t0.elapsed(), cpu_time() - cpu0);
    rt.block_on(server.shutdown());
}
