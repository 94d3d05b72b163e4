//! The replication fault test of issue 5: idempotent acks=all producers
//! with `min.insync.replicas=2` write numbered records to every partition of
//! a replication-factor-3 topic while the test repeatedly `kill -9`s the
//! leader of some partition (once the controller), waits for a new leader,
//! restarts the killed broker and waits until it is back in every ISR (once
//! restarting it at once instead, a crash and restart within its session).
//! Afterwards a consumer reads every partition from the start: every
//! acknowledged record is there exactly once, in send order, and nothing
//! that was never sent; and the three replicas of each partition are the
//! same bytes on disk.
//!
//! Bounded (every wait has a timeout; the whole run takes well under a
//! minute on an idle 2-core machine), loopback only.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use bytes::Bytes;
use gregor_protocol::api::create_topics::{CreatableReplicaAssignment, CreatableTopic};
use gregor_protocol::api::metadata::MetadataResponseTopic;
use gregor_protocol::ErrorCode;
use gregor_record::{Record, RecordBatchBuilder};
use integration_tests::cluster::{now_ms, replica_files, CHANGE_TIMEOUT, SESSION_TIMEOUT};
use integration_tests::wire::WireClient;
use integration_tests::{json_lines, python, wait_until, Cluster};
use serde::Deserialize;

const TOPIC: &str = "faults";
const PARTITIONS: i32 = 3;
/// How many brokers are killed and restarted, one after the other.
const KILLS: usize = 5;
/// The kill that takes the controller.
const CONTROLLER_KILL: usize = 2;
/// The kill after which the broker is restarted at once.
const CRASH_RESTART_KILL: usize = 4;
/// `replica.lag.time.max.ms` of the cluster: short enough that a replica
/// lagging under load leaves the ISR (and rejoins) within the test, as a
/// real fault would make it.
const LAG_TIME_MAX: Duration = Duration::from_secs(5);
/// One record to each partition every this many ms.
const INTERVAL_MS: u32 = 5;
/// Bound on the producer's run: the faults, then its last deliveries (its
/// delivery timeout is 90 s).
const PRODUCER_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound on a consumer run.
const CONSUMER_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the whole test once its cluster runs: faults and checks.
const TEST_BOUND: Duration = Duration::from_secs(120);
/// The divergent-tail test's `replica.lag.time.max.ms`: a stopped follower
/// leaves the ISR within seconds...
const DIVERGENT_LAG_TIME_MAX: Duration = Duration::from_secs(2);
/// ...well within its `zookeeper.session.timeout.ms`, so that it keeps its
/// session (and its place among the live brokers) while stopped.
const DIVERGENT_SESSION_TIMEOUT: Duration = Duration::from_secs(15);
/// The divergent-tail test's `replica.high.watermark.checkpoint.interval.ms`.
const DIVERGENT_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Creates `topic` through the controller (CreateTopics v5): `partitions`
/// partitions of 3 replicas, or placed as `assignment` says.
fn create_topic(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
    assignment: &[Vec<i32>],
) -> Result<()> {
    let controller = cluster.controller_id()?;
    let manual = !assignment.is_empty();
    let topic = CreatableTopic {
        name: topic.into(),
        num_partitions: if manual { -1 } else { partitions },
        replication_factor: if manual { -1 } else { 3 },
        assignments: assignment
            .iter()
            .zip(0..)
            .map(|(brokers, p)| CreatableReplicaAssignment {
                partition_index: p,
                broker_ids: brokers.clone(),
            })
            .collect(),
        configs: Vec::new(),
    };
    WireClient::connect(&cluster.broker(controller)?.bootstrap())?.create_topic(topic)
}

/// `topic`'s partitions as broker `asked` has them in its metadata.
fn topic_metadata(cluster: &Cluster, asked: i32, topic: &str) -> Result<MetadataResponseTopic> {
    cluster
        .metadata_from(asked)?
        .topics
        .into_iter()
        .find(|t| t.name == topic)
        .with_context(|| format!("broker {asked}'s metadata has no {topic}"))
}

/// Waits until broker `asked`'s metadata satisfies `accept` for every
/// partition of [`TOPIC`]: (partition, leader, ISR). Returns each
/// partition's leader.
fn wait_for_partitions(
    cluster: &Cluster,
    asked: i32,
    what: &str,
    timeout: Duration,
    accept: impl Fn(i32, i32, &[i32]) -> bool,
) -> Result<BTreeMap<i32, i32>> {
    let topic = (TOPIC, PARTITIONS as usize);
    wait_for_topic_partitions(cluster, asked, topic, what, timeout, accept)
}

/// [`wait_for_partitions`] for `(topic, its partition count)`.
fn wait_for_topic_partitions(
    cluster: &Cluster,
    asked: i32,
    (topic, partitions): (&str, usize),
    what: &str,
    timeout: Duration,
    accept: impl Fn(i32, i32, &[i32]) -> bool,
) -> Result<BTreeMap<i32, i32>> {
    let mut last = Vec::new();
    let waited = wait_until(what, timeout, || {
        // A broker just restarted may not know the topic yet.
        let Ok(topic) = topic_metadata(cluster, asked, topic) else {
            return Ok(None);
        };
        last = topic
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.leader_id, p.isr_nodes.clone()))
            .collect();
        let all = topic.partitions.len() == partitions
            && last.iter().all(|(p, leader, isr)| accept(*p, *leader, isr));
        Ok(all.then(|| last.iter().map(|(p, leader, _)| (*p, *leader)).collect()))
    });
    waited.with_context(|| format!("broker {asked}'s last (partition, leader, isr): {last:?}"))
}

/// Each partition's high watermark, asked of its leader; `None` while some
/// leader does not answer.
fn high_watermarks(cluster: &Cluster, leaders: &BTreeMap<i32, i32>) -> Result<Option<Vec<i64>>> {
    let mut marks = Vec::new();
    for (&p, &leader) in leaders {
        let answer = WireClient::connect(&cluster.broker(leader)?.bootstrap())
            .and_then(|mut client| client.fetch(TOPIC, p, 0));
        match answer {
            Ok(data) if data.error_code == 0 => marks.push(data.high_watermark),
            _ => return Ok(None),
        }
    }
    Ok(Some(marks))
}

/// Waits until every partition has committed more records than `before`
/// (acks=all writes go on), asking broker `asked` who leads; returns the
/// new high watermarks.
fn wait_for_progress(cluster: &Cluster, asked: i32, before: &[i64]) -> Result<Vec<i64>> {
    let mut last = None;
    let waited = wait_until(
        "every partition to commit new records",
        CHANGE_TIMEOUT,
        || {
            let leaders =
                wait_for_partitions(cluster, asked, "leaders", CHANGE_TIMEOUT, |_, l, _| l >= 0)?;
            let marks = high_watermarks(cluster, &leaders)?;
            last = Some((leaders, marks.clone()));
            Ok(marks.filter(|marks| marks.iter().zip(before).all(|(now, then)| now > then)))
        },
    );
    waited.with_context(|| {
        format!(
            "high watermarks before: {before:?}; last seen (leaders, high watermarks): {last:?}"
        )
    })
}

/// A file whose existence tells the producer to stop; created when dropped
/// too, so a failing test does not leave the producer running.
struct StopFile(PathBuf);

impl StopFile {
    fn create(&self) -> Result<()> {
        fs::write(&self.0, b"stop").with_context(|| format!("creating {}", self.0.display()))
    }
}

impl Drop for StopFile {
    fn drop(&mut self) {
        let _ = fs::write(&self.0, b"stop");
    }
}

/// What `numbered_producer.py` reports.
#[derive(Debug, Deserialize)]
struct Produced {
    /// Partition → records sent.
    sent: BTreeMap<String, u64>,
    /// Partition → the numbers acknowledged.
    acked: BTreeMap<String, Vec<u64>>,
    /// Partition → (number, error) of failed records.
    failed: BTreeMap<String, Vec<(u64, String)>>,
    /// Records without a delivery report when the producer gave up.
    undelivered: u64,
}

/// The values of `topic`'s partition `p` from its start, read by
/// confluent-kafka.
fn consume(cluster: &Cluster, topic: &str, p: i32) -> Result<Vec<String>> {
    let args = [
        cluster.bootstrap(),
        topic.to_owned(),
        "consume".to_owned(),
        "--partition".to_owned(),
        p.to_string(),
    ];
    let output = python("python/confluent_kafka_client.py", args, CONSUMER_TIMEOUT)?.success()?;
    let mut values = Vec::new();
    for line in json_lines(&output)? {
        if let Some(value) = line.get("value") {
            values.push(value.as_str().context("a null value")?.to_owned());
        }
    }
    Ok(values)
}

/// Checks partition `p`'s records against what was sent and acknowledged:
/// every one a record sent to `p` (`p<p>-<n>` with n below `sent`), each at
/// most once and in send order, every acknowledged one present. Returns how
/// many acknowledged records are missing (the test fails on any).
fn check_partition(p: i32, read: &[String], sent: u64, acked: &[u64]) -> Result<usize> {
    let prefix = format!("p{p}-");
    let mut last = None;
    let mut present = vec![false; usize::try_from(sent)?];
    for (offset, value) in read.iter().enumerate() {
        let n: u64 = value
            .strip_prefix(&prefix)
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("{TOPIC}-{p} offset {offset}: {value:?} was never sent"))?;
        ensure!(
            n < sent,
            "{TOPIC}-{p} offset {offset}: {value:?} was never sent ({sent} were)"
        );
        ensure!(
            last.is_none_or(|last| n > last),
            "{TOPIC}-{p} offset {offset}: {value:?} after p{p}-{} (duplicated or reordered)",
            last.unwrap_or_default()
        );
        last = Some(n);
        present[n as usize] = true;
    }
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|&n| !present[n as usize])
        .collect();
    if !lost.is_empty() {
        eprintln!(
            "{TOPIC}-{p}: {} acknowledged records lost, the first {:?}",
            lost.len(),
            &lost[..lost.len().min(20)]
        );
    }
    Ok(lost.len())
}

/// How the copies of `topic`'s partition `p` on `brokers` differ: each
/// broker's files and their sizes, `None` if they are the same bytes.
fn replica_differences(
    cluster: &Cluster,
    topic: &str,
    p: i32,
    brokers: &[i32],
) -> Result<Option<String>> {
    let mut copies = Vec::new();
    for &id in brokers {
        let dir = cluster.broker(id)?.log_dir().join(format!("{topic}-{p}"));
        copies.push((id, replica_files(&dir)?));
    }
    if copies.windows(2).all(|pair| pair[0].1 == pair[1].1) {
        return Ok(None);
    }
    let sizes: Vec<_> = copies
        .iter()
        .map(|(id, files)| {
            let sizes: Vec<_> = files.iter().map(|(n, b)| (n.clone(), b.len())).collect();
            (*id, sizes)
        })
        .collect();
    Ok(Some(format!("{topic}-{p}: {sizes:?}")))
}

/// Waits until the replicas of each of `topic`'s `partitions` on
/// `brokers` hold the same segment files and leader epoch checkpoint.
fn wait_for_identical_replicas(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
    brokers: &[i32],
) -> Result<()> {
    let mut differing = Vec::new();
    let waited = wait_until(
        "every partition's replicas to be the same bytes",
        CHANGE_TIMEOUT,
        || {
            differing.clear();
            for p in 0..partitions {
                differing.extend(replica_differences(cluster, topic, p, brokers)?);
            }
            Ok(differing.is_empty().then_some(()))
        },
    );
    waited.with_context(|| format!("differing replicas (broker, files and sizes): {differing:?}"))
}

/// Kills a broker (the controller on kill [`CONTROLLER_KILL`], else the
/// leader of partition `kill` mod 3), waits until the controller has moved
/// its leaderships and taken it out of the ISRs, restarts it and waits
/// until it is back in every ISR; on kill [`CRASH_RESTART_KILL`] it is
/// restarted at once instead, within its session timeout, as a crashing
/// broker under a supervisor would be. Then waits until every partition
/// commits new records. `asked` is a broker that was alive; returns one
/// that is, and the new high watermarks.
fn kill_and_restart(
    cluster: &mut Cluster,
    kill: usize,
    asked: i32,
    marks: &[i64],
    started: Instant,
) -> Result<(i32, Vec<i64>)> {
    let all = cluster.broker_ids();
    let leaders = wait_for_partitions(cluster, asked, "leaders", CHANGE_TIMEOUT, |_, l, _| l >= 0)?;
    let victim = if kill == CONTROLLER_KILL {
        cluster.controller_id()?
    } else {
        leaders[&(kill as i32 % PARTITIONS)]
    };
    let led: Vec<i32> = leaders
        .iter()
        .filter(|(_, &l)| l == victim)
        .map(|(&p, _)| p)
        .collect();
    let witness = all
        .iter()
        .copied()
        .find(|&id| id != victim)
        .context("no broker besides the victim")?;
    let at_once = kill == CRASH_RESTART_KILL;
    eprintln!(
        "[{:>5.1?}] kill {kill}: kill -9 broker {victim} (leader of {led:?}{}), high watermarks {marks:?}",
        started.elapsed(),
        if kill == CONTROLLER_KILL { ", the controller" } else { "" }
    );
    cluster.broker_mut(victim)?.kill9()?;
    if at_once {
        cluster.broker_mut(victim)?.restart()?;
        eprintln!("[{:>5.1?}] restarted at once", started.elapsed());
    } else {
        // Its session expires, then the controller (maybe a new one)
        // elects new leaders and takes it out of every ISR.
        let moved = wait_for_partitions(
            cluster,
            witness,
            &format!("new leaders, and ISRs without broker {victim}"),
            SESSION_TIMEOUT + CHANGE_TIMEOUT,
            |_, leader, isr| leader >= 0 && leader != victim && !isr.contains(&victim),
        )?;
        eprintln!("[{:>5.1?}] leaders now {moved:?}", started.elapsed());
        cluster.broker_mut(victim)?.restart()?;
    }
    // Restarted at once, it serves once its old session has expired and it
    // has registered again; the controller then takes its old incarnation
    // out of the ISRs, and the leaders take the new one back. Only its own
    // metadata tells that apart from the state before the kill.
    let observer = if at_once { victim } else { witness };
    let full_isr = |_: i32, leader: i32, isr: &[i32]| leader >= 0 && isr.len() == all.len();
    wait_for_partitions(
        cluster,
        observer,
        &format!("broker {victim} back in every ISR"),
        SESSION_TIMEOUT + CHANGE_TIMEOUT,
        full_isr,
    )?;
    eprintln!(
        "[{:>5.1?}] broker {victim} is back in every ISR",
        started.elapsed()
    );
    Ok((witness, wait_for_progress(cluster, witness, marks)?))
}

#[test]
fn acknowledged_records_survive_killed_leaders() -> Result<()> {
    let mut cluster = Cluster::start_with(3, |config| {
        config
            .property("min.insync.replicas", 2)
            .property("replica.lag.time.max.ms", LAG_TIME_MAX.as_millis())
    })?;
    // From here: the cluster may have waited for another test's to go.
    let started = Instant::now();
    let all = cluster.broker_ids();
    create_topic(&cluster, TOPIC, PARTITIONS, &[])?;
    cluster.wait_for_leaders(TOPIC, PARTITIONS as usize, CHANGE_TIMEOUT)?;
    let full_isr = |_: i32, leader: i32, isr: &[i32]| leader >= 0 && isr.len() == all.len();
    wait_for_partitions(&cluster, all[0], "full ISRs", CHANGE_TIMEOUT, full_isr)?;

    let scratch = tempfile::tempdir()?;
    let stop = StopFile(scratch.path().join("stop"));
    let args = [
        cluster.bootstrap(),
        TOPIC.to_owned(),
        "--partitions".to_owned(),
        PARTITIONS.to_string(),
        "--stop-file".to_owned(),
        stop.0.display().to_string(),
        "--interval-ms".to_owned(),
        INTERVAL_MS.to_string(),
    ];
    let producer =
        thread::spawn(move || python("python/numbered_producer.py", args, PRODUCER_TIMEOUT));
    let mut faults = (|| -> Result<()> {
        let mut marks = wait_for_progress(&cluster, all[0], &[0; PARTITIONS as usize])?;
        let mut asked = all[0];
        for kill in 0..KILLS {
            ensure!(
                !producer.is_finished(),
                "the producer ended before the faults did"
            );
            (asked, marks) = kill_and_restart(&mut cluster, kill, asked, &marks, started)?;
        }
        Ok(())
    })();
    stop.create()?;
    let producer = producer
        .join()
        .map_err(|_| anyhow!("the producer thread panicked"))??;
    if faults.is_ok() {
        faults = producer
            .status
            .success()
            .then_some(())
            .with_context(|| format!("the producer failed ({})", producer.status));
    }
    if let Err(e) = faults {
        for id in &all {
            eprintln!(
                "broker {id}'s log ends:\n{}",
                cluster.broker(*id)?.log_tail()
            );
        }
        let lines: Vec<&str> = producer.stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        return Err(e.context(format!("the producer's stderr ends:\n{tail}")));
    }
    let produced: Produced = serde_json::from_value(
        json_lines(&producer.stdout)?
            .pop()
            .context("the producer printed nothing")?,
    )?;

    let (mut sent, mut acked, mut read, mut lost, mut failed) = (0, 0, 0, 0, 0);
    for p in 0..PARTITIONS {
        let key = p.to_string();
        let sent_here = produced.sent.get(&key).copied().unwrap_or_default();
        let acked_here = produced.acked.get(&key).cloned().unwrap_or_default();
        let failed_here = produced.failed.get(&key).cloned().unwrap_or_default();
        if !failed_here.is_empty() {
            eprintln!(
                "{TOPIC}-{p}: {} records failed, the first {:?}",
                failed_here.len(),
                &failed_here[..failed_here.len().min(5)]
            );
        }
        let values = consume(&cluster, TOPIC, p)?;
        lost += check_partition(p, &values, sent_here, &acked_here)?;
        sent += sent_here;
        acked += acked_here.len() as u64;
        read += values.len();
        failed += failed_here.len();
    }
    println!(
        "sent={sent}, acked={acked}, read={read}, lost={lost} (failed={failed}, undelivered={}, {:.1?})",
        produced.undelivered,
        started.elapsed()
    );
    // What the returning brokers dropped (`src/replica/truncation.rs`
    // logs it): records their new leader never got.
    for id in &all {
        let log = fs::read_to_string(cluster.broker(*id)?.log_path())?;
        for line in log.lines().filter(|l| l.contains(": truncated from ")) {
            eprintln!("broker {id}: {line}");
        }
    }
    ensure!(lost == 0, "{lost} acknowledged records were lost");
    // Every failover ends well within the delivery timeout, and an
    // idempotent producer meets no error it cannot retry: each record sent
    // is acknowledged.
    ensure!(
        failed == 0 && produced.undelivered == 0 && acked == sent,
        "{failed} records failed, {} undelivered; {acked} of {sent} acknowledged",
        produced.undelivered
    );
    wait_for_identical_replicas(&cluster, TOPIC, PARTITIONS, &all)?;
    ensure!(
        started.elapsed() < TEST_BOUND,
        "the test took {:?}, more than its bound {TEST_BOUND:?}",
        started.elapsed()
    );
    Ok(())
}

/// `values` as one record batch, as a producer sends it.
fn batch(values: &[String]) -> Bytes {
    let mut builder = RecordBatchBuilder::new(now_ms());
    for value in values {
        builder.append(Record::new(now_ms(), None, Some(value.as_bytes())));
    }
    builder.build()
}

/// Produces each of `values` in a batch of its own to partition 0 of
/// `topic` on broker `leader`, with `acks`. A broker that does not lead
/// the partition yet (the controller's word is on its way) refuses before
/// appending: the batch is sent again.
fn produce_each(
    cluster: &Cluster,
    leader: i32,
    topic: &str,
    acks: i16,
    values: &[String],
) -> Result<()> {
    let mut client = WireClient::connect(&cluster.broker(leader)?.bootstrap())?;
    for value in values {
        wait_until(
            &format!("broker {leader} to take {value}"),
            CHANGE_TIMEOUT,
            || {
                let records = batch(std::slice::from_ref(value));
                let answer = client.produce(topic, 0, acks, records)?;
                match ErrorCode::from_code(answer.error_code) {
                    ErrorCode::NONE => Ok(Some(())),
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION | ErrorCode::NOT_LEADER_OR_FOLLOWER => {
                        Ok(None)
                    }
                    code => bail!("producing {value} to broker {leader}: {code:?}"),
                }
            },
        )?;
    }
    Ok(())
}

fn numbered(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

/// KIP-101's divergent tail, across brokers. Leader L and follower F of a
/// partition: L appends records F never gets (F is stopped), drops F from
/// the ISR and so commits them alone; L dies, F is elected uncleanly and
/// writes other records at those offsets. L comes back as F's follower: its
/// high watermark (checkpointed) covers its divergent records, so only the
/// leader epochs (OffsetForLeaderEpoch) tell it where its log stops being
/// F's. It truncates them and ends byte-identical to F.
#[test]
fn a_returning_leader_drops_the_records_the_new_leader_never_got() -> Result<()> {
    const TOPIC: &str = "diverged";
    let mut cluster = Cluster::start_with(3, |config| {
        config
            .property(
                "replica.lag.time.max.ms",
                DIVERGENT_LAG_TIME_MAX.as_millis(),
            )
            .property(
                "zookeeper.session.timeout.ms",
                DIVERGENT_SESSION_TIMEOUT.as_millis(),
            )
            .property("unclean.leader.election.enable", true)
            .property(
                "replica.high.watermark.checkpoint.interval.ms",
                DIVERGENT_CHECKPOINT_INTERVAL.as_millis(),
            )
    })?;
    // Neither replica is the controller, whose metadata the test reads.
    let controller = cluster.controller_id()?;
    let replicas: Vec<i32> = cluster
        .broker_ids()
        .into_iter()
        .filter(|&id| id != controller)
        .collect();
    let [leader, follower] = replicas[..] else {
        bail!("brokers besides the controller: {replicas:?}");
    };
    create_topic(&cluster, TOPIC, 1, &[vec![leader, follower]])?;
    let led_by = |cluster: &Cluster, leader: i32, isr: &[i32], timeout: Duration| {
        let what = format!("{TOPIC}-0 led by broker {leader} with ISR {isr:?}");
        wait_for_topic_partitions(
            cluster,
            controller,
            (TOPIC, 1),
            &what,
            timeout,
            |_, l, in_sync| {
                l == leader
                    && in_sync.len() == isr.len()
                    && isr.iter().all(|id| in_sync.contains(id))
            },
        )
    };
    led_by(&cluster, leader, &[leader, follower], CHANGE_TIMEOUT)?;

    // Committed on both.
    let common = numbered("common", 5);
    produce_each(&cluster, leader, TOPIC, -1, &common)?;

    // The follower stops; the leader appends alone and, once the follower
    // is out of the ISR, commits alone.
    cluster.broker_mut(follower)?.sigstop()?;
    let divergent = numbered("divergent", 3);
    produce_each(&cluster, leader, TOPIC, 1, &divergent)?;
    led_by(&cluster, leader, &[leader], CHANGE_TIMEOUT)?;
    // Committed, and so below the high watermark the leader finds in its
    // replication-offset-checkpoint when it comes back.
    let checkpoint = cluster
        .broker(leader)?
        .log_dir()
        .join("replication-offset-checkpoint");
    let entry = format!("{TOPIC} 0 8");
    wait_until(
        &format!("{} to hold {entry:?}", checkpoint.display()),
        CHANGE_TIMEOUT,
        || {
            Ok(fs::read_to_string(&checkpoint)?
                .lines()
                .any(|l| l == entry)
                .then_some(()))
        },
    )?;

    // The leader dies; the follower, out of the ISR, is elected uncleanly
    // and writes other records where the divergent ones were.
    cluster.broker_mut(leader)?.kill9()?;
    cluster.broker_mut(follower)?.sigcont()?;
    led_by(
        &cluster,
        follower,
        &[follower],
        DIVERGENT_SESSION_TIMEOUT + CHANGE_TIMEOUT,
    )?;
    let rewritten = numbered("rewritten", 6);
    produce_each(&cluster, follower, TOPIC, 1, &rewritten)?;

    // The old leader returns, as a follower of the new one.
    cluster.broker_mut(leader)?.restart()?;
    led_by(&cluster, follower, &[leader, follower], CHANGE_TIMEOUT)?;
    wait_for_identical_replicas(&cluster, TOPIC, 1, &[leader, follower])?;
    // It dropped what it had past the new leader's copy: the divergent
    // records, but for any the follower had fetched just before it stopped
    // (its fetch was waiting at the leader for them).
    let log = cluster.broker(leader)?.current_run_log()?;
    let truncated = format!("{TOPIC}-0: truncated from 8 to ");
    let kept = log
        .lines()
        .find_map(|l| {
            Some(
                l.split_once(&truncated)?
                    .1
                    .split_once(' ')?
                    .0
                    .parse::<usize>(),
            )
        })
        .with_context(|| format!("broker {leader} did not log {truncated:?}"))??;
    ensure!(
        (5..8).contains(&kept),
        "broker {leader} truncated to {kept}, not into its divergent records (5 to 8)"
    );
    let read = consume(&cluster, TOPIC, 0)?;
    let expected: Vec<String> = common
        .into_iter()
        .chain(divergent.into_iter().take(kept - 5))
        .chain(rewritten)
        .collect();
    ensure!(read == expected, "read {read:?}, expected {expected:?}");
    Ok(())
}
