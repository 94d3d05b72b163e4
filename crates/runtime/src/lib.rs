//! The async runtime conventions every async gregor crate shares, each in
//! one place:
//!
//! - the clock: [`Clock`] and its implementations, re-exported from
//!   `gregor-clock` (which the synchronous log uses directly, to stay free
//!   of tokio);
//! - [`retry`]: the one retry loop's policy, a fixed pause between attempts
//!   bounded by a number of attempts or a deadline, on tokio's timer so
//!   paused-time tests drive it;
//! - [`shutdown`]: the tree of cancellation tokens that stops background
//!   tasks cleanly, each owner stopping its own subtree in the order its
//!   shutdown needs.
//!
//! This crate must never depend on another gregor crate but `gregor-clock`,
//! on ZooKeeper or on sockets: it is the bottom layer the async crates
//! share.

pub mod retry;
pub mod shutdown;

#[cfg(feature = "test-util")]
pub use gregor_clock::ManualClock;
pub use gregor_clock::{Clock, SharedClock, SystemClock};
pub use retry::{Backoff, Retries};
pub use shutdown::Shutdown;
