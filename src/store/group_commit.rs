//! Group commit: one thread applies every queued write transaction in turn, then makes them all
//! durable with a single flush (for sled: log write-out, then `fdatasync`), and only then answers
//! their writers. Writers never run a transaction themselves, so a write costs one hand-off to
//! this thread instead of a blocking-pool thread plus a flush thread, and the engine's write lock
//! (sled serializes every write transaction in the process) is never contended. Under load the
//! queue fills while a flush runs, so the next batch is larger: N writes, one `fdatasync`; each
//! writer still gets its answer only once its own data is on disk.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use tokio::sync::oneshot;

use super::StoreError;

type Flusher = Arc<dyn Fn() -> Result<(), StoreError> + Send + Sync>;

/// Told the batch's flush result once it is known.
pub type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// Work run on the commit thread: applies a transaction and returns what to do once the batch is
/// durable, or `None` when it has already answered (a failed transaction has nothing to flush).
pub type Job = Box<dyn FnOnce() -> Option<Completion> + Send>;

/// Writes taken into one batch at most, so a flood cannot postpone its first answers forever.
const MAX_BATCH: usize = 512;

/// Handle to the flush thread (cheap to clone). When the last handle is dropped the thread is
/// stopped and joined, so the store's files are released before `Store` finishes dropping.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    requests: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; joining releases its handle on the store.
        self.requests.take();
        if let Some(handle) = self.thread.take() {
            let _ = handle.join();
        }
    }
}

impl GroupCommit {
    pub fn start(flush: Flusher) -> GroupCommit {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = thread::Builder::new()
            .name("store-group-commit".to_owned())
            .spawn(move || run(rx, flush));
        let thread = match spawned {
            Ok(handle) => Some(handle),
            Err(e) => {
                // Without the thread every flush request fails loudly instead of hanging.
                tracing::error!(error = %e, "could not start the group-commit thread");
                None
            }
        };
        GroupCommit {
            inner: Arc::new(Inner {
                requests: Some(tx),
                thread,
            }),
        }
    }

    /// Queues `job` for the commit thread.
    pub fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.inner
            .requests
            .as_ref()
            .ok_or_else(|| StoreError::Io("group-commit thread is not running".to_owned()))?
            .send(job)
            .map_err(|_| StoreError::Io("group-commit thread is not running".to_owned()))
    }

    /// Resolves once everything written before this call is durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(move || {
            Some(Box::new(move |flushed| {
                let _ = tx.send(flushed);
            }) as Completion)
        }))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Io(e)),
            Err(_) => Err(StoreError::Io("group-commit thread stopped".to_owned())),
        }
    }
}

fn run(rx: mpsc::Receiver<Job>, flush: Flusher) {
    while let Ok(first) = rx.recv() {
        let mut waiting = Vec::new();
        apply(first, &mut waiting);
        // Everything queued meanwhile joins this batch, up to MAX_BATCH (including writes that
        // arrived while the first ones were being applied).
        let mut taken = 1;
        while taken < MAX_BATCH {
            let Ok(job) = rx.try_recv() else { break };
            apply(job, &mut waiting);
            taken += 1;
        }
        if waiting.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let result = flush().map_err(|e| e.to_string());
        crate::metrics::store_flush(started.elapsed());
        for done in waiting {
            done(result.clone());
        }
    }
}

/// Runs one job. A panicking transaction drops its answer channel (its writer sees an error)
/// instead of taking the thread, and every later write, down with it.
fn apply(job: Job, waiting: &mut Vec<Completion>) {
    match catch_unwind(AssertUnwindSafe(job)) {
        Ok(Some(done)) => waiting.push(done),
        Ok(None) => {}
        Err(_) => tracing::error!("a store transaction panicked; its write was refused"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_share_flushes_and_all_complete() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let commit = GroupCommit::start(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            // A slow disk makes requests pile up behind the running flush.
            std::thread::sleep(Duration::from_millis(20));
            Ok(())
        }));
        let mut handles = Vec::new();
        for _ in 0..50 {
            let c = commit.clone();
            handles.push(tokio::spawn(async move { c.flush().await }));
        }
        for h in handles {
            h.await.unwrap().unwrap();
        }
        let flushes = calls.load(Ordering::SeqCst);
        assert!(flushes >= 1, "at least one flush");
        assert!(
            flushes < 50,
            "requests were batched, got {flushes} flushes for 50 requests"
        );
    }

    /// A job that records its run and answers once the batch is flushed.
    fn recording_job(
        runs: Arc<std::sync::Mutex<Vec<usize>>>,
        n: usize,
        answer: oneshot::Sender<Result<(), String>>,
    ) -> Job {
        Box::new(move || {
            runs.lock().unwrap().push(n);
            Some(Box::new(move |flushed| {
                let _ = answer.send(flushed);
            }) as Completion)
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_run_in_submission_order_and_are_answered_after_a_shared_flush() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counted = flushes.clone();
        let commit = GroupCommit::start(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            Ok(())
        }));
        let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut answers = Vec::new();
        for n in 0..40 {
            let (tx, rx) = oneshot::channel();
            commit.submit(recording_job(runs.clone(), n, tx)).unwrap();
            answers.push(rx);
        }
        for rx in answers {
            rx.await.unwrap().unwrap();
        }
        assert_eq!(*runs.lock().unwrap(), (0..40).collect::<Vec<_>>());
        let flushes = flushes.load(Ordering::SeqCst);
        assert!(flushes < 40, "{flushes} flushes for 40 queued jobs");
    }

    #[tokio::test]
    async fn a_panicking_job_fails_only_its_own_writer() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counted = flushes.clone();
        let commit = GroupCommit::start(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }));
        let (tx, rx) = oneshot::channel::<Result<(), String>>();
        commit
            .submit(Box::new(move || {
                let _keeps_the_answer_channel = &tx;
                panic!("transaction body bug")
            }))
            .unwrap();
        assert!(rx.await.is_err(), "the writer sees its write dropped");
        // The thread survived: a later write and a plain flush still complete.
        let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = oneshot::channel();
        commit.submit(recording_job(runs.clone(), 7, tx)).unwrap();
        rx.await.unwrap().unwrap();
        commit.flush().await.unwrap();
        assert_eq!(*runs.lock().unwrap(), vec![7]);
    }

    #[tokio::test]
    async fn a_job_with_nothing_to_flush_causes_no_flush() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counted = flushes.clone();
        let commit = GroupCommit::start(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }));
        let (tx, rx) = oneshot::channel();
        commit
            .submit(Box::new(move || {
                let _ = tx.send(());
                None
            }))
            .unwrap();
        rx.await.unwrap();
        commit.flush().await.unwrap();
        assert_eq!(flushes.load(Ordering::SeqCst), 1, "only the explicit flush");
    }

    #[tokio::test]
    async fn a_failing_flush_is_reported_to_every_waiter() {
        let commit = GroupCommit::start(Arc::new(|| Err(StoreError::Io("disk full".into()))));
        let err = commit.flush().await.unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
