//! The retry policy of `DbPool::run`: what to do after an attempt failed, from what the
//! connection knows about the failure. A pure function, so it is tested against a model.

use super::pool::Idempotency;

/// What the connection saw of one failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The connection broke (transport failure or session ended).
    pub(crate) broken: bool,
    /// The attempt hit its command timeout.
    pub(crate) timed_out: bool,
    /// Commands of the attempt that reached a live connection (may have run).
    pub(crate) sent: u32,
    /// The failing command itself had been sent: its outcome is unknown.
    pub(crate) in_flight: bool,
}

/// The decision after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Run the operation again on another connection.
    Retry,
    /// Give the caller the error.
    Fail,
    /// Give the caller `DbPoolError::Indeterminate`: it may have run, and will not run again.
    FailIndeterminate,
}

/// Decides after a failed attempt. `retried_in_flight` is set when the one retry after an
/// in-flight failure is used up.
pub(crate) fn after_failure(
    idempotency: Idempotency,
    failure: Failure,
    retried_in_flight: &mut bool,
) -> Next {
    if !failure.broken || failure.timed_out {
        // A server error or a slow command: retrying would not help, or would double load.
        return Next::Fail;
    }
    if failure.sent == 0 {
        return Next::Retry; // Nothing reached the server.
    }
    if !failure.in_flight {
        return Next::Fail; // Earlier commands of the operation ran; the failing one never left.
    }
    match idempotency {
        Idempotency::Idempotent if !*retried_in_flight => {
            *retried_in_flight = true;
            Next::Retry
        }
        Idempotency::Idempotent => Next::Fail,
        Idempotency::NotIdempotent => Next::FailIndeterminate,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// How one attempt ends, as the server and the connection see it.
    #[derive(Clone, Copy, Debug)]
    enum Attempt {
        Ok,
        ServerError,
        Timeout,
        /// The connection was found dead before anything was sent.
        DeadBeforeSend,
        /// `ran_before` commands of the operation ran, then the next one found the connection
        /// dead before it was sent.
        DeadAfter {
            ran_before: u32,
        },
        /// Cut while a command was in flight: it may or may not have run.
        CutInFlight {
            ran_before: u32,
        },
    }

    fn attempt() -> impl Strategy<Value = Attempt> {
        prop_oneof![
            Just(Attempt::Ok),
            Just(Attempt::ServerError),
            Just(Attempt::Timeout),
            Just(Attempt::DeadBeforeSend),
            (1..4u32).prop_map(|ran_before| Attempt::DeadAfter { ran_before }),
            (0..4u32).prop_map(|ran_before| Attempt::CutInFlight { ran_before }),
        ]
    }

    fn failure(a: Attempt) -> Option<Failure> {
        let f = |broken, timed_out, sent, in_flight| Failure {
            broken,
            timed_out,
            sent,
            in_flight,
        };
        match a {
            Attempt::Ok => None,
            Attempt::ServerError => Some(f(false, false, 1, true)),
            Attempt::Timeout => Some(f(true, true, 1, true)),
            Attempt::DeadBeforeSend => Some(f(true, false, 0, false)),
            Attempt::DeadAfter { ran_before } => Some(f(true, false, ran_before, false)),
            Attempt::CutInFlight { ran_before } => Some(f(true, false, ran_before + 1, true)),
        }
    }

    /// Whether any part of the attempt may have run on the server.
    fn may_have_run(a: Attempt) -> bool {
        !matches!(a, Attempt::DeadBeforeSend)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Against a model of the server: a non-idempotent operation never runs (even
        /// partly) more than once, an idempotent one at most twice, nothing is retried after
        /// a server error or a timeout, and the loop always ends.
        #[test]
        fn never_runs_a_non_idempotent_operation_twice(
            idempotent in any::<bool>(),
            attempts in proptest::collection::vec(attempt(), 1..12),
        ) {
            let idempotency = if idempotent {
                Idempotency::Idempotent
            } else {
                Idempotency::NotIdempotent
            };
            let mut retried = false;
            let mut ran = 0;
            let mut outcome = None;
            for &a in &attempts {
                if may_have_run(a) {
                    ran += 1;
                }
                let Some(f) = failure(a) else {
                    outcome = Some(Ok(()));
                    break;
                };
                match after_failure(idempotency, f, &mut retried) {
                    Next::Retry => {
                        let retryable = !matches!(a, Attempt::ServerError | Attempt::Timeout);
                        prop_assert!(retryable);
                    }
                    Next::Fail => {
                        outcome = Some(Err(false));
                        break;
                    }
                    Next::FailIndeterminate => {
                        prop_assert!(!idempotent);
                        let cut = matches!(a, Attempt::CutInFlight { .. });
                        prop_assert!(cut);
                        outcome = Some(Err(true));
                        break;
                    }
                }
            }
            prop_assert!(ran <= if idempotent { 2 } else { 1 }, "ran {} times: {:?}", ran, attempts);
            if outcome.is_none() {
                // Out of scripted attempts: only "dead before send" (and one in-flight retry)
                // may keep the loop going, which the caller's deadline bounds.
                let retries = attempts.iter().filter(|a| may_have_run(**a)).count();
                prop_assert!(retries <= 1);
            }
        }
    }

    #[test]
    fn decisions() {
        let mut retried = false;
        let cut = Failure {
            broken: true,
            timed_out: false,
            sent: 1,
            in_flight: true,
        };
        assert_eq!(
            after_failure(Idempotency::NotIdempotent, cut, &mut retried),
            Next::FailIndeterminate
        );
        assert_eq!(
            after_failure(Idempotency::Idempotent, cut, &mut retried),
            Next::Retry
        );
        assert_eq!(
            after_failure(Idempotency::Idempotent, cut, &mut retried),
            Next::Fail
        );
        let dead = Failure {
            sent: 0,
            in_flight: false,
            ..cut
        };
        assert_eq!(
            after_failure(Idempotency::NotIdempotent, dead, &mut retried),
            Next::Retry
        );
    }
}
