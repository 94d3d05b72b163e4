//! The Go clients against a real gregor broker: franz-go (kgo and kadm) and
//! IBM sarama (configured for Kafka 2.8), built from `clients/go/` by
//! `.ci/install-deps`, through the same matrix as the Python and JavaScript
//! clients (`integration_tests::client_matrix` and `group_matrix`): produce
//! and consume with acks all, 1 and 0, ListOffsets by timestamp, topic
//! administration, and consumer groups (members sharing partitions, a
//! leaving or crashing member's partitions resumed from its commits, a
//! restarted group resuming).
//!
//! Starting ZooKeeper and a broker costs more than most scenarios, so each
//! client runs every scenario against one broker, one after the other, and
//! its test reports each scenario that failed (scenarios use their own
//! topics and groups). The same runs against Kafka 2.8 are here too,
//! ignored: they are the reference to turn to when a Go client fails
//! against gregor.

use std::time::Instant;

use anyhow::{bail, Result};
use integration_tests::client_matrix::{
    admin_create_and_delete_topic_on, offsets_for_times_between_batches_on,
    offsets_for_times_inside_a_batch_on, produce_and_consume_on, ScriptClient, FRANZ_GO, SARAMA,
};
use integration_tests::group_matrix::{
    group_broker, group_broker_with, restart_resumes_at_committed_offsets_on,
    three_members_share_and_take_over_on, Departure,
};
use integration_tests::{SingleBroker, KAFKA_2_8};

type Scenario = fn(&SingleBroker, ScriptClient) -> Result<()>;

const SCENARIOS: &[(&str, Scenario)] = &[
    ("acks all produce and consume", |b, c| {
        produce_and_consume_on(b, c, -1)
    }),
    ("acks 1 produce and consume", |b, c| {
        produce_and_consume_on(b, c, 1)
    }),
    ("acks 0 records arrive", |b, c| {
        produce_and_consume_on(b, c, 0)
    }),
    (
        "offsets for times between batches",
        offsets_for_times_between_batches_on,
    ),
    (
        "offsets for times inside a batch",
        offsets_for_times_inside_a_batch_on,
    ),
    (
        "admin creates and deletes a topic",
        admin_create_and_delete_topic_on,
    ),
    ("three members share, one leaves", |b, c| {
        three_members_share_and_take_over_on(b, c, Departure::Leaves)
    }),
    ("three members share, one crashes", |b, c| {
        three_members_share_and_take_over_on(b, c, Departure::Crashes)
    }),
    (
        "a restarted group resumes at its commits",
        restart_resumes_at_committed_offsets_on,
    ),
];

/// Runs every scenario with `client` against `broker`; fails listing each
/// scenario that failed, with its error.
fn matrix(broker: &SingleBroker, client: ScriptClient) -> Result<()> {
    let mut failed = Vec::new();
    for (name, scenario) in SCENARIOS {
        let started = Instant::now();
        let outcome = scenario(broker, client);
        eprintln!(
            "{client:?} {name}: {} in {:.1?}",
            if outcome.is_ok() { "ok" } else { "FAILED" },
            started.elapsed()
        );
        if let Err(e) = outcome {
            failed.push(format!("{name}: {e:#}"));
        }
    }
    if !failed.is_empty() {
        bail!(
            "{client:?} failed {} of {} scenarios:\n{}",
            failed.len(),
            SCENARIOS.len(),
            failed.join("\n\n")
        );
    }
    Ok(())
}

#[test]
fn franz_go_against_gregor() -> Result<()> {
    matrix(&group_broker()?, FRANZ_GO)
}

#[test]
fn sarama_against_gregor() -> Result<()> {
    matrix(&group_broker()?, SARAMA)
}

#[test]
#[ignore = "the reference run against Kafka 2.8, for when a Go client fails against gregor"]
fn franz_go_against_kafka_2_8() -> Result<()> {
    matrix(&group_broker_with(|c| c.kafka(KAFKA_2_8))?, FRANZ_GO)
}

#[test]
#[ignore = "the reference run against Kafka 2.8, for when a Go client fails against gregor"]
fn sarama_against_kafka_2_8() -> Result<()> {
    matrix(&group_broker_with(|c| c.kafka(KAFKA_2_8))?, SARAMA)
}
