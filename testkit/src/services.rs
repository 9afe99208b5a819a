//! Where the real Redis and PostgreSQL servers are, and what to do when one does not answer.
//!
//! Tests never mock a server that can answer. They ask for its URL here:
//!
//! ```no_run
//! let Some(url) = asyncperf_testkit::redis_url() else { return };
//! // ... connect to `url` ...
//! ```
//!
//! When the server does not answer, the call prints `skipped: <reason>` and returns `None`, so
//! the test returns early; with `ASYNCPERF_REQUIRE_SERVICES=1` (set by `.ci/run`) it panics
//! instead, so CI cannot pass by skipping.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Environment variable naming the Redis server (default [`DEFAULT_REDIS_URL`]).
pub const REDIS_URL_VAR: &str = "REDIS_URL";
/// Environment variable naming the PostgreSQL server (default [`DEFAULT_DATABASE_URL`]).
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";
/// Environment variable that turns a missing server into a failure instead of a skip.
pub const REQUIRE_SERVICES_VAR: &str = "ASYNCPERF_REQUIRE_SERVICES";
/// The Redis server of the development machine and of CI.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The PostgreSQL server of the development machine and of CI (trust auth, database `test`).
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// True when `ASYNCPERF_REQUIRE_SERVICES` is set to anything but `0` or empty.
#[must_use]
pub fn require_services() -> bool {
    std::env::var(REQUIRE_SERVICES_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The Redis URL to test against, after checking that a Redis server answers `PING` there.
///
/// Returns `None` after printing `skipped: <reason>` when it does not answer.
///
/// # Panics
///
/// When the server does not answer and `ASYNCPERF_REQUIRE_SERVICES=1`.
#[must_use]
pub fn redis_url() -> Option<String> {
    let url = env_or(REDIS_URL_VAR, DEFAULT_REDIS_URL);
    checked("Redis", url, probe_redis)
}

/// The PostgreSQL URL to test against, after checking that a PostgreSQL server answers there.
///
/// Returns `None` after printing `skipped: <reason>` when it does not answer.
///
/// # Panics
///
/// When the server does not answer and `ASYNCPERF_REQUIRE_SERVICES=1`.
#[must_use]
pub fn postgres_url() -> Option<String> {
    let url = env_or(DATABASE_URL_VAR, DEFAULT_DATABASE_URL);
    checked("PostgreSQL", url, probe_postgres)
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn checked(what: &str, url: String, probe: fn(&str) -> Result<(), String>) -> Option<String> {
    match probe(&url) {
        Ok(()) => Some(url),
        Err(reason) => {
            skip_service(&format!("{what} at {url} does not answer: {reason}"));
            None
        }
    }
}

/// A test cannot use a server as it needs (absent, or not one it may restart): prints
/// `skipped: <reason>`, so the caller can return.
///
/// # Panics
///
/// When `ASYNCPERF_REQUIRE_SERVICES=1`: then a missing server is a failure.
pub fn skip_service(reason: &str) {
    assert!(
        !require_services(),
        "{reason} ({REQUIRE_SERVICES_VAR} is set, so this is a failure; \
         start the server or unset the variable)"
    );
    println!("skipped: {reason}");
}

/// Sends an inline `PING` and expects `+PONG` (or an auth error, which still proves a Redis
/// server is there; the test then fails on its own with a clear message).
pub(crate) fn probe_redis(url: &str) -> Result<(), String> {
    let mut stream = connect(url, 6379)?;
    stream
        .write_all(b"PING\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply).map_err(|e| format!("read: {e}"))?;
    let reply = String::from_utf8_lossy(&reply[..n]);
    if reply.starts_with("+PONG") || reply.starts_with("-NOAUTH") || reply.starts_with("-LOADING") {
        Ok(())
    } else {
        Err(format!("unexpected reply to PING: {reply:?}"))
    }
}

/// Sends the 8-byte `SSLRequest` that every PostgreSQL server answers with one byte, `S` or
/// `N`, before any authentication.
fn probe_postgres(url: &str) -> Result<(), String> {
    let mut stream = connect(url, 5432)?;
    let ssl_request: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    stream
        .write_all(&ssl_request)
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = [0u8; 1];
    stream
        .read_exact(&mut reply)
        .map_err(|e| format!("read: {e}"))?;
    match reply[0] {
        b'S' | b'N' => Ok(()),
        other => Err(format!("unexpected reply to SSLRequest: {other:#x}")),
    }
}

fn connect(url: &str, default_port: u16) -> Result<TcpStream, String> {
    let addr = socket_addr(url, default_port)?;
    let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// The `host:port` of a `scheme://[user[:pass]@]host[:port][/path][?query]` URL.
fn socket_addr(url: &str, default_port: u16) -> Result<SocketAddr, String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() {
        return Err(format!("no host in {url:?}"));
    }
    let with_port = if host_port.starts_with('[') {
        // IPv6 literal: `[::1]` or `[::1]:6379`.
        if host_port.contains("]:") {
            host_port.to_owned()
        } else {
            format!("{host_port}:{default_port}")
        }
    } else if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("resolve {with_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{with_port} resolves to no address"))
}

/// A name no other test uses, now or in an earlier run whose leftovers may still be on the
/// shared servers: `{prefix}_{process id}_{milliseconds since the epoch}_{counter}`. A valid SQL
/// identifier and Redis key when `prefix` is one, for tables, keys and `application_name`s.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{prefix}_{}_{millis}_{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::socket_addr;

    #[test]
    fn parses_urls() {
        let cases = [
            ("redis://127.0.0.1:6379", "127.0.0.1:6379"),
            ("redis://127.0.0.1", "127.0.0.1:6379"),
            ("redis://:secret@127.0.0.1:7000/2", "127.0.0.1:7000"),
            ("postgres://postgres@127.0.0.1:5432/test", "127.0.0.1:5432"),
            (
                "postgres://u:p@127.0.0.1/db?sslmode=disable",
                "127.0.0.1:6379",
            ),
            ("redis://[::1]:6380", "[::1]:6380"),
        ];
        for (url, want) in cases {
            assert_eq!(socket_addr(url, 6379).unwrap().to_string(), want, "{url}");
        }
        assert!(socket_addr("redis://", 6379).is_err());
    }

    #[test]
    fn a_closed_port_is_skipped_or_fails() {
        // Port 9 (discard) is closed on the test machines; the probe must report, not hang.
        let err = super::probe_redis("redis://127.0.0.1:9").unwrap_err();
        assert!(!err.is_empty());
    }
}
