//! Keep-alive GET requests/s against an in-process hyper server at concurrency 1/16/64/256:
//! our capped client (`limit_per_host(30)`, the reference's setting) beside plain hyper-util
//! `Client` and reqwest, with the connections each opened (printed as notes).

#[path = "../tests/http_server/mod.rs"]
mod http_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use asyncperf_pools::http::HttpClient;
use asyncperf_testkit::bench::{OURS, note};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use http_server::Server;
use hyper_util::client::legacy::Client as HyperUtilClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

const CONCURRENCY: [usize; 4] = [1, 16, 64, 256];

/// One client of each implementation, behind one async `get`.
#[derive(Clone)]
enum Contender {
    Ours(HttpClient),
    HyperUtil(HyperUtilClient<HttpConnector, Empty<Bytes>>),
    Reqwest(reqwest::Client),
}

impl Contender {
    fn id(&self) -> &'static str {
        match self {
            Self::Ours(_) => OURS,
            Self::HyperUtil(_) => "hyper-util",
            Self::Reqwest(_) => "reqwest",
        }
    }

    fn all() -> [Self; 3] {
        [
            Self::Ours(HttpClient::builder().limit(100).limit_per_host(30).build()),
            Self::HyperUtil(
                HyperUtilClient::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .build_http(),
            ),
            Self::Reqwest(reqwest::Client::builder().build().expect("reqwest client")),
        ]
    }

    async fn get(&self, url: &str, uri: &http::Uri) -> usize {
        match self {
            Self::Ours(c) => c
                .get(uri.clone())
                .await
                .unwrap()
                .bytes(1024)
                .await
                .unwrap()
                .len(),
            Self::HyperUtil(c) => {
                let resp = c.get(uri.clone()).await.unwrap();
                resp.into_body().collect().await.unwrap().to_bytes().len()
            }
            Self::Reqwest(c) => c
                .get(url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .len(),
        }
    }
}

/// `iters` requests spread over `concurrency` tasks; the time they all took.
async fn run(client: &Contender, url: &Arc<str>, concurrency: usize, iters: u64) -> Duration {
    let uri: http::Uri = url.parse().unwrap();
    let remaining = Arc::new(AtomicU64::new(iters));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, uri, remaining) = (
                client.clone(),
                Arc::clone(url),
                uri.clone(),
                Arc::clone(&remaining),
            );
            tokio::spawn(async move {
                while remaining
                    .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    std::hint::black_box(client.get(&url, &uri).await);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn keepalive(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("http_keepalive_get_mt");
    group.throughput(Throughput::Elements(1));
    for concurrency in CONCURRENCY {
        for client in Contender::all() {
            let server = rt.block_on(Server::for_bench(None));
            let url: Arc<str> = server.url("/").into();
            group.bench_function(BenchmarkId::new(client.id(), concurrency), |b| {
                b.iter_custom(|iters| rt.block_on(run(&client, &url, concurrency, iters)));
            });
            let capped = match &client {
                Contender::Ours(_) => " (limit_per_host 30)",
                _ => "",
            };
            if server.stats.requests.load(Relaxed) > 0 {
                note(format!(
                    "http_keepalive_get_mt/{}/{concurrency}{capped}: {} connections opened, at most {} open at once, {} requests",
                    client.id(),
                    server.stats.accepted(),
                    server.stats.max_open(),
                    server.stats.requests.load(Relaxed),
                ));
            }
            rt.block_on(async move { drop((client, server)) });
        }
    }
    group.finish();
}

/// Not a speed race: the connections each client opens when 256 callers hit a server that
/// takes 5 ms per request (requests overlap, so an uncapped pool opens one per caller).
fn connections_under_slow_handler(c: &mut Criterion) {
    let _ = c;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (callers, per_caller) = (
        256,
        if asyncperf_testkit::bench::quick() {
            2
        } else {
            4
        },
    );
    for client in Contender::all() {
        let server = rt.block_on(Server::for_bench(Some(Duration::from_millis(5))));
        let url: Arc<str> = server.url("/").into();
        let took = rt.block_on(run(&client, &url, callers, callers as u64 * per_caller));
        note(format!(
            "http_slow_handler_5ms/{}/{callers}: {} connections opened, at most {} open at once, {} requests in {:.0} ms",
            client.id(),
            server.stats.accepted(),
            server.stats.max_open(),
            server.stats.requests.load(Relaxed),
            took.as_secs_f64() * 1e3,
        ));
        rt.block_on(async move { drop((client, server)) });
    }
}

criterion_group!(benches, keepalive, connections_under_slow_handler);
criterion_main!(benches);
