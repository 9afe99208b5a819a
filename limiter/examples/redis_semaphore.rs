//! One limit shared by every process: run this in several terminals at once and the jobs of
//! all of them together never exceed 8 at a time. A rate limit shared the same way paces the
//! calls to a (pretend) rate-limited API.
//!
//! Needs a Redis server: `REDIS_URL`, or `redis://127.0.0.1:6379`.
//! Run with `cargo run -p asyncperf-limiter --features redis --example redis_semaphore`.

use std::time::Duration;

use asyncperf_limiter::{RedisRateLimiter, RedisSemaphore, redis};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(url)?;

    let jobs = RedisSemaphore::builder(client.clone(), "example:jobs", 8)
        .lease(Duration::from_secs(5))
        .build()?;
    let api = RedisRateLimiter::builder(client, "example:api")
        .per_second(20)
        .burst(5)
        .build()?;

    let mut tasks = tokio::task::JoinSet::new();
    for job in 0..32 {
        let jobs = jobs.clone();
        let api = api.clone();
        tasks.spawn(async move {
            let permit = jobs.acquire().await?;
            api.acquire("upstream").await?;
            let work = tokio::time::sleep(Duration::from_millis(100));
            tokio::select! {
                () = permit.lost() => println!("job {job}: lease lost, stopping"),
                () = work => println!("job {job} done with fencing token {}", permit.fencing_token()),
            }
            permit.release().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    // Releases of dropped permits travel in the background: make sure they reached Redis.
    jobs.flush().await?;
    Ok(())
}
