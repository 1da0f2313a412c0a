//! Background work the service owns beside its HTTP workers — follow-up calls to TSH after a
//! callback was answered, the event feed's delivery, counter pruning — and the orderly stop of
//! all of it on SIGTERM: stop asking for new work, let what is in flight finish (bounded), so no
//! TSH call or delivery is cut between its request and the record of its outcome.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Spawns and tracks background tasks; cheap to clone (all clones share one tracker).
#[derive(Clone, Debug)]
pub struct Background {
    tracker: TaskTracker,
    stop: CancellationToken,
    /// The runtime that outlives the HTTP workers (actix stops each worker's own runtime at
    /// shutdown, which would cancel a task spawned there mid-call). `None` outside a runtime.
    runtime: Option<Handle>,
}

/// What the drain found when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every tracked task finished.
    Complete,
    /// The deadline passed with this many tasks still running; they are dropped with the runtime.
    TimedOut { still_running: usize },
}

impl Default for Background {
    fn default() -> Self {
        Self::new()
    }
}

impl Background {
    /// Tied to the runtime current at construction (the service's main runtime).
    pub fn new() -> Background {
        Background {
            tracker: TaskTracker::new(),
            stop: CancellationToken::new(),
            runtime: Handle::try_current().ok(),
        }
    }

    /// Runs `task` on the main runtime, tracked: shutdown waits for it (up to its deadline).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match &self.runtime {
            Some(runtime) => drop(self.tracker.spawn_on(task, runtime)),
            None => drop(self.tracker.spawn(task)),
        }
    }

    /// Resolves when shutdown has begun: long-running loops finish their current step and return.
    pub fn stopping(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.stop.cancelled()
    }

    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Signals every loop to stop and waits up to `deadline` for tracked tasks to finish.
    pub async fn drain(&self, deadline: Duration) -> Drained {
        self.stop.cancel();
        self.tracker.close();
        match tokio::time::timeout(deadline, self.tracker.wait()).await {
            Ok(()) => Drained::Complete,
            Err(_) => Drained::TimedOut {
                still_running: self.tracker.len(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn drain_waits_for_a_task_in_flight_to_finish() {
        let background = Background::new();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        background.spawn(async move {
            let _ = started_tx.send(());
            tokio::task::yield_now().await;
            flag.store(true, Ordering::SeqCst);
        });
        started_rx.await.unwrap();
        let drained = background.drain(Duration::from_secs(60)).await;
        assert_eq!(drained, Drained::Complete);
        assert!(finished.load(Ordering::SeqCst));
    }

    // Paused time: the clock only advances when every task is idle, so the loop always sees the
    // stop before the deadline passes, however loaded the machine is.
    #[tokio::test(start_paused = true)]
    async fn loops_see_the_stop_and_a_stuck_task_is_reported_at_the_deadline() {
        let background = Background::new();
        let looping = background.clone();
        background.spawn(async move {
            looping.stopping().await;
        });
        background.spawn(std::future::pending());
        let drained = background.drain(Duration::from_millis(50)).await;
        assert_eq!(drained, Drained::TimedOut { still_running: 1 });
        assert!(background.is_stopping());
    }
}
