//! Helpers shared by the integration tests: a loader that waits at a gate and counts its calls.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use tokio::sync::watch;

/// A loader whose futures wait until the gate opens, counting calls, completions and drops.
#[derive(Clone)]
pub struct GatedLoader {
    open: watch::Sender<bool>,
    pub calls: Arc<AtomicUsize>,
    pub finished: Arc<AtomicUsize>,
    pub dropped: Arc<AtomicUsize>,
}

impl GatedLoader {
    pub fn new() -> Self {
        Self {
            open: watch::Sender::new(false),
            calls: Arc::default(),
            finished: Arc::default(),
            dropped: Arc::default(),
        }
    }

    pub fn open(&self) {
        self.open.send_replace(true);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(SeqCst)
    }

    pub fn finished(&self) -> usize {
        self.finished.load(SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(SeqCst)
    }

    /// A loader closure that returns `result(key)` once the gate is open.
    pub fn loader<K, T, E, R>(
        &self,
        result: R,
    ) -> impl FnOnce(K) -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send>> + use<K, T, E, R>
    where
        K: Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
        R: FnOnce(K) -> Result<T, E> + Send + 'static,
    {
        let this = self.clone();
        move |key| {
            this.calls.fetch_add(1, SeqCst);
            let mut open = this.open.subscribe();
            let on_drop = CountDrop(Arc::clone(&this.dropped));
            Box::pin(async move {
                let _on_drop = on_drop;
                open.wait_for(|open| *open).await.expect("gate kept");
                this.finished.fetch_add(1, SeqCst);
                result(key)
            })
        }
    }
}

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A hang guard for real-time waits: generous, never a timing assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// Yields until `done()` holds (another task must make progress), failing after `HANG_GUARD`.
pub async fn until(mut done: impl FnMut() -> bool) {
    tokio::time::timeout(HANG_GUARD, async {
        while !done() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("condition not reached before the hang guard");
}
