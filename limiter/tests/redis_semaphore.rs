//! `RedisSemaphore` against the real Redis server: the limit holds across OS processes, a
//! killed holder's permits come back within one lease, cancelled acquires leave nothing
//! behind, waiters are woken (not polled), lost leases are reported, errors are typed.
//!
//! The multi-process tests re-run this test binary as child processes: the ignored test
//! `child` is their entry point (selected with `--exact child --ignored` and an environment
//! variable naming the role).

#![cfg(feature = "redis")]

mod redis_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use asyncperf_limiter::redis::{self, AsyncCommands};
use asyncperf_limiter::{RedisSemaphore, RedisSemaphoreError, TimeSource};
use redis_support::{client, connection, eventually, server_time, unique, within, zcard};

const ROLE_VAR: &str = "ASYNCPERF_LIMITER_CHILD_ROLE";
const NAME_VAR: &str = "ASYNCPERF_LIMITER_CHILD_NAME";
const HANG: Duration = Duration::from_secs(30);

fn semaphore(client: &redis::Client, name: &str, limit: u32) -> RedisSemaphore {
    RedisSemaphore::builder(client.clone(), name, limit)
        .build()
        .expect("valid configuration")
}

/// A semaphore with a 60 s lease: its fallback poll (every 20 s) never wakes a waiter within
/// a test's time.
fn long_lease(client: &redis::Client, name: &str, limit: u32) -> RedisSemaphore {
    RedisSemaphore::builder(client.clone(), name, limit)
        .lease(Duration::from_secs(60))
        .build()
        .expect("valid configuration")
}

#[test]
fn bad_configurations_are_typed_errors() {
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let build = |limit, lease| {
        RedisSemaphore::builder(client.clone(), "x", limit)
            .lease(lease)
            .build()
    };
    assert!(matches!(
        build(1, Duration::from_secs(1)),
        Err(RedisSemaphoreError::NoRuntime)
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(matches!(
            build(0, Duration::from_secs(1)),
            Err(RedisSemaphoreError::ZeroLimit)
        ));
        assert!(matches!(
            build(1, Duration::from_millis(99)),
            Err(RedisSemaphoreError::LeaseTooShort { .. })
        ));
        let zero_local = RedisSemaphore::builder(client.clone(), "x", 1)
            .local_limit(0)
            .build();
        assert!(matches!(
            zero_local,
            Err(RedisSemaphoreError::ZeroLocalLimit)
        ));
    });
}

#[tokio::test]
async fn an_unreachable_server_is_a_typed_error_not_a_hang() {
    // Port 9 (discard) is closed on the test machines.
    let client = redis::Client::open("redis://127.0.0.1:9").unwrap();
    let semaphore = RedisSemaphore::builder(client, unique("down"), 2)
        .command_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    for _ in 0..3 {
        let error = within(HANG, "acquire", semaphore.acquire())
            .await
            .unwrap_err();
        assert!(error.is_connection_error(), "{error:?}");
        assert!(matches!(error, RedisSemaphoreError::Redis(_)));
    }
    // The ids of those acquires are queued for release (a script might have run): flushing
    // them fails the same way.
    let error = within(HANG, "flush", semaphore.flush()).await.unwrap_err();
    assert!(error.is_connection_error(), "{error:?}");
    assert_eq!(semaphore.snapshot().local.in_flight, 0);
}

#[tokio::test]
async fn permits_are_bounded_released_on_drop_and_by_release() {
    let Some(client) = client() else { return };
    let name = unique("basic");
    let semaphore = semaphore(&client, &name, 2);
    let key = semaphore.holders_key().to_owned();

    let first = semaphore.acquire().await.unwrap();
    let second = semaphore.acquire().await.unwrap();
    assert_eq!(zcard(&client, &key).await, 2);
    let third = semaphore.acquire_timeout(Duration::from_millis(200)).await;
    assert!(matches!(third, Err(RedisSemaphoreError::Elapsed)));

    drop(first);
    let third = within(HANG, "acquire after a drop", semaphore.acquire())
        .await
        .unwrap();
    assert!(third.fencing_token() > second.fencing_token());
    assert!(!third.is_lost());
    second.release().await.unwrap();
    assert_eq!(zcard(&client, &key).await, 1);
    drop(third);
    semaphore.flush().await.unwrap();
    assert_eq!(zcard(&client, &key).await, 0);
    let snapshot = semaphore.snapshot();
    assert_eq!((snapshot.held, snapshot.lost, snapshot.errors), (0, 0, 0));
}

/// A permit dropped while a task of the process waits passes its lease (id and token) to that
/// task without a round trip; with nobody waiting, a drop releases it in Redis.
#[tokio::test]
async fn a_dropped_permit_passes_its_lease_to_a_local_waiter() {
    let Some(client) = client() else { return };
    // A window as long as the lease: whether the subscription has told yet that no other
    // process waits does not matter.
    let semaphore = RedisSemaphore::builder(client.clone(), unique("pass"), 1)
        .lease(Duration::from_secs(60))
        .pass_on_window(Duration::from_secs(60))
        .build()
        .unwrap();
    let first = semaphore.acquire().await.unwrap();
    let (id, token) = (first.id().to_owned(), first.fencing_token());
    let waiter = tokio::spawn(semaphore.acquire());
    eventually(HANG, "a local waiter", async || {
        semaphore.snapshot().local.waiting == 1
    })
    .await;
    let round_trips = semaphore.snapshot().round_trips;
    drop(first);
    let second = within(HANG, "the waiter", waiter).await.unwrap().unwrap();
    assert_eq!((second.id(), second.fencing_token()), (id.as_str(), token));
    let snapshot = semaphore.snapshot();
    assert_eq!((snapshot.round_trips, snapshot.passed_on), (round_trips, 1));
    assert_eq!(zcard(&client, semaphore.holders_key()).await, 1);
    // Nobody waits now: the release goes to Redis, and the next grant has a new token.
    second.release().await.unwrap();
    assert_eq!(zcard(&client, semaphore.holders_key()).await, 0);
    let third = semaphore.acquire().await.unwrap();
    assert!(third.fencing_token() > token);
    assert_eq!(semaphore.snapshot().passed_on, 1);
}

/// A lease kept for a local waiter that gave up before taking it is released within a few
/// milliseconds, not held until the lease expires.
#[tokio::test(flavor = "current_thread")]
async fn a_lease_kept_for_a_waiter_that_left_is_released() {
    let Some(client) = client() else { return };
    // A window as long as the lease: whether the subscription has told yet that no other
    // process waits does not matter.
    let semaphore = RedisSemaphore::builder(client.clone(), unique("spare"), 1)
        .lease(Duration::from_secs(60))
        .pass_on_window(Duration::from_secs(60))
        .build()
        .unwrap();
    let permit = semaphore.acquire().await.unwrap();
    let waiter = tokio::spawn(semaphore.acquire());
    eventually(HANG, "a local waiter", async || {
        semaphore.snapshot().local.waiting == 1
    })
    .await;
    // One thread: the waiter cannot run between the drop and the abort, so the lease kept for
    // it stays unclaimed.
    drop(permit);
    waiter.abort();
    assert_eq!(semaphore.snapshot().passed_on, 1);
    let started = Instant::now();
    eventually(HANG, "the kept lease released", async || {
        zcard(&client, semaphore.holders_key()).await == 0
    })
    .await;
    println!("released {:?} after the waiter left", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(semaphore.snapshot().held, 0);
}

/// The snapshot counts grants and the time spent in round trips: sequential acquires cost one
/// round trip each, and round trips take no longer than the wall time around them allows.
#[tokio::test]
async fn the_snapshot_counts_grants_and_round_trip_time() {
    let Some(client) = client() else { return };
    // From before the build: the subscription's probe may start before the first acquire.
    let start = Instant::now();
    let semaphore = semaphore(&client, &unique("counted"), 4);
    for _ in 0..3 {
        let permit = within(HANG, "acquire", semaphore.acquire()).await.unwrap();
        permit.release().await.unwrap();
    }
    let wall = start.elapsed();
    let snapshot = semaphore.snapshot();
    assert_eq!(snapshot.granted, 3);
    // Three acquires and three releases, each awaited before the next; and one more if the
    // subscription came up while nothing was asked (its probe: do other processes wait?).
    assert!(
        (6..=7).contains(&snapshot.round_trips),
        "{}",
        snapshot.round_trips
    );
    // At most two scripts are in flight at once (the probe may overlap an acquire).
    assert!(
        !snapshot.round_trip_time.is_zero() && snapshot.round_trip_time <= 2 * wall,
        "{:?} in round trips, {wall:?} in all",
        snapshot.round_trip_time
    );
}

#[tokio::test]
async fn fencing_tokens_grow_across_processes() {
    let Some(client) = client() else { return };
    let name = unique("fence");
    let a = semaphore(&client, &name, 1);
    let b = semaphore(&client, &name, 1);
    let mut last = 0;
    for round in 0..10 {
        let handle = if round % 2 == 0 { &a } else { &b };
        let permit = within(HANG, "acquire", handle.acquire()).await.unwrap();
        assert!(permit.fencing_token() > last);
        last = permit.fencing_token();
        permit.release().await.unwrap();
    }
}

/// What the script writes: the lease's score is the server's clock plus the lease, in whole
/// milliseconds; the fencing counter is the token handed out; both keys expire two leases
/// after the write (so an abandoned semaphore disappears).
#[tokio::test]
async fn a_lease_is_scored_on_server_time_and_its_keys_expire_when_idle() {
    let Some(client) = client() else { return };
    let lease = Duration::from_secs(2);
    let lease_ms = lease.as_millis() as u64;
    let semaphore = RedisSemaphore::builder(client.clone(), unique("written"), 2)
        .lease(lease)
        .build()
        .unwrap();
    let mut conn = connection(&client).await;
    let before = server_time(&mut conn).await.as_millis() as u64;
    let permit = within(HANG, "acquire", semaphore.acquire()).await.unwrap();
    let after = server_time(&mut conn).await.as_millis() as u64;

    let holders = semaphore.holders_key().to_owned();
    let score: String = conn.zscore(&holders, permit.id()).await.unwrap();
    let score: u64 = score.parse().expect("a whole number of milliseconds");
    assert!(
        (before + lease_ms..=after + lease_ms).contains(&score),
        "{before} + {lease_ms} <= {score} <= {after} + {lease_ms}"
    );
    let meta = format!("{}:meta", holders.strip_suffix(":holders").unwrap());
    let fence: u64 = conn.hget(&meta, "fence").await.unwrap();
    assert_eq!(fence, permit.fencing_token());
    for key in [&holders, &meta] {
        let pttl: i64 = conn.pttl(key).await.unwrap();
        assert!(
            pttl > lease_ms as i64 && pttl <= 2 * lease_ms as i64,
            "{key}: {pttl} ms"
        );
    }
    permit.release().await.unwrap();
}

#[tokio::test]
async fn client_time_works_for_servers_that_refuse_time_in_scripts() {
    let Some(client) = client() else { return };
    let semaphore = RedisSemaphore::builder(client.clone(), unique("client-time"), 1)
        .time_source(TimeSource::Client)
        .build()
        .unwrap();
    let permit = semaphore.acquire().await.unwrap();
    let blocked = semaphore.acquire_timeout(Duration::from_millis(100)).await;
    assert!(matches!(blocked, Err(RedisSemaphoreError::Elapsed)));
    permit.release().await.unwrap();
    assert_eq!(zcard(&client, semaphore.holders_key()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_cost_no_round_trips_and_are_woken_by_a_release_elsewhere() {
    let Some(client) = client() else { return };
    let name = unique("wake");
    // A long lease: the fallback poll (lease/3 = 20 s) cannot be what wakes the waiter.
    let holder = long_lease(&client, &name, 2);
    let waiter = long_lease(&client, &name, 2);
    let held = [
        holder.acquire().await.unwrap(),
        holder.acquire().await.unwrap(),
    ];

    let granted = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let waiter = waiter.clone();
            let granted = Arc::clone(&granted);
            tokio::spawn(async move {
                let permit = waiter.acquire().await?;
                granted.fetch_add(1, Ordering::SeqCst);
                Ok::<_, RedisSemaphoreError>(permit)
            })
        })
        .collect();
    eventually(HANG, "64 waiters queued", async || {
        waiter.snapshot().local.in_flight == 2 && waiter.snapshot().local.waiting == 62
    })
    .await;
    eventually(HANG, "the first attempt", async || {
        waiter.snapshot().round_trips >= 1 && waiter.snapshot().waiting == 2
    })
    .await;
    let before = waiter.snapshot().round_trips;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // 64 queued requests, and at most one round trip meanwhile (the subscription coming up
    // makes the driver look once more).
    assert!(waiter.snapshot().round_trips <= before + 1);
    assert_eq!(granted.load(Ordering::SeqCst), 0);

    let [first, second] = held;
    let released = Instant::now();
    first.release().await.unwrap();
    // (Seen once to time out in a full run, not since: the state of both, should it again.)
    while granted.load(Ordering::SeqCst) != 1 {
        assert!(
            released.elapsed() < Duration::from_secs(10),
            "no waiter woken after 10 s: waiter {:?}, holder {:?}",
            waiter.snapshot(),
            holder.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "woken {:?} after a release in another process",
        released.elapsed()
    );
    drop(second);
    holder.flush().await.unwrap();
    eventually(
        Duration::from_secs(10),
        "a second waiter woken",
        async || granted.load(Ordering::SeqCst) == 2,
    )
    .await;
    waiter.close();
    let mut closed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(permit) => drop(permit),
            Err(RedisSemaphoreError::Closed) => closed += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(closed, 62);
    waiter.flush().await.unwrap();
    assert_eq!(zcard(&client, waiter.holders_key()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_acquires_leave_no_member_behind() {
    let Some(client) = client() else { return };
    let name = unique("cancel");
    let semaphore = semaphore(&client, &name, 3);
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let semaphore = semaphore.clone();
            tokio::spawn(async move {
                let mut granted = 0;
                for round in 0..30u64 {
                    // Timeouts from 0 to 2 ms cut acquires at every stage: queued locally,
                    // queued for Redis, with the script in flight, just granted.
                    let budget = Duration::from_micros((task * 31 + round * 17) % 2_000);
                    if let Ok(Ok(permit)) = tokio::time::timeout(budget, semaphore.acquire()).await
                    {
                        granted += 1;
                        tokio::task::yield_now().await;
                        drop(permit);
                    }
                }
                granted
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        granted += within(HANG, "task", task).await.unwrap();
    }
    within(HANG, "flush", semaphore.flush()).await.unwrap();
    let base = semaphore
        .holders_key()
        .trim_end_matches(":holders")
        .to_owned();
    assert_eq!(
        zcard(&client, semaphore.holders_key()).await,
        0,
        "leases left"
    );
    assert_eq!(
        zcard(&client, &format!("{base}:queue")).await,
        0,
        "queue places left"
    );
    let snapshot = semaphore.snapshot();
    assert_eq!((snapshot.held, snapshot.waiting), (0, 0));
    assert_eq!(snapshot.local.in_flight, 0);
    println!("{granted} of 960 acquires granted, the rest cancelled; {snapshot:?}");
    // Every permit is free again: another process can take all three at once.
    let other = self::semaphore(&client, &name, 3);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(other.acquire_timeout(Duration::from_secs(5)).await.unwrap());
    }
}

#[tokio::test]
async fn a_lease_that_disappears_is_reported_lost() {
    let Some(client) = client() else { return };
    let semaphore = RedisSemaphore::builder(client.clone(), unique("lost"), 1)
        .lease(Duration::from_millis(900))
        .build()
        .unwrap();
    let permit = semaphore.acquire().await.unwrap();
    assert!(!permit.is_lost());
    let lost = permit.lost();
    // What a restart without persistence, or a pause longer than the lease, does.
    let _: () = connection(&client)
        .await
        .del(semaphore.holders_key())
        .await
        .unwrap();
    within(Duration::from_secs(10), "lost()", lost).await;
    assert!(permit.is_lost());
    assert_eq!(semaphore.snapshot().lost, 1);
    drop(permit);
    // The permit is free for others at once.
    let again = within(HANG, "acquire", semaphore.acquire()).await.unwrap();
    assert!(!again.is_lost());
}

/// `n` tasks that acquire on `busy`, count the permit, yield once and drop it, until `stop`.
fn hogs(
    busy: &RedisSemaphore,
    n: usize,
    count: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (busy, count, stop) = (busy.clone(), Arc::clone(count), Arc::clone(stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let permit = busy.acquire().await.unwrap();
                    count.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                    drop(permit);
                }
            })
        })
        .collect()
}

/// `quiet` acquires and releases five times, each within `budget`; then the hogs stop.
async fn quiet_gets_in(
    quiet: &RedisSemaphore,
    budget: Duration,
    stop: &AtomicBool,
    hogs: Vec<tokio::task::JoinHandle<()>>,
) {
    for _ in 0..5 {
        let permit = within(budget, "the quiet process", quiet.acquire())
            .await
            .unwrap();
        permit.release().await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for hog in hogs {
        hog.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_process_does_not_starve_another() {
    let Some(client) = client() else { return };
    let name = unique("fair");
    let busy = semaphore(&client, &name, 4);
    let quiet = semaphore(&client, &name, 4);
    let stop = Arc::new(AtomicBool::new(false));
    // 16 tasks release and re-acquire in a loop: each release travels with the next acquire
    // in one script, so without the queue of processes the set would never have room.
    let hogs = hogs(&busy, 16, &Arc::default(), &stop);
    eventually(HANG, "the busy process holds every permit", async || {
        busy.snapshot().held == 4
    })
    .await;
    quiet_gets_in(&quiet, Duration::from_secs(10), &stop, hogs).await;
}

/// A process passing leases among its own tasks stops as soon as another process starts
/// waiting: with a 60 s lease (a fallback poll every 20 s) only the "waiting" message can let
/// the quiet process in within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_process_gets_in_while_another_passes_leases_on() {
    let Some(client) = client() else { return };
    let name = unique("passfair");
    let busy = long_lease(&client, &name, 2);
    let quiet = long_lease(&client, &name, 2);
    let stop = Arc::new(AtomicBool::new(false));
    let hogs = hogs(&busy, 8, &Arc::default(), &stop);
    eventually(HANG, "leases passed on in the busy process", async || {
        busy.snapshot().passed_on > 1_000
    })
    .await;
    quiet_gets_in(&quiet, Duration::from_secs(5), &stop, hogs).await;
}

/// Processes that all keep waiting take turns: each grant may serve its process's tasks for
/// the pass-on window only, then goes back to Redis, whose queue of processes is round robin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_take_turns_while_passing_leases_on() {
    let Some(client) = client() else { return };
    let name = unique("turns");
    let handles: Vec<RedisSemaphore> = (0..4).map(|_| semaphore(&client, &name, 2)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Vec<Arc<AtomicU64>> = (0..4).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = handles
        .iter()
        .zip(&counts)
        .flat_map(|(handle, count)| hogs(handle, 8, count, &stop))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let counts: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let total: u64 = counts.iter().sum();
    let passed_on: u64 = handles.iter().map(|h| h.snapshot().passed_on).sum();
    println!("permits per process {counts:?}, {passed_on} passed on");
    assert!(passed_on > 0);
    for count in &counts {
        // A fair share is a quarter; a process left out would have next to nothing.
        assert!(*count * 10 >= total, "{counts:?}");
    }
}

// ---- multi-process tests ------------------------------------------------------------------

/// The entry point of the child processes.
#[test]
#[ignore = "entry point of the child processes of the multi-process tests"]
fn child() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let name = std::env::var(NAME_VAR).expect("child without a name");
    let client = client().expect("the parent checked the server");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match role.as_str() {
            "contend" => tokio::time::timeout(Duration::from_secs(120), contend(client, name))
                .await
                .expect("child hung"),
            "hold" => hold(client, name).await,
            other => panic!("unknown role {other}"),
        }
    });
}

const PROCESSES: usize = 4;
const TASKS: usize = 64;
const OPS_PER_TASK: usize = 25;
const PERMITS: u32 = 100;

/// 64 tasks acquire, count themselves in with INCR, hold briefly, count out with DECR.
async fn contend(client: redis::Client, name: String) {
    let mut conn = connection(&client).await;
    let probe = format!("{name}:probe");
    let _: i64 = conn.incr(format!("{name}:ready"), 1).await.unwrap();
    let _: Option<(String, String)> = conn.blpop(format!("{name}:go"), 60.0).await.unwrap();

    let semaphore = RedisSemaphore::builder(client.clone(), &name, PERMITS)
        .lease(Duration::from_secs(5))
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let semaphore = semaphore.clone();
            let mut conn = conn.clone();
            let probe = probe.clone();
            tokio::spawn(async move {
                let mut max = 0i64;
                let mut tokens = Vec::with_capacity(OPS_PER_TASK);
                let mut lost = 0;
                for op in 0..OPS_PER_TASK {
                    let permit = semaphore.acquire().await.unwrap();
                    let holders: i64 = conn.incr(&probe, 1).await.unwrap();
                    max = max.max(holders);
                    let hold = ((task * 7 + op * 13) % 20) as u64 * 100;
                    tokio::time::sleep(Duration::from_micros(hold)).await;
                    let _: i64 = conn.decr(&probe, 1).await.unwrap();
                    lost += usize::from(permit.is_lost());
                    tokens.push((permit.id().to_owned(), permit.fencing_token()));
                    drop(permit);
                }
                (max, tokens, lost)
            })
        })
        .collect();
    let (mut max, mut tokens, mut lost) = (0, Vec::new(), 0);
    for task in tasks {
        let (m, t, l) = task.await.unwrap();
        max = max.max(m);
        tokens.extend(t);
        lost += l;
    }
    semaphore.flush().await.unwrap();
    let ids: Vec<&str> = tokens.iter().map(|(id, _)| id.as_str()).collect();
    let pairs: Vec<String> = tokens.iter().map(|(id, t)| format!("{id} {t}")).collect();
    let tokens: Vec<u64> = tokens.iter().map(|&(_, token)| token).collect();
    let _: i64 = conn.sadd(format!("{name}:tokens"), &tokens).await.unwrap();
    let _: i64 = conn.sadd(format!("{name}:ids"), &ids).await.unwrap();
    let _: i64 = conn.sadd(format!("{name}:pairs"), &pairs).await.unwrap();
    let snapshot = semaphore.snapshot();
    println!(
        "asyncperf-child: max={max} ops={} lost={lost} errors={} round_trips={} passed_on={}",
        tokens.len(),
        snapshot.errors,
        snapshot.round_trips,
        snapshot.passed_on,
    );
}

/// Takes every permit, says so, and waits to be killed.
async fn hold(client: redis::Client, name: String) {
    let semaphore = RedisSemaphore::builder(client, &name, 2)
        .lease(KILL_LEASE)
        .build()
        .unwrap();
    let _a = semaphore.acquire().await.unwrap();
    let _b = semaphore.acquire().await.unwrap();
    println!("asyncperf-child: held");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

fn spawn_child(role: &str, name: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_VAR, role)
        .env(NAME_VAR, name)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn a child process")
}

fn child_line(output: &str) -> Option<&str> {
    // The harness may print `test child ... ` on the same line.
    output
        .lines()
        .find_map(|line| Some(&line[line.find("asyncperf-child: ")? + 17..]))
}

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

#[test]
fn four_processes_never_hold_more_than_the_limit() {
    let Some(client) = client() else { return };
    let name = unique("procs");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| spawn_child("contend", &name))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = connection(&client).await;
        let ready = format!("{name}:ready");
        eventually(Duration::from_secs(60), "children ready", async || {
            let n: Option<usize> = conn.clone().get(&ready).await.unwrap();
            n == Some(PROCESSES)
        })
        .await;
        // Start them together, so that they contend.
        let _: usize = conn
            .rpush(format!("{name}:go"), vec![1; PROCESSES])
            .await
            .unwrap();
    });
    let mut total = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child failed: {stdout}");
        let line = child_line(&stdout).unwrap_or_else(|| panic!("no report in {stdout}"));
        println!("{line}");
        assert!(
            field(line, "max") <= u64::from(PERMITS),
            "over-commit: {line}"
        );
        assert_eq!(field(line, "lost"), 0, "{line}");
        assert_eq!(field(line, "errors"), 0, "{line}");
        total += field(line, "ops");
    }
    assert_eq!(total, (PROCESSES * TASKS * OPS_PER_TASK) as u64);
    rt.block_on(async {
        let mut conn = connection(&client).await;
        // Every lease had its own fencing token, which the permits it was passed on to kept.
        let tokens: u64 = conn.scard(format!("{name}:tokens")).await.unwrap();
        let ids: u64 = conn.scard(format!("{name}:ids")).await.unwrap();
        let pairs: u64 = conn.scard(format!("{name}:pairs")).await.unwrap();
        assert_eq!((tokens, ids), (pairs, pairs));
        assert!(pairs <= total);
        let probe: i64 = conn.get(format!("{name}:probe")).await.unwrap();
        assert_eq!(probe, 0);
        let holders = format!("asyncperf:sem:{{{name}}}:holders");
        assert_eq!(zcard(&client, &holders).await, 0);
        let _: () = conn
            .del(&[
                format!("{name}:tokens"),
                format!("{name}:ids"),
                format!("{name}:pairs"),
                format!("{name}:probe"),
                format!("{name}:ready"),
            ])
            .await
            .unwrap();
    });
}

const KILL_LEASE: Duration = Duration::from_secs(2);

#[test]
fn a_killed_holder_frees_its_permits_within_one_lease() {
    let Some(client) = client() else { return };
    let name = unique("kill");
    let mut child = spawn_child("hold", &name);
    let stdout = child.stdout.take().unwrap();
    let held = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| child_line(&line) == Some("held"));
    assert!(held, "the child did not take its permits");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let semaphore = RedisSemaphore::builder(client.clone(), &name, 2)
            .lease(KILL_LEASE)
            .build()
            .unwrap();
        // The child really holds both permits...
        let blocked = semaphore.acquire_timeout(Duration::from_millis(300)).await;
        assert!(matches!(blocked, Err(RedisSemaphoreError::Elapsed)));
        // ...until it dies without releasing them.
        child.kill().unwrap();
        child.wait().unwrap();
        let killed = Instant::now();
        let a = within(HANG, "first permit", semaphore.acquire())
            .await
            .unwrap();
        let b = within(HANG, "second permit", semaphore.acquire())
            .await
            .unwrap();
        let recovered = killed.elapsed();
        println!("permits of a SIGKILLed holder back after {recovered:?} (lease {KILL_LEASE:?})");
        // Renewed at most lease/3 before the kill, so back after 2/3 to 1 lease; the slack
        // is for a loaded machine.
        assert!(
            recovered <= KILL_LEASE + Duration::from_millis(1500),
            "{recovered:?}"
        );
        let tokens: HashSet<_> = [a.fencing_token(), b.fencing_token()].into();
        assert_eq!(tokens.len(), 2);
    });
}
