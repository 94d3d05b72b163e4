//! The key → latest offset map of the dirty part of a log (Kafka's
//! `OffsetMap`, `SkimpyOffsetMap` there).
//!
//! Kafka stores a fixed-size MD5 of each key in a preallocated buffer of
//! `log.cleaner.dedupe.buffer.size` bytes (divided among the cleaner
//! threads). This map keeps the keys themselves, so two keys can never be
//! mistaken for each other, and grows only with what it holds; it refuses
//! new keys once its estimated size would pass the same budget. It is
//! emptied, and its memory given back, after each cleaning.

use std::collections::HashMap;

/// Estimated bytes an entry costs besides its key: the boxed key's pointer
/// and length, the offset, the hash table's control byte and spare slots,
/// and the allocator's overhead for the key.
pub(super) const ENTRY_OVERHEAD: usize = 48;

/// The latest offset of every key seen, within a byte budget.
pub(super) struct OffsetMap {
    offsets: HashMap<Box<[u8]>, i64>,
    /// Estimated bytes the entries take.
    used: usize,
    /// `log.cleaner.dedupe.buffer.size` / `log.cleaner.threads`.
    capacity: usize,
}

impl OffsetMap {
    pub(super) fn new(capacity: usize) -> Self {
        OffsetMap {
            offsets: HashMap::new(),
            used: 0,
            capacity,
        }
    }

    /// Records `offset` as the latest of `key`. Returns `false`, changing
    /// nothing, when `key` is new and would not fit in the budget.
    pub(super) fn put(&mut self, key: &[u8], offset: i64) -> bool {
        if let Some(latest) = self.offsets.get_mut(key) {
            *latest = offset;
            return true;
        }
        let cost = key.len() + ENTRY_OVERHEAD;
        if self.used + cost > self.capacity {
            return false;
        }
        self.used += cost;
        self.offsets.insert(key.into(), offset);
        true
    }

    /// The latest offset recorded for `key`.
    pub(super) fn get(&self, key: &[u8]) -> Option<i64> {
        self.offsets.get(key).copied()
    }

    pub(super) fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Forgets every key and frees the memory they took.
    pub(super) fn clear(&mut self) {
        self.offsets = HashMap::new();
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_offset_of_each_key() {
        let mut map = OffsetMap::new(1 << 20);
        assert!(map.put(b"a", 1));
        assert!(map.put(b"b", 2));
        assert!(map.put(b"a", 7));
        assert_eq!(
            (map.get(b"a"), map.get(b"b"), map.get(b"c")),
            (Some(7), Some(2), None)
        );
        assert_eq!(map.len(), 2);
        map.clear();
        assert_eq!((map.len(), map.get(b"a")), (0, None));
    }

    #[test]
    fn refuses_new_keys_past_its_budget_but_updates_known_ones() {
        let mut map = OffsetMap::new(2 * (ENTRY_OVERHEAD + 1));
        assert!(map.put(b"a", 0));
        assert!(map.put(b"b", 1));
        assert!(!map.put(b"c", 2));
        assert_eq!(map.get(b"c"), None);
        assert!(map.put(b"a", 3));
        assert_eq!(map.get(b"a"), Some(3));
        map.clear();
        assert!(map.put(b"c", 4));
    }
}
