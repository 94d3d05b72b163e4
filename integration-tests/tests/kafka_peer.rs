//! Apache Kafka as a test peer: the harness starts real Kafka brokers in
//! ZooKeeper mode against the same real ZooKeeper it starts for gregor, and
//! Kafka's tools and clients talk to them. The differential tests build on
//! this; here it is checked on its own, so that a broken Kafka install or
//! harness shows up as itself.

use std::time::Duration;

use anyhow::{ensure, Result};
use integration_tests::{kafka_tool, kcat, BrokerConfig, Cluster, ZooKeeper, KAFKA_2_8, KAFKA_3_9};

/// A Kafka 2.8 cluster of three registers under the chroot, elects one
/// controller, and serves a topic created with Kafka's own kafka-topics.
#[test]
fn a_kafka_2_8_cluster_runs_under_the_harness() -> Result<()> {
    let cluster = Cluster::start_with(3, |config| config.kafka(KAFKA_2_8))?;
    assert_eq!(cluster.registered_brokers()?, vec![1, 2, 3]);
    let controller = cluster.controller_id()?;
    ensure!((1..=3).contains(&controller), "controller {controller}");

    kafka_tool(
        KAFKA_2_8,
        "kafka.admin.TopicCommand",
        [
            "--bootstrap-server",
            &cluster.bootstrap(),
            "--create",
            "--topic",
            "peer",
            "--partitions",
            "3",
            "--replication-factor",
            "3",
        ],
    )?
    .success()?;
    let topic = cluster.wait_for_topic(
        "three leaders of peer",
        "peer",
        Duration::from_secs(30),
        |t| t.leaders().len() == 3,
    )?;
    ensure!(topic.assignment.len() == 3, "{:?}", topic.assignment);

    let listed = kcat(
        ["-L", "-b", &cluster.bootstrap(), "-t", "peer"],
        Duration::from_secs(30),
    )?
    .success()?;
    ensure!(
        listed.contains("topic \"peer\" with 3 partitions"),
        "kcat -L:\n{listed}"
    );
    Ok(())
}

/// The newest ZooKeeper-mode line, 3.9, starts the same way, with
/// `inter.broker.protocol.version=2.8` as a Kafka 2.8 cluster being upgraded
/// would run it.
#[test]
fn a_kafka_3_9_broker_runs_in_zookeeper_mode() -> Result<()> {
    let zookeeper = ZooKeeper::start_standalone()?;
    let broker = BrokerConfig::new(1, &zookeeper.connect_string())
        .kafka(KAFKA_3_9)
        .property("inter.broker.protocol.version", "2.8")
        .property("offsets.topic.replication.factor", 1)
        .start()?;
    let listed =
        integration_tests::wait_until("Kafka 3.9 to list itself", Duration::from_secs(60), || {
            let out = kcat(["-L", "-b", &broker.bootstrap()], Duration::from_secs(30))?;
            Ok(out.stdout.contains("1 brokers:").then_some(out.stdout))
        })?;
    ensure!(listed.contains(&broker.bootstrap()), "kcat -L:\n{listed}");
    Ok(())
}
