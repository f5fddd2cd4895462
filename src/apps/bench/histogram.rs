//! A log-linear latency histogram in the manner of HDR histograms: constant memory (15 KiB),
//! about 3% relative precision over the whole range of nanoseconds, recording in a few
//! nanoseconds.

use std::time::Duration;

/// Values below `SUB` get a bucket each; each power of two above is split into `SUB / 2`
/// buckets, so a bucket is at most 1/32 of its values wide.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for every `u64`.
const BUCKETS: usize = (64 - SUB_BITS as usize) * (SUB as usize / 2) + SUB as usize;

/// Counts of durations in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn record(&mut self, value: Duration) {
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    /// How many durations were recorded.
    #[allow(dead_code)] // for the tests and benches/scale_out.rs
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    #[allow(dead_code)] // for the tests and benches/scale_out.rs
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The longest duration recorded.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The duration below which `q` (0.0–1.0) of the recorded ones fall (the bucket's upper
    /// bound, so never under the true quantile by more than the precision).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(Self::upper_bound(index).min(self.max));
            }
        }
        self.max()
    }

    /// Adds another histogram's counts to this one.
    #[allow(dead_code)] // for the tests and benches/scale_out.rs
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// Bucket of a value: values below `SUB` each have their own; above, each power of two
    /// is split into `SUB / 2` equal buckets.
    fn index(value: u64) -> usize {
        if value < SUB {
            return value as usize;
        }
        let magnitude = 63 - value.leading_zeros() - (SUB_BITS - 1);
        let sub = (value >> magnitude) as usize;
        magnitude as usize * (SUB as usize / 2) + sub
    }

    fn upper_bound(index: usize) -> u64 {
        let half = SUB as usize / 2;
        if index < SUB as usize {
            return index as u64;
        }
        let magnitude = (index - half) / half;
        let sub = index - magnitude * half;
        ((sub as u64 + 1) << magnitude).wrapping_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bound_their_values() {
        for value in (0..100_000u64).chain([1 << 20, 123_456_789, 1 << 40, u64::MAX]) {
            let index = Histogram::index(value);
            assert!(Histogram::upper_bound(index) >= value, "value {value}");
            if index > 0 {
                assert!(Histogram::upper_bound(index - 1) < value, "value {value}");
            }
        }
    }

    #[test]
    fn quantiles_are_within_the_precision() {
        let mut h = Histogram::default();
        for micros in 1..=10_000u64 {
            h.record(Duration::from_micros(micros));
        }
        for (q, exact) in [
            (0.5, 5_000_000.0),
            (0.99, 9_900_000.0),
            (0.999, 9_990_000.0),
        ] {
            let got = h.quantile(q).as_nanos() as f64;
            assert!(
                got >= exact && got <= exact * 1.035,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.max(), Duration::from_millis(10));
        assert_eq!(h.len(), 10_000);
    }
}
