//! `PostgresManager`: opens and checks tokio-postgres connections for mobc.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::PostgresPoolError;
use super::connection::{PostgresConnection, is_session_terminated};
use crate::config::PoolConfig;
use crate::db::DbPoolError;
use crate::db::backend::{self, Backend, DbManager, Sealed};
use crate::db::state::{ConnState, Shared};
use crate::deadline::deadline_after;
use crate::reusable_deadline::ReusableDeadline;

/// A [`mobc::Manager`] for PostgreSQL on tokio-postgres (no TLS).
///
/// Every connection starts with `statement_timeout` set to the pool's `command_timeout`.
/// `check` (run at checkout, by the pool itself or by mobc in a bare pool) sends an empty query only to connections idle longer
/// than `health_check_interval` or suspected after a sibling broke, and discards those whose
/// connection task already ended; `validate` (at check-in) drops broken and expired ones.
/// [`postgres_pool`](crate::postgres_pool) builds the tuned pool around it; use the manager
/// directly only to build a bare [`mobc::Pool`].
pub struct PostgresManager {
    pg: tokio_postgres::Config,
    shared: Arc<Shared>,
}

impl fmt::Debug for PostgresManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresManager")
            .field("hosts", &self.pg.get_hosts())
            .field("dbname", &self.pg.get_dbname())
            .field("user", &self.pg.get_user())
            .finish_non_exhaustive()
    }
}

/// The client waits this long past `command_timeout` before abandoning a command, so the
/// server's `statement_timeout` (which keeps the connection usable) normally fires first.
fn client_grace(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

impl PostgresManager {
    /// A manager for `url` with `config`'s health-check interval, lifetimes and command
    /// timeout (the other fields matter to the pool, not the manager).
    ///
    /// # Errors
    ///
    /// [`DbPoolError::Config`] or [`DbPoolError::InvalidUrl`].
    pub fn new(url: &str, config: PoolConfig) -> Result<Self, PostgresPoolError> {
        config.validate().map_err(DbPoolError::Config)?;
        let mut pg = tokio_postgres::Config::from_str(url).map_err(DbPoolError::InvalidUrl)?;
        if let Some(timeout) = config.command_timeout {
            // PostgreSQL takes at most i32::MAX ms (24.8 days); more is refused at connect.
            let millis = timeout.as_millis().clamp(1, i32::MAX.unsigned_abs().into());
            let options = match pg.get_options() {
                Some(existing) => format!("{existing} -c statement_timeout={millis}"),
                None => format!("-c statement_timeout={millis}"),
            };
            pg.options(&options);
        }
        Ok(Self {
            pg,
            shared: Shared::new(config),
        })
    }
}

/// The client-side deadline of a command: `command_timeout` plus a grace period.
pub(super) fn client_deadline(config: &PoolConfig) -> Option<Duration> {
    config
        .command_timeout
        .map(|timeout| timeout.saturating_add(client_grace(timeout)))
}

fn is_auth_error(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::INVALID_PASSWORD
            || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    )
}

#[mobc::async_trait]
impl mobc::Manager for PostgresManager {
    type Connection = PostgresConnection;
    type Error = PostgresPoolError;

    fn spawn_task<T>(&self, task: T)
    where
        T: std::future::Future + Send + 'static,
        T::Output: Send + 'static,
    {
        backend::run_or_spawn(task);
    }

    async fn connect(&self) -> Result<PostgresConnection, PostgresPoolError> {
        let _connecting = self.shared.connecting();
        match self.pg.connect(NoTls).await {
            Ok((client, connection)) => {
                // The connection task ends when the socket closes; `Client::is_closed` then
                // tells every holder without a round trip. It records whether the server
                // ended the session, before dropping the connection (which is what fails the
                // requests still queued).
                let ended_by_server = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&ended_by_server);
                tokio::spawn(async move {
                    let mut connection = std::pin::pin!(connection);
                    if let Err(e) = (&mut connection).await
                        && is_session_terminated(&e)
                    {
                        flag.store(true, Ordering::Release);
                    }
                });
                Ok(PostgresConnection {
                    client: Box::new(client),
                    ended_by_server,
                    state: Box::new(ConnState::opened(&self.shared)),
                    command_timeout: self.shared.config.command_timeout,
                    deadline: client_deadline(&self.shared.config),
                    timer: ReusableDeadline::default(),
                })
            }
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

    async fn check(
        &self,
        mut conn: PostgresConnection,
    ) -> Result<PostgresConnection, PostgresPoolError> {
        backend::check::<Self>(&self.shared, &mut conn).await?;
        Ok(conn)
    }

    fn validate(&self, conn: &mut PostgresConnection) -> bool {
        backend::still_valid::<Self>(conn)
    }
}

impl DbManager for PostgresManager {
    type DriverError = tokio_postgres::Error;
}

impl Sealed for PostgresManager {}

impl Backend for PostgresManager {
    type Extra = ();

    fn extra(_: &PoolConfig) {}

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn state(conn: &PostgresConnection) -> &ConnState {
        &conn.state
    }

    fn state_mut(conn: &mut PostgresConnection) -> &mut ConnState {
        &mut conn.state
    }

    fn is_closed(conn: &PostgresConnection) -> bool {
        conn.client.is_closed()
    }

    fn is_transient_connect_error(e: &tokio_postgres::Error) -> bool {
        match e.code() {
            // No SQLSTATE: the socket failed (refused, reset, timed out).
            None => true,
            Some(code) => {
                *code == SqlState::CANNOT_CONNECT_NOW
                    || *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CRASH_SHUTDOWN
                    || *code == SqlState::TOO_MANY_CONNECTIONS
                    || code.code().starts_with("08")
            }
        }
    }

    fn is_timeout(e: &tokio_postgres::Error) -> bool {
        e.code() == Some(&SqlState::QUERY_CANCELED)
    }

    async fn ping(_: &Shared, conn: &mut PostgresConnection) -> Result<(), PostgresPoolError> {
        let ping = conn.client.simple_query("");
        // The connection's own deadline timer, as for its commands.
        let answer = match conn.deadline {
            Some(deadline) => {
                let at = deadline_after(tokio::time::Instant::now(), deadline);
                conn.timer
                    .run(at, ping)
                    .await
                    .ok_or(DbPoolError::CommandTimeout { timeout: deadline })?
            }
            None => ping.await,
        };
        answer.map(drop).map_err(DbPoolError::Command)
    }
}
