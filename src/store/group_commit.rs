//! Group commit: many concurrent writers, one fsync. Each writer asks for a flush after its
//! transaction; a dedicated thread takes every request waiting at that moment, runs the engine's
//! durable flush once (for sled: log write-out, then `fdatasync`), and only then answers them
//! all. Under load this turns N fsyncs into about one per batch, while each writer still only gets
//! its answer once its own data is on disk.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use tokio::sync::oneshot;

use super::StoreError;

type Flusher = Arc<dyn Fn() -> Result<(), StoreError> + Send + Sync>;
type Waiter = oneshot::Sender<Result<(), String>>;

/// Handle to the flush thread (cheap to clone). When the last handle is dropped the thread is
/// stopped and joined, so the store's files are released before `Store` finishes dropping.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    requests: Option<mpsc::Sender<Waiter>>,
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
        let (tx, rx) = mpsc::channel::<Waiter>();
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

    /// Resolves once everything written before this call is durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .requests
            .as_ref()
            .ok_or_else(|| StoreError::Io("group-commit thread is not running".to_owned()))?
            .send(tx)
            .map_err(|_| StoreError::Io("group-commit thread is not running".to_owned()))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Io(e)),
            Err(_) => Err(StoreError::Io("group-commit thread stopped".to_owned())),
        }
    }
}

fn run(rx: mpsc::Receiver<Waiter>, flush: Flusher) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let started = std::time::Instant::now();
        let result = flush().map_err(|e| e.to_string());
        crate::metrics::store_flush(started.elapsed());
        for waiter in batch {
            // A waiter that gave up (request cancelled) is fine to skip.
            let _ = waiter.send(result.clone());
        }
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

    #[tokio::test]
    async fn a_failing_flush_is_reported_to_every_waiter() {
        let commit = GroupCommit::start(Arc::new(|| Err(StoreError::Io("disk full".into()))));
        let err = commit.flush().await.unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
