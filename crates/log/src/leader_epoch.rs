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

    /// Records that `epoch` started at `start_offset` (Kafka's `assign`):
    /// a new latest epoch, or the latest one starting earlier than recorded.
    /// Entries the new one contradicts — a later or equal epoch, or one
    /// starting at or after it — are dropped first, so epochs and start
    /// offsets keep increasing together. Returns whether the cache changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool> {
        if epoch < 0 || start_offset < 0 {
            return Ok(false);
        }
        let needed = self
            .entries
            .last()
            .is_none_or(|last| last.epoch != epoch || start_offset < last.start_offset);
        if !needed {
            return Ok(false);
        }
        while self
            .entries
            .last()
            .is_some_and(|e| e.epoch >= epoch || e.start_offset >= start_offset)
        {
            self.entries.pop();
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        self.flush()?;
        Ok(true)
    }

    /// Where `requested` ends in this log, and the largest epoch at or below
    /// it that the log knows (Kafka's `endOffsetFor`): the answer to
    /// OffsetForLeaderEpoch. The latest epoch ends at `log_end`; an older
    /// one where the next known epoch starts. An epoch older than every
    /// known one ends where the first known starts (what came before is
    /// gone from the log), answered with the requested epoch itself. `None`
    /// (Kafka's UNDEFINED_EPOCH_OFFSET) for an undefined (negative) epoch
    /// or one newer than every known epoch.
    pub fn end_offset_for(&self, requested: i32, log_end: i64) -> Option<(i32, i64)> {
        if requested < 0 {
            return None;
        }
        if self.latest_epoch() == Some(requested) {
            return Some((requested, log_end));
        }
        let higher = self.entries.iter().position(|e| e.epoch > requested)?;
        let epoch = match higher.checked_sub(1) {
            Some(floor) => self.entries[floor].epoch,
            None => requested,
        };
        Some((epoch, self.entries[higher].start_offset))
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
        assert_eq!(cache.end_offset_for(5, 50), Some((5, 50)));
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

    #[test]
    fn end_offsets_outside_the_known_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(cache.end_offset_for(0, 0), None, "nothing known");
        cache.assign(3, 10).unwrap();
        cache.assign(6, 20).unwrap();
        // Older than every known epoch: it ends where the first one starts.
        assert_eq!(cache.end_offset_for(1, 50), Some((1, 10)));
        // Newer than the latest, or undefined: unknown.
        assert_eq!(cache.end_offset_for(7, 50), None);
        assert_eq!(cache.end_offset_for(-1, 50), None);
    }

    #[test]
    fn a_new_entry_replaces_those_it_contradicts() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = LeaderEpochCache::load(dir.path()).unwrap();
        let entries = |c: &LeaderEpochCache| -> Vec<(i32, i64)> {
            c.entries()
                .iter()
                .map(|e| (e.epoch, e.start_offset))
                .collect()
        };
        cache.assign(1, 0).unwrap();
        cache.assign(2, 5).unwrap();
        // A leader of epoch 3 from offset 5: epoch 2 wrote nothing.
        assert!(cache.assign(3, 5).unwrap());
        assert_eq!(entries(&cache), [(1, 0), (3, 5)]);
        // The latest epoch found to start earlier moves back.
        assert!(cache.assign(3, 4).unwrap());
        assert_eq!(entries(&cache), [(1, 0), (3, 4)]);
        // An older epoch replaces every entry from its epoch on.
        assert!(cache.assign(2, 6).unwrap());
        assert_eq!(entries(&cache), [(1, 0), (2, 6)]);
        assert!(!cache.assign(-1, 7).unwrap());
        let reloaded = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(entries(&reloaded), [(1, 0), (2, 6)]);
    }
}
