//! The replica manager (Kafka's `ReplicaManager`): the partitions this broker
//! hosts, and the produce, fetch and list-offsets operations on them.
//!
//! Today every hosted partition is led by this broker with a single replica,
//! so the high watermark follows the log end offset; followers, the ISR and
//! delayed acks=all produce arrive with replication.

mod error;
mod manager;
mod partition;

pub use error::ReplicaError;
pub use manager::{FetchPartition, PartitionData, ReplicaManager};
pub use partition::Partition;
