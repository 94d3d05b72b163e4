//! One task per connection. The task keeps reading while earlier requests
//! are being served, serves them one at a time in order, and writes the
//! responses in order — all from one poll loop over the socket halves and
//! the running handler, so a request costs no channel hop, no self-wake
//! and no thread switch beyond the socket readiness events themselves:
//!
//! * **reading**: frames are split off the read buffer with
//!   [`FrameDecoder`] (zero-copy: each frame is a `Bytes` slice of the read
//!   buffer) and queued, at most `queued.max.requests` deep; a full queue
//!   stops the reading (back-pressure);
//! * **processing**: the oldest queued request runs through [`dispatch`]
//!   while reading and writing go on; its response is encoded into a reused
//!   buffer;
//! * **writing**: every response produced while the previous write was in
//!   progress goes out in the next single vectored write.
//!
//! Kafka's per-connection ordering follows: response N is written before
//! response N+1, and request N's handler has finished before request N+1's
//! starts, so side effects (log appends) happen in request order too.
//!
//! Closing, as Kafka does: a frame size that is negative or above
//! `socket.request.max.bytes` closes the connection, as does an
//! undecodable header, an unknown or unimplemented API, an unsupported
//! version of an API other than ApiVersions, or an undecodable body; each
//! with a log line. The request being handled is never cancelled (its
//! response is still written); requests queued behind it are dropped. On
//! end of stream the requests already read are still served, as Kafka's
//! handlers finish requests of a connection that closed.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::pin;

use bytes::{Buf, Bytes, BytesMut};
use log::{debug, info, warn};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::dispatch::{dispatch, ConnectionInfo, DispatchError, Outcome, RequestHandler};
use gregor_protocol::FrameDecoder;

/// Per-connection limits, taken from the broker configuration.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `socket.request.max.bytes`, default 104857600 (100 MiB): the largest
    /// request frame accepted; a larger (or negative) size closes the
    /// connection before anything of the frame is buffered.
    pub socket_request_max_bytes: usize,
    /// `queued.max.requests`, default 500: requests read from this connection
    /// but not yet handled. When the queue is full the connection is not
    /// read until the processor catches up. (Kafka's queue is broker-wide;
    /// here each connection has its own.)
    pub queued_max_requests: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            socket_request_max_bytes: gregor_protocol::frame::DEFAULT_MAX_FRAME_SIZE,
            queued_max_requests: 500,
        }
    }
}

/// Responses encoded but not yet written, per connection (gregor's own
/// bound, no Kafka key: Kafka keeps one response in flight per connection).
/// A peer that stops reading stalls request handling once this many are
/// waiting, and reading once `queued.max.requests` more are queued.
pub const MAX_QUEUED_RESPONSES: usize = 64;

/// Most responses written by one vectored write (well under `IOV_MAX`).
pub const MAX_WRITE_BATCH: usize = 64;

/// The read buffer grows by this much when it is nearly full.
const READ_CHUNK: usize = 16 * 1024;
/// Below this much spare room the read buffer is grown before a read.
const MIN_READ_ROOM: usize = 1024;
/// Initial size of the buffer responses are encoded into; it is reused
/// once the responses written from it are dropped.
const ENCODE_CHUNK: usize = 8 * 1024;

/// Serves one connection until the peer closes it, a protocol error closes
/// it, or `shutdown` turns true (then the request being handled is finished
/// and its response written first).
pub async fn serve<H: RequestHandler>(
    mut stream: TcpStream,
    info: ConnectionInfo,
    handler: &H,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    // Kafka sets TCP_NODELAY on every accepted socket.
    if let Err(e) = stream.set_nodelay(true) {
        debug!("connection {} ({}): TCP_NODELAY: {e}", info.id, info.peer);
    }
    let (mut rd, mut wr) = stream.split();
    let decoder = FrameDecoder::new(limits.socket_request_max_bytes);
    let max_queued = limits.queued_max_requests.max(1);

    let mut read_buf = BytesMut::new();
    let mut queue: VecDeque<Bytes> = VecDeque::new();
    let mut pending: Vec<Bytes> = Vec::new();
    let mut out = Some(BytesMut::with_capacity(ENCODE_CHUNK));
    let mut current = pin!(None);
    let mut stop = pin!(signaled(&mut shutdown));

    // Keep reading from the socket.
    let mut read_open = true;
    // Keep starting queued requests.
    let mut serving = true;
    // The socket still takes writes.
    let mut write_ok = true;
    let mut stopped = false;

    loop {
        // Frames stay undecoded in the read buffer while the queue is full.
        if serving && queue.len() < max_queued {
            if let Err(e) = split_frames(&decoder, &mut read_buf, &mut queue, max_queued) {
                warn!(
                    "connection {} ({}) on {}: {e}; closing it",
                    info.id, info.peer, info.listener
                );
                (read_open, serving) = (false, false);
                queue.clear();
            }
        }
        if current.is_none() && serving && pending.len() < MAX_QUEUED_RESPONSES {
            if let Some(frame) = queue.pop_front() {
                let buf = out.take().expect("the encode buffer is back");
                current.set(Some(serve_one(handler, &info, frame, buf)));
            }
        }
        let busy = current.is_some();
        let to_write = write_ok && !pending.is_empty();
        if !read_open && !busy && !to_write && (queue.is_empty() || !serving) {
            break;
        }
        let can_read = read_open && queue.len() < max_queued;
        if can_read && read_buf.capacity() - read_buf.len() < MIN_READ_ROOM {
            read_buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            () = &mut stop, if !stopped => {
                stopped = true;
                read_open = false;
                serving = false;
                queue.clear();
            }
            (result, buf) = async { current.as_mut().as_pin_mut().unwrap().await }, if busy => {
                current.set(None);
                let mut buf = buf;
                match result {
                    Ok(Outcome::Respond) => {
                        let response = buf.split().freeze();
                        if write_ok {
                            pending.retain(|b| !b.is_empty());
                            pending.push(response);
                        }
                    }
                    Ok(Outcome::NoResponse) => {}
                    Ok(Outcome::Close) => {
                        debug!("connection {} ({}): closed by the request handler", info.id, info.peer);
                        (read_open, serving) = (false, false);
                        queue.clear();
                    }
                    Err(e) => {
                        warn!("connection {} ({}) on {}: {e}; closing it", info.id, info.peer, info.listener);
                        (read_open, serving) = (false, false);
                        queue.clear();
                    }
                }
                out = Some(buf);
            }
            written = write_all_vectored(&mut wr, &mut pending), if to_write => {
                pending.clear();
                if let Err(e) = written {
                    debug!("connection {} ({}): write failed: {e}", info.id, info.peer);
                    (read_open, serving, write_ok) = (false, false, false);
                    queue.clear();
                }
            }
            read = rd.read_buf(&mut read_buf), if can_read => match read {
                Ok(0) => {
                    if !read_buf.is_empty() {
                        info!(
                            "connection {} ({}) closed by the peer in the middle of a frame ({} bytes buffered)",
                            info.id, info.peer, read_buf.len()
                        );
                    }
                    read_open = false;
                }
                Ok(_) => {}
                Err(e) => {
                    debug!("connection {} ({}): read failed: {e}", info.id, info.peer);
                    read_open = false;
                }
            },
        }
    }
    debug!("connection {} ({}) closed", info.id, info.peer);
}

/// Moves complete frames from the front of `buf` to `queue` until the
/// queue holds `max` or no complete frame is left.
fn split_frames(
    decoder: &FrameDecoder,
    buf: &mut BytesMut,
    queue: &mut VecDeque<Bytes>,
    max: usize,
) -> Result<(), gregor_protocol::FrameError> {
    while queue.len() < max {
        match decoder.decode(buf)? {
            Some(frame) => queue.push_back(frame),
            None => break,
        }
    }
    Ok(())
}

/// [`dispatch`] owning its output buffer, so the connection can keep the
/// buffer while no request runs.
async fn serve_one<H: RequestHandler>(
    handler: &H,
    info: &ConnectionInfo,
    frame: Bytes,
    mut out: BytesMut,
) -> (Result<Outcome, DispatchError>, BytesMut) {
    let result = dispatch(handler, info, frame, &mut out).await;
    (result, out)
}

/// Resolves once `shutdown` is true, or its sender is gone.
async fn signaled(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Writes every buffer of `batch` in order with as few vectored writes as
/// the socket allows (one, unless it accepts only part of the batch).
/// Leaves `batch` consumed (each buffer advanced to its end).
pub(crate) async fn write_all_vectored<W: AsyncWrite + Unpin>(
    wr: &mut W,
    batch: &mut [Bytes],
) -> io::Result<()> {
    let mut first = 0;
    while first < batch.len() {
        if batch[first].is_empty() {
            first += 1;
            continue;
        }
        let mut written = {
            let mut slices = [IoSlice::new(&[]); MAX_WRITE_BATCH];
            let mut n = 0;
            for (slot, buf) in slices.iter_mut().zip(&batch[first..]) {
                *slot = IoSlice::new(buf);
                n += 1;
            }
            wr.write_vectored(&slices[..n]).await?
        };
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let buf = &mut batch[first];
            let take = written.min(buf.len());
            buf.advance(take);
            written -= take;
            if buf.is_empty() {
                first += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Records each write call; accepts at most `limit` bytes per call.
    struct Recorder {
        data: Vec<u8>,
        calls: usize,
        limit: usize,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.limit);
            self.calls += 1;
            self.data.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            let mut left = self.limit;
            for b in bufs {
                let n = b.len().min(left);
                self.data.extend_from_slice(&b[..n]);
                left -= n;
            }
            Poll::Ready(Ok(self.limit - left))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn batch() -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(b"defgh"),
            Bytes::from_static(b"i"),
        ]
    }

    #[tokio::test]
    async fn one_syscall_for_a_batch() {
        let mut w = Recorder {
            data: vec![],
            calls: 0,
            limit: usize::MAX,
        };
        write_all_vectored(&mut w, &mut batch()).await.unwrap();
        assert_eq!((&w.data[..], w.calls), (&b"abcdefghi"[..], 1));
    }

    #[tokio::test]
    async fn partial_writes_resume_in_order() {
        for limit in 1..10 {
            let mut w = Recorder {
                data: vec![],
                calls: 0,
                limit,
            };
            write_all_vectored(&mut w, &mut batch()).await.unwrap();
            assert_eq!(&w.data[..], b"abcdefghi", "limit {limit}");
            assert_eq!(w.calls, 9usize.div_ceil(limit), "limit {limit}");
        }
    }
}
