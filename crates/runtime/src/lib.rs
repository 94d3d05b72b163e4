//! The async runtime conventions every gregor crate shares, each in one
//! place:
//!
//! - [`clock`]: time as an injected [`Clock`] (Kafka's `Time`): wall-clock
//!   milliseconds for timestamps and retention, a monotonic instant for
//!   intervals; [`SystemClock`] in production, [`ManualClock`] in unit
//!   tests that must control time.
//! - [`retry`] (feature `tokio`): the one retry loop, a fixed pause between
//!   attempts bounded by a number of attempts or a deadline, on tokio's
//!   timer so paused-time tests drive it.
//! - [`shutdown`] (feature `tokio`): the tree of cancellation tokens that
//!   stops background tasks cleanly, each owner stopping its own subtree in
//!   the order its shutdown needs.
//!
//! This crate must never depend on another gregor crate, on ZooKeeper or on
//! sockets: it is the bottom layer that all of them share. The clock builds
//! without tokio (`default-features = false`) for the synchronous log.

pub mod clock;
#[cfg(feature = "tokio")]
pub mod retry;
#[cfg(feature = "tokio")]
pub mod shutdown;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
#[cfg(feature = "tokio")]
pub use retry::{Backoff, Retries};
#[cfg(feature = "tokio")]
pub use shutdown::Shutdown;
