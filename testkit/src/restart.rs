//! Stopping and starting the local Redis server, for tests of what survives a restart.
//!
//! ```no_run
//! let Some(redis) = asyncperf_testkit::LocalRedis::restartable() else { return };
//! redis.stop();   // `redis-cli shutdown nosave`: the data is gone, as after a crash
//! redis.start();  // the start command of DEVELOPERS.md and `.ci/run`
//! // Dropping `redis` starts the server again if it is down, even when the test panicked.
//! ```
//!
//! Tests that restart the server run in their own test binary, one at a time, so nothing else
//! of theirs talks to a server that is down.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::services::{DEFAULT_REDIS_URL, probe_redis, skip_service};

/// How long the server may take to stop or start before the test fails.
const WAIT: Duration = Duration::from_secs(30);

/// The local Redis server (127.0.0.1:6379), which this test may stop and start again.
///
/// Dropping it starts the server if it is down, so a failing test does not leave it stopped.
#[derive(Debug)]
pub struct LocalRedis {
    url: String,
}

impl LocalRedis {
    /// The local server, when this test may restart it: `REDIS_URL` names the default local
    /// server, it answers, and `redis-cli` and `redis-server` are installed.
    ///
    /// Otherwise prints `skipped: <reason>` and returns `None`.
    ///
    /// # Panics
    ///
    /// When it cannot restart the server and `ASYNCPERF_REQUIRE_SERVICES=1`.
    #[must_use]
    pub fn restartable() -> Option<Self> {
        let url = crate::redis_url()?;
        let local = url.trim_end_matches('/') == DEFAULT_REDIS_URL;
        let tools = ["redis-cli", "redis-server"].iter().all(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        });
        if local && tools {
            return Some(Self { url });
        }
        let reason = format!(
            "cannot restart the Redis server at {url} from this test (it must be the local \
             {DEFAULT_REDIS_URL}, with redis-cli and redis-server installed)"
        );
        skip_service(&reason);
        None
    }

    /// The server's URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the server answers `PING` now.
    #[must_use]
    pub fn answers() -> bool {
        probe_redis(DEFAULT_REDIS_URL).is_ok()
    }

    /// Shuts the server down without saving (what a crash loses, it loses) and waits until
    /// it no longer answers.
    ///
    /// # Panics
    ///
    /// When it still answers after 30 s.
    pub fn stop(&self) {
        // `shutdown` closes the connection instead of replying: its status says nothing.
        let _ = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        wait_until(false).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts the server with the command of DEVELOPERS.md (no-op if it answers) and waits
    /// until it answers.
    ///
    /// # Panics
    ///
    /// When `redis-server` fails or the server does not answer within 30 s.
    pub fn start(&self) {
        try_start().unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        // No panic here: this may run while a failed test unwinds.
        if let Err(e) = try_start() {
            eprintln!("error: could not bring Redis back: {e}");
        }
    }
}

fn try_start() -> Result<(), String> {
    if LocalRedis::answers() {
        return Ok(());
    }
    let _ = std::fs::create_dir_all("/var/lib/redis");
    let _ = std::fs::create_dir_all("/var/log/redis");
    let status = Command::new("redis-server")
        .args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("redis-server: {e}"))?;
    if !status.success() {
        return Err(format!("redis-server failed to start: {status}"));
    }
    wait_until(true)
}

fn wait_until(up: bool) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    while LocalRedis::answers() != up {
        if Instant::now() >= deadline {
            return Err(format!(
                "Redis did not {} within {WAIT:?}",
                if up { "start" } else { "stop" }
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
