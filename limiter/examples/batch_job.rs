//! A batch job as it is usually written against a rate-limited API: at most 32 requests in
//! flight, at most 5 000 started per second, a 100 ms budget per request, every failure kept
//! with its input index, the outputs streamed in input order.
//!
//! Run with `cargo run -p asyncperf-limiter --example batch_job`.

use std::time::Duration;

use asyncperf_limiter::{ErrorPolicy, ItemError, RateLimiter, map};
use futures::StreamExt;

/// Stands in for an HTTP call: usually fast, sometimes slow, sometimes an error.
async fn call_api(id: u64) -> Result<String, String> {
    let ms = if id.is_multiple_of(97) {
        150
    } else {
        1 + id % 5
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    if id.is_multiple_of(101) {
        Err(format!("HTTP 503 for {id}"))
    } else {
        Ok(format!("body of {id}"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rate = RateLimiter::per_second(5_000).burst(50);
    rate.check()?; // a zero rate from configuration fails here, not as a hang

    let mut results = map(0..2_000u64, 32, |id| {
        let rate = rate.clone();
        async move {
            rate.acquire().await.map_err(|e| e.to_string())?;
            call_api(id).await
        }
    })
    .item_timeout(Duration::from_millis(100))
    .errors(ErrorPolicy::Collect)
    .ordered()?;

    let (mut ok, mut failed, mut timed_out) = (0, 0, 0);
    while let Some(result) = results.next().await {
        match result.value {
            Ok(_body) => ok += 1,
            Err(ItemError::Timeout(_)) => timed_out += 1,
            Err(error) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("item {}: {error}", result.index);
                }
            }
        }
    }
    println!("{ok} ok, {failed} failed, {timed_out} timed out");
    Ok(())
}
