//! One tree for stopping background tasks.
//!
//! The broker creates the root [`Shutdown`] and hands a child to each
//! component that runs tasks; a component spawns its tasks on its node and
//! its shutdown stops that node, which stops the node's tasks and every
//! node below it and waits until they have finished. Stopping nodes one by
//! one keeps the order the broker's shutdown needs (Kafka's
//! `KafkaServer.shutdown` steps), and a task stopped this way is dropped at
//! an await point, never in the middle of a synchronous step.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A node of the shutdown tree: a cancellation token and the tasks spawned
/// under it.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    /// A root, stopped only by its owner.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// A node below this one: stopped with it, or on its own.
    pub fn child(&self) -> Shutdown {
        Shutdown {
            token: self.token.child_token(),
            tasks: TaskTracker::new(),
        }
    }

    /// Spawns `task` on this node: it runs until it ends or the node is
    /// stopped.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let token = self.token.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                biased;
                () = token.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Whether this node (or one above it) has been stopped.
    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Stops this node and those below it, and waits for this node's tasks
    /// to finish.
    pub async fn stop(&self) {
        self.token.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Sets its flag when dropped: the task it lives in has stopped.
    struct Dropped(Arc<AtomicBool>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn forever(node: &Shutdown) -> Arc<AtomicBool> {
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = Dropped(Arc::clone(&dropped));
        node.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        dropped
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_a_node_stops_its_tasks_and_its_children_but_not_its_parent() {
        let root = Shutdown::new();
        let node = root.child();
        let below = node.child();
        let (at_root, at_node) = (forever(&root), forever(&node));
        let at_below = forever(&below);
        tokio::time::sleep(Duration::from_secs(1)).await;
        node.stop().await;
        assert!(at_node.load(Ordering::SeqCst));
        assert!(below.is_stopped());
        below.stop().await;
        assert!(at_below.load(Ordering::SeqCst));
        assert!(!root.is_stopped());
        assert!(!at_root.load(Ordering::SeqCst));
        root.stop().await;
        assert!(at_root.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_task_that_ends_by_itself_is_not_waited_for_again() {
        let node = Shutdown::new();
        node.spawn(async {});
        node.stop().await;
        assert!(node.is_stopped());
    }
}
