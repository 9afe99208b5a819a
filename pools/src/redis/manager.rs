//! `RedisManager`: opens and checks redis 1.x multiplexed connections for mobc.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, ErrorKind, RedisError, ServerErrorKind};
use tokio::io::{AsyncRead, AsyncWrite};

use super::RedisPoolError;
use super::connection::RedisConnection;
use crate::config::PoolConfig;
use crate::db::DbPoolError;
use crate::db::backend::{self, Backend, DbManager, Sealed};
use crate::db::state::{ConnState, Shared};

/// A [`mobc::Manager`] for Redis on redis 1.x: each connection is a
/// [`MultiplexedConnection`] whose driver task the manager watches, so a connection whose
/// socket closed is known dead without a round trip.
///
/// `check` (run at checkout, by the pool itself or by mobc in a bare pool) pings only connections idle longer than
/// `health_check_interval` or suspected after a sibling broke; `validate` (at check-in)
/// drops broken and expired connections. [`redis_pool`](crate::redis_pool) builds the tuned
/// pool around it; use the manager directly only to build a bare [`mobc::Pool`].
pub struct RedisManager {
    client: redis::Client,
    connection_config: AsyncConnectionConfig,
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisManager")
            .field("addr", self.client.get_connection_info().addr())
            .finish_non_exhaustive()
    }
}

impl RedisManager {
    /// A manager for `url` with `config`'s health-check interval, lifetimes and command
    /// timeout (the other fields matter to the pool, not the manager).
    ///
    /// # Errors
    ///
    /// [`DbPoolError::Config`] or [`DbPoolError::InvalidUrl`].
    pub fn new(url: &str, config: PoolConfig) -> Result<Self, RedisPoolError> {
        config.validate().map_err(DbPoolError::Config)?;
        let client = redis::Client::open(url).map_err(DbPoolError::InvalidUrl)?;
        if !matches!(
            client.get_connection_info().addr(),
            ConnectionAddr::Tcp(..) | ConnectionAddr::Unix(..)
        ) {
            return Err(DbPoolError::InvalidUrl(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "only redis:// and redis+unix:// URLs are supported (TLS is not enabled)",
            ))));
        }
        // The connection's own response timeout is the client-side command deadline. The
        // connect timeout stays unset: the caller's `get_timeout` bounds connecting.
        let connection_config = AsyncConnectionConfig::new()
            .set_connection_timeout(None)
            .set_response_timeout(config.command_timeout);
        Ok(Self {
            client,
            connection_config,
            shared: Shared::new(config),
        })
    }

    async fn open(&self) -> Result<(MultiplexedConnection, Arc<AtomicBool>), RedisError> {
        match self.client.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                self.handshake(stream).await
            }
            #[cfg(unix)]
            ConnectionAddr::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await?;
                self.handshake(stream).await
            }
            _ => Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "unsupported Redis address",
            ))),
        }
    }

    /// Authenticates over `stream` and spawns the connection's driver, which clears the
    /// returned flag when the socket closes.
    async fn handshake<S>(
        &self,
        stream: S,
    ) -> Result<(MultiplexedConnection, Arc<AtomicBool>), RedisError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (conn, driver) = MultiplexedConnection::new_with_config(
            self.client.get_connection_info().redis_settings(),
            stream,
            self.connection_config.clone(),
        )
        .await?;
        let alive = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&alive);
        tokio::spawn(async move {
            driver.await;
            flag.store(false, Ordering::Release);
        });
        Ok((conn, alive))
    }
}

fn is_auth_error(e: &RedisError) -> bool {
    e.kind() == ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"))
}

#[mobc::async_trait]
impl mobc::Manager for RedisManager {
    type Connection = RedisConnection;
    type Error = RedisPoolError;

    fn spawn_task<T>(&self, task: T)
    where
        T: std::future::Future + Send + 'static,
        T::Output: Send + 'static,
    {
        backend::run_or_spawn(task);
    }

    async fn connect(&self) -> Result<RedisConnection, RedisPoolError> {
        let _connecting = self.shared.connecting();
        match self.open().await {
            Ok((conn, alive)) => Ok(RedisConnection {
                conn: Box::new(conn),
                alive,
                state: Box::new(ConnState::opened(&self.shared)),
            }),
            Err(e) => {
                self.shared.counters.error();
                Err(if is_auth_error(&e) {
                    DbPoolError::Auth(e)
                } else {
                    DbPoolError::Connect(e)
                })
            }
        }
    }

    async fn check(&self, mut conn: RedisConnection) -> Result<RedisConnection, RedisPoolError> {
        backend::check::<Self>(&self.shared, &mut conn).await?;
        Ok(conn)
    }

    fn validate(&self, conn: &mut RedisConnection) -> bool {
        backend::still_valid::<Self>(conn)
    }
}

impl DbManager for RedisManager {
    type DriverError = RedisError;
}

impl Sealed for RedisManager {}

impl Backend for RedisManager {
    type Extra = super::lanes::Lanes;

    fn extra(config: &PoolConfig) -> super::lanes::Lanes {
        super::lanes::Lanes::new(config.lanes())
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn state(conn: &RedisConnection) -> &ConnState {
        &conn.state
    }

    fn state_mut(conn: &mut RedisConnection) -> &mut ConnState {
        &mut conn.state
    }

    fn is_closed(conn: &RedisConnection) -> bool {
        !conn.alive.load(Ordering::Acquire)
    }

    fn is_transient_connect_error(e: &RedisError) -> bool {
        e.is_io_error()
            || matches!(
                e.kind(),
                ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                )
            )
    }

    fn is_timeout(e: &RedisError) -> bool {
        e.is_timeout()
    }

    async fn ping(_: &Shared, conn: &mut RedisConnection) -> Result<(), RedisPoolError> {
        redis::cmd("PING")
            .query_async::<()>(&mut *conn.conn)
            .await
            .map_err(DbPoolError::Command)
    }
}
