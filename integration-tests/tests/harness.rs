//! The harness's own mechanics: client runners, timeouts, and the Broker
//! handle driven against a stand-in broker (tests/support/fake_broker.py)
//! until gregor's broker exists.

use std::fs;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Result;
use integration_tests::{
    clients_dir, kcat, node, python, repo_root, run_with_timeout, Broker, BrokerConfig,
};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The state letter in /proc/<pid>/stat (R, S, T for stopped, Z, …), or
/// `None` once the process is gone.
fn process_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

#[test]
fn installed_clients_report_the_pinned_versions() -> Result<()> {
    let versions = python("python/versions.py", [] as [&str; 0], CLIENT_TIMEOUT)?.success()?;
    let pins = fs::read_to_string(clients_dir().join("python/requirements.txt"))?;
    for pin in pins
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let expected = pin.replacen("==", " ", 1);
        assert!(
            versions.contains(&expected),
            "{expected} not in:\n{versions}"
        );
    }

    let kafkajs = node("js/versions.js", [] as [&str; 0], CLIENT_TIMEOUT)?.success()?;
    assert!(kafkajs.contains("kafkajs 2.2.4"), "{kafkajs}");

    let kcat_version = kcat(["-V"], CLIENT_TIMEOUT)?.success()?;
    assert!(kcat_version.contains("librdkafka"), "{kcat_version}");
    Ok(())
}

#[test]
fn a_command_past_its_timeout_is_killed() {
    let started = Instant::now();
    let mut cmd = Command::new("sleep");
    cmd.arg("30");
    let error = run_with_timeout(cmd, Duration::from_millis(300)).unwrap_err();
    assert!(format!("{error:#}").contains("timed out"), "{error:#}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

fn fake_broker(id: u32) -> Result<Broker> {
    BrokerConfig::new(id, "127.0.0.1:2181")
        .property("num.partitions", 3)
        .binary(repo_root().join("integration-tests/tests/support/fake_broker.py"))
        .start()
}

#[test]
fn broker_handle_writes_config_and_controls_the_process() -> Result<()> {
    let mut broker = fake_broker(7)?;
    let properties = fs::read_to_string(broker.config_path())?;
    for line in [
        "broker.id=7".to_owned(),
        format!("listeners=PLAINTEXT://{}", broker.bootstrap()),
        format!("log.dirs={}", broker.log_dir().display()),
        "zookeeper.connect=127.0.0.1:2181/gregor".to_owned(),
        "num.partitions=3".to_owned(),
    ] {
        assert!(
            properties.lines().any(|l| l == line),
            "{line} not in:\n{properties}"
        );
    }
    assert!(broker.log_dir().is_dir());

    let pid = broker.pid().expect("running");
    broker.sigstop()?;
    integration_tests::wait_until("SIGSTOP", CLIENT_TIMEOUT, || {
        Ok((process_state(pid) == Some('T')).then_some(()))
    })?;
    broker.sigcont()?;
    integration_tests::wait_until("SIGCONT", CLIENT_TIMEOUT, || {
        Ok((process_state(pid) != Some('T')).then_some(()))
    })?;

    broker.kill9()?;
    assert_eq!(process_state(pid), None);
    assert!(TcpStream::connect(broker.bootstrap()).is_err());

    broker.restart()?;
    TcpStream::connect(broker.bootstrap())?;
    let log = fs::read_to_string(broker.log_path())?;
    assert_eq!(log.matches("listening on").count(), 2, "{log}");

    let status = broker.terminate()?;
    assert!(status.success(), "{status}");
    assert!(
        broker.sigcont().is_err(),
        "no process to signal after terminate"
    );

    broker.restart()?;
    let pid = broker.pid().expect("running");
    drop(broker);
    assert_eq!(process_state(pid), None, "broker survived its handle");
    Ok(())
}

#[test]
fn broker_handle_refuses_to_override_harness_keys() {
    let error = BrokerConfig::new(1, "127.0.0.1:2181")
        .property("listeners", "PLAINTEXT://0.0.0.0:9092")
        .start()
        .err()
        .expect("listeners is the harness's");
    assert!(error.to_string().contains("listeners"), "{error:#}");
}

#[test]
fn a_broker_that_dies_at_start_up_fails_fast_with_its_log() {
    let started = Instant::now();
    let error = BrokerConfig::new(1, "127.0.0.1:2181")
        .binary("/bin/false")
        .start()
        .err()
        .expect("/bin/false never listens");
    let message = format!("{error:#}");
    assert!(
        message.contains("exited") && message.contains("/bin/false"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not wait out the timeout"
    );
}
