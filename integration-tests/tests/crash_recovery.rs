//! kill -9 a broker and restart it: every record it acknowledged (acks=1,
//! confluent-kafka delivery reports) is still there, at the offset it was
//! acknowledged with.

use std::collections::BTreeMap;
use std::fs;
use std::thread;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use integration_tests::client_matrix::{
    assert_exactly_produced, expected_value, Produce, CONFLUENT_KAFKA,
};
use integration_tests::{
    gregor_broker_with_zk_configured, json_lines, unique_topic, wait_until, SingleBroker,
};

/// How long a restarted broker may take to register again: its previous
/// ZooKeeper session (timeout below) must expire first.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);

fn cluster() -> Result<SingleBroker> {
    // A short session, so that the killed broker's registration expires soon.
    gregor_broker_with_zk_configured(|c| c.property("zookeeper.session.timeout.ms", 6000))
}

fn restart(cluster: &mut SingleBroker) -> Result<()> {
    cluster.broker.restart()?;
    cluster.wait_until_registered(REGISTRATION_TIMEOUT)
}

#[test]
fn acknowledged_records_survive_kill_9() -> Result<()> {
    const COUNT: i64 = 5000;
    let mut cluster = cluster()?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("crash");
    let offsets = CONFLUENT_KAFKA.produce(&bootstrap, &topic, Produce::new(1, COUNT))?;
    ensure!(
        offsets == (0..COUNT).collect::<Vec<_>>(),
        "acknowledged offsets {offsets:?}"
    );

    cluster.broker.kill9()?;
    restart(&mut cluster)?;
    let records = CONFLUENT_KAFKA.consume(&bootstrap, &topic, None)?;
    assert_exactly_produced(&records, COUNT)
}

#[test]
fn records_acknowledged_before_a_kill_9_mid_stream_survive() -> Result<()> {
    // More than the producer can send before the kill below.
    const COUNT: i64 = 300_000;
    const KILL_AFTER_BYTES: u64 = 1 << 20;
    let mut cluster = cluster()?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("crash-mid-stream");
    let segment = cluster
        .broker
        .log_dir()
        .join(format!("{topic}-0"))
        .join("00000000000000000000.log");

    let producer = {
        let (bootstrap, topic) = (bootstrap.clone(), topic.clone());
        let options: Vec<String> = [
            "--acks",
            "1",
            "--count",
            &COUNT.to_string(),
            // Records the broker never answers fail after 5 s instead of
            // waiting for the restart.
            "--message-timeout-ms",
            "5000",
        ]
        .map(str::to_owned)
        .into();
        thread::spawn(move || CONFLUENT_KAFKA.run(&bootstrap, &topic, "produce", &options))
    };
    wait_until(
        "the producer to write 1 MiB",
        Duration::from_secs(60),
        || {
            Ok(fs::metadata(&segment)
                .is_ok_and(|m| m.len() >= KILL_AFTER_BYTES)
                .then_some(()))
        },
    )?;
    cluster.broker.kill9()?;
    let output = producer.join().expect("producer thread panicked")?;

    // The producer fails (exit 1) for the records the broker never
    // acknowledged; the ones it did are in its delivery reports.
    let acked: BTreeMap<i64, i64> = json_lines(&output.stdout)?
        .iter()
        .filter(|line| line.get("i").is_some())
        .map(|line| {
            Ok((
                line["offset"].as_i64().context("offset")?,
                line["i"].as_i64().context("i")?,
            ))
        })
        .collect::<Result<_>>()?;
    ensure!(
        !acked.is_empty(),
        "nothing acknowledged before the kill:\n{}",
        output.stderr
    );
    eprintln!(
        "{} of {COUNT} records acknowledged before kill -9 (producer {})",
        acked.len(),
        output.status
    );

    restart(&mut cluster)?;
    let records = CONFLUENT_KAFKA.consume(&bootstrap, &topic, None)?;
    for (position, record) in (0..).zip(&records) {
        ensure!(
            record.offset == position,
            "offsets not dense: {record:?} at position {position}"
        );
    }
    for (&offset, &i) in &acked {
        let record = records.get(offset as usize).with_context(|| {
            format!(
                "acknowledged record {i} at offset {offset} lost; log ends at {}",
                records.len()
            )
        })?;
        ensure!(
            record.value.as_deref() == Some(expected_value(i).as_str()),
            "offset {offset} was acknowledged for record {i}, holds {record:?}"
        );
    }
    // Acknowledged records keep the order they were sent in.
    let order: Vec<i64> = acked.values().copied().collect();
    ensure!(
        order.windows(2).all(|w| w[0] < w[1]),
        "acknowledged records reordered"
    );
    Ok(())
}
