//! Kafka's text checkpoint files, written atomically (temp file, fsync,
//! rename) so a crash leaves either the old or the new version:
//!
//! ```text
//! 0                <- format version
//! 2                <- number of entries
//! my-topic 0 1234  <- one entry per line
//! my-topic 1 99
//! ```
//!
//! Used for `recovery-point-offset-checkpoint`,
//! `replication-offset-checkpoint`, `log-start-offset-checkpoint` and
//! `cleaner-offset-checkpoint` (entries
//! `topic partition offset`) in each log dir, and `leader-epoch-checkpoint`
//! (entries `epoch start_offset`) in each partition dir. Also `meta.properties`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use gregor_protocol::TopicPartition;

use super::error::{LogError, Result};

pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
pub const REPLICATION_CHECKPOINT: &str = "replication-offset-checkpoint";
pub const LOG_START_CHECKPOINT: &str = "log-start-offset-checkpoint";
pub const CLEANER_CHECKPOINT: &str = "cleaner-offset-checkpoint";
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
pub const META_PROPERTIES: &str = "meta.properties";
pub const PARTITION_METADATA: &str = "partition.metadata";

/// The only checkpoint format version Kafka has written so far.
const VERSION: u32 = 0;

/// One line of a checkpoint file.
pub trait CheckpointEntry: Sized {
    fn format(&self) -> String;
    fn parse(line: &str) -> Option<Self>;
}

impl CheckpointEntry for (TopicPartition, i64) {
    fn format(&self) -> String {
        format!("{} {} {}", self.0.topic, self.0.partition, self.1)
    }
    fn parse(line: &str) -> Option<Self> {
        let mut parts = line.split(' ');
        let topic = parts.next()?;
        let partition = parts.next()?.parse().ok()?;
        let offset = parts.next()?.parse().ok()?;
        parts
            .next()
            .is_none()
            .then(|| (TopicPartition::new(topic, partition), offset))
    }
}

/// A leader epoch and the first offset written in it (KIP-101).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

impl CheckpointEntry for EpochEntry {
    fn format(&self) -> String {
        format!("{} {}", self.epoch, self.start_offset)
    }
    fn parse(line: &str) -> Option<Self> {
        let (epoch, offset) = line.split_once(' ')?;
        Some(EpochEntry {
            epoch: epoch.parse().ok()?,
            start_offset: offset.parse().ok()?,
        })
    }
}

/// Reads a checkpoint; a missing file is an empty checkpoint, a malformed one
/// an error naming the file.
pub fn read<E: CheckpointEntry>(path: &Path) -> Result<Vec<E>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LogError::io(path)(e)),
    };
    let corrupt = |reason: &str| LogError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    // Kafka creates its checkpoint files empty before it first writes
    // them: an empty file is an empty checkpoint.
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut lines = text.lines();
    let version: u32 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| corrupt("missing version line"))?;
    if version != VERSION {
        return Err(corrupt(&format!("unsupported version {version}")));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| corrupt("missing entry count line"))?;
    let entries: Vec<E> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| E::parse(l.trim()).ok_or_else(|| corrupt(&format!("bad entry {l:?}"))))
        .collect::<Result<_>>()?;
    if entries.len() != count {
        return Err(corrupt(&format!(
            "header says {count} entries, file has {}",
            entries.len()
        )));
    }
    Ok(entries)
}

/// Replaces a checkpoint atomically.
pub fn write<E: CheckpointEntry>(path: &Path, entries: &[E]) -> Result<()> {
    let mut text = format!("{VERSION}\n{}\n", entries.len());
    for e in entries {
        text.push_str(&e.format());
        text.push('\n');
    }
    write_atomically(path, text.as_bytes())
}

/// Reads a `topic partition offset` checkpoint into a map.
pub fn read_offsets(path: &Path) -> Result<BTreeMap<TopicPartition, i64>> {
    Ok(read::<(TopicPartition, i64)>(path)?.into_iter().collect())
}

/// Writes a `topic partition offset` checkpoint from a map.
pub fn write_offsets(path: &Path, offsets: &BTreeMap<TopicPartition, i64>) -> Result<()> {
    let entries: Vec<(TopicPartition, i64)> =
        offsets.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
    write(path, &entries)
}

/// Writes `bytes` to `path.tmp`, fsyncs, and renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let mut file = File::create(&tmp).map_err(LogError::io(&tmp))?;
    file.write_all(bytes).map_err(LogError::io(&tmp))?;
    file.sync_all().map_err(LogError::io(&tmp))?;
    fs::rename(&tmp, path).map_err(LogError::io(path))
}

/// A partition directory's `partition.metadata` (Kafka 2.8's
/// `PartitionMetadataFile`): `version: 0` and `topic_id: <id>`, the id in
/// Kafka's notation (URL-safe base64 without padding), no final newline.
/// `None` when the file does not exist.
pub fn read_topic_id(partition_dir: &Path) -> Result<Option<[u8; 16]>> {
    use base64::Engine as _;
    let path = partition_dir.join(PARTITION_METADATA);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(path)(e)),
    };
    let corrupt = |reason: &str| LogError::Corrupt {
        path: path.clone(),
        reason: reason.to_owned(),
    };
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("version: 0") {
        return Err(corrupt("not version 0"));
    }
    let id = lines
        .next()
        .and_then(|l| l.strip_prefix("topic_id:"))
        .map(str::trim)
        .ok_or_else(|| corrupt("no topic_id line"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .filter(|b| *b != [0; 16])
        .ok_or_else(|| corrupt("invalid topic id"))?;
    Ok(Some(bytes))
}

/// Writes `partition.metadata` atomically (see [`read_topic_id`]).
pub fn write_topic_id(partition_dir: &Path, topic_id: [u8; 16]) -> Result<()> {
    use base64::Engine as _;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(topic_id);
    let text = format!("version: 0\ntopic_id: {id}");
    write_atomically(&partition_dir.join(PARTITION_METADATA), text.as_bytes())
}

/// A log dir's `meta.properties` (version 0, ZooKeeper mode): which broker and
/// cluster the directory belongs to, so a disk is never mounted on the wrong
/// broker unnoticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub broker_id: i32,
    pub cluster_id: Option<String>,
}

impl MetaProperties {
    pub fn read(dir: &Path) -> Result<Option<MetaProperties>> {
        let path = dir.join(META_PROPERTIES);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogError::io(path)(e)),
        };
        let props: BTreeMap<&str, &str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let broker_id = props
            .get("broker.id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| LogError::Corrupt {
                path: path.clone(),
                reason: "no valid broker.id".into(),
            })?;
        Ok(Some(MetaProperties {
            broker_id,
            cluster_id: props.get("cluster.id").map(|s| s.to_string()),
        }))
    }

    /// Writes the file as Kafka 2.8 does (`java.util.Properties.store`
    /// with an empty comment): a `#` line, a `#` line with the date, then
    /// `broker.id`, `version` and `cluster.id`, in the order Java's
    /// properties table gives them.
    pub fn write(&self, dir: &Path) -> Result<()> {
        // The system clock, not the log's: the date is only the comment
        // line `Properties.store` writes, and nothing reads it back.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        write_atomically(&dir.join(META_PROPERTIES), self.format(now).as_bytes())
    }

    /// The file's text, dated `unix_secs`.
    fn format(&self, unix_secs: i64) -> String {
        let mut text = format!(
            "#\n#{}\nbroker.id={}\nversion=0\n",
            java_date(unix_secs),
            self.broker_id
        );
        if let Some(id) = &self.cluster_id {
            text.push_str(&format!("cluster.id={id}\n"));
        }
        text
    }
}

/// `unix_secs` as Java's `Date.toString` writes it in UTC
/// (`EEE MMM dd HH:mm:ss zzz yyyy`), the date line of a properties file.
fn java_date(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {day:02} {:02}:{:02}:{:02} UTC {year}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT);
        let mut offsets = BTreeMap::new();
        offsets.insert(TopicPartition::new("a.b_c-d", 0), 12);
        offsets.insert(TopicPartition::new("a.b_c-d", 3), 0);
        write_offsets(&path, &offsets).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "0\n2\na.b_c-d 0 12\na.b_c-d 3 0\n"
        );
        assert_eq!(read_offsets(&path).unwrap(), offsets);
    }

    #[test]
    fn missing_file_is_empty_and_bad_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        assert!(read_offsets(&path).unwrap().is_empty());
        fs::write(&path, "0\n2\nt 0 1\n").unwrap();
        assert!(matches!(read_offsets(&path), Err(LogError::Corrupt { .. })));
        fs::write(&path, "1\n0\n").unwrap();
        assert!(read_offsets(&path).is_err());
        // As Kafka creates them before their first write.
        fs::write(&path, "").unwrap();
        assert!(read_offsets(&path).unwrap().is_empty());
    }

    #[test]
    fn epoch_entries_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT);
        let entries = vec![
            EpochEntry {
                epoch: 0,
                start_offset: 0,
            },
            EpochEntry {
                epoch: 4,
                start_offset: 120,
            },
        ];
        write(&path, &entries).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "0\n2\n0 0\n4 120\n");
        assert_eq!(read::<EpochEntry>(&path).unwrap(), entries);
    }

    #[test]
    fn meta_properties_are_written_as_kafka_writes_them() {
        let meta = MetaProperties {
            broker_id: 1,
            cluster_id: Some("Ab3_x-yZ0123456789abcd".into()),
        };
        // Kafka 2.8's meta.properties, written at 2021-03-02T10:21:33Z.
        assert_eq!(
            meta.format(1_614_680_493),
            "#\n#Tue Mar 02 10:21:33 UTC 2021\nbroker.id=1\nversion=0\ncluster.id=Ab3_x-yZ0123456789abcd\n"
        );
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(951_782_400), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn partition_metadata_is_written_as_kafka_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_topic_id(dir.path()).unwrap(), None);
        let id = [
            0xa2, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ];
        write_topic_id(dir.path(), id).unwrap();
        // Kafka's Uuid.toString: URL-safe base64 of the 16 bytes, unpadded.
        assert_eq!(
            fs::read_to_string(dir.path().join(PARTITION_METADATA)).unwrap(),
            "version: 0\ntopic_id: ojRWeJq83vABI0VniavN7w"
        );
        assert_eq!(read_topic_id(dir.path()).unwrap(), Some(id));
        fs::write(
            dir.path().join(PARTITION_METADATA),
            "version: 1\ntopic_id: x",
        )
        .unwrap();
        assert!(read_topic_id(dir.path()).is_err());
    }

    #[test]
    fn meta_properties_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(MetaProperties::read(dir.path()).unwrap(), None);
        let meta = MetaProperties {
            broker_id: 3,
            cluster_id: Some("abc".into()),
        };
        meta.write(dir.path()).unwrap();
        assert_eq!(MetaProperties::read(dir.path()).unwrap(), Some(meta));
    }
}
