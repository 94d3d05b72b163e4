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
