//! Which `__consumer_offsets` partition holds a group: Kafka's
//! `GroupMetadataManager.partitionFor`, `Utils.abs(groupId.hashCode) % N`,
//! bit for bit, so that gregor and Kafka place every group alike and tools
//! reading the topic find a group where Kafka would have put it.

/// Kafka's internal topic of committed offsets and group metadata.
pub const GROUP_METADATA_TOPIC_NAME: &str = "__consumer_offsets";

/// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over the
/// string's UTF-16 code units, in wrapping 32-bit arithmetic.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The partition of `__consumer_offsets` (of `partitions` partitions, at
/// least 1) that coordinates `group_id`. Kafka's `Utils.abs` maps
/// `Integer.MIN_VALUE` to 0 instead of overflowing.
pub fn partition_for(group_id: &str, partitions: u32) -> i32 {
    let hash = java_string_hash(group_id);
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    // i32::MAX partitions at most: the count comes from an i32 config.
    abs % i32::try_from(partitions.max(1)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_java() {
        // Java's "...".hashCode() of each.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("Aa"), 2112);
        assert_eq!(java_string_hash("BB"), 2112);
        assert_eq!(java_string_hash("console-consumer-12345"), 158_455_506);
        // A character outside the BMP counts as its two surrogates.
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn partition_uses_kafkas_abs() {
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        assert_eq!(
            partition_for("console-consumer-12345", 50),
            158_455_506 % 50
        );
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("anything", 1), 0);
        assert_eq!(partition_for("anything", 0), 0);
    }
}
