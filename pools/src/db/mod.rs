//! The pool logic shared by the Redis and PostgreSQL pools: a mobc pool plus checkout
//! deadlines, retries, metrics and a maintenance task.

pub(crate) mod backend;
mod error;
mod hot;
mod pool;
mod pooled;
pub(crate) mod retry;
pub(crate) mod state;
mod wait;

pub use backend::DbManager;
pub use error::DbPoolError;
#[cfg(feature = "redis")]
pub(crate) use pool::Operation;
pub use pool::{DbPool, Idempotency};
pub use pooled::Pooled;
#[cfg(feature = "redis")]
pub(crate) use wait::Wait;
