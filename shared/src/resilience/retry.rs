//! Retries of idempotent reads: which failures are worth retrying, exponential backoff with full
//! jitter, and a per-service retry budget (a token bucket credited by every first attempt and
//! debited by every retry, like gRPC retry throttling and Finagle/Envoy retry budgets), so that
//! retries stay a bounded fraction of recent calls and a struggling service is not hammered.

use std::sync::Mutex;
use std::time::Duration;

use super::random_u64;

/// A token bucket of retries for one service.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    capacity: f64,
    tokens: Mutex<f64>,
}

impl RetryBudget {
    /// Each call credits `ratio` tokens, each retry costs one; at most `burst` tokens are kept
    /// (and the bucket starts full, so a quiet service can still retry a few calls).
    pub fn new(ratio: f64, burst: u32) -> Self {
        let capacity = f64::from(burst).max(ratio.max(0.0));
        Self {
            ratio: ratio.max(0.0),
            capacity,
            tokens: Mutex::new(capacity),
        }
    }

    /// Credits the budget for one (first-attempt) call.
    pub fn deposit(&self) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        *tokens = (*tokens + self.ratio).min(self.capacity);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn try_withdraw(&self) -> bool {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The wait before retry number `retry` (1-based): uniformly random in
/// `0..=min(max, base * 2^(retry-1))` ("full jitter").
pub fn backoff(retry: u32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
    let cap = exp.min(max).as_micros() as u64;
    if cap == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(random_u64() % (cap + 1))
}

/// Whether an HTTP status is worth retrying (a read only): 502, 503, 504.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 502..=504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_a_burst_then_the_ratio() {
        let budget = RetryBudget::new(0.2, 3);
        assert!((0..3).all(|_| budget.try_withdraw()));
        assert!(!budget.try_withdraw());
        let mut retries = 0;
        for _ in 0..100 {
            budget.deposit();
            if budget.try_withdraw() {
                retries += 1;
            }
        }
        assert!((19..=20).contains(&retries), "{retries}");
    }

    #[test]
    fn backoff_is_capped() {
        for retry in 1..10 {
            let d = backoff(retry, Duration::from_millis(10), Duration::from_millis(50));
            assert!(d <= Duration::from_millis(50));
        }
        assert!(
            backoff(1, Duration::from_millis(10), Duration::from_secs(1))
                <= Duration::from_millis(10)
        );
    }
}
