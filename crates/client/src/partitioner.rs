//! Kafka's default partitioner (`DefaultPartitioner` of Kafka 2.4 to 3.2),
//! so that a keyed record lands on the same partition whichever client
//! produced it:
//!
//! - a record that names its partition goes there;
//! - a record with a key (an empty key included) goes to
//!   `toPositive(murmur2(key)) % partitions`, over all the topic's
//!   partitions, whether or not they have a leader right now;
//! - a record without a key sticks to one partition, chosen at random among
//!   those with a leader, until a new batch has to be started for it; the
//!   next partition is then chosen the same way (KIP-480's sticky
//!   partitioner: fuller batches than round robin, same spread over time).
//!
//! librdkafka's `murmur2_random` partitioner hashes keys the same way (its
//! default, `consistent_random`, uses CRC32 instead, and so lands keys
//! elsewhere).

use std::collections::HashMap;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// The seed of Kafka's `Utils.murmur2`.
const MURMUR2_SEED: u32 = 0x9747_b28c;

/// Kafka's `Utils.murmur2`: 32-bit MurmurHash2 with seed `0x9747b28c`,
/// reading the data as little-endian 4-byte words, returned as the Java
/// `int` Kafka computes.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    let mut h = MURMUR2_SEED ^ data.len() as u32;
    let mut words = data.chunks_exact(4);
    for word in &mut words {
        let mut k = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        // Java's switch falls through from the highest byte down.
        for (i, byte) in tail.iter().enumerate().rev() {
            h ^= u32::from(*byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which would
/// map `i32::MIN` to itself).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Kafka's default partitioner gives `key` in a topic of
/// `partitions` partitions (at least one).
pub fn partition_for_key(key: &[u8], partitions: usize) -> i32 {
    debug_assert!(partitions > 0);
    // A topic has at most i32::MAX partitions, so the result fits.
    (to_positive(murmur2(key)) as usize % partitions.max(1)) as i32
}

/// Kafka's `StickyPartitionCache`: the partition each topic's keyless
/// records currently go to.
#[derive(Debug)]
pub struct StickyPartitioner {
    sticky: HashMap<String, i32>,
    rng: SmallRng,
}

impl Default for StickyPartitioner {
    fn default() -> Self {
        Self::new()
    }
}

impl StickyPartitioner {
    pub fn new() -> Self {
        // Kafka draws from ThreadLocalRandom: seeded differently in every
        // producer.
        StickyPartitioner {
            sticky: HashMap::new(),
            rng: SmallRng::from_rng(&mut rand::rng()),
        }
    }

    /// A partitioner whose random choices are reproducible (tests).
    pub fn with_seed(seed: u64) -> Self {
        StickyPartitioner {
            sticky: HashMap::new(),
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The partition for `topic`'s next keyless record. `available` are the
    /// partitions with a leader; `partitions` (at least one) is the topic's
    /// partition count.
    pub fn partition(&mut self, topic: &str, partitions: usize, available: &[i32]) -> i32 {
        match self.sticky.get(topic) {
            Some(&p) if (p as usize) < partitions => p,
            _ => self.choose(topic, None, partitions, available),
        }
    }

    /// Kafka's `onNewBatch`: a keyless record for `previous` would have
    /// started a new batch there, so `topic` moves on to another partition
    /// (unless another record already moved it). Returns the new one.
    pub fn on_new_batch(
        &mut self,
        topic: &str,
        previous: i32,
        partitions: usize,
        available: &[i32],
    ) -> i32 {
        match self.sticky.get(topic) {
            Some(&p) if p != previous && (p as usize) < partitions => p,
            current => {
                let current = current.copied();
                self.choose(topic, current, partitions, available)
            }
        }
    }

    /// Kafka's `nextPartition`: a random available partition other than
    /// `current` when there is a choice, any partition when none has a
    /// leader.
    fn choose(
        &mut self,
        topic: &str,
        current: Option<i32>,
        partitions: usize,
        available: &[i32],
    ) -> i32 {
        let next = match available {
            // A topic has at most i32::MAX partitions.
            [] => self.rng.random_range(0..partitions.max(1)) as i32,
            [only] => *only,
            _ => loop {
                let candidate = available[self.rng.random_range(0..available.len())];
                if Some(candidate) != current {
                    break candidate;
                }
            },
        };
        self.sticky.insert(topic.to_owned(), next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's own vectors (`UtilsTest.testMurmur2`).
    #[test]
    fn murmur2_matches_kafkas_utils_test() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "{}", String::from_utf8_lossy(key));
        }
    }

    /// librdkafka's vectors (`unittest_murmur2` in `rdmurmur2.c`), checked
    /// there against the Java client: every tail length, and the empty key.
    #[test]
    fn murmur2_matches_librdkafkas_unit_test() {
        let short = b"1234";
        let long = b"PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: [(&[u8], u32); 11] = [
            (b"kafka", 0xd067cf64),
            (b"giberish123456789", 0x8f552b0c),
            (&short[..], 0x9fc97b14),
            (&short[1..], 0xe7c009ca),
            (&short[2..], 0x873930da),
            (&short[3..], 0x5a4b5ca1),
            (&long[..], 0x78424f1c),
            (&long[1..], 0x4a62b377),
            (&long[2..], 0xe0e4e09e),
            (&long[3..], 0x62b8b43f),
            (b"", 0x106e08d9),
        ];
        for (key, expected) in cases {
            assert_eq!(
                murmur2(key) as u32,
                expected,
                "{}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-973_932_308), -973_932_308 & 0x7fff_ffff);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn keyed_partition_is_positive_hash_modulo_partitions() {
        // murmur2("21") is negative: toPositive, not abs, decides.
        assert_eq!(
            partition_for_key(b"21", 6),
            (-973_932_308i32 & 0x7fff_ffff) % 6
        );
        assert_eq!(partition_for_key(b"21", 6), 0);
        // abs() would give 973932308 % 6 = 2.
        assert_ne!(partition_for_key(b"21", 6), 2);
        assert_eq!(partition_for_key(b"kafka", 1), 0);
        for n in 1..50 {
            let p = partition_for_key(b"foobar", n);
            assert!((0..n as i32).contains(&p));
        }
    }

    #[test]
    fn keyless_records_stick_until_a_new_batch() {
        let mut sticky = StickyPartitioner::with_seed(7);
        let available = [0, 1, 2, 3, 4, 5];
        let first = sticky.partition("t", 6, &available);
        for _ in 0..100 {
            assert_eq!(sticky.partition("t", 6, &available), first);
        }
        let second = sticky.on_new_batch("t", first, 6, &available);
        assert_ne!(second, first);
        assert_eq!(sticky.partition("t", 6, &available), second);
        // A stale notice (another record already moved on) changes nothing.
        assert_eq!(sticky.on_new_batch("t", first, 6, &available), second);
        // Topics are independent.
        let other = sticky.partition("u", 6, &available);
        sticky.on_new_batch("u", other, 6, &available);
        assert_eq!(sticky.partition("t", 6, &available), second);
    }

    #[test]
    fn keyless_records_go_to_partitions_with_a_leader() {
        let mut sticky = StickyPartitioner::with_seed(1);
        let available = [1, 4];
        let mut seen = Vec::new();
        let mut p = sticky.partition("t", 6, &available);
        for _ in 0..20 {
            assert!(available.contains(&p), "{p}");
            seen.push(p);
            p = sticky.on_new_batch("t", p, 6, &available);
        }
        // With two candidates, every switch alternates.
        assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
        // One candidate: always it.
        let mut sticky = StickyPartitioner::with_seed(1);
        assert_eq!(sticky.partition("t", 6, &[3]), 3);
        assert_eq!(sticky.on_new_batch("t", 3, 6, &[3]), 3);
    }

    #[test]
    fn keyless_records_spread_over_all_partitions_without_leaders() {
        let mut sticky = StickyPartitioner::with_seed(3);
        let mut seen = [false; 4];
        let mut p = sticky.partition("t", 4, &[]);
        for _ in 0..200 {
            seen[p as usize] = true;
            p = sticky.on_new_batch("t", p, 4, &[]);
        }
        assert_eq!(seen, [true; 4]);
    }

    #[test]
    fn a_topic_that_shrank_in_metadata_gets_a_valid_partition() {
        let mut sticky = StickyPartitioner::with_seed(5);
        let p = sticky.partition("t", 8, &[7]);
        assert_eq!(p, 7);
        let p = sticky.partition("t", 4, &[0, 1, 2, 3]);
        assert!((0..4).contains(&p), "{p}");
    }
}
