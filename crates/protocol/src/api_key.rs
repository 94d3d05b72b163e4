//! Kafka's API keys, and for each the first flexible version, which decides
//! the header versions before the body is even looked at.

use super::error::DecodeError;

macro_rules! api_keys {
    ($($name:ident = $key:literal, flexible: $flex:expr;)*) => {
        /// A Kafka API, numbered as Kafka numbers it (`ApiKeys.java`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i16)]
        pub enum ApiKey {
            $($name = $key,)*
        }

        impl ApiKey {
            /// Every key this broker knows, in key order.
            pub const ALL: &'static [ApiKey] = &[$(ApiKey::$name,)*];

            /// The first version whose messages are flexible (KIP-482), from
            /// the `flexibleVersions` of the API's JSON specs.
            pub fn flexible_since(self) -> Option<i16> {
                match self {
                    $(ApiKey::$name => $flex,)*
                }
            }
        }

        impl TryFrom<i16> for ApiKey {
            type Error = DecodeError;
            fn try_from(key: i16) -> Result<Self, DecodeError> {
                match key {
                    $($key => Ok(ApiKey::$name),)*
                    other => Err(DecodeError::UnknownApiKey(other)),
                }
            }
        }
    };
}

api_keys! {
    Produce = 0, flexible: Some(9);
    Fetch = 1, flexible: Some(12);
    ListOffsets = 2, flexible: Some(6);
    Metadata = 3, flexible: Some(9);
    LeaderAndIsr = 4, flexible: Some(4);
    StopReplica = 5, flexible: Some(2);
    UpdateMetadata = 6, flexible: Some(6);
    ControlledShutdown = 7, flexible: Some(3);
    OffsetCommit = 8, flexible: Some(8);
    OffsetFetch = 9, flexible: Some(6);
    FindCoordinator = 10, flexible: Some(3);
    JoinGroup = 11, flexible: Some(6);
    Heartbeat = 12, flexible: Some(4);
    LeaveGroup = 13, flexible: Some(4);
    SyncGroup = 14, flexible: Some(4);
    DescribeGroups = 15, flexible: Some(5);
    ListGroups = 16, flexible: Some(3);
    SaslHandshake = 17, flexible: None;
    ApiVersions = 18, flexible: Some(3);
    CreateTopics = 19, flexible: Some(5);
    DeleteTopics = 20, flexible: Some(4);
    DeleteRecords = 21, flexible: Some(2);
    InitProducerId = 22, flexible: Some(2);
    OffsetForLeaderEpoch = 23, flexible: Some(4);
    AddPartitionsToTxn = 24, flexible: Some(3);
    AddOffsetsToTxn = 25, flexible: Some(3);
    EndTxn = 26, flexible: Some(3);
    WriteTxnMarkers = 27, flexible: Some(1);
    TxnOffsetCommit = 28, flexible: Some(3);
    DescribeAcls = 29, flexible: Some(2);
    CreateAcls = 30, flexible: Some(2);
    DeleteAcls = 31, flexible: Some(2);
    DescribeConfigs = 32, flexible: Some(4);
    AlterConfigs = 33, flexible: Some(2);
    AlterReplicaLogDirs = 34, flexible: Some(2);
    DescribeLogDirs = 35, flexible: Some(2);
    SaslAuthenticate = 36, flexible: Some(2);
    CreatePartitions = 37, flexible: Some(2);
    CreateDelegationToken = 38, flexible: Some(2);
    RenewDelegationToken = 39, flexible: Some(2);
    ExpireDelegationToken = 40, flexible: Some(2);
    DescribeDelegationToken = 41, flexible: Some(2);
    DeleteGroups = 42, flexible: Some(2);
    ElectLeaders = 43, flexible: Some(2);
    IncrementalAlterConfigs = 44, flexible: Some(1);
    AlterPartitionReassignments = 45, flexible: Some(0);
    ListPartitionReassignments = 46, flexible: Some(0);
    OffsetDelete = 47, flexible: None;
    DescribeClientQuotas = 48, flexible: Some(1);
    AlterClientQuotas = 49, flexible: Some(1);
    DescribeUserScramCredentials = 50, flexible: Some(0);
    AlterUserScramCredentials = 51, flexible: Some(0);
    DescribeCluster = 60, flexible: Some(0);
    DescribeProducers = 61, flexible: Some(0);
    DescribeTransactions = 65, flexible: Some(0);
    ListTransactions = 66, flexible: Some(0);
}

impl ApiKey {
    /// Whether `version` of this API is flexible.
    pub fn is_flexible(self, version: i16) -> bool {
        matches!(self.flexible_since(), Some(first) if version >= first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for &key in ApiKey::ALL {
            assert_eq!(ApiKey::try_from(key as i16), Ok(key));
        }
        assert_eq!(ApiKey::try_from(3), Ok(ApiKey::Metadata));
        assert_eq!(ApiKey::try_from(18), Ok(ApiKey::ApiVersions));
        assert_eq!(ApiKey::try_from(32), Ok(ApiKey::DescribeConfigs));
        assert_eq!(ApiKey::try_from(-1), Err(DecodeError::UnknownApiKey(-1)));
        assert_eq!(
            ApiKey::try_from(1000),
            Err(DecodeError::UnknownApiKey(1000))
        );
    }
}
