//! A log-linear latency histogram in microseconds (HDR-like): exact below 1,024 µs, then 512
//! sub-buckets per power of two, so every recorded value is within 0.2 % of its bucket. Fixed
//! memory whatever the run length, cheap to record, exact to merge.

/// Sub-buckets per power of two above the linear range (relative precision 1/512).
const SUB_BITS: u32 = 9;
const LINEAR: u64 = 1 << (SUB_BITS + 1);
const HALF: u64 = 1 << SUB_BITS;
/// Values above this (about 137 s) are clamped.
const MAX_SHIFT: u32 = 17;
const BUCKETS: usize = (LINEAR + HALF * MAX_SHIFT as u64) as usize;

/// Latency histogram with microsecond values.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn index(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let msb = 63 - value.leading_zeros();
    let shift = (msb - SUB_BITS).min(MAX_SHIFT);
    let sub = (value >> shift).min(LINEAR - 1);
    (LINEAR + (u64::from(shift) - 1) * HALF + (sub - HALF)) as usize
}

/// The highest value that lands in bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let shift = (i - LINEAR) / HALF + 1;
    let sub = (i - LINEAR) % HALF + HALF;
    ((sub + 1) << shift) - 1
}

impl Histogram {
    /// Records one latency in microseconds.
    pub fn record(&mut self, micros: u64) {
        self.counts[index(micros).min(BUCKETS - 1)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
        self.sum += u128::from(micros);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// Number of recorded values.
    #[allow(dead_code)]
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Mean in microseconds (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// Largest recorded value.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the upper edge of the bucket holding it, capped at
    /// the maximum seen (0 when empty).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..5_000_000u64).step_by(997) {
            let i = index(v);
            assert!(i >= last, "index goes back at {v}");
            last = i;
            let up = upper(i);
            assert!(up >= v, "upper {up} below {v}");
            assert!(
                (up - v) as f64 <= (v as f64 / 500.0).max(0.0) + 1.0,
                "{v} -> {up}"
            );
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 500);
        assert_eq!(h.quantile(0.99), 990);
        assert_eq!(h.quantile(1.0), 1000);
        let mut big = Histogram::default();
        big.record(10_000);
        let q = big.quantile(0.5);
        assert!((10_000..10_020).contains(&q), "{q}");
    }
}
