//! A broker started while ZooKeeper is unreachable waits for it instead of
//! exiting (gregor differs from Kafka here, whose start-up fails after
//! `zookeeper.connection.timeout.ms`): it registers once ZooKeeper is back,
//! without a restart, and SIGTERM still stops it while it waits. A fault
//! no retry fixes (its broker id taken by another live broker while its
//! session was expired) stops it loudly instead of leaving it unregistered.

use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use integration_tests::{wait_until, zk_cli, Broker, BrokerConfig, SingleBroker, ZooKeeper};

/// The broker re-initialising its session waits two session timeouts for
/// its id to be freed before it gives up.
const LOUD_STOP_TIMEOUT: Duration = Duration::from_secs(90);

/// Each attempt to open a session gives up after about the session timeout.
const SESSION_TIMEOUT_MS: u64 = 6000;
/// Failed session attempts the broker must survive before ZooKeeper starts:
/// about 12 s unreachable, short enough for CI (30 s was checked by hand).
const FAILED_ATTEMPTS: usize = 2;
const ATTEMPTS_TIMEOUT: Duration = Duration::from_secs(60);
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);
/// SIGTERM must not wait for ZooKeeper.
const PROMPT_EXIT: Duration = Duration::from_secs(5);
/// What the broker logs for each failed attempt (`gregor_zk::session`).
const FAILED_ATTEMPT_LOG: &str = "cannot open a ZooKeeper session yet";

/// Waits until the broker has logged `attempts` failed session attempts,
/// checking all along that it neither exited nor started listening (it
/// listens only after start-up has heard from ZooKeeper).
fn wait_for_failed_attempts(broker: &mut Broker, attempts: usize) -> Result<()> {
    let what = format!(
        "broker {} to fail {attempts} ZooKeeper session attempts",
        broker.id()
    );
    wait_until(&what, ATTEMPTS_TIMEOUT, || {
        broker.check_running()?;
        ensure!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, broker.port())).is_err(),
            "broker {} listens without ZooKeeper",
            broker.id()
        );
        let failed = broker
            .current_run_log()?
            .matches(FAILED_ATTEMPT_LOG)
            .count();
        Ok((failed >= attempts).then_some(()))
    })
}

#[test]
fn broker_started_before_zookeeper_registers_once_it_is_up() -> Result<()> {
    let mut zookeeper = ZooKeeper::configure_standalone()?;
    let mut broker = BrokerConfig::new(1, &zookeeper.connect_string())
        .property("zookeeper.session.timeout.ms", SESSION_TIMEOUT_MS)
        .launch()?;
    wait_for_failed_attempts(&mut broker, FAILED_ATTEMPTS)?;

    zookeeper.restart(0)?;
    broker.wait_until_accepting()?;
    let single = SingleBroker { broker, zookeeper };
    single.wait_until_registered(REGISTRATION_TIMEOUT)?;
    let registration = zk_cli(
        &single.zookeeper.connect_string(),
        &["get", "/gregor/brokers/ids/1"],
    )?;
    ensure!(
        registration.contains(&single.bootstrap()),
        "/brokers/ids/1: {registration}"
    );
    Ok(())
}

#[test]
fn sigterm_stops_a_broker_waiting_for_zookeeper() -> Result<()> {
    let zookeeper = ZooKeeper::configure_standalone()?;
    let mut broker = BrokerConfig::new(1, &zookeeper.connect_string())
        .property("zookeeper.session.timeout.ms", SESSION_TIMEOUT_MS)
        .launch()?;
    wait_for_failed_attempts(&mut broker, 1)?;

    let asked = Instant::now();
    let status = broker.terminate()?;
    ensure!(status.success(), "broker exited with {status}");
    ensure!(
        asked.elapsed() < PROMPT_EXIT,
        "SIGTERM took {:?} to stop a broker waiting for ZooKeeper",
        asked.elapsed()
    );
    Ok(())
}

#[test]
fn a_broker_whose_id_a_live_broker_took_stops_loudly() -> Result<()> {
    let zookeeper = ZooKeeper::start_standalone()?;
    let config = || {
        BrokerConfig::new(1, &zookeeper.connect_string())
            .property("zookeeper.session.timeout.ms", SESSION_TIMEOUT_MS)
    };
    // `/brokers/ids/1`'s data, empty while nobody holds the id (between the
    // first broker's session expiring and the second one registering).
    let registration = || match zk_cli(
        &zookeeper.connect_string(),
        &["get", "/gregor/brokers/ids/1"],
    ) {
        Err(e) if e.to_string().contains("Node does not exist") => Ok(String::new()),
        other => other,
    };
    let mut first = config().start()?;
    wait_until("broker 1 to register", REGISTRATION_TIMEOUT, || {
        Ok(registration()?.contains(&first.bootstrap()).then_some(()))
    })?;

    // Frozen past its session timeout, the first broker loses /brokers/ids/1
    // to a second process configured with the same id.
    first.sigstop()?;
    let second = config().start()?;
    wait_until(
        "the second broker 1 to register",
        REGISTRATION_TIMEOUT,
        || Ok(registration()?.contains(&second.bootstrap()).then_some(())),
    )?;

    // Resumed, the first learns that its session expired, finds its id held
    // by a live session for two session timeouts and stops with an error.
    first.sigcont()?;
    let status = wait_until("the first broker 1 to stop", LOUD_STOP_TIMEOUT, || {
        first.exit_status()
    })?;
    ensure!(!status.success(), "the first broker exited with {status}");
    let log = first.current_run_log()?;
    ensure!(
        log.contains("ZooKeeper session maintenance stopped") && log.contains("broker id 1"),
        "the first broker's log does not say why it stopped:\n{}",
        first.log_tail()
    );
    ensure!(
        registration()?.contains(&second.bootstrap()),
        "the second broker lost its registration"
    );
    Ok(())
}
