//! The workload shapes the bench measures, which [`recommend`](crate::recommend) answers for.

use std::fmt;
use std::str::FromStr;

/// What a service mostly does, in the terms the bench measures it.
///
/// Each variant is one bench scenario (`benches/flavors/`), so a recommendation for it is a
/// measurement, not an opinion. Spelled `spawn_many`, `chained_spawn`, `yield_many`,
/// `ping_pong`, `tcp_echo:BYTES:CONNECTIONS` or `http:CONNECTIONS` (what `ASYNCPERF_WORKLOAD`
/// accepts); [`FromStr`] and [`Display`](fmt::Display) agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Workload {
    /// One task spawns many short tasks (tokio's `spawn_many` bench shape).
    SpawnMany,
    /// Each task spawns the next (tokio's `chained_spawn`): spawn latency on the critical path.
    ChainedSpawn,
    /// Many runnable tasks that yield often (tokio's `yield_many`): CPU work in small slices.
    YieldMany,
    /// Request and reply between tasks over oneshot channels (tokio's `ping_pong`).
    PingPong,
    /// A TCP request/response server: each connection sends a message and waits for the echo.
    TcpEcho {
        /// Bytes per message.
        message_bytes: usize,
        /// Connections open at once, each with one request in flight.
        connections: usize,
    },
    /// An HTTP/1.1 server answering small requests on keep-alive connections.
    Http {
        /// Connections open at once, each with one request in flight.
        connections: usize,
    },
}

impl Workload {
    /// The spellings [`FromStr`] accepts, for error messages and docs.
    pub const ACCEPTED: &'static str = "spawn_many, chained_spawn, yield_many, ping_pong, \
                                        tcp_echo:BYTES:CONNECTIONS, http:CONNECTIONS (numbers >= 1)";

    /// How far `other` is from `self`: `None` for different kinds, else the sum of the
    /// log-ratios of the sizes (0 when equal), so 100 B is as far from 1 KiB as 1 KiB is
    /// from 10 KiB.
    pub(crate) fn distance(&self, other: &Workload) -> Option<f64> {
        fn log_ratio(a: usize, b: usize) -> f64 {
            #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
            let (a, b) = (a.max(1) as f64, b.max(1) as f64);
            (a / b).ln().abs()
        }
        match (self, other) {
            (
                Workload::TcpEcho {
                    message_bytes: b1,
                    connections: c1,
                },
                Workload::TcpEcho {
                    message_bytes: b2,
                    connections: c2,
                },
            ) => Some(log_ratio(*b1, *b2) + log_ratio(*c1, *c2)),
            (Workload::Http { connections: c1 }, Workload::Http { connections: c2 }) => {
                Some(log_ratio(*c1, *c2))
            }
            (a, b) if a == b => Some(0.0),
            _ => None,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::SpawnMany => f.write_str("spawn_many"),
            Workload::ChainedSpawn => f.write_str("chained_spawn"),
            Workload::YieldMany => f.write_str("yield_many"),
            Workload::PingPong => f.write_str("ping_pong"),
            Workload::TcpEcho {
                message_bytes,
                connections,
            } => write!(f, "tcp_echo:{message_bytes}:{connections}"),
            Workload::Http { connections } => write!(f, "http:{connections}"),
        }
    }
}

/// A string that is not one of [`Workload::ACCEPTED`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown workload {input:?}; accepted: {accepted}", accepted = Workload::ACCEPTED)]
pub struct ParseWorkloadError {
    input: String,
}

impl ParseWorkloadError {
    /// The text that failed to parse.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl FromStr for Workload {
    type Err = ParseWorkloadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = || ParseWorkloadError {
            input: s.to_owned(),
        };
        let positive = |t: &str| t.parse::<usize>().ok().filter(|n| *n > 0);
        let parts: Vec<&str> = s.trim().split(':').collect();
        match parts.as_slice() {
            ["spawn_many"] => Ok(Workload::SpawnMany),
            ["chained_spawn"] => Ok(Workload::ChainedSpawn),
            ["yield_many"] => Ok(Workload::YieldMany),
            ["ping_pong"] => Ok(Workload::PingPong),
            ["tcp_echo", bytes, conns] => Ok(Workload::TcpEcho {
                message_bytes: positive(bytes).ok_or_else(fail)?,
                connections: positive(conns).ok_or_else(fail)?,
            }),
            ["http", conns] => Ok(Workload::Http {
                connections: positive(conns).ok_or_else(fail)?,
            }),
            _ => Err(fail()),
        }
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Workload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
