//! Differential test of the files on disk (issue 13, "on disk"): the same
//! producer stream — the same Produce request bytes, batch by batch — goes
//! into one partition on an Apache Kafka 2.8 broker and on a gregor broker
//! run with the same `server.properties`; both are then stopped cleanly
//! (SIGTERM), and every file of the log dir and the partition dir is held
//! byte for byte against Kafka's: segments (`.log`), offset and time
//! indexes, producer state snapshots, `leader-epoch-checkpoint`,
//! `partition.metadata`, the log dir's checkpoints and `meta.properties`.
//!
//! Each file is reduced to decoded locations (a batch of a segment, an index
//! entry, a snapshot's producer entry, a line of a text file) plus its size
//! and a digest of its bytes, so a difference is reported as the field it is
//! in. Values that must differ (the cluster id, the topic id, the date in
//! `meta.properties`) are normalised; anything else that differs fails the
//! test unless `[disk]` in `integration-tests/differential/allowed-differences.txt`
//! says why.
//!
//! The stream goes in two parts: between them both brokers stop and start
//! again (producer state snapshots are read back, leader epochs move on),
//! and before the second stop the controller moves (its LeaderAndIsr makes
//! the brokers write `partition.metadata`). The file sets are also compared
//! while the brokers run (the file names of the log dir, names and sizes in
//! the partition dir: the active segment's indexes are preallocated sparse
//! files, the rolled ones trimmed), right after the topic is created and
//! after each part, since that is what a reader of a live log dir (a backup
//! tool, an operator) sees.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use gregor_protocol::api::create_topics::{CreatableTopic, CreatableTopicConfig};
use gregor_record::{with_max_timestamp, Compression, Record, RecordBatchBuilder};
use integration_tests::differential::compare;
use integration_tests::wire::WireClient;
use integration_tests::{wait_until, zk_cli, Broker, BrokerConfig, ZooKeeper, KAFKA_2_8};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const TOPIC: &str = "disk";
/// Small segments, so that the stream rolls several times by size.
const SEGMENT_BYTES: u32 = 40_000;
/// Batches sent before the restart, and in all.
const BATCHES_BEFORE_RESTART: usize = 48;
const BATCHES: usize = 64;
/// The batch whose timestamps lie eight days after the others: Kafka rolls
/// a segment when a batch's timestamp is `segment.ms` (7 days) past the
/// segment's first one.
const FUTURE_BATCH: usize = 30;
const EIGHT_DAYS_MS: i64 = 8 * 24 * 3600 * 1000;
/// Idempotent producers (ids the brokers never handed out: a broker accepts
/// any id for a producer it does not know).
const PRODUCER_A: (i64, i16) = (4242, 0);
const PRODUCER_B: (i64, i16) = (17, 2);
/// After the restart: producer A with a new epoch, and a producer whose id
/// does not fit an int (its place in Kafka's snapshot is that of its hash).
const PRODUCER_A_BUMPED: (i64, i16) = (4242, 1);
const PRODUCER_C: (i64, i16) = ((1 << 40) + 5, 0);
/// A producer whose only batch is timestamped eight days back: past
/// `transactional.id.expiration.ms` (7 days), so a restarted broker
/// forgets it, and its later snapshots do not have it.
const PRODUCER_D: (i64, i16) = (99, 0);
const PRODUCER_D_BATCH: usize = 40;
/// Uncompressed batches whose header says a max timestamp below their
/// records': a leader corrects it (and the CRC).
const WRONG_MAX_TIMESTAMP: [usize; 2] = [9, 51];
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One batch of the stream and what it stands for.
struct Batch {
    bytes: Bytes,
    /// Sent twice: the second is a retry an idempotent broker must not
    /// append again.
    retried: bool,
}

/// The stream: batches of 1 to 24 records of varying sizes (some with one
/// large record, so batches outgrow `index.interval.bytes`), timestamps out
/// of order inside a batch (the record with the largest is not the last),
/// some batches older than those before them, one batch eight days ahead;
/// two batches whose header understates their max timestamp; plain, gzip,
/// snappy, lz4 and zstd batches; two idempotent producers
/// interleaved with plain batches, one batch of which is sent twice. After
/// the restart (the second part), producer A comes back with a new epoch
/// and a third producer joins, while a fourth, whose one batch is eight
/// days old, has expired.
fn stream(base_ts: i64) -> (Vec<Batch>, Vec<Batch>) {
    // Seeded, so that the stream is the same on every run.
    let mut rng = SmallRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    let mut sequences = BTreeMap::new();
    let codecs = [
        Compression::None,
        Compression::None,
        Compression::Gzip,
        Compression::None,
        Compression::Snappy,
        Compression::Lz4,
        Compression::None,
        Compression::Zstd,
    ];
    let mut batches = Vec::with_capacity(BATCHES);
    for i in 0..BATCHES {
        let count: usize = rng.random_range(1..=24);
        let batch_ts = match i {
            FUTURE_BATCH => base_ts + EIGHT_DAYS_MS,
            PRODUCER_D_BATCH => base_ts - EIGHT_DAYS_MS,
            _ if i % 9 == 4 => base_ts + i as i64 * 1000 - 50_000,
            _ => base_ts + i as i64 * 1000,
        };
        let records: Vec<(i64, Option<Vec<u8>>, Vec<u8>)> = (0..count)
            .map(|r| {
                let ts = batch_ts + rng.random_range(-1000..1000);
                let key = rng
                    .random_ratio(2, 3)
                    .then(|| format!("key-{}", rng.random_range(0..50)).into_bytes());
                let size = if r == 0 && i % 7 == 3 {
                    5000
                } else {
                    rng.random_range(0..700)
                };
                let value = (0..size)
                    .map(|n| (n as u8).wrapping_mul(31) ^ i as u8)
                    .collect();
                (ts, key, value)
            })
            .collect();
        let producer = match (i < BATCHES_BEFORE_RESTART, i % 5) {
            _ if i == PRODUCER_D_BATCH => Some(PRODUCER_D),
            (true, 1 | 4) => Some(PRODUCER_A),
            (true, 3) => Some(PRODUCER_B),
            (false, 0) => Some(PRODUCER_A_BUMPED),
            (false, 1 | 3) => Some(PRODUCER_B),
            (false, 2) => Some(PRODUCER_C),
            _ => None,
        };
        let first_ts = records[0].0;
        let mut builder = RecordBatchBuilder::new(first_ts).compression(codecs[i % codecs.len()]);
        if let Some((id, epoch)) = producer {
            let sequence = sequences.entry((id, epoch)).or_insert(0i32);
            builder = builder.producer(id, epoch, *sequence);
            *sequence += count as i32;
        }
        for (ts, key, value) in &records {
            builder.append(Record::new(*ts, key.as_deref(), Some(value)));
        }
        let mut bytes = builder.build();
        if WRONG_MAX_TIMESTAMP.contains(&i) {
            bytes = with_max_timestamp(&bytes, first_ts - 5).into();
        }
        batches.push(Batch {
            bytes,
            retried: producer.is_some() && i == 21,
        });
    }
    let after_restart = batches.split_off(BATCHES_BEFORE_RESTART);
    (batches, after_restart)
}

/// Waits until the broker leads the topic's partition.
fn wait_for_leadership(client: &mut WireClient) -> Result<()> {
    wait_until("a leader for the partition", READY_TIMEOUT, || {
        let topic = client.topic_metadata(TOPIC, false)?;
        Ok(topic
            .partitions
            .first()
            .is_some_and(|p| p.error_code == 0 && p.leader_id == 1)
            .then_some(()))
    })
}

/// Creates the topic and waits until the broker leads its partition.
fn create_topic(broker: &Broker) -> Result<WireClient> {
    let mut client = WireClient::connect(&broker.bootstrap())?;
    wait_until("the broker to know itself", READY_TIMEOUT, || {
        let request = gregor_protocol::api::metadata::MetadataRequest {
            topics: Some(vec![]),
            ..Default::default()
        };
        let response = client.request(9, &request)?;
        Ok((response.controller_id == 1 && !response.brokers.is_empty()).then_some(()))
    })?;
    client.create_topic(CreatableTopic {
        name: TOPIC.into(),
        num_partitions: 1,
        replication_factor: 1,
        assignments: vec![],
        configs: vec![CreatableTopicConfig {
            name: "segment.bytes".into(),
            value: Some(SEGMENT_BYTES.to_string()),
        }],
    })?;
    wait_for_leadership(&mut client)?;
    Ok(client)
}

/// Sends the stream; returns each answer (base offset, log start offset).
fn produce(client: &mut WireClient, batches: &[Batch]) -> Result<Vec<(i64, i64)>> {
    let mut answers = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let sends = if batch.retried { 2 } else { 1 };
        for _ in 0..sends {
            let answer = client.produce(TOPIC, 0, -1, batch.bytes.clone())?;
            ensure!(
                answer.error_code == 0,
                "batch {i}: produce answered error {}",
                answer.error_code
            );
            answers.push((answer.base_offset, answer.log_start_offset));
        }
    }
    Ok(answers)
}

/// FNV-1a: a digest of a file's bytes, so that any byte difference shows
/// even where the decoding below does not look.
fn digest(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{} bytes, fnv1a {hash:016x}", bytes.len())
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

/// A segment's batches, one location each: every header field before the
/// CRC, and the CRC, which covers the rest of the batch.
fn decode_log(name: &str, b: &[u8], out: &mut BTreeMap<String, String>) {
    let mut at = 0;
    while at + 61 <= b.len() {
        let length = be_i32(b, at + 8);
        let value = format!(
            "base_offset={} length={length} leader_epoch={} magic={} crc={:08x} attributes={} \
             last_offset_delta={} first_ts={} max_ts={} producer={}/{} base_sequence={} count={}",
            be_i64(b, at),
            be_i32(b, at + 12),
            b[at + 16],
            be_u32(b, at + 17),
            be_i16(b, at + 21),
            be_i32(b, at + 23),
            be_i64(b, at + 27),
            be_i64(b, at + 35),
            be_i64(b, at + 43),
            be_i16(b, at + 51),
            be_i32(b, at + 53),
            be_i32(b, at + 57),
        );
        out.insert(format!("{name} batch at byte {at}"), value);
        at += 12 + length.max(0) as usize;
    }
    if at != b.len() {
        out.insert(
            format!("{name} tail"),
            format!("{} stray bytes", b.len() - at),
        );
    }
}

/// An index's entries, one location each.
fn decode_index(name: &str, b: &[u8], entry: usize, out: &mut BTreeMap<String, String>) {
    for (n, e) in b.chunks(entry).enumerate() {
        let value = match (entry, e.len()) {
            (8, 8) => format!("relative_offset={} position={}", be_i32(e, 0), be_i32(e, 4)),
            (12, 12) => format!(
                "timestamp={} relative_offset={}",
                be_i64(e, 0),
                be_i32(e, 8)
            ),
            _ => format!("partial entry {e:02x?}"),
        };
        out.insert(format!("{name} entry {n}"), value);
    }
}

/// A producer state snapshot (Kafka's `ProducerStateManager` schema v1):
/// version, CRC-32C of the rest, then the producer entries in file order.
fn decode_snapshot(name: &str, b: &[u8], out: &mut BTreeMap<String, String>) {
    if b.len() < 10 {
        out.insert(format!("{name} header"), format!("short file {b:02x?}"));
        return;
    }
    let count = be_i32(b, 6);
    out.insert(
        format!("{name} header"),
        format!(
            "version={} crc={:08x} entries={count}",
            be_i16(b, 0),
            be_u32(b, 2)
        ),
    );
    const ENTRY: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;
    for (n, e) in b[10..].chunks(ENTRY).enumerate() {
        let value = if e.len() == ENTRY {
            format!(
                "producer_id={} epoch={} last_sequence={} last_offset={} offset_delta={} \
                 timestamp={} coordinator_epoch={} current_txn_first_offset={}",
                be_i64(e, 0),
                be_i16(e, 8),
                be_i32(e, 10),
                be_i64(e, 14),
                be_i32(e, 22),
                be_i64(e, 26),
                be_i32(e, 34),
                be_i64(e, 38)
            )
        } else {
            format!("partial entry {e:02x?}")
        };
        out.insert(format!("{name} producer {n}"), value);
    }
}

/// A text file's lines (newline kept, so a missing last newline shows),
/// with the values that must differ replaced by placeholders.
fn decode_text(name: &str, text: &str, out: &mut BTreeMap<String, String>) {
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let line = normalise_line(name, n, line);
        out.insert(format!("{name} line {n}"), format!("{line:?}"));
    }
}

fn normalise_line(name: &str, n: usize, line: &str) -> String {
    let file = name.rsplit('/').next().unwrap_or(name);
    let end = if line.ends_with('\n') { "\n" } else { "" };
    match file {
        // java.util.Properties.store's second comment line is the date.
        "meta.properties" if n == 1 && line.starts_with('#') => format!("#<date>{end}"),
        "meta.properties" if line.starts_with("cluster.id=") => {
            format!("cluster.id=<cluster id>{end}")
        }
        "partition.metadata" if line.starts_with("topic_id: ") => {
            format!("topic_id: <topic id>{end}")
        }
        _ => line.to_owned(),
    }
}

/// Whether a file's bytes are normalised before the digest (it holds a
/// value that must differ).
fn normalised_file(file: &str) -> bool {
    matches!(file, "meta.properties" | "partition.metadata")
}

/// Every file under the log dir, decoded (after a clean stop).
fn files_at_rest(log_dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(log_dir.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let name = format!("{prefix}{file}");
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), format!("{name}/")));
                out.insert(name, "directory".into());
                continue;
            }
            let bytes = fs::read(entry.path())?;
            if normalised_file(&file) {
                let text = String::from_utf8_lossy(&bytes);
                let normalised: String = text
                    .split_inclusive('\n')
                    .enumerate()
                    .map(|(n, line)| normalise_line(&name, n, line))
                    .collect();
                out.insert(
                    name.clone(),
                    format!("normalised: {}", digest(normalised.as_bytes())),
                );
            } else {
                out.insert(name.clone(), digest(&bytes));
            }
            match file.rsplit_once('.').map(|(_, ext)| ext) {
                Some("log") => decode_log(&name, &bytes, &mut out),
                Some("index") => decode_index(&name, &bytes, 8, &mut out),
                Some("timeindex") => decode_index(&name, &bytes, 12, &mut out),
                Some("snapshot") => decode_snapshot(&name, &bytes, &mut out),
                _ if file == ".lock" => {}
                _ => decode_text(&name, &String::from_utf8_lossy(&bytes), &mut out),
            }
        }
    }
    Ok(out)
}

/// SIGTERM to both; each must exit as after a clean shutdown (the JVM
/// exits with 128 + SIGTERM once its shutdown hook has run).
fn stop_both(kafka: &mut Broker, gregor: &mut Broker) -> Result<()> {
    let status = kafka.terminate()?;
    ensure!(status.code() == Some(143), "Kafka exited with {status}");
    let log = kafka.current_run_log()?;
    ensure!(
        log.contains("shut down completed"),
        "Kafka did not shut down cleanly:\n{}",
        kafka.log_tail()
    );
    let status = gregor.terminate()?;
    ensure!(status.success(), "gregor exited with {status}");
    Ok(())
}

/// Adds `more` to `all`, each location prefixed with the phase it was
/// seen in.
fn add_phase(all: &mut BTreeMap<String, String>, phase: &str, more: BTreeMap<String, String>) {
    all.extend(more.into_iter().map(|(k, v)| (format!("{phase}: {k}"), v)));
}

/// What a live log dir shows: the partition dir's file names and sizes,
/// and the log dir's own file names (their contents are rewritten on
/// timers, so they are compared after the stop).
fn files_while_running(log_dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(log_dir)? {
        let entry = entry?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            for inner in fs::read_dir(entry.path())? {
                let inner = inner?;
                let name = inner.file_name().to_string_lossy().into_owned();
                let size = inner.metadata()?.len();
                out.insert(format!("{file}/{name}"), format!("{size} bytes"));
            }
        } else {
            out.insert(file, "present".into());
        }
    }
    Ok(out)
}

/// Starts a broker of each kind with the same settings, sends both the
/// same stream, compares the live file sets, stops both with SIGTERM,
/// compares every file; then restarts both, sends the rest of the stream,
/// moves the controller (so that `partition.metadata` is written), and
/// compares again, live and after a second stop.
#[test]
fn one_producer_stream_leaves_the_same_files_as_kafka_2_8() -> Result<()> {
    let started = Instant::now();
    let zookeeper = ZooKeeper::start_standalone()?;
    let configure = |config: BrokerConfig| {
        config
            .property("num.partitions", 1)
            .property("offsets.topic.replication.factor", 1)
            .property("log.index.interval.bytes", 4096)
    };
    let mut kafka = configure(
        BrokerConfig::new(1, &zookeeper.connect_string())
            .chroot("/kafka")
            .kafka(KAFKA_2_8),
    )
    .start()?;
    let mut gregor =
        configure(BrokerConfig::new(1, &zookeeper.connect_string()).chroot("/gregor")).start()?;

    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    // Whole seconds, so the stream is the same bytes for both brokers
    // whatever the clock does between them.
    let (before_restart, after_restart) = stream(now_ms / 1000 * 1000);
    let (mut kafka_files, mut gregor_files) = (BTreeMap::new(), BTreeMap::new());

    let mut kafka_client = create_topic(&kafka)?;
    let mut gregor_client = create_topic(&gregor)?;
    add_phase(
        &mut kafka_files,
        "created",
        files_while_running(&kafka.log_dir())?,
    );
    add_phase(
        &mut gregor_files,
        "created",
        files_while_running(&gregor.log_dir())?,
    );
    let kafka_answers = produce(&mut kafka_client, &before_restart)?;
    let gregor_answers = produce(&mut gregor_client, &before_restart)?;
    assert_eq!(
        gregor_answers, kafka_answers,
        "produce answers (base offset, log start)"
    );
    add_phase(
        &mut kafka_files,
        "running",
        files_while_running(&kafka.log_dir())?,
    );
    add_phase(
        &mut gregor_files,
        "running",
        files_while_running(&gregor.log_dir())?,
    );
    drop((kafka_client, gregor_client));
    eprintln!("first part sent ({:?}); stopping both", started.elapsed());
    stop_both(&mut kafka, &mut gregor)?;
    add_phase(
        &mut kafka_files,
        "stopped",
        files_at_rest(&kafka.log_dir())?,
    );
    add_phase(
        &mut gregor_files,
        "stopped",
        files_at_rest(&gregor.log_dir())?,
    );

    kafka.restart()?;
    gregor.restart()?;
    let mut kafka_client = WireClient::connect(&kafka.bootstrap())?;
    let mut gregor_client = WireClient::connect(&gregor.bootstrap())?;
    wait_for_leadership(&mut kafka_client)?;
    wait_for_leadership(&mut gregor_client)?;
    let kafka_answers = produce(&mut kafka_client, &after_restart)?;
    let gregor_answers = produce(&mut gregor_client, &after_restart)?;
    assert_eq!(
        gregor_answers, kafka_answers,
        "produce answers after the restart"
    );
    add_phase(
        &mut kafka_files,
        "restarted, running",
        files_while_running(&kafka.log_dir())?,
    );
    add_phase(
        &mut gregor_files,
        "restarted, running",
        files_while_running(&gregor.log_dir())?,
    );
    drop((kafka_client, gregor_client));

    // A new controller sends LeaderAndIsr for every partition: a broker
    // that already hosts one records its topic id in partition.metadata
    // then (Kafka 2.8 does not on a partition's first LeaderAndIsr).
    for (broker, chroot) in [(&kafka, "/kafka"), (&gregor, "/gregor")] {
        zk_cli(
            &zookeeper.connect_string(),
            &["delete", &format!("{chroot}/controller")],
        )?;
        let metadata = broker
            .log_dir()
            .join(format!("{TOPIC}-0/partition.metadata"));
        wait_until(
            &format!("{} to exist", metadata.display()),
            READY_TIMEOUT,
            || Ok(metadata.exists().then_some(())),
        )?;
    }
    eprintln!("second part sent ({:?}); stopping both", started.elapsed());
    stop_both(&mut kafka, &mut gregor)?;
    add_phase(
        &mut kafka_files,
        "restarted, stopped",
        files_at_rest(&kafka.log_dir())?,
    );
    add_phase(
        &mut gregor_files,
        "restarted, stopped",
        files_at_rest(&gregor.log_dir())?,
    );

    let at_rest = |suffix: &str| {
        kafka_files
            .keys()
            .filter(|k| k.starts_with("restarted, stopped: ") && k.ends_with(suffix))
            .count()
    };
    let segments = at_rest(".log");
    ensure!(
        at_rest(".snapshot") >= 4 && segments >= 5,
        "Kafka wrote {} snapshots of {segments} segments: the scenario does not test what it should",
        at_rest(".snapshot")
    );
    compare("disk", &kafka_files, &gregor_files)?;
    let files: Vec<&str> = kafka_files
        .iter()
        .filter(|(k, v)| k.starts_with("restarted, stopped: ") && v.contains("bytes, fnv1a"))
        .map(|(k, _)| k.trim_start_matches("restarted, stopped: "))
        .collect();
    eprintln!(
        "{} locations alike, Kafka's and gregor's ({:?}); the files at the end: {files:?}",
        kafka_files.len(),
        started.elapsed()
    );
    Ok(())
}
