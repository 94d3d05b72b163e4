//! Request handlers, one module per API. The server's dispatch table calls
//! them; each turns a decoded request into a response body, mapping every
//! failure to the Kafka error code a client expects.

mod alter_configs;
mod by_topic;
mod client_partitions;
mod controlled_shutdown;
mod controller_requests;
mod create_topics;
mod delete_groups;
mod describe_configs;
mod describe_groups;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod init_producer_id;
mod join_group;
mod leader_and_isr;
mod leave_group;
mod list_groups;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod stop_replica;
mod sync_group;
mod update_metadata;
