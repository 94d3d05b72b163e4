//! The admin path: topic names, partition counts and replica assignment, as
//! Kafka's `AdminZkClient`/`AdminUtils` do them before a topic is written to
//! `/brokers/topics/<t>`.

mod assignment;
mod topic_name;

pub use assignment::{assign_replicas, AssignmentError};
pub use topic_name::{validate_topic_name, TopicNameError};
