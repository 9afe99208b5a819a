//! Helpers shared by the integration tests: a logging backend, a gate, settling the runtime,
//! quieting expected panics.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// The batch function's error in tests.
#[derive(Debug, PartialEq, Eq)]
pub struct TestError(pub &'static str);

impl std::fmt::Display for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The value every test backend returns for `key`.
pub fn value(key: u64) -> u64 {
    key * 10
}

pub fn echo(keys: &[u64]) -> HashMap<u64, u64> {
    keys.iter().map(|&k| (k, value(k))).collect()
}

/// The keys of every batch function call, in call order.
#[derive(Clone, Default, Debug)]
pub struct Log(Arc<Mutex<Vec<Vec<u64>>>>);

impl Log {
    pub fn record(&self, keys: &[u64]) {
        self.0.lock().unwrap().push(keys.to_vec());
    }

    pub fn calls(&self) -> Vec<Vec<u64>> {
        self.0.lock().unwrap().clone()
    }

    /// Each call's keys sorted, for comparisons that ignore order within a batch.
    pub fn sorted_calls(&self) -> Vec<Vec<u64>> {
        let mut calls = self.calls();
        for c in &mut calls {
            c.sort_unstable();
        }
        calls
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn keys_sent(&self) -> usize {
        self.0.lock().unwrap().iter().map(Vec::len).sum()
    }
}

/// A closed gate: batch functions wait on it until the test opens it.
pub fn gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(0))
}

pub async fn pass(gate: &Semaphore) {
    gate.acquire().await.expect("gate never closes").forget();
}

/// Lets every task that can run, run (current-thread runtime: deterministic). A yield puts
/// this task behind all others that are ready, so each round runs one more step of any
/// chain (caller -> batch task -> batch function -> caller).
pub async fn settle() {
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
}

/// Silences the expected panics' messages: those starting with "intentional" (the tests'
/// batch functions and keys), and tokio's when a timer is armed on a runtime without timers.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            let expected = message
                .is_some_and(|m| m.starts_with("intentional") || m.contains("timers are disabled"));
            if !expected {
                default(info);
            }
        }));
    });
}
