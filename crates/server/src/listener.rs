//! The listeners: one TCP acceptor task per `listeners` entry, a broker-wide
//! `max.connections` limit, and graceful shutdown.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::{error, info, warn};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::connection::{serve, ConnectionLimits};
use super::dispatch::{ConnectionInfo, RequestHandler};

/// Pause after a failed `accept` (e.g. EMFILE) before trying again, so a
/// persistent error does not spin the acceptor.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// One entry of `listeners` / `advertised.listeners`: `NAME://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The listener name, upper-cased as Kafka normalises it (`PLAINTEXT`).
    pub name: String,
    /// Host name or IP address (IPv6 without brackets). Empty means every
    /// interface when binding; when advertised, Kafka substitutes the
    /// machine's canonical host name.
    pub host: String,
    /// TCP port; 0 binds an ephemeral port.
    pub port: u16,
}

/// Formats as Kafka writes endpoints into `/brokers/ids/<id>`:
/// `PLAINTEXT://127.0.0.1:9092`, `PLAINTEXT://[::1]:9092`.
impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.name, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.name, self.host, self.port)
        }
    }
}

/// What the socket server needs from the broker configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `listeners`, default `PLAINTEXT://:9092`: one acceptor per entry; an
    /// empty host binds every interface, port 0 an ephemeral port.
    pub listeners: Vec<Listener>,
    /// `socket.request.max.bytes` and `queued.max.requests`.
    pub limits: ConnectionLimits,
    /// `max.connections`, default `Int.MaxValue` (2147483647): open
    /// connections across all listeners. At the limit the acceptors stop
    /// accepting, as Kafka's do (`ConnectionQuotas.waitForConnectionSlot`):
    /// new connections wait in the kernel's accept backlog until one closes.
    pub max_connections: u32,
    /// How long [`Server::shutdown`] lets open connections finish their
    /// in-flight request and write its response before closing them anyway
    /// (gregor's own bound, no Kafka key). Default 30 s, Kafka's default
    /// `request.timeout.ms`.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    /// Kafka's defaults: `PLAINTEXT://:9092` and the default limits.
    fn default() -> Self {
        ServerConfig {
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: String::new(),
                port: 9092,
            }],
            limits: ConnectionLimits::default(),
            max_connections: i32::MAX as u32,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// A listener once bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundListener {
    /// The listener name (`PLAINTEXT`).
    pub name: String,
    /// The address actually bound (with the ephemeral port resolved).
    pub addr: SocketAddr,
}

/// The running socket server. Dropping it signals shutdown without waiting;
/// call [`Server::shutdown`] to wait for connections to finish.
#[derive(Debug)]
pub struct Server {
    bound: Vec<BoundListener>,
    shutdown: watch::Sender<bool>,
    acceptors: Vec<JoinHandle<()>>,
}

/// Listeners bound but not yet accepting. A broker binds first (to learn the
/// ports it registers in ZooKeeper) and serves only once registered, as
/// Kafka starts its request processors last; clients connecting meanwhile
/// wait in the kernel's accept backlog.
#[derive(Debug)]
pub struct BoundServer {
    config: ServerConfig,
    sockets: Vec<(BoundListener, TcpListener)>,
}

impl BoundServer {
    /// The bound listeners, in `listeners` order.
    pub fn listeners(&self) -> Vec<BoundListener> {
        self.sockets.iter().map(|(b, _)| b.clone()).collect()
    }

    /// Starts accepting; requests go to `handler`.
    pub fn serve<H: RequestHandler>(self, handler: Arc<H>) -> Server {
        let config = self.config;
        let (shutdown, _) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(config.max_connections as usize));
        let next_id = Arc::new(AtomicU64::new(0));
        let mut bound = Vec::with_capacity(self.sockets.len());
        let mut acceptors = Vec::with_capacity(self.sockets.len());
        for (b, socket) in self.sockets {
            let acceptor = Acceptor {
                name: b.name.as_str().into(),
                socket,
                handler: Arc::clone(&handler),
                limits: config.limits,
                max_connections: config.max_connections,
                slots: Arc::clone(&slots),
                next_id: Arc::clone(&next_id),
                shutdown: shutdown.subscribe(),
                shutdown_timeout: config.shutdown_timeout,
            };
            acceptors.push(tokio::spawn(acceptor.run()));
            bound.push(b);
        }
        Server {
            bound,
            shutdown,
            acceptors,
        }
    }
}

impl Server {
    /// Binds every listener (all or nothing) without accepting yet.
    pub async fn bind(config: ServerConfig) -> io::Result<BoundServer> {
        let mut sockets = Vec::with_capacity(config.listeners.len());
        for listener in &config.listeners {
            let socket = bind(listener).await.map_err(|e| {
                io::Error::new(e.kind(), format!("cannot bind listener {listener}: {e}"))
            })?;
            let addr = socket.local_addr()?;
            info!("listener {} bound to {addr}", listener.name);
            sockets.push((
                BoundListener {
                    name: listener.name.clone(),
                    addr,
                },
                socket,
            ));
        }
        Ok(BoundServer { config, sockets })
    }

    /// Binds every listener and starts accepting; requests go to `handler`.
    pub async fn start<H: RequestHandler>(
        config: ServerConfig,
        handler: Arc<H>,
    ) -> io::Result<Server> {
        Ok(Server::bind(config).await?.serve(handler))
    }

    /// The bound listeners, in `listeners` order.
    pub fn listeners(&self) -> &[BoundListener] {
        &self.bound
    }

    /// The bound address of the listener called `name`.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.bound.iter().find(|b| b.name == name).map(|b| b.addr)
    }

    /// Stops accepting on every listener and tells every connection to stop
    /// reading; returns at once. Connections finish their in-flight request.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Stops accepting, lets every connection finish its in-flight request
    /// and write its response, and returns once all connections are closed
    /// (after at most `shutdown_timeout`, when stragglers are cut off).
    pub async fn shutdown(mut self) {
        self.begin_shutdown();
        for acceptor in self.acceptors.drain(..) {
            if let Err(e) = acceptor.await {
                error!("listener task failed: {e}");
            }
        }
        info!("socket server stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Binds `listener`; an empty host means every interface (IPv6 dual stack
/// where available, else IPv4), as Kafka binds a wildcard address.
async fn bind(listener: &Listener) -> io::Result<TcpListener> {
    if listener.host.is_empty() {
        return match TcpListener::bind((Ipv6Addr::UNSPECIFIED, listener.port)).await {
            Ok(socket) => Ok(socket),
            Err(_) => TcpListener::bind((Ipv4Addr::UNSPECIFIED, listener.port)).await,
        };
    }
    let mut last = None;
    for addr in tokio::net::lookup_host((listener.host.as_str(), listener.port)).await? {
        match TcpListener::bind(addr).await {
            Ok(socket) => return Ok(socket),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host has no address")))
}

/// Resolves once `shutdown` is true, or the [`Server`] is gone.
async fn signaled(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// One listener's accept loop and the connections it started.
struct Acceptor<H> {
    name: Arc<str>,
    socket: TcpListener,
    handler: Arc<H>,
    limits: ConnectionLimits,
    max_connections: u32,
    /// `max.connections` permits, shared by all listeners.
    slots: Arc<Semaphore>,
    next_id: Arc<AtomicU64>,
    shutdown: watch::Receiver<bool>,
    shutdown_timeout: Duration,
}

impl<H: RequestHandler> Acceptor<H> {
    async fn run(self) {
        let mut connections = JoinSet::new();
        let mut stop_rx = self.shutdown.clone();
        let mut stop = std::pin::pin!(signaled(&mut stop_rx));
        loop {
            let permit = match Arc::clone(&self.slots).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    warn!(
                        "listener {}: max.connections ({}) reached; not accepting until a connection closes",
                        self.name, self.max_connections
                    );
                    tokio::select! {
                        biased;
                        () = &mut stop => break,
                        Some(done) = connections.join_next() => {
                            reap(done);
                            continue;
                        }
                        permit = Arc::clone(&self.slots).acquire_owned() => {
                            permit.expect("the connection semaphore is never closed")
                        }
                    }
                }
            };
            tokio::select! {
                biased;
                () = &mut stop => break,
                Some(done) = connections.join_next() => reap(done),
                accepted = self.socket.accept() => match accepted {
                    Ok((stream, peer)) => self.spawn(&mut connections, stream, peer, permit),
                    Err(e) => {
                        warn!("listener {}: accept failed: {e}", self.name);
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    }
                },
            }
        }
        drop(self.socket);
        info!(
            "listener {} stopped accepting; waiting for {} connections",
            self.name,
            connections.len()
        );
        let drain = async {
            while let Some(done) = connections.join_next().await {
                reap(done);
            }
        };
        if tokio::time::timeout(self.shutdown_timeout, drain)
            .await
            .is_err()
        {
            warn!(
                "listener {}: closing {} connections still open after {:?}",
                self.name,
                connections.len(),
                self.shutdown_timeout
            );
            connections.shutdown().await;
        }
    }

    fn spawn(
        &self,
        connections: &mut JoinSet<()>,
        stream: TcpStream,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
    ) {
        let info = ConnectionInfo {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            listener: Arc::clone(&self.name),
            peer,
        };
        log::debug!("listener {}: connection {} from {peer}", self.name, info.id);
        let handler = Arc::clone(&self.handler);
        let limits = self.limits;
        let shutdown = self.shutdown.clone();
        connections.spawn(async move {
            let _slot = permit;
            serve(stream, info, &*handler, limits, shutdown).await;
        });
    }
}

/// Logs a connection task that panicked (the panic stays in that task: one
/// bad request never takes the broker down).
fn reap(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            error!("connection task panicked: {e}");
        }
    }
}
