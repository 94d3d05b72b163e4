//! Kafka's 128-bit ids in their text form: 22 characters of URL-safe base64
//! without padding (`org.apache.kafka.common.Uuid`), used for topic ids and,
//! through [`generate_cluster_id`], for the cluster id.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Kafka UUID: 16 bytes shown as URL-safe unpadded base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid([u8; 16]);

/// A string that is not 22 characters of URL-safe base64 encoding 16 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Kafka UUID {0:?}: expected 16 bytes as URL-safe base64 without padding")]
pub struct InvalidUuid(pub String);

impl Uuid {
    /// The all-zero id, which Kafka reserves to mean "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// A random (version 4) id, as `Uuid.randomUuid()`. Like Kafka, it never
    /// returns the reserved ids nor one whose text starts with `-`, which
    /// command-line tools would take for an option.
    pub fn random() -> Uuid {
        loop {
            let candidate = Uuid(uuid::Uuid::new_v4().into_bytes());
            if !candidate.is_reserved() && !candidate.to_string().starts_with('-') {
                return candidate;
            }
        }
    }

    /// The raw 16 bytes (most significant first), as Kafka puts them on the wire.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub const fn from_bytes(bytes: [u8; 16]) -> Uuid {
        Uuid(bytes)
    }

    /// Kafka reserves the zero id and `METADATA_TOPIC_ID` (0, 1).
    fn is_reserved(&self) -> bool {
        let mut metadata_topic_id = [0; 16];
        metadata_topic_id[15] = 1;
        *self == Uuid::ZERO || self.0 == metadata_topic_id
    }
}

/// A new cluster id, as Kafka's `CoreUtils.generateUuidAsBase64`.
pub fn generate_cluster_id() -> String {
    Uuid::random().to_string()
}

/// The reserved all-zero id: a message field's default, meaning "no id".
impl Default for Uuid {
    fn default() -> Self {
        Uuid::ZERO
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl FromStr for Uuid {
    type Err = InvalidUuid;

    fn from_str(s: &str) -> Result<Uuid, InvalidUuid> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| InvalidUuid(s.to_owned()))?;
        bytes
            .try_into()
            .map(Uuid)
            .map_err(|_| InvalidUuid(s.to_owned()))
    }
}

impl Serialize for Uuid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Uuid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_is_22_url_safe_characters() {
        for _ in 0..1000 {
            let text = Uuid::random().to_string();
            assert_eq!(text.len(), 22);
            assert!(text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert!(!text.starts_with('-'));
        }
        assert_eq!(generate_cluster_id().len(), 22);
    }

    #[test]
    fn parses_kafka_text_and_round_trips() {
        // Kafka's Uuid.ZERO_UUID.toString and METADATA_TOPIC_ID.toString.
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        let metadata: Uuid = "AAAAAAAAAAAAAAAAAAAAAQ".parse().expect("valid id");
        assert!(metadata.is_reserved());
        let id = Uuid::random();
        assert_eq!(id.to_string().parse::<Uuid>(), Ok(id));
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "AAAA",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "AAAAAAAAAAAAAAAAAAAA+/",
            "AAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(bad.parse::<Uuid>().is_err(), "{bad}");
        }
    }
}
