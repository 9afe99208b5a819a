//! A Redis pool with the recommended size: plain commands (retried across a restart when
//! idempotent), an exclusive connection for a blocking command, and the metrics.
//!
//! Run with a Redis server on 127.0.0.1:6379 (or set `REDIS_URL`):
//! `cargo run -p asyncperf-pools --example redis_pool`

use std::time::Duration;

use asyncperf_pools::{DbPoolError, Idempotency, PoolConfig, PoolKind, redis_pool};
use redis::AsyncCommands;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let config =
        PoolConfig::for_kind(PoolKind::Redis).command_timeout(Some(Duration::from_secs(2)));
    let pool = redis_pool(&url, config).await?;

    // Idempotent commands are retried once on a fresh connection if the server restarts
    // while they are in flight.
    let () = pool
        .query(
            redis::cmd("SET")
                .arg("example:greeting")
                .arg("hello")
                .arg("EX")
                .arg(60),
        )
        .await?;
    let greeting: Option<String> = pool
        .query(redis::cmd("GET").arg("example:greeting"))
        .await?;
    println!("greeting = {greeting:?}");

    // INCR is not idempotent: cut mid-flight it fails with `Indeterminate`, never runs twice.
    match pool
        .query::<i64>(redis::cmd("INCR").arg("example:visits"))
        .await
    {
        Ok(n) => println!("visits = {n}"),
        Err(DbPoolError::Indeterminate(e)) => println!("INCR may or may not have run: {e}"),
        Err(e) => return Err(e.into()),
    }

    // Several commands on one connection, retried as a unit (they are all idempotent).
    let (a, b): (Option<String>, Option<String>) = pool
        .run(Idempotency::Idempotent, |conn| {
            Box::pin(async move {
                let a = conn.get("example:greeting").await?;
                let b = conn.get("example:missing").await?;
                Ok::<_, redis::RedisError>((a, b))
            })
        })
        .await?;
    println!("a = {a:?}, b = {b:?}");

    // A blocking command needs a connection of its own (and a command timeout above its own).
    let mut conn = pool.get().await?;
    let popped: Option<(String, String)> = conn.blpop("example:queue", 0.5).await?;
    println!("popped = {popped:?}");
    drop(conn);

    println!("{:#?}", pool.metrics());
    Ok(())
}
