//! Sparse, memory-mapped segment indexes (Kafka's `OffsetIndex` and
//! `TimeIndex`).
//!
//! An index file is preallocated to `segment.index.bytes` so appends only
//! write into the mapping, and trimmed to its real entries when the segment
//! rolls or closes. After an unclean shutdown the file may still hold its
//! preallocated zeros; `is_sane` then fails and the segment rebuilds the index
//! from the log, as Kafka does: an index is never trusted over the log.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::error::{LogError, Result};

/// One fixed-size index entry.
pub trait IndexEntry: Copy + std::fmt::Debug {
    /// Bytes per entry on disk.
    const SIZE: usize;
    fn decode(bytes: &[u8]) -> Self;
    fn encode(&self, bytes: &mut [u8]);
    /// The value entries are sorted and searched by.
    fn key(&self) -> i64;
}

/// An offset index entry: the last offset of a batch (relative to the segment's
/// base offset) and the batch's byte position in the `.log` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPosition {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetPosition {
    const SIZE: usize = 8;
    fn decode(b: &[u8]) -> Self {
        OffsetPosition {
            relative_offset: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            position: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
    fn encode(&self, b: &mut [u8]) {
        b[..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        b[4..8].copy_from_slice(&self.position.to_be_bytes());
    }
    fn key(&self) -> i64 {
        i64::from(self.relative_offset)
    }
}

/// A time index entry: a maximum timestamp seen so far and the relative offset
/// of the record that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl IndexEntry for TimestampOffset {
    const SIZE: usize = 12;
    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        TimestampOffset {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
    fn encode(&self, b: &mut [u8]) {
        b[..8].copy_from_slice(&self.timestamp.to_be_bytes());
        b[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn key(&self) -> i64 {
        self.timestamp
    }
}

/// A memory-mapped index file of entries sorted by key.
pub struct Index<E: IndexEntry> {
    path: PathBuf,
    file: File,
    /// `None` while the file has zero length (an empty mapping is not portable).
    mmap: Option<MmapMut>,
    entries: usize,
    max_entries: usize,
    _entry: std::marker::PhantomData<E>,
}

pub type OffsetIndex = Index<OffsetPosition>;
pub type TimeIndex = Index<TimestampOffset>;

impl<E: IndexEntry> Index<E> {
    /// Opens (or creates) an index and preallocates it to `max_bytes`. The
    /// entries already in the file are taken to be its length divided by the
    /// entry size; check `is_sane` before trusting them.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(LogError::io(path))?;
        let len = file.metadata().map_err(LogError::io(path))?.len() as usize;
        let mut index = Index {
            path: path.to_path_buf(),
            file,
            mmap: None,
            entries: len / E::SIZE,
            max_entries: 0,
            _entry: std::marker::PhantomData,
        };
        index.resize(max_bytes.max(len as u64))?;
        Ok(index)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub fn is_full(&self) -> bool {
        self.entries >= self.max_entries
    }

    pub fn entry(&self, n: usize) -> Option<E> {
        if n >= self.entries {
            return None;
        }
        let map = self.mmap.as_ref()?;
        map.get(n * E::SIZE..(n + 1) * E::SIZE).map(E::decode)
    }

    pub fn last(&self) -> Option<E> {
        self.entries.checked_sub(1).and_then(|n| self.entry(n))
    }

    /// Appends an entry; the caller keeps keys increasing and rolls the
    /// segment before the index fills up.
    pub fn append(&mut self, entry: E) -> Result<()> {
        if self.is_full() {
            return Err(LogError::Corrupt {
                path: self.path.clone(),
                reason: format!("index full at {} entries", self.entries),
            });
        }
        let at = self.entries * E::SIZE;
        if let Some(map) = self.mmap.as_mut() {
            entry.encode(&mut map[at..at + E::SIZE]);
            self.entries += 1;
        }
        Ok(())
    }

    /// The last entry whose key is `<= key`, by binary search.
    pub fn floor(&self, key: i64) -> Option<E> {
        self.floor_by(|e| e.key() <= key)
    }

    /// The last entry for which `le` holds, given that `le` holds for a
    /// prefix of the entries (true … true false … false).
    pub fn floor_by(&self, le: impl Fn(&E) -> bool) -> Option<E> {
        let (mut lo, mut hi) = (0usize, self.entries);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid) {
                Some(e) if le(&e) => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo.checked_sub(1).and_then(|n| self.entry(n))
    }

    /// Drops every entry whose key is `>= key`.
    pub fn truncate_from(&mut self, key: i64) {
        self.pop_while(|e| e.key() >= key);
    }

    /// Drops entries from the end while `pred` holds for the last one.
    pub fn pop_while(&mut self, pred: impl Fn(&E) -> bool) {
        while self.last().is_some_and(|e| pred(&e)) {
            self.entries -= 1;
        }
    }

    pub fn clear(&mut self) {
        self.entries = 0;
    }

    /// Checks what Kafka's `sanityCheck` checks, and more: a whole number of
    /// entries, keys strictly increasing, every entry accepted by `valid`.
    pub fn is_sane(&self, valid: impl Fn(&E) -> bool) -> bool {
        let mut prev: Option<i64> = None;
        for n in 0..self.entries {
            let Some(e) = self.entry(n) else { return false };
            if prev.is_some_and(|p| e.key() <= p) || !valid(&e) {
                return false;
            }
            prev = Some(e.key());
        }
        true
    }

    /// Shrinks the file to its entries (on roll and on close), so a reopened
    /// index knows its length from the file size.
    pub fn trim(&mut self) -> Result<()> {
        self.resize((self.entries * E::SIZE) as u64)
    }

    /// Sets the file size (rounded down to whole entries) and remaps it.
    pub fn resize(&mut self, bytes: u64) -> Result<()> {
        let max_entries = (bytes as usize / E::SIZE).max(self.entries);
        // Unmap before changing the length: touching a mapping past the end of
        // its file faults.
        self.mmap = None;
        let len = (max_entries * E::SIZE) as u64;
        self.file.set_len(len).map_err(LogError::io(&self.path))?;
        if len > 0 {
            // SAFETY: the index file lives in this broker's own log directory
            // and is only ever resized through this struct, which dropped any
            // earlier mapping above; no other process is expected to truncate
            // it while we hold the mapping (Kafka relies on the same).
            #[allow(unsafe_code)]
            let map = unsafe { MmapMut::map_mut(&self.file) }.map_err(LogError::io(&self.path))?;
            self.mmap = Some(map);
        }
        self.max_entries = max_entries;
        Ok(())
    }

    /// Writes the mapped pages back to the file (on flush and close).
    pub fn flush(&self) -> Result<()> {
        match &self.mmap {
            Some(map) => map.flush().map_err(LogError::io(&self.path)),
            None => Ok(()),
        }
    }

    /// Trims and flushes; used before the index is dropped for good.
    pub fn close(&mut self) -> Result<()> {
        self.flush()?;
        self.trim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(o: u32, p: u32) -> OffsetPosition {
        OffsetPosition {
            relative_offset: o,
            position: p,
        }
    }

    #[test]
    fn preallocates_and_trims() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::open(&path, 800).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 800);
        idx.append(entry(3, 0)).unwrap();
        idx.append(entry(9, 4096)).unwrap();
        idx.close().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
        drop(idx);
        let idx = OffsetIndex::open(&path, 800).unwrap();
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.last(), Some(entry(9, 4096)));
    }

    #[test]
    fn full_index_refuses_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = OffsetIndex::open(&dir.path().join("0.index"), 16).unwrap();
        idx.append(entry(1, 0)).unwrap();
        idx.append(entry(2, 10)).unwrap();
        assert!(idx.is_full());
        assert!(idx.append(entry(3, 20)).is_err());
    }

    #[test]
    fn untrimmed_preallocated_file_is_not_sane() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::open(&path, 800).unwrap();
        idx.append(entry(3, 0)).unwrap();
        idx.flush().unwrap();
        drop(idx); // no trim: as after a crash
        let idx = OffsetIndex::open(&path, 800).unwrap();
        assert_eq!(idx.len(), 100);
        assert!(!idx.is_sane(|_| true));
    }

    #[test]
    fn time_index_entries_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = TimeIndex::open(&dir.path().join("0.timeindex"), 120).unwrap();
        let e = TimestampOffset {
            timestamp: -5,
            relative_offset: 7,
        };
        idx.append(e).unwrap();
        assert_eq!(idx.floor(0), Some(e));
        assert_eq!(idx.floor(-6), None);
    }

    proptest! {
        #[test]
        fn floor_agrees_with_linear_scan(
            keys in proptest::collection::btree_set(0u32..10_000, 0..200),
            probe in 0i64..10_100,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut idx = OffsetIndex::open(&dir.path().join("0.index"), 8 * 256).unwrap();
            for (n, k) in keys.iter().enumerate() {
                idx.append(entry(*k, n as u32)).unwrap();
            }
            let linear = keys.iter().enumerate().rev()
                .find(|(_, k)| i64::from(**k) <= probe)
                .map(|(n, k)| entry(*k, n as u32));
            prop_assert_eq!(idx.floor(probe), linear);
            idx.truncate_from(probe);
            prop_assert!(idx.last().is_none_or(|e| i64::from(e.relative_offset) < probe));
        }
    }
}
