//! Helpers shared by asyncperf's tests and benches (unpublished).
//!
//! - [`services`]: the Redis and PostgreSQL URLs tests talk to, with the skip-or-fail rule for
//!   a server that does not answer.
//! - [`alloc`]: a counting global allocator, for tests and benches that claim bounded memory.
//! - [`bench`](mod@bench): the conventions `cargo xtask bench` reads from bench output.
//! - [`machine`]: where and when a measurement was taken.
//! - [`restart`]: stopping and starting the local Redis server, for restart tests.

pub mod alloc;
pub mod bench;
pub mod machine;
pub mod restart;
pub mod services;

pub use alloc::CountingAlloc;
pub use restart::LocalRedis;
pub use services::{postgres_url, redis_url, require_services, skip_service, unique_name};
