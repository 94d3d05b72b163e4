//! Log compaction (issue 6): a `cleanup.policy=compact` topic keeps only
//! the newest record of each key once the log cleaner has run, every
//! survivor at its original offset, as kcat reads the topic back from the
//! beginning; and the topic refuses records without a key. The group
//! coordinator's `__consumer_offsets` is compacted the same way, and a
//! coordinator loading it after a restart finds the latest commits.

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use gregor_broker::coordinator::schema::{self, RecordKey};
use gregor_broker::coordinator::GROUP_METADATA_TOPIC_NAME;
use gregor_protocol::api::create_topics::{CreatableTopic, CreatableTopicConfig};
use gregor_protocol::api::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestTopic};
use gregor_record::{Batches, Record, RecordBatchBuilder, Records};
use integration_tests::wire::WireClient;
use integration_tests::{
    gregor_broker_with_zk_configured, kcat_consume, kcat_produce_file, unique_topic, wait_until,
};

/// Bound on a client run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the cleaner compacting the topic: the cleaner looks for work
/// every `log.cleaner.backoff.ms`, well under a second here.
const COMPACTION_TIMEOUT: Duration = Duration::from_secs(60);
const KEYS: usize = 10;
/// Rounds of one value for every key; a last round then updates half of
/// the keys, so survivors come from two batches, one of them cut in half.
const FULL_ROUNDS: usize = 5;

/// Creates `topic` with `partitions` partitions and the `configs`
/// overrides, through CreateTopics v5.
fn create_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Result<()> {
    let topic = CreatableTopic {
        name: topic.into(),
        num_partitions: partitions,
        replication_factor: 1,
        assignments: Vec::new(),
        configs: configs
            .iter()
            .map(|(name, value)| CreatableTopicConfig {
                name: (*name).into(),
                value: Some((*value).into()),
            })
            .collect(),
    };
    WireClient::connect(bootstrap)?.create_topic(topic)
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
    // Segments roll quickly, and the cleaner takes the log at once.
    let configs = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "1024"),
        ("segment.ms", "500"),
        ("min.cleanable.dirty.ratio", "0.01"),
    ];
    create_topic(&bootstrap, &topic, 1, &configs)?;

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

    // The cleaner never takes the active segment, and (as in Kafka) an idle
    // one does not roll: a record timestamped past `segment.ms` after the
    // last round's rolls it, and stays, alone, in the new active segment.
    let roll_at = produced.len() as i64;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let mut trigger = RecordBatchBuilder::new(now_ms + 1_000);
    trigger.append(Record::new(now_ms + 1_000, Some(b"roll"), Some(b"trigger")));
    let answer = WireClient::connect(&bootstrap)?.produce(&topic, 0, -1, trigger.build())?;
    ensure!(
        answer.error_code == 0 && answer.base_offset == roll_at,
        "{answer:?}"
    );
    expected.push((roll_at, "roll".into(), "trigger".into()));

    // The cleaner takes everything before the trigger.
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

/// Partitions of the committed topic.
const COMMITTED_PARTITIONS: i32 = 3;
/// Commits of the group under test: each makes a batch of three records,
/// so that `__consumer_offsets` spans many 1 KiB segments.
const COMMITS: i64 = 60;

/// Commits `offset + p` for every partition `p` of `topic` as the simple
/// (memberless) consumer group `group`.
fn commit(client: &mut WireClient, group: &str, topic: &str, offset: i64) -> Result<()> {
    let offsets: Vec<(i32, i64)> = (0..COMMITTED_PARTITIONS)
        .map(|p| (p, offset + i64::from(p)))
        .collect();
    client.commit_offsets(group, topic, &offsets)
}

/// The offset commits of `group` in `__consumer_offsets` (one partition),
/// in log order: (partition committed, offset committed).
fn commit_records(bootstrap: &str, group: &str) -> Result<Vec<(i32, i64)>> {
    let mut client = WireClient::connect(bootstrap)?;
    let mut commits = Vec::new();
    let mut next = 0;
    loop {
        let data = client.fetch(GROUP_METADATA_TOPIC_NAME, 0, next)?;
        let records = data.records.unwrap_or_default();
        let before = next;
        for batch in Batches::new(&records) {
            let (header, bytes) = batch?;
            next = header.last_offset() + 1;
            for record in Records::new(&records.slice_ref(bytes))? {
                let record = record?;
                let (Some(key), Some(value)) = (&record.key, &record.value) else {
                    continue;
                };
                match schema::decode_key(key)? {
                    RecordKey::Offset(key) if key.group == group => {
                        let value = schema::decode_offset_value(value)?;
                        commits.push((key.partition, value.offset));
                    }
                    _ => {}
                }
            }
        }
        if next == before || next >= data.high_watermark {
            return Ok(commits);
        }
    }
}

/// The offsets `group` committed for `topic`, as OffsetFetch v7 answers
/// them; `None` while the coordinator is loading or not yet elected.
fn fetch_committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
) -> Result<Option<BTreeMap<i32, i64>>> {
    let request = OffsetFetchRequest {
        group_id: group.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: topic.into(),
            partition_indexes: (0..COMMITTED_PARTITIONS).collect(),
        }]),
        require_stable: false,
    };
    let response = WireClient::connect(bootstrap)?.request(7, &request)?;
    // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
    match response.error_code {
        0 => {}
        14..=16 => return Ok(None),
        code => bail!("OffsetFetch answered error {code}"),
    }
    Ok(Some(
        response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .map(|p| (p.partition_index, p.committed_offset))
            .collect(),
    ))
}

#[test]
fn consumer_offsets_is_compacted_and_a_restarted_coordinator_loads_the_latest_commits() -> Result<()>
{
    let mut cluster = gregor_broker_with_zk_configured(|config| {
        config
            .property("offsets.topic.replication.factor", 1)
            .property("offsets.topic.num.partitions", 1)
            .property("offsets.topic.segment.bytes", 1024)
            .property("log.cleaner.backoff.ms", 100)
            .property("log.cleaner.min.cleanable.ratio", 0.01)
    })?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("committed");
    create_topic(&bootstrap, &topic, COMMITTED_PARTITIONS, &[])?;
    let mut client = WireClient::connect(&bootstrap)?;
    client.wait_for_coordinator("g", COMPACTION_TIMEOUT)?;
    for i in 1..=COMMITS {
        commit(&mut client, "g", &topic, i * 100)?;
    }
    // Another group's commits fill the active segment, so that all of g's
    // are in segments the cleaner may take.
    for i in 1..=COMMITS {
        commit(&mut client, "other", &topic, i)?;
    }
    // The cleaner may well have started meanwhile: it ends with g's last
    // commit alone.
    let latest: Vec<(i32, i64)> = (0..COMMITTED_PARTITIONS)
        .map(|p| (p, COMMITS * 100 + i64::from(p)))
        .collect();

    let mut last = Vec::new();
    wait_until(
        "the cleaner to compact __consumer_offsets",
        COMPACTION_TIMEOUT,
        || {
            last = commit_records(&bootstrap, "g")?;
            Ok((last == latest).then_some(()))
        },
    )
    .with_context(|| format!("g's commits in the log: {last:?}, expected {latest:?}"))?;

    cluster.broker.terminate()?;
    cluster.broker.restart()?;
    let expected: BTreeMap<i32, i64> = latest.into_iter().collect();
    let loaded = wait_until(
        "the restarted coordinator to load g",
        COMPACTION_TIMEOUT,
        || fetch_committed(&bootstrap, "g", &topic),
    )?;
    ensure!(
        loaded == expected,
        "loaded {loaded:?}, expected {expected:?}"
    );
    Ok(())
}
