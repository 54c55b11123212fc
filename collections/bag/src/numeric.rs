//! Numbers, for `mean`, `var` and `std`.

/// A number that statistics can read as an `f64` (every primitive integer
/// and float; integers above 2^53 lose precision, as in NumPy).
pub trait Numeric: Copy {
    /// The value as an `f64`.
    fn to_f64(self) -> f64;
}

macro_rules! numeric {
    ($($t:ty),*) => {
        $(impl Numeric for $t {
            #[allow(clippy::cast_lossless, reason = "one macro for lossless and lossy casts")]
            fn to_f64(self) -> f64 {
                self as f64
            }
        })*
    };
}
numeric!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

/// Count, mean and sum of squared deviations, merged without losing
/// precision (Chan et al.'s parallel form of Welford's algorithm): partial
/// results of any partitions combine into the moments of their union.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Moments {
    pub(crate) n: u64,
    pub(crate) mean: f64,
    pub(crate) m2: f64,
}

impl Moments {
    pub(crate) fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    pub(crate) fn merge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        self.mean += delta * other.n as f64 / n as f64;
        self.m2 += other.m2 + delta * delta * (self.n as f64) * (other.n as f64) / n as f64;
        self.n = n;
    }
}

#[cfg(test)]
mod tests {
    use super::Moments;

    #[test]
    fn merged_moments_equal_the_moments_of_the_union() {
        let data: Vec<f64> = (0..100).map(|i| f64::from(i * i % 17) - 3.5).collect();
        let mut whole = Moments::default();
        data.iter().for_each(|&x| whole.push(x));
        let mut left = Moments::default();
        let mut right = Moments::default();
        data[..37].iter().for_each(|&x| left.push(x));
        data[37..].iter().for_each(|&x| right.push(x));
        left.merge(&right);
        assert_eq!(left.n, whole.n);
        assert!((left.mean - whole.mean).abs() < 1e-12);
        assert!((left.m2 - whole.m2).abs() < 1e-9);
        let mut empty = Moments::default();
        empty.merge(&whole);
        assert_eq!(empty, whole);
    }
}
