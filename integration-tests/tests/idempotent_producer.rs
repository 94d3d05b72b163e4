//! Idempotent produce (InitProducerId, sequence checks, duplicate retries)
//! with kafka-python's default producer against a real broker and ZooKeeper.

use std::time::Duration;

use anyhow::Result;
use integration_tests::{python, BrokerConfig, ZkEnsemble};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// The `key=value` lines a client script printed.
fn facts(stdout: &str) -> std::collections::BTreeMap<&str, &str> {
    stdout.lines().filter_map(|l| l.split_once('=')).collect()
}

#[test]
fn kafka_python_default_producer_is_idempotent_and_retries_are_not_duplicated() -> Result<()> {
    let zookeeper = ZkEnsemble::start(1)?;
    let mut broker = BrokerConfig::new(1, &zookeeper.connect_string()).start()?;

    let out = python(
        "python/idempotent_producer.py",
        [broker.bootstrap().as_str(), "idempotent", "50"],
        CLIENT_TIMEOUT,
    )?
    .success()?;
    let f = facts(&out);
    // The first block of producer ids is 0..=999.
    assert_eq!(f["producer_id"], "0", "{out}");
    assert_eq!(f["transactional_init_error"], "53", "{out}"); // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    assert_eq!(f["first"], "0,50", "{out}");
    assert_eq!(f["retry"], "0,50", "{out}"); // NONE, the original offset
    assert_eq!(f["next"], "0,53", "{out}");
    assert_eq!(f["gap"], "45,-1", "{out}"); // OUT_OF_ORDER_SEQUENCE_NUMBER
    assert_eq!(f["consumed"], "54", "{out}");

    // After a crash the producer state is read back from the log: a client
    // on a new topic still works, and producer ids come from a new block.
    broker.kill9()?;
    broker.restart()?;
    let out = python(
        "python/idempotent_producer.py",
        [broker.bootstrap().as_str(), "after-restart", "10"],
        CLIENT_TIMEOUT,
    )?
    .success()?;
    assert_eq!(facts(&out)["producer_id"], "1000", "{out}");
    Ok(())
}
