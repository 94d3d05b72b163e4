//! aiokafka (asyncio, its own pure-Python protocol implementation) against
//! a real gregor broker: produce with every acks setting, consume by
//! assigned partition, ListOffsets by timestamp, topic administration
//! (scenarios in `integration_tests::client_matrix`), and consumer groups
//! (scenarios in `integration_tests::group_matrix`).

use anyhow::Result;
use integration_tests::client_matrix::{
    admin_create_and_delete_topic, offsets_for_times_between_batches,
    offsets_for_times_inside_a_batch, produce_and_consume, AIOKAFKA,
};
use integration_tests::group_matrix::{
    restart_resumes_at_committed_offsets, three_members_share_and_take_over, Departure,
};

#[test]
fn aiokafka_acks_0_records_arrive() -> Result<()> {
    produce_and_consume(AIOKAFKA, 0)
}

#[test]
fn aiokafka_acks_1_produce_and_consume() -> Result<()> {
    produce_and_consume(AIOKAFKA, 1)
}

#[test]
fn aiokafka_acks_all_produce_and_consume() -> Result<()> {
    produce_and_consume(AIOKAFKA, -1)
}

#[test]
fn aiokafka_offsets_for_times_between_batches() -> Result<()> {
    offsets_for_times_between_batches(AIOKAFKA)
}

#[test]
fn aiokafka_offsets_for_times_inside_a_batch() -> Result<()> {
    offsets_for_times_inside_a_batch(AIOKAFKA)
}

#[test]
fn aiokafka_admin_creates_and_deletes_a_topic() -> Result<()> {
    admin_create_and_delete_topic(AIOKAFKA)
}

#[test]
fn aiokafka_three_members_share_six_partitions_and_take_over() -> Result<()> {
    three_members_share_and_take_over(AIOKAFKA, Departure::Leaves)
}

#[test]
fn aiokafka_members_take_over_from_a_crashed_one() -> Result<()> {
    three_members_share_and_take_over(AIOKAFKA, Departure::Crashes)
}

#[test]
fn aiokafka_restarted_group_resumes_at_committed_offsets() -> Result<()> {
    restart_resumes_at_committed_offsets(AIOKAFKA)
}
