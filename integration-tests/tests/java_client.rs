//! Apache Kafka's Java client against gregor, in its two lines: kafka-clients
//! 2.8.2 (the release gregor keeps) and the newest 4.x. The client is the
//! program in `integration-tests/clients/java`, driven through the command
//! line every client script shares ([`ScriptClient::Java`]), so the
//! scenarios are those of `client_matrix` and `group_matrix` plus the Java
//! client's own: the idempotent producer, every codec, both assignors,
//! static membership and the AdminClient for every API gregor serves.
//!
//! Three tests per version, each on one broker its scenarios share (unique
//! topics and groups keep them apart): producing and consuming, consumer
//! groups, administration.

use std::fs;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use gregor_record::{BatchHeader, Batches, Compression, Records};
use integration_tests::client_matrix::{
    admin_create_and_delete_topic_on, assert_exactly_produced,
    offsets_for_times_between_batches_on, offsets_for_times_inside_a_batch_on,
    produce_and_consume_on, ScriptClient,
};
use integration_tests::group_matrix::{
    create_topic, group_broker, group_broker_with, group_consume, produce,
    restart_resumes_at_committed_offsets_on, static_member_returns_without_rebalance_on,
    three_members_share_and_take_over_on, Departure,
};
use integration_tests::{
    unique_topic, SingleBroker, KAFKA_2_8, KAFKA_CLIENTS_2_8, KAFKA_CLIENTS_4,
};
use serde_json::{json, Value};

fn java(version: &'static str) -> ScriptClient {
    ScriptClient::Java {
        version,
        options: &[],
    }
}

/// Options as the command line takes them.
fn options(options: &[&str]) -> Vec<String> {
    options.iter().map(|o| (*o).to_owned()).collect()
}

/// The header of every batch stored in partition 0 of `topic` (its first
/// segment, as the broker wrote it), and the values of its records, decoded
/// with gregor's record decoder.
fn stored_batches(cluster: &SingleBroker, topic: &str) -> Result<(Vec<BatchHeader>, Vec<String>)> {
    let segment = cluster
        .broker
        .log_dir()
        .join(format!("{topic}-0"))
        .join("00000000000000000000.log");
    let stored = Bytes::from(fs::read(&segment).with_context(|| format!("{}", segment.display()))?);
    let (mut headers, mut values) = (Vec::new(), Vec::new());
    let mut at = 0;
    for batch in Batches::new(&stored) {
        let (header, bytes) = batch?;
        headers.push(header);
        for record in Records::new(&stored.slice(at..at + bytes.len()))? {
            let value = record?.value.context("null value")?;
            values.push(String::from_utf8(value.to_vec())?);
        }
        at += bytes.len();
    }
    Ok((headers, values))
}

/// Produces `count` records to partition 0 of `topic` with `extra` options
/// and checks every one was acknowledged at its offset.
fn produce_acknowledged(
    cluster: &SingleBroker,
    client: ScriptClient,
    topic: &str,
    count: i64,
    extra: &[&str],
) -> Result<()> {
    let mut args = options(&["--count", &count.to_string()]);
    args.extend(options(extra));
    let lines = client.run_ok(&cluster.bootstrap(), topic, "produce", &args)?;
    let mut offsets: Vec<i64> = lines
        .iter()
        .filter_map(|l| l.get("offset").and_then(Value::as_i64))
        .collect();
    offsets.sort_unstable();
    ensure!(
        offsets == (0..count).collect::<Vec<_>>(),
        "acknowledged offsets {offsets:?}"
    );
    Ok(())
}

/// The idempotent producer (`enable.idempotence=true`, acks=all): every
/// record acknowledged once and read back in order; the stored batches
/// carry the producer id the broker gave it (InitProducerId), epoch 0, and
/// sequence numbers that start at 0 and follow the offsets.
fn idempotent_producer(cluster: &SingleBroker, client: ScriptClient) -> Result<()> {
    const COUNT: i64 = 1000;
    let topic = unique_topic("idempotent");
    produce_acknowledged(
        cluster,
        client,
        &topic,
        COUNT,
        &["--acks", "-1", "--idempotent"],
    )?;
    let records = client.consume(&cluster.bootstrap(), &topic, None)?;
    assert_exactly_produced(&records, COUNT)?;
    let (batches, _) = stored_batches(cluster, &topic)?;
    let producer_id = batches.first().context("no batch stored")?.producer_id;
    ensure!(
        producer_id >= 0,
        "batches without a producer id: {batches:?}"
    );
    for batch in &batches {
        ensure!(
            batch.producer_id == producer_id
                && batch.producer_epoch == 0
                && i64::from(batch.base_sequence) == batch.base_offset,
            "batch {batch:?} of producer {producer_id}: expected epoch 0 and base sequence = \
             base offset"
        );
    }
    Ok(())
}

/// Records produced with `codec` are stored in batches of that codec, and
/// the Java consumer reads them back exactly.
fn compressed(cluster: &SingleBroker, client: ScriptClient, codec: &str) -> Result<()> {
    const COUNT: i64 = 500;
    let topic = unique_topic(&format!("compressed-{codec}"));
    produce_acknowledged(
        cluster,
        client,
        &topic,
        COUNT,
        &["--acks", "1", "--linger-ms", "100", "--compression", codec],
    )?;
    let (batches, values) = stored_batches(cluster, &topic)?;
    let expected = codec.parse::<Compression>()?.id();
    let codecs: Vec<i16> = batches.iter().map(BatchHeader::compression).collect();
    ensure!(
        codecs.iter().all(|c| *c == expected),
        "{codec}: stored batch codecs {codecs:?}, expected {expected}"
    );
    ensure!(
        values.len() as i64 == COUNT,
        "{codec}: {} values stored",
        values.len()
    );
    let records = client.consume(&cluster.bootstrap(), &topic, None)?;
    assert_exactly_produced(&records, COUNT).with_context(|| format!("{codec} read back"))
}

fn produce_and_consume_suite(cluster: &SingleBroker, version: &'static str) -> Result<()> {
    let client = java(version);
    for acks in [0, 1, -1] {
        produce_and_consume_on(cluster, client, acks).with_context(|| format!("acks={acks}"))?;
    }
    idempotent_producer(cluster, client).context("idempotent producer")?;
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        compressed(cluster, client, codec)?;
    }
    offsets_for_times_between_batches_on(cluster, client).context("offsets for times")?;
    offsets_for_times_inside_a_batch_on(cluster, client).context("offsets inside a batch")
}

#[test]
fn kafka_clients_2_8_produce_and_consume() -> Result<()> {
    produce_and_consume_suite(&group_broker()?, KAFKA_CLIENTS_2_8)
}

#[test]
fn kafka_clients_4_produce_and_consume() -> Result<()> {
    produce_and_consume_suite(&group_broker()?, KAFKA_CLIENTS_4)
}

/// The group scenarios with the eager range assignor and with the
/// cooperative-sticky one, then static membership; the static group is
/// then described, refused deletion while its members last, and emptied
/// with RemoveMembersFromConsumerGroup (LeaveGroup by instance id).
fn consumer_groups_suite(cluster: &SingleBroker, version: &'static str) -> Result<()> {
    let range = ScriptClient::Java {
        version,
        options: &["--assignor", "range"],
    };
    let cooperative = ScriptClient::Java {
        version,
        options: &["--assignor", "cooperative-sticky"],
    };
    three_members_share_and_take_over_on(cluster, range, Departure::Leaves)
        .context("range: a member leaves")?;
    restart_resumes_at_committed_offsets_on(cluster, range).context("range: restart")?;
    three_members_share_and_take_over_on(cluster, cooperative, Departure::Leaves)
        .context("cooperative-sticky: a member leaves")?;
    three_members_share_and_take_over_on(cluster, cooperative, Departure::Crashes)
        .context("cooperative-sticky: a member crashes")?;

    let group =
        static_member_returns_without_rebalance_on(cluster, range).context("static membership")?;
    let bootstrap = cluster.bootstrap();
    let client = java(version);
    let group_option = |extra: &[&str]| {
        let mut args = options(&["--group", &group.group]);
        args.extend(options(extra));
        args
    };
    let described = client.run_ok(
        &bootstrap,
        &group.topic,
        "describe-group",
        &group_option(&[]),
    )?;
    let described = described.first().context("no description")?;
    ensure!(
        described["state"] == "Stable" && described["assignor"] == "range",
        "{described}"
    );
    let members = described["members"].as_array().context("members")?;
    let mut instances: Vec<&str> = members
        .iter()
        .filter_map(|m| m["instance_id"].as_str())
        .collect();
    instances.sort_unstable();
    ensure!(
        instances
            == [
                group.instance_ids[0].as_str(),
                group.instance_ids[1].as_str()
            ],
        "members {members:?}"
    );
    let mut partitions: Vec<i64> = members
        .iter()
        .flat_map(|m| m["partitions"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_i64())
        .collect();
    partitions.sort_unstable();
    ensure!(partitions == [0, 1, 2, 3], "members {members:?}");

    let refused = client.run(&bootstrap, &group.topic, "delete-group", &group_option(&[]))?;
    ensure!(
        !refused.status.success() && refused.stdout.contains("GroupNotEmptyException"),
        "deleting a group with members: {refused:?}"
    );
    for instance in &group.instance_ids {
        let removed = client.run_ok(
            &bootstrap,
            &group.topic,
            "remove-members",
            &group_option(&["--group-instance-id", instance]),
        )?;
        ensure!(removed == [json!({ "removed": instance })], "{removed:?}");
    }
    let described = client.run_ok(
        &bootstrap,
        &group.topic,
        "describe-group",
        &group_option(&[]),
    )?;
    let described = described.first().context("no description")?;
    ensure!(
        described["state"] == "Empty" && described["members"] == json!([]),
        "after removing both members: {described}"
    );
    client.run_ok(&bootstrap, &group.topic, "delete-group", &group_option(&[]))?;
    Ok(())
}

#[test]
fn kafka_clients_2_8_consumer_groups() -> Result<()> {
    consumer_groups_suite(&group_broker()?, KAFKA_CLIENTS_2_8)
}

#[test]
fn kafka_clients_4_consumer_groups() -> Result<()> {
    consumer_groups_suite(&group_broker()?, KAFKA_CLIENTS_4)
}

/// The single JSON line a mode prints.
fn one_line(
    client: ScriptClient,
    cluster: &SingleBroker,
    topic: &str,
    mode: &str,
    args: &[&str],
) -> Result<Value> {
    let lines = client.run_ok(&cluster.bootstrap(), topic, mode, &options(args))?;
    match <[Value; 1]>::try_from(lines) {
        Ok([line]) => Ok(line),
        Err(lines) => bail!("{mode} printed {lines:?}"),
    }
}

/// DescribeCluster (answered from Metadata), topic and broker configs
/// (DescribeConfigs, AlterConfigs where the client still has it,
/// IncrementalAlterConfigs), and the consumer-group administration:
/// ListGroups, DescribeGroups, OffsetFetch, OffsetCommit from the admin
/// client, OffsetDelete, DeleteGroups.
fn admin_suite(cluster: &SingleBroker, version: &'static str) -> Result<()> {
    let client = java(version);
    admin_create_and_delete_topic_on(cluster, client).context("create and delete a topic")?;

    let described = one_line(client, cluster, "-", "describe-cluster", &[])?;
    let port = i64::from(cluster.broker.port());
    ensure!(
        described["cluster_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
            && described["controller"] == 1
            && described["brokers"] == json!([{ "id": 1, "host": "127.0.0.1", "port": port }]),
        "{described}"
    );

    // Topic configs.
    let topic = unique_topic("configs");
    one_line(
        client,
        cluster,
        &topic,
        "create-topic",
        &[
            "--partitions",
            "2",
            "--config",
            "retention.ms=3600000",
            "--config",
            "cleanup.policy=compact",
        ],
    )?;
    let configs = one_line(client, cluster, &topic, "describe-configs", &[])?;
    let entry = |configs: &Value, name: &str| configs["configs"][name].clone();
    ensure!(
        entry(&configs, "retention.ms")
            == json!({"value": "3600000", "source": "DYNAMIC_TOPIC_CONFIG", "read_only": false, "sensitive": false, "synonyms": []})
            && entry(&configs, "segment.bytes")
                == json!({"value": "1073741824", "source": "DEFAULT_CONFIG", "read_only": false, "sensitive": false, "synonyms": []}),
        "{configs}"
    );
    let altered = one_line(
        client,
        cluster,
        &topic,
        "incremental-alter-configs",
        &[
            "--config",
            "max.message.bytes=2000000",
            "--delete-config",
            "retention.ms",
        ],
    )?;
    ensure!(
        altered
            == json!({"overrides": {"cleanup.policy": "compact", "max.message.bytes": "2000000"}}),
        "{altered}"
    );
    let alter = client.run(
        &cluster.bootstrap(),
        &topic,
        "alter-configs",
        &options(&["--config", "retention.ms=1000"]),
    )?;
    if version == KAFKA_CLIENTS_2_8 {
        let altered = integration_tests::json_lines(&alter.success()?)?;
        ensure!(
            altered == [json!({"overrides": {"retention.ms": "1000"}})],
            "AlterConfigs replaces the overrides: {altered:?}"
        );
    } else {
        ensure!(
            alter.stdout.contains("no Admin.alterConfigs"),
            "kafka-clients {version} has no Admin.alterConfigs: {alter:?}"
        );
    }
    let broker = one_line(client, cluster, "-", "describe-configs", &["--broker", "1"])?;
    ensure!(
        entry(&broker, "broker.id")
            == json!({"value": "1", "source": "STATIC_BROKER_CONFIG", "read_only": true, "sensitive": false, "synonyms": []}),
        "broker configs {broker}"
    );

    // Consumer-group administration.
    let topic = unique_topic("group-admin");
    let group = format!("{topic}-group");
    create_topic(&cluster.bootstrap(), &topic, 3)?;
    produce(&cluster.bootstrap(), &topic, 3, 10)?;
    group_consume(
        client,
        &cluster.bootstrap(),
        &topic,
        &group,
        &["--exit-after", "30"],
    )?;
    let group_args = |extra: &[&str]| {
        let mut args = vec!["--group", group.as_str()];
        args.extend_from_slice(extra);
        args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>()
    };
    let run = |mode: &str, extra: &[&str]| -> Result<Value> {
        let lines = client.run_ok(&cluster.bootstrap(), &topic, mode, &group_args(extra))?;
        lines
            .into_iter()
            .next()
            .with_context(|| format!("{mode} printed nothing"))
    };
    let listed = one_line(client, cluster, "-", "list-groups", &[])?;
    ensure!(
        listed["groups"]
            .as_array()
            .is_some_and(|g| g.contains(&json!({"group": group, "simple": false}))),
        "{listed}"
    );
    let described = run("describe-group", &[])?;
    ensure!(
        described["state"] == "Empty" && described["members"] == json!([]),
        "{described}"
    );
    ensure!(
        run("list-group-offsets", &[])? == json!({"offsets": {"0": 10, "1": 10, "2": 10}}),
        "offsets after consuming everything"
    );
    let altered = run(
        "alter-group-offsets",
        &["--partition", "1", "--offset", "3"],
    )?;
    ensure!(
        altered == json!({"offsets": {"0": 10, "1": 3, "2": 10}}),
        "{altered}"
    );
    run("delete-group-offsets", &["--partition", "2"])?;
    let left = run("list-group-offsets", &[])?;
    ensure!(left == json!({"offsets": {"0": 10, "1": 3}}), "{left}");
    // The group consumes again from what the admin client set.
    group_consume(
        client,
        &cluster.bootstrap(),
        &topic,
        &group,
        &["--exit-after", "17"],
    )?;
    ensure!(
        run("list-group-offsets", &[])? == json!({"offsets": {"0": 10, "1": 10, "2": 10}}),
        "offsets after consuming from the altered ones"
    );
    run("delete-group", &[])?;
    let listed = one_line(client, cluster, "-", "list-groups", &[])?;
    ensure!(
        !listed.to_string().contains(&group),
        "{group} still listed after its deletion: {listed}"
    );

    // A group made by the admin client alone (offsets, no members) is a
    // simple consumer group.
    let simple = format!("{topic}-simple");
    client.run_ok(
        &cluster.bootstrap(),
        &topic,
        "alter-group-offsets",
        &options(&["--group", &simple, "--partition", "0", "--offset", "5"]),
    )?;
    let listed = one_line(client, cluster, "-", "list-groups", &[])?;
    ensure!(
        listed["groups"]
            .as_array()
            .is_some_and(|g| g.contains(&json!({"group": simple, "simple": true}))),
        "{listed}"
    );
    Ok(())
}

#[test]
fn kafka_clients_2_8_admin() -> Result<()> {
    admin_suite(&group_broker()?, KAFKA_CLIENTS_2_8)
}

#[test]
fn kafka_clients_4_admin() -> Result<()> {
    admin_suite(&group_broker()?, KAFKA_CLIENTS_4)
}

/// Kafka 2.8.2 in gregor's place, configured as [`group_broker`]: the
/// yardstick the suites above are written against.
fn kafka_group_broker() -> Result<SingleBroker> {
    let cluster = group_broker_with(|c| c.kafka(KAFKA_2_8))?;
    cluster.wait_until_registered(Duration::from_secs(60))?;
    Ok(cluster)
}

/// Runs `suite` with both client lines on one [`kafka_group_broker`].
fn yardstick(suite: fn(&SingleBroker, &'static str) -> Result<()>) -> Result<()> {
    let cluster = kafka_group_broker()?;
    suite(&cluster, KAFKA_CLIENTS_2_8)?;
    suite(&cluster, KAFKA_CLIENTS_4)
}

#[test]
#[ignore = "the yardstick, run by hand: the same suite against Kafka 2.8.2"]
fn kafka_2_8_yardstick_produce_and_consume() -> Result<()> {
    yardstick(produce_and_consume_suite)
}

#[test]
#[ignore = "the yardstick, run by hand: the same suite against Kafka 2.8.2"]
fn kafka_2_8_yardstick_consumer_groups() -> Result<()> {
    yardstick(consumer_groups_suite)
}

#[test]
#[ignore = "the yardstick, run by hand: the same suite against Kafka 2.8.2"]
fn kafka_2_8_yardstick_admin() -> Result<()> {
    yardstick(admin_suite)
}
