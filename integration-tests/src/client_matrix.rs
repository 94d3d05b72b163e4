//! The acceptance matrix every client library goes through, written once:
//! the client scripts (`clients/python/*_client.py`, `clients/js/kafkajs_client.js`)
//! the Java client program (`clients/java`) and Go programs
//! (`clients/go/cmd/*`) share one command line and JSON-lines output (see
//! `clients/python/common.py`), and [`ScriptClient`] runs any of them. Test
//! files pick a client and call the scenarios below, each against its own
//! ZooKeeper and broker, or (the `*_on` forms) against one that the test
//! shares between scenarios.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::{
    go_client, gregor_broker_with_zk, java_client, json_lines, node, python, unique_topic,
    wait_until, ClientOutput, SingleBroker, KAFKA_CLIENTS_2_8, KAFKA_CLIENTS_4,
};

/// Bound on one client run; the scripts bound each of their own calls by
/// 30 s, so this only catches a client that hangs outside them.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long acks=0 records may take to show up, and a deleted topic to go.
const EVENTUALLY: Duration = Duration::from_secs(30);

/// A client library, reached through its script.
#[derive(Clone, Copy, Debug)]
pub enum ScriptClient {
    /// `clients/python/<script>` with the venv's Python.
    Python(&'static str),
    /// `clients/js/<script>` with Node.
    Node(&'static str),
    /// The Java client program on kafka-clients `version`, with `options`
    /// added to every run (say `["--assignor", "cooperative-sticky"]`).
    Java {
        version: &'static str,
        options: &'static [&'static str],
    },
    /// `clients/go/bin/<program>`, built by `.ci/install-deps`.
    Go(&'static str),
}

pub const CONFLUENT_KAFKA: ScriptClient = ScriptClient::Python("python/confluent_kafka_client.py");
pub const KAFKA_PYTHON: ScriptClient = ScriptClient::Python("python/kafka_python_client.py");
pub const AIOKAFKA: ScriptClient = ScriptClient::Python("python/aiokafka_client.py");
pub const KAFKAJS: ScriptClient = ScriptClient::Node("js/kafkajs_client.js");
/// kafka-clients 2.8.2 (eager range assignor).
pub const JAVA_2_8: ScriptClient = ScriptClient::Java {
    version: KAFKA_CLIENTS_2_8,
    options: &[],
};
/// The newest kafka-clients 4.x (eager range assignor).
pub const JAVA_4: ScriptClient = ScriptClient::Java {
    version: KAFKA_CLIENTS_4,
    options: &[],
};
/// franz-go (kgo, kadm).
pub const FRANZ_GO: ScriptClient = ScriptClient::Go("franz");
/// IBM sarama, configured for Kafka 2.8.
pub const SARAMA: ScriptClient = ScriptClient::Go("sarama");

/// A record as a client consumed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub offset: i64,
    pub key: Option<String>,
    pub value: Option<String>,
    pub timestamp: i64,
}

/// A record the scripts produce: number `i` has key `key-<i>` and value `value-<i>`.
pub fn expected_key(i: i64) -> String {
    format!("key-{i}")
}

pub fn expected_value(i: i64) -> String {
    format!("value-{i}")
}

impl ScriptClient {
    /// Runs one mode; the raw output, whatever the exit status.
    pub fn run(
        &self,
        bootstrap: &str,
        topic: &str,
        mode: &str,
        options: &[String],
    ) -> Result<ClientOutput> {
        let mut args = vec![bootstrap.to_owned(), topic.to_owned(), mode.to_owned()];
        args.extend_from_slice(options);
        match self {
            ScriptClient::Python(script) => python(script, &args, CLIENT_TIMEOUT),
            ScriptClient::Node(script) => node(script, &args, CLIENT_TIMEOUT),
            ScriptClient::Java { version, options } => {
                args.extend(options.iter().map(|o| (*o).to_owned()));
                java_client(version, &args, CLIENT_TIMEOUT)
            }
            ScriptClient::Go(program) => go_client(program, &args, CLIENT_TIMEOUT),
        }
    }

    /// Runs one mode that must succeed and returns its JSON lines.
    pub fn run_ok(
        &self,
        bootstrap: &str,
        topic: &str,
        mode: &str,
        options: &[String],
    ) -> Result<Vec<Value>> {
        let stdout = self
            .run(bootstrap, topic, mode, options)?
            .success()
            .with_context(|| format!("{self:?} {mode} {options:?} on {topic}"))?;
        json_lines(&stdout)
    }

    /// Produces records `start..start + count` to partition 0 and returns
    /// the offset of each delivery report, in record order (-1 where the
    /// client is not told, as with acks=0). Fails unless every record was
    /// acknowledged.
    pub fn produce(&self, bootstrap: &str, topic: &str, produce: Produce) -> Result<Vec<i64>> {
        let mut options = vec![
            "--acks".into(),
            produce.acks.to_string(),
            "--count".into(),
            produce.count.to_string(),
            "--start".into(),
            produce.start.to_string(),
            "--linger-ms".into(),
            produce.linger_ms.to_string(),
        ];
        if let Some(base) = produce.timestamp_base {
            options.extend(["--timestamp-base".into(), base.to_string()]);
        }
        let lines = self.run_ok(bootstrap, topic, "produce", &options)?;
        let mut reports: Vec<(i64, i64)> = lines
            .iter()
            .filter(|line| line.get("i").is_some())
            .map(|line| Ok((int(line, "i")?, int(line, "offset")?)))
            .collect::<Result<_>>()?;
        reports.sort();
        let numbers: Vec<i64> = reports.iter().map(|r| r.0).collect();
        let expected: Vec<i64> = (produce.start..produce.start + produce.count).collect();
        ensure!(
            numbers == expected,
            "delivery reports for records {numbers:?}, expected {expected:?}"
        );
        Ok(reports.into_iter().map(|r| r.1).collect())
    }

    /// Reads partition 0 from `from` (None: earliest) up to its high
    /// watermark, by manual assignment.
    pub fn consume(
        &self,
        bootstrap: &str,
        topic: &str,
        from: Option<i64>,
    ) -> Result<Vec<Consumed>> {
        let offset = from.map_or_else(|| "earliest".to_owned(), |o| o.to_string());
        let lines = self.run_ok(bootstrap, topic, "consume", &["--offset".into(), offset])?;
        lines
            .iter()
            .filter(|line| line.get("offset").is_some())
            .map(|line| {
                Ok(Consumed {
                    offset: int(line, "offset")?,
                    key: line["key"].as_str().map(str::to_owned),
                    value: line["value"].as_str().map(str::to_owned),
                    timestamp: int(line, "timestamp")?,
                })
            })
            .collect()
    }

    /// ListOffsets by timestamp for partition 0.
    pub fn offset_for_time(&self, bootstrap: &str, topic: &str, timestamp: i64) -> Result<i64> {
        let lines = self.run_ok(
            bootstrap,
            topic,
            "offsets-for-times",
            &["--timestamp".into(), timestamp.to_string()],
        )?;
        int(lines.first().context("no output")?, "offset")
    }

    /// What the client reports for a timestamp after every record: Kafka
    /// answers offset -1, which kafkajs's fetchTopicOffsetsByTimestamp
    /// (documented) and franz-go's kadm ListOffsetsAfterMilli (documented)
    /// turn into the partition's end offset `end`.
    fn offset_past_every_record(&self, end: i64) -> i64 {
        match self {
            ScriptClient::Node(_) | ScriptClient::Go("franz") => end,
            ScriptClient::Python(_) | ScriptClient::Java { .. } | ScriptClient::Go(_) => -1,
        }
    }

    /// Topic name → partition count, and the brokers as (id, host, port).
    pub fn metadata(&self, bootstrap: &str) -> Result<Metadata> {
        let lines = self.run_ok(bootstrap, "-", "metadata", &[])?;
        let line = lines.first().context("no metadata output")?;
        let brokers = line["brokers"]
            .as_array()
            .context("no brokers")?
            .iter()
            .map(|b| {
                Ok((
                    int(b, "id")?,
                    b["host"].as_str().context("host")?.to_owned(),
                    int(b, "port")?,
                ))
            })
            .collect::<Result<_>>()?;
        let topics = line["topics"]
            .as_object()
            .context("no topics")?
            .iter()
            .map(|(name, n)| Ok((name.clone(), n.as_i64().context("partition count")?)))
            .collect::<Result<_>>()?;
        Ok(Metadata { brokers, topics })
    }
}

/// What a client sees of the cluster.
#[derive(Debug)]
pub struct Metadata {
    pub brokers: Vec<(i64, String, i64)>,
    pub topics: std::collections::BTreeMap<String, i64>,
}

/// Options of a produce run.
#[derive(Clone, Copy, Debug)]
pub struct Produce {
    pub acks: i16,
    pub count: i64,
    pub start: i64,
    pub timestamp_base: Option<i64>,
    pub linger_ms: u32,
}

impl Produce {
    pub fn new(acks: i16, count: i64) -> Self {
        Self {
            acks,
            count,
            start: 0,
            timestamp_base: None,
            linger_ms: 5,
        }
    }
}

fn int(line: &Value, field: &str) -> Result<i64> {
    line.get(field)
        .and_then(Value::as_i64)
        .with_context(|| format!("no integer {field:?} in {line}"))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Checks that `records` are exactly records `0..count` at offsets `0..count`.
pub fn assert_exactly_produced(records: &[Consumed], count: i64) -> Result<()> {
    ensure!(
        records.len() as i64 == count,
        "consumed {} records, produced {count}; first: {:?}, last: {:?}",
        records.len(),
        records.first(),
        records.last()
    );
    for (i, record) in (0..).zip(records) {
        ensure!(
            record.offset == i
                && record.key.as_deref() == Some(expected_key(i).as_str())
                && record.value.as_deref() == Some(expected_value(i).as_str()),
            "record at position {i} is {record:?}, expected offset {i} key-{i}/value-{i}"
        );
    }
    Ok(())
}

/// Scenario: produce `count` records with `acks`, then consume partition 0
/// from earliest by assignment and get exactly those records in order. With
/// acks=0 the client learns nothing, so the records only have to arrive
/// eventually.
pub fn produce_and_consume(client: ScriptClient, acks: i16) -> Result<()> {
    produce_and_consume_on(&gregor_broker_with_zk()?, client, acks)
}

/// [`produce_and_consume`] on a broker the caller started.
pub fn produce_and_consume_on(
    cluster: &SingleBroker,
    client: ScriptClient,
    acks: i16,
) -> Result<()> {
    const COUNT: i64 = 1000;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic(&format!("acks{acks}"));
    let offsets = client.produce(&bootstrap, &topic, Produce::new(acks, COUNT))?;
    if acks != 0 {
        let expected: Vec<i64> = (0..COUNT).collect();
        ensure!(
            offsets == expected,
            "acknowledged offsets {offsets:?}, expected 0..{COUNT}"
        );
    }
    let records = if acks == 0 {
        wait_until(
            &format!("{COUNT} acks=0 records in {topic}"),
            EVENTUALLY,
            || {
                let records = client.consume(&bootstrap, &topic, None)?;
                Ok((records.len() as i64 >= COUNT).then_some(records))
            },
        )?
    } else {
        client.consume(&bootstrap, &topic, None)?
    };
    assert_exactly_produced(&records, COUNT)
}

/// Scenario: two produce runs (so two separate batches) with explicit
/// CreateTime timestamps an hour apart; ListOffsets for a time between them
/// returns the first offset of the second run, and consuming from there
/// gives the second run only (every timestamp >= the target).
pub fn offsets_for_times_between_batches(client: ScriptClient) -> Result<()> {
    offsets_for_times_between_batches_on(&gregor_broker_with_zk()?, client)
}

/// [`offsets_for_times_between_batches`] on a broker the caller started.
pub fn offsets_for_times_between_batches_on(
    cluster: &SingleBroker,
    client: ScriptClient,
) -> Result<()> {
    const PER_RUN: i64 = 100;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("times");
    let first_base = now_ms() - 2 * 3_600_000;
    let second_base = first_base + 3_600_000;
    let mut first = Produce::new(-1, PER_RUN);
    first.timestamp_base = Some(first_base);
    client.produce(&bootstrap, &topic, first)?;
    let mut second = Produce::new(-1, PER_RUN);
    second.start = PER_RUN;
    // Record i gets base + i: the second run's first record has second_base + PER_RUN.
    second.timestamp_base = Some(second_base);
    client.produce(&bootstrap, &topic, second)?;

    let target = second_base - 1_800_000;
    let offset = client.offset_for_time(&bootstrap, &topic, target)?;
    ensure!(
        offset == PER_RUN,
        "offset for timestamp {target} is {offset}, expected {PER_RUN}"
    );
    check_consumed_from(client, &bootstrap, &topic, offset, target, PER_RUN)?;

    let none = client.offset_for_time(&bootstrap, &topic, second_base + 10 * 3_600_000)?;
    let expected = client.offset_past_every_record(2 * PER_RUN);
    ensure!(
        none == expected,
        "offset for a timestamp after every record is {none}, expected {expected}"
    );
    Ok(())
}

/// Scenario: one produce run, sent as one batch (linger), timestamps one ms
/// apart; ListOffsets for the timestamp of the middle record. Kafka answers
/// that record's exact offset (it searches records inside the batch), so
/// consuming from it sees no record older than the target.
pub fn offsets_for_times_inside_a_batch(client: ScriptClient) -> Result<()> {
    offsets_for_times_inside_a_batch_on(&gregor_broker_with_zk()?, client)
}

/// [`offsets_for_times_inside_a_batch`] on a broker the caller started.
pub fn offsets_for_times_inside_a_batch_on(
    cluster: &SingleBroker,
    client: ScriptClient,
) -> Result<()> {
    const COUNT: i64 = 100;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("times-in-batch");
    let base = now_ms() - 3_600_000;
    let mut run = Produce::new(-1, COUNT);
    run.timestamp_base = Some(base);
    run.linger_ms = 200;
    client.produce(&bootstrap, &topic, run)?;
    let target = base + COUNT / 2;
    let offset = client.offset_for_time(&bootstrap, &topic, target)?;
    ensure!(
        offset == COUNT / 2,
        "offset for timestamp {target} (record {}) is {offset}, expected {} as Kafka \
         answers (the record's own offset, not its batch's)",
        COUNT / 2,
        COUNT / 2
    );
    check_consumed_from(
        client,
        &bootstrap,
        &topic,
        offset,
        target,
        COUNT - COUNT / 2,
    )
}

fn check_consumed_from(
    client: ScriptClient,
    bootstrap: &str,
    topic: &str,
    offset: i64,
    target: i64,
    expected_count: i64,
) -> Result<()> {
    let records = client.consume(bootstrap, topic, Some(offset))?;
    ensure!(
        records.len() as i64 == expected_count,
        "{} records from offset {offset}, expected {expected_count}",
        records.len()
    );
    let first = &records[0];
    ensure!(
        first.offset == offset,
        "first record consumed from {offset} is {first:?}"
    );
    if let Some(older) = records.iter().find(|r| r.timestamp < target) {
        bail!("record {older:?} from offset {offset} is older than the target {target}");
    }
    Ok(())
}

/// Scenario: the admin client creates a topic with 3 partitions, which
/// then shows in metadata with 3 partitions, and deletes it, after which
/// it disappears from metadata.
pub fn admin_create_and_delete_topic(client: ScriptClient) -> Result<()> {
    admin_create_and_delete_topic_on(&gregor_broker_with_zk()?, client)
}

/// [`admin_create_and_delete_topic`] on a broker the caller started (its
/// only broker, id 1).
pub fn admin_create_and_delete_topic_on(
    cluster: &SingleBroker,
    client: ScriptClient,
) -> Result<()> {
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("admin");
    let lines = client.run_ok(
        &bootstrap,
        &topic,
        "create-topic",
        &["--partitions".into(), "3".into()],
    )?;
    ensure!(
        lines.iter().any(|l| l["created"] == topic.as_str()),
        "{lines:?}"
    );
    wait_until(
        &format!("{topic} with 3 partitions in metadata"),
        EVENTUALLY,
        || Ok((client.metadata(&bootstrap)?.topics.get(&topic) == Some(&3)).then_some(())),
    )?;
    let metadata = client.metadata(&bootstrap)?;
    ensure!(
        metadata.brokers == [(1, "127.0.0.1".to_owned(), i64::from(cluster.broker.port()))],
        "brokers in metadata: {:?}",
        metadata.brokers
    );

    let lines = client.run_ok(&bootstrap, &topic, "delete-topic", &[])?;
    ensure!(
        lines.iter().any(|l| l["deleted"] == topic.as_str()),
        "{lines:?}"
    );
    wait_until(
        &format!("{topic} to disappear from metadata"),
        EVENTUALLY,
        || Ok((!client.metadata(&bootstrap)?.topics.contains_key(&topic)).then_some(())),
    )
}
