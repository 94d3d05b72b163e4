//! gregor's own producer (`gregor_client::Producer`) against real brokers,
//! checked with independent clients: kcat (and gregor's own consumer) read
//! back what it sent, and librdkafka (the `rdkafka` crate,
//! `partitioner=murmur2_random`) must put every key on the same partition
//! as our partitioner. Also the `gregor produce` and `gregor perf produce`
//! commands through the binary.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use gregor_client::consumer::{Consumer, ConsumerConfig, ConsumerRecord};
use gregor_client::partitioner::partition_for_key;
use gregor_client::{Acks, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
use gregor_protocol::api::create_topics::CreatableTopic;
use integration_tests::cluster::CHANGE_TIMEOUT;
use integration_tests::wire::WireClient;
use integration_tests::{
    free_port, gregor_binary, gregor_broker_with_zk_configured, kcat_consume, run_with_timeout,
    unique_topic, ClientOutput, Cluster,
};
use rdkafka::config::ClientConfig as RdKafkaConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);
const PARTITIONS: i32 = 6;

/// Creates `topic` through broker `bootstrap` (CreateTopics v5).
fn create_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    replication_factor: i16,
) -> Result<()> {
    let topic = CreatableTopic {
        name: topic.into(),
        num_partitions: partitions,
        replication_factor,
        assignments: Vec::new(),
        configs: Vec::new(),
    };
    WireClient::connect(bootstrap)?.create_topic(topic)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Record `i`'s key: 5,000 keys, each used 20 times in 100,000 records.
fn key(i: usize) -> String {
    format!("key-{}", i % 5000)
}

fn value(i: usize) -> String {
    format!("value-{i}")
}

/// Sends records `0..count` (keyed by [`key`]) and returns each one's
/// metadata, in record order.
async fn produce_keyed(bootstrap: &str, topic: &str, count: usize) -> Result<Vec<RecordMetadata>> {
    let mut config = ProducerConfig::new(bootstrap);
    config.acks = Acks::All;
    let producer = Producer::connect(config).await?;
    let mut deliveries = Vec::with_capacity(count);
    for i in 0..count {
        let record = ProducerRecord::new(topic, value(i)).with_key(key(i));
        deliveries.push(producer.send(record).await?);
    }
    let mut acked = Vec::with_capacity(count);
    for (i, delivery) in deliveries.into_iter().enumerate() {
        acked.push(delivery.await.with_context(|| format!("record {i}"))?);
    }
    producer.close().await;
    Ok(acked)
}

/// Reads `count` records of `topic` with gregor's consumer, from the
/// beginning, as the only member of a new group.
async fn consume_all(bootstrap: &str, topic: &str, count: usize) -> Result<Vec<ConsumerRecord>> {
    let mut config = ConsumerConfig::new(bootstrap);
    config.group_id = Some(format!("{topic}-readers"));
    config.set("auto.offset.reset", "earliest")?;
    let mut consumer = Consumer::new(config).await?;
    consumer.subscribe([topic])?;
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut records = Vec::with_capacity(count);
    while records.len() < count {
        ensure!(
            Instant::now() < deadline,
            "read {} of {count} records within {CLIENT_TIMEOUT:?}",
            records.len()
        );
        records.extend(consumer.poll(Duration::from_millis(500)).await?);
    }
    consumer.close().await?;
    Ok(records)
}

/// `<offset> <key> <value>` lines of one partition, as kcat printed them.
fn read_partition(
    bootstrap: &str,
    topic: &str,
    partition: i32,
) -> Result<Vec<(i64, String, String)>> {
    let out = kcat_consume(bootstrap, topic, partition, "%o %k %s\n", CLIENT_TIMEOUT)?.success()?;
    out.lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let (Some(offset), Some(key), Some(value)) =
                (fields.next(), fields.next(), fields.next())
            else {
                bail!("unexpected kcat line {line:?}");
            };
            Ok((offset.parse()?, key.to_owned(), value.to_owned()))
        })
        .collect()
}

#[test]
fn hundred_thousand_keyed_records_land_on_their_murmur2_partition_once_and_in_order() -> Result<()>
{
    const RECORDS: usize = 100_000;
    let cluster = Cluster::start(3)?;
    let bootstrap = cluster.bootstrap();
    let topic = "keyed";
    let controller = cluster.controller_id()?;
    create_topic(
        &cluster.broker(controller)?.bootstrap(),
        topic,
        PARTITIONS,
        3,
    )?;
    cluster.wait_for_leaders(topic, PARTITIONS as usize, CHANGE_TIMEOUT)?;

    let acked = runtime()?.block_on(produce_keyed(&bootstrap, topic, RECORDS))?;
    for (i, m) in acked.iter().enumerate() {
        let expected = partition_for_key(key(i).as_bytes(), PARTITIONS as usize);
        ensure!(
            m.partition == expected,
            "record {i} ({}) acknowledged on partition {}, murmur2 says {expected}",
            key(i),
            m.partition
        );
    }

    let mut seen = vec![false; RECORDS];
    for partition in 0..PARTITIONS {
        let mut previous = None;
        for (offset, key_read, value_read) in read_partition(&bootstrap, topic, partition)? {
            let i: usize = value_read
                .strip_prefix("value-")
                .and_then(|i| i.parse().ok())
                .with_context(|| format!("unexpected value {value_read:?}"))?;
            ensure!(i < RECORDS && key_read == key(i), "{key_read} {value_read}");
            ensure!(!seen[i], "record {i} read twice");
            seen[i] = true;
            ensure!(
                acked[i].partition == partition && acked[i].offset == offset,
                "record {i} read at {partition}/{offset}, acknowledged at {}/{}",
                acked[i].partition,
                acked[i].offset
            );
            ensure!(
                previous < Some(i),
                "partition {partition}: record {i} after record {previous:?}"
            );
            previous = Some(i);
        }
    }
    let missing: Vec<usize> = (0..RECORDS).filter(|i| !seen[*i]).take(10).collect();
    ensure!(
        missing.is_empty(),
        "records never read back, first ones: {missing:?}"
    );

    // gregor's consumer, subscribed in a group, reads the same records:
    // each once, where it was acknowledged, with its key.
    let consumed = runtime()?.block_on(consume_all(&bootstrap, topic, RECORDS))?;
    ensure!(
        consumed.len() == RECORDS,
        "consumed {} records",
        consumed.len()
    );
    let mut seen = vec![false; RECORDS];
    for record in &consumed {
        let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default());
        let i: usize = value
            .strip_prefix("value-")
            .and_then(|i| i.parse().ok())
            .with_context(|| format!("unexpected value {value:?}"))?;
        ensure!(i < RECORDS && !seen[i], "record {i} consumed twice");
        seen[i] = true;
        ensure!(
            record.key.as_deref() == Some(key(i).as_bytes())
                && (record.partition, record.offset) == (acked[i].partition, acked[i].offset),
            "record {i} consumed at {}/{}, acknowledged at {}/{}",
            record.partition,
            record.offset,
            acked[i].partition,
            acked[i].offset
        );
    }
    Ok(())
}

#[test]
fn keys_land_on_the_same_partitions_as_with_librdkafkas_murmur2_random() -> Result<()> {
    let broker =
        gregor_broker_with_zk_configured(|c| c.property("auto.create.topics.enable", false))?;
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("both-clients");
    create_topic(&bootstrap, &topic, PARTITIONS, 1)?;
    // Every tail length, long keys and bytes that are not UTF-8.
    let mut keys: Vec<Vec<u8>> = (0..2000).map(|i| key(i).into_bytes()).collect();
    keys.extend((1..=64).map(|n| vec![b'x'; n]));
    keys.extend((0..=255u8).map(|b| vec![b, 0xff, b.wrapping_mul(7)]));

    let (ours, theirs) = runtime()?.block_on(async {
        let mut config = ProducerConfig::new(&bootstrap);
        config.linger = Duration::from_millis(5);
        let producer = Producer::connect(config).await?;
        let mut deliveries = Vec::new();
        for k in &keys {
            let record = ProducerRecord::new(topic.as_str(), "ours").with_key(k.clone());
            deliveries.push(producer.send(record).await?);
        }
        let mut ours = Vec::new();
        for d in deliveries {
            ours.push(d.await?.partition);
        }
        producer.close().await;

        let rdkafka: FutureProducer = RdKafkaConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("partitioner", "murmur2_random")
            .create()
            .context("creating the rdkafka producer")?;
        let mut deliveries = Vec::new();
        for k in &keys {
            let record = FutureRecord::to(&topic).key(k.as_slice()).payload("theirs");
            match rdkafka.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((e, _)) => bail!("rdkafka refused a record: {e}"),
            }
        }
        let mut theirs = Vec::new();
        for d in deliveries {
            match d.await {
                Ok(Ok((partition, _offset))) => theirs.push(partition),
                Ok(Err((e, _))) => bail!("rdkafka could not deliver: {e}"),
                Err(_) => bail!("rdkafka dropped a delivery report"),
            }
        }
        anyhow::Ok((ours, theirs))
    })?;

    for ((k, ours), theirs) in keys.iter().zip(&ours).zip(&theirs) {
        ensure!(
            ours == theirs,
            "key {k:?}: gregor's producer chose partition {ours}, librdkafka {theirs}"
        );
        ensure!(*ours == partition_for_key(k, PARTITIONS as usize));
    }
    // The keys do spread over every partition.
    let used: std::collections::BTreeSet<i32> = ours.iter().copied().collect();
    ensure!(
        used.len() == PARTITIONS as usize,
        "partitions used: {used:?}"
    );
    Ok(())
}

/// Runs `gregor <args>` with `stdin` as its standard input.
fn gregor_with_stdin(args: &[&str], stdin: &str) -> Result<ClientOutput> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("stdin");
    fs::write(&input, stdin)?;
    let binary = gregor_binary()?;
    let mut script = format!("exec '{}'", binary.display());
    for arg in args {
        write!(script, " '{arg}'")?;
    }
    write!(script, " < '{}'", input.display())?;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    Ok(run_with_timeout(cmd, CLIENT_TIMEOUT)?.into())
}

fn gregor(args: &[&str]) -> Result<ClientOutput> {
    let mut cmd = Command::new(gregor_binary()?);
    cmd.args(args);
    Ok(run_with_timeout(cmd, CLIENT_TIMEOUT)?.into())
}

#[test]
fn gregor_produce_sends_stdin_lines_with_keys_and_headers() -> Result<()> {
    let broker = gregor_broker_with_zk_configured(|c| c.property("num.partitions", 3))?;
    let bootstrap = broker.bootstrap();

    // Keyed lines, one value holding the separator, one empty value.
    let topic = unique_topic("console");
    let mut input = String::new();
    for i in 0..300 {
        writeln!(input, "k{}:line {i}", i % 17)?;
    }
    input.push_str("k1:a:b\r\nk2:\n");
    let args = [
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        &topic,
        "--key-separator",
        ":",
        "--header",
        "source=cli",
        "-H",
        "run=1",
        "--acks",
        "all",
        "--compression",
        "lz4",
    ];
    gregor_with_stdin(&args, &input)?.success()?;

    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for partition in 0..3 {
        let out =
            kcat_consume(&bootstrap, &topic, partition, "%k|%s|%h\n", CLIENT_TIMEOUT)?.success()?;
        for line in out.lines() {
            let fields: Vec<&str> = line.split('|').collect();
            let [key, value, headers] = fields[..] else {
                bail!("unexpected kcat line {line:?}");
            };
            ensure!(headers == "source=cli,run=1", "headers of {line:?}");
            ensure!(
                partition == partition_for_key(key.as_bytes(), 3),
                "{line:?} on partition {partition}"
            );
            by_key
                .entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..300 {
        expected
            .entry(format!("k{}", i % 17))
            .or_default()
            .push(format!("line {i}"));
    }
    expected.entry("k1".into()).or_default().push("a:b".into());
    expected.entry("k2".into()).or_default().push(String::new());
    ensure!(by_key == expected, "read back {by_key:?}");

    // One partition for all, no keys.
    let topic = unique_topic("console-partition");
    let args = [
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        &topic,
        "--partition",
        "2",
    ];
    gregor_with_stdin(&args, "x\ny\nz\n")?.success()?;
    let out = kcat_consume(&bootstrap, &topic, 2, "%K%s\n", CLIENT_TIMEOUT)?.success()?;
    ensure!(out == "-1x\n-1y\n-1z\n", "partition 2 holds {out:?}");

    // A line without the separator is an error that names it.
    let args = [
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        &topic,
        "--key-separator",
        "=",
    ];
    let out = gregor_with_stdin(&args, "a=1\nno separator\n")?;
    ensure!(out.status.code() == Some(1), "{out:?}");
    ensure!(
        out.stderr.contains("line 2 has no key separator"),
        "{out:?}"
    );
    Ok(())
}

#[test]
fn gregor_produce_names_the_unreachable_address_and_refuses_bad_arguments() -> Result<()> {
    let address = format!("127.0.0.1:{}", free_port()?);
    let out = gregor_with_stdin(&["produce", "-b", &address, "--topic", "t"], "x\n")?;
    ensure!(out.status.code() == Some(1), "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    ensure!(
        lines.len() == 1 && lines[0].starts_with("gregor: ") && lines[0].contains(&address),
        "{out:?}"
    );

    for bad in [
        &["produce", "--topic", "t", "--acks", "2"][..],
        &["produce", "--topic", "t", "--compression", "brotli"],
        &["produce"],
        &[
            "perf",
            "produce",
            "--topic",
            "t",
            "--num-records",
            "many",
            "--record-size",
            "1",
        ],
    ] {
        let out = gregor(bad)?;
        ensure!(out.status.code() == Some(2), "{bad:?}: {out:?}");
    }
    Ok(())
}

/// Parses `gregor perf produce`'s final line: `N records sent, R records/sec
/// (M MB/sec), A ms avg latency, X ms max latency, P ms 50th, P ms 95th, P
/// ms 99th, P ms 99.9th.` into N and the numbers after it.
fn parse_final_line(line: &str) -> Result<(u64, Vec<f64>)> {
    let body = line.strip_suffix('.').context("no final period")?;
    let parts: Vec<&str> = body.split(", ").collect();
    let suffixes = [
        " records sent",
        " records/sec",
        " ms avg latency",
        " ms max latency",
        " ms 50th",
        " ms 95th",
        " ms 99th",
        " ms 99.9th",
    ];
    ensure!(parts.len() == suffixes.len(), "{line:?}");
    let count = parts[0]
        .strip_suffix(suffixes[0])
        .context("count")?
        .parse()?;
    let mut numbers = Vec::new();
    for (part, suffix) in parts[1..].iter().zip(&suffixes[1..]) {
        // "R records/sec (M MB/sec)": the rate, then the MB/s in brackets.
        let (part, megabytes) = match part.split_once(" (") {
            Some((rate, mb)) => (rate, Some(mb)),
            None => (*part, None),
        };
        let number = part
            .strip_suffix(suffix)
            .with_context(|| format!("{part:?} does not end in {suffix:?}"))?;
        numbers.push(number.parse()?);
        if let Some(mb) = megabytes {
            let mb = mb.strip_suffix(" MB/sec)").context("MB/sec")?;
            numbers.push(mb.parse()?);
        }
    }
    Ok((count, numbers))
}

#[test]
fn gregor_perf_produce_reports_throughput_and_latency_percentiles() -> Result<()> {
    const RECORDS: u64 = 20_000;
    let broker = gregor_broker_with_zk_configured(|c| c.property("num.partitions", 2))?;
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("perf");
    let records = RECORDS.to_string();
    let out = gregor(&[
        "perf",
        "produce",
        "-b",
        &bootstrap,
        "--topic",
        &topic,
        "--num-records",
        &records,
        "--record-size",
        "100",
        "--acks",
        "all",
        "--linger-ms",
        "2",
    ])?
    .success()?;
    let last = out.lines().last().context("no output")?;
    let (count, numbers) = parse_final_line(last)?;
    ensure!(count == RECORDS, "{last}");
    let [rate, mb, avg, max, p50, p95, p99, p999] = numbers[..] else {
        bail!("{last}");
    };
    ensure!(rate > 0.0 && mb > 0.0, "{last}");
    ensure!(
        p50 <= p95 && p95 <= p99 && p99 <= p999 && p999 <= max && avg <= max,
        "latencies out of order: {last}"
    );
    // 100 bytes per record.
    let expected_mb = rate * 100.0 / (1024.0 * 1024.0);
    ensure!(
        (mb - expected_mb).abs() <= 0.01 + expected_mb * 0.01,
        "{last}"
    );

    let mut stored = 0;
    for partition in 0..2 {
        let out = kcat_consume(&bootstrap, &topic, partition, "%S\n", CLIENT_TIMEOUT)?.success()?;
        ensure!(out.lines().all(|size| size == "100"), "value sizes {out}");
        stored += out.lines().count() as u64;
    }
    ensure!(stored == RECORDS, "{stored} records stored");
    Ok(())
}
