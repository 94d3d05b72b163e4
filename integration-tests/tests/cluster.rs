//! Kafka's cluster architecture (issue 4's acceptance): brokers registered in
//! a real 3-node ZooKeeper ensemble, one controller elected there, leaders
//! and ISRs written as znodes, and what happens when brokers or ZooKeeper
//! nodes crash or freeze. One test per acceptance line, each on its own
//! cluster (see `integration_tests::cluster`).

use std::collections::BTreeMap;
use std::fs;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use integration_tests::client_matrix::CONFLUENT_KAFKA;
use integration_tests::cluster::{
    ensure_distinct_epochs, now_ms, BrokerIdZNode, LoggedElection, PartitionStateZNode, TopicInZk,
    CHANGE_TIMEOUT, SESSION_TIMEOUT,
};
use integration_tests::wire::WireClient;
use integration_tests::{
    four_letter_word, json_lines, kcat_consume, kcat_produce_file, python, wait_until, Cluster,
};

const TOPIC: &str = "t";
const PARTITIONS: usize = 6;
const REPLICATION_FACTOR: usize = 3;
/// Bound on a client run (the scripts bound each call by 30 s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// The acceptance bound for a new controller after the old one died.
const CONTROLLER_FAILOVER: Duration = Duration::from_secs(2);

/// Creates a topic with confluent-kafka's AdminClient (CreateTopics).
fn create_topic(bootstrap: &str, topic: &str, partitions: usize, replication: usize) -> Result<()> {
    let options = [
        "--partitions".to_owned(),
        partitions.to_string(),
        "--replication-factor".to_owned(),
        replication.to_string(),
    ];
    let lines = CONFLUENT_KAFKA.run_ok(bootstrap, topic, "create-topic", &options)?;
    ensure!(
        lines.iter().any(|l| l["created"] == topic),
        "create-topic printed {lines:?}"
    );
    eprintln!("created {topic}: {partitions} partitions, replication factor {replication}");
    Ok(())
}

/// Creates [`TOPIC`] (6 partitions, replication factor 3) and waits until
/// the controller has given every partition a leader.
fn create_replicated_topic(cluster: &Cluster) -> Result<TopicInZk> {
    create_topic(&cluster.bootstrap(), TOPIC, PARTITIONS, REPLICATION_FACTOR)?;
    let topic = cluster.wait_for_leaders(TOPIC, PARTITIONS, CHANGE_TIMEOUT)?;
    eprintln!("leaders of {TOPIC}: {:?}", topic.leaders());
    Ok(topic)
}

/// A broker that leads partitions of [`TOPIC`] but is not the controller,
/// so that killing it tests leader failover and nothing else.
fn leader_other_than_controller(cluster: &Cluster, topic: &TopicInZk) -> Result<i32> {
    let controller = cluster.controller_id()?;
    cluster
        .broker_ids()
        .into_iter()
        .find(|&id| id != controller && !topic.led_by(id).is_empty())
        .with_context(|| format!("no broker but the controller {controller} leads: {topic:?}"))
}

/// The names of [`TOPIC`]'s partition directories in `broker`'s log dir.
fn topic_directories(cluster: &Cluster, broker: i32) -> Result<Vec<String>> {
    let dir = cluster.broker(broker)?.log_dir();
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{TOPIC}-")) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn all_but(ids: &[i32], excluded: i32) -> Vec<i32> {
    ids.iter().copied().filter(|&id| id != excluded).collect()
}

#[test]
fn zookeeper_holds_brokers_controller_and_topic_state_as_kafka_writes_them() -> Result<()> {
    let cluster = Cluster::start(3)?;

    let ids = cluster.zk_cli(&["ls", "/brokers/ids"])?;
    ensure!(
        ids.trim() == "[1, 2, 3]",
        "`ls /brokers/ids` printed {ids:?}"
    );
    for id in cluster.broker_ids() {
        let port = i32::from(cluster.broker(id)?.port());
        let registration: BrokerIdZNode = cluster
            .zk_get_json(&format!("/brokers/ids/{id}"))?
            .with_context(|| format!("no /brokers/ids/{id}"))?;
        ensure!(
            registration.version == 5
                && (registration.host.as_str(), registration.port) == ("127.0.0.1", port)
                && registration.endpoints == [format!("PLAINTEXT://127.0.0.1:{port}")]
                && registration.listener_security_protocol_map
                    == BTreeMap::from([("PLAINTEXT".to_owned(), "PLAINTEXT".to_owned())])
                && registration.rack.is_none(),
            "/brokers/ids/{id}: {registration:?}"
        );
    }

    let controller = cluster.controller()?.context("no /controller")?;
    eprintln!("/controller: {controller:?}");
    ensure!(
        controller.version == 1 && cluster.broker_ids().contains(&controller.brokerid),
        "/controller: {controller:?}"
    );
    controller.elected_at_ms()?;
    let controller_epoch = cluster.controller_epoch()?;
    ensure!(
        controller_epoch >= 1,
        "/controller_epoch is {controller_epoch}"
    );

    create_topic(&cluster.bootstrap(), TOPIC, PARTITIONS, REPLICATION_FACTOR)?;
    let znode = cluster
        .topic_assignment(TOPIC)?
        .context("no /brokers/topics/t after CreateTopics answered")?;
    eprintln!("/brokers/topics/{TOPIC}: {znode:?}");
    ensure!(
        znode.version == 3
            && znode.topic_id.len() == 22
            && znode.adding_replicas.is_empty()
            && znode.removing_replicas.is_empty(),
        "/brokers/topics/{TOPIC}: {znode:?}"
    );
    let assignment = znode.assignment()?;
    ensure!(
        assignment.keys().copied().eq(0..PARTITIONS as i32),
        "partitions {:?}",
        assignment.keys()
    );
    for (p, replicas) in &assignment {
        let mut distinct = replicas.clone();
        distinct.sort_unstable();
        ensure!(
            distinct == [1, 2, 3],
            "partition {p} has replicas {replicas:?}"
        );
    }

    let state = wait_until("the state znode of t-0", CHANGE_TIMEOUT, || {
        cluster.partition_state(TOPIC, 0)
    })?;
    eprintln!("/brokers/topics/{TOPIC}/partitions/0/state: {state:?}");
    // Kafka's initial leader and ISR: with every replica alive, the
    // preferred (first) replica leads, all replicas are in sync, epoch 0.
    let replicas = &assignment[&0];
    let expected = PartitionStateZNode {
        version: 1,
        leader: *replicas.first().context("t-0 has no replicas")?,
        leader_epoch: 0,
        controller_epoch,
        isr: replicas.clone(),
    };
    ensure!(
        state == expected,
        "state of t-0 is {state:?}, expected {expected:?}"
    );
    let partitions = cluster.zk_ls(&format!("/brokers/topics/{TOPIC}/partitions"))?;
    ensure!(
        partitions == Some(["0", "1", "2", "3", "4", "5"].map(String::from).to_vec()),
        "`ls /brokers/topics/{TOPIC}/partitions`: {partitions:?}"
    );
    Ok(())
}

#[test]
fn leaders_spread_over_the_brokers_and_every_brokers_metadata_agrees_with_zookeeper() -> Result<()>
{
    let cluster = Cluster::start(3)?;
    let topic = create_replicated_topic(&cluster)?;
    ensure!(
        topic.preferred_leaders_lead(),
        "with every broker alive the first replica leads: {topic:?}"
    );
    // Kafka's rack-unaware assignment starts each partition's replica list
    // one broker further, so 6 partitions over 3 brokers give each 2.
    let mut led = BTreeMap::new();
    for leader in topic.leaders().into_values() {
        *led.entry(leader).or_insert(0) += 1;
    }
    ensure!(
        led == BTreeMap::from([(1, 2), (2, 2), (3, 2)]),
        "partitions led per broker: {led:?}"
    );
    let agreed =
        cluster.wait_until_metadata_agrees(&cluster.broker_ids(), TOPIC, CHANGE_TIMEOUT)?;
    eprintln!("every broker's Metadata agrees with ZooKeeper: {agreed:?}");
    Ok(())
}

#[test]
fn a_killed_controller_is_replaced_within_the_session_timeout_and_rejoins_as_a_plain_broker(
) -> Result<()> {
    let mut cluster = Cluster::start(3)?;
    let all = cluster.broker_ids();
    let old = cluster.controller()?.context("no controller")?;
    let old_epoch = cluster.controller_epoch()?;
    eprintln!(
        "kill -9 the controller, broker {} (epoch {old_epoch})",
        old.brokerid
    );
    cluster.broker_mut(old.brokerid)?.kill9()?;
    let killed_at = now_ms();

    let new = cluster.wait_for_controller(
        "a broker other than the killed one",
        SESSION_TIMEOUT + CHANGE_TIMEOUT,
        |c| c.brokerid != old.brokerid,
    )?;
    let took = new.elected_at_ms()? - killed_at;
    let new_epoch = cluster.controller_epoch()?;
    eprintln!(
        "broker {} became controller {took} ms after the kill, epoch {new_epoch}",
        new.brokerid
    );
    let bound = SESSION_TIMEOUT + CONTROLLER_FAILOVER;
    ensure!(
        took <= bound.as_millis() as i64,
        "the new controller was elected {took} ms after the kill, more than {bound:?}"
    );
    ensure!(
        new_epoch > old_epoch,
        "/controller_epoch went from {old_epoch} to {new_epoch}"
    );
    cluster.wait_for_registered(&all_but(&all, old.brokerid), CHANGE_TIMEOUT)?;

    eprintln!("restart broker {}", old.brokerid);
    cluster.broker_mut(old.brokerid)?.restart()?;
    cluster.wait_for_registered(&all, SESSION_TIMEOUT + CHANGE_TIMEOUT)?;
    ensure!(
        cluster.controller()?.as_ref() == Some(&new),
        "/controller changed after broker {} came back: {:?}",
        old.brokerid,
        cluster.controller()?
    );
    ensure!(
        cluster.controller_epoch()? == new_epoch,
        "/controller_epoch moved"
    );
    let elections = cluster.logged_elections()?;
    let expected = [
        LoggedElection {
            epoch: old_epoch,
            broker: old.brokerid,
        },
        LoggedElection {
            epoch: new_epoch,
            broker: new.brokerid,
        },
    ];
    ensure!(
        elections == expected,
        "elections logged: {elections:?}, expected {expected:?}"
    );
    wait_until(
        &format!(
            "restarted broker {} to name controller {} in Metadata",
            old.brokerid, new.brokerid
        ),
        CHANGE_TIMEOUT,
        || Ok((cluster.metadata_from(old.brokerid)?.controller_id == new.brokerid).then_some(())),
    )
}

#[test]
fn a_killed_leaders_partitions_move_to_a_live_isr_member_and_producers_recover() -> Result<()> {
    /// 1200 records 10 ms apart: 12 s of production, past the kill and
    /// the failover (the session timeout).
    const RECORDS: usize = 1200;
    const INTERVAL_MS: u32 = 10;
    let mut cluster = Cluster::start(3)?;
    let all = cluster.broker_ids();
    let before = create_replicated_topic(&cluster)?;
    let victim = leader_other_than_controller(&cluster, &before)?;
    let moved = before.led_by(victim);

    let args = [
        cluster.bootstrap(),
        TOPIC.to_owned(),
        "--partitions".to_owned(),
        PARTITIONS.to_string(),
        "--count".to_owned(),
        RECORDS.to_string(),
        "--interval-ms".to_owned(),
        INTERVAL_MS.to_string(),
    ];
    let producer = thread::spawn(move || python("python/steady_producer.py", args, CLIENT_TIMEOUT));
    let victim_address = cluster.broker(victim)?.bootstrap();
    wait_until(
        &format!("records on broker {victim}'s partitions {moved:?}"),
        CHANGE_TIMEOUT,
        || {
            if producer.is_finished() {
                bail!("the producer ended before broker {victim} was killed");
            }
            let mut client = WireClient::connect(&victim_address)?;
            for &p in &moved {
                let partition = client.fetch(TOPIC, p, 0)?;
                if partition.error_code != 0 || partition.high_watermark <= 0 {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )?;
    eprintln!("kill -9 broker {victim}, leader of {moved:?}, while producing");
    cluster.broker_mut(victim)?.kill9()?;

    let after = cluster.wait_for_topic(
        &format!("partitions {moved:?} to be led by another broker than {victim}"),
        TOPIC,
        SESSION_TIMEOUT + CHANGE_TIMEOUT,
        |t| {
            moved.iter().all(|p| {
                t.states
                    .get(p)
                    .is_some_and(|s| s.leader >= 0 && s.leader != victim)
            })
        },
    )?;
    eprintln!("leaders after the kill: {:?}", after.leaders());
    for p in &moved {
        let (old, new) = (&before.states[p], &after.states[p]);
        // Kafka's offline election: the first replica, in assignment
        // order, that is alive and in the ISR.
        let expected = before.assignment[p]
            .iter()
            .copied()
            .find(|&b| b != victim && old.isr.contains(&b));
        ensure!(
            Some(new.leader) == expected && !new.isr.contains(&victim),
            "t-{p}: {old:?} became {new:?}; expected leader {expected:?}, {victim} out of the ISR"
        );
        ensure!(
            new.leader_epoch > old.leader_epoch,
            "t-{p}: leader epoch {} did not grow ({})",
            old.leader_epoch,
            new.leader_epoch
        );
    }

    let output = producer
        .join()
        .map_err(|_| anyhow!("the producer thread panicked"))??
        .success()?;
    let summary = json_lines(&output)?
        .pop()
        .context("the producer printed nothing")?;
    eprintln!("producer: {summary}");
    ensure!(
        summary["acked"] == RECORDS && summary["failed"] == 0,
        "producer: {summary}"
    );
    cluster.wait_until_metadata_agrees(&all_but(&all, victim), TOPIC, CHANGE_TIMEOUT)?;
    Ok(())
}

#[test]
fn a_broker_stopped_with_sigterm_hands_its_leaderships_over_before_it_exits() -> Result<()> {
    let mut cluster = Cluster::start(3)?;
    let all = cluster.broker_ids();
    let before = create_replicated_topic(&cluster)?;
    let leaving = leader_other_than_controller(&cluster, &before)?;
    let moved = before.led_by(leaving);
    eprintln!("SIGTERM broker {leaving}, leader of {moved:?}");
    // Controlled shutdown: the controller moves the leaderships while the
    // broker still runs, so the state znodes change before it exits and
    // no partition goes without a leader for a session timeout.
    let status = cluster.broker_mut(leaving)?.terminate()?;
    ensure!(status.success(), "broker {leaving} exited with {status}");
    let log = cluster.broker(leaving)?.current_run_log()?;
    ensure!(
        log.contains(&format!(
            "controlled shutdown of broker {leaving} succeeded"
        )),
        "broker {leaving} did not report a completed controlled shutdown"
    );
    let after = cluster
        .topic_in_zk(TOPIC)?
        .context("the topic vanished from ZooKeeper")?;
    for p in &moved {
        let (old, new) = (&before.states[p], &after.states[p]);
        ensure!(
            new.leader >= 0 && new.leader != leaving && !new.isr.contains(&leaving),
            "t-{p}: {old:?} became {new:?} although broker {leaving} shut down cleanly"
        );
        ensure!(
            new.leader_epoch > old.leader_epoch,
            "t-{p}: leader epoch did not grow"
        );
    }
    cluster.wait_until_metadata_agrees(&all_but(&all, leaving), TOPIC, CHANGE_TIMEOUT)?;
    Ok(())
}

#[test]
fn a_stopped_broker_rejoins_without_a_restart_and_no_epoch_is_won_twice() -> Result<()> {
    let mut cluster = Cluster::start(3)?;
    let all = cluster.broker_ids();
    // The controller: it must also give up controllership when it wakes.
    let stopped = cluster.controller_id()?;
    let epoch = cluster.controller_epoch()?;
    eprintln!("SIGSTOP broker {stopped}, the controller (epoch {epoch})");
    cluster.broker_mut(stopped)?.sigstop()?;

    cluster.wait_for_registered(&all_but(&all, stopped), SESSION_TIMEOUT + CHANGE_TIMEOUT)?;
    let new = cluster.wait_for_controller("a running broker", CHANGE_TIMEOUT, |c| {
        c.brokerid != stopped
    })?;
    let new_epoch = cluster.controller_epoch()?;
    eprintln!(
        "session expired: broker {} is controller, epoch {new_epoch}; SIGCONT broker {stopped}",
        new.brokerid
    );
    ensure!(
        new_epoch > epoch,
        "/controller_epoch went from {epoch} to {new_epoch}"
    );
    cluster.broker_mut(stopped)?.sigcont()?;

    // The same process registers again: the harness restarts nothing by
    // itself.
    cluster.wait_for_registered(&all, 2 * SESSION_TIMEOUT + CHANGE_TIMEOUT)?;
    ensure!(
        cluster.controller()?.as_ref() == Some(&new),
        "/controller changed when broker {stopped} woke: {:?}",
        cluster.controller()?
    );
    let elections = cluster.logged_elections()?;
    eprintln!("elections logged: {elections:?}");
    ensure_distinct_epochs(&elections)?;
    let last = elections.last().copied();
    ensure!(
        last == Some(LoggedElection {
            epoch: new_epoch,
            broker: new.brokerid
        }),
        "the last logged election is {last:?}, ZooKeeper has broker {} with epoch {new_epoch}",
        new.brokerid
    );
    let mut seen = Vec::new();
    wait_until(
        &format!(
            "every broker to list brokers {all:?} and controller {}",
            new.brokerid
        ),
        CHANGE_TIMEOUT,
        || {
            seen.clear();
            for &id in &all {
                let metadata = cluster.metadata_from(id)?;
                let mut listed: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id).collect();
                listed.sort_unstable();
                seen.push((id, listed, metadata.controller_id));
            }
            Ok(seen
                .iter()
                .all(|(_, listed, controller)| *listed == all && *controller == new.brokerid)
                .then_some(()))
        },
    )
    .with_context(|| format!("(broker, brokers listed, controller) last seen: {seen:?}"))
}

#[test]
fn losing_one_zookeeper_node_changes_nothing_and_losing_two_only_pauses_changes() -> Result<()> {
    // This test is about ZooKeeper, not replication: small topics with one
    // replica per partition.
    const TOPIC_PARTITIONS: usize = 3;
    let mut cluster = Cluster::start(3)?;
    let all = cluster.broker_ids();
    // Clients bootstrap from one broker and learn the others from it.
    let bootstrap = cluster.broker(cluster.controller_id()?)?.bootstrap();
    let records = tempfile::tempdir()?;
    // Produces `lines` to every partition of `topic` (kcat waits for the
    // partitions to have leaders) and checks that each partition then holds
    // exactly `expected`.
    let produce_and_check = |topic: &str, lines: &str, expected: &str| -> Result<()> {
        let file = records.path().join("records");
        fs::write(&file, lines)?;
        for p in 0..TOPIC_PARTITIONS as i32 {
            kcat_produce_file(
                &bootstrap,
                topic,
                p,
                &file,
                &["-X", "acks=all"],
                CLIENT_TIMEOUT,
            )?
            .success()
            .with_context(|| format!("producing to {topic}-{p}"))?;
            let consumed = kcat_consume(&bootstrap, topic, p, "%s\n", CLIENT_TIMEOUT)?.success()?;
            ensure!(
                consumed == expected,
                "{topic}-{p} holds {consumed:?}, expected {expected:?}"
            );
        }
        Ok(())
    };

    let first = cluster.ensemble().leader()?;
    eprintln!("kill ZooKeeper node {} (the leader)", first + 1);
    cluster.ensemble_mut().kill(first)?;
    cluster.ensemble_mut().wait_for_quorum()?;
    create_topic(&bootstrap, "a", TOPIC_PARTITIONS, 1)?;
    produce_and_check("a", "one\n", "one\n")?;

    let second = (0..cluster.ensemble().size())
        .find(|&i| i != first)
        .context("a 3-node ensemble")?;
    eprintln!("kill ZooKeeper node {}: no quorum", second + 1);
    cluster.ensemble_mut().kill(second)?;
    let survivor = (0..3)
        .find(|&i| i != first && i != second)
        .context("3 nodes")?;
    let srvr = wait_until(
        "the last ZooKeeper node to stop serving",
        CHANGE_TIMEOUT,
        || {
            let srvr = four_letter_word(cluster.ensemble().address(survivor), "srvr")?;
            Ok((!srvr.contains("Mode:")).then_some(srvr))
        },
    )?;
    eprintln!("node {}: {}", survivor + 1, srvr.trim());
    produce_and_check("a", "two\n", "one\ntwo\n")?;

    eprintln!("restart ZooKeeper nodes {} and {}", second + 1, first + 1);
    cluster.ensemble_mut().restart(second)?;
    cluster.ensemble_mut().restart(first)?;
    cluster.wait_for_registered(&all, 2 * SESSION_TIMEOUT + CHANGE_TIMEOUT)?;
    let controller = cluster.wait_for_controller("a broker", CHANGE_TIMEOUT, |_| true)?;
    eprintln!(
        "brokers registered again; controller {}",
        controller.brokerid
    );
    create_topic(&bootstrap, "b", TOPIC_PARTITIONS, 1)?;
    produce_and_check("b", "three\n", "three\n")?;
    produce_and_check("a", "four\n", "one\ntwo\nfour\n")
}

#[test]
fn deleting_a_topic_removes_its_znodes_and_its_directories_on_every_broker() -> Result<()> {
    // Kafka renames a deleted partition's directory to `<t>-<p>.<id>-delete`
    // and removes it `log.segment.delete.delay.ms` (default 60 s) later.
    let cluster = Cluster::start_with(3, |c| c.property("log.segment.delete.delay.ms", 1000))?;
    let all = cluster.broker_ids();
    let topic = create_replicated_topic(&cluster)?;
    let directories = |broker: i32| topic_directories(&cluster, broker);
    wait_until("every replica's directory", CHANGE_TIMEOUT, || {
        for (p, replicas) in &topic.assignment {
            for &b in replicas {
                if !directories(b)?.contains(&format!("{TOPIC}-{p}")) {
                    return Ok(None);
                }
            }
        }
        Ok(Some(()))
    })?;

    let lines = CONFLUENT_KAFKA.run_ok(&cluster.bootstrap(), TOPIC, "delete-topic", &[])?;
    ensure!(
        lines.iter().any(|l| l["deleted"] == TOPIC),
        "delete-topic printed {lines:?}"
    );
    eprintln!("deleted {TOPIC}");
    let znodes = [
        format!("/brokers/topics/{TOPIC}"),
        format!("/admin/delete_topics/{TOPIC}"),
        format!("/config/topics/{TOPIC}"),
    ];
    let mut left = Vec::new();
    wait_until(&format!("{znodes:?} to go"), CHANGE_TIMEOUT, || {
        left.clear();
        for znode in &znodes {
            if cluster.zk_get(znode)?.is_some() {
                left.push(znode.clone());
            }
        }
        Ok(left.is_empty().then_some(()))
    })
    .with_context(|| format!("still there: {left:?}"))?;
    wait_until("the topic's directories to go", CHANGE_TIMEOUT, || {
        for &b in &all {
            if !directories(b)?.is_empty() {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
    .with_context(|| {
        let left: Vec<_> = all.iter().map(|&b| (b, directories(b).ok())).collect();
        format!("left per broker: {left:?}")
    })?;
    wait_until("every broker to forget the topic", CHANGE_TIMEOUT, || {
        for &b in &all {
            if cluster
                .metadata_from(b)?
                .topics
                .iter()
                .any(|t| t.name == TOPIC)
            {
                return Ok(None);
            }
        }
        Ok(Some(()))
    })
}

/// Asks the controller, as Kafka's tools do, to move partition 0 of
/// [`TOPIC`] to `replicas`.
fn request_reassignment(cluster: &Cluster, replicas: &[i32]) -> Result<()> {
    let request = format!(
        r#"{{"version":1,"partitions":[{{"topic":"{TOPIC}","partition":0,"replicas":{replicas:?}}}]}}"#
    );
    cluster.zk_cli(&["create", "/admin/reassign_partitions", &request])?;
    Ok(())
}

/// The controller removes the request once every partition in it moved.
fn wait_for_reassignment_done(cluster: &Cluster) -> Result<()> {
    wait_until(
        "the reassignment request to be done",
        CHANGE_TIMEOUT,
        || {
            Ok(cluster
                .zk_get("/admin/reassign_partitions")?
                .is_none()
                .then_some(()))
        },
    )
}

#[test]
fn reassigning_a_partition_moves_leadership_deletes_removed_replicas_and_copies_added_ones(
) -> Result<()> {
    let cluster = Cluster::start_with(3, |c| c.property("log.segment.delete.delay.ms", 1000))?;
    let all = cluster.broker_ids();
    let before = create_replicated_topic(&cluster)?;
    // Drop partition 0's leader from its replicas: the target replicas are
    // in the ISR already, so the reassignment completes at once.
    let old_leader = before.states[&0].leader;
    let target = all_but(&before.assignment[&0], old_leader);
    eprintln!("reassign {TOPIC}-0 to {target:?} (leader was {old_leader})");
    request_reassignment(&cluster, &target)?;
    wait_for_reassignment_done(&cluster)?;
    let after = cluster
        .topic_in_zk(TOPIC)?
        .context("the topic vanished from ZooKeeper")?;
    ensure!(
        after.assignment[&0] == target,
        "assignment of {TOPIC}-0 is {:?}, expected {target:?}",
        after.assignment[&0]
    );
    let state = &after.states[&0];
    ensure!(
        target.contains(&state.leader) && !state.isr.contains(&old_leader),
        "{TOPIC}-0 state {state:?} still involves broker {old_leader}"
    );
    wait_until(
        &format!("{TOPIC}-0 to leave broker {old_leader}'s disk"),
        CHANGE_TIMEOUT,
        || {
            Ok(
                (!topic_directories(&cluster, old_leader)?.contains(&format!("{TOPIC}-0")))
                    .then_some(()),
            )
        },
    )?;
    cluster.wait_until_metadata_agrees(&all, TOPIC, CHANGE_TIMEOUT)?;

    // And back: the added replica must copy the partition and join the ISR
    // before the reassignment completes.
    let grown: Vec<i32> = target.iter().copied().chain([old_leader]).collect();
    eprintln!("reassign {TOPIC}-0 to {grown:?}");
    request_reassignment(&cluster, &grown)?;
    let done = cluster.wait_for_topic(
        &format!("{TOPIC}-0 to be assigned {grown:?} with all of them in sync"),
        TOPIC,
        CHANGE_TIMEOUT,
        |t| {
            t.assignment[&0] == grown
                && t.states
                    .get(&0)
                    .is_some_and(|s| grown.iter().all(|r| s.isr.contains(r)))
        },
    )?;
    eprintln!("{TOPIC}-0 after growing: {:?}", done.states[&0]);
    wait_for_reassignment_done(&cluster)?;
    ensure!(
        topic_directories(&cluster, old_leader)?.contains(&format!("{TOPIC}-0")),
        "broker {old_leader} has no {TOPIC}-0 directory after being added back"
    );
    cluster.wait_until_metadata_agrees(&all, TOPIC, CHANGE_TIMEOUT)?;
    Ok(())
}

#[test]
fn preferred_leader_election_restores_the_original_leaders() -> Result<()> {
    // Only the election the test asks for may move leaders back.
    let mut cluster =
        Cluster::start_with(3, |c| c.property("auto.leader.rebalance.enable", false))?;
    let all = cluster.broker_ids();
    let before = create_replicated_topic(&cluster)?;
    ensure!(before.preferred_leaders_lead(), "{before:?}");
    let victim = leader_other_than_controller(&cluster, &before)?;
    let moved = before.led_by(victim);

    eprintln!("kill -9 broker {victim}, leader of {moved:?}");
    cluster.broker_mut(victim)?.kill9()?;
    cluster.wait_for_topic(
        &format!("no partition led by broker {victim}"),
        TOPIC,
        SESSION_TIMEOUT + CHANGE_TIMEOUT,
        |t| {
            t.states
                .values()
                .all(|s| s.leader >= 0 && s.leader != victim)
        },
    )?;
    eprintln!("restart broker {victim}");
    cluster.broker_mut(victim)?.restart()?;
    cluster.wait_for_registered(&all, SESSION_TIMEOUT + CHANGE_TIMEOUT)?;
    // The preferred replica can only lead again once it is in sync.
    let during = cluster.wait_for_topic(
        &format!("broker {victim} back in the ISR of its partitions"),
        TOPIC,
        CHANGE_TIMEOUT,
        |t| {
            t.assignment.iter().all(|(p, replicas)| {
                !replicas.contains(&victim)
                    || t.states.get(p).is_some_and(|s| s.isr.contains(&victim))
            })
        },
    )?;
    ensure!(
        moved.iter().all(|p| during.states[p].leader != victim),
        "leadership moved back before the election was asked for: {:?}",
        during.leaders()
    );

    let partitions: Vec<String> = (0..PARTITIONS)
        .map(|p| format!(r#"{{"topic":"{TOPIC}","partition":{p}}}"#))
        .collect();
    let election = format!(r#"{{"version":1,"partitions":[{}]}}"#, partitions.join(","));
    eprintln!("create /admin/preferred_replica_election {election}");
    cluster.zk_cli(&["create", "/admin/preferred_replica_election", &election])?;
    let after = cluster.wait_for_topic(
        "the first replica of every partition to lead",
        TOPIC,
        CHANGE_TIMEOUT,
        TopicInZk::preferred_leaders_lead,
    )?;
    eprintln!("leaders after the election: {:?}", after.leaders());
    for p in &moved {
        ensure!(
            after.states[p].leader_epoch > during.states[p].leader_epoch,
            "t-{p}: leader epoch {} after the election, {} before",
            after.states[p].leader_epoch,
            during.states[p].leader_epoch
        );
    }
    wait_until(
        "the controller to delete /admin/preferred_replica_election",
        CHANGE_TIMEOUT,
        || {
            Ok(cluster
                .zk_get("/admin/preferred_replica_election")?
                .is_none()
                .then_some(()))
        },
    )
}

#[test]
fn a_topic_config_change_announced_in_zookeeper_reaches_the_running_broker() -> Result<()> {
    let cluster = Cluster::start(1)?;
    let bootstrap = cluster.bootstrap();
    create_topic(&bootstrap, TOPIC, 1, 1)?;
    cluster.wait_for_leaders(TOPIC, 1, CHANGE_TIMEOUT)?;
    // What an admin tool does: new overrides, then the notification.
    // segment.bytes=1024 makes every few records roll a new segment.
    cluster.zk_cli(&[
        "set",
        &format!("/config/topics/{TOPIC}"),
        r#"{"version":1,"config":{"segment.bytes":"1024"}}"#,
    ])?;
    cluster.zk_cli(&[
        "create",
        "-s",
        "/config/changes/config_change_",
        &format!(r#"{{"version":2,"entity_path":"topics/{TOPIC}"}}"#),
    ])?;
    let broker = cluster.broker(cluster.broker_ids()[0])?;
    wait_until("the broker to apply the new config", CHANGE_TIMEOUT, || {
        Ok(broker
            .current_run_log()?
            .contains(&format!("topic {TOPIC}: new config applied"))
            .then_some(()))
    })?;
    let records = tempfile::tempdir()?;
    let file = records.path().join("records");
    // 40 records of 100 bytes, each its own batch: far over 1024 bytes.
    fs::write(&file, format!("{}\n", "x".repeat(100)).repeat(40))?;
    kcat_produce_file(
        &bootstrap,
        TOPIC,
        0,
        &file,
        &["-X", "linger.ms=0", "-X", "batch.num.messages=1"],
        CLIENT_TIMEOUT,
    )?
    .success()?;
    let dir = broker.log_dir().join(format!("{TOPIC}-0"));
    let segments = fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .count();
    ensure!(
        segments > 1,
        "{} holds {segments} segment(s): the 1024-byte segment.bytes was not applied",
        dir.display()
    );
    Ok(())
}
