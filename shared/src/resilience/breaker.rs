//! A circuit breaker per downstream service: closed → open when the failure ratio over a rolling
//! window (of at least a minimum number of calls) reaches the threshold → half-open after a
//! cool-down, letting a few probes through → closed on a successful probe, open again on a
//! failed one. While open, calls fail at once instead of waiting for timeouts.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

/// How a breaker trips and recovers.
#[derive(Debug, Clone)]
pub struct BreakerSettings {
    /// Failure ratio (0..=1) over the window that opens the breaker.
    pub failure_ratio: f64,
    /// Fewest calls in the window before the ratio is considered.
    pub min_calls: u32,
    /// Length of the rolling window.
    pub window: Duration,
    /// How long the breaker stays open before letting probes through.
    pub cool_down: Duration,
    /// Probes allowed at once while half-open.
    pub half_open_probes: u32,
}

/// The state of one breaker, as `/ready` and metrics report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls fail at once.
    Open,
    /// The cool-down is over: a few probe calls decide.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    index: u64,
    ok: u32,
    failed: u32,
}

#[derive(Debug)]
enum Mode {
    Closed,
    Open { until: Instant },
    HalfOpen { probes: u32 },
}

#[derive(Debug)]
struct State {
    mode: Mode,
    buckets: [Bucket; BUCKETS],
}

/// One service's breaker.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    bucket_len: Duration,
    epoch: Instant,
    state: Mutex<State>,
}

/// Permission for one call; report its outcome with [`Permit::record`]. A probe permit dropped
/// without an outcome (the call was cancelled) counts as a failed probe, so the breaker never
/// stays half-open waiting for an answer that will not come.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Permit<'_> {
    /// Records the call's outcome: `ok` is false for connect errors, timeouts and 5xx.
    pub fn record(mut self, ok: bool) {
        self.recorded = true;
        self.breaker.record(self.probe, ok);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.probe {
            self.breaker.record(true, false);
        }
    }
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        let bucket_len = (settings.window / BUCKETS as u32).max(Duration::from_millis(1));
        Self {
            settings,
            bucket_len,
            epoch: Instant::now(),
            state: Mutex::new(State {
                mode: Mode::Closed,
                buckets: [Bucket::default(); BUCKETS],
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state (an open breaker whose cool-down is over reports half-open).
    pub fn state(&self) -> BreakerState {
        match self.lock().mode {
            Mode::Closed => BreakerState::Closed,
            Mode::Open { until } if Instant::now() < until => BreakerState::Open,
            Mode::Open { .. } | Mode::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Lets a call through, or refuses it while open (or while half-open with every probe slot
    /// taken).
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut state = self.lock();
        let probe = match state.mode {
            Mode::Closed => false,
            Mode::Open { until } => {
                if Instant::now() < until {
                    return None;
                }
                state.mode = Mode::HalfOpen { probes: 1 };
                tracing::info!("circuit breaker half-open: probing");
                true
            }
            Mode::HalfOpen { ref mut probes } => {
                if *probes >= self.settings.half_open_probes.max(1) {
                    return None;
                }
                *probes += 1;
                true
            }
        };
        Some(Permit {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    fn record(&self, probe: bool, ok: bool) {
        let now = Instant::now();
        let index =
            (now.duration_since(self.epoch).as_nanos() / self.bucket_len.as_nanos().max(1)) as u64;
        let mut state = self.lock();
        if probe && matches!(state.mode, Mode::HalfOpen { .. }) {
            if ok {
                state.mode = Mode::Closed;
                state.buckets = [Bucket::default(); BUCKETS];
                tracing::info!("circuit breaker closed: probe succeeded");
            } else {
                state.mode = Mode::Open {
                    until: now + self.settings.cool_down,
                };
                tracing::warn!("circuit breaker re-opened: probe failed");
            }
            return;
        }
        let slot = &mut state.buckets[(index % BUCKETS as u64) as usize];
        if slot.index != index {
            *slot = Bucket {
                index,
                ..Bucket::default()
            };
        }
        if ok {
            slot.ok += 1;
        } else {
            slot.failed += 1;
        }
        if !matches!(state.mode, Mode::Closed) || ok {
            return;
        }
        let (mut total, mut failed) = (0u64, 0u64);
        for bucket in &state.buckets {
            if index.saturating_sub(bucket.index) < BUCKETS as u64 {
                total += u64::from(bucket.ok) + u64::from(bucket.failed);
                failed += u64::from(bucket.failed);
            }
        }
        if total >= u64::from(self.settings.min_calls.max(1))
            && failed as f64 >= self.settings.failure_ratio * total as f64
        {
            state.mode = Mode::Open {
                until: now + self.settings.cool_down,
            };
            tracing::warn!(failed, total, "circuit breaker opened");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(cool_down: Duration) -> Breaker {
        Breaker::new(BreakerSettings {
            failure_ratio: 0.5,
            min_calls: 4,
            window: Duration::from_secs(10),
            cool_down,
            half_open_probes: 1,
        })
    }

    fn call(b: &Breaker, ok: bool) -> bool {
        match b.try_acquire() {
            Some(permit) => {
                permit.record(ok);
                true
            }
            None => false,
        }
    }

    #[test]
    fn opens_after_min_calls_at_the_ratio_then_recovers() {
        let b = breaker(Duration::from_millis(30));
        assert!(call(&b, true));
        assert!(call(&b, false));
        assert!(call(&b, true));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(call(&b, false)); // 2 of 4 failed: opens
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!call(&b, true));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire();
        assert!(probe.is_some());
        assert!(b.try_acquire().is_none(), "one probe at a time");
        drop(probe); // cancelled probe counts as failed
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(40));
        assert!(call(&b, true));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn few_calls_never_open() {
        let b = breaker(Duration::from_secs(5));
        for _ in 0..3 {
            assert!(call(&b, false));
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
