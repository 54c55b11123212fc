//! The array workloads: `ones-sum`, `ones-materialized`, `random-mean`,
//! `x-plus-xT-sum`, `dot-xxT`, `random-sum-50k` and `rechunk-cols-to-rows`, as
//! `benches/compare/dask/run_array.py` runs them on Dask (the cases of the
//! anchor's `bench_array.py`). Arrays compute with graph optimization on
//! (fusion), as Dask's `compute()` does for them.
//!
//! Each record adds `tasks_optimized` (after `barrow_core::optimize`),
//! `shape`, `chunks`, `bytes` (the array's logical bytes) and `throughput`
//! in logical GB/s (1 GB = 1e9 bytes). `dot-xxT` adds `gflops`
//! (2·n³ / seconds) and, for scale, one faer GEMM of the whole matrix on
//! both cores in the same process right after: `gemm_gflops`,
//! `gemm_seconds` and `ratio_to_gemm` (`gflops / gemm_gflops`); its
//! `peak_rss_mb` is read before the GEMM allocates its matrices (that one
//! is `peak_rss_with_gemm_mb`).

use std::time::{Duration, Instant};

use barrow_array::Array;
use barrow_benches::array::{
    check_dot_entry, dot_xxt, ones_materialized, ones_sum, random_mean, random_sum,
    rechunk_cols_to_rows, x_plus_xt_sum,
};
use barrow_core::collection::Collection;
use barrow_core::{Options, compute_with};
use barrow_delayed::Delayed;
use ndarray::ArrayD;

use crate::{Args, Measured, median, peak_rss_mb, run_options};

/// The array workloads of this runner.
pub(crate) const WORKLOADS: &[&str] = &[
    "ones-sum",
    "ones-materialized",
    "random-mean",
    "x-plus-xT-sum",
    "dot-xxT",
    "random-sum-50k",
    "rechunk-cols-to-rows",
];

/// The entry of `dot-xxT` checked against a direct dot product (as
/// `run_array.py`): off the block diagonal.
const DOT_ENTRY: (usize, usize) = (1234, 3210);

/// `array.rechunk.memory-budget` of `rechunk-cols-to-rows`: a quarter of
/// the 800 MB array, what the default gives a machine with 800 MB
/// available, so that the rechunk stages its pieces (on this machine the
/// default budget is several GB, and it would run in memory).
const RECHUNK_BUDGET: &str = "200MB";

/// Side and chunk of `dot-xxT`.
const DOT_N: usize = 4000;
const DOT_CHUNK: usize = 1000;

/// Task counts of a collection's graph, before and after the default
/// optimization.
fn task_counts<C: Collection>(collection: &C) -> Result<(usize, usize), String> {
    let graph = collection.graph().map_err(|e| e.to_string())?;
    let optimized = barrow_core::optimize::optimize(&graph, &collection.output_keys())
        .map_err(|e| format!("optimizing the graph failed: {e}"))?;
    Ok((graph.len(), optimized.len()))
}

/// Builds `warmup + reps` times (median of the last `reps`), keeping the
/// last one built; the previous one is dropped before the next is built.
fn build_all<C>(
    args: &Args,
    build: impl Fn() -> barrow_core::Result<C>,
) -> Result<(C, Duration), String> {
    let mut times = Vec::with_capacity(args.reps);
    let mut built = None;
    for i in 0..args.warmup + args.reps {
        drop(built.take());
        let start = Instant::now();
        let collection = build().map_err(|e| format!("building the array failed: {e}"))?;
        if i >= args.warmup {
            times.push(start.elapsed());
        }
        built = Some(collection);
    }
    let built = built.ok_or("no build ran")?;
    Ok((built, median(&times)))
}

/// The fields every array record adds.
fn array_fields(n: usize, chunks: usize, seconds: f64) -> Vec<(&'static str, String)> {
    let bytes = (n * n * 8) as f64;
    vec![
        ("shape", format!("[{n}, {n}]")),
        ("chunks", chunks.to_string()),
        ("bytes", format!("{bytes:.0}")),
        ("throughput", format!("{:.4}", bytes / seconds / 1e9)),
        ("throughput_unit", "\"GB/s\"".to_owned()),
    ]
}

/// A workload whose result is one number, checked by `check`.
fn scalar(
    args: &Args,
    (n, chunks): (usize, usize),
    build: impl Fn(usize, usize) -> barrow_core::Result<Delayed<f64>>,
    expected: f64,
    check: impl Fn(f64) -> bool,
) -> Result<Measured, String> {
    let (delayed, build_time) = build_all(args, || build(n, chunks))?;
    let (tasks, tasks_optimized) = task_counts(&delayed)?;
    let options = run_options(args);
    let run = || compute_with(&delayed, &options).map_err(|e| format!("the array failed: {e}"));
    for _ in 0..args.warmup {
        let result = run()?;
        if !check(result) {
            return Err(format!("warm-up gave {result}, expected {expected}"));
        }
    }
    let mut times = Vec::with_capacity(args.reps);
    let mut result = f64::NAN;
    for _ in 0..args.reps {
        let start = Instant::now();
        result = run()?;
        times.push(start.elapsed());
        if !check(result) {
            break;
        }
    }
    let seconds = median(&times).as_secs_f64();
    let mut extra = vec![("tasks_optimized", tasks_optimized.to_string())];
    extra.extend(array_fields(n, chunks, seconds));
    let ok = check(result);
    Ok(Measured {
        tasks,
        build: build_time,
        times,
        result: format!("{result:?}"),
        expected: format!("{expected:?}"),
        extra,
        check: Some(if ok {
            Ok(())
        } else {
            Err(format!("result {result} != expected {expected}"))
        }),
        peak_rss_mb: None,
    })
}

/// Runs one array workload.
pub(crate) fn measure(name: &str, args: &Args) -> Result<Measured, String> {
    let near = |target: f64| move |r: f64| (r / target - 1.0).abs() < 1e-3;
    match name {
        "ones-sum" => scalar(args, (20_000, 2000), ones_sum, 4e8, |r| r == 4e8),
        "ones-materialized" => scalar(args, (20_000, 2000), ones_materialized, 4e8, |r| r == 4e8),
        "random-mean" => scalar(args, (20_000, 2000), random_mean, 0.5, |r| {
            (r - 0.5).abs() < 1e-3
        }),
        "x-plus-xT-sum" => scalar(args, (10_000, 1000), x_plus_xt_sum, 1e8, near(1e8)),
        "random-sum-50k" => scalar(args, (50_000, 5000), random_sum, 1.25e9, near(1.25e9)),
        "rechunk-cols-to-rows" => scalar(
            args,
            (10_000, 1000),
            |n, c| rechunk_cols_to_rows(n, c, Some(RECHUNK_BUDGET)),
            5e7,
            near(5e7),
        ),
        "dot-xxT" => dot(args),
        other => Err(format!("unknown array workload {other:?}")),
    }
}

/// Whether the product has the right shape and entry.
fn check_product(x: &Array<f64>, product: &ArrayD<f64>, options: &Options) -> Result<(), String> {
    if product.shape() != [DOT_N, DOT_N] {
        return Err(format!("shape {:?} != [{DOT_N}, {DOT_N}]", product.shape()));
    }
    check_dot_entry(x, product, DOT_ENTRY, options)
}

/// `dot-xxT`: `x.dot(x.T)` to a 4000 × 4000 array, then the faer GEMM of
/// the same size for scale.
fn dot(args: &Args) -> Result<Measured, String> {
    let ((x, product), build_time) = build_all(args, || dot_xxt(DOT_N, DOT_CHUNK))?;
    let (tasks, tasks_optimized) = task_counts(&product)?;
    let options = run_options(args);
    let run = || compute_with(&product, &options).map_err(|e| format!("the array failed: {e}"));
    for _ in 0..args.warmup {
        let result = run()?;
        check_product(&x, &result, &options).map_err(|e| format!("warm-up: {e}"))?;
    }
    let mut times = Vec::with_capacity(args.reps);
    let mut check = Ok(());
    for _ in 0..args.reps {
        let start = Instant::now();
        let result = run()?;
        times.push(start.elapsed());
        check = check_product(&x, &result, &options);
        drop(result);
        if check.is_err() {
            break;
        }
    }
    let peak_before_gemm = peak_rss_mb();
    let seconds = median(&times).as_secs_f64();
    let flops = 2.0 * (DOT_N as f64).powi(3);
    let gflops = flops / seconds / 1e9;
    let gemm_seconds = faer_gemm_seconds(DOT_N, args.warmup, args.reps);
    let gemm_gflops = flops / gemm_seconds / 1e9;
    let mut extra = vec![("tasks_optimized", tasks_optimized.to_string())];
    extra.extend(array_fields(DOT_N, DOT_CHUNK, seconds));
    extra.extend([
        ("gflops", format!("{gflops:.2}")),
        ("gemm_gflops", format!("{gemm_gflops:.2}")),
        ("gemm_seconds", format!("{gemm_seconds:.6}")),
        ("ratio_to_gemm", format!("{:.3}", gflops / gemm_gflops)),
        ("peak_rss_with_gemm_mb", crate::json_float(peak_rss_mb(), 1)),
    ]);
    Ok(Measured {
        tasks,
        build: build_time,
        times,
        result: format!("[{DOT_N}, {DOT_N}]"),
        expected: format!("[{DOT_N}, {DOT_N}]"),
        extra,
        check: Some(check),
        peak_rss_mb: peak_before_gemm,
    })
}

/// SplitMix64 numbers in `[0, 1)`, to fill the GEMM's matrix.
struct SplitMix(u64);

impl SplitMix {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Median seconds of one faer GEMM `c = a · aᵀ` of an `n × n` matrix of
/// uniform numbers on both cores (`Par::rayon(2)`), after `warmup`
/// untimed ones.
fn faer_gemm_seconds(n: usize, warmup: usize, reps: usize) -> f64 {
    let mut rng = SplitMix(42);
    let a = faer::Mat::<f64>::from_fn(n, n, |_, _| rng.unit());
    let mut c = faer::Mat::<f64>::zeros(n, n);
    let mut gemm = || {
        faer::linalg::matmul::matmul(
            c.as_mut(),
            faer::Accum::Replace,
            a.as_ref(),
            a.as_ref().transpose(),
            1.0,
            faer::Par::rayon(2),
        );
    };
    for _ in 0..warmup {
        gemm();
    }
    let times: Vec<Duration> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            gemm();
            start.elapsed()
        })
        .collect();
    median(&times).as_secs_f64()
}
