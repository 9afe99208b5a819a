//! The reference's aiohttp `TCPConnector(limit=100, limit_per_host=30, ttl_dns_cache=300,
//! keepalive_timeout=30)` as an [`HttpClient`], fetching one URL many times concurrently.
//!
//! ```sh
//! cargo run -p asyncperf-pools --example http_client -- http://127.0.0.1:8080/
//! ```

use std::time::Duration;

use asyncperf_pools::http::{HttpClient, HttpError};

#[tokio::main]
async fn main() -> Result<(), HttpError> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://example.com/".to_owned());
    let client = HttpClient::builder()
        .limit(100)
        .limit_per_host(30)
        .dns_ttl(Duration::from_secs(300))
        .keepalive_timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(30))
        .build();

    // 200 concurrent requests to one host: at most 30 connections are opened.
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let resp = client.get(url.as_str()).await?;
                let status = resp.status();
                let body = resp.bytes(1 << 20).await?;
                Ok::<_, HttpError>((status, body.len()))
            })
        })
        .collect();
    for task in tasks {
        let (status, len) = task.await.expect("task panicked")?;
        println!("{status} {len} bytes");
    }
    let m = client.metrics();
    println!(
        "connections opened: {}, waited: {} of {} requests",
        m.connections_created, m.waited, m.checkouts
    );
    Ok(())
}
