//! The partition log: segments, indexes, recovery, retention.

pub mod config;

pub use config::LogConfig;
