//! kafkajs against a real gregor broker, same matrix as the Python clients
//! (scenarios in `integration_tests::client_matrix`).
//!
//! kafkajs's consumer has no manual assignment: it only consumes through
//! consumer groups. Reading one partition here goes through kafkajs's own
//! Cluster and Broker.fetch (the layer its consumer uses below the group
//! protocol), see `clients/js/kafkajs_client.js`; `consumer.subscribe`/`run`
//! is tested in `consumer_groups.rs`.

use anyhow::Result;
use integration_tests::client_matrix::{
    admin_create_and_delete_topic, offsets_for_times_between_batches,
    offsets_for_times_inside_a_batch, produce_and_consume, KAFKAJS,
};

#[test]
fn kafkajs_acks_0_records_arrive() -> Result<()> {
    produce_and_consume(KAFKAJS, 0)
}

#[test]
fn kafkajs_acks_1_produce_and_consume() -> Result<()> {
    produce_and_consume(KAFKAJS, 1)
}

#[test]
fn kafkajs_acks_all_produce_and_consume() -> Result<()> {
    produce_and_consume(KAFKAJS, -1)
}

#[test]
fn kafkajs_offsets_for_times_between_batches() -> Result<()> {
    offsets_for_times_between_batches(KAFKAJS)
}

#[test]
fn kafkajs_offsets_for_times_inside_a_batch() -> Result<()> {
    offsets_for_times_inside_a_batch(KAFKAJS)
}

#[test]
fn kafkajs_admin_creates_and_deletes_a_topic() -> Result<()> {
    admin_create_and_delete_topic(KAFKAJS)
}
