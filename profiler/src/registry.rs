//! Names to dense ids: the only shared, locked structure, touched on a name's first use only.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::error::ProfilerError;

/// Dense index of a name inside one profiler.
pub(crate) type NameId = u32;

/// How many names one profiler can hold (overflow id included); see [`ProfilerError`].
pub const NAME_CAPACITY: usize = crate::shard::SEGMENTS * crate::shard::SEGMENT_LEN;

/// The name that collects records of names past [`NAME_CAPACITY`].
pub const OVERFLOW_NAME: &str = "(overflow)";

/// Id of [`OVERFLOW_NAME`], registered first.
pub(crate) const OVERFLOW_ID: NameId = 0;

#[derive(Debug, Default)]
struct Names {
    by_name: HashMap<Arc<str>, NameId>,
    names: Vec<Arc<str>>,
}

/// Name → id, append-only.
#[derive(Debug)]
pub(crate) struct Registry {
    inner: RwLock<Names>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        let registry = Self {
            inner: RwLock::new(Names::default()),
        };
        let overflow = registry.id_of(OVERFLOW_NAME);
        debug_assert_eq!(overflow, Ok(OVERFLOW_ID));
        registry
    }

    /// The id of `name`, registering it if it is new.
    pub(crate) fn id_of(&self, name: &str) -> Result<NameId, ProfilerError> {
        if let Some(&id) = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_name
            .get(name)
        {
            return Ok(id);
        }
        let mut names = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(&id) = names.by_name.get(name) {
            return Ok(id);
        }
        if names.names.len() >= NAME_CAPACITY {
            return Err(ProfilerError::TooManyNames {
                capacity: NAME_CAPACITY,
            });
        }
        let id = NameId::try_from(names.names.len()).map_err(|_| ProfilerError::TooManyNames {
            capacity: NAME_CAPACITY,
        })?;
        let name: Arc<str> = Arc::from(name);
        names.names.push(Arc::clone(&name));
        names.by_name.insert(name, id);
        Ok(id)
    }

    /// The id of `name`, or the overflow id when the profiler is full.
    pub(crate) fn id_or_overflow(&self, name: &str) -> NameId {
        self.id_of(name).unwrap_or(OVERFLOW_ID)
    }

    /// Every name, indexed by id.
    pub(crate) fn names(&self) -> Vec<Arc<str>> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .names
            .clone()
    }

    /// The name of `id`.
    pub(crate) fn name(&self, id: NameId) -> Arc<str> {
        let names = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        names
            .names
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(OVERFLOW_NAME))
    }
}
