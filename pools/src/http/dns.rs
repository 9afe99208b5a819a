//! Host name resolution: the [`Resolve`] trait and the cache in front of it (fixed TTL, size
//! cap, one shared lookup per host, rotation through the addresses).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::deadline::deadline_after;

/// The future a [`Resolve`] returns: the addresses of one host.
pub type Resolving = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'static>>;

/// Turns a host name into IP addresses.
///
/// The client asks only for names: IP literals in a URI are never looked up. Implement it to
/// plug in another resolver (hickory, a service registry) or a fake in tests; any
/// `Fn(&str) -> impl Future<Output = io::Result<Vec<IpAddr>>>` closure implements it.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use asyncperf_pools::http::HttpClient;
///
/// let client = HttpClient::builder()
///     .resolver(|_host: &str| async { Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]) })
///     .build();
/// # drop(client);
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// Looks `host` up. The cache calls this at most once at a time per host.
    fn resolve(&self, host: &str) -> Resolving;
}

impl<F, Fut> Resolve for F
where
    F: Fn(&str) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Vec<IpAddr>>> + Send + 'static,
{
    fn resolve(&self, host: &str) -> Resolving {
        Box::pin(self(host))
    }
}

/// The system resolver (`getaddrinfo` on tokio's blocking pool, through
/// [`tokio::net::lookup_host`]). It has no cache of its own: the client's cache is in front.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> Resolving {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Counters of the DNS cache, from [`HttpClient::dns_metrics`](super::HttpClient::dns_metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsMetrics {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that joined another caller's lookup of the same host.
    pub coalesced: u64,
    /// Lookups sent to the resolver.
    pub lookups: u64,
    /// Resolver lookups that failed (failures are not cached).
    pub failures: u64,
    /// Hosts in the cache now.
    pub cached_hosts: u64,
}

type Outcome = Result<Arc<[IpAddr]>, Arc<io::Error>>;

enum Entry {
    Ready {
        addrs: Arc<[IpAddr]>,
        expires: Instant,
        /// Where the next caller starts in `addrs` (round-robin across callers).
        next: usize,
        last_used: Instant,
    },
    Pending(watch::Receiver<Option<Outcome>>),
}

/// The resolver behind a cache with a fixed TTL counted from the lookup (aiohttp's
/// `ttl_dns_cache`, not the record's TTL), at most `capacity` hosts (least recently used
/// evicted), and one lookup in flight per host shared by every caller.
pub(crate) struct DnsCache {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: Box<dyn Resolve>,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<Arc<str>, Entry>>,
    hits: AtomicU64,
    coalesced: AtomicU64,
    lookups: AtomicU64,
    failures: AtomicU64,
}

/// Addresses to try, in order: the cached list rotated by one per caller.
#[derive(Debug)]
pub(crate) struct Addrs {
    addrs: Arc<[IpAddr]>,
    start: usize,
}

impl Addrs {
    pub(crate) fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (head, tail) = self.addrs.split_at(self.start.min(self.addrs.len()));
        tail.iter().chain(head).copied()
    }
}

impl DnsCache {
    pub(crate) fn new(resolver: Box<dyn Resolve>, ttl: Duration, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                resolver,
                ttl,
                capacity: capacity.max(1),
                entries: Mutex::new(HashMap::new()),
                hits: AtomicU64::new(0),
                coalesced: AtomicU64::new(0),
                lookups: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        }
    }

    /// The addresses of `host`, from the cache or from one lookup shared by every caller.
    ///
    /// Cancel safety: the lookup runs in its own task, so a caller that gives up does not
    /// cancel it for the others, and its result is cached all the same.
    pub(crate) async fn lookup(&self, host: &str) -> Result<Addrs, Arc<io::Error>> {
        let (mut rx, start) = {
            let mut entries = self.inner.lock();
            let now = Instant::now();
            match entries.get_mut(host) {
                Some(Entry::Ready {
                    addrs,
                    expires,
                    next,
                    last_used,
                }) if now < *expires => {
                    let start = *next;
                    *next = (start + 1) % addrs.len();
                    *last_used = now;
                    self.inner.hits.fetch_add(1, Relaxed);
                    return Ok(Addrs {
                        addrs: Arc::clone(addrs),
                        start,
                    });
                }
                // A lookup task that ended without storing (a panicking resolver) leaves a
                // closed channel behind: start over instead of failing forever.
                Some(Entry::Pending(rx)) if rx.has_changed().is_ok() => {
                    self.inner.coalesced.fetch_add(1, Relaxed);
                    (rx.clone(), None)
                }
                _ => {
                    let (tx, rx) = watch::channel(None);
                    let key: Arc<str> = host.into();
                    entries.insert(Arc::clone(&key), Entry::Pending(rx.clone()));
                    (rx, Some((tx, key)))
                }
            }
        };
        if let Some((tx, key)) = start {
            // Outside the lock: `resolve` is user code.
            self.spawn_lookup(tx, key);
        }
        let outcome = match rx.wait_for(Option::is_some).await {
            Ok(done) => done.clone(),
            // The lookup task ended without an answer: the runtime is shutting down.
            Err(_) => None,
        };
        match outcome {
            Some(Ok(addrs)) => Ok(Addrs { addrs, start: 0 }),
            Some(Err(e)) => Err(e),
            None => Err(Arc::new(io::Error::other("DNS lookup task ended"))),
        }
    }

    fn spawn_lookup(&self, tx: watch::Sender<Option<Outcome>>, key: Arc<str>) {
        self.inner.lookups.fetch_add(1, Relaxed);
        let lookup = self.inner.resolver.resolve(&key);
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let outcome: Outcome = match lookup.await {
                Ok(addrs) if !addrs.is_empty() => Ok(addrs.into()),
                Ok(_) => Err(Arc::new(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the resolver returned no address",
                ))),
                Err(e) => Err(Arc::new(e)),
            };
            inner.store(key, &outcome);
            // Nobody listening is fine: the answer is cached for the next caller.
            let _ = tx.send(Some(outcome));
        });
    }

    pub(crate) fn metrics(&self) -> DnsMetrics {
        let cached = self.inner.lock().len();
        DnsMetrics {
            hits: self.inner.hits.load(Relaxed),
            coalesced: self.inner.coalesced.load(Relaxed),
            lookups: self.inner.lookups.load(Relaxed),
            failures: self.inner.failures.load(Relaxed),
            cached_hosts: u64::try_from(cached).unwrap_or(u64::MAX),
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Entry>> {
        // The map stays consistent at every step, so a panic elsewhere cannot corrupt it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Caches a successful lookup (failures are forgotten, so the next caller retries).
    fn store(&self, key: Arc<str>, outcome: &Outcome) {
        let mut entries = self.lock();
        let addrs = match outcome {
            Ok(addrs) if !self.ttl.is_zero() => Arc::clone(addrs),
            Ok(_) => {
                entries.remove(&key);
                return;
            }
            Err(_) => {
                self.failures.fetch_add(1, Relaxed);
                entries.remove(&key);
                return;
            }
        };
        let now = Instant::now();
        entries.insert(
            key,
            Entry::Ready {
                addrs,
                expires: deadline_after(now, self.ttl),
                next: 1 % outcome.as_ref().map_or(1, |a| a.len()),
                last_used: now,
            },
        );
        while entries.len() > self.capacity {
            let oldest = entries
                .iter()
                .filter_map(|(k, e)| match e {
                    Entry::Ready { last_used, .. } => Some((*last_used, k)),
                    Entry::Pending(_) => None,
                })
                .min_by_key(|(used, _)| *used)
                .map(|(_, k)| Arc::clone(k));
            match oldest {
                Some(k) => entries.remove(&k),
                None => break,
            };
        }
    }
}

impl fmt::Debug for DnsCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsCache")
            .field("ttl", &self.inner.ttl)
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    /// A cache over a resolver that answers `[10.0.0.1, 10.0.0.2, 10.0.0.3]` and counts calls.
    fn cache(ttl: Duration, capacity: usize) -> (DnsCache, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let resolver = move |_host: &str| {
            counted.fetch_add(1, Relaxed);
            std::future::ready(Ok(vec![ip(1), ip(2), ip(3)]))
        };
        (DnsCache::new(Box::new(resolver), ttl, capacity), calls)
    }

    async fn first(cache: &DnsCache, host: &str) -> IpAddr {
        cache.lookup(host).await.unwrap().iter().next().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn callers_rotate_through_the_addresses() {
        let (cache, calls) = cache(Duration::from_secs(60), 10);
        let mut firsts = Vec::new();
        for _ in 0..5 {
            firsts.push(first(&cache, "h").await);
        }
        assert_eq!(firsts, [ip(1), ip(2), ip(3), ip(1), ip(2)]);
        let all: Vec<_> = cache.lookup("h").await.unwrap().iter().collect();
        assert_eq!(
            all,
            [ip(3), ip(1), ip(2)],
            "every address, starting at the turn"
        );
        assert_eq!(calls.load(Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_the_ttl() {
        let (cache, calls) = cache(Duration::from_secs(10), 10);
        first(&cache, "h").await;
        tokio::time::sleep(Duration::from_millis(9_999)).await;
        first(&cache, "h").await;
        assert_eq!(calls.load(Relaxed), 1);
        tokio::time::sleep(Duration::from_millis(1)).await;
        first(&cache, "h").await;
        assert_eq!(calls.load(Relaxed), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_least_recently_used_host_is_evicted_at_capacity() {
        let (cache, calls) = cache(Duration::from_secs(60), 2);
        first(&cache, "a").await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        first(&cache, "b").await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        first(&cache, "a").await; // a is now more recent than b
        tokio::time::sleep(Duration::from_millis(1)).await;
        first(&cache, "c").await; // evicts b
        assert_eq!(cache.metrics().cached_hosts, 2);
        assert_eq!(calls.load(Relaxed), 3);
        first(&cache, "a").await;
        assert_eq!(calls.load(Relaxed), 3, "a stayed");
        first(&cache, "b").await;
        assert_eq!(calls.load(Relaxed), 4, "b was evicted");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_ttl_caches_nothing() {
        let (cache, calls) = cache(Duration::ZERO, 10);
        first(&cache, "h").await;
        first(&cache, "h").await;
        assert_eq!((calls.load(Relaxed), cache.metrics().cached_hosts), (2, 0));
    }

    #[tokio::test]
    async fn a_cancelled_caller_does_not_cancel_the_shared_lookup() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (answer, answered) = watch::channel(false);
        let counted = Arc::clone(&calls);
        let resolver = move |_host: &str| {
            counted.fetch_add(1, Relaxed);
            let mut answered = answered.clone();
            async move {
                let _ = answered.wait_for(|a| *a).await;
                Ok(vec![ip(7)])
            }
        };
        let cache = DnsCache::new(Box::new(resolver), Duration::from_secs(60), 10);
        {
            // The first caller starts the lookup and gives up.
            let lookup = cache.lookup("h");
            tokio::pin!(lookup);
            assert!(futures::poll!(lookup.as_mut()).is_pending());
        }
        let second = cache.lookup("h");
        answer.send(true).unwrap();
        assert_eq!(second.await.unwrap().iter().next(), Some(ip(7)));
        assert_eq!(calls.load(Relaxed), 1);
        assert_eq!(cache.metrics().coalesced, 1);
    }
}
