//! How a record's sender learns its fate: every record of a batch shares
//! the batch's outcome (Kafka's `ProduceRequestResult`), so a record costs
//! no allocation of its own; a [`DeliveryFuture`] is that outcome plus the
//! record's place in the batch (Kafka's `FutureRecordMetadata`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::{ProduceError, RecordMetadata};

/// What the broker said about a whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchAck {
    /// The offset of the batch's first record; -1 with `acks=0`.
    pub base_offset: i64,
    /// The broker's append time for `LogAppendTime` topics, else -1.
    pub log_append_time: i64,
}

pub(crate) type BatchResult = Result<BatchAck, ProduceError>;

/// Called once with a record's fate, on the producer's I/O task: it must
/// return quickly (Kafka's `Callback`).
pub type Callback = Box<dyn FnOnce(Result<RecordMetadata, ProduceError>) + Send>;

/// The outcome of one batch, set once, awaited by its records.
#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    state: Mutex<OutcomeState>,
}

#[derive(Debug, Default)]
struct OutcomeState {
    result: Option<BatchResult>,
    /// Tasks waiting for the result; a waiter keeps its slot index.
    wakers: Vec<Waker>,
}

impl BatchOutcome {
    /// Sets the result (the first one wins) and wakes every waiter.
    pub(crate) fn complete(&self, result: BatchResult) {
        let wakers = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.result.is_some() {
                return;
            }
            state.result = Some(result);
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .result
            .is_some()
    }

    /// The result if set; otherwise registers `cx`'s waker in `slot` (the
    /// same slot on every poll of one waiter).
    pub(crate) fn poll_result(
        &self,
        cx: &mut Context<'_>,
        slot: &mut Option<usize>,
    ) -> Poll<BatchResult> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(result) = &state.result {
            return Poll::Ready(result.clone());
        }
        match *slot {
            Some(i) => {
                if !state.wakers[i].will_wake(cx.waker()) {
                    state.wakers[i] = cx.waker().clone();
                }
            }
            None => {
                *slot = Some(state.wakers.len());
                state.wakers.push(cx.waker().clone());
            }
        }
        Poll::Pending
    }

    /// Waits until the result is set.
    pub(crate) async fn wait(&self) -> BatchResult {
        let mut slot = None;
        std::future::poll_fn(|cx| self.poll_result(cx, &mut slot)).await
    }
}

/// One record's place in its batch: what turns the batch's outcome into the
/// record's [`RecordMetadata`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordSlot {
    pub partition: i32,
    /// The record's offset delta in its batch.
    pub index: u32,
    /// The record's own timestamp (CreateTime).
    pub timestamp: i64,
}

impl RecordSlot {
    pub(crate) fn metadata(&self, result: BatchResult) -> Result<RecordMetadata, ProduceError> {
        let ack = result?;
        Ok(RecordMetadata {
            partition: self.partition,
            offset: match ack.base_offset {
                -1 => -1,
                base => base + i64::from(self.index),
            },
            timestamp: match ack.log_append_time {
                -1 => self.timestamp,
                append_time => append_time,
            },
        })
    }
}

/// Resolves to a record's [`RecordMetadata`] once its batch is acknowledged,
/// or to why it was not delivered. Dropping it does not cancel the send.
#[derive(Debug)]
#[must_use = "a send is only known to succeed once its DeliveryFuture resolves"]
pub struct DeliveryFuture {
    outcome: Arc<BatchOutcome>,
    record: RecordSlot,
    waker_slot: Option<usize>,
}

impl DeliveryFuture {
    pub(crate) fn new(outcome: Arc<BatchOutcome>, record: RecordSlot) -> Self {
        DeliveryFuture {
            outcome,
            record,
            waker_slot: None,
        }
    }

    /// Whether the record's fate is known (awaiting it will not wait).
    pub fn is_done(&self) -> bool {
        self.outcome.is_done()
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ProduceError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.outcome
            .poll_result(cx, &mut this.waker_slot)
            .map(|result| this.record.metadata(result))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use gregor_protocol::ErrorCode;

    fn slot(index: u32) -> RecordSlot {
        RecordSlot {
            partition: 3,
            index,
            timestamp: 1000 + i64::from(index),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_record_of_a_batch_gets_its_own_offset() {
        let outcome = Arc::new(BatchOutcome::default());
        let first = DeliveryFuture::new(Arc::clone(&outcome), slot(0));
        let second = DeliveryFuture::new(Arc::clone(&outcome), slot(1));
        assert!(!first.is_done());
        let waiter = tokio::spawn(second);
        tokio::time::sleep(Duration::from_millis(10)).await;
        outcome.complete(Ok(BatchAck {
            base_offset: 40,
            log_append_time: -1,
        }));
        let m = waiter.await.unwrap().unwrap();
        assert_eq!((m.partition, m.offset, m.timestamp), (3, 41, 1001), "{m:?}");
        assert!(first.is_done());
        let m = first.await.unwrap();
        assert_eq!((m.offset, m.timestamp), (40, 1000));
    }

    #[tokio::test]
    async fn log_append_time_and_acks_0_show_in_the_metadata() {
        let outcome = Arc::new(BatchOutcome::default());
        outcome.complete(Ok(BatchAck {
            base_offset: -1,
            log_append_time: 5555,
        }));
        let m = DeliveryFuture::new(outcome, slot(2)).await.unwrap();
        assert_eq!((m.offset, m.timestamp), (-1, 5555));
    }

    #[tokio::test]
    async fn the_first_result_wins_and_errors_reach_every_record() {
        let outcome = Arc::new(BatchOutcome::default());
        let error = ProduceError::Broker {
            topic: "t".into(),
            partition: 3,
            error: ErrorCode::INVALID_RECORD,
            message: None,
        };
        outcome.complete(Err(error.clone()));
        outcome.complete(Ok(BatchAck {
            base_offset: 1,
            log_append_time: -1,
        }));
        for i in 0..2 {
            let err = DeliveryFuture::new(Arc::clone(&outcome), slot(i))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    ProduceError::Broker {
                        error: ErrorCode::INVALID_RECORD,
                        ..
                    }
                ),
                "{err:?}"
            );
        }
        assert!(outcome.wait().await.is_err());
    }
}
