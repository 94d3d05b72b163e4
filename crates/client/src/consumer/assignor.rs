//! Partition assignors: how the group leader spreads the partitions of the
//! subscribed topics over the members. Both give exactly the results of
//! Kafka's `RangeAssignor` and `RoundRobinAssignor`, so a group can change
//! leader between a Java, a librdkafka and a gregor consumer without the
//! assignment changing.
//!
//! Members are ordered as Kafka's `MemberInfo` orders them: static members
//! (with a `group.instance.id`) first, by instance id, then the others by
//! member id.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::config::AssignmentStrategy;
use gregor_protocol::TopicPartition;

/// A member as the leader sees it in the JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub topics: Vec<String>,
}

impl MemberSubscription {
    /// Kafka's `MemberInfo.compareTo`.
    fn kafka_order(&self, other: &Self) -> Ordering {
        match (&self.group_instance_id, &other.group_instance_id) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.member_id.cmp(&other.member_id),
        }
    }
}

/// Member id → its partitions, for every member (empty if it got none).
pub type GroupAssignment = BTreeMap<String, Vec<TopicPartition>>;

/// Runs `strategy` over `members`; `partition_counts` holds the number of
/// partitions of each subscribed topic that exists (topics missing from it
/// are assigned to no one, as in Kafka).
pub fn assign(
    strategy: AssignmentStrategy,
    partition_counts: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
) -> GroupAssignment {
    match strategy {
        AssignmentStrategy::Range => range(partition_counts, members),
        AssignmentStrategy::RoundRobin => round_robin(partition_counts, members),
    }
}

fn empty_assignment(members: &[MemberSubscription]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

fn sorted(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
    sorted.sort_by(|a, b| a.kafka_order(b));
    sorted
}

/// Kafka's `RangeAssignor`: topic by topic, the partitions in order are cut
/// into one contiguous range per subscribed member (in member order); when
/// they do not divide evenly the first members get one more.
fn range(
    partition_counts: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
) -> GroupAssignment {
    let mut assignment = empty_assignment(members);
    let members = sorted(members);
    for (topic, &count) in partition_counts {
        let consumers: Vec<&str> = members
            .iter()
            .filter(|m| m.topics.contains(topic))
            .map(|m| m.member_id.as_str())
            .collect();
        if consumers.is_empty() {
            continue;
        }
        let n = consumers.len() as i32;
        let (per_consumer, with_extra) = (count / n, count % n);
        for (i, member) in (0..).zip(consumers) {
            let start = per_consumer * i + i.min(with_extra);
            let length = per_consumer + i32::from(i < with_extra);
            if let Some(partitions) = assignment.get_mut(member) {
                partitions.extend((start..start + length).map(|p| TopicPartition::new(topic, p)));
            }
        }
    }
    assignment
}

/// Kafka's `RoundRobinAssignor`: every partition of every subscribed topic
/// (topics in name order) is dealt in turn to the members (in member order),
/// skipping members not subscribed to its topic.
fn round_robin(
    partition_counts: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
) -> GroupAssignment {
    let mut assignment = empty_assignment(members);
    let members = sorted(members);
    let subscribed: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect();
    let mut next = 0;
    for topic in subscribed {
        let Some(&count) = partition_counts.get(topic) else {
            continue;
        };
        for partition in 0..count {
            // Some member subscribes to `topic`, so this ends within one turn.
            while !members[next % members.len()]
                .topics
                .iter()
                .any(|t| t == topic)
            {
                next += 1;
            }
            let member = &members[next % members.len()].member_id;
            next += 1;
            if let Some(partitions) = assignment.get_mut(member) {
                partitions.push(TopicPartition::new(topic, partition));
            }
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            group_instance_id: None,
            topics: topics.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn counts(topics: &[(&str, i32)]) -> BTreeMap<String, i32> {
        topics.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    /// `tp("t0", &[0, 1])` → [t0-0, t0-1].
    fn tps(pairs: &[(&str, &[i32])]) -> Vec<TopicPartition> {
        pairs
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(|p| TopicPartition::new(*t, *p)))
            .collect()
    }

    fn of<'a>(assignment: &'a GroupAssignment, member: &str) -> &'a [TopicPartition] {
        &assignment[member]
    }

    /// The example in `RangeAssignor`'s Javadoc: C0 and C1, t0 and t1 with
    /// three partitions each.
    #[test]
    fn range_matches_the_kafka_javadoc_example() {
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let a = assign(
            AssignmentStrategy::Range,
            &counts(&[("t0", 3), ("t1", 3)]),
            &members,
        );
        assert_eq!(of(&a, "C0"), tps(&[("t0", &[0, 1]), ("t1", &[0, 1])]));
        assert_eq!(of(&a, "C1"), tps(&[("t0", &[2]), ("t1", &[2])]));
    }

    /// The example in `RoundRobinAssignor`'s Javadoc (same input as above).
    #[test]
    fn round_robin_matches_the_kafka_javadoc_example() {
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let a = assign(
            AssignmentStrategy::RoundRobin,
            &counts(&[("t0", 3), ("t1", 3)]),
            &members,
        );
        assert_eq!(of(&a, "C0"), tps(&[("t0", &[0, 2]), ("t1", &[1])]));
        assert_eq!(of(&a, "C1"), tps(&[("t0", &[1]), ("t1", &[0, 2])]));
    }

    /// The second `RoundRobinAssignor` Javadoc example: C0 subscribes to t0,
    /// C1 to t0 and t1, C2 to t0, t1 and t2, where t0 has one partition, t1
    /// two and t2 three.
    #[test]
    fn round_robin_skips_members_not_subscribed() {
        let members = [
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ];
        let a = assign(
            AssignmentStrategy::RoundRobin,
            &counts(&[("t0", 1), ("t1", 2), ("t2", 3)]),
            &members,
        );
        assert_eq!(of(&a, "C0"), tps(&[("t0", &[0])]));
        assert_eq!(of(&a, "C1"), tps(&[("t1", &[0])]));
        assert_eq!(of(&a, "C2"), tps(&[("t1", &[1]), ("t2", &[0, 1, 2])]));
    }

    /// From Kafka's `RangeAssignorTest`: more consumers than partitions,
    /// and uneven splits favouring the first members.
    #[test]
    fn range_gives_the_first_members_the_remainder() {
        let members = [
            member("consumer1", &["t"]),
            member("consumer2", &["t"]),
            member("consumer3", &["t"]),
        ];
        let a = assign(AssignmentStrategy::Range, &counts(&[("t", 2)]), &members);
        assert_eq!(of(&a, "consumer1"), tps(&[("t", &[0])]));
        assert_eq!(of(&a, "consumer2"), tps(&[("t", &[1])]));
        assert_eq!(of(&a, "consumer3"), []);

        let a = assign(AssignmentStrategy::Range, &counts(&[("t", 8)]), &members);
        assert_eq!(of(&a, "consumer1"), tps(&[("t", &[0, 1, 2])]));
        assert_eq!(of(&a, "consumer2"), tps(&[("t", &[3, 4, 5])]));
        assert_eq!(of(&a, "consumer3"), tps(&[("t", &[6, 7])]));
    }

    /// Kafka's `RangeAssignorTest.testStaticMemberRangeAssignmentPersistent`
    /// idea: static members sort before dynamic ones and by instance id,
    /// whatever their (random) member ids.
    #[test]
    fn static_members_come_first_in_instance_id_order() {
        let mut static_b = member("a-dynamic-looking-id", &["t"]);
        static_b.group_instance_id = Some("instance-b".into());
        let mut static_a = member("z-id", &["t"]);
        static_a.group_instance_id = Some("instance-a".into());
        let dynamic = member("0-first-by-member-id", &["t"]);
        let a = assign(
            AssignmentStrategy::Range,
            &counts(&[("t", 3)]),
            &[dynamic, static_b, static_a],
        );
        assert_eq!(of(&a, "z-id"), tps(&[("t", &[0])]));
        assert_eq!(of(&a, "a-dynamic-looking-id"), tps(&[("t", &[1])]));
        assert_eq!(of(&a, "0-first-by-member-id"), tps(&[("t", &[2])]));
    }

    #[test]
    fn topics_without_metadata_are_assigned_to_no_one() {
        let members = [member("c", &["exists", "missing"])];
        for strategy in [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin] {
            let a = assign(strategy, &counts(&[("exists", 2)]), &members);
            assert_eq!(of(&a, "c"), tps(&[("exists", &[0, 1])]), "{strategy:?}");
        }
        let a = assign(AssignmentStrategy::Range, &counts(&[]), &members);
        assert_eq!(of(&a, "c"), []);
    }

    /// Every partition goes to exactly one subscribed member, with any mix
    /// of subscriptions, in both strategies.
    #[test]
    fn every_partition_is_assigned_exactly_once() {
        let topics = ["a", "b", "c"];
        let partition_counts = counts(&[("a", 7), ("b", 1), ("c", 12)]);
        for mask in 1u32..(1 << 9) {
            // Three members, each subscribing to a non-empty subset.
            let members: Vec<MemberSubscription> = (0..3)
                .map(|m| {
                    let subset: Vec<&str> = (0..3)
                        .filter(|t| mask & (1 << (m * 3 + t)) != 0)
                        .map(|t| topics[t])
                        .collect();
                    member(&format!("m{m}"), &subset)
                })
                .filter(|m| !m.topics.is_empty())
                .collect();
            for strategy in [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin] {
                let a = assign(strategy, &partition_counts, &members);
                let mut seen = BTreeSet::new();
                for m in &members {
                    for tp in &a[&m.member_id] {
                        assert!(m.topics.contains(&tp.topic), "{strategy:?} {mask}");
                        assert!(seen.insert(tp.clone()), "{tp} twice ({strategy:?})");
                    }
                }
                let wanted: usize = partition_counts
                    .iter()
                    .filter(|(t, _)| members.iter().any(|m| m.topics.contains(t)))
                    .map(|(_, n)| *n as usize)
                    .sum();
                assert_eq!(seen.len(), wanted, "{strategy:?} {mask}");
            }
        }
    }
}
