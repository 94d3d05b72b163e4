//! Per-partition results grouped back into the topic-then-partitions shape
//! of responses, topics in the order they first appear.

use gregor_protocol::TopicPartition;

pub(super) fn by_topic<T>(
    items: impl IntoIterator<Item = (TopicPartition, T)>,
) -> Vec<(String, Vec<(i32, T)>)> {
    let mut topics: Vec<(String, Vec<(i32, T)>)> = Vec::new();
    for (tp, item) in items {
        match topics.iter_mut().find(|(name, _)| *name == tp.topic) {
            Some((_, partitions)) => partitions.push((tp.partition, item)),
            None => topics.push((tp.topic, vec![(tp.partition, item)])),
        }
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_appearance_order() {
        let grouped = by_topic([
            (TopicPartition::new("b", 1), 'x'),
            (TopicPartition::new("a", 0), 'y'),
            (TopicPartition::new("b", 0), 'z'),
        ]);
        assert_eq!(
            grouped,
            [
                ("b".to_owned(), vec![(1, 'x'), (0, 'z')]),
                ("a".to_owned(), vec![(0, 'y')])
            ]
        );
    }
}
