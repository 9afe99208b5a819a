//! Properties: any sequence of loads, failed loads, lookups, inserts, invalidations, purges and
//! drops of held values behaves like a `HashMap` from key to "the value last stored, while
//! somebody holds it".

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use asyncperf_weakcache::{LoadError, WeakCache};
use proptest::prelude::*;

#[derive(Debug)]
struct Val {
    id: u64,
}

#[derive(Clone, Debug)]
enum Op {
    Load(u8),
    FailLoad(u8),
    Get(u8),
    Insert(u8),
    Invalidate(u8),
    DropHeld(usize),
    Purge,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..6;
    prop_oneof![
        4 => key.clone().prop_map(Op::Load),
        1 => key.clone().prop_map(Op::FailLoad),
        3 => key.clone().prop_map(Op::Get),
        2 => key.clone().prop_map(Op::Insert),
        1 => key.prop_map(Op::Invalidate),
        3 => any::<usize>().prop_map(Op::DropHeld),
        1 => Just(Op::Purge),
    ]
}

/// What the cache should hold: per key, the id of the value last stored; plus the values the
/// test still holds.
#[derive(Default)]
struct Model {
    stored: HashMap<u8, u64>,
    held: Vec<Arc<Val>>,
    loads: u64,
}

impl Model {
    /// The value a lookup of `key` must return: the stored one, if some held value is it.
    fn live(&self, key: u8) -> Option<&Arc<Val>> {
        let id = *self.stored.get(&key)?;
        self.held.iter().find(|v| v.id == id)
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cache: WeakCache<u8, Val> = WeakCache::builder().shards(2).build();
    let mut model = Model::default();
    let next_id = Arc::new(AtomicU64::new(0));
    let loader_calls = Arc::new(AtomicU64::new(0));

    for op in ops {
        match op {
            Op::Load(key) | Op::FailLoad(key) => {
                let fail = matches!(op, Op::FailLoad(_));
                let (ids, calls) = (Arc::clone(&next_id), Arc::clone(&loader_calls));
                let result = rt.block_on(cache.get_or_load(key, move |_| {
                    calls.fetch_add(1, SeqCst);
                    async move {
                        if fail {
                            Err("down")
                        } else {
                            Ok(Val {
                                id: ids.fetch_add(1, SeqCst),
                            })
                        }
                    }
                }));
                match (model.live(key).cloned(), result) {
                    (Some(live), Ok(got)) => prop_assert!(Arc::ptr_eq(&live, &got), "a hit"),
                    (Some(_), Err(e)) => prop_assert!(false, "a live key failed: {e:?}"),
                    (None, Ok(got)) => {
                        prop_assert!(!fail);
                        model.loads += 1;
                        model.stored.insert(key, got.id);
                        model.held.push(got);
                    }
                    (None, Err(LoadError::Failed(e))) => {
                        prop_assert!(fail);
                        prop_assert_eq!(*e, "down");
                        model.loads += 1;
                        model.stored.remove(&key);
                    }
                    (None, Err(e)) => prop_assert!(false, "unexpected {e:?}"),
                }
            }
            Op::Get(key) => {
                let got = cache.get(&key);
                match (model.live(key), &got) {
                    (Some(live), Some(got)) => prop_assert!(Arc::ptr_eq(live, got)),
                    (None, None) => {}
                    (want, got) => prop_assert!(false, "get({key}): want {want:?}, got {got:?}"),
                }
            }
            Op::Insert(key) => {
                let value = Arc::new(Val {
                    id: next_id.fetch_add(1, SeqCst),
                });
                let previous = cache.insert(key, Arc::clone(&value));
                let want = model.live(key).map(|v| v.id);
                prop_assert_eq!(previous.map(|v| v.id), want);
                model.stored.insert(key, value.id);
                model.held.push(value);
            }
            Op::Invalidate(key) => {
                let want = model.live(key).is_some();
                prop_assert_eq!(cache.invalidate(&key), want);
                model.stored.remove(&key);
            }
            Op::DropHeld(i) => {
                if !model.held.is_empty() {
                    let i = i % model.held.len();
                    model.held.swap_remove(i);
                }
            }
            Op::Purge => {
                cache.purge();
                let live = (0..6).filter(|&k| model.live(k).is_some()).count();
                prop_assert_eq!(cache.len(), live, "after purge only live entries remain");
            }
        }
        let live = (0..6).filter(|&k| model.live(k).is_some()).count();
        prop_assert!(
            cache.len() >= live,
            "len is an upper bound of the live entries"
        );
        prop_assert_eq!(loader_calls.load(SeqCst), model.loads);
        prop_assert_eq!(cache.stats().loads, model.loads);
    }
    model.held.clear();
    cache.purge();
    prop_assert!(cache.is_empty(), "nothing outlives its last holder");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn behaves_like_a_map_of_held_values(ops in proptest::collection::vec(op(), 1..64)) {
        run(ops)?;
    }
}
