//! SIGTERM: the broker finishes, closes its logs cleanly (flushed, indexes
//! trimmed, clean-shutdown marker written so the next start skips recovery)
//! and leaves ZooKeeper at once (registration and controllership) instead of
//! when its session times out.

use std::fs;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use integration_tests::{gregor_broker_with_zk, kcat, unique_topic, zk_cli};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Well below the default `zookeeper.session.timeout.ms` (18 s): a broker
/// that left ZooKeeper cleanly registers again at once.
const RE_REGISTRATION: Duration = Duration::from_secs(8);
const RECORDS: usize = 500;

#[test]
fn sigterm_closes_logs_cleanly_and_deregisters() -> Result<()> {
    let mut cluster = gregor_broker_with_zk()?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("graceful");
    let input = tempfile::NamedTempFile::new()?;
    let lines: Vec<String> = (0..RECORDS).map(|i| format!("record-{i}")).collect();
    fs::write(input.path(), lines.join("\n") + "\n")?;
    let path = input.path().to_str().context("temp path")?;
    let produce = [
        "-P", "-b", &bootstrap, "-t", &topic, "-p", "0", "-X", "acks=all", "-l", path,
    ];
    kcat(produce, CLIENT_TIMEOUT)?.success()?;

    let zk = cluster.zookeeper.connect_string();
    let ids = zk_cli(&zk, &["ls", "/gregor/brokers/ids"])?;
    ensure!(ids.contains("[1]"), "registered brokers: {ids}");
    // The only broker wins the controller election.
    let controller = zk_cli(&zk, &["get", "/gregor/controller"])?;
    ensure!(
        controller.contains(r#""version":1"#) && controller.contains(r#""brokerid":1"#),
        "/controller: {controller}"
    );

    let status = cluster.broker.terminate()?;
    ensure!(status.success(), "broker exited with {status}");

    let ids = zk_cli(&zk, &["ls", "/gregor/brokers/ids"])?;
    ensure!(
        ids.contains("[]"),
        "broker 1 still registered after shutdown: {ids}"
    );
    let log_dir = cluster.broker.log_dir();
    ensure!(
        log_dir.join(".kafka_cleanshutdown").exists(),
        "no clean-shutdown marker in {}",
        log_dir.display()
    );
    let index = log_dir
        .join(format!("{topic}-0"))
        .join("00000000000000000000.index");
    let index_len = fs::metadata(&index)?.len();
    ensure!(
        index_len % 8 == 0 && index_len < 10 * 1024 * 1024,
        "{} not trimmed: {index_len} bytes",
        index.display()
    );

    cluster.broker.restart()?;
    cluster.wait_until_registered(RE_REGISTRATION)?;
    let consume = [
        "-C",
        "-b",
        &bootstrap,
        "-t",
        &topic,
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-q",
    ];
    let out = kcat(consume, CLIENT_TIMEOUT)?.success()?;
    let got: Vec<&str> = out.lines().collect();
    ensure!(
        got == lines,
        "read back {} records, expected {RECORDS}",
        got.len()
    );
    Ok(())
}
