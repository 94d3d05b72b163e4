//! What a leader knows of one of its followers (Kafka's `Replica`): where
//! the follower's log ends, as its fetches say, and when it last had every
//! record the leader had — what the high watermark and the ISR are decided
//! from.

/// A follower's log end offset before its first fetch in this leader epoch
/// (Kafka's `UnknownOffset`): it holds the high watermark back.
pub(super) const UNKNOWN_OFFSET: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RemoteReplica {
    /// The offset of the follower's last fetch: every record before it is
    /// in the follower's log.
    log_end_offset: i64,
    /// When the follower last had everything the leader had, in ms since
    /// the Unix epoch; 0 for never.
    last_caught_up_ms: i64,
    /// The leader's log end offset when it served the follower's previous
    /// fetch, and when that was.
    last_fetch_leader_log_end_offset: i64,
    last_fetch_ms: i64,
}

impl RemoteReplica {
    /// A follower as a new leader starts it: position unknown, and caught
    /// up as [`start_leader_epoch`](Self::start_leader_epoch) says.
    pub(super) fn new(in_isr: bool, leader_log_end_offset: i64, now_ms: i64) -> Self {
        let mut replica = RemoteReplica {
            log_end_offset: UNKNOWN_OFFSET,
            last_caught_up_ms: 0,
            last_fetch_leader_log_end_offset: 0,
            last_fetch_ms: 0,
        };
        replica.start_leader_epoch(in_isr, leader_log_end_offset, now_ms);
        replica
    }

    /// Starts a new leader epoch of a leader that already led (Kafka's
    /// `resetLastCaughtUpTime`): the follower keeps its position, since the
    /// leader's log did not change; it is caught up now if the controller
    /// has it in the ISR, so it is not dropped before its first fetch in
    /// the epoch, never otherwise.
    pub(super) fn start_leader_epoch(
        &mut self,
        in_isr: bool,
        leader_log_end_offset: i64,
        now_ms: i64,
    ) {
        self.last_caught_up_ms = if in_isr { now_ms } else { 0 };
        self.last_fetch_leader_log_end_offset = leader_log_end_offset;
        self.last_fetch_ms = now_ms;
    }

    pub(super) fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    #[cfg(test)]
    pub(super) fn last_caught_up_ms(&self) -> i64 {
        self.last_caught_up_ms
    }

    /// Records a fetch from `fetch_offset` served at `now_ms` while the
    /// leader's log ended at `leader_log_end_offset` (Kafka's
    /// `updateFetchState`). The follower is caught up now if it asked for
    /// the leader's end; it was caught up at its previous fetch if it has
    /// now reached what the leader had then.
    pub(super) fn update_fetch_state(
        &mut self,
        fetch_offset: i64,
        leader_log_end_offset: i64,
        now_ms: i64,
    ) {
        if fetch_offset >= leader_log_end_offset {
            self.last_caught_up_ms = self.last_caught_up_ms.max(now_ms);
        } else if fetch_offset >= self.last_fetch_leader_log_end_offset {
            self.last_caught_up_ms = self.last_caught_up_ms.max(self.last_fetch_ms);
        }
        self.log_end_offset = fetch_offset;
        self.last_fetch_leader_log_end_offset = leader_log_end_offset;
        self.last_fetch_ms = now_ms;
    }

    /// Whether the follower is too far behind to stay in the ISR (Kafka's
    /// `isFollowerOutOfSync`): it lacks some of the leader's records and has
    /// not caught up for more than `max_lag_ms`.
    pub(super) fn is_out_of_sync(
        &self,
        leader_log_end_offset: i64,
        now_ms: i64,
        max_lag_ms: i64,
    ) -> bool {
        self.log_end_offset != leader_log_end_offset
            && now_ms.saturating_sub(self.last_caught_up_ms) > max_lag_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caught_up_now_at_the_end_or_as_of_the_previous_fetch() {
        let mut r = RemoteReplica::new(false, 10, 1_000);
        assert_eq!(r.last_caught_up_ms(), 0);
        // Behind what the leader had at the previous fetch: not caught up.
        r.update_fetch_state(5, 12, 2_000);
        assert_eq!((r.log_end_offset(), r.last_caught_up_ms()), (5, 0));
        // Has what the leader had at the previous fetch (12), not its end
        // now (15): caught up as of that fetch.
        r.update_fetch_state(12, 15, 3_000);
        assert_eq!(r.last_caught_up_ms(), 2_000);
        // At the leader's end: caught up now.
        r.update_fetch_state(15, 15, 4_000);
        assert_eq!(r.last_caught_up_ms(), 4_000);
    }

    #[test]
    fn out_of_sync_only_when_behind_for_longer_than_the_lag() {
        let mut r = RemoteReplica::new(true, 10, 1_000);
        assert!(!r.is_out_of_sync(10, 1_500, 1_000));
        assert!(r.is_out_of_sync(10, 2_001, 1_000));
        r.update_fetch_state(10, 10, 2_000);
        // Idle but at the end: in sync however long ago it caught up.
        assert!(!r.is_out_of_sync(10, 60_000, 1_000));
        assert!(!r.is_out_of_sync(11, 3_000, 1_000));
        assert!(r.is_out_of_sync(11, 3_001, 1_000));
    }
}
