//! How the controller picks a partition's leader, Kafka's
//! `PartitionLeaderElectionAlgorithms`: pure functions of the assignment,
//! the ISR and the live brokers, so every rule is testable on its own.
//!
//! The assignment order matters: its first replica is the *preferred*
//! leader, and every strategy scans it in order, so leadership returns to
//! the same brokers after failures and stays spread as the assignment
//! spread it.
//!
//! Owns: the election rules. Must not depend on: the context, ZooKeeper,
//! tokio or sockets.

use std::collections::BTreeSet;

use gregor_protocol::BrokerId;

/// Why the controller is electing, which decides who may win.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionStrategy {
    /// The leader died or the partition is new: the first live ISR member;
    /// with `allow_unclean` (`unclean.leader.election.enable`) any live
    /// replica when no ISR member is alive, at the price of losing what it
    /// never received.
    Offline { allow_unclean: bool },
    /// Back to the preferred (first) replica, if it is alive and in the ISR
    /// (`/admin/preferred_replica_election`, `auto.leader.rebalance.enable`).
    PreferredReplica,
    /// The leader is shutting down cleanly: the first live ISR member that
    /// is not shutting down; the ISR loses the stopping brokers.
    ControlledShutdown,
    /// A reassignment moved the replicas away from the leader: the first
    /// live ISR member of the new assignment (passed as `assignment`).
    Reassignment,
}

/// The outcome of an election: the new leader and the ISR to write with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectedLeader {
    pub leader: BrokerId,
    pub isr: Vec<BrokerId>,
}

/// Elects a leader for one partition, or `None` if the strategy finds no
/// eligible replica (the partition stays offline, or keeps its leader).
pub fn elect_leader(
    strategy: ElectionStrategy,
    assignment: &[BrokerId],
    isr: &[BrokerId],
    live: &BTreeSet<BrokerId>,
    shutting_down: &BTreeSet<BrokerId>,
) -> Option<ElectedLeader> {
    let is_live = |id: &BrokerId| live.contains(id);
    let in_isr = |id: &BrokerId| isr.contains(id);
    match strategy {
        ElectionStrategy::Offline { allow_unclean } => {
            if let Some(leader) = assignment
                .iter()
                .copied()
                .find(|id| is_live(id) && in_isr(id))
            {
                let isr = isr.iter().copied().filter(is_live).collect();
                return Some(ElectedLeader { leader, isr });
            }
            // Unclean: the new leader's log is the truth from now on, so it
            // is the whole ISR.
            allow_unclean
                .then(|| assignment.iter().copied().find(is_live))
                .flatten()
                .map(|leader| ElectedLeader {
                    leader,
                    isr: vec![leader],
                })
        }
        ElectionStrategy::Reassignment => assignment
            .iter()
            .copied()
            .find(|id| is_live(id) && in_isr(id))
            .map(|leader| ElectedLeader {
                leader,
                isr: isr.to_vec(),
            }),
        ElectionStrategy::PreferredReplica => assignment
            .first()
            .copied()
            .filter(|id| is_live(id) && in_isr(id))
            .map(|leader| ElectedLeader {
                leader,
                isr: isr.to_vec(),
            }),
        ElectionStrategy::ControlledShutdown => {
            let staying = |id: &BrokerId| !shutting_down.contains(id);
            assignment
                .iter()
                .copied()
                .find(|id| is_live(id) && in_isr(id) && staying(id))
                .map(|leader| ElectedLeader {
                    leader,
                    isr: isr.iter().copied().filter(staying).collect(),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[BrokerId]) -> BTreeSet<BrokerId> {
        ids.iter().copied().collect()
    }

    fn elect(
        strategy: ElectionStrategy,
        assignment: &[BrokerId],
        isr: &[BrokerId],
        live: &[BrokerId],
        shutting_down: &[BrokerId],
    ) -> Option<(BrokerId, Vec<BrokerId>)> {
        elect_leader(strategy, assignment, isr, &set(live), &set(shutting_down))
            .map(|e| (e.leader, e.isr))
    }

    const CLEAN: ElectionStrategy = ElectionStrategy::Offline {
        allow_unclean: false,
    };
    const UNCLEAN: ElectionStrategy = ElectionStrategy::Offline {
        allow_unclean: true,
    };

    #[test]
    fn offline_takes_the_first_live_isr_member_in_assignment_order() {
        // Broker 1 (preferred) died; 3 comes before 2 in the assignment.
        assert_eq!(
            elect(CLEAN, &[1, 3, 2], &[1, 2, 3], &[2, 3], &[]),
            Some((3, vec![2, 3]))
        );
    }

    #[test]
    fn offline_without_live_isr_member_elects_nobody_unless_unclean() {
        // The ISR is down to broker 1, which is dead; 2 is alive but behind.
        assert_eq!(elect(CLEAN, &[1, 2], &[1], &[2], &[]), None);
        assert_eq!(elect(UNCLEAN, &[1, 2], &[1], &[2], &[]), Some((2, vec![2])));
        assert_eq!(elect(UNCLEAN, &[1, 2], &[1], &[], &[]), None);
    }

    #[test]
    fn preferred_replica_only_if_alive_and_in_sync() {
        assert_eq!(
            elect(
                ElectionStrategy::PreferredReplica,
                &[1, 2],
                &[2, 1],
                &[1, 2],
                &[]
            ),
            Some((1, vec![2, 1]))
        );
        assert_eq!(
            elect(
                ElectionStrategy::PreferredReplica,
                &[1, 2],
                &[2],
                &[1, 2],
                &[]
            ),
            None
        );
        assert_eq!(
            elect(
                ElectionStrategy::PreferredReplica,
                &[1, 2],
                &[1, 2],
                &[2],
                &[]
            ),
            None
        );
    }

    #[test]
    fn reassignment_takes_the_first_live_in_sync_target_replica() {
        assert_eq!(
            elect(
                ElectionStrategy::Reassignment,
                &[4, 5],
                &[1, 5, 4],
                &[1, 4, 5],
                &[]
            ),
            Some((4, vec![1, 5, 4]))
        );
        assert_eq!(
            elect(
                ElectionStrategy::Reassignment,
                &[4, 5],
                &[1, 5],
                &[1, 4],
                &[]
            ),
            None
        );
    }

    #[test]
    fn controlled_shutdown_skips_and_removes_stopping_brokers() {
        assert_eq!(
            elect(
                ElectionStrategy::ControlledShutdown,
                &[1, 2, 3],
                &[1, 2, 3],
                &[1, 2, 3],
                &[1]
            ),
            Some((2, vec![2, 3]))
        );
        // The only other in-sync replica is stopping too.
        assert_eq!(
            elect(
                ElectionStrategy::ControlledShutdown,
                &[1, 2, 3],
                &[1, 2],
                &[1, 2, 3],
                &[1, 2]
            ),
            None
        );
    }
}
