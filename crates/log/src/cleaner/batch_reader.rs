//! Sequential reads of the batches of an inactive segment, through a
//! buffer of `log.cleaner.io.buffer.size` bytes and without the log's lock:
//! the segment's file is only read at positions below the size it had when
//! the range was taken, which nothing rewrites in place.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

use gregor_record::{parse_batch, BatchHeader, HEADER_LEN, LOG_OVERHEAD};

use super::super::error::{LogError, Result};
use super::super::segment::FileRange;

/// `Read` over a byte range of a shared file, by positional reads.
struct RangeReader {
    file: Arc<File>,
    position: u64,
    end: u64,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.position).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let n = self.file.read_at(&mut buf[..want], self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

/// Iterates over the batches of a segment range, each validated (length,
/// magic, CRC). A torn or corrupt batch is an error: an inactive segment
/// has been recovered, so it holds only whole, valid batches.
pub(super) struct BatchReader {
    reader: BufReader<RangeReader>,
    range: FileRange,
    /// Where the next batch starts, relative to the file.
    position: u64,
    failed: bool,
}

impl BatchReader {
    pub(super) fn new(range: &FileRange, buffer_size: usize) -> Self {
        let source = RangeReader {
            file: Arc::clone(&range.file),
            position: range.position,
            end: range.position + range.len,
        };
        BatchReader {
            reader: BufReader::with_capacity(buffer_size, source),
            range: range.clone(),
            position: range.position,
            failed: false,
        }
    }

    fn corrupt(&self, reason: &str) -> LogError {
        LogError::Corrupt {
            path: self.range.path.to_path_buf(),
            reason: format!("batch at {}: {reason}", self.position),
        }
    }

    fn read_batch(&mut self) -> Result<(BatchHeader, Bytes)> {
        let left = self.range.position + self.range.len - self.position;
        if left < HEADER_LEN as u64 {
            return Err(self.corrupt("truncated"));
        }
        let mut overhead = [0u8; LOG_OVERHEAD];
        let io = LogError::io(self.range.path.to_path_buf());
        self.reader.read_exact(&mut overhead).map_err(io)?;
        let length = i32::from_be_bytes([overhead[8], overhead[9], overhead[10], overhead[11]]);
        let total = u64::try_from(length)
            .map(|l| l + LOG_OVERHEAD as u64)
            .map_err(|_| self.corrupt("negative length"))?;
        if total > left {
            return Err(self.corrupt("runs past the end of the segment"));
        }
        let mut batch = vec![0u8; total as usize];
        batch[..LOG_OVERHEAD].copy_from_slice(&overhead);
        let io = LogError::io(self.range.path.to_path_buf());
        self.reader
            .read_exact(&mut batch[LOG_OVERHEAD..])
            .map_err(io)?;
        let (header, _) = parse_batch(&batch)?;
        self.position += total;
        Ok((header, Bytes::from(batch)))
    }
}

impl Iterator for BatchReader {
    type Item = Result<(BatchHeader, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.position >= self.range.position + self.range.len {
            return None;
        }
        let batch = self.read_batch();
        self.failed = batch.is_err();
        Some(batch)
    }
}
