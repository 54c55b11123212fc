//! The array workloads of `benches/compare/run`, shared by the `compare`
//! binary and the criterion benches: the same expressions as
//! `benches/compare/dask/run_array.py` (the cases of Dask's
//! `bench_array.py`), with the sizes as parameters so the criterion bench
//! can run smaller ones.

use barrow_array::Array;
use barrow_array::random::Generator;
use barrow_core::Result;
use barrow_delayed::Delayed;
use ndarray::{ArrayD, s};

/// The seed of every random array here.
pub const SEED: u64 = 42;

/// `ones((n, n), chunks).sum()`: filled blocks, reduced in closed form.
pub fn ones_sum(n: usize, chunks: usize) -> Result<Delayed<f64>> {
    Ok(Array::<f64>::ones(&[n, n], chunks)?.sum())
}

/// `ones((n, n), chunks)` with every block made a contiguous copy by
/// `map_blocks` (Dask: `map_blocks(np.ascontiguousarray, dtype="f8")`),
/// then `.sum()`: every block is real memory, written and read.
pub fn ones_materialized(n: usize, chunks: usize) -> Result<Delayed<f64>> {
    let x = Array::<f64>::ones(&[n, n], chunks)?;
    Ok(x.map_blocks(|b| Ok(b.as_standard_layout().into_owned()))
        .sum())
}

/// `random((n, n), chunks).mean()`.
pub fn random_mean(n: usize, chunks: usize) -> Result<Delayed<f64>> {
    Ok(Generator::new(SEED).random(&[n, n], chunks)?.mean())
}

/// `x = random((n, n), chunks); (x + x.T).sum()`.
pub fn x_plus_xt_sum(n: usize, chunks: usize) -> Result<Delayed<f64>> {
    let x = Generator::new(SEED).random(&[n, n], chunks)?;
    Ok((&x + &x.t()).sum())
}

/// `random((n, n), chunks=(n, chunk)).rechunk((chunk, n)).sum()`: column
/// blocks to row blocks, an all-to-all rechunk (every row block needs a
/// piece of every column block), then a reduction; built under
/// `array.rechunk.memory-budget = budget` when given.
pub fn rechunk_cols_to_rows(n: usize, chunk: usize, budget: Option<&str>) -> Result<Delayed<f64>> {
    let _budget = budget
        .map(|b| barrow_core::config::scoped([("array.rechunk.memory-budget", b)]))
        .transpose()?;
    let x = Generator::new(SEED).random(&[n, n], vec![n, chunk])?;
    Ok(x.rechunk(vec![chunk, n])?.sum())
}

/// `random((n, n), chunks).sum()`.
pub fn random_sum(n: usize, chunks: usize) -> Result<Delayed<f64>> {
    Ok(Generator::new(SEED).random(&[n, n], chunks)?.sum())
}

/// `x = random((n, n), chunks)`: returns `(x, x.dot(x.T))`.
pub fn dot_xxt(n: usize, chunks: usize) -> Result<(Array<f64>, Array<f64>)> {
    let x = Generator::new(SEED).random(&[n, n], chunks)?;
    let product = x.dot(&x.t())?;
    Ok((x, product))
}

/// Whether `product[i, j]` is `x[i, :] · x[j, :]` (relative 1e-9), reading
/// only those two rows of `x` (computed apart, with `options`); the error
/// says what differs.
pub fn check_dot_entry(
    x: &Array<f64>,
    product: &ArrayD<f64>,
    (i, j): (usize, usize),
    options: &barrow_core::Options,
) -> std::result::Result<(), String> {
    let row = |k: usize| -> std::result::Result<Vec<f64>, String> {
        let slice = x
            .slice(s![k..=k, ..])
            .map_err(|e| format!("slicing row {k}: {e}"))?;
        let values = barrow_core::compute_with(&slice, options)
            .map_err(|e| format!("computing row {k}: {e}"))?;
        Ok(values.iter().copied().collect())
    };
    let (a, b) = (row(i)?, row(j)?);
    let direct: f64 = a.iter().zip(&b).map(|(p, q)| p * q).sum();
    let got = product
        .get([i, j].as_slice())
        .copied()
        .ok_or_else(|| format!("entry ({i}, {j}) is outside shape {:?}", product.shape()))?;
    if (got - direct).abs() <= 1e-9 * direct.abs() {
        Ok(())
    } else {
        Err(format!("entry ({i}, {j}) = {got}, direct dot = {direct}"))
    }
}
