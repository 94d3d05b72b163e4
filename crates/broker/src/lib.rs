//! The broker: Kafka's `KafkaServer` and everything it runs behind the socket
//! server.
//!
//! Owns the request handlers ([`broker`]), the replica manager and follower
//! fetchers ([`replica`]), the group coordinator ([`coordinator`]), the
//! controller ([`controller`]), the metadata cache ([`metadata`]), topic
//! administration ([`admin`]) and the broker's configuration ([`config`]).
//! It builds on every lower crate (protocol, record, log, zk, server, client)
//! and nothing depends on it but the `gregor` binary and the tests. See
//! `docs/ARCHITECTURE.md` for the crate map.

pub mod admin;
pub mod broker;
pub mod config;
pub mod controller;
pub mod coordinator;
pub mod metadata;
pub mod replica;
