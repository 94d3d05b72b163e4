//! Kafka's topic name rules (`org.apache.kafka.common.internals.Topic`).

/// Longest legal topic name: 255 minus room for a partition suffix and the
/// `-delete` directory suffix, as in Kafka.
pub(super) const MAX_NAME_LENGTH: usize = 249;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    // Worded as Kafka's `Topic.validate`, which clients show verbatim.
    #[error("Topic name is illegal, it can't be empty")]
    Empty,
    #[error("Topic name cannot be \".\" or \"..\"")]
    Dots,
    #[error(
        "Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, topic name: {0}"
    )]
    TooLong(String),
    #[error(
        "Topic name \"{0}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
    )]
    IllegalCharacters(String),
}

pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Dots);
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(TopicNameError::TooLong(name.to_owned()));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(TopicNameError::IllegalCharacters(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-2").is_ok());
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Empty));
        assert_eq!(validate_topic_name(".."), Err(TopicNameError::Dots));
        assert!(matches!(
            validate_topic_name("a b"),
            Err(TopicNameError::IllegalCharacters(_))
        ));
        assert!(matches!(
            validate_topic_name("ü"),
            Err(TopicNameError::IllegalCharacters(_))
        ));
        assert_eq!(
            validate_topic_name(&"a".repeat(250)),
            Err(TopicNameError::TooLong("a".repeat(250)))
        );
        assert!(validate_topic_name(&"a".repeat(249)).is_ok());
    }
}
