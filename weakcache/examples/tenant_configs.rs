//! Per-tenant configuration shared by every request in flight for that tenant.
//!
//! 200 concurrent requests over 3 tenants make 3 fetches; a request that gives up (timeout)
//! does not cancel the fetch for the others; once no request holds a tenant's config, it is
//! gone and the next request fetches a fresh one.
//!
//! Run with `cargo run -p asyncperf-weakcache --example tenant_configs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use asyncperf_weakcache::{LoadError, WeakCache};

#[derive(Debug)]
struct TenantConfig {
    tenant: String,
    rate_limit: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("config service unavailable")]
struct Unavailable;

static FETCHES: AtomicUsize = AtomicUsize::new(0);

/// Stands in for a call to a config service.
async fn fetch_config(tenant: String) -> Result<TenantConfig, Unavailable> {
    FETCHES.fetch_add(1, Relaxed);
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(TenantConfig {
        rate_limit: 100 * u32::try_from(tenant.len()).unwrap_or(1),
        tenant,
    })
}

async fn handle_request(
    configs: &WeakCache<String, TenantConfig>,
    tenant: &str,
) -> Result<u32, LoadError<Unavailable>> {
    let config: Arc<TenantConfig> = configs.get_or_load(tenant.to_owned(), fetch_config).await?;
    // ... serve the request with `config` ...
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(config.rate_limit)
}

#[tokio::main]
async fn main() {
    let configs: WeakCache<String, TenantConfig> = WeakCache::new();
    let tenants = ["acme", "globex", "initech"];

    let requests: Vec<_> = (0..200)
        .map(|i| {
            let configs = configs.clone();
            let tenant = tenants[i % tenants.len()];
            tokio::spawn(async move {
                // Some clients give up early; the fetch goes on for the others.
                let patience = if i % 10 == 0 { 5 } else { 1_000 };
                tokio::time::timeout(
                    Duration::from_millis(patience),
                    handle_request(&configs, tenant),
                )
                .await
            })
        })
        .collect();
    let mut served = 0;
    for request in requests {
        if let Ok(Ok(Ok(_limit))) = request.await {
            served += 1;
        }
    }
    println!(
        "served {served} of 200 requests with {} fetches",
        FETCHES.load(Relaxed)
    );

    // Every request is done, nobody holds a config: the cache holds nothing alive.
    assert!(configs.get("acme").is_none());
    let held = configs
        .get_or_load("acme".to_owned(), fetch_config)
        .await
        .expect("fetched");
    println!(
        "{} fetched again: rate limit {}",
        held.tenant, held.rate_limit
    );
    println!("{:?}", configs.stats());
}
