//! Seeded random arrays, reproducible for a given seed and chunking.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use barrow_core::Result;
use barrow_core::tokenize::tokenize;
use ndarray::{ArrayD, IxDyn};
use rand::distr::{Distribution, Uniform};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256Plus;

use crate::array::{Array, StreamBlock};
use crate::block::Block;
use crate::chunks::ChunkSpec;
use crate::create::{Source, resolve_chunks};
use crate::dtype::Element;
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

/// Elements per tile when a block is streamed into a reduction: small
/// enough to stay in the core's cache.
const TILE: usize = 1 << 14;

/// What a random array draws: its generator's seed and call, and the
/// distribution (`barrow.array.create` and streamed reductions carry it).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RandomSpec {
    seed: u64,
    call: u64,
    dist: Dist,
}

/// A distribution of [`Generator`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
enum Dist {
    /// `f64` in `[0, 1)`.
    Random,
    /// `f64` in `[low, high)`.
    Uniform { low: f64, high: f64 },
    /// Normal `f64`.
    Normal { loc: f64, scale: f64 },
    /// `i64` in `[low, high)`.
    Integers { low: i64, high: i64 },
}

/// The blocks of one random array: each block's generator, and how one
/// element is drawn from it.
struct RandomBlocks<D> {
    spec: RandomSpec,
    draw: D,
}

impl<T, D> crate::array::StreamBlock<T> for RandomBlocks<D>
where
    T: crate::dtype::Element,
    D: Fn(&mut Xoshiro256Plus) -> T + Send + Sync + 'static,
{
    /// The same draws as [`StreamBlock::fill`], in the same order.
    fn stream(&self, start: &[usize], shape: &[usize], sink: &mut dyn FnMut(&[T])) -> Result<()> {
        let mut rng = block_rng(self.spec.seed, self.spec.call, start);
        let mut left: usize = shape.iter().product();
        let mut tile = Vec::with_capacity(TILE.min(left));
        while left > 0 {
            let m = TILE.min(left);
            tile.clear();
            tile.extend((0..m).map(|_| (self.draw)(&mut rng)));
            sink(&tile);
            left -= m;
        }
        Ok(())
    }

    fn fill(&self, start: &[usize], shape: &[usize]) -> Result<Block<T>> {
        let mut rng = block_rng(self.spec.seed, self.spec.call, start);
        let n: usize = shape.iter().product();
        let mut data = Vec::with_capacity(n);
        data.extend((0..n).map(|_| (self.draw)(&mut rng)));
        ArrayD::from_shape_vec(IxDyn(shape), data)
            .map(Block::Dense)
            .map_err(|e| invalid(e.to_string()))
    }

    fn spec(&self) -> RandomSpec {
        self.spec
    }
}

type Blocks<T> = Arc<dyn StreamBlock<T>>;

/// The blocks `spec` draws, as a source of `T` (an error if the
/// distribution gives another type).
pub(crate) fn source<T: Element>(spec: &RandomSpec) -> Result<Blocks<T>> {
    let spec = *spec;
    let any: Box<dyn Any> = match spec.dist {
        Dist::Random => {
            let draw = |rng: &mut Xoshiro256Plus| rng.random::<f64>();
            Box::new(Arc::new(RandomBlocks { spec, draw }) as Blocks<f64>)
        }
        Dist::Uniform { low, high } => {
            let width = high - low;
            let draw = move |rng: &mut Xoshiro256Plus| low + width * rng.random::<f64>();
            Box::new(Arc::new(RandomBlocks { spec, draw }) as Blocks<f64>)
        }
        Dist::Normal { loc, scale } => {
            let draw = move |rng: &mut Xoshiro256Plus| {
                let z: f64 = StandardNormal.sample(rng);
                loc + scale * z
            };
            Box::new(Arc::new(RandomBlocks { spec, draw }) as Blocks<f64>)
        }
        Dist::Integers { low, high } => {
            let dist = Uniform::new(low, high).map_err(|e| {
                invalid(format!(
                    "integers needs low < high, got low = {low}, high = {high}: {e}"
                ))
            })?;
            let draw = move |rng: &mut Xoshiro256Plus| dist.sample(rng);
            Box::new(Arc::new(RandomBlocks { spec, draw }) as Blocks<i64>)
        }
    };
    any.downcast::<Blocks<T>>().map(|b| *b).map_err(|_| {
        invalid(format!(
            "a random source of {:?} cannot give elements of type {}",
            spec.dist,
            T::CODE.rust_name()
        ))
    })
}

/// A random array of `T` drawn as `dist` says, streamable into
/// reductions.
fn random_array<T: Element>(
    label: &str,
    token: Vec<u8>,
    chunks: crate::chunks::Chunks,
    spec: RandomSpec,
) -> Result<Array<T>> {
    let stream = source::<T>(&spec)?;
    let mut array = Array::created(
        label,
        token,
        chunks,
        Source::Random(spec),
        crate::create::create_element::<T>,
    )?;
    array.stream = Some(stream);
    Ok(array)
}

impl Generator {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Generator {
        Generator {
            seed,
            calls: AtomicU64::new(0),
        }
    }

    fn next_call(&self, dist: Dist) -> RandomSpec {
        RandomSpec {
            seed: self.seed,
            call: self.calls.fetch_add(1, Ordering::Relaxed),
            dist,
        }
    }

    /// Uniform values in `[0, 1)`.
    pub fn random(&self, shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Array<f64>> {
        let chunks = resolve_chunks::<f64>(&chunks.into(), shape, None)?;
        let spec = self.next_call(Dist::Random);
        let token = tokenize(&("random", spec.seed, spec.call)).into_bytes();
        random_array("random", token, chunks, spec)
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
        let spec = self.next_call(Dist::Uniform { low, high });
        let token = tokenize(&("uniform", spec.seed, spec.call, low, high)).into_bytes();
        random_array("uniform", token, chunks, spec)
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
        let spec = self.next_call(Dist::Normal { loc, scale });
        let token = tokenize(&("normal", spec.seed, spec.call, loc, scale)).into_bytes();
        random_array("normal", token, chunks, spec)
    }

    /// Integers uniformly drawn from `[low, high)`.
    pub fn integers(
        &self,
        low: i64,
        high: i64,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<i64>> {
        Uniform::new(low, high).map_err(|e| {
            invalid(format!(
                "integers needs low < high, got low = {low}, high = {high}: {e}"
            ))
        })?;
        let chunks = resolve_chunks::<i64>(&chunks.into(), shape, None)?;
        let spec = self.next_call(Dist::Integers { low, high });
        let token = tokenize(&("integers", spec.seed, spec.call, low, high)).into_bytes();
        random_array("integers", token, chunks, spec)
    }
}
