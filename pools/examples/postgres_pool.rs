//! A PostgreSQL pool sized for the database server's cores: queries with a command timeout,
//! a read retried across a restart, and the metrics.
//!
//! Run with PostgreSQL on 127.0.0.1:5432 (or set `DATABASE_URL`):
//! `cargo run -p asyncperf-pools --example postgres_pool`

use std::time::Duration;

use asyncperf_pools::{
    DbPoolError, Idempotency, PoolConfig, PoolKind, PostgresPoolError, postgres_pool,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    // The database server has 4 cores: 10..=16 connections.
    let config = PoolConfig::for_kind_on(PoolKind::DatabaseHeavy, 4)
        .command_timeout(Some(Duration::from_secs(1)));
    let pool = postgres_pool(&url, config).await?;

    let mut conn = pool.get().await?;
    let row = conn.query_one("SELECT version()", &[]).await?;
    println!("{}", row.get::<_, String>(0));

    // Past `command_timeout` the server cancels the statement; the connection stays usable.
    match conn.query("SELECT pg_sleep(3)", &[]).await {
        Err(DbPoolError::CommandTimeout { timeout }) => println!("cancelled after {timeout:?}"),
        other => println!("unexpected: {other:?}"),
    }
    drop(conn);

    // A read, retried once on a fresh connection if its connection breaks mid-flight.
    let backends: i64 = pool
        .run(Idempotency::Idempotent, |conn| {
            Box::pin(async move {
                let row = conn
                    .query_one("SELECT count(*) FROM pg_stat_activity", &[])
                    .await?;
                Ok::<_, PostgresPoolError>(row.get(0))
            })
        })
        .await?;
    println!("backends = {backends}");

    println!("{:#?}", pool.metrics());
    Ok(())
}
