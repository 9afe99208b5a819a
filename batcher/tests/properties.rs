//! Random interleavings of loads, dropped callers, flushes and batch outcomes (values,
//! omitted keys, per-key errors, whole-batch errors, panics), checked step by step against a
//! sequential model of what each caller must get and what the batch function must see.
//!
//! The runtime is current-thread and every step ends by letting all ready tasks run, so the
//! real batcher is deterministic and must agree with the model after every step: the same
//! batch function calls with the same keys, and exactly the answers the model predicts, at
//! the step the model predicts them.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asyncperf_batcher::{BatchError, Batcher};
use common::{TestError, quiet_panics, settle};
use proptest::prelude::*;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

type Key = u64;
type B = Batcher<Key, u64, TestError>;

/// How the test resolves one batch function call.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Answer each key by `per_key(seed, key)`.
    Ok(u32),
    /// `Err` for the whole batch.
    Err,
    /// Panic inside the batch function's future.
    Panic,
}

#[derive(Debug, Clone)]
enum Op {
    Load(Key),
    /// Drop the caller at this index (modulo the callers so far), if still waiting.
    Drop(usize),
    Flush,
    /// Resolve the outstanding call at this index (modulo the outstanding calls).
    Complete(usize, Fate),
}

/// What one caller ends with, comparable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Value(u64),
    NotFound,
    Failed,
    KeyFailed,
    Panicked,
    Other(String),
}

impl From<&Result<u64, BatchError<TestError>>> for Answer {
    fn from(r: &Result<u64, BatchError<TestError>>) -> Self {
        match r {
            Ok(v) => Self::Value(*v),
            Err(BatchError::NotFound) => Self::NotFound,
            Err(BatchError::Failed(_)) => Self::Failed,
            Err(BatchError::KeyFailed(_)) => Self::KeyFailed,
            Err(BatchError::Panicked) => Self::Panicked,
            Err(other) => Self::Other(other.to_string()),
        }
    }
}

/// What an `Ok(seed)` batch says about `key`: a value, nothing, or (per-key mode) an error.
fn per_key(seed: u32, key: Key, per_key_mode: bool) -> Answer {
    match (u64::from(seed) ^ key.wrapping_mul(0x9e37_79b9)) % 5 {
        0 => Answer::NotFound,
        1 if per_key_mode => Answer::KeyFailed,
        _ => Answer::Value(key * 1000 + u64::from(seed % 1000)),
    }
}

fn fate_answer(fate: Fate, key: Key, per_key_mode: bool) -> Answer {
    match fate {
        Fate::Ok(seed) => per_key(seed, key, per_key_mode),
        Fate::Err => Answer::Failed,
        Fate::Panic => Answer::Panicked,
    }
}

// ---------------------------------------------------------------------------------------
// The model: one key at a time, no concurrency.

#[derive(Debug)]
struct KeyState {
    callers: Vec<usize>,
}

#[derive(Debug, Default)]
struct Model {
    max_batch_size: usize,
    tick: bool,
    per_key: bool,
    /// Keys of the open batch, in arrival order.
    open: Vec<Key>,
    /// Keys waiting or being fetched, with their callers.
    entries: HashMap<Key, KeyState>,
    /// Every call the batch function must have received, in order; `None` once resolved.
    calls: Vec<Option<Vec<Key>>>,
    /// Per caller: dropped, and the answer it must have received (if any yet).
    dropped: Vec<bool>,
    answers: Vec<Option<Answer>>,
    pruned: u64,
    coalesced: u64,
}

impl Model {
    fn load(&mut self, key: Key) {
        let caller = self.answers.len();
        self.answers.push(None);
        self.dropped.push(false);
        if let Some(state) = self.entries.get_mut(&key) {
            state.callers.push(caller);
            self.coalesced += 1;
            return;
        }
        self.entries.insert(
            key,
            KeyState {
                callers: vec![caller],
            },
        );
        self.open.push(key);
        if self.open.len() == self.max_batch_size || self.tick {
            self.dispatch();
        }
    }

    fn drop_caller(&mut self, i: usize) -> Option<usize> {
        if self.answers.is_empty() {
            return None;
        }
        let caller = i % self.answers.len();
        if self.answers[caller].is_some() || self.dropped[caller] {
            return None;
        }
        self.dropped[caller] = true;
        Some(caller)
    }

    fn flush(&mut self) {
        if !self.open.is_empty() {
            self.dispatch();
        }
    }

    /// The open batch leaves: keys nobody waits for are pruned, the rest become a call.
    fn dispatch(&mut self) {
        let mut keys = std::mem::take(&mut self.open);
        keys.retain(|k| {
            let live = self.entries[k].callers.iter().any(|&c| !self.dropped[c]);
            if !live {
                self.entries.remove(k);
                self.pruned += 1;
            }
            live
        });
        if !keys.is_empty() {
            self.calls.push(Some(keys));
        }
    }

    fn outstanding(&self) -> Vec<usize> {
        (0..self.calls.len())
            .filter(|&i| self.calls[i].is_some())
            .collect()
    }

    fn complete(&mut self, call: usize, fate: Fate) {
        let keys = self.calls[call].take().expect("outstanding");
        for key in keys {
            let state = self.entries.remove(&key).expect("key of a running call");
            let answer = fate_answer(fate, key, self.per_key);
            for caller in state.callers {
                if !self.dropped[caller] {
                    self.answers[caller] = Some(answer.clone());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The real batcher, driven step by step.

/// One call the batch function received, waiting for the test to decide its fate.
struct Received {
    keys: Vec<Key>,
    fate: oneshot::Sender<Fate>,
}

#[derive(Default)]
struct Backend {
    received: Mutex<Vec<Option<Received>>>,
    /// Every call's keys, in call order (kept after resolution).
    log: Mutex<Vec<Vec<Key>>>,
}

impl Backend {
    fn receive(&self, keys: &[Key]) -> oneshot::Receiver<Fate> {
        let (tx, rx) = oneshot::channel();
        self.log.lock().unwrap().push(keys.to_vec());
        self.received.lock().unwrap().push(Some(Received {
            keys: keys.to_vec(),
            fate: tx,
        }));
        rx
    }
}

fn batcher(backend: &Arc<Backend>, max: usize, tick: bool, per_key_mode: bool) -> B {
    let builder = Batcher::builder().max_batch_size(max).max_delay(if tick {
        Duration::ZERO
    } else {
        Duration::MAX
    });
    let backend = Arc::clone(backend);
    if per_key_mode {
        builder.build_per_key(move |keys: Vec<Key>| {
            let fate = backend.receive(&keys);
            async move {
                match fate.await.expect("test decides every fate") {
                    Fate::Ok(seed) => Ok(keys
                        .into_iter()
                        .filter_map(|k| match per_key(seed, k, true) {
                            Answer::Value(v) => Some((k, Ok(v))),
                            Answer::KeyFailed => Some((k, Err(TestError("key")))),
                            _ => None,
                        })
                        .collect::<HashMap<_, _>>()),
                    Fate::Err => Err(TestError("batch")),
                    Fate::Panic => panic!("intentional: batch function panics"),
                }
            }
        })
    } else {
        builder.build(move |keys: Vec<Key>| {
            let fate = backend.receive(&keys);
            async move {
                match fate.await.expect("test decides every fate") {
                    Fate::Ok(seed) => Ok(keys
                        .into_iter()
                        .filter_map(|k| match per_key(seed, k, false) {
                            Answer::Value(v) => Some((k, v)),
                            _ => None,
                        })
                        .collect()),
                    Fate::Err => Err(TestError("batch")),
                    Fate::Panic => panic!("intentional: batch function panics"),
                }
            }
        })
    }
}

type Results = Arc<Mutex<Vec<Option<Answer>>>>;

fn check_step(model: &Model, backend: &Backend, results: &Results, step: &str) {
    let log = backend.log.lock().unwrap().clone();
    for keys in &log {
        assert!(!keys.is_empty(), "{step}: empty batch");
        assert!(
            keys.len() <= model.max_batch_size,
            "{step}: batch of {} > max",
            keys.len()
        );
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            keys.len(),
            "{step}: duplicate key in {keys:?}"
        );
    }
    let expected: Vec<Vec<Key>> = model
        .calls
        .iter()
        .zip(&log)
        .map(|(m, real)| m.clone().unwrap_or_else(|| real.clone()))
        .collect();
    assert_eq!(
        log.len(),
        model.calls.len(),
        "{step}: number of batch calls"
    );
    assert_eq!(log, expected, "{step}: keys of each batch call");
    let results = results.lock().unwrap();
    for (caller, want) in model.answers.iter().enumerate() {
        if model.dropped[caller] {
            assert_eq!(
                results[caller], None,
                "{step}: dropped caller {caller} was answered"
            );
        } else {
            assert_eq!(&results[caller], want, "{step}: caller {caller}");
        }
    }
}

fn run(ops: &[Op], max: usize, tick: bool, per_key_mode: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let backend = Arc::new(Backend::default());
        let b = batcher(&backend, max, tick, per_key_mode);
        let mut model = Model {
            max_batch_size: max,
            tick,
            per_key: per_key_mode,
            ..Model::default()
        };
        let results: Results = Arc::default();
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();

        let resolve = |backend: &Backend, model: &mut Model, call: usize, fate: Fate| {
            let received = backend.received.lock().unwrap()[call]
                .take()
                .expect("call received");
            assert_eq!(Some(&received.keys), model.calls[call].as_ref());
            model.complete(call, fate);
            received
                .fate
                .send(fate)
                .expect("batch task waits for its fate");
        };

        for (n, op) in ops.iter().enumerate() {
            match *op {
                Op::Load(key) => {
                    let caller = tasks.len();
                    results.lock().unwrap().push(None);
                    let (b, results) = (b.clone(), Arc::clone(&results));
                    tasks.push(tokio::spawn(async move {
                        let answer = Answer::from(&b.load(key).await);
                        results.lock().unwrap()[caller] = Some(answer);
                    }));
                    model.load(key);
                }
                Op::Drop(i) => {
                    if let Some(caller) = model.drop_caller(i) {
                        tasks[caller].abort();
                    }
                }
                Op::Flush => {
                    b.flush();
                    model.flush();
                }
                Op::Complete(i, fate) => {
                    let outstanding = model.outstanding();
                    if !outstanding.is_empty() {
                        let call = outstanding[i % outstanding.len()];
                        resolve(&backend, &mut model, call, fate);
                    }
                }
            }
            settle().await;
            check_step(&model, &backend, &results, &format!("step {n} ({op:?})"));
        }

        // Wind down: everything still waiting is dispatched and answered; nobody hangs.
        b.flush();
        model.flush();
        settle().await;
        for call in model.outstanding() {
            resolve(&backend, &mut model, call, Fate::Ok(7));
        }
        settle().await;
        check_step(&model, &backend, &results, "end");
        for (caller, task) in tasks.into_iter().enumerate() {
            if !model.dropped[caller] {
                task.await.expect("caller finished");
            }
        }
        let stats = b.stats();
        let log = backend.log.lock().unwrap();
        assert_eq!(stats.batches, log.len() as u64);
        assert_eq!(
            stats.keys_loaded,
            log.iter().map(Vec::len).sum::<usize>() as u64
        );
        assert_eq!(stats.keys_pruned, model.pruned);
        assert_eq!(stats.keys_coalesced, model.coalesced);
        assert_eq!((stats.in_flight, stats.queued_keys), (0, 0));
    });
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        6 => any::<u32>().prop_map(Fate::Ok),
        1 => Just(Fate::Err),
        1 => Just(Fate::Panic),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..8u64).prop_map(Op::Load),
        3 => any::<usize>().prop_map(Op::Drop),
        2 => Just(Op::Flush),
        4 => (any::<usize>(), fate()).prop_map(|(i, f)| Op::Complete(i, f)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn every_caller_gets_what_the_sequential_model_says(
        ops in prop::collection::vec(op(), 1..60),
        max in 1..5usize,
        tick in any::<bool>(),
        per_key_mode in any::<bool>(),
    ) {
        quiet_panics();
        run(&ops, max, tick, per_key_mode);
    }
}
