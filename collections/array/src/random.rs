//! Seeded random arrays, reproducible for a given seed and chunking.

use std::sync::atomic::{AtomicU64, Ordering};

use barrow_core::Result;
use barrow_core::tokenize::tokenize;
use ndarray::{ArrayD, IxDyn};
use rand::distr::{Distribution, Uniform};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256Plus;

use crate::array::Array;
use crate::block::Block;
use crate::chunks::ChunkSpec;
use crate::create::resolve_chunks;
use crate::error::invalid;

/// Random arrays from one seed (Dask's `da.random.default_rng(seed)`).
///
/// Each block draws from its own generator (Xoshiro256+, seeded from the
/// generator's seed, the call and the block's index), so blocks are
/// independent, can run in any order on any worker, and the same seed,
/// call order and chunking give the same numbers. Successive calls on one
/// `Generator` give different arrays.
///
/// ```
/// use barrow_array::random::Generator;
/// # barrow_local::link();
///
/// let rng = Generator::new(42);
/// let x = rng.random(&[1000, 1000], 250)?;
/// let mean = x.mean().compute()?;
/// assert!((mean - 0.5).abs() < 0.01);
/// // Same seed, same call order, same chunks: same numbers.
/// let again = Generator::new(42).random(&[1000, 1000], 250)?;
/// assert_eq!(x.compute()?, again.compute()?);
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Generator {
    seed: u64,
    calls: AtomicU64,
}

/// SplitMix64: spreads (seed, call, block) into well-mixed 64-bit seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn block_rng(seed: u64, call: u64, start: &[usize]) -> Xoshiro256Plus {
    let mut s = mix(seed ^ mix(call));
    for &i in start {
        s = mix(s ^ i as u64);
    }
    Xoshiro256Plus::seed_from_u64(s)
}

fn fill<T>(shape: &[usize], mut next: impl FnMut() -> T) -> Result<Block<T>>
where
    T: crate::dtype::Element,
{
    let n: usize = shape.iter().product();
    let mut data = Vec::with_capacity(n);
    data.extend((0..n).map(|_| next()));
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .map(Block::Dense)
        .map_err(|e| invalid(e.to_string()))
}

impl Generator {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Generator {
        Generator {
            seed,
            calls: AtomicU64::new(0),
        }
    }

    fn next_call(&self) -> u64 {
        self.calls.fetch_add(1, Ordering::Relaxed)
    }

    /// Uniform values in `[0, 1)`.
    pub fn random(&self, shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Array<f64>> {
        let chunks = resolve_chunks::<f64>(&chunks.into(), shape, None)?;
        let (seed, call) = (self.seed, self.next_call());
        let params = tokenize(&("random", seed, call)).into_bytes();
        Ok(Array::generated(
            "random",
            Some(params),
            chunks,
            move |start, shape| {
                let mut rng = block_rng(seed, call, start);
                fill(shape, || rng.random::<f64>())
            },
        ))
    }

    /// Uniform values in `[low, high)`.
    pub fn uniform(
        &self,
        low: f64,
        high: f64,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<f64>> {
        if low >= high || !low.is_finite() || !high.is_finite() {
            return Err(invalid(format!(
                "uniform needs finite low < high, got low = {low}, high = {high}"
            )));
        }
        let chunks = resolve_chunks::<f64>(&chunks.into(), shape, None)?;
        let (seed, call) = (self.seed, self.next_call());
        let params = tokenize(&("uniform", seed, call, low, high)).into_bytes();
        let width = high - low;
        Ok(Array::generated(
            "uniform",
            Some(params),
            chunks,
            move |start, shape| {
                let mut rng = block_rng(seed, call, start);
                fill(shape, || low + width * rng.random::<f64>())
            },
        ))
    }

    /// Normally distributed values with mean `loc` and standard deviation
    /// `scale`.
    pub fn normal(
        &self,
        loc: f64,
        scale: f64,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<f64>> {
        if scale.is_nan() || scale < 0.0 || !scale.is_finite() || !loc.is_finite() {
            return Err(invalid(format!(
                "normal needs a finite loc and a finite scale >= 0, got loc = {loc}, scale = {scale}"
            )));
        }
        let chunks = resolve_chunks::<f64>(&chunks.into(), shape, None)?;
        let (seed, call) = (self.seed, self.next_call());
        let params = tokenize(&("normal", seed, call, loc, scale)).into_bytes();
        Ok(Array::generated(
            "normal",
            Some(params),
            chunks,
            move |start, shape| {
                let mut rng = block_rng(seed, call, start);
                fill(shape, || {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    loc + scale * z
                })
            },
        ))
    }

    /// Integers uniformly drawn from `[low, high)`.
    pub fn integers(
        &self,
        low: i64,
        high: i64,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<i64>> {
        let dist = Uniform::new(low, high).map_err(|e| {
            invalid(format!(
                "integers needs low < high, got low = {low}, high = {high}: {e}"
            ))
        })?;
        let chunks = resolve_chunks::<i64>(&chunks.into(), shape, None)?;
        let (seed, call) = (self.seed, self.next_call());
        let params = tokenize(&("integers", seed, call, low, high)).into_bytes();
        Ok(Array::generated(
            "integers",
            Some(params),
            chunks,
            move |start, shape| {
                let mut rng = block_rng(seed, call, start);
                fill(shape, || dist.sample(&mut rng))
            },
        ))
    }
}
