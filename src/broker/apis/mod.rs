//! Request handlers, one module per API. The server's dispatch table calls
//! them; each turns a decoded request into a response body, mapping every
//! failure to the Kafka error code a client expects.

mod client_partitions;
mod controlled_shutdown;
mod controller_requests;
mod create_topics;
mod describe_configs;
mod fetch;
mod init_producer_id;
mod leader_and_isr;
mod list_offsets;
mod metadata;
mod offset_for_leader_epoch;
mod produce;
mod stop_replica;
mod update_metadata;
