//! One member of a group (Kafka's `MemberMetadata`): who it is, the
//! protocols it supports, its assignment, the JoinGroup or SyncGroup it is
//! waiting on, and when its session ends.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::membership::{JoinResult, SyncResult};

/// How long a member that joined for the first time may wait in a rebalance
/// without heartbeating (Kafka's `GroupCoordinator.NewMemberJoinTimeoutMs`):
/// a client that gave up on its JoinGroup does not hold the rebalance for
/// its whole rebalance timeout.
pub const NEW_MEMBER_JOIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// An assignment protocol a member supports, with its metadata for it (for
/// consumers: the subscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

#[derive(Debug)]
pub struct Member {
    pub member_id: String,
    /// Set for a static member (KIP-345).
    pub group_instance_id: Option<String>,
    pub client_id: String,
    /// Where the member connected from, as Kafka shows it (`/127.0.0.1`).
    pub client_host: String,
    pub rebalance_timeout: Duration,
    pub session_timeout: Duration,
    pub protocol_type: String,
    /// The protocols it supports, preferred first.
    pub protocols: Vec<Protocol>,
    /// Its part of the current generation's assignment.
    pub assignment: Bytes,
    /// Its JoinGroup, while the group rebalances.
    pub awaiting_join: Option<oneshot::Sender<JoinResult>>,
    /// Its SyncGroup, until the leader's assignment is stored.
    pub awaiting_sync: Option<oneshot::Sender<SyncResult>>,
    /// When it last proved alive (heartbeat, join, sync, commit).
    pub last_heartbeat: Instant,
    /// Joined in the current rebalance and has not completed one yet.
    pub is_new: bool,
}

impl Member {
    pub fn is_awaiting_join(&self) -> bool {
        self.awaiting_join.is_some()
    }

    pub fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }

    /// Its metadata for `protocol`; empty if it does not support it.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    /// Whether it would join with exactly these protocols and metadata.
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// Its most preferred protocol among `candidates` (which every member
    /// supports, so there is one).
    pub fn vote<'a>(&'a self, candidates: &HashSet<&str>) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|p| p.name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// When its session ends unless it shows up again (Kafka's
    /// `shouldKeepAlive` turned into a deadline): never while it waits in a
    /// JoinGroup (the rebalance timeout bounds that) or a SyncGroup, except
    /// a new member, which gets [`NEW_MEMBER_JOIN_TIMEOUT`].
    pub fn session_deadline(&self) -> Option<Instant> {
        if self.is_awaiting_join() {
            self.is_new
                .then(|| self.last_heartbeat + NEW_MEMBER_JOIN_TIMEOUT)
        } else if self.awaiting_sync.is_some() {
            None
        } else {
            Some(self.last_heartbeat + self.session_timeout)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::testing::member;

    #[test]
    fn votes_for_its_most_preferred_candidate() {
        let m = member("m", &["sticky", "range", "roundrobin"]);
        let candidates: HashSet<&str> = ["roundrobin", "range"].into();
        assert_eq!(m.vote(&candidates), Some("range"));
        assert_eq!(m.metadata("range"), Bytes::from("range"));
        assert!(m.metadata("other").is_empty());
    }

    #[test]
    fn session_deadline_pauses_while_waiting() {
        let mut m = member("m", &["range"]);
        let start = m.last_heartbeat;
        assert_eq!(m.session_deadline(), Some(start + Duration::from_secs(10)));
        let (tx, _rx) = oneshot::channel();
        m.awaiting_join = Some(tx);
        assert_eq!(m.session_deadline(), None);
        m.is_new = true;
        assert_eq!(m.session_deadline(), Some(start + NEW_MEMBER_JOIN_TIMEOUT));
        m.awaiting_join = None;
        let (tx, _rx) = oneshot::channel();
        m.awaiting_sync = Some(tx);
        assert_eq!(m.session_deadline(), None);
    }
}
