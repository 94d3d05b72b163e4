//! The operator's tools against a real 3-broker cluster: `gregor topics`,
//! `gregor groups` and `gregor cluster` run as processes, their output
//! checked against what ZooKeeper holds (read with zkCli), against the
//! brokers' own answers and logs, and against what kcat and confluent-kafka
//! did. Also: bad arguments exit 2 with one line, an unreachable cluster
//! fails with one line naming the address.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use gregor_protocol::api::describe_configs::{DescribeConfigsRequest, DescribeConfigsResource};
use integration_tests::cluster::{ControllerZNode, PartitionStateZNode, CHANGE_TIMEOUT};
use integration_tests::wire::WireClient;
use integration_tests::{
    free_port, gregor_binary, json_lines, kcat, kcat_produce_file, python, run_with_timeout,
    unique_topic, wait_until, ClientOutput, Cluster,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

/// Bound on one tool run or client call.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Kafka's `ConfigSource` ids in DescribeConfigs.
const TOPIC_CONFIG_SOURCE: i8 = 1;
const DEFAULT_CONFIG_SOURCE: i8 = 5;
/// The `segment.bytes` the tests set: small enough that 1.5 MB of records
/// fill two segments, which the broker's default (1 GiB) never would.
const SMALL_SEGMENT_BYTES: u64 = 1 << 20;

/// Runs `gregor <args>` with nothing taken from the environment.
fn gregor(args: &[&str]) -> Result<ClientOutput> {
    let mut cmd = Command::new(gregor_binary()?);
    cmd.args(args)
        .env_remove("GREGOR_BOOTSTRAP_SERVER")
        .env_remove("GREGOR_ZOOKEEPER")
        .env_remove("RUST_LOG");
    Ok(run_with_timeout(cmd, TIMEOUT)?.into())
}

/// `gregor <args> -b <bootstrap>`, which must succeed; its stdout.
fn gregor_ok(bootstrap: &str, args: &[&str]) -> Result<String> {
    let mut all = args.to_vec();
    all.extend(["-b", bootstrap]);
    let output = gregor(&all)?;
    ensure!(
        output.stderr.is_empty(),
        "gregor {all:?} wrote to stderr:\n{}",
        output.stderr
    );
    output.success().with_context(|| format!("gregor {all:?}"))
}

/// `gregor <args>`, which must fail with exit code `code` and exactly one
/// line on stderr; that line.
fn gregor_fails(args: &[&str], code: i32) -> Result<String> {
    let output = gregor(args)?;
    ensure!(
        output.status.code() == Some(code),
        "gregor {args:?} exited with {} (expected {code}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        output.stdout,
        output.stderr
    );
    let lines: Vec<&str> = output.stderr.lines().collect();
    ensure!(
        lines.len() == 1,
        "gregor {args:?} should explain itself in one line, wrote:\n{}",
        output.stderr
    );
    Ok(lines[0].to_owned())
}

/// The `Key: value` fields of a tab-separated `kafka-topics.sh --describe`
/// line.
fn fields(line: &str) -> BTreeMap<&str, &str> {
    line.split('\t')
        .filter_map(|field| field.split_once(": "))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect()
}

fn ids(list: &str) -> Result<Vec<i32>> {
    list.split(',')
        .filter(|id| !id.is_empty())
        .map(|id| id.parse().with_context(|| format!("broker id {id:?}")))
        .collect()
}

/// Whether `gregor topics describe` output for `topic` shows exactly the
/// leaders, replicas and ISRs ZooKeeper holds; the differences otherwise.
fn describe_disagreements(cluster: &Cluster, topic: &str, described: &str) -> Result<Vec<String>> {
    let Some(zk) = cluster.topic_in_zk(topic)? else {
        return Ok(vec![format!("{topic} is not (completely) in ZooKeeper")]);
    };
    let mut seen = BTreeSet::new();
    let mut differences = Vec::new();
    for line in described.lines().filter(|l| l.starts_with('\t')) {
        let f = fields(line);
        let partition: i32 = f.get("Partition").context("no Partition")?.parse()?;
        seen.insert(partition);
        let leader: i32 = f.get("Leader").context("no Leader")?.parse()?;
        let replicas = ids(f.get("Replicas").context("no Replicas")?)?;
        let mut isr = ids(f.get("Isr").context("no Isr")?)?;
        isr.sort_unstable();
        let state = zk
            .states
            .get(&partition)
            .context("partition not in ZooKeeper")?;
        let mut zk_isr = state.isr.clone();
        zk_isr.sort_unstable();
        let expected = (state.leader, zk.assignment.get(&partition), zk_isr);
        if (leader, Some(&replicas), isr.clone()) != expected {
            differences.push(format!(
                "partition {partition}: described (leader, replicas, isr) {:?}, ZooKeeper {expected:?}",
                (leader, replicas, isr)
            ));
        }
    }
    let in_zk: BTreeSet<i32> = zk.assignment.keys().copied().collect();
    if seen != in_zk {
        differences.push(format!(
            "described partitions {seen:?}, ZooKeeper has {in_zk:?}"
        ));
    }
    Ok(differences)
}

/// Each broker's DescribeConfigs answer for `topic`: name → (value, source).
fn broker_topic_configs(
    cluster: &Cluster,
    id: i32,
    topic: &str,
) -> Result<BTreeMap<String, (String, i8)>> {
    let request = DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: 2,
            resource_name: topic.to_owned(),
            configuration_keys: None,
        }],
        ..Default::default()
    };
    let response = WireClient::connect(&cluster.broker(id)?.bootstrap())?.request(3, &request)?;
    let result = response.results.first().context("no result")?;
    ensure!(
        result.error_code == 0,
        "DescribeConfigs {topic}: error {}",
        result.error_code
    );
    Ok(result
        .configs
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                (c.value.clone().unwrap_or_default(), c.config_source),
            )
        })
        .collect())
}

/// The `.log` segment files of a partition directory, with their sizes.
fn segments(partition_dir: &Path) -> Result<Vec<u64>> {
    let mut sizes = Vec::new();
    if !partition_dir.exists() {
        return Ok(sizes);
    }
    for entry in fs::read_dir(partition_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "log") {
            sizes.push(fs::metadata(&path)?.len());
        }
    }
    Ok(sizes)
}

/// Produces 1,500 records of 1,000 bytes to partition 0 with kcat.
fn produce_a_megabyte_and_a_half(bootstrap: &str, topic: &str, dir: &Path) -> Result<()> {
    let mut text = String::new();
    for i in 0..1500 {
        writeln!(text, "{i:0>1000}")?;
    }
    let file = dir.join("records");
    fs::write(&file, text)?;
    kcat_produce_file(bootstrap, topic, 0, &file, &[], TIMEOUT)?.success()?;
    Ok(())
}

/// Waits until every broker holds all of partition 0 of `topic` (the same
/// bytes of log, at least 1.5 MB) and returns each replica's segment count.
fn replica_segment_counts(cluster: &Cluster, topic: &str) -> Result<BTreeMap<i32, usize>> {
    wait_until(
        &format!("every replica of {topic}-0 to hold 1.5 MB"),
        CHANGE_TIMEOUT,
        || {
            let mut counts = BTreeMap::new();
            let mut totals = BTreeSet::new();
            for id in cluster.broker_ids() {
                let dir = cluster.broker(id)?.log_dir().join(format!("{topic}-0"));
                let sizes = segments(&dir)?;
                totals.insert(sizes.iter().sum::<u64>());
                counts.insert(id, sizes.len());
            }
            let complete = totals.len() == 1 && totals.iter().all(|t| *t >= 1_500_000);
            Ok(complete.then_some(counts))
        },
    )
}

#[test]
fn topics_commands_create_describe_alter_and_delete_as_zookeeper_shows() -> Result<()> {
    let cluster = Cluster::start(3)?;
    let b = cluster.bootstrap();
    let dir = tempfile::tempdir()?;
    let topic = unique_topic("cli-topic");
    let assigned = unique_topic("cli-assigned");

    let created = gregor_ok(
        &b,
        &[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "3",
            "--replication-factor",
            "3",
            "--config",
            "retention.ms=60000",
        ],
    )?;
    ensure!(created == format!("Created topic {topic}.\n"), "{created}");
    gregor_ok(
        &b,
        &[
            "topics",
            "create",
            "--topic",
            &assigned,
            "--replica-assignment",
            "1:2,2:3,3:1",
        ],
    )?;
    let zk = cluster.wait_for_leaders(&assigned, 3, CHANGE_TIMEOUT)?;
    let wanted = BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 3]), (2, vec![3, 1])]);
    ensure!(
        zk.assignment == wanted,
        "{assigned} assigned {:?}",
        zk.assignment
    );
    let again = gregor_fails(&["topics", "create", "--topic", &topic, "-b", &b], 1)?;
    ensure!(again.contains("TOPIC_ALREADY_EXISTS"), "{again}");

    let listed = gregor_ok(&b, &["topics", "list"])?;
    for name in [&topic, &assigned] {
        ensure!(
            listed.lines().any(|l| l == name),
            "{name} not listed:\n{listed}"
        );
    }

    // describe: kafka-topics.sh's layout, leaders/replicas/ISRs as in ZooKeeper.
    let mut last = Vec::new();
    let described = wait_until("describe to agree with ZooKeeper", CHANGE_TIMEOUT, || {
        let text = gregor_ok(&b, &["topics", "describe", "--topic", &topic])?;
        last = describe_disagreements(&cluster, &topic, &text)?;
        Ok(last.is_empty().then_some(text))
    })
    .with_context(|| format!("last differences: {last:?}"))?;
    let summary = described.lines().next().unwrap_or_default();
    ensure!(
        summary
            == format!(
                "Topic: {topic}\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: retention.ms=60000"
            ),
        "{described}"
    );
    let all = gregor_ok(&b, &["topics", "describe"])?;
    ensure!(
        all.contains(&format!(
            "Topic: {assigned}\tPartitionCount: 3\tReplicationFactor: 2"
        )),
        "{all}"
    );

    // alter: /config/topics/<t>, a change notification, every broker
    // applies it to its logs, DescribeConfigs reports it.
    let altered = gregor_ok(
        &b,
        &[
            "topics",
            "alter",
            "--topic",
            &topic,
            "--config",
            &format!("segment.bytes={SMALL_SEGMENT_BYTES}"),
            "--delete-config",
            "retention.ms",
        ],
    )?;
    ensure!(
        altered == format!("Completed updating config for topic {topic}.\n"),
        "{altered}"
    );
    let config: Value = cluster
        .zk_get_json(&format!("/config/topics/{topic}"))?
        .context("no /config/topics znode")?;
    ensure!(
        config
            == json!({"version": 1, "config": {"segment.bytes": SMALL_SEGMENT_BYTES.to_string()}}),
        "/config/topics/{topic} holds {config}"
    );
    let mut notified = false;
    for change in cluster.zk_ls("/config/changes")?.unwrap_or_default() {
        let data: Value = cluster
            .zk_get_json(&format!("/config/changes/{change}"))?
            .context("notification vanished")?;
        ensure!(change.starts_with("config_change_"), "{change}");
        notified |= data == json!({"version": 2, "entity_path": format!("topics/{topic}")});
    }
    ensure!(notified, "no config change notification for topics/{topic}");
    for id in cluster.broker_ids() {
        let configs = broker_topic_configs(&cluster, id, &topic)?;
        let segment = configs.get("segment.bytes").context("no segment.bytes")?;
        ensure!(
            *segment == (SMALL_SEGMENT_BYTES.to_string(), TOPIC_CONFIG_SOURCE),
            "broker {id}: segment.bytes {segment:?}"
        );
        let retention = configs.get("retention.ms").context("no retention.ms")?;
        ensure!(
            retention.1 == DEFAULT_CONFIG_SOURCE && retention.0 == "604800000",
            "broker {id}: retention.ms {retention:?}"
        );
        let log = cluster.broker(id)?.log_path();
        let applied = format!("topic {topic}: new config applied");
        wait_until(
            &format!("broker {id} to apply the new config"),
            CHANGE_TIMEOUT,
            || Ok(fs::read_to_string(&log)?.contains(&applied).then_some(())),
        )?;
    }
    // The live logs roll at the new segment.bytes.
    produce_a_megabyte_and_a_half(&b, &topic, dir.path())?;
    let counts = replica_segment_counts(&cluster, &topic)?;
    ensure!(
        counts.values().all(|n| *n >= 2),
        "segments per replica: {counts:?}"
    );

    let bad_value = gregor_fails(
        &[
            "topics",
            "alter",
            "--topic",
            &topic,
            "--config",
            "retention.ms=soon",
            "-b",
            &b,
        ],
        1,
    )?;
    ensure!(
        bad_value.contains("INVALID_REQUEST") && bad_value.contains("retention.ms"),
        "{bad_value}"
    );
    let bad_key = gregor_fails(
        &[
            "topics",
            "alter",
            "--topic",
            &topic,
            "--config",
            "retention.mss=1",
            "-b",
            &b,
        ],
        1,
    )?;
    ensure!(bad_key.contains("INVALID_CONFIG"), "{bad_key}");
    let unknown = gregor_fails(
        &[
            "topics",
            "alter",
            "--topic",
            "no-such-topic",
            "--config",
            "retention.ms=1",
            "-b",
            &b,
        ],
        1,
    )?;
    ensure!(unknown.contains("UNKNOWN_TOPIC_OR_PARTITION"), "{unknown}");

    // confluent-kafka's AdminClient: incremental (keeps other overrides)
    // and whole-set AlterConfigs, read back with its DescribeConfigs.
    let script = "python/confluent_kafka_client.py";
    let incremental = python(
        script,
        [
            &b,
            &assigned,
            "incremental-alter-configs",
            "--config",
            "retention.ms=777",
        ],
        TIMEOUT,
    )?
    .success()?;
    let first = json_lines(&incremental)?;
    ensure!(
        first == [json!({"overrides": {"retention.ms": "777"}})],
        "{incremental}"
    );
    let incremental = python(
        script,
        [
            &b,
            &assigned,
            "incremental-alter-configs",
            "--config",
            "segment.ms=100000",
        ],
        TIMEOUT,
    )?
    .success()?;
    let second = json_lines(&incremental)?;
    ensure!(
        second == [json!({"overrides": {"retention.ms": "777", "segment.ms": "100000"}})],
        "{incremental}"
    );
    let replaced = python(
        script,
        [
            &b,
            &assigned,
            "alter-configs",
            "--config",
            "cleanup.policy=compact",
        ],
        TIMEOUT,
    )?
    .success()?;
    ensure!(
        json_lines(&replaced)? == [json!({"overrides": {"cleanup.policy": "compact"}})],
        "{replaced}"
    );
    let config: Value = cluster
        .zk_get_json(&format!("/config/topics/{assigned}"))?
        .context("no /config/topics znode")?;
    ensure!(
        config == json!({"version": 1, "config": {"cleanup.policy": "compact"}}),
        "{config}"
    );

    // delete: every znode of the topic goes.
    let deleted = gregor_ok(&b, &["topics", "delete", "--topic", &topic])?;
    ensure!(deleted == format!("Deleted topic {topic}.\n"), "{deleted}");
    wait_until(
        &format!("the znodes of {topic} to go"),
        CHANGE_TIMEOUT,
        || {
            let gone = cluster.topic_assignment(&topic)?.is_none()
                && cluster
                    .zk_get(&format!("/config/topics/{topic}"))?
                    .is_none()
                && cluster
                    .zk_get(&format!("/admin/delete_topics/{topic}"))?
                    .is_none();
            Ok(gone.then_some(()))
        },
    )?;
    let listed = gregor_ok(&b, &["topics", "list"])?;
    ensure!(
        !listed.lines().any(|l| l == topic),
        "{topic} still listed:\n{listed}"
    );

    // Created again under the same name, without overrides: the brokers
    // read its new (empty) config, not the deleted topic's.
    gregor_ok(
        &b,
        &[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "1",
            "--replication-factor",
            "3",
        ],
    )?;
    produce_a_megabyte_and_a_half(&b, &topic, dir.path())?;
    let counts = replica_segment_counts(&cluster, &topic)?;
    ensure!(
        counts.values().all(|n| *n == 1),
        "segments per replica: {counts:?}"
    );
    Ok(())
}

/// The rows of the table whose header starts with the words of
/// `header_start`, each as header name → cell (cells and names hold no
/// spaces, except `COORDINATOR (ID)` and its `host:port (id)` cells, which
/// split alike).
fn table(output: &str, header_start: &str) -> Result<Vec<BTreeMap<String, String>>> {
    let wanted: Vec<&str> = header_start.split_whitespace().collect();
    let mut lines = output.lines().skip_while(|line| {
        !line
            .split_whitespace()
            .collect::<Vec<_>>()
            .starts_with(&wanted)
    });
    let header: Vec<&str> = lines
        .next()
        .with_context(|| format!("no table starting {header_start:?} in:\n{output}"))?
        .split_whitespace()
        .collect();
    lines
        .take_while(|line| !line.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            ensure!(
                cells.len() == header.len(),
                "row {line:?} does not fit {header:?}"
            );
            Ok(header
                .iter()
                .zip(cells)
                .map(|(h, c)| ((*h).to_owned(), c.to_owned()))
                .collect())
        })
        .collect()
}

/// `gregor groups describe`'s partition rows: partition → (current, end, lag).
fn group_offsets(bootstrap: &str, group: &str) -> Result<BTreeMap<i32, (String, String, String)>> {
    let described = gregor_ok(bootstrap, &["groups", "describe", "--group", group])?;
    table(&described, "GROUP TOPIC")?
        .into_iter()
        .map(|row| {
            let cell = |name: &str| row.get(name).cloned().unwrap_or_default();
            Ok((
                cell("PARTITION").parse()?,
                (cell("CURRENT-OFFSET"), cell("LOG-END-OFFSET"), cell("LAG")),
            ))
        })
        .collect()
}

/// A process killed when dropped.
struct Background(Child);

impl Background {
    /// Asks it to stop (SIGTERM: a kcat consumer then leaves its group) and
    /// waits for it.
    fn terminate(mut self) -> Result<()> {
        kill(Pid::from_raw(i32::try_from(self.0.id())?), Signal::SIGTERM)?;
        wait_until("the background client to exit", TIMEOUT, || {
            Ok(self.0.try_wait()?.map(drop))
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn groups_commands_show_lag_reset_offsets_and_delete_a_kcat_group() -> Result<()> {
    let cluster = Cluster::start_with(3, |c| c.property("group.initial.rebalance.delay.ms", 0))?;
    let b = cluster.bootstrap();
    let topic = unique_topic("cli-groups");
    let dir = tempfile::tempdir()?;
    gregor_ok(
        &b,
        &[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "2",
            "--replication-factor",
            "3",
        ],
    )?;
    let produced = [(0, 10), (1, 6)];
    for (partition, count) in produced {
        let file = dir.path().join(format!("p{partition}"));
        let lines: String = (0..count).map(|i| format!("record-{i}\n")).collect();
        fs::write(&file, lines)?;
        kcat_produce_file(&b, &topic, partition, &file, &[], TIMEOUT)?.success()?;
    }

    // A kcat group member reads 7 of the 16 records and commits on exit.
    let consumed = kcat(
        [
            "-b",
            &b,
            "-G",
            "cli-group",
            &topic,
            "-c",
            "7",
            "-f",
            "%p %o\n",
            "-X",
            "auto.offset.reset=earliest",
        ],
        TIMEOUT,
    )?
    .success()?;
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for line in consumed.lines() {
        let (partition, offset) = line.split_once(' ').context("kcat line")?;
        let offset: i64 = offset.parse()?;
        let entry = next.entry(partition.parse()?).or_default();
        *entry = (*entry).max(offset + 1);
    }
    ensure!(next.values().sum::<i64>() == 7, "kcat read {consumed}");

    let listed = gregor_ok(&b, &["groups", "list"])?;
    ensure!(listed.lines().any(|l| l == "cli-group"), "{listed}");
    let described = gregor_ok(&b, &["groups", "describe", "--group", "cli-group"])?;
    ensure!(
        described.starts_with("Consumer group 'cli-group' has no active members."),
        "{described}"
    );
    let state = table(&described, "GROUP COORDINATOR")?;
    ensure!(
        state.len() == 1 && state[0]["STATE"] == "Empty" && state[0]["#MEMBERS"] == "0",
        "{described}"
    );
    // Rows for the partitions it committed, as kafka-consumer-groups.sh
    // shows a group without members.
    let offsets = group_offsets(&b, "cli-group")?;
    let expected: BTreeMap<i32, (String, String, String)> = produced
        .iter()
        .filter_map(|&(partition, end)| {
            let committed = *next.get(&partition)?;
            let row = (
                committed.to_string(),
                end.to_string(),
                (end - committed).to_string(),
            );
            Some((partition, row))
        })
        .collect();
    ensure!(
        offsets == expected,
        "described {offsets:?}, kcat committed {next:?} of {produced:?}"
    );

    // A dry run changes nothing; --execute commits.
    let dry = gregor(&[
        "groups",
        "reset-offsets",
        "--group",
        "cli-group",
        "--topic",
        &topic,
        "--to-earliest",
        "-b",
        &b,
    ])?;
    ensure!(
        dry.status.success() && dry.stderr.contains("Dry run"),
        "{dry:?}"
    );
    let planned = table(&dry.stdout, "GROUP TOPIC")?;
    ensure!(
        planned.len() == 2 && planned.iter().all(|r| r["NEW-OFFSET"] == "0"),
        "{}",
        dry.stdout
    );
    ensure!(
        group_offsets(&b, "cli-group")? == offsets,
        "the dry run committed"
    );
    gregor_ok(
        &b,
        &[
            "groups",
            "reset-offsets",
            "--group",
            "cli-group",
            "--topic",
            &topic,
            "--to-earliest",
            "--execute",
        ],
    )?;
    let reset = group_offsets(&b, "cli-group")?;
    for (partition, end) in produced {
        let end = end.to_string();
        ensure!(
            reset.get(&partition) == Some(&("0".to_owned(), end.clone(), end)),
            "after the reset: {reset:?}"
        );
    }

    // A group with a member is left alone.
    let mut member = Command::new("kcat");
    member
        .args(["-b", &b, "-G", "cli-active", &topic, "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let member = Background(member.spawn()?);
    wait_until("the kcat member to join", TIMEOUT, || {
        // The group does not exist until the member's JoinGroup.
        let described = gregor(&["groups", "describe", "--group", "cli-active", "-b", &b])?;
        Ok((described.status.success() && described.stdout.contains(" Stable ")).then_some(()))
    })?;
    let refused = gregor_fails(
        &[
            "groups",
            "reset-offsets",
            "--group",
            "cli-active",
            "--topic",
            &topic,
            "--to-latest",
            "--execute",
            "-b",
            &b,
        ],
        1,
    )?;
    ensure!(
        refused.contains("Assignments can only be reset if the group 'cli-active' is inactive, but the current state is Stable."),
        "{refused}"
    );
    let refused = gregor_fails(&["groups", "delete", "--group", "cli-active", "-b", &b], 1)?;
    ensure!(refused.contains("NON_EMPTY_GROUP"), "{refused}");
    member.terminate()?;

    let deleted = gregor_ok(&b, &["groups", "delete", "--group", "cli-group"])?;
    ensure!(
        deleted == "Deletion of requested consumer groups ('cli-group') was successful.\n",
        "{deleted}"
    );
    let listed = gregor_ok(&b, &["groups", "list"])?;
    ensure!(!listed.lines().any(|l| l == "cli-group"), "{listed}");
    let gone = gregor_fails(&["groups", "describe", "--group", "cli-group", "-b", &b], 1)?;
    ensure!(gone.contains("does not exist"), "{gone}");
    Ok(())
}

/// `gregor cluster zk` output: path → data text (empty for no data).
fn znodes(output: &str) -> Result<BTreeMap<String, String>> {
    let mut nodes = BTreeMap::new();
    let mut lines = output.lines();
    while let Some(path) = lines.next() {
        ensure!(path.starts_with('/'), "expected a znode path, got {path:?}");
        let data: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
        nodes.insert(path.to_owned(), data.join("\n"));
    }
    Ok(nodes)
}

#[test]
fn cluster_commands_show_brokers_controller_and_the_zookeeper_tree() -> Result<()> {
    let cluster = Cluster::start(3)?;
    let b = cluster.bootstrap();
    let topic = unique_topic("cli-cluster");
    gregor_ok(
        &b,
        &[
            "topics",
            "create",
            "--topic",
            &topic,
            "--partitions",
            "2",
            "--replication-factor",
            "2",
        ],
    )?;
    let zk_topic = cluster.wait_for_leaders(&topic, 2, CHANGE_TIMEOUT)?;
    let controller = cluster.controller_id()?;

    let brokers = table(&gregor_ok(&b, &["cluster", "brokers"])?, "ID HOST:PORT")?;
    ensure!(brokers.len() == 3, "{brokers:?}");
    for row in &brokers {
        let id: i32 = row["ID"].parse()?;
        ensure!(
            row["HOST:PORT"] == cluster.broker(id)?.bootstrap(),
            "{row:?}"
        );
        let is_controller = if id == controller { "yes" } else { "no" };
        ensure!(
            row["CONTROLLER"] == is_controller && row["RACK"] == "-",
            "{row:?}"
        );
    }
    let shown = table(&gregor_ok(&b, &["cluster", "controller"])?, "ID HOST:PORT")?;
    ensure!(
        shown.len() == 1 && shown[0]["ID"] == controller.to_string(),
        "{shown:?}"
    );

    let output = gregor(&["cluster", "zk", "--zookeeper", &cluster.zk_connect()])?.success()?;
    let nodes = znodes(&output)?;
    for id in cluster.broker_ids() {
        let path = format!("/brokers/ids/{id}");
        let printed: Value = serde_json::from_str(nodes.get(&path).context("no broker znode")?)
            .with_context(|| format!("{path} is not JSON"))?;
        let in_zk: Value = cluster.zk_get_json(&path)?.context("not registered")?;
        ensure!(
            printed == in_zk,
            "{path}: printed {printed}, zkCli shows {in_zk}"
        );
    }
    for (&partition, state) in &zk_topic.states {
        let path = format!("/brokers/topics/{topic}/partitions/{partition}/state");
        let printed: PartitionStateZNode =
            serde_json::from_str(nodes.get(&path).with_context(|| format!("no {path}"))?)
                .with_context(|| format!("{path} is not a partition state"))?;
        ensure!(
            printed == *state,
            "{path}: printed {printed:?}, zkCli shows {state:?}"
        );
    }
    let printed: ControllerZNode = serde_json::from_str(&nodes["/controller"])?;
    ensure!(printed.brokerid == controller, "{printed:?}");
    ensure!(
        nodes["/controller_epoch"] == cluster.controller_epoch()?.to_string(),
        "{output}"
    );
    for path in [
        "/cluster/id",
        "/config/topics",
        "/admin/delete_topics",
        "/isr_change_notification",
    ] {
        ensure!(nodes.contains_key(path), "{path} missing from:\n{output}");
    }
    let cluster_id: Value = serde_json::from_str(&nodes["/cluster/id"])?;
    ensure!(cluster_id["version"] == "1", "{cluster_id}");
    Ok(())
}

#[test]
fn bad_arguments_and_unreachable_clusters_fail_in_one_line() -> Result<()> {
    for args in [
        &["topics", "create", "--topic"][..],
        &["topics", "frobnicate"],
        &["topics", "create", "--topic", "t", "--partitions", "0"],
        &[
            "topics",
            "create",
            "--topic",
            "t",
            "--replica-assignment",
            "1:x",
        ],
        &["groups", "reset-offsets", "--group", "g", "--topic", "t"],
        &[
            "groups",
            "reset-offsets",
            "--group",
            "g",
            "--topic",
            "t",
            "--to-earliest",
            "--to-latest",
        ],
        &[
            "groups",
            "reset-offsets",
            "--group",
            "g",
            "--topic",
            "t",
            "--to-datetime",
            "yesterday",
        ],
        &["cluster", "zk"],
    ] {
        let line = gregor_fails(args, 2)?;
        ensure!(line.starts_with("gregor: "), "{args:?}: {line}");
    }

    let port = free_port()?;
    let address = format!("127.0.0.1:{port}");
    for args in [
        &["topics", "list", "-b", &address][..],
        &["groups", "list", "-b", &address],
        &["cluster", "brokers", "-b", &address],
    ] {
        let line = gregor_fails(args, 1)?;
        ensure!(line.contains(&address), "{args:?}: {line}");
    }
    let zookeeper = format!("{address}/gregor");
    let line = gregor_fails(&["cluster", "zk", "--zookeeper", &zookeeper], 1)?;
    ensure!(line.contains(&address), "{line}");
    Ok(())
}
