//! `RedisRateLimiter` against the real Redis server: GCRA answers at chosen instants, key
//! expiry, typed errors, and the achieved rate over 10 s of real (server) time.

#![cfg(feature = "redis")]

mod redis_support;

use std::time::{Duration, SystemTime};

use asyncperf_limiter::redis::{self, AsyncCommands};
use asyncperf_limiter::{RateError, RedisRateError, RedisRateLimiter, TimeSource};
use redis_support::{client, connection, server_time, unique, within};

const HANG: Duration = Duration::from_secs(30);

#[test]
fn bad_configurations_are_typed_errors() {
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let no_runtime = RedisRateLimiter::builder(client.clone(), "x")
        .per_second(1)
        .build();
    assert!(matches!(no_runtime, Err(RedisRateError::NoRuntime)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let no_rate = RedisRateLimiter::builder(client.clone(), "x").build();
        assert!(matches!(
            no_rate,
            Err(RedisRateError::Invalid(RateError::ZeroRate))
        ));
        let no_burst = RedisRateLimiter::builder(client.clone(), "x")
            .per_second(5)
            .burst(0)
            .build();
        assert!(matches!(
            no_burst,
            Err(RedisRateError::Invalid(RateError::ZeroBurst))
        ));
        // Too many tokens at once is refused without asking the (here absent) server.
        let limiter =
            RedisRateLimiter::builder(redis::Client::open("redis://127.0.0.1:9").unwrap(), "x")
                .per_second(5)
                .build()
                .unwrap();
        assert!(matches!(
            limiter.allow_n("k", 6).await,
            Err(RedisRateError::Invalid(RateError::ExceedsBurst {
                requested: 6,
                burst: 5
            }))
        ));
        let error = within(HANG, "allow", limiter.allow("k")).await.unwrap_err();
        assert!(error.is_connection_error(), "{error:?}");
    });
}

#[tokio::test]
async fn gcra_answers_at_chosen_instants() {
    let Some(client) = client() else { return };
    // 10 per second (one token per 100 ms), 5 at once.
    let limiter = RedisRateLimiter::builder(client.clone(), unique("gcra"))
        .per_second(10)
        .burst(5)
        .build()
        .unwrap();
    let t0 = SystemTime::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let ms = Duration::from_millis;

    let peek = limiter.allow_n_at("k", 0, at(0)).await.unwrap();
    assert!(peek.allowed);
    assert_eq!((peek.remaining, peek.reset_after), (5, ms(0)));
    for remaining in (0..5).rev() {
        let d = limiter.allow_n_at("k", 1, at(0)).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, remaining);
        assert_eq!(d.retry_after, None);
    }
    let denied = limiter.allow_n_at("k", 1, at(0)).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    assert_eq!(denied.retry_after, Some(ms(100)));
    assert_eq!(denied.reset_after, ms(500));

    // One token back after 100 ms, two after 250 ms (and 50 ms towards a third).
    let d = limiter.allow_n_at("k", 1, at(100)).await.unwrap();
    assert!(d.allowed && d.remaining == 0);
    let denied = limiter.allow_n_at("k", 2, at(250)).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 1);
    assert_eq!(denied.retry_after, Some(ms(50)));
    let d = limiter.allow_n_at("k", 2, at(300)).await.unwrap();
    assert!(d.allowed);
    assert_eq!((d.remaining, d.reset_after), (0, ms(500)));

    // Other keys are independent.
    assert!(
        limiter
            .allow_n_at("other", 5, at(300))
            .await
            .unwrap()
            .allowed
    );

    // The key expires once the bucket would be full again.
    let mut conn = connection(&client).await;
    let pttl: i64 = conn.pttl(limiter.redis_key("k")).await.unwrap();
    assert!(pttl > 0 && pttl <= 500, "{pttl}");
    // A peek writes nothing.
    let _: () = conn.persist(limiter.redis_key("k")).await.unwrap();
    limiter.allow_n_at("k", 0, at(400)).await.unwrap();
    let pttl: i64 = conn.pttl(limiter.redis_key("k")).await.unwrap();
    assert_eq!(pttl, -1);

    limiter.reset("k").await.unwrap();
    let exists: bool = conn.exists(limiter.redis_key("k")).await.unwrap();
    assert!(!exists);
    assert_eq!(
        limiter.allow_n_at("k", 5, at(400)).await.unwrap().remaining,
        0
    );
    limiter.reset("k").await.unwrap();
    limiter.reset("other").await.unwrap();
}

#[tokio::test]
async fn client_time_and_server_time_both_limit() {
    let Some(client) = client() else { return };
    for time in [TimeSource::Server, TimeSource::Client] {
        let limiter = RedisRateLimiter::builder(client.clone(), unique("clock"))
            .per_minute(60)
            .burst(3)
            .time_source(time)
            .build()
            .unwrap();
        for _ in 0..3 {
            assert!(limiter.allow("k").await.unwrap().allowed);
        }
        let denied = limiter.allow("k").await.unwrap();
        assert!(!denied.allowed, "{time:?}");
        let retry = denied.retry_after.unwrap();
        assert!(retry > Duration::from_millis(500) && retry <= Duration::from_secs(1));
        limiter.reset("k").await.unwrap();
    }
}

/// 8 tasks take tokens as fast as allowed for 10 s. The count can never exceed what GCRA
/// allows in the server-time window that brackets every call; and the limiter should not
/// leave much of the rate unused (the lower bound is loose: waiters wake late on a loaded
/// machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_holds_over_ten_seconds() {
    let Some(client) = client() else { return };
    const RATE: u32 = 200;
    const BURST: u32 = 20;
    let limiter = RedisRateLimiter::builder(client.clone(), unique("accuracy"))
        .per_second(RATE)
        .burst(BURST)
        .build()
        .unwrap();
    let mut conn = connection(&client).await;
    let start = server_time(&mut conn).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let mut granted = 0u64;
                while tokio::time::Instant::now() < deadline {
                    let decision = limiter.acquire("k").await.unwrap();
                    assert!(decision.allowed);
                    granted += 1;
                }
                granted
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        granted += within(Duration::from_secs(60), "task", task).await.unwrap();
    }
    let window = server_time(&mut conn).await - start;
    let allowed = f64::from(BURST) + f64::from(RATE) * window.as_secs_f64();
    println!(
        "{granted} tokens in {window:?} of server time; GCRA allows at most {allowed:.0} \
         ({:.1}%)",
        granted as f64 * 100.0 / allowed
    );
    assert!(granted as f64 <= allowed.ceil(), "rate exceeded");
    assert!(granted as f64 >= allowed * 0.8, "rate far below the limit");
    limiter.reset("k").await.unwrap();
}
