//! Log compaction (issue 6): a `cleanup.policy=compact` topic keeps only
//! the newest record of each key once the log cleaner has run, every
//! survivor at its original offset, as kcat reads the topic back from the
//! beginning; and the topic refuses records without a key.

use std::fs;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use gregor::protocol::api::create_topics::{
    CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use integration_tests::wire::WireClient;
use integration_tests::{
    gregor_broker_with_zk_configured, kcat_consume, kcat_produce_file, unique_topic, wait_until,
};

/// Bound on a client run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the cleaner compacting the topic: segments roll after
/// `segment.ms` (checked every `log.retention.check.interval.ms`) and the
/// cleaner looks for work every `log.cleaner.backoff.ms`, all well under a
/// second here.
const COMPACTION_TIMEOUT: Duration = Duration::from_secs(60);
const KEYS: usize = 10;
/// Rounds of one value for every key; a last round then updates half of
/// the keys, so survivors come from two batches, one of them cut in half.
const FULL_ROUNDS: usize = 5;

/// Creates a one-partition compacted topic whose segments roll quickly.
fn create_compacted_topic(bootstrap: &str, topic: &str) -> Result<()> {
    let config = |name: &str, value: &str| CreatableTopicConfig {
        name: name.into(),
        value: Some(value.into()),
    };
    let request = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.into(),
            num_partitions: 1,
            replication_factor: 1,
            assignments: Vec::new(),
            configs: vec![
                config("cleanup.policy", "compact"),
                config("segment.bytes", "1024"),
                config("segment.ms", "500"),
                config("min.cleanable.dirty.ratio", "0.01"),
            ],
        }],
        timeout_ms: 30_000,
        validate_only: false,
    };
    let response = WireClient::connect(bootstrap)?
        .request(5, &request)
        .context("CreateTopics")?;
    let result = response
        .topics
        .first()
        .context("CreateTopics answered no topic")?;
    ensure!(result.error_code == 0, "CreateTopics answered {result:?}");
    Ok(())
}

/// `(offset, key, value)` of every record kcat reads from the beginning.
fn read_back(bootstrap: &str, topic: &str) -> Result<Vec<(i64, String, String)>> {
    let output = kcat_consume(bootstrap, topic, 0, "%o %k %s\n", CLIENT_TIMEOUT)?.success()?;
    output
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let offset = fields.next().context("offset")?.parse()?;
            let key = fields.next().context("key")?.to_owned();
            let value = fields.next().context("value")?.to_owned();
            Ok((offset, key, value))
        })
        .collect()
}

#[test]
fn a_compacted_topic_keeps_the_newest_value_of_each_key_at_its_offset() -> Result<()> {
    let cluster = gregor_broker_with_zk_configured(|config| {
        config
            .property("log.cleaner.backoff.ms", 100)
            .property("log.retention.check.interval.ms", 100)
    })?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("compacted");
    create_compacted_topic(&bootstrap, &topic)?;

    let dir = tempfile::tempdir()?;
    let input = dir.path().join("records");
    let mut produced = Vec::new();
    let rounds = (0..FULL_ROUNDS)
        .map(|round| (round, KEYS))
        .chain([(FULL_ROUNDS, KEYS / 2)]);
    for (round, keys) in rounds {
        let lines: Vec<(String, String)> = (0..keys)
            .map(|k| (format!("k{k}"), format!("round{round}-of-k{k}")))
            .collect();
        let text: String = lines.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        fs::write(&input, text)?;
        kcat_produce_file(&bootstrap, &topic, 0, &input, &["-K:"], CLIENT_TIMEOUT)?
            .success()
            .with_context(|| format!("producing round {round}"))?;
        produced.extend(lines);
    }
    // Offsets are assigned in produce order from 0: the newest record of
    // each key, at the offset it was given.
    let mut expected: Vec<(i64, String, String)> = produced
        .iter()
        .enumerate()
        .filter(|(i, (key, _))| !produced[i + 1..].iter().any(|(k, _)| k == key))
        .map(|(i, (key, value))| (i as i64, key.clone(), value.clone()))
        .collect();
    expected.sort();
    ensure!(expected.len() == KEYS, "{expected:?}");

    // The last round's segment rolls after segment.ms; the cleaner then
    // takes everything.
    let mut last = Vec::new();
    wait_until(
        "the cleaner to compact the topic",
        COMPACTION_TIMEOUT,
        || {
            last = read_back(&bootstrap, &topic)?;
            Ok((last == expected).then_some(()))
        },
    )
    .with_context(|| format!("last read back {last:?}, expected {expected:?}"))?;

    // The checkpoint says how far the topic is clean.
    let checkpoint =
        fs::read_to_string(cluster.broker.log_dir().join("cleaner-offset-checkpoint"))?;
    let entry = format!("{topic} 0 {}", produced.len());
    ensure!(
        checkpoint.lines().any(|l| l == entry),
        "cleaner-offset-checkpoint has no {entry:?}:\n{checkpoint}"
    );

    // A record without a key cannot be compacted: INVALID_RECORD, which
    // librdkafka words "Broker failed to validate record".
    fs::write(&input, "no key\n")?;
    let keyless = kcat_produce_file(&bootstrap, &topic, 0, &input, &[], CLIENT_TIMEOUT)?;
    ensure!(
        !keyless.status.success(),
        "a keyless record was accepted by a compacted topic"
    );
    ensure!(
        keyless.stderr.contains("failed to validate record"),
        "kcat did not report INVALID_RECORD:\n{}",
        keyless.stderr
    );
    ensure!(read_back(&bootstrap, &topic)? == expected);
    Ok(())
}
