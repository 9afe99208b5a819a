//! Which Redis commands the pool may run twice: reads, and writes whose effect and reply do
//! not depend on whether they already ran.

use redis::{Arg, Cmd, Pipeline};

use crate::db::Idempotency;

/// Commands that only read. Retrying one returns what a single run would have.
const READS: &[&str] = &[
    "BITCOUNT",
    "BITPOS",
    "DBSIZE",
    "DUMP",
    "ECHO",
    "EXISTS",
    "GEODIST",
    "GEOHASH",
    "GEOPOS",
    "GEOSEARCH",
    "GET",
    "GETBIT",
    "GETRANGE",
    "HEXISTS",
    "HGET",
    "HGETALL",
    "HKEYS",
    "HLEN",
    "HMGET",
    "HRANDFIELD",
    "HSCAN",
    "HSTRLEN",
    "HVALS",
    "INFO",
    "KEYS",
    "LINDEX",
    "LLEN",
    "LPOS",
    "LRANGE",
    "MGET",
    "OBJECT",
    "PFCOUNT",
    "PING",
    "PTTL",
    "RANDOMKEY",
    "SCAN",
    "SCARD",
    "SDIFF",
    "SINTER",
    "SINTERCARD",
    "SISMEMBER",
    "SMEMBERS",
    "SMISMEMBER",
    "SRANDMEMBER",
    "SSCAN",
    "STRLEN",
    "SUBSTR",
    "SUNION",
    "TIME",
    "TOUCH",
    "TTL",
    "TYPE",
    "XLEN",
    "XRANGE",
    "XREVRANGE",
    "ZCARD",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZMSCORE",
    "ZRANDMEMBER",
    "ZRANGE",
    "ZRANGEBYLEX",
    "ZRANGEBYSCORE",
    "ZRANK",
    "ZREVRANGE",
    "ZREVRANGEBYLEX",
    "ZREVRANGEBYSCORE",
    "ZREVRANK",
    "ZSCAN",
    "ZSCORE",
];

/// Writes that set an absolute state and reply the same however often they run.
const ABSOLUTE_WRITES: &[&str] = &["EXPIREAT", "HMSET", "MSET", "PEXPIREAT", "PSETEX", "SETEX"];

/// Writes that neither block nor change the connection's state, beyond those above: safe on
/// a connection shared by other callers.
const SHAREABLE_WRITES: &[&str] = &[
    "APPEND",
    "DECR",
    "DECRBY",
    "DEL",
    "EXPIRE",
    "GEOADD",
    "GETDEL",
    "GETEX",
    "GETSET",
    "HDEL",
    "HINCRBY",
    "HINCRBYFLOAT",
    "HSET",
    "HSETNX",
    "INCR",
    "INCRBY",
    "INCRBYFLOAT",
    "LINSERT",
    "LMOVE",
    "LPOP",
    "LPUSH",
    "LPUSHX",
    "LREM",
    "LSET",
    "LTRIM",
    "PERSIST",
    "PEXPIRE",
    "PFADD",
    "PFMERGE",
    "PUBLISH",
    "RPOP",
    "RPUSH",
    "RPUSHX",
    "SADD",
    "SET",
    "SETBIT",
    "SETNX",
    "SETRANGE",
    "SMOVE",
    "SPOP",
    "SREM",
    "UNLINK",
    "XACK",
    "XADD",
    "XDEL",
    "XTRIM",
    "ZADD",
    "ZINCRBY",
    "ZPOPMAX",
    "ZPOPMIN",
    "ZREM",
    "ZREMRANGEBYRANK",
    "ZREMRANGEBYSCORE",
];

/// True for commands that may share a multiplexed connection with other callers: they
/// neither block it (`BLPOP`, `XREAD BLOCK`, `WAIT`) nor change its state (`SELECT`,
/// `WATCH`, `MULTI`, `CLIENT`, `SUBSCRIBE`). Unknown commands are not.
pub(crate) fn shareable(cmd: &Cmd) -> bool {
    let Some(Arg::Simple(name)) = cmd.args_iter().next() else {
        return false;
    };
    [READS, ABSOLUTE_WRITES, SHAREABLE_WRITES]
        .iter()
        .any(|list| {
            list.iter()
                .any(|known| name.eq_ignore_ascii_case(known.as_bytes()))
        })
}

/// `SET` options that make the reply depend on the previous state.
const CONDITIONAL_SET_OPTIONS: &[&str] = &["NX", "XX", "GET", "IFEQ"];

impl Idempotency {
    /// Classifies one Redis command: [`Idempotent`](Self::Idempotent) for reads and for
    /// writes that set an absolute state with a fixed reply (`SET` without `NX`/`XX`/`GET`,
    /// `MSET`, `SETEX`, `EXPIREAT`, ...); [`NotIdempotent`](Self::NotIdempotent) for
    /// everything else, including `INCR`, `LPUSH`, `DEL` (its reply counts deletions) and
    /// unknown commands.
    ///
    /// ```
    /// use asyncperf_pools::Idempotency;
    ///
    /// assert_eq!(Idempotency::of(redis::cmd("GET").arg("k")), Idempotency::Idempotent);
    /// assert_eq!(Idempotency::of(redis::cmd("SET").arg("k").arg(1)), Idempotency::Idempotent);
    /// assert_eq!(
    ///     Idempotency::of(redis::cmd("SET").arg("k").arg(1).arg("NX")),
    ///     Idempotency::NotIdempotent
    /// );
    /// assert_eq!(Idempotency::of(redis::cmd("INCR").arg("k")), Idempotency::NotIdempotent);
    /// ```
    #[must_use]
    pub fn of(cmd: &Cmd) -> Self {
        let mut args = cmd.args_iter().map(|arg| match arg {
            Arg::Simple(bytes) => bytes,
            // A cursor placeholder (or a future kind of argument) is never a command name
            // or a `SET` option.
            _ => b"".as_slice(),
        });
        let Some(name) = args.next() else {
            return Self::NotIdempotent;
        };
        let is = |list: &[&str]| {
            list.iter()
                .any(|known| name.eq_ignore_ascii_case(known.as_bytes()))
        };
        let idempotent = if name.eq_ignore_ascii_case(b"SET") {
            // SET key value [options]: the options start at the third argument.
            !args.skip(2).any(|option| {
                CONDITIONAL_SET_OPTIONS
                    .iter()
                    .any(|c| option.eq_ignore_ascii_case(c.as_bytes()))
            })
        } else {
            is(READS) || is(ABSOLUTE_WRITES)
        };
        if idempotent {
            Self::Idempotent
        } else {
            Self::NotIdempotent
        }
    }

    /// [`Idempotent`](Self::Idempotent) when every command of the pipeline is.
    #[must_use]
    pub fn of_pipeline(pipeline: &Pipeline) -> Self {
        if pipeline
            .cmd_iter()
            .all(|cmd| Self::of(cmd) == Self::Idempotent)
        {
            Self::Idempotent
        } else {
            Self::NotIdempotent
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(parts: &[&str]) -> Idempotency {
        let mut cmd = redis::cmd(parts[0]);
        for part in &parts[1..] {
            cmd.arg(*part);
        }
        Idempotency::of(&cmd)
    }

    #[test]
    fn reads_and_absolute_writes_are_idempotent() {
        use Idempotency::{Idempotent, NotIdempotent};
        assert_eq!(of(&["get", "k"]), Idempotent);
        assert_eq!(of(&["MGET", "a", "b"]), Idempotent);
        assert_eq!(of(&["SET", "k", "v"]), Idempotent);
        assert_eq!(of(&["SET", "k", "v", "EX", "10"]), Idempotent);
        // The value may spell an option: only arguments after it count.
        assert_eq!(of(&["SET", "k", "NX"]), Idempotent);
        assert_eq!(of(&["SET", "k", "v", "nx"]), NotIdempotent);
        assert_eq!(of(&["SET", "k", "v", "GET"]), NotIdempotent);
        assert_eq!(of(&["INCR", "k"]), NotIdempotent);
        assert_eq!(of(&["DEL", "k"]), NotIdempotent);
        assert_eq!(of(&["LPUSH", "k", "v"]), NotIdempotent);
        assert_eq!(of(&["EVAL", "return 1", "0"]), NotIdempotent);
        assert_eq!(Idempotency::of(&redis::Cmd::new()), NotIdempotent);
    }

    #[test]
    fn only_commands_that_neither_block_nor_change_state_are_shareable() {
        let shareable = |parts: &[&str]| {
            let mut cmd = redis::cmd(parts[0]);
            for part in &parts[1..] {
                cmd.arg(*part);
            }
            shareable(&cmd)
        };
        assert!(shareable(&["get", "k"]));
        assert!(shareable(&["SET", "k", "v", "NX"]));
        assert!(shareable(&["INCR", "k"]));
        for blocking_or_stateful in [
            &["BLPOP", "k", "0"][..],
            &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
            &["SELECT", "1"],
            &["WATCH", "k"],
            &["MULTI"],
            &["CLIENT", "ID"],
            &["SUBSCRIBE", "c"],
            &["EVAL", "return 1", "0"],
            &["SOMEMODULE.CMD"],
        ] {
            assert!(!shareable(blocking_or_stateful), "{blocking_or_stateful:?}");
        }
        assert!(!super::shareable(&redis::Cmd::new()));
    }

    #[test]
    fn a_pipeline_is_idempotent_when_all_its_commands_are() {
        let mut pipe = redis::pipe();
        pipe.get("a").set("b", 1);
        assert_eq!(Idempotency::of_pipeline(&pipe), Idempotency::Idempotent);
        pipe.incr("c", 1);
        assert_eq!(Idempotency::of_pipeline(&pipe), Idempotency::NotIdempotent);
    }
}
