//! The socket server: listeners, connections and request dispatch.
//!
//! * [`listener`]: one acceptor task per `listeners` entry, the broker-wide
//!   `max.connections` limit, graceful shutdown ([`Server`]);
//! * [`connection`]: one task per connection that keeps reading while
//!   earlier requests are served, serves them in order and writes the
//!   responses in order with vectored writes;
//! * [`dispatch`]: the only place that maps an API key to a handler
//!   ([`RequestHandler`]), and the ApiVersions answer derived from it.
//!
//! ```ignore
//! let server = Server::start(config.server_config(), Arc::new(broker)).await?;
//! wait_for_shutdown_signal().await?;
//! server.shutdown().await;
//! ```
//!
//! # Place in the workspace
//! Built on `gregor-protocol` and tokio. It knows nothing of what a request
//! means: the broker implements [`RequestHandler`]. It must never depend on the
//! broker, the log, ZooKeeper or the client.

pub mod connection;
pub mod dispatch;
pub mod listener;

pub use connection::ConnectionLimits;
pub use dispatch::{ConnectionInfo, Reply, RequestContext, RequestHandler};
pub use listener::{BoundListener, BoundServer, Listener, Server, ServerConfig};

use tokio::signal::unix::{signal, SignalKind};

/// Resolves on the first SIGTERM or SIGINT, the signals Kafka's
/// `kafka-server-stop.sh` and Ctrl-C send for a graceful shutdown.
pub async fn wait_for_shutdown_signal() -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    log::info!("{name} received, shutting down");
    Ok(())
}
