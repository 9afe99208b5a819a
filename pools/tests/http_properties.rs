//! Properties of the HTTP pool under random workloads, against the simplest model there is:
//! counters of open connections per host and in total, which must never pass the limits, and
//! which must come back to "nothing in use, nobody waiting" once the callers are done, however
//! many of them gave up halfway.

mod http_server;

use std::sync::Arc;
use std::time::Duration;

use asyncperf_pools::http::HttpClient;
use futures::future::join_all;
use http_server::{Server, Stats};
use proptest::prelude::*;

/// What one caller does.
#[derive(Clone, Debug)]
enum Caller {
    /// GET and read the body.
    Read,
    /// GET and drop the response unread.
    DropResponse,
    /// Poll the request this many times, then drop it (waiting, dialling, sent, ...).
    GiveUpAfter(usize),
}

fn caller() -> impl Strategy<Value = Caller> {
    prop_oneof![
        6 => Just(Caller::Read),
        1 => Just(Caller::DropResponse),
        2 => (0usize..12).prop_map(Caller::GiveUpAfter),
    ]
}

#[derive(Clone, Debug)]
struct Workload {
    hosts: usize,
    limit: usize,
    per_host: usize,
    /// (host, what the caller does), all started at once.
    callers: Vec<(usize, Caller)>,
}

fn workload() -> impl Strategy<Value = Workload> {
    (1usize..=3, 1usize..=6, 1usize..=4).prop_flat_map(|(hosts, limit, per_host)| {
        prop::collection::vec((0..hosts, caller()), 1..40).prop_map(move |callers| Workload {
            hosts,
            limit,
            per_host,
            callers,
        })
    })
}

async fn run(w: Workload) -> Result<(), TestCaseError> {
    let total = Stats::new();
    let mut servers = Vec::new();
    for _ in 0..w.hosts {
        servers.push(Server::with(Some(Arc::clone(&total)), None).await);
    }
    let client = HttpClient::builder()
        .limit(w.limit)
        .limit_per_host(w.per_host)
        .build();
    let tasks = w.callers.iter().cloned().map(|(host, what)| {
        let client = client.clone();
        let url = servers[host].url("/");
        tokio::spawn(async move {
            match what {
                Caller::Read => {
                    let body = client.get(url).await.unwrap().bytes(16).await.unwrap();
                    assert_eq!(body, "ok");
                }
                Caller::DropResponse => drop(client.get(url).await.unwrap()),
                Caller::GiveUpAfter(polls) => {
                    let mut request =
                        Box::pin(async move { client.get(url).await?.bytes(16).await });
                    for _ in 0..polls {
                        if futures::poll!(request.as_mut()).is_ready() {
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                }
            }
        })
    });
    let done = tokio::time::timeout(Duration::from_secs(30), join_all(tasks))
        .await
        .map_err(|_| TestCaseError::fail("workload hung"))?;
    for t in done {
        t.map_err(|e| TestCaseError::fail(format!("caller panicked: {e}")))?;
    }
    // Everything settles: nothing in use, dialling or waiting (a leaked slot would stay
    // "in use" for ever).
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let m = client.metrics();
            if m.in_use == 0 && m.connecting == 0 && m.waiters == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .map_err(|_| TestCaseError::fail(format!("did not settle: {:?}", client.metrics())))?;

    prop_assert!(
        total.max_open() <= w.limit,
        "total {} > {}",
        total.max_open(),
        w.limit
    );
    for s in &servers {
        prop_assert!(
            s.stats.max_open() <= w.per_host,
            "host {} > {}",
            s.stats.max_open(),
            w.per_host
        );
    }
    let m = client.metrics();
    prop_assert!(m.open as usize <= w.limit);
    prop_assert_eq!(m.open, m.idle);
    // And every host can still use all its slots.
    let again = servers.iter().flat_map(|s| {
        (0..w.per_host.min(w.limit)).map(|_| {
            let (client, url) = (client.clone(), s.url("/"));
            async move { client.get(url).await?.bytes(16).await }
        })
    });
    for r in join_all(again).await {
        prop_assert_eq!(r.map_err(|e| TestCaseError::fail(e.to_string()))?, "ok");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn limits_hold_and_nothing_leaks(w in workload()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(w))?;
    }
}
