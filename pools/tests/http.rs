//! The HTTP client against in-process servers on 127.0.0.1 that count the connections they
//! accept: the caps, keep-alive reuse and expiry, cancellation, DNS caching, and recovery
//! from servers that close connections.

mod http_server;

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use asyncperf_pools::http::{HttpClient, HttpError};
use bytes::Bytes;
use futures::future::join_all;
use http::{Method, Request};
use http_server::{Script, ScriptedServer, Server, Stats};
use tokio::sync::watch;

/// Real-time guard so that a broken test fails instead of hanging (never a synchronisation).
const HANG_GUARD: Duration = Duration::from_secs(30);

async fn guard<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, f)
        .await
        .expect("test hung")
}

/// Yields until `cond` holds (for client-side state, which has no change notification).
async fn yield_until(cond: impl Fn() -> bool) {
    guard(async {
        while !cond() {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

async fn get_ok(client: &HttpClient, url: String) {
    let resp = client.get(url).await.expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes(1024).await.expect("body"), "ok");
}

#[tokio::test]
async fn per_host_cap_holds_with_256_concurrent_requests() {
    let (open_gate, gate) = watch::channel(false);
    let server = Server::with(None, Some(gate)).await;
    let client = HttpClient::builder().limit_per_host(30).build();

    let tasks: Vec<_> = (0..256)
        .map(|_| {
            tokio::spawn({
                let client = client.clone();
                let url = server.url("/");
                async move { get_ok(&client, url).await }
            })
        })
        .collect();
    // 30 requests reach the handler and stay there; the other 226 queue in the client.
    guard(server.stats.wait_until(|s| s.in_handler() == 30)).await;
    yield_until(|| client.metrics().waiters == 226).await;
    let m = client.metrics();
    assert_eq!((m.open, m.in_use, m.idle), (30, 30, 0));
    assert_eq!(server.stats.open(), 30);

    open_gate.send(true).unwrap();
    for t in guard(join_all(tasks)).await {
        t.unwrap();
    }
    assert_eq!(
        server.stats.accepted(),
        30,
        "queued requests reuse the 30 connections"
    );
    assert_eq!(server.stats.max_open(), 30);
    let m = client.metrics();
    assert_eq!(
        (m.checkouts, m.waited, m.connections_created),
        (256, 226, 30)
    );
    assert_eq!((m.open, m.idle, m.waiters, m.errors), (30, 30, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_cap_holds_under_free_running_load() {
    let server = Server::start().await;
    let client = HttpClient::builder().limit_per_host(30).build();
    let tasks = (0..256).map(|_| {
        let client = client.clone();
        let url = server.url("/");
        tokio::spawn(async move {
            for _ in 0..8 {
                get_ok(&client, url.clone()).await;
            }
        })
    });
    for t in guard(join_all(tasks)).await {
        t.unwrap();
    }
    assert!(server.stats.max_open() <= 30, "{}", server.stats.max_open());
    assert!(server.stats.accepted() <= 30, "{}", server.stats.accepted());
    assert_eq!(server.stats.requests.load(SeqCst), 256 * 8);
}

#[tokio::test]
async fn total_cap_holds_across_two_hosts() {
    let stats = Stats::new();
    let (open_gate, gate) = watch::channel(false);
    let a = Server::with(Some(Arc::clone(&stats)), Some(gate.clone())).await;
    let b = Server::with(Some(Arc::clone(&stats)), Some(gate)).await;
    let client = HttpClient::builder().limit(40).limit_per_host(30).build();

    let tasks: Vec<_> = (0..256)
        .map(|i| {
            let client = client.clone();
            let url = if i % 2 == 0 { a.url("/") } else { b.url("/") };
            tokio::spawn(async move { get_ok(&client, url).await })
        })
        .collect();
    guard(stats.wait_until(|s| s.in_handler() == 40)).await;
    yield_until(|| client.metrics().waiters == 216).await;
    assert_eq!(stats.open(), 40);
    let (to_a, to_b) = (
        client.open_connections_to(&a.authority()),
        client.open_connections_to(&b.authority()),
    );
    assert_eq!(
        (to_a, to_b),
        (20, 20),
        "requests alternate between the hosts"
    );

    open_gate.send(true).unwrap();
    for t in guard(join_all(tasks)).await {
        t.unwrap();
    }
    assert!(stats.max_open() <= 40, "{}", stats.max_open());
    assert!(client.metrics().open <= 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_caps_hold_while_hosts_take_turns_under_load() {
    // Three hosts competing for 8 connections, at most 6 each: connections are closed and
    // reopened as hosts take turns, and neither cap is ever exceeded, as the servers see it.
    let total = Stats::new();
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Server::with(Some(Arc::clone(&total)), None).await);
    }
    let client = HttpClient::builder().limit(8).limit_per_host(6).build();
    let tasks = (0..96).map(|i| {
        let client = client.clone();
        let url = servers[i % 3].url("/");
        tokio::spawn(async move {
            for _ in 0..10 {
                get_ok(&client, url.clone()).await;
            }
        })
    });
    for t in guard(join_all(tasks)).await {
        t.unwrap();
    }
    assert!(total.max_open() <= 8, "total {}", total.max_open());
    for s in &servers {
        assert!(s.stats.max_open() <= 6, "per host {}", s.stats.max_open());
        assert_eq!(s.stats.requests.load(SeqCst), 320);
    }
    assert!(
        total.accepted() > 8,
        "hosts took turns: {}",
        total.accepted()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_cap_holds_when_every_connection_is_closed_after_use() {
    // No keep-alive: every request dials and closes, the worst churn for the cap. A slot is
    // only reused once the server has closed its side, so the server never sees 5.
    let server = Server::start().await;
    let client = HttpClient::builder()
        .limit_per_host(4)
        .keepalive_timeout(Duration::ZERO)
        .build();
    let tasks = (0..64).map(|_| {
        let (client, url) = (client.clone(), server.url("/"));
        tokio::spawn(async move {
            for _ in 0..5 {
                get_ok(&client, url.clone()).await;
            }
        })
    });
    for t in guard(join_all(tasks)).await {
        t.unwrap();
    }
    assert!(server.stats.max_open() <= 4, "{}", server.stats.max_open());
    assert_eq!(server.stats.accepted(), 320);
}

#[tokio::test]
async fn keepalive_reuses_one_connection_for_sequential_requests() {
    let server = Server::start().await;
    let client = HttpClient::new();
    for _ in 0..1000 {
        get_ok(&client, server.url("/")).await;
    }
    assert_eq!(server.stats.accepted(), 1);
    let m = client.metrics();
    assert_eq!((m.checkouts, m.connections_created, m.idle), (1000, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn idle_connections_close_after_keepalive_timeout() {
    let server = Server::start().await;
    let client = HttpClient::builder()
        .keepalive_timeout(Duration::from_secs(30))
        .connect_timeout(None)
        .request_timeout(None)
        .build();
    get_ok(&client, server.url("/")).await;
    assert_eq!((server.stats.open(), client.metrics().idle), (1, 1));

    tokio::time::sleep(Duration::from_secs(29)).await;
    assert_eq!((server.stats.open(), client.metrics().idle), (1, 1));
    get_ok(&client, server.url("/")).await;
    assert_eq!(server.stats.accepted(), 1, "reused within the timeout");

    // The reuse restarted the idle clock: 29 s later it is still open, 31 s later closed.
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert_eq!(client.metrics().idle, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.stats.wait_until(|s| s.open() == 0).await;
    let m = client.metrics();
    assert_eq!((m.open, m.idle, m.connections_closed), (0, 0, 1));

    get_ok(&client, server.url("/")).await;
    assert_eq!(server.stats.accepted(), 2);
}

#[test]
fn a_client_outlives_the_runtimes_that_used_it() {
    // A client kept in a static and used from one runtime after another (as `#[tokio::test]`s
    // do): connections and tasks of a finished runtime are gone, and the next runtime gets
    // working connections and a working idle reaper.
    let client = HttpClient::builder()
        .keepalive_timeout(Duration::from_secs(30))
        .build();
    for round in 0..3 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let server = Server::start().await;
            get_ok(&client, server.url("/")).await;
            get_ok(&client, server.url("/")).await;
            assert_eq!(server.stats.accepted(), 1);
            if round == 2 {
                // The earlier runtimes ended with a connection idle and the reaper asleep.
                tokio::time::sleep(Duration::from_secs(31)).await;
                let closed = server.stats.wait_until(|s| s.open() == 0);
                tokio::time::timeout(Duration::from_secs(60), closed)
                    .await
                    .expect("the idle connection was reaped");
            }
        });
    }
    assert_eq!(client.metrics().open, 0);
}

#[tokio::test]
async fn dropped_request_future_frees_its_slot() {
    let (open_gate, gate) = watch::channel(false);
    let server = Server::with(None, Some(gate)).await;
    let client = HttpClient::builder().limit_per_host(1).build();

    // The first request is in the handler, the second waits for the slot.
    let first = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/first"));
        async move { client.get(url).await.map(|_| ()) }
    });
    guard(server.stats.wait_until(|s| s.in_handler() == 1)).await;
    let waiting = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/waiting"));
        async move { client.get(url).await.map(|_| ()) }
    });
    yield_until(|| client.metrics().waiters == 1).await;

    // Dropping the waiter leaves the queue without taking anything.
    waiting.abort();
    assert!(waiting.await.unwrap_err().is_cancelled());
    assert_eq!(client.metrics().waiters, 0);

    let third = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/third"));
        async move { get_ok(&client, url).await }
    });
    yield_until(|| client.metrics().waiters == 1).await;
    // Dropping the request in flight closes its connection and hands the slot on.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    guard(server.stats.wait_until(|s| s.accepted() == 2)).await;
    open_gate.send(true).unwrap();
    guard(third).await.unwrap();

    assert_eq!(server.stats.max_open(), 1, "never two sockets at once");
    assert_eq!(server.stats.paths(), ["/first", "/third"]);
    let m = client.metrics();
    assert_eq!((m.open, m.waiters, m.in_use), (1, 0, 0));
}

#[tokio::test]
async fn dropped_or_half_read_body_frees_its_slot() {
    let server = Server::start().await;
    let client = HttpClient::builder().limit_per_host(1).build();
    for _ in 0..5 {
        // Dropped unread: the connection is closed (it cannot be reused) and the slot freed.
        let resp = guard(client.get(server.url("/"))).await.unwrap();
        drop(resp);
    }
    // Streamed to the end: the connection goes back to the pool.
    let mut resp = guard(client.get(server.url("/"))).await.unwrap();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    assert_eq!(body, b"ok");
    get_ok(&client, server.url("/")).await;
    assert_eq!(server.stats.max_open(), 1);
    let m = client.metrics();
    assert_eq!((m.open, m.idle, m.in_use, m.waiters), (1, 1, 0, 0));
}

#[tokio::test]
async fn hosts_take_turns_when_the_total_cap_binds() {
    let stats = Stats::new();
    let (open_gate, gate) = watch::channel(false);
    let a = Server::with(Some(Arc::clone(&stats)), Some(gate.clone())).await;
    let b = Server::with(Some(Arc::clone(&stats)), Some(gate)).await;
    let client = HttpClient::builder().limit(1).build();

    let mut tasks = Vec::new();
    for (i, url) in [
        a.url("/a1"),
        a.url("/a2"),
        a.url("/a3"),
        a.url("/a4"),
        b.url("/b1"),
    ]
    .into_iter()
    .enumerate()
    {
        let client_ = client.clone();
        tasks.push(tokio::spawn(async move { get_ok(&client_, url).await }));
        if i == 0 {
            guard(stats.wait_until(|s| s.in_handler() == 1)).await;
        } else {
            yield_until(|| client.metrics().waiters == i as u64).await;
        }
    }
    open_gate.send(true).unwrap();
    for t in guard(join_all(tasks)).await {
        t.unwrap();
    }
    // Per-host FIFO, hosts in turn: b1 does not wait behind every request to a.
    assert_eq!(stats.paths(), ["/a1", "/a2", "/b1", "/a3", "/a4"]);
    assert_eq!(stats.max_open(), 1);
}

#[tokio::test]
async fn the_total_cap_makes_room_by_closing_a_live_idle_connection() {
    // The least recently used idle connection is one the server already closed (its slot is
    // free again), and two live idle connections to another host fill the total cap. A third
    // host must get its slot by closing a live one, not wait for one to idle out.
    let (open_gate, gate) = watch::channel(false);
    let a = Server::start().await;
    let b = Server::with(None, Some(gate)).await;
    let c = Server::start().await;
    let client = HttpClient::builder()
        .limit(2)
        .keepalive_timeout(Duration::from_secs(300))
        .connect_timeout(Duration::from_secs(20))
        .build();

    get_ok(&client, a.url("/")).await;
    a.kill_connections();
    // The socket's task gave the slot back; the dead connection is still in the idle list.
    yield_until(|| client.open_connections_to(&a.authority()) == 0).await;

    let to_b: Vec<_> = (0..2)
        .map(|_| {
            let (client, url) = (client.clone(), b.url("/"));
            tokio::spawn(async move { get_ok(&client, url).await })
        })
        .collect();
    guard(b.stats.wait_until(|s| s.in_handler() == 2)).await;
    open_gate.send(true).unwrap();
    for t in guard(join_all(to_b)).await {
        t.unwrap();
    }
    assert_eq!(client.open_connections_to(&b.authority()), 2);

    guard(get_ok(&client, c.url("/"))).await;
    assert_eq!(client.metrics().timeouts, 0);
    assert_eq!(
        client.open_connections_to(&b.authority()),
        1,
        "one of b's was closed"
    );
}

#[derive(Clone, Default)]
struct CountingResolver {
    calls: Arc<AtomicUsize>,
}

impl CountingResolver {
    fn calls(&self) -> usize {
        self.calls.load(SeqCst)
    }

    /// Resolves every name to `addrs`, counting the lookups.
    fn resolving_to(
        &self,
        addrs: Vec<IpAddr>,
    ) -> impl Fn(&str) -> futures::future::Ready<io::Result<Vec<IpAddr>>> + Send + Sync + 'static
    {
        let calls = Arc::clone(&self.calls);
        move |_host: &str| {
            calls.fetch_add(1, SeqCst);
            futures::future::ready(Ok(addrs.clone()))
        }
    }
}

#[tokio::test(start_paused = true)]
async fn dns_answers_are_cached_for_the_ttl() {
    let server = Server::start().await;
    let resolver = CountingResolver::default();
    let client = HttpClient::builder()
        .resolver(resolver.resolving_to(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]))
        .dns_ttl(Duration::from_secs(300))
        // Every request dials, so every request needs the address.
        .keepalive_timeout(Duration::ZERO)
        .connect_timeout(None)
        .request_timeout(None)
        .build();
    let url = format!("http://svc.test:{}/", server.addr.port());
    // The lookup happens at `start` or just after: fresh until `start + 300 s` at least.
    let start = tokio::time::Instant::now();
    for _ in 0..10 {
        get_ok(&client, url.clone()).await;
    }
    assert_eq!(resolver.calls(), 1);
    assert_eq!(server.stats.accepted(), 10);

    tokio::time::sleep_until(start + Duration::from_secs(299)).await;
    get_ok(&client, url.clone()).await;
    assert_eq!(resolver.calls(), 1, "still fresh at 299 s");
    tokio::time::sleep(Duration::from_secs(300)).await;
    get_ok(&client, url.clone()).await;
    assert_eq!(resolver.calls(), 2, "expired after 300 s");
    let dns = client.dns_metrics();
    assert_eq!((dns.lookups, dns.hits, dns.cached_hosts), (2, 10, 1));
}

#[tokio::test]
async fn durations_too_long_for_the_clock_mean_no_limit() {
    // `Duration::MAX` as "never": no deadline, a DNS answer kept for good, idle connections
    // never closed; none of it may overflow the clock.
    let server = Server::start().await;
    let resolver = CountingResolver::default();
    let client = HttpClient::builder()
        .resolver(resolver.resolving_to(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]))
        .dns_ttl(Duration::MAX)
        .keepalive_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .request_timeout(Duration::MAX)
        .build();
    let url = format!("http://svc.test:{}/", server.addr.port());
    for _ in 0..3 {
        guard(get_ok(&client, url.clone())).await;
    }
    assert_eq!((resolver.calls(), server.stats.accepted()), (1, 1));
    assert_eq!(client.metrics().idle, 1);
}

#[tokio::test]
async fn concurrent_dials_share_one_lookup() {
    let server = Server::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (answer, answered) = watch::channel(false);
    let client = HttpClient::builder()
        .resolver({
            let calls = Arc::clone(&calls);
            move |_host: &str| {
                calls.fetch_add(1, SeqCst);
                let mut answered = answered.clone();
                async move {
                    let _ = answered.wait_for(|a| *a).await;
                    Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
                }
            }
        })
        .build();
    let url = format!("http://svc.test:{}/", server.addr.port());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { get_ok(&client, url).await })
        })
        .collect();
    yield_until(|| client.dns_metrics().coalesced == 19).await;
    answer.send(true).unwrap();
    for t in guard(join_all(tasks)).await {
        t.unwrap();
    }
    assert_eq!(calls.load(SeqCst), 1);
}

#[tokio::test]
async fn dialling_falls_through_the_addresses_in_rotation() {
    let server = Server::start().await;
    let resolver = CountingResolver::default();
    // Nothing listens on 127.0.0.2 at the server's port: each dial that starts there fails
    // over to 127.0.0.1.
    let client = HttpClient::builder()
        .resolver(resolver.resolving_to(vec![
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ]))
        .keepalive_timeout(Duration::ZERO)
        .build();
    let url = format!("http://svc.test:{}/", server.addr.port());
    for _ in 0..4 {
        get_ok(&client, url.clone()).await;
    }
    assert_eq!((resolver.calls(), server.stats.accepted()), (1, 4));
}

#[tokio::test]
async fn resolver_errors_are_typed_and_not_cached() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = HttpClient::builder()
        .resolver({
            let calls = Arc::clone(&calls);
            move |_host: &str| {
                calls.fetch_add(1, SeqCst);
                futures::future::ready(Err(io::Error::new(io::ErrorKind::NotFound, "no such host")))
            }
        })
        .build();
    for _ in 0..2 {
        let err = client.get("http://nowhere.test/").await.unwrap_err();
        assert!(matches!(err, HttpError::Resolve { .. }), "{err:?}");
    }
    assert_eq!(calls.load(SeqCst), 2);
    let m = client.metrics();
    assert_eq!((m.open, m.connecting, m.errors), (0, 0, 2));
}

#[tokio::test]
async fn stale_keepalive_connections_are_retried_for_idempotent_requests() {
    // Every connection answers 3 requests, then closes as the 4th arrives.
    let server = ScriptedServer::start(Script::CloseAfter(3)).await;
    let client = HttpClient::new();
    for _ in 0..20 {
        get_ok(&client, server.url("/")).await;
    }
    assert_eq!(server.stats.accepted(), 7, "20 answers, 3 per connection");
    assert_eq!(client.metrics().errors, 0);
}

#[tokio::test]
async fn waiters_keep_their_order_when_the_server_closes_every_connection() {
    // Every answer closes its connection: each waiter gets its slot only when the previous
    // socket is closed (or is handed a connection that turns out closing, and then keeps its
    // place at the head of the queue), and is still served before the callers behind it.
    let server = ScriptedServer::start(Script::CloseEach).await;
    let client = HttpClient::builder().limit_per_host(1).build();
    let tasks: Vec<_> = ["/a", "/b", "/c", "/d"]
        .into_iter()
        .map(|path| {
            let (client, url) = (client.clone(), server.url(path));
            tokio::spawn(async move { get_ok(&client, url).await })
        })
        .collect();
    for t in guard(join_all(tasks)).await {
        t.unwrap();
    }
    assert_eq!(server.stats.paths(), ["/a", "/b", "/c", "/d"]);
    assert_eq!((server.stats.accepted(), server.stats.max_open()), (4, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_get_fails_when_the_server_drops_every_connection() {
    // 16 warm keep-alive connections, all dropped by the server at once (a restart whose
    // listener never went away); a burst of GETs right after: the stale connections are
    // noticed at checkout or retried on fresh ones, and no caller sees an error.
    let server = Server::start().await;
    let client = HttpClient::builder().limit_per_host(16).build();
    let burst = |n: usize| {
        join_all((0..n).map(|_| {
            let (client, url) = (client.clone(), server.url("/"));
            tokio::spawn(async move { get_ok(&client, url).await })
        }))
    };
    for _ in 0..4 {
        for t in guard(burst(64)).await {
            t.unwrap();
        }
        assert!(client.metrics().idle > 0);
        server.kill_connections();
    }
    for t in guard(burst(64)).await {
        t.unwrap();
    }
    assert_eq!(client.metrics().errors, 0);
    assert!(server.stats.max_open() <= 16, "{}", server.stats.max_open());
}

#[tokio::test]
async fn non_idempotent_requests_are_not_retried() {
    let server = ScriptedServer::start(Script::CloseAfter(1)).await;
    let client = HttpClient::new();
    get_ok(&client, server.url("/")).await;
    let post = Request::builder()
        .method(Method::POST)
        .uri(server.url("/post"))
        .body(Bytes::from_static(b"x"))
        .unwrap();
    let err = guard(client.request(post)).await.unwrap_err();
    assert!(matches!(err, HttpError::Closed { .. }), "{err:?}");
    assert_eq!(server.stats.accepted(), 1);
    // And the client is fine afterwards.
    get_ok(&client, server.url("/")).await;
}

#[tokio::test]
async fn a_body_cut_short_fails_and_the_next_request_uses_a_new_connection() {
    let server = ScriptedServer::start(Script::TruncateFirstBody).await;
    let client = HttpClient::builder().limit_per_host(1).build();
    let err = guard(async { client.get(server.url("/")).await?.bytes(1024).await })
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Closed { .. } | HttpError::Protocol { .. }),
        "{err:?}"
    );
    get_ok(&client, server.url("/")).await;
    assert_eq!(server.stats.accepted(), 2);
    assert_eq!(client.metrics().errors, 1);
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let server = Server::start().await;
    let client = HttpClient::new();
    let err = client
        .get(server.url("/"))
        .await
        .unwrap()
        .bytes(1)
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::TooLarge { limit: 1 }), "{err:?}");
    // The unread connection was closed; the next request dials again and works.
    get_ok(&client, server.url("/")).await;
    assert_eq!(server.stats.accepted(), 2);
}

#[tokio::test]
async fn head_responses_have_no_body_whatever_their_content_length() {
    let server = Server::start().await;
    let client = HttpClient::new();
    let head = Request::builder()
        .method(Method::HEAD)
        .uri(server.url("/"))
        .body(Bytes::new())
        .unwrap();
    let resp = client.request(head).await.unwrap();
    assert_eq!(resp.headers()["content-length"], "2");
    assert_eq!(resp.bytes(1).await.unwrap(), "");
    // The connection went back to the pool at once.
    get_ok(&client, server.url("/")).await;
    assert_eq!(server.stats.accepted(), 1);
}

#[tokio::test]
async fn bad_uris_are_typed_errors() {
    let client = HttpClient::new();
    assert!(matches!(
        client.get("https://example.com/").await,
        Err(HttpError::UnsupportedScheme { .. })
    ));
    assert!(matches!(
        client.get("/relative").await,
        Err(HttpError::InvalidUri { .. })
    ));
    assert!(matches!(
        client.get("http://exa mple/").await,
        Err(HttpError::InvalidUri { .. })
    ));
}

#[tokio::test]
async fn connect_errors_are_typed() {
    // Bind and drop a listener: its port refuses connections for a while.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = HttpClient::new();
    let err = client
        .get(format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
    assert_eq!(client.metrics().open, 0);
}

#[tokio::test(start_paused = true)]
async fn connect_timeout_bounds_the_wait_for_a_slot() {
    let (_open_gate, gate) = watch::channel(false);
    let server = Server::with(None, Some(gate)).await;
    let client = HttpClient::builder()
        .limit_per_host(1)
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(None)
        .build();
    let first = tokio::spawn({
        let (client, url) = (client.clone(), server.url("/"));
        async move { client.get(url).await.map(|_| ()) }
    });
    server.stats.wait_until(|s| s.in_handler() == 1).await;
    let err = client.get(server.url("/")).await.unwrap_err();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err:?}");
    let m = client.metrics();
    assert_eq!((m.waiters, m.timeouts, m.open), (0, 1, 1));
    first.abort();
}

#[tokio::test(start_paused = true)]
async fn request_timeout_covers_the_response() {
    let (_open_gate, gate) = watch::channel(false);
    let server = Server::with(None, Some(gate)).await;
    let client = HttpClient::builder()
        .connect_timeout(None)
        .request_timeout(Duration::from_secs(5))
        .build();
    let err = client.get(server.url("/")).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    server.stats.wait_until(|s| s.open() == 0).await;
    yield_until(|| client.metrics().open == 0).await;
    assert_eq!(client.metrics().timeouts, 1);
}
