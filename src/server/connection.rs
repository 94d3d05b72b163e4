//! One task per connection, in three cooperating parts polled by that same
//! task (no channel hop to another thread per request):
//!
//! * the **reader** keeps reading while earlier requests are being served:
//!   it splits frames off its buffer with [`FrameDecoder`] (zero-copy: each
//!   frame is a `Bytes` slice of the read buffer) and queues them, at most
//!   `queued.max.requests` deep — a full queue stops the reading
//!   (back-pressure);
//! * the **processor** serves the queued requests one at a time, in order,
//!   through [`dispatch`], and encodes each response into a reused buffer;
//! * the **writer** writes the responses in order; every response queued
//!   while the previous write was in progress goes out in the next single
//!   vectored write.
//!
//! Kafka's per-connection ordering follows: response N is written before
//! response N+1, and request N's handler has finished before request N+1's
//! starts, so side effects (log appends) happen in request order too.
//!
//! Closing, as Kafka does: a frame size that is negative or above
//! `socket.request.max.bytes` closes the connection at once, as does an
//! undecodable header, an unknown or unimplemented API, an unsupported
//! version of an API other than ApiVersions, or an undecodable body; each
//! with a log line. The request being handled is never cancelled; requests
//! queued behind it are dropped. On end of stream the requests already read
//! are still served (their responses are lost if the peer is gone), as
//! Kafka's handlers finish requests of a connection that closed.

use std::io::{self, IoSlice};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Buf, Bytes, BytesMut};
use log::{debug, info, warn};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::dispatch::{dispatch, ConnectionInfo, Outcome, RequestHandler};
use crate::protocol::FrameDecoder;

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
            socket_request_max_bytes: crate::protocol::frame::DEFAULT_MAX_FRAME_SIZE,
            queued_max_requests: 500,
        }
    }
}

/// Responses encoded but not yet written, per connection (gregor's own
/// bound, no Kafka key: Kafka keeps one response in flight per connection).
/// A peer that stops reading stalls the processor once this many are
/// waiting, and the reader once `queued.max.requests` more are read.
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
    shutdown: watch::Receiver<bool>,
) {
    // Kafka sets TCP_NODELAY on every accepted socket.
    if let Err(e) = stream.set_nodelay(true) {
        debug!("connection {} ({}): TCP_NODELAY: {e}", info.id, info.peer);
    }
    let (mut rd, mut wr) = stream.split();
    let (req_tx, req_rx) = mpsc::channel(limits.queued_max_requests.max(1));
    let (resp_tx, resp_rx) = mpsc::channel(MAX_QUEUED_RESPONSES);
    // Set when the requests still queued must not be served (protocol
    // error or shutdown); the one being handled always finishes.
    let discard = AtomicBool::new(false);

    let reader = read_frames(
        &mut rd,
        req_tx,
        FrameDecoder::new(limits.socket_request_max_bytes),
        shutdown,
        &discard,
        &info,
    );
    let processor = process(handler, &info, req_rx, resp_tx, &discard);
    let front = async {
        let mut reader = pin!(reader);
        let mut processor = pin!(processor);
        tokio::select! {
            biased;
            // The processor stopped (a request closed the connection, or the
            // writer failed): stop reading.
            () = &mut processor => {}
            // The reader stopped (end of stream, bad frame, shutdown): the
            // processor finishes what it should, then stops.
            () = &mut reader => processor.await,
        }
    };
    let writer = write_responses(&mut wr, resp_rx);
    let ((), written) = tokio::join!(front, writer);
    if let Err(e) = written {
        debug!("connection {} ({}): write failed: {e}", info.id, info.peer);
    }
    debug!("connection {} ({}) closed", info.id, info.peer);
}

/// Resolves once `shutdown` is true, or its sender is gone.
async fn signaled(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn read_frames<R: AsyncRead + Unpin>(
    rd: &mut R,
    queue: mpsc::Sender<Bytes>,
    decoder: FrameDecoder,
    mut shutdown: watch::Receiver<bool>,
    discard: &AtomicBool,
    info: &ConnectionInfo,
) {
    let mut stop = pin!(signaled(&mut shutdown));
    let mut buf = BytesMut::new();
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    tokio::select! {
                        biased;
                        () = &mut stop => {
                            discard.store(true, Ordering::Relaxed);
                            return;
                        }
                        sent = queue.send(frame) => if sent.is_err() {
                            return;
                        },
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    warn!(
                        "connection {} ({}) on {}: {e}; closing it",
                        info.id, info.peer, info.listener
                    );
                    discard.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < MIN_READ_ROOM {
            buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            () = &mut stop => {
                discard.store(true, Ordering::Relaxed);
                return;
            }
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) => {
                    if !buf.is_empty() {
                        info!(
                            "connection {} ({}) closed by the peer in the middle of a frame ({} bytes buffered)",
                            info.id, info.peer, buf.len()
                        );
                    }
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    debug!("connection {} ({}): read failed: {e}", info.id, info.peer);
                    return;
                }
            },
        }
    }
}

async fn process<H: RequestHandler>(
    handler: &H,
    info: &ConnectionInfo,
    mut requests: mpsc::Receiver<Bytes>,
    responses: mpsc::Sender<Bytes>,
    discard: &AtomicBool,
) {
    let mut out = BytesMut::with_capacity(ENCODE_CHUNK);
    while let Some(frame) = requests.recv().await {
        if discard.load(Ordering::Relaxed) {
            break;
        }
        match dispatch(handler, info, frame, &mut out).await {
            Ok(Outcome::Respond) => {
                if responses.send(out.split().freeze()).await.is_err() {
                    break;
                }
            }
            Ok(Outcome::NoResponse) => {}
            Ok(Outcome::Close) => {
                debug!(
                    "connection {} ({}): closed by the request handler",
                    info.id, info.peer
                );
                break;
            }
            Err(e) => {
                warn!(
                    "connection {} ({}) on {}: {e}; closing it",
                    info.id, info.peer, info.listener
                );
                break;
            }
        }
    }
    discard.store(true, Ordering::Relaxed);
}

async fn write_responses<W: AsyncWrite + Unpin>(
    wr: &mut W,
    mut responses: mpsc::Receiver<Bytes>,
) -> io::Result<()> {
    let mut batch = Vec::with_capacity(MAX_WRITE_BATCH);
    while responses.recv_many(&mut batch, MAX_WRITE_BATCH).await > 0 {
        write_all_vectored(wr, &mut batch).await?;
        batch.clear();
    }
    wr.flush().await
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

    #[tokio::test]
    async fn writer_batches_queued_responses() {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_RESPONSES);
        for b in batch() {
            tx.send(b).await.unwrap();
        }
        drop(tx);
        let mut w = Recorder {
            data: vec![],
            calls: 0,
            limit: usize::MAX,
        };
        write_responses(&mut w, rx).await.unwrap();
        assert_eq!((&w.data[..], w.calls), (&b"abcdefghi"[..], 1));
    }
}
