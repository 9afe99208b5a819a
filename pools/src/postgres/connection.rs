//! `PostgresConnection`: a tokio-postgres client whose every command has a deadline.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, SimpleQueryMessage, Statement, ToStatement};

use super::PostgresPoolError;
use crate::db::DbPoolError;
use crate::db::state::ConnState;
use crate::deadline::deadline_after;
use crate::reusable_deadline::ReusableDeadline;

/// One PostgreSQL connection of a [`PostgresPool`](crate::PostgresPool): a tokio-postgres
/// [`Client`] plus what the pool tracks about it.
///
/// Its query methods enforce the pool's `command_timeout` twice: the server cancels the
/// statement at `statement_timeout` (set when the connection opened; the connection stays
/// usable), and the client abandons the command shortly after, in case the server cannot
/// answer (the query is then cancelled on the server and the connection closed). Both give
/// [`DbPoolError::CommandTimeout`].
///
/// It dereferences to [`Client`] for everything else (`COPY`, typed and raw queries, ...);
/// those calls get the server-side `statement_timeout` only, and the pool cannot see what
/// they sent: in [`DbPool::run`](crate::DbPool::run), an operation that used one counts as
/// having reached the server, so it is not run again when its connection is then found
/// closed.
pub struct PostgresConnection {
    // Boxed: mobc moves connections by value several times per checkout, and a `Client` is a
    // few hundred bytes.
    pub(super) client: Box<Client>,
    /// Set when the server ended the session (SQLSTATE 57P0x): requests that then fail
    /// with "connection closed" never ran.
    pub(super) ended_by_server: Arc<AtomicBool>,
    pub(super) state: Box<ConnState>,
    pub(super) command_timeout: Option<Duration>,
    /// `command_timeout` plus a grace period: the client-side deadline.
    pub(super) deadline: Option<Duration>,
    /// Enforces `deadline` for every command, one timer for the connection's lifetime.
    pub(super) timer: ReusableDeadline,
}

impl fmt::Debug for PostgresConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConnection")
            .field("closed", &self.client.is_closed())
            .field("broken", &self.state.broken)
            .field("age", &self.state.age())
            .finish_non_exhaustive()
    }
}

impl Deref for PostgresConnection {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.state.raw_access();
        &self.client
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl PostgresConnection {
    /// False once the connection closed or a command on it failed at the transport level or
    /// was abandoned; such a connection is never handed out again.
    pub fn is_alive(&self) -> bool {
        !self.client.is_closed() && !self.state.broken
    }

    /// [`Client::query`] with the command timeout.
    ///
    /// # Errors
    ///
    /// [`DbPoolError::CommandTimeout`], [`DbPoolError::ConnectionClosed`] when the connection
    /// was already closed (nothing sent), or [`DbPoolError::Command`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the statement running on the server until it ends or
    /// reaches `statement_timeout`; the connection is closed instead of reused.
    pub async fn query<T>(
        &mut self,
        statement: &T,
        params: Params<'_>,
    ) -> Result<Vec<Row>, PostgresPoolError>
    where
        T: ?Sized + ToStatement + Sync,
    {
        self.tracked(Statements::One, async |c| c.query(statement, params).await)
            .await
    }

    /// [`Client::query_one`] with the command timeout.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query); also [`DbPoolError::Command`] unless exactly one row.
    ///
    /// # Cancel safety
    ///
    /// As [`query`](Self::query).
    pub async fn query_one<T>(
        &mut self,
        statement: &T,
        params: Params<'_>,
    ) -> Result<Row, PostgresPoolError>
    where
        T: ?Sized + ToStatement + Sync,
    {
        self.tracked(Statements::One, async |c| {
            c.query_one(statement, params).await
        })
        .await
    }

    /// [`Client::query_opt`] with the command timeout.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query); also [`DbPoolError::Command`] for more than one row.
    ///
    /// # Cancel safety
    ///
    /// As [`query`](Self::query).
    pub async fn query_opt<T>(
        &mut self,
        statement: &T,
        params: Params<'_>,
    ) -> Result<Option<Row>, PostgresPoolError>
    where
        T: ?Sized + ToStatement + Sync,
    {
        self.tracked(Statements::One, async |c| {
            c.query_opt(statement, params).await
        })
        .await
    }

    /// [`Client::execute`] with the command timeout.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    ///
    /// # Cancel safety
    ///
    /// As [`query`](Self::query).
    pub async fn execute<T>(
        &mut self,
        statement: &T,
        params: Params<'_>,
    ) -> Result<u64, PostgresPoolError>
    where
        T: ?Sized + ToStatement + Sync,
    {
        self.tracked(Statements::One, async |c| {
            c.execute(statement, params).await
        })
        .await
    }

    /// [`Client::batch_execute`] with the command timeout.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    ///
    /// # Cancel safety
    ///
    /// As [`query`](Self::query).
    pub async fn batch_execute(&mut self, sql: &str) -> Result<(), PostgresPoolError> {
        self.tracked(Statements::Many, async |c| c.batch_execute(sql).await)
            .await
    }

    /// [`Client::simple_query`] with the command timeout.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    ///
    /// # Cancel safety
    ///
    /// As [`query`](Self::query).
    pub async fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<SimpleQueryMessage>, PostgresPoolError> {
        self.tracked(Statements::Many, async |c| c.simple_query(sql).await)
            .await
    }

    /// [`Client::prepare`] with the command timeout.
    ///
    /// # Errors
    ///
    /// As [`query`](Self::query).
    ///
    /// # Cancel safety
    ///
    /// As [`query`](Self::query).
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement, PostgresPoolError> {
        self.tracked(Statements::One, async |c| c.prepare(sql).await)
            .await
    }

    async fn tracked<T>(
        &mut self,
        statements: Statements,
        op: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, PostgresPoolError> {
        if self.state.broken || self.client.is_closed() {
            self.state.broke(false);
            return Err(DbPoolError::ConnectionClosed);
        }
        self.state.sending();
        // Until the command finishes the connection counts as in flight, so a dropped future
        // leaves a connection that is closed rather than reused with a statement running.
        self.state.in_flight = true;
        // One clock read for the deadline and for the record of the answer.
        let sent = tokio::time::Instant::now();
        let result = match self.deadline {
            Some(deadline) => {
                let at = deadline_after(sent, deadline);
                match self.timer.run(at, op(&self.client)).await {
                    Some(result) => result,
                    None => {
                        self.state.shared().counters.timeout();
                        let cancel = self.client.cancel_token();
                        tokio::spawn(async move {
                            // Best effort: the server may already have finished the statement.
                            let _ = cancel.cancel_query(NoTls).await;
                        });
                        self.state.abandon();
                        return Err(self.timeout_error());
                    }
                }
            }
            None => op(&self.client).await,
        };
        self.state.in_flight = false;
        match result {
            Ok(value) => {
                self.state.answered(sent.into_std());
                Ok(value)
            }
            Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) => {
                self.state.shared().counters.timeout();
                Err(self.timeout_error())
            }
            Err(e) => {
                self.state.shared().counters.error();
                let terminated = is_session_terminated(&e);
                let closed = terminated || e.is_closed() || self.client.is_closed();
                // The server ended the session (pg_terminate_backend, shutdown) before this
                // request reached it, or as the answer to this one statement, before it
                // committed: it did not run, so it may run elsewhere. Not so for several
                // statements in one string (`BEGIN; INSERT ..; COMMIT; SELECT ..`): those
                // before the one cut may have committed.
                let answered_one = terminated && statements == Statements::One;
                if answered_one || (closed && self.ended_by_server.load(Ordering::Acquire)) {
                    self.state.sent -= 1;
                    self.state.broke(false);
                } else if closed {
                    self.state.broke(true);
                }
                Err(DbPoolError::Command(e))
            }
        }
    }

    fn timeout_error(&self) -> PostgresPoolError {
        DbPoolError::CommandTimeout {
            timeout: self.command_timeout.unwrap_or_default(),
        }
    }
}

/// How many statements one request may carry, which decides what a session ended under it
/// says about what ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Statements {
    /// The extended protocol: one statement, committed (if at all) before its answer.
    One,
    /// The simple protocol: any number, each possibly committed on its own.
    Many,
}

/// The server ended the session (SQLSTATE 57P01 `admin_shutdown`, 57P02 `crash_shutdown`,
/// 57P03 `cannot_connect_now`). Received as the answer to a statement, or before a statement
/// found the connection closed, it means the statement's transaction did not commit: a
/// statement that committed is answered before the session ends, in order on the socket.
pub(super) fn is_session_terminated(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| {
        *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
    })
}
