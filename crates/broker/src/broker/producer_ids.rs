//! Producer id allocation (Kafka's `ProducerIdManager`): each broker claims
//! blocks of [`PRODUCER_ID_BLOCK_SIZE`] ids from ZooKeeper's
//! `/latest_producer_id_block` and hands them out one by one, so ids are
//! unique across the cluster and across restarts (a restarted broker claims a
//! fresh block; the rest of its old block is never used).

use std::future::Future;

use gregor_protocol::BrokerId;
use gregor_zk::client::{KafkaZkClient, ZkError};

/// Ids per block, as Kafka's `ProducerIdManager.PidBlockSize`.
pub(super) const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// Hands out producer ids from the block this broker holds.
pub(crate) struct ProducerIdManager {
    broker_id: BrokerId,
    /// The next id to hand out and the last id of the block; no block is
    /// held when the first is past the second. The lock is held while a new
    /// block is claimed, so concurrent callers wait for it instead of each
    /// claiming one.
    block: tokio::sync::Mutex<(i64, i64)>,
}

impl ProducerIdManager {
    /// A manager holding no block yet: start-up claims one with
    /// [`claim_first_block`](Self::claim_first_block).
    pub(crate) fn new(broker_id: BrokerId) -> Self {
        ProducerIdManager {
            broker_id,
            block: tokio::sync::Mutex::new((0, -1)),
        }
    }

    /// Claims a block now unless one is held: Kafka 2.8's
    /// `ProducerIdManager` claims its first block when the broker starts
    /// (so every broker start moves `/latest_producer_id_block` on, whether
    /// or not a producer ever asks for an id).
    pub(crate) async fn claim_first_block(&self, zk: &KafkaZkClient) -> Result<(), ZkError> {
        self.claim_first_with(|| {
            zk.allocate_producer_id_block(self.broker_id, PRODUCER_ID_BLOCK_SIZE)
        })
        .await
    }

    async fn claim_first_with<F, Fut>(&self, claim_block: F) -> Result<(), ZkError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(i64, i64), ZkError>>,
    {
        let mut block = self.block.lock().await;
        if block.0 > block.1 {
            *block = claim_block().await?;
        }
        Ok(())
    }

    /// A fresh producer id.
    pub(crate) async fn generate(&self, zk: &KafkaZkClient) -> Result<i64, ZkError> {
        self.generate_with(|| zk.allocate_producer_id_block(self.broker_id, PRODUCER_ID_BLOCK_SIZE))
            .await
    }

    async fn generate_with<F, Fut>(&self, claim_block: F) -> Result<i64, ZkError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(i64, i64), ZkError>>,
    {
        let mut block = self.block.lock().await;
        if block.0 > block.1 {
            *block = claim_block().await?;
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_come_from_the_block_and_a_new_block_follows() {
        let manager = ProducerIdManager::new(1);
        let mut claims = 0;
        let mut ids = Vec::new();
        for _ in 0..5 {
            let id = manager
                .generate_with(|| {
                    claims += 1;
                    let start = 100 * claims;
                    std::future::ready(Ok((start, start + 1)))
                })
                .await
                .unwrap();
            ids.push(id);
        }
        assert_eq!(ids, [100, 101, 200, 201, 300]);
        assert_eq!(claims, 3);
    }

    #[tokio::test]
    async fn a_failed_claim_is_retried_by_the_next_caller() {
        let manager = ProducerIdManager::new(1);
        let failed = manager
            .generate_with(|| {
                std::future::ready(Err(ZkError::ProducerIdsExhausted { last_block_end: 0 }))
            })
            .await;
        assert!(failed.is_err());
        let id = manager
            .generate_with(|| std::future::ready(Ok((7, 9))))
            .await
            .unwrap();
        assert_eq!(id, 7);
    }

    #[tokio::test]
    async fn the_block_claimed_at_start_up_serves_the_first_ids() {
        let manager = ProducerIdManager::new(1);
        manager
            .claim_first_with(|| std::future::ready(Ok((3000, 3999))))
            .await
            .unwrap();
        // Claimed already: a second start-up claim claims nothing.
        manager
            .claim_first_with(|| std::future::ready(Ok((4000, 4999))))
            .await
            .unwrap();
        let id = manager
            .generate_with(|| std::future::ready(Ok((5000, 5999))))
            .await
            .unwrap();
        assert_eq!(id, 3000);
    }
}
