//! confluent-kafka and kafka-python against a real gregor broker: produce
//! with every acks setting, consume by assigned partition, ListOffsets by
//! timestamp, and topic administration (scenarios in
//! `integration_tests::client_matrix`).

use anyhow::Result;
use integration_tests::client_matrix::{
    admin_create_and_delete_topic, offsets_for_times_between_batches,
    offsets_for_times_inside_a_batch, produce_and_consume, CONFLUENT_KAFKA, KAFKA_PYTHON,
};

#[test]
fn confluent_kafka_acks_0_records_arrive() -> Result<()> {
    produce_and_consume(CONFLUENT_KAFKA, 0)
}

#[test]
fn confluent_kafka_acks_1_produce_and_consume() -> Result<()> {
    produce_and_consume(CONFLUENT_KAFKA, 1)
}

#[test]
fn confluent_kafka_acks_all_produce_and_consume() -> Result<()> {
    produce_and_consume(CONFLUENT_KAFKA, -1)
}

#[test]
fn confluent_kafka_offsets_for_times_between_batches() -> Result<()> {
    offsets_for_times_between_batches(CONFLUENT_KAFKA)
}

#[test]
fn confluent_kafka_offsets_for_times_inside_a_batch() -> Result<()> {
    offsets_for_times_inside_a_batch(CONFLUENT_KAFKA)
}

#[test]
fn confluent_kafka_admin_creates_and_deletes_a_topic() -> Result<()> {
    admin_create_and_delete_topic(CONFLUENT_KAFKA)
}

#[test]
fn kafka_python_acks_0_records_arrive() -> Result<()> {
    produce_and_consume(KAFKA_PYTHON, 0)
}

#[test]
fn kafka_python_acks_1_produce_and_consume() -> Result<()> {
    produce_and_consume(KAFKA_PYTHON, 1)
}

#[test]
fn kafka_python_acks_all_produce_and_consume() -> Result<()> {
    produce_and_consume(KAFKA_PYTHON, -1)
}

#[test]
fn kafka_python_offsets_for_times_between_batches() -> Result<()> {
    offsets_for_times_between_batches(KAFKA_PYTHON)
}

#[test]
fn kafka_python_offsets_for_times_inside_a_batch() -> Result<()> {
    offsets_for_times_inside_a_batch(KAFKA_PYTHON)
}

#[test]
fn kafka_python_admin_creates_and_deletes_a_topic() -> Result<()> {
    admin_create_and_delete_topic(KAFKA_PYTHON)
}
