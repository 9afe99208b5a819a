//! Deadlines from durations users give: one too long to add to the clock means "no deadline"
//! in practice, never a panic (`Instant + Duration::MAX` overflows).

use std::time::Duration;

use tokio::time::Instant;

/// About 30 years, what tokio itself takes for "never".
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `at + after`, or about 30 years after `at` when that overflows.
pub(crate) fn deadline_after(at: Instant, after: Duration) -> Instant {
    at.checked_add(after).unwrap_or_else(|| at + FAR_FUTURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_instead_of_overflowing() {
        let now = Instant::now();
        assert_eq!(
            deadline_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert_eq!(deadline_after(now, Duration::MAX), now + FAR_FUTURE);
    }
}
