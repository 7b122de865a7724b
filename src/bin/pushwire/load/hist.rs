//! A latency histogram with logarithmic buckets (HDR-like), no dependency.
//!
//! Values (nanoseconds, in practice) below 128 get a bucket each. Above, every power of
//! two `[2^k, 2^(k+1))` is split into 64 equal sub-buckets, so a bucket's width is at
//! most 1/64 of its values: every reported value is within 1.6 % of the true one (better
//! than two significant digits), for any value up to `u64::MAX`, in 3,776 counters.
//!
//! Percentiles report the *highest* value of the bucket they fall in (as HdrHistogram
//! does), never more than the largest value recorded: a percentile is never flattered.

/// Values below this have a bucket of their own.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB: usize = 64;
/// Bucket count: 128 exact values, then 64 buckets for each of the powers 2^7 .. 2^63.
const BUCKETS: usize = LINEAR as usize + SUB * 57;

/// Counts of values in logarithmic buckets; see the module documentation.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .field("max", &self.max)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of `v`.
fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // 7..=63
    let shift = msb - 6; // keeps the top 7 bits: 64..=127
    let sub = (v >> shift) as usize - SUB;
    (shift as usize + 1) * SUB + sub
}

/// The highest value that falls in bucket `i`.
fn highest(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let shift = (i / SUB - 1) as u32;
    let sub = (i % SUB + SUB) as u128;
    u64::try_from(((sub + 1) << shift) - 1).unwrap_or(u64::MAX)
}

impl Histogram {
    /// An empty histogram.
    pub(super) fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Records one value.
    pub(super) fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += u128::from(v);
    }

    /// How many values were recorded.
    pub(super) fn count(&self) -> u64 {
        self.total
    }

    /// The smallest value recorded (exact), 0 if none.
    pub(super) fn min(&self) -> u64 {
        if self.total == 0 { 0 } else { self.min }
    }

    /// The largest value recorded (exact), 0 if none.
    pub(super) fn max(&self) -> u64 {
        self.max
    }

    /// The mean of the values recorded (exact), 0 if none.
    pub(super) fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at percentile `p` (0 to 100): the smallest bucket bound at or below which
    /// at least `p` % of the values lie, capped at the maximum recorded. 0 if empty.
    pub(super) fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let p = p.clamp(0.0, 100.0);
        let rank = ((p / 100.0 * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return highest(i).min(self.max).max(self.min);
            }
        }
        self.max
    }

    /// Adds every value of `other` to this histogram.
    pub(super) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        // Every value maps to a bucket whose highest value is >= it and within 1/64.
        let mut probes: Vec<u64> = (0..5000).collect();
        for shift in 7..64 {
            let base = 1u64 << shift;
            probes.extend([base - 1, base, base + 1, base + base / 3, base | (base - 1)]);
        }
        probes.push(u64::MAX);
        for v in probes {
            let i = index(v);
            assert!(i < BUCKETS, "{v}");
            let hi = highest(i);
            assert!(hi >= v, "{v}: bucket {i} tops at {hi}");
            assert!(
                (hi - v) as f64 <= v as f64 / 64.0,
                "{v}: bucket {i} tops at {hi}"
            );
            if i > 0 {
                assert!(highest(i - 1) < v, "{v}: previous bucket reaches it");
            }
        }
        assert_eq!(index(127), 127);
        assert_eq!(index(128), 128);
        assert_eq!(highest(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn percentiles_of_a_uniform_range() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 100_000);
        assert_eq!(h.min(), 1000);
        assert_eq!(h.max(), 100_000_000);
        for (p, exact) in [
            (50.0, 50_000_000.0),
            (99.0, 99_000_000.0),
            (99.9, 99_900_000.0),
        ] {
            let got = h.percentile(p) as f64;
            assert!(
                got >= exact && got <= exact * (1.0 + 1.0 / 64.0),
                "p{p}: {got} vs {exact}"
            );
        }
        assert_eq!(h.percentile(100.0), 100_000_000);
        assert!((1000..=1016).contains(&h.percentile(0.0)));
        assert!((h.mean() - 50_000_500.0).abs() < 1.0);
    }

    #[test]
    fn small_values_are_exact_and_empty_is_zero() {
        let mut h = Histogram::new();
        assert_eq!(
            (h.percentile(50.0), h.min(), h.max(), h.mean()),
            (0, 0, 0, 0.0)
        );
        for v in [5, 5, 7, 100] {
            h.record(v);
        }
        assert_eq!(h.percentile(50.0), 5);
        assert_eq!(h.percentile(75.0), 7);
        assert_eq!(h.percentile(99.0), 100);
    }

    #[test]
    fn a_percentile_never_exceeds_the_maximum() {
        let mut h = Histogram::new();
        h.record(1_000_001); // mid-bucket
        assert_eq!(h.percentile(50.0), 1_000_001);
        assert_eq!(h.percentile(99.0), 1_000_001);
    }

    #[test]
    fn merge() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        for v in 0..100 {
            a.record(v);
            b.record(v + 1000);
        }
        a.merge(&b);
        assert_eq!(a.count(), 200);
        assert_eq!(a.min(), 0);
        assert_eq!(a.max(), 1099);
        assert!(a.percentile(50.0) < 100);
        assert!(a.percentile(51.0) >= 1000);
    }
}
