//! What a batch function can return, and how its result becomes each key's answer.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use crate::BatchError;

/// The return type of a per-key batch function given to
/// [`build_per_key`](crate::Builder::build_per_key).
///
/// Implemented for
/// - `HashMap<K, Result<V, E>>`: each key succeeds or fails on its own;
/// - `Result<HashMap<K, Result<V, E>>, E>`: the same, plus an `Err` that fails the whole
///   batch (a lost connection, say) without building one error per key.
///
/// This trait is sealed: it exists so that both shapes are accepted.
#[diagnostic::on_unimplemented(
    message = "a per-key batch function must return `HashMap<K, Result<V, E>>` or `Result<HashMap<K, Result<V, E>>, E>`, not `{Self}`",
    label = "returned here"
)]
pub trait PerKeyResults<K, V, E>: sealed::Sealed<K, V, E> + Send + 'static {
    #[doc(hidden)]
    fn into_outcome(self) -> Outcome<K, V, E>;
}

mod sealed {
    pub trait Sealed<K, V, E> {}
}

impl<K, V, E> sealed::Sealed<K, V, E> for HashMap<K, Result<V, E>> {}
impl<K, V, E> sealed::Sealed<K, V, E> for Result<HashMap<K, Result<V, E>>, E> {}

impl<K, V, E> PerKeyResults<K, V, E> for HashMap<K, Result<V, E>>
where
    K: Send + 'static,
    V: Send + 'static,
    E: Send + 'static,
{
    fn into_outcome(self) -> Outcome<K, V, E> {
        Outcome::PerKey(self)
    }
}

impl<K, V, E> PerKeyResults<K, V, E> for Result<HashMap<K, Result<V, E>>, E>
where
    K: Send + 'static,
    V: Send + 'static,
    E: Send + 'static,
{
    fn into_outcome(self) -> Outcome<K, V, E> {
        match self {
            Ok(map) => Outcome::PerKey(map),
            Err(e) => Outcome::Failed(BatchError::Failed(Arc::new(e))),
        }
    }
}

/// How one batch ended, in a form the dispatcher can answer every key from.
#[doc(hidden)]
#[derive(Debug)]
pub enum Outcome<K, V, E> {
    /// `build`'s function returned `Ok`.
    Whole(HashMap<K, V>),
    /// `build_per_key`'s function returned its map.
    PerKey(HashMap<K, Result<V, E>>),
    /// Every key of the batch gets this error (the function's own error, a panic, a timeout).
    Failed(BatchError<E>),
}

impl<K: Eq + Hash, V, E> Outcome<K, V, E> {
    pub(crate) fn from_whole(result: Result<HashMap<K, V>, E>) -> Self {
        match result {
            Ok(map) => Self::Whole(map),
            Err(e) => Self::Failed(BatchError::Failed(Arc::new(e))),
        }
    }

    /// The answer for `key`; moves the value out, so each key is taken once.
    pub(crate) fn take(&mut self, key: &K) -> Result<V, BatchError<E>> {
        match self {
            Self::Whole(map) => map.remove(key).ok_or(BatchError::NotFound),
            Self::PerKey(map) => match map.remove(key) {
                Some(Ok(v)) => Ok(v),
                Some(Err(e)) => Err(BatchError::KeyFailed(Arc::new(e))),
                None => Err(BatchError::NotFound),
            },
            Self::Failed(e) => Err(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_results_answer_each_key_once() {
        let mut o: Outcome<u8, u8, ()> = Outcome::from_whole(Ok(HashMap::from([(1, 10)])));
        assert_eq!(o.take(&1).unwrap(), 10);
        assert!(
            o.take(&1).unwrap_err().is_not_found(),
            "moved out on first take"
        );
        assert!(o.take(&2).unwrap_err().is_not_found());
    }

    #[test]
    fn a_whole_batch_error_is_shared() {
        let mut o: Outcome<u8, u8, &str> = Outcome::from_whole(Err("down"));
        let (Err(BatchError::Failed(a)), Err(BatchError::Failed(b))) = (o.take(&1), o.take(&2))
        else {
            panic!("both keys get the batch's error")
        };
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn per_key_results_fail_per_key() {
        let map: HashMap<u8, Result<u8, &str>> = HashMap::from([(1, Ok(10)), (2, Err("bad"))]);
        let mut o = map.into_outcome();
        assert_eq!(o.take(&1).unwrap(), 10);
        assert!(matches!(o.take(&2), Err(BatchError::KeyFailed(e)) if *e == "bad"));
        assert!(o.take(&3).unwrap_err().is_not_found());
        let failed: Result<HashMap<u8, Result<u8, &str>>, &str> = Err("down");
        assert!(matches!(
            failed.into_outcome().take(&1),
            Err(BatchError::Failed(_))
        ));
    }
}
