//! The leader epoch cache (Kafka's `LeaderEpochFileCache`): for each leader
//! epoch, the first offset written in it. Followers and returning leaders use
//! it (through OffsetForLeaderEpoch) to find where their log diverged from the
//! current leader's, instead of trusting their high watermark (KIP-101).

use std::path::{Path, PathBuf};

use super::checkpoint::{self, EpochEntry, LEADER_EPOCH_CHECKPOINT};
use super::error::Result;

pub struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Loads `leader-epoch-checkpoint` from a partition directory.
    pub fn load(partition_dir: &Path) -> Result<Self> {
        let path = partition_dir.join(LEADER_EPOCH_CHECKPOINT);
        let entries = checkpoint::read(&path)?;
        Ok(LeaderEpochCache { path, entries })
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Records that `epoch` started at `start_offset`, if it is newer than the
    /// latest known epoch. Returns whether the cache changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool> {
        if epoch < 0 || self.latest_epoch().is_some_and(|e| e >= epoch) {
            return Ok(false);
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        self.flush()?;
        Ok(true)
    }

    /// The end offset of `epoch` as seen by this log, and the largest epoch
    /// `<= epoch` it knows: the answer to OffsetForLeaderEpoch. `log_end` is
    /// the answer for the latest epoch.
    pub fn end_offset_for(&self, epoch: i32, log_end: i64) -> Option<(i32, i64)> {
        let idx = self.entries.iter().rposition(|e| e.epoch <= epoch)?;
        let end = self
            .entries
            .get(idx + 1)
            .map_or(log_end, |next| next.start_offset);
        Some((self.entries[idx].epoch, end))
    }

    /// Forgets epochs that start at or after `offset` (log truncated from the
    /// back).
    pub fn truncate_from_end(&mut self, offset: i64) -> Result<()> {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < offset);
        if self.entries.len() != before {
            self.flush()?;
        }
        Ok(())
    }

    /// Moves the first epoch's start up to the new log start offset (log
    /// truncated from the front), dropping epochs wholly before it.
    pub fn truncate_from_start(&mut self, offset: i64) -> Result<()> {
        let keep_from = self.entries.iter().rposition(|e| e.start_offset <= offset);
        let Some(idx) = keep_from else { return Ok(()) };
        if idx == 0 && self.entries[0].start_offset == offset {
            return Ok(());
        }
        self.entries.drain(..idx);
        self.entries[0].start_offset = offset;
        self.flush()
    }

    pub fn clear(&mut self) -> Result<()> {
        self.entries.clear();
        self.flush()
    }

    fn flush(&self) -> Result<()> {
        checkpoint::write(&self.path, &self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_lookup_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = LeaderEpochCache::load(dir.path()).unwrap();
        assert!(cache.assign(0, 0).unwrap());
        assert!(!cache.assign(0, 5).unwrap());
        assert!(cache.assign(2, 10).unwrap());
        assert!(cache.assign(5, 30).unwrap());
        assert_eq!(cache.end_offset_for(0, 50), Some((0, 10)));
        assert_eq!(cache.end_offset_for(1, 50), Some((0, 10)));
        assert_eq!(cache.end_offset_for(2, 50), Some((2, 30)));
        assert_eq!(cache.end_offset_for(9, 50), Some((5, 50)));
        cache.truncate_from_end(30).unwrap();
        assert_eq!(cache.latest_epoch(), Some(2));
        cache.truncate_from_start(12).unwrap();
        assert_eq!(
            cache.entries(),
            &[EpochEntry {
                epoch: 2,
                start_offset: 12
            }]
        );
        let reloaded = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(reloaded.entries(), cache.entries());
    }
}
