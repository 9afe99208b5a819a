//! Pool sizing presets: what a pool of each kind should hold, from the CPU cores it serves.

/// What a pool connects to, which decides how large it should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PoolKind {
    /// A database doing real work per query (joins, writes): sized from the database server's
    /// cores, HikariCP's `cores x 2` to `cores x 4`, clamped to 10..=50.
    DatabaseHeavy,
    /// A database answering short lookups: 5..=20 (the reference's asyncpg pool).
    DatabaseLight,
    /// HTTP requests to many external hosts: at most 100 connections in total.
    HttpExternal,
    /// HTTP requests to one host: at most 30 connections to it.
    HttpPerHost,
    /// Redis: 10..=50 connections (the reference's redis-py pool holds 50).
    Redis,
}

/// The number of connections a pool keeps warm (`min`) and may open (`max`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolSize {
    /// Connections kept open even when idle.
    pub min: usize,
    /// Connections open at most, idle and in use together.
    pub max: usize,
}

impl PoolKind {
    /// Every kind, for tables and tests.
    pub const ALL: [Self; 5] = [
        Self::DatabaseHeavy,
        Self::DatabaseLight,
        Self::HttpExternal,
        Self::HttpPerHost,
        Self::Redis,
    ];

    /// The recommended size for a pool of this kind serving `cpu_cores` cores.
    ///
    /// For databases, `cpu_cores` should be the database server's cores where known: the
    /// server does the work, not the client. `0` is treated as `1`.
    ///
    /// | kind | min | max |
    /// |---|---|---|
    /// | `DatabaseHeavy` | `cores x 2`, clamped to 10..=50 | `cores x 4`, clamped to 10..=50 |
    /// | `DatabaseLight` | 5 | 20 |
    /// | `HttpExternal` | 0 | 100 |
    /// | `HttpPerHost` | 0 | 30 |
    /// | `Redis` | 10 | 50 |
    #[must_use]
    pub const fn recommended(self, cpu_cores: usize) -> PoolSize {
        let cores = if cpu_cores == 0 { 1 } else { cpu_cores };
        match self {
            Self::DatabaseHeavy => PoolSize {
                min: clamp(cores.saturating_mul(2), 10, 50),
                max: clamp(cores.saturating_mul(4), 10, 50),
            },
            Self::DatabaseLight => PoolSize { min: 5, max: 20 },
            Self::HttpExternal => PoolSize { min: 0, max: 100 },
            Self::HttpPerHost => PoolSize { min: 0, max: 30 },
            Self::Redis => PoolSize { min: 10, max: 50 },
        }
    }

    /// [`recommended`](Self::recommended) for this machine's cores (cgroup-aware
    /// `std::thread::available_parallelism`, 1 when unknown).
    #[must_use]
    pub fn recommended_local(self) -> PoolSize {
        self.recommended(std::thread::available_parallelism().map_or(1, usize::from))
    }
}

const fn clamp(v: usize, lo: usize, hi: usize) -> usize {
    if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_reference_table() {
        let heavy = |cores| PoolKind::DatabaseHeavy.recommended(cores);
        assert_eq!(heavy(0), PoolSize { min: 10, max: 10 });
        assert_eq!(heavy(2), PoolSize { min: 10, max: 10 });
        assert_eq!(heavy(4), PoolSize { min: 10, max: 16 });
        assert_eq!(heavy(8), PoolSize { min: 16, max: 32 });
        assert_eq!(heavy(64), PoolSize { min: 50, max: 50 });
        for cores in [1, 2, 16, 256] {
            assert_eq!(
                PoolKind::DatabaseLight.recommended(cores),
                PoolSize { min: 5, max: 20 }
            );
            assert_eq!(PoolKind::HttpExternal.recommended(cores).max, 100);
            assert_eq!(PoolKind::HttpPerHost.recommended(cores).max, 30);
            assert_eq!(
                PoolKind::Redis.recommended(cores),
                PoolSize { min: 10, max: 50 }
            );
        }
        for kind in PoolKind::ALL {
            for cores in 0..100 {
                let size = kind.recommended(cores);
                assert!(size.min <= size.max, "{kind:?} {cores}");
            }
        }
    }
}
