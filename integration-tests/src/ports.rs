//! Free loopback ports for servers started by tests.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, Result};

/// Every port this test process has handed out. Tests in one binary run in
/// parallel threads; a port released by `free_port` may be returned by the
/// kernel again before the first server has bound it, so a port is never
/// handed out twice. (Across processes the kernel's randomised choice of
/// ephemeral ports makes a collision unlikely; it is not excluded.)
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port on 127.0.0.1 that nothing listens on now and that no other caller
/// in this process has been given. Binds port 0, reads the port the kernel
/// chose and releases it for the server that will use it.
pub fn free_port() -> Result<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .context("binding 127.0.0.1:0 to find a free port")?
            .port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
}

/// The lowest port a search below the kernel's ephemeral range starts from.
const BELOW_EPHEMERAL_FLOOR: u16 = 10_000;

/// Like [`free_port`], but below the kernel's ephemeral port range, for a
/// server that clients try to reach before it listens (a ZooKeeper started
/// after its brokers). A client connecting over and over to an
/// ephemeral-range port nobody listens on is, now and then, given that very
/// port as its own end and connects to itself (TCP simultaneous open); it
/// then holds the port, and the server cannot bind it.
pub(crate) fn free_port_below_ephemeral_range() -> Result<u16> {
    let ceiling = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    anyhow::ensure!(
        ceiling > BELOW_EPHEMERAL_FLOOR,
        "the ephemeral port range starts at {ceiling}: no room below it"
    );
    let span = u32::from(ceiling - BELOW_EPHEMERAL_FLOOR);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    // Processes start their search at different places, so that test
    // binaries running side by side rarely try the same ports.
    let start = std::process::id() % span;
    for step in 0..span {
        let port = BELOW_EPHEMERAL_FLOOR + ((start + step) % span) as u16;
        if !handed_out.contains(&port) && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            handed_out.insert(port);
            return Ok(port);
        }
    }
    anyhow::bail!("no free port between {BELOW_EPHEMERAL_FLOOR} and {ceiling}")
}
