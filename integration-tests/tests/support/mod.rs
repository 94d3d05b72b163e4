//! Helpers shared by the ZooKeeper client tests; each test crate uses a subset.
#![allow(dead_code)]

pub(crate) mod zk;
