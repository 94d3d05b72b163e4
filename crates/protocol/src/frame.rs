//! Size-prefixed framing: every request and response is an int32 length
//! followed by that many bytes. The broker refuses a frame longer than
//! `socket.request.max.bytes` before buffering it, as Kafka does, so a
//! client cannot make it allocate an arbitrary amount.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

/// Kafka's default `socket.request.max.bytes` (100 MiB).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 104_857_600;

/// Least room [`FrameDecoder::decode`] makes for a frame still arriving.
const MIN_RESERVE: usize = 64 * 1024;

/// Why a frame was refused. Either way the connection cannot continue.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("negative frame size {0}")]
    NegativeSize(i32),
    #[error("frame of {size} bytes is larger than socket.request.max.bytes ({max})")]
    TooLarge { size: usize, max: usize },
}

/// Splits frames off a connection's read buffer.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_size: usize,
}

impl FrameDecoder {
    /// A decoder refusing frames larger than `max_size` bytes
    /// (`socket.request.max.bytes`).
    pub fn new(max_size: usize) -> Self {
        FrameDecoder { max_size }
    }

    /// Takes the next complete frame (without its length prefix) off the
    /// front of `buf`, or returns `None` if more bytes are needed. The frame
    /// is split off without copying. The size is checked as soon as the
    /// prefix is in, so the caller never waits for an oversized frame.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = buf.get(..4) else {
            return Ok(None);
        };
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let size = usize::try_from(size).map_err(|_| FrameError::NegativeSize(size))?;
        if size > self.max_size {
            return Err(FrameError::TooLarge {
                size,
                max: self.max_size,
            });
        }
        if buf.len() < 4 + size {
            // Grow toward the frame geometrically rather than reserving what
            // the prefix claims: four bytes must not make us allocate up to
            // `max_size` for a frame that may never arrive.
            let missing = 4 + size - buf.len();
            buf.reserve(missing.min(buf.len().max(MIN_RESERVE)));
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(size).freeze()))
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

/// Appends one frame to `buf`: writes the body with `body`, then fills in
/// the length prefix in front of it.
pub fn write_frame<E>(
    buf: &mut BytesMut,
    body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<(), E> {
    let start = buf.len();
    buf.put_i32(0);
    body(buf)?;
    let len = (buf.len() - start - 4) as i32;
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_complete_frames_only() {
        let d = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 3, 1, 2][..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&[3, 0, 0, 0, 0]);
        assert_eq!(d.decode(&mut buf), Ok(Some(Bytes::from_static(&[1, 2, 3]))));
        assert_eq!(d.decode(&mut buf), Ok(Some(Bytes::new())));
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }

    #[test]
    fn refuses_bad_sizes() {
        let d = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 17][..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(FrameError::TooLarge { size: 17, max: 16 })
        );
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert_eq!(d.decode(&mut buf), Err(FrameError::NegativeSize(-2)));
    }

    #[test]
    fn size_prefix_alone_does_not_reserve_the_frame() {
        let d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        let mut buf = BytesMut::from(&(100_000_000i32).to_be_bytes()[..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert!(buf.capacity() <= 4 * MIN_RESERVE, "{}", buf.capacity());
        // A frame that does arrive still decodes.
        let mut buf = BytesMut::from(&(200_000i32).to_be_bytes()[..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&[7u8; 200_000]);
        assert_eq!(d.decode(&mut buf).unwrap().unwrap().len(), 200_000);
    }

    #[test]
    fn writes_length_prefix() {
        let mut buf = BytesMut::from(&b"x"[..]);
        write_frame::<()>(&mut buf, |b| {
            b.put_slice(b"abc");
            Ok(())
        })
        .unwrap();
        assert_eq!(&buf[..], b"x\0\0\0\x03abc");
    }
}
