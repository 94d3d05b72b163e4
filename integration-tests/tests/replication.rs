//! Kafka's work distribution (issue 5): followers fetch from their leader
//! and end up with the leader's log, byte for byte; the leader drops a
//! follower that stopped fetching from the ISR and takes it back once it has
//! caught up, in ZooKeeper and, through the controller, in every broker's
//! metadata.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use gregor_protocol::api::create_topics::{CreatableTopic, CreatableTopicConfig};
use gregor_protocol::error_code::ErrorCode;
use gregor_record::{Record, RecordBatchBuilder};
use integration_tests::cluster::{replica_files, CHANGE_TIMEOUT};
use integration_tests::wire::WireClient;
use integration_tests::{kcat_consume, kcat_produce_file, wait_until, Cluster};

const TOPIC: &str = "replicated";
const RECORDS: usize = 1000;
/// `replica.lag.time.max.ms` of the cluster: a stopped follower leaves the
/// ISR within this and the check period (half of it).
const LAG_TIME_MAX: Duration = Duration::from_secs(2);
/// `zookeeper.session.timeout.ms` of the cluster: long enough that a
/// follower stopped past [`LAG_TIME_MAX`] keeps its session, so the ISR
/// change is the leader's, not the controller's.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a client run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on the followers catching up with 1000 small records; well under
/// a second on an idle machine (a follower fetches again as soon as it has
/// appended).
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Creates `topic` with one partition on every broker, through the
/// controller (CreateTopics v5).
fn create_topic(cluster: &Cluster, topic: &str, replication_factor: i16) -> Result<()> {
    let controller = cluster.controller_id()?;
    let topic = CreatableTopic {
        name: topic.into(),
        num_partitions: 1,
        replication_factor,
        assignments: Vec::new(),
        configs: Vec::new(),
    };
    WireClient::connect(&cluster.broker(controller)?.bootstrap())?.create_topic(topic)
}

/// Produces `lines` with `acks` to partition 0 of [`TOPIC`] at `bootstrap`.
fn produce(bootstrap: &str, lines: &[String], acks: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("records");
    fs::write(&file, lines.join("\n") + "\n")?;
    let acks = format!("acks={acks}");
    kcat_produce_file(bootstrap, TOPIC, 0, &file, &["-X", &acks], CLIENT_TIMEOUT)?
        .success()
        .with_context(|| format!("producing with {acks} to the leader"))?;
    Ok(())
}

fn records(from: usize, count: usize) -> Vec<String> {
    (from..from + count)
        .map(|i| format!("record-{i:04}"))
        .collect()
}

/// Waits until every broker's copy of partition 0 holds the same segment
/// files and leader epoch checkpoint as the leader's, with data in them.
fn wait_for_identical_replicas(cluster: &Cluster, leader: i32) -> Result<()> {
    let partition_dir =
        |id: i32| -> Result<_> { Ok(cluster.broker(id)?.log_dir().join(format!("{TOPIC}-0"))) };
    let mut last = BTreeMap::new();
    let waited = wait_until(
        "every replica to hold the leader's log",
        REPLICATION_TIMEOUT,
        || {
            let expected = replica_files(&partition_dir(leader)?)?;
            last.clear();
            for id in cluster.broker_ids() {
                last.insert(id, replica_files(&partition_dir(id)?)?);
            }
            let copied = last.values().all(|files| *files == expected);
            let has_data = expected
                .iter()
                .any(|(name, bytes)| name.ends_with(".log") && !bytes.is_empty());
            Ok((copied && has_data).then_some(()))
        },
    );
    waited.with_context(|| {
        let sizes: BTreeMap<_, Vec<_>> = last
            .iter()
            .map(|(id, files)| {
                (
                    *id,
                    files.iter().map(|(n, b)| (n.clone(), b.len())).collect(),
                )
            })
            .collect();
        format!("files by broker (name, size): {sizes:?}")
    })
}

/// Waits until partition 0's ISR is `expected` (in any order) in its state
/// znode and in broker `asked`'s Metadata; returns the znode's leader epoch.
fn wait_for_isr(cluster: &Cluster, expected: &[i32], asked: i32) -> Result<i32> {
    let sorted = |isr: &[i32]| {
        let mut isr = isr.to_vec();
        isr.sort_unstable();
        isr
    };
    let expected = sorted(expected);
    let state = wait_until(
        &format!("the ISR znode to list {expected:?}"),
        CHANGE_TIMEOUT,
        || {
            Ok(cluster
                .partition_state(TOPIC, 0)?
                .filter(|s| sorted(&s.isr) == expected))
        },
    )?;
    eprintln!("{TOPIC}-0 state: {state:?}");
    wait_until(
        &format!("broker {asked}'s metadata to list ISR {expected:?}"),
        CHANGE_TIMEOUT,
        || {
            let metadata = cluster.metadata_from(asked)?;
            let isr = metadata
                .topics
                .iter()
                .filter(|t| t.name == TOPIC)
                .flat_map(|t| &t.partitions)
                .find(|p| p.partition_index == 0)
                .map(|p| sorted(&p.isr_nodes));
            Ok((isr.as_deref() == Some(expected.as_slice())).then_some(()))
        },
    )?;
    Ok(state.leader_epoch)
}

#[test]
fn followers_copy_the_leader_and_the_isr_follows_them() -> Result<()> {
    let mut cluster = Cluster::start_with(3, |config| {
        config
            .property("replica.lag.time.max.ms", LAG_TIME_MAX.as_millis())
            .property("zookeeper.session.timeout.ms", SESSION_TIMEOUT.as_millis())
    })?;
    create_topic(&cluster, TOPIC, 3)?;
    let topic = cluster.wait_for_leaders(TOPIC, 1, CHANGE_TIMEOUT)?;
    let leader = topic.states[&0].leader;
    let controller = cluster.controller_id()?;
    eprintln!(
        "{TOPIC}-0: replicas {:?}, leader {leader}, controller {controller}",
        topic.assignment[&0]
    );
    let bootstrap = cluster.broker(leader)?.bootstrap();
    let mut sent = records(0, RECORDS);
    produce(&bootstrap, &sent, "1")?;
    wait_for_identical_replicas(&cluster, leader)?;
    let all = cluster.broker_ids();
    let epoch = wait_for_isr(&cluster, &all, leader)?;

    // A follower that stops fetching while records arrive leaves the ISR:
    // the leader's conditional write, announced to the controller, which
    // tells every broker. Neither leader nor controller is stopped, and
    // the follower keeps its ZooKeeper session. An acks=all producer is
    // answered once the records are committed: by the ISR without the
    // stopped follower.
    let stopped = all
        .iter()
        .copied()
        .find(|&id| id != leader && id != controller)
        .context("no follower other than the controller")?;
    let watcher = all
        .iter()
        .copied()
        .find(|&id| id != leader && id != stopped)
        .context("no third broker")?;
    eprintln!("SIGSTOP follower {stopped}");
    cluster.broker_mut(stopped)?.sigstop()?;
    let more = records(RECORDS, 10);
    produce(&bootstrap, &more, "all")?;
    sent.extend(more);
    let without: Vec<i32> = all.iter().copied().filter(|&id| id != stopped).collect();
    let shrunk_epoch = wait_for_isr(&cluster, &without, watcher)?;
    ensure!(
        shrunk_epoch == epoch,
        "the leader epoch moved from {epoch} to {shrunk_epoch}: the controller, not the leader, changed the ISR"
    );

    // Resumed, it catches up and is taken back.
    eprintln!("SIGCONT follower {stopped}");
    cluster.broker_mut(stopped)?.sigcont()?;
    wait_for_identical_replicas(&cluster, leader)?;
    wait_for_isr(&cluster, &all, watcher)?;

    // Committed on every replica: a consumer of the leader sees it all.
    let consumed = kcat_consume(&bootstrap, TOPIC, 0, "%s\n", CLIENT_TIMEOUT)?.success()?;
    let consumed: Vec<&str> = consumed.lines().collect();
    ensure!(
        consumed == sent,
        "consumed {} records, the first differing at {:?}",
        consumed.len(),
        consumed.iter().zip(&sent).position(|(a, b)| a != b)
    );
    Ok(())
}

/// `min.insync.replicas` (here the topic's) guards acks=all: with the
/// followers gone and the ISR down to the leader, an acks=all produce is
/// refused with NOT_ENOUGH_REPLICAS before anything is appended, while
/// acks=1 is still accepted.
#[test]
fn acks_all_is_refused_when_the_isr_is_below_min_insync_replicas() -> Result<()> {
    let mut cluster = Cluster::start_with(3, |config| {
        config.property("replica.lag.time.max.ms", LAG_TIME_MAX.as_millis())
    })?;
    let topic = CreatableTopic {
        name: TOPIC.into(),
        num_partitions: 1,
        replication_factor: 3,
        assignments: Vec::new(),
        configs: vec![CreatableTopicConfig {
            name: "min.insync.replicas".into(),
            value: Some("2".into()),
        }],
    };
    // CreateTopics is served by the controller only, as in Kafka.
    let controller = cluster.controller_id()?;
    WireClient::connect(&cluster.broker(controller)?.bootstrap())?.create_topic(topic)?;
    let leader = cluster.wait_for_leaders(TOPIC, 1, CHANGE_TIMEOUT)?.states[&0].leader;
    let mut client = WireClient::connect(&cluster.broker(leader)?.bootstrap())?;
    let batch = |n: usize| {
        let values = records(n, 10);
        let mut builder = RecordBatchBuilder::new(0);
        for value in &values {
            builder.append(Record::new(0, None, Some(value.as_bytes())));
        }
        builder.build()
    };
    let all = client.produce(TOPIC, 0, -1, batch(0))?;
    ensure!(all.error_code == 0, "acks=all with a full ISR: {all:?}");

    for id in cluster.broker_ids() {
        if id != leader {
            eprintln!("kill -9 follower {id}");
            cluster.broker_mut(id)?.kill9()?;
        }
    }
    wait_for_isr(&cluster, &[leader], leader)?;
    let end = client.fetch(TOPIC, 0, 0)?.high_watermark;

    let refused = client.produce(TOPIC, 0, -1, batch(10))?;
    ensure!(
        ErrorCode::from_code(refused.error_code) == ErrorCode::NOT_ENOUGH_REPLICAS,
        "acks=all with the ISR at 1 of min.insync.replicas=2 answered {refused:?}"
    );
    // With the leader alone in the ISR its high watermark is its log end:
    // the refused batch was not appended.
    let after = client.fetch(TOPIC, 0, 0)?.high_watermark;
    ensure!(after == end, "log end moved from {end} to {after}");

    let one = client.produce(TOPIC, 0, 1, batch(20))?;
    ensure!(
        one.error_code == 0 && one.base_offset == end,
        "acks=1 answered {one:?}, expected offset {end}"
    );
    let grown = client.fetch(TOPIC, 0, 0)?.high_watermark;
    ensure!(
        grown == end + 10,
        "high watermark {grown}, expected {}",
        end + 10
    );
    Ok(())
}
