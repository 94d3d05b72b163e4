//! How the sans-io core waits for ZooKeeper without doing I/O.
//!
//! Kafka's event handlers are sequential programs that consult ZooKeeper
//! between decisions (elect, write, re-read on a conflict, elect again).
//! They stay sequential here: a handler is an `async fn` whose only await
//! points are [`Port`] calls, which record a [`Decision`] and suspend until
//! the executor feeds the answer back. [`Suspended`] polls such a handler
//! by hand with a no-op waker, so nothing here needs a runtime: the
//! executor drives it with real ZooKeeper, tests drive it with scripted
//! answers, and both see every decision in order.
//!
//! Owns: the decision queue and the reply slot shared by the driver and the
//! handler. Must not depend on: tokio, the ZooKeeper client, sockets.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::context::Leadership;
use super::decision::{Decision, ZkFailure, ZkReply, ZkRequest};
use super::event::TopicSnapshot;
use gregor_protocol::TopicPartition;
use gregor_zk::data::{LeaderIsrAndControllerEpoch, PartitionReassignment, TopicAssignment};

/// Why a handler could not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Zk(#[from] ZkFailure),
    /// The executor answered a request with a reply of another kind.
    #[error("{request} answered with {reply:?}")]
    UnexpectedReply {
        request: &'static str,
        reply: Box<ZkReply>,
    },
    /// An event was fed while another one still waits for ZooKeeper.
    #[error("an event is still being handled")]
    Busy,
    /// The controller was deposed by an earlier fenced write.
    #[error("this broker is no longer the controller")]
    Deposed,
}

impl ControllerError {
    /// Another broker is the controller now: stop acting.
    pub fn is_controller_moved(&self) -> bool {
        matches!(
            self,
            ControllerError::Zk(ZkFailure::ControllerMoved) | ControllerError::Deposed
        )
    }
}

/// The outcome of a conditional write of a partition's state znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionalWrite {
    Written {
        zk_version: i32,
    },
    /// Not written; the znode's current state.
    Conflict {
        current: Option<Leadership>,
    },
}

#[derive(Debug, Default)]
struct Exchange {
    decisions: Vec<Decision>,
    reply: Option<Result<ZkReply, ZkFailure>>,
}

/// The handler's side: decisions go out, replies come in.
#[derive(Debug, Clone, Default)]
pub struct Port {
    exchange: Arc<Mutex<Exchange>>,
}

impl Port {
    fn with<R>(&self, f: impl FnOnce(&mut Exchange) -> R) -> R {
        f(&mut self.exchange.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Queues a decision that needs no answer.
    pub fn decide(&self, decision: Decision) {
        self.with(|e| e.decisions.push(decision));
    }

    /// Queues `request` and waits for the executor's answer.
    async fn ask(&self, request: ZkRequest) -> Result<ZkReply, ZkFailure> {
        self.decide(Decision::Zk(request));
        AwaitReply { port: self }.await
    }

    /// The decisions queued since the last call.
    fn take_decisions(&self) -> Vec<Decision> {
        self.with(|e| std::mem::take(&mut e.decisions))
    }

    fn answer(&self, reply: Result<ZkReply, ZkFailure>) {
        self.with(|e| e.reply = Some(reply));
    }

    async fn ask_done(
        &self,
        request: ZkRequest,
        name: &'static str,
    ) -> Result<(), ControllerError> {
        match self.ask(request).await? {
            ZkReply::Done => Ok(()),
            reply => Err(unexpected(name, reply)),
        }
    }

    pub async fn read_topic(&self, topic: &str) -> Result<Option<TopicSnapshot>, ControllerError> {
        let topic = topic.to_owned();
        match self.ask(ZkRequest::ReadTopic { topic }).await? {
            ZkReply::Topic(t) => Ok(t),
            reply => Err(unexpected("ReadTopic", reply)),
        }
    }

    pub async fn read_partition_state(
        &self,
        tp: &TopicPartition,
    ) -> Result<Option<Leadership>, ControllerError> {
        let tp = tp.clone();
        match self.ask(ZkRequest::ReadPartitionState { tp }).await? {
            ZkReply::PartitionState(l) => Ok(l),
            reply => Err(unexpected("ReadPartitionState", reply)),
        }
    }

    pub async fn read_topic_config(
        &self,
        topic: &str,
    ) -> Result<BTreeMap<String, String>, ControllerError> {
        let topic = topic.to_owned();
        match self.ask(ZkRequest::ReadTopicConfig { topic }).await? {
            ZkReply::TopicConfig(c) => Ok(c),
            reply => Err(unexpected("ReadTopicConfig", reply)),
        }
    }

    pub async fn create_partition_state(
        &self,
        tp: &TopicPartition,
        state: &LeaderIsrAndControllerEpoch,
    ) -> Result<ConditionalWrite, ControllerError> {
        let request = ZkRequest::CreatePartitionState {
            tp: tp.clone(),
            state: state.clone(),
        };
        conditional(self.ask(request).await?, "CreatePartitionState")
    }

    pub async fn update_partition_state(
        &self,
        tp: &TopicPartition,
        state: &LeaderIsrAndControllerEpoch,
        expected_zk_version: i32,
    ) -> Result<ConditionalWrite, ControllerError> {
        let request = ZkRequest::UpdatePartitionState {
            tp: tp.clone(),
            state: state.clone(),
            expected_zk_version,
        };
        conditional(self.ask(request).await?, "UpdatePartitionState")
    }

    /// Returns `false` if the topic is gone.
    pub async fn set_topic_assignment(
        &self,
        topic: &str,
        assignment: TopicAssignment,
    ) -> Result<bool, ControllerError> {
        let topic = topic.to_owned();
        match self
            .ask(ZkRequest::SetTopicAssignment { topic, assignment })
            .await?
        {
            ZkReply::Done => Ok(true),
            ZkReply::UnknownTopic => Ok(false),
            reply => Err(unexpected("SetTopicAssignment", reply)),
        }
    }

    pub async fn set_partition_reassignment(
        &self,
        remaining: Vec<PartitionReassignment>,
    ) -> Result<(), ControllerError> {
        let request = ZkRequest::SetPartitionReassignment { remaining };
        self.ask_done(request, "SetPartitionReassignment").await
    }

    pub async fn delete(&self, path: &str) -> Result<(), ControllerError> {
        let path = path.to_owned();
        self.ask_done(ZkRequest::Delete { path }, "Delete").await
    }

    pub async fn delete_topic_znodes(&self, topic: &str) -> Result<(), ControllerError> {
        let topic = topic.to_owned();
        let request = ZkRequest::DeleteTopicZnodes { topic };
        self.ask_done(request, "DeleteTopicZnodes").await
    }
}

fn unexpected(request: &'static str, reply: ZkReply) -> ControllerError {
    ControllerError::UnexpectedReply {
        request,
        reply: Box::new(reply),
    }
}

fn conditional(reply: ZkReply, request: &'static str) -> Result<ConditionalWrite, ControllerError> {
    match reply {
        ZkReply::Written { zk_version } => Ok(ConditionalWrite::Written { zk_version }),
        ZkReply::Conflict { current } => Ok(ConditionalWrite::Conflict { current }),
        reply => Err(unexpected(request, reply)),
    }
}

/// Ready once the executor answered.
struct AwaitReply<'a> {
    port: &'a Port,
}

impl Future for AwaitReply<'_> {
    type Output = Result<ZkReply, ZkFailure>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        match self.port.with(|e| e.reply.take()) {
            Some(reply) => Poll::Ready(reply),
            None => Poll::Pending,
        }
    }
}

/// A handler waiting for ZooKeeper, with the state it owns meanwhile.
pub struct Suspended<T> {
    handler: Pin<Box<dyn Future<Output = T> + Send>>,
}

/// How far a handler got.
pub enum Progress<T> {
    /// Waiting for the answer to the last decision, a [`Decision::Zk`].
    Waiting(Suspended<T>, Vec<Decision>),
    Finished(T, Vec<Decision>),
}

impl<T> Suspended<T> {
    /// Runs `handler` until it first waits for ZooKeeper or finishes.
    pub fn start(port: &Port, handler: impl Future<Output = T> + Send + 'static) -> Progress<T> {
        Suspended {
            handler: Box::pin(handler),
        }
        .run(port)
    }

    /// Feeds the answer to the request the handler waits for, and runs it on.
    pub fn resume(self, port: &Port, reply: Result<ZkReply, ZkFailure>) -> Progress<T> {
        port.answer(reply);
        self.run(port)
    }

    /// Polls the handler once; it is polled again when its answer is fed,
    /// never by a wake-up, so its waker does nothing.
    fn run(mut self, port: &Port) -> Progress<T> {
        match self
            .handler
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => Progress::Finished(output, port.take_decisions()),
            Poll::Pending => Progress::Waiting(self, port.take_decisions()),
        }
    }
}
