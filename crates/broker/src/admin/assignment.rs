//! Kafka's rack-unaware replica assignment
//! (`AdminUtils.assignReplicasToBrokersRackUnaware`): partition leaders go
//! round-robin over the brokers from a random start, and each partition's
//! followers are shifted by an amount that grows every full round, so that
//! replicas of one broker's partitions spread over all the others.

use std::collections::BTreeMap;

use gregor_protocol::BrokerId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    // Worded as Kafka's AdminUtils, which clients show verbatim.
    #[error("Number of partitions must be larger than 0.")]
    InvalidPartitions(i32),
    #[error("Replication factor must be larger than 0.")]
    InvalidReplicationFactor(i32),
    #[error("Replication factor: {factor} larger than available brokers: {brokers}.")]
    NotEnoughBrokers { factor: i32, brokers: usize },
}

/// Assigns `partitions` partitions of `replication_factor` replicas over
/// `brokers`. `start_index` and `replica_shift` are Kafka's random choices;
/// callers pass random values (tests pass fixed ones).
pub fn assign_replicas(
    brokers: &[BrokerId],
    partitions: i32,
    replication_factor: i32,
    start_index: usize,
    replica_shift: usize,
) -> Result<BTreeMap<i32, Vec<BrokerId>>, AssignmentError> {
    if partitions <= 0 {
        return Err(AssignmentError::InvalidPartitions(partitions));
    }
    if replication_factor <= 0 {
        return Err(AssignmentError::InvalidReplicationFactor(
            replication_factor,
        ));
    }
    let n = brokers.len();
    if replication_factor as usize > n {
        return Err(AssignmentError::NotEnoughBrokers {
            factor: replication_factor,
            brokers: n,
        });
    }
    let mut brokers = brokers.to_vec();
    brokers.sort_unstable();
    let start_index = start_index % n;
    let mut shift = replica_shift % n;
    let mut assignment = BTreeMap::new();
    for partition in 0..partitions as usize {
        if partition > 0 && partition % n == 0 {
            shift += 1;
        }
        let first = (partition + start_index) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..replication_factor as usize - 1 {
            replicas.push(brokers[follower_index(first, shift, j, n)]);
        }
        assignment.insert(partition as i32, replicas);
    }
    Ok(assignment)
}

/// Kafka's `replicaIndex`: the j-th follower of a partition whose leader is
/// at `first`, never the leader itself.
fn follower_index(first: usize, shift: usize, j: usize, n: usize) -> usize {
    let shift = 1 + (shift + j) % (n - 1);
    (first + shift) % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kafkas_documented_example() {
        // AdminUtils' doc comment: 5 brokers, 10 partitions, RF 3, start 0, shift 0.
        let a = assign_replicas(&[0, 1, 2, 3, 4], 10, 3, 0, 0).unwrap();
        let expect: [[i32; 3]; 10] = [
            [0, 1, 2],
            [1, 2, 3],
            [2, 3, 4],
            [3, 4, 0],
            [4, 0, 1],
            [0, 2, 3],
            [1, 3, 4],
            [2, 4, 0],
            [3, 0, 1],
            [4, 1, 2],
        ];
        for (p, replicas) in expect.iter().enumerate() {
            assert_eq!(a[&(p as i32)], replicas.to_vec(), "partition {p}");
        }
    }

    #[test]
    fn leaders_spread_evenly_and_replicas_are_distinct() {
        let a = assign_replicas(&[3, 1, 2], 6, 3, 2, 1).unwrap();
        let mut leaders = BTreeMap::new();
        for replicas in a.values() {
            *leaders.entry(replicas[0]).or_insert(0) += 1;
            let mut r = replicas.clone();
            r.sort();
            r.dedup();
            assert_eq!(r.len(), 3);
        }
        assert_eq!(leaders.values().collect::<Vec<_>>(), vec![&2, &2, &2]);
    }

    #[test]
    fn rejects_impossible_requests() {
        let too_wide = assign_replicas(&[1], 1, 2, 0, 0).unwrap_err();
        assert!(matches!(too_wide, AssignmentError::NotEnoughBrokers { .. }));
        assert_eq!(
            too_wide.to_string(),
            "Replication factor: 2 larger than available brokers: 1."
        );
        assert!(assign_replicas(&[1], 0, 1, 0, 0).is_err());
        assert!(assign_replicas(&[1], 1, 0, 0, 0).is_err());
        assert_eq!(assign_replicas(&[7], 2, 1, 5, 5).unwrap()[&1], vec![7]);
    }
}
