//! gregor's own consumer (`gregor_client::consumer`) against a real
//! 3-broker cluster: reading assigned partitions, sharing a group with
//! other gregor consumers and with librdkafka (confluent-kafka), and the
//! `gregor consume` command built on it.
//!
//! Records are produced with kcat, one file of lines per partition, so
//! that every partition's expected contents are known exactly: line `i` of
//! partition `p` is `p<p>-<i>` and lands at offset `i`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use gregor_client::consumer::{Consumer, ConsumerConfig, ConsumerRecord};
use gregor_protocol::api::create_topics::CreatableTopic;
use gregor_protocol::api::describe_groups::DescribeGroupsRequest;
use gregor_protocol::api::find_coordinator::FindCoordinatorRequest;
use gregor_protocol::consumer_protocol::Assignment;
use gregor_protocol::TopicPartition;
use integration_tests::client_matrix::{Produce, CONFLUENT_KAFKA};
use integration_tests::cluster::CHANGE_TIMEOUT;
use integration_tests::wire::WireClient;
use integration_tests::{
    gregor_binary, kcat_produce_file, run_with_timeout, wait_until, ClientOutput, Cluster,
};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// Bound on producing or consuming everything, and on a group settling.
const TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(200);

/// `p<partition>-<i>`: line `i` of a partition's file, and the value at
/// offset `i` once produced (with offsets starting at `first`).
fn value(partition: i32, i: i64) -> String {
    format!("p{partition}-{i}")
}

/// `host:port` of the cluster's first broker.
fn first_broker(cluster: &Cluster) -> Result<String> {
    let first = *cluster.broker_ids().first().context("no broker")?;
    Ok(cluster.broker(first)?.bootstrap())
}

/// Creates `topic` with `partitions` partitions of 3 replicas (at the
/// controller, which alone serves CreateTopics) and waits until every
/// broker's metadata has its leaders.
fn create_topic(cluster: &Cluster, topic: &str, partitions: i32) -> Result<()> {
    let controller = cluster.broker(cluster.controller_id()?)?.bootstrap();
    WireClient::connect(&controller)?.create_topic(CreatableTopic {
        name: topic.to_owned(),
        num_partitions: partitions,
        replication_factor: 3,
        assignments: Vec::new(),
        configs: Vec::new(),
    })?;
    cluster.wait_until_metadata_agrees(&cluster.broker_ids(), topic, CHANGE_TIMEOUT)?;
    Ok(())
}

/// Produces values `from..to` to `partition` with kcat (`extra`: its
/// options, such as `-z gzip`).
fn produce(
    bootstrap: &str,
    dir: &Path,
    topic: &str,
    partition: i32,
    range: std::ops::Range<i64>,
    extra: &[&str],
) -> Result<()> {
    let lines: String = range.map(|i| value(partition, i) + "\n").collect();
    let file = dir.join(format!("{topic}-{partition}"));
    std::fs::write(&file, lines)?;
    kcat_produce_file(bootstrap, topic, partition, &file, extra, TIMEOUT)?
        .success()
        .with_context(|| format!("kcat producing to {topic}-{partition}"))?;
    Ok(())
}

fn partitions(topic: &str, count: i32) -> Vec<TopicPartition> {
    (0..count).map(|p| TopicPartition::new(topic, p)).collect()
}

/// A consumer configuration starting where nothing was committed at the
/// earliest record.
fn config(bootstrap: &str, group: Option<&str>) -> Result<ConsumerConfig> {
    let mut config = ConsumerConfig::new(bootstrap);
    config.set("auto.offset.reset", "earliest")?;
    config.group_id = group.map(str::to_owned);
    Ok(config)
}

/// What consumers read: partition → offset → (value, how many times).
#[derive(Debug, Default)]
struct Reads(BTreeMap<i32, BTreeMap<i64, (String, u32)>>);

impl Reads {
    fn add(&mut self, partition: i32, offset: i64, value: String) {
        let entry = self
            .0
            .entry(partition)
            .or_default()
            .entry(offset)
            .or_insert((value, 0));
        entry.1 += 1;
    }

    fn total(&self) -> usize {
        self.0.values().map(BTreeMap::len).sum()
    }

    /// Every partition holds exactly offsets `0..per_partition[p]` with
    /// their values, none read twice.
    fn check_exactly(&self, per_partition: &BTreeMap<i32, i64>) -> Result<()> {
        for (&p, &count) in per_partition {
            let read = self.0.get(&p).map(BTreeMap::len).unwrap_or(0);
            ensure!(
                read as i64 == count,
                "partition {p}: read {read} of {count} offsets"
            );
            for (i, (offset, (v, times))) in (0..).zip(self.0.get(&p).into_iter().flatten()) {
                ensure!(
                    *offset == i,
                    "partition {p}: offset {i} skipped, next read {offset}"
                );
                ensure!(*v == value(p, i), "partition {p} offset {i}: read {v:?}");
                ensure!(*times == 1, "partition {p} offset {i} read {times} times");
            }
        }
        let extra: Vec<&i32> = self
            .0
            .keys()
            .filter(|p| !per_partition.contains_key(p))
            .collect();
        ensure!(extra.is_empty(), "read partitions {extra:?} too");
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn an_assigned_consumer_reads_every_record_once_and_in_order() -> Result<()> {
    const PARTITIONS: i32 = 6;
    const RECORDS: i64 = 100_000;
    let cluster = Cluster::start(3)?;
    let bootstrap = cluster.bootstrap();
    let topic = "assigned";
    create_topic(&cluster, topic, PARTITIONS)?;
    let dir = tempfile::tempdir()?;
    // Every codec librdkafka writes, so that decompression and offsets
    // inside compressed batches are exercised too.
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd", "none"];
    let mut expected = BTreeMap::new();
    for p in 0..PARTITIONS {
        let count = RECORDS / i64::from(PARTITIONS) + i64::from(i64::from(p) < RECORDS % 6);
        let codec = codecs[p as usize];
        produce(&bootstrap, dir.path(), topic, p, 0..count, &["-z", codec])?;
        expected.insert(p, count);
    }
    ensure!(expected.values().sum::<i64>() == RECORDS);

    let rt = Runtime::new()?;
    let reads = rt.block_on(async {
        let mut consumer = Consumer::new(config(&bootstrap, None)?).await?;
        let all = partitions(topic, PARTITIONS);
        consumer.assign(all.clone());
        consumer.seek_to_beginning(&all)?;
        let ends = consumer.end_offsets(&all).await?;
        let expected_ends: BTreeMap<TopicPartition, i64> = expected
            .iter()
            .map(|(p, n)| (TopicPartition::new(topic, *p), *n))
            .collect();
        ensure!(ends == expected_ends, "end offsets {ends:?}");

        let mut reads = Reads::default();
        let mut last_offset: BTreeMap<i32, i64> = BTreeMap::new();
        let deadline = Instant::now() + TIMEOUT;
        let mut polls = 0;
        while reads.total() < RECORDS as usize {
            ensure!(
                Instant::now() < deadline,
                "read {} of {RECORDS}",
                reads.total()
            );
            for r in consumer.poll(POLL).await? {
                // In order within a partition, as the poll returns them.
                let previous = last_offset.insert(r.partition, r.offset);
                ensure!(
                    previous.is_none_or(|o| o + 1 == r.offset),
                    "partition {}: offset {} after {previous:?}",
                    r.partition,
                    r.offset
                );
                let v = String::from_utf8(r.value.context("null value")?.to_vec())?;
                reads.add(r.partition, r.offset, v);
            }
            polls += 1;
        }
        // Nothing more than was produced.
        let extra = consumer.poll(Duration::from_millis(500)).await?;
        ensure!(extra.is_empty(), "{} records past the end", extra.len());
        eprintln!("read {RECORDS} records in {polls} polls");

        // Past the end: OFFSET_OUT_OF_RANGE, and auto.offset.reset=earliest
        // starts the partition over.
        consumer.seek(&all[0], 1_000_000_000)?;
        let again = wait_for_records(&mut consumer).await?;
        ensure!(
            again[0].offset == 0,
            "after the reset: offset {}",
            again[0].offset
        );
        consumer.close().await?;
        Ok::<_, anyhow::Error>(reads)
    })?;
    reads.check_exactly(&expected)
}

/// The next records a poll returns, within [`TIMEOUT`].
async fn wait_for_records(consumer: &mut Consumer) -> Result<Vec<ConsumerRecord>> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let records = consumer.poll(POLL).await?;
        if !records.is_empty() {
            return Ok(records);
        }
        ensure!(Instant::now() < deadline, "no records within {TIMEOUT:?}");
    }
}

/// What a [`Member`] reads.
enum Reading {
    /// Subscribes to the topic as a member of the configured group.
    Subscribe(String),
    /// Reads these partitions, without a group.
    Assign(Vec<TopicPartition>),
}

/// A consumer running as a task: polls, records what it read and its
/// assignment, and in a group commits after every poll that returned
/// records.
struct Member {
    assignment: Arc<Mutex<BTreeSet<i32>>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<Result<()>>,
}

impl Member {
    /// A member of the configured group, subscribed to `topic`.
    fn spawn(rt: &Runtime, config: ConsumerConfig, topic: &str, reads: Arc<Mutex<Reads>>) -> Self {
        Self::reading(rt, config, Reading::Subscribe(topic.to_owned()), reads)
    }

    fn reading(
        rt: &Runtime,
        config: ConsumerConfig,
        reading: Reading,
        reads: Arc<Mutex<Reads>>,
    ) -> Self {
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let in_group = config.group_id.is_some();
        let task = rt.spawn({
            let (assignment, stop) = (Arc::clone(&assignment), Arc::clone(&stop));
            async move {
                let mut consumer = Consumer::new(config).await?;
                match reading {
                    Reading::Subscribe(topic) => consumer.subscribe([topic])?,
                    Reading::Assign(partitions) => consumer.assign(partitions),
                }
                while !stop.load(Ordering::SeqCst) {
                    let records = consumer.poll(POLL).await?;
                    {
                        let mut reads = lock(&reads);
                        for r in &records {
                            let v = r.value.as_deref().unwrap_or_default();
                            reads.add(r.partition, r.offset, String::from_utf8(v.to_vec())?);
                        }
                    }
                    *lock(&assignment) = consumer
                        .assignment()
                        .iter()
                        .map(|tp| tp.partition)
                        .collect();
                    if in_group && !records.is_empty() {
                        consumer.commit_sync().await?;
                    }
                }
                consumer.close().await?;
                Ok(())
            }
        });
        Member {
            assignment,
            stop,
            task,
        }
    }

    fn assignment(&self) -> BTreeSet<i32> {
        lock(&self.assignment).clone()
    }

    /// Stops polling, commits, leaves the group; fails if the member failed.
    fn close(self, rt: &Runtime) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        rt.block_on(self.task)?
    }

    /// The member's error if it stopped by itself.
    fn check_alive(&self) -> Result<()> {
        ensure!(!self.task.is_finished(), "a member stopped on its own");
        Ok(())
    }
}

/// Waits until `members` hold disjoint assignments of the given sizes that
/// together cover `partitions`.
fn wait_for_assignments(members: &[&Member], sizes: &[usize], partitions: i32) -> Result<()> {
    let mut last = Vec::new();
    wait_until("the group's assignment", TIMEOUT, || {
        for m in members {
            m.check_alive()?;
        }
        last = members.iter().map(|m| m.assignment()).collect::<Vec<_>>();
        let all: BTreeSet<i32> = last.iter().flatten().copied().collect();
        let sized = last.iter().map(BTreeSet::len).eq(sizes.iter().copied());
        Ok((sized && all == (0..partitions).collect()).then_some(()))
    })
    .with_context(|| format!("last assignments: {last:?}"))
}

fn wait_for_reads(reads: &Mutex<Reads>, total: usize, members: &[&Member]) -> Result<()> {
    wait_until(&format!("{total} records read"), TIMEOUT, || {
        for m in members {
            m.check_alive()?;
        }
        Ok((lock(reads).total() >= total).then_some(()))
    })
    .with_context(|| format!("read {}", lock(reads).total()))
}

#[test]
fn group_members_share_partitions_and_take_over_from_committed_offsets() -> Result<()> {
    const PARTITIONS: i32 = 6;
    const WAVE: i64 = 2_000;
    let cluster = Cluster::start(3)?;
    let bootstrap = cluster.bootstrap();
    let topic = "shared";
    create_topic(&cluster, topic, PARTITIONS)?;
    let dir = tempfile::tempdir()?;
    let rt = Runtime::new()?;
    let reads = Arc::new(Mutex::new(Reads::default()));
    let members: Vec<Member> = (0..3)
        .map(|_| {
            let config = config(&bootstrap, Some("sharing"))?;
            Ok(Member::spawn(&rt, config, topic, Arc::clone(&reads)))
        })
        .collect::<Result<_>>()?;
    let all: Vec<&Member> = members.iter().collect();
    wait_for_assignments(&all, &[2, 2, 2], PARTITIONS)?;
    let before: Vec<BTreeSet<i32>> = members.iter().map(Member::assignment).collect();

    for p in 0..PARTITIONS {
        produce(&bootstrap, dir.path(), topic, p, 0..WAVE, &[])?;
    }
    let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, WAVE)).collect();
    wait_for_reads(&reads, (WAVE * 6) as usize, &all)?;
    lock(&reads).check_exactly(&expected)?;
    let after: Vec<BTreeSet<i32>> = members.iter().map(Member::assignment).collect();
    ensure!(
        before == after,
        "the group rebalanced while reading: {before:?} -> {after:?}"
    );

    // The first member leaves; the other two split its partitions and
    // resume them where it committed.
    let mut members = members.into_iter();
    let leaving = members.next().context("three members")?;
    leaving.close(&rt)?;
    let staying: Vec<Member> = members.collect();
    let rest: Vec<&Member> = staying.iter().collect();
    wait_for_assignments(&rest, &[3, 3], PARTITIONS)?;
    for p in 0..PARTITIONS {
        produce(&bootstrap, dir.path(), topic, p, WAVE..2 * WAVE, &[])?;
    }
    let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 2 * WAVE)).collect();
    wait_for_reads(&reads, (2 * WAVE * 6) as usize, &rest)?;
    for member in staying {
        member.close(&rt)?;
    }
    // Nothing skipped, and nothing read again: the new owners started at
    // the committed offsets, not at auto.offset.reset=earliest.
    let checked = lock(&reads).check_exactly(&expected);
    checked
}

/// Leaders go away while an assigned consumer waits on them: one by a
/// controlled shutdown, one killed, each followed by more records. The consumer follows the partitions to their new
/// leaders (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, refused
/// connections, all answered with a metadata refresh) and reads every
/// record once.
#[test]
fn an_assigned_consumer_follows_leaders_that_move() -> Result<()> {
    const PARTITIONS: i32 = 6;
    const WAVE: i64 = 1_000;
    let mut cluster = Cluster::start(3)?;
    let bootstrap = cluster.bootstrap();
    let topic = "moving";
    create_topic(&cluster, topic, PARTITIONS)?;
    let dir = tempfile::tempdir()?;
    let rt = Runtime::new()?;
    let reads = Arc::new(Mutex::new(Reads::default()));
    let reader = Member::reading(
        &rt,
        config(&bootstrap, None)?,
        Reading::Assign(partitions(topic, PARTITIONS)),
        Arc::clone(&reads),
    );
    for wave in 0..3 {
        for p in 0..PARTITIONS {
            let range = wave * WAVE..(wave + 1) * WAVE;
            produce(&bootstrap, dir.path(), topic, p, range, &[])?;
        }
        let total = (wave + 1) * WAVE * i64::from(PARTITIONS);
        wait_for_reads(&reads, total as usize, &[&reader])?;
        if wave == 2 {
            break;
        }
        // The leader of partition 0 goes: gently first, then not.
        let leader = *cluster
            .topic_in_zk(topic)?
            .context("topic gone")?
            .leaders()
            .get(&0)
            .context("no partition 0")?;
        // No waiting for the new leaders: kcat and the consumer find them.
        if wave == 0 {
            cluster.broker_mut(leader)?.terminate()?;
        } else {
            cluster.broker_mut(leader)?.kill9()?;
        }
    }
    reader.close(&rt)?;
    let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 3 * WAVE)).collect();
    let checked = lock(&reads).check_exactly(&expected);
    checked
}

/// The broker coordinating `group`, as FindCoordinator answers.
fn coordinator_of(cluster: &Cluster, group: &str) -> Result<String> {
    wait_until(&format!("a coordinator for {group}"), TIMEOUT, || {
        let mut client = WireClient::connect(&first_broker(cluster)?)?;
        let request = FindCoordinatorRequest {
            key: group.to_owned(),
            ..Default::default()
        };
        let response = client.request(3, &request)?;
        Ok((response.error_code == 0).then(|| format!("{}:{}", response.host, response.port)))
    })
}

/// The partitions of each member of `group`, once DescribeGroups shows it
/// Stable with `members` members.
fn stable_group(cluster: &Cluster, group: &str, members: usize) -> Result<Vec<BTreeSet<i32>>> {
    let what = format!("group {group} Stable with {members} members");
    wait_until(&what, TIMEOUT, || {
        let coordinator = coordinator_of(cluster, group)?;
        let request = DescribeGroupsRequest {
            groups: vec![group.to_owned()],
            include_authorized_operations: false,
        };
        let response = WireClient::connect(&coordinator)?.request(5, &request)?;
        let described = response.groups.first().context("no group described")?;
        if described.error_code != 0 || described.group_state != "Stable" {
            return Ok(None);
        }
        if described.members.len() != members {
            return Ok(None);
        }
        let assignments = described
            .members
            .iter()
            .map(|m| {
                let assignment = Assignment::decode(&m.member_assignment)?;
                Ok(assignment
                    .partitions
                    .iter()
                    .map(|tp| tp.partition)
                    .collect())
            })
            .collect::<Result<Vec<BTreeSet<i32>>>>()?;
        Ok(Some(assignments))
    })
}

/// Runs confluent-kafka's `group-consume` in a thread; its JSON lines when
/// it ends (after 5 s without records).
fn spawn_librdkafka_member(
    bootstrap: &str,
    topic: &str,
    group: &str,
) -> thread::JoinHandle<Result<Vec<serde_json::Value>>> {
    let (bootstrap, topic, group) = (bootstrap.to_owned(), topic.to_owned(), group.to_owned());
    thread::spawn(move || {
        let options: Vec<String> = ["--group", &group, "--idle-ms", "5000", "--max-secs", "100"]
            .map(String::from)
            .to_vec();
        CONFLUENT_KAFKA.run_ok(&bootstrap, &topic, "group-consume", &options)
    })
}

/// A gregor consumer and a librdkafka consumer in one group: with either
/// as the group leader (the first to join), they split the partitions
/// 3/3 and together read every record once. The leader decodes the other's
/// subscription and encodes its assignment, so this holds only if gregor
/// reads and writes Kafka's ConsumerProtocol exactly.
#[test]
fn a_gregor_and_a_librdkafka_consumer_share_a_group() -> Result<()> {
    const PARTITIONS: i32 = 6;
    const PER_PARTITION: i64 = 500;
    let cluster = Cluster::start(3)?;
    let bootstrap = cluster.bootstrap();
    let dir = tempfile::tempdir()?;
    let rt = Runtime::new()?;
    for gregor_leads in [true, false] {
        let topic = format!("mixed-{gregor_leads}");
        let group = format!("mixed-group-{gregor_leads}");
        create_topic(&cluster, &topic, PARTITIONS)?;
        let reads = Arc::new(Mutex::new(Reads::default()));
        let (ours, theirs) = if gregor_leads {
            let ours = Member::spawn(
                &rt,
                config(&bootstrap, Some(&group))?,
                &topic,
                Arc::clone(&reads),
            );
            wait_for_assignments(&[&ours], &[6], PARTITIONS)?;
            (ours, spawn_librdkafka_member(&bootstrap, &topic, &group))
        } else {
            let theirs = spawn_librdkafka_member(&bootstrap, &topic, &group);
            let alone = stable_group(&cluster, &group, 1)?;
            ensure!(
                alone == [(0..PARTITIONS).collect()],
                "librdkafka alone holds {alone:?}"
            );
            let ours = Member::spawn(
                &rt,
                config(&bootstrap, Some(&group))?,
                &topic,
                Arc::clone(&reads),
            );
            (ours, theirs)
        };
        let split = stable_group(&cluster, &group, 2)?;
        let ours_held = wait_until("gregor's half of the partitions", TIMEOUT, || {
            ours.check_alive()?;
            let held = ours.assignment();
            Ok((held.len() == 3).then_some(held))
        })?;
        ensure!(
            split.iter().all(|a| a.len() == 3) && split.contains(&ours_held),
            "assignments {split:?}, gregor holds {ours_held:?}"
        );

        for p in 0..PARTITIONS {
            produce(&bootstrap, dir.path(), &topic, p, 0..PER_PARTITION, &[])?;
        }
        let lines = theirs
            .join()
            .map_err(|_| anyhow!("the librdkafka thread panicked"))??;
        let their_partitions: BTreeSet<i32> = lines
            .iter()
            .filter_map(|l| l.get("assigned"))
            .next_back()
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .context("librdkafka printed no assignment")?;
        ensure!(
            their_partitions.len() == 3 && their_partitions.is_disjoint(&ours_held),
            "librdkafka held {their_partitions:?}, gregor {ours_held:?}"
        );
        let mut their_reads = 0;
        for line in lines.iter().filter(|l| l.get("offset").is_some()) {
            let partition = line["partition"].as_i64().context("partition")? as i32;
            let offset = line["offset"].as_i64().context("offset")?;
            let v = line["value"].as_str().context("value")?.to_owned();
            ensure!(
                their_partitions.contains(&partition),
                "librdkafka read {line}"
            );
            lock(&reads).add(partition, offset, v);
            their_reads += 1;
        }
        ensure!(
            their_reads == 3 * PER_PARTITION,
            "librdkafka read {their_reads}"
        );
        wait_for_reads(&reads, (PER_PARTITION * 6) as usize, &[&ours])?;
        ours.close(&rt)?;
        let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, PER_PARTITION)).collect();
        lock(&reads).check_exactly(&expected)?;
    }
    Ok(())
}

/// Runs `gregor consume -b <bootstrap> <args>`.
fn gregor_consume(bootstrap: &str, args: &[&str]) -> Result<ClientOutput> {
    let mut cmd = Command::new(gregor_binary()?);
    cmd.args(["consume", "-b", bootstrap]).args(args);
    Ok(run_with_timeout(cmd, TIMEOUT)?.into())
}

fn stdout_lines(output: ClientOutput) -> Result<Vec<String>> {
    Ok(output.success()?.lines().map(str::to_owned).collect())
}

#[test]
fn the_consume_command_starts_where_told_and_resumes_a_group() -> Result<()> {
    const COUNT: i64 = 20;
    const BASE_TIME: i64 = 1_600_000_000_000;
    // Each run is a new member of an empty group: no waiting for others.
    let cluster = Cluster::start_with(3, |c| c.property("group.initial.rebalance.delay.ms", 0))?;
    let bootstrap = cluster.bootstrap();
    let topic = "console";
    create_topic(&cluster, topic, 1)?;
    // value-<i> with key key-<i> and CreateTime BASE_TIME + i, at offset i.
    let mut produce = Produce::new(-1, COUNT);
    produce.timestamp_base = Some(BASE_TIME);
    CONFLUENT_KAFKA.produce(&bootstrap, topic, produce)?;
    let values = |range: std::ops::Range<i64>| -> Vec<String> {
        range.map(|i| format!("value-{i}")).collect()
    };

    let first = gregor_consume(
        &bootstrap,
        &["-t", topic, "--from-beginning", "--max-messages", "5"],
    )?;
    ensure!(
        first.stderr.contains("Processed a total of 5 messages"),
        "{}",
        first.stderr
    );
    ensure!(stdout_lines(first)? == values(0..5));

    // A group resumes where its last run committed, however much that run
    // had fetched beyond what it printed.
    let group = ["-t", topic, "--group", "console-group", "--from-beginning"];
    let run = |extra: &[&str]| gregor_consume(&bootstrap, &[&group[..], extra].concat());
    ensure!(stdout_lines(run(&["--max-messages", "5"])?)? == values(0..5));
    ensure!(stdout_lines(run(&["--max-messages", "5"])?)? == values(5..10));
    ensure!(stdout_lines(run(&["--timeout-ms", "5000"])?)? == values(10..COUNT));
    ensure!(stdout_lines(run(&["--timeout-ms", "5000"])?)?.is_empty());

    let at = (BASE_TIME + 12).to_string();
    let from_time = gregor_consume(
        &bootstrap,
        &[
            "-t",
            topic,
            "--timestamp",
            &at,
            "--timeout-ms",
            "2000",
            "--print-key",
            "--print-offset",
        ],
    )?;
    let expected: Vec<String> = (12..COUNT)
        .map(|i| format!("Offset:{i}\tkey-{i}\tvalue-{i}"))
        .collect();
    ensure!(stdout_lines(from_time)? == expected);

    let formatted = gregor_consume(
        &bootstrap,
        &[
            "-t",
            topic,
            "-p",
            "0",
            "-o",
            "18",
            "--max-messages",
            "2",
            "-f",
            "%t %p %o %T %k=%s\\n",
        ],
    )?;
    let expected: Vec<String> = (18..COUNT)
        .map(|i| format!("{topic} 0 {i} {} key-{i}=value-{i}", BASE_TIME + i))
        .collect();
    ensure!(stdout_lines(formatted)? == expected);

    // Arguments that do not go together are a usage error (exit code 2).
    let conflict = gregor_consume(&bootstrap, &["-t", topic, "--group", "g", "--offset", "3"])?;
    ensure!(conflict.status.code() == Some(2), "{conflict:?}");
    let unreachable = gregor_consume("127.0.0.1:1", &["-t", topic, "--max-messages", "1"])?;
    ensure!(
        !unreachable.status.success() && unreachable.stderr.contains("127.0.0.1:1"),
        "{unreachable:?}"
    );
    if unreachable.stderr.lines().count() != 1 {
        bail!("more than one line of error: {:?}", unreachable.stderr);
    }
    Ok(())
}
