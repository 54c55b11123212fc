//! Reductions of one column (`count`, `sum`, `min`, `max`, `mean`, `var`,
//! `std`, `nunique`, exact or approximate): a partial result per
//! partition, combined by a tree of tasks (Dask's `split_every`, 8 by
//! default), then finished into a [`Scalar`].
//!
//! Variances combine per-partition moments (count, mean, sum of squared
//! deviations) by Chan's formula, which stays exact where a sum of
//! squares would cancel. The exact distinct count keeps the distinct
//! values (as Arrow rows); the approximate one a HyperLogLog sketch of
//! 2^14 registers (about 0.8% error, 16 KiB whatever the column).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::compute::{self, cast};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::row::{RowConverter, Rows, SortField};
use std::sync::Arc;

use barrow_core::arg::{key, keys};
use barrow_core::{Error, Func, Graph, Key, Layer, Result, Task};
use serde::{Deserialize, Serialize};

use arrow::record_batch::RecordBatch;
use barrow_delayed::Delayed;

use crate::DataFrame;
use crate::error::{DataFrameError, compute_error};
use crate::expr::Scalar;
use crate::tasks::Op;
use crate::{describe, groupby};

/// A reduction of one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Agg {
    /// Values that are not null.
    Count,
    /// The sum of the values (0 for none): `Int64` for integers (an
    /// overflow is an error), `Float64` for floats.
    Sum,
    /// The smallest value (null for none).
    Min,
    /// The largest value (null for none).
    Max,
    /// The mean of the values that are not null, as `Float64` (null for
    /// none).
    Mean,
    /// The sample variance (`ddof=1`, as pandas), as `Float64` (null for
    /// fewer than two values).
    Var,
    /// The sample standard deviation (`ddof=1`), as `Float64`.
    Std,
    /// The number of distinct values that are not null (`nunique`).
    NUnique,
    /// An estimate of [`Agg::NUnique`] in constant memory (Dask's
    /// `nunique_approx`): HyperLogLog, within about 1%.
    NUniqueApprox,
}

impl Agg {
    /// The name, as in Dask.
    pub fn name(self) -> &'static str {
        match self {
            Agg::Count => "count",
            Agg::Sum => "sum",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Mean => "mean",
            Agg::Var => "var",
            Agg::Std => "std",
            Agg::NUnique => "nunique",
            Agg::NUniqueApprox => "nunique_approx",
        }
    }

    /// Checks that the reduction takes a column of type `t`.
    pub(crate) fn check(self, column: &str, t: &DataType) -> Result<()> {
        let ok = match self {
            Agg::Count => true,
            Agg::NUnique | Agg::NUniqueApprox => {
                RowConverter::supports_fields(&[SortField::new(t.clone())])
            }
            Agg::Sum | Agg::Mean | Agg::Var | Agg::Std => is_number(t),
            Agg::Min | Agg::Max => is_number(t) || is_text(t),
        };
        if ok {
            Ok(())
        } else {
            Err(DataFrameError::Types {
                operation: format!("{}({column})", self.name()),
                left: t.clone(),
                right: t.clone(),
                advice: "sum, mean, var and std take numbers, min and max numbers or strings; \
                         cast the column first",
            }
            .into())
        }
    }
}

fn is_number(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || *t == DataType::Null
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// What one or more partitions contribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Partial {
    /// Non-null values seen.
    Count(u64),
    /// An integer sum.
    SumInt(i64),
    /// A float sum.
    SumFloat(f64),
    /// The extreme so far (`Scalar::Null` for none).
    Extreme(Scalar),
    /// A sum and the count of its values.
    Mean(f64, u64),
    /// The count, mean and sum of squared deviations of the values.
    Moments { n: u64, mean: f64, m2: f64 },
    /// The distinct values, as Arrow rows.
    Distinct(BTreeSet<Vec<u8>>),
    /// A HyperLogLog sketch: the registers.
    Sketch(Vec<u8>),
}

/// log2 of the number of HyperLogLog registers.
const HLL_BITS: u32 = 14;

fn err(agg: Agg) -> impl Fn(arrow::error::ArrowError) -> barrow_core::Error {
    move |e| compute_error(agg.name(), e)
}

fn as_int64(values: &ArrayRef, agg: Agg) -> Result<Int64Array> {
    let values = cast(values, &DataType::Int64).map_err(err(agg))?;
    Ok(Int64Array::from(values.to_data()))
}

fn as_float64(values: &ArrayRef, agg: Agg) -> Result<Float64Array> {
    let values = cast(values, &DataType::Float64).map_err(err(agg))?;
    Ok(Float64Array::from(values.to_data()))
}

/// The contribution of one partition's `values` to `agg`.
pub(crate) fn partial(agg: Agg, values: &ArrayRef) -> Result<Partial> {
    let t = values.data_type();
    Ok(match agg {
        Agg::Count => Partial::Count((values.len() - values.null_count()) as u64),
        Agg::Sum if t.is_floating() => {
            Partial::SumFloat(compute::sum::<Float64Type>(&as_float64(values, agg)?).unwrap_or(0.0))
        }
        Agg::Sum => Partial::SumInt(
            compute::sum_checked::<Int64Type>(&as_int64(values, agg)?)
                .map_err(err(agg))?
                .unwrap_or(0),
        ),
        Agg::Mean => {
            let floats = as_float64(values, agg)?;
            let count = (floats.len() - floats.null_count()) as u64;
            Partial::Mean(compute::sum::<Float64Type>(&floats).unwrap_or(0.0), count)
        }
        Agg::Min | Agg::Max => Partial::Extreme(extreme(agg, values)?),
        Agg::Var | Agg::Std => {
            let floats = as_float64(values, agg)?;
            let n = (floats.len() - floats.null_count()) as u64;
            let mean = compute::sum::<Float64Type>(&floats).unwrap_or(0.0) / n.max(1) as f64;
            let m2 = floats
                .iter()
                .flatten()
                .map(|x| (x - mean) * (x - mean))
                .sum();
            Partial::Moments { n, mean, m2 }
        }
        Agg::NUnique => {
            let rows = rows_of(values, agg)?;
            Partial::Distinct(valid_rows(values, &rows).map(|r| r.to_vec()).collect())
        }
        Agg::NUniqueApprox => {
            let rows = rows_of(values, agg)?;
            let mut registers = vec![0u8; 1 << HLL_BITS];
            for r in valid_rows(values, &rows) {
                let h = crate::shuffle::hash_bytes(r);
                let index = (h >> (64 - HLL_BITS)) as usize;
                // The rank of the first 1 bit in the rest of the hash.
                let rank = ((h << HLL_BITS) | (1 << (HLL_BITS - 1))).leading_zeros() as u8 + 1;
                registers[index] = registers[index].max(rank);
            }
            Partial::Sketch(registers)
        }
    })
}

/// `values` in Arrow's row format: bytes equal when the values are.
fn rows_of(values: &ArrayRef, agg: Agg) -> Result<Rows> {
    let converter =
        RowConverter::new(vec![SortField::new(values.data_type().clone())]).map_err(err(agg))?;
    converter
        .convert_columns(std::slice::from_ref(values))
        .map_err(err(agg))
}

/// The rows of the values that are not null.
fn valid_rows<'r>(values: &'r ArrayRef, rows: &'r Rows) -> impl Iterator<Item = &'r [u8]> {
    let nulls = values.logical_nulls();
    rows.iter()
        .enumerate()
        .filter(move |(i, _)| nulls.as_ref().is_none_or(|n| n.is_valid(*i)))
        .map(|(_, r)| r.data())
}

/// The HyperLogLog estimate of the distinct values from its registers:
/// Ertl's improved estimator ("New cardinality estimation algorithms for
/// HyperLogLog sketches", 2017), unbiased from one value to billions
/// without the raw estimator's bias tables or its switch to linear
/// counting (whose seam, near 2.5 registers per value, is off by 2%).
fn estimate(registers: &[u8]) -> f64 {
    let m = registers.len() as f64;
    // Ranks run from 1 to q + 1, q the hash bits left after the index.
    let q = 64 - HLL_BITS as usize;
    let mut histogram = vec![0f64; q + 2];
    for &r in registers {
        histogram[usize::from(r).min(q + 1)] += 1.0;
    }
    let mut z = m * tau(1.0 - histogram[q + 1] / m);
    for k in (1..=q).rev() {
        z = 0.5 * (z + histogram[k]);
    }
    z += m * sigma(histogram[0] / m);
    m * m / (2.0 * std::f64::consts::LN_2) / z
}

/// Ertl's σ: the share of empty registers' part of the estimate.
fn sigma(mut x: f64) -> f64 {
    if x >= 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// Ertl's τ: the share of saturated registers' part of the estimate.
fn tau(mut x: f64) -> f64 {
    if x <= 0.0 || x >= 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

fn extreme(agg: Agg, values: &ArrayRef) -> Result<Scalar> {
    let t = values.data_type();
    let min = agg == Agg::Min;
    Ok(if t.is_floating() {
        let floats = as_float64(values, agg)?;
        let v = if min {
            compute::min(&floats)
        } else {
            compute::max(&floats)
        };
        v.map_or(Scalar::Null, Scalar::Float64)
    } else if is_text(t) {
        let strings = cast(values, &DataType::Utf8).map_err(err(agg))?;
        let strings = StringArray::from(strings.to_data());
        let v = if min {
            compute::min_string(&strings)
        } else {
            compute::max_string(&strings)
        };
        v.map_or(Scalar::Null, |s| Scalar::Utf8(s.to_owned()))
    } else {
        let ints = as_int64(values, agg)?;
        let v = if min {
            compute::min(&ints)
        } else {
            compute::max(&ints)
        };
        v.map_or(Scalar::Null, Scalar::Int64)
    })
}

/// Two contributions as one.
pub(crate) fn combine(agg: Agg, a: &Partial, b: &Partial) -> Result<Partial> {
    Ok(match (a, b) {
        (Partial::Count(x), Partial::Count(y)) => Partial::Count(x + y),
        (Partial::SumInt(x), Partial::SumInt(y)) => {
            Partial::SumInt(x.checked_add(*y).ok_or_else(|| DataFrameError::Compute {
                operation: "sum".into(),
                message: format!("the sum overflows Int64 ({x} + {y}); cast the column to Float64"),
            })?)
        }
        (Partial::SumFloat(x), Partial::SumFloat(y)) => Partial::SumFloat(x + y),
        // Partitions of one column can differ in type (an all-null one).
        (Partial::SumInt(x), Partial::SumFloat(y)) | (Partial::SumFloat(y), Partial::SumInt(x)) => {
            Partial::SumFloat(*x as f64 + y)
        }
        (Partial::Mean(s, n), Partial::Mean(t, m)) => Partial::Mean(s + t, n + m),
        (
            Partial::Moments { n, mean, m2 },
            Partial::Moments {
                n: k,
                mean: mean_k,
                m2: m2_k,
            },
        ) => {
            let total = n + k;
            if total == 0 {
                a.clone()
            } else {
                let delta = mean_k - mean;
                let (nf, kf, tf) = (*n as f64, *k as f64, total as f64);
                Partial::Moments {
                    n: total,
                    mean: mean + delta * kf / tf,
                    m2: m2 + m2_k + delta * delta * nf * kf / tf,
                }
            }
        }
        (Partial::Distinct(x), Partial::Distinct(y)) => {
            let (mut big, small) = if x.len() >= y.len() {
                (x.clone(), y)
            } else {
                (y.clone(), x)
            };
            big.extend(small.iter().cloned());
            Partial::Distinct(big)
        }
        (Partial::Sketch(x), Partial::Sketch(y)) if x.len() == y.len() => {
            Partial::Sketch(x.iter().zip(y).map(|(a, b)| *a.max(b)).collect())
        }
        (Partial::Extreme(x), Partial::Extreme(y)) => Partial::Extreme(pick(agg, x, y)),
        _ => {
            return Err(barrow_core::Error::internal(format!(
                "{}: partial results of different kinds ({a:?}, {b:?})",
                agg.name()
            )));
        }
    })
}

/// The smaller (`Min`) or larger of two extremes; null loses.
fn pick(agg: Agg, x: &Scalar, y: &Scalar) -> Scalar {
    let order = match (x, y) {
        (Scalar::Null, _) => return y.clone(),
        (_, Scalar::Null) => return x.clone(),
        (Scalar::Int64(a), Scalar::Int64(b)) => a.cmp(b),
        (Scalar::Float64(a), Scalar::Float64(b)) => a.total_cmp(b),
        (Scalar::Int64(a), Scalar::Float64(b)) => (*a as f64).total_cmp(b),
        (Scalar::Float64(a), Scalar::Int64(b)) => a.total_cmp(&(*b as f64)),
        (Scalar::Utf8(a), Scalar::Utf8(b)) => a.cmp(b),
        _ => Ordering::Equal,
    };
    let keep_x = match agg {
        Agg::Min => order != Ordering::Greater,
        _ => order != Ordering::Less,
    };
    if keep_x { x.clone() } else { y.clone() }
}

/// The result of `agg` from the combined contribution.
pub(crate) fn finish(agg: Agg, partial: Partial) -> Scalar {
    match partial {
        Partial::Count(n) => Scalar::Int64(n as i64),
        Partial::SumInt(s) => Scalar::Int64(s),
        Partial::SumFloat(s) => Scalar::Float64(s),
        Partial::Extreme(v) => v,
        Partial::Mean(_, 0) => Scalar::Null,
        Partial::Mean(s, n) => Scalar::Float64(s / n as f64),
        Partial::Moments { n, .. } if n < 2 => Scalar::Null,
        Partial::Moments { n, m2, .. } => {
            let var = m2 / (n - 1) as f64;
            Scalar::Float64(if agg == Agg::Std { var.sqrt() } else { var })
        }
        Partial::Distinct(values) => Scalar::Int64(values.len() as i64),
        Partial::Sketch(registers) => Scalar::Int64(estimate(&registers).round() as i64),
    }
}

/// How many partial results one combining task takes (Dask's
/// `split_every` default).
pub(crate) const SPLIT_EVERY: usize = 8;

/// Adds a tree reduction over `parts` to `graph`: `partial` on each part,
/// `combine` on [`SPLIT_EVERY`] results at a time until one is left, then
/// `finish`; returns the graph and the key of the result, `base`.
pub(crate) fn tree(
    mut graph: Graph,
    base: &str,
    parts: Vec<Key>,
    partial: &Func,
    combine: &Func,
    finish: &Func,
) -> Result<(Graph, Key)> {
    let partial_name = format!("{base}-partial");
    let mut level: Vec<Key> = Vec::with_capacity(parts.len());
    let mut layer = Layer::try_with_capacity(partial_name.as_str(), parts.len())?;
    for (i, part) in parts.into_iter().enumerate() {
        let k = Key::with_index(partial_name.as_str(), [i as u32]);
        layer.insert(k.clone(), Task::call(partial, [key(part)]))?;
        level.push(k);
    }
    graph.add_layer(Arc::new(layer))?;
    let mut depth = 0u32;
    while level.len() > 1 {
        let name = format!("{base}-combine-{depth}");
        let mut layer = Layer::new(name.as_str());
        let mut next = Vec::with_capacity(level.len().div_ceil(SPLIT_EVERY));
        for (j, group) in level.chunks(SPLIT_EVERY).enumerate() {
            let k = Key::with_index(name.as_str(), [j as u32]);
            layer.insert(k.clone(), Task::call(combine, [keys(group.to_vec())]))?;
            next.push(k);
        }
        graph.add_layer(Arc::new(layer))?;
        level = next;
        depth += 1;
    }
    let out = Key::new(base);
    let last = level
        .pop()
        .ok_or_else(|| Error::internal("a reduction over no partitions"))?;
    let mut layer = Layer::new(base);
    layer.insert(out.clone(), Task::call(finish, [key(last)]))?;
    graph.add_layer(Arc::new(layer))?;
    Ok((graph, out))
}

impl DataFrame {
    /// The number of values of `column` that are not null.
    pub fn count(&self, column: &str) -> Result<Delayed<Scalar>> {
        self.agg(column, Agg::Count)
    }

    /// The sum of `column` (0 when it has no values).
    pub fn sum(&self, column: &str) -> Result<Delayed<Scalar>> {
        self.agg(column, Agg::Sum)
    }

    /// The smallest value of `column` (null when it has none).
    pub fn min(&self, column: &str) -> Result<Delayed<Scalar>> {
        self.agg(column, Agg::Min)
    }

    /// The largest value of `column` (null when it has none).
    pub fn max(&self, column: &str) -> Result<Delayed<Scalar>> {
        self.agg(column, Agg::Max)
    }

    /// The mean of `column`'s values that are not null (null when there
    /// are none).
    pub fn mean(&self, column: &str) -> Result<Delayed<Scalar>> {
        self.agg(column, Agg::Mean)
    }

    /// The sample variance of `column` (`ddof=1`).
    pub fn var(&self, column: &str) -> Result<Delayed<Scalar>> {
        self.agg(column, Agg::Var)
    }

    /// The sample standard deviation of `column` (`ddof=1`).
    pub fn std(&self, column: &str) -> Result<Delayed<Scalar>> {
        self.agg(column, Agg::Std)
    }

    /// The number of distinct values of `column`, nulls left out; see
    /// [`Agg::NUniqueApprox`] for an estimate in constant memory.
    pub fn nunique(&self, column: &str) -> Result<Delayed<Scalar>> {
        self.agg(column, Agg::NUnique)
    }

    /// How many times each value of `column` occurs (Dask's
    /// `value_counts`): the values and a column `count`, the most frequent
    /// first (ties by value); nulls are not counted.
    pub fn value_counts(&self, column: &str) -> Result<Delayed<RecordBatch>> {
        groupby::value_counts_of(self, column)
    }

    /// Count, mean, standard deviation, minimum, quartiles and maximum of
    /// every numeric column (Dask's `describe`), in one pass: a table of a
    /// `statistic` column and a `Float64` column per numeric column. The
    /// quartiles are approximate (from samples of at most 2000 weighted
    /// values per column, as Dask's); nulls and NaN are left out.
    pub fn describe(&self) -> Result<Delayed<RecordBatch>> {
        describe::describe(self)
    }

    /// A reduction of `column`: a partial result per partition, combined
    /// 8 at a time (Dask's `split_every`).
    pub fn agg(&self, column: &str, agg: Agg) -> Result<Delayed<Scalar>> {
        let field = self
            .plan
            .schema
            .field_with_name(column)
            .map_err(|_| self.missing(column))?;
        agg.check(column, field.data_type())?;
        // Reading only the column reduced: the projection reaches the reader.
        let only = self.select([column])?;
        let (graph, parts) = only.partitions()?;
        let base = format!("{}-{}", agg.name(), only.token());
        let partial = Op::AggPartial {
            agg,
            column: column.to_owned(),
        }
        .func()?;
        let combine = Op::AggCombine(agg).func()?;
        let finish = Op::AggFinish(agg).func()?;
        let (graph, out) = tree(graph, &base, parts, &partial, &combine, &finish)?;
        Ok(Delayed::from_graph(graph, out, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate_of(values: Vec<i64>) -> f64 {
        let array: ArrayRef = Arc::new(Int64Array::from(values));
        match partial(Agg::NUniqueApprox, &array) {
            Ok(Partial::Sketch(registers)) => estimate(&registers),
            other => panic!("not a sketch: {other:?}"),
        }
    }

    #[test]
    fn a_few_nearby_values_fall_in_different_registers() {
        // Found by the reshape proptest: with xxh3's bits alone these four
        // shared two registers and were estimated as 2.
        let got = estimate_of(vec![24, -306, 957, -358]);
        assert!((got - 4.0).abs() < 0.01, "{got}");
        // Small counts are exact, up to a collision or two.
        for n in [1, 10, 100, 1_000] {
            let got = estimate_of((0..n).collect());
            assert!(
                (got - n as f64).abs() <= 2.0 + 0.01 * n as f64,
                "{got} for {n}"
            );
        }
    }

    #[test]
    fn the_distinct_count_estimate_is_within_two_percent_over_partitions() {
        for distinct in [1_000i64, 20_000, 50_000, 100_000, 400_000] {
            // Each value twice, in four partitions that overlap.
            let values: Vec<i64> = (0..distinct).chain(0..distinct).collect();
            let sketch = values
                .chunks(values.len() / 4)
                .map(|chunk| {
                    let array: ArrayRef = Arc::new(Int64Array::from(chunk.to_vec()));
                    partial(Agg::NUniqueApprox, &array)
                })
                .reduce(|a, b| combine(Agg::NUniqueApprox, &a?, &b?))
                .and_then(Result::ok);
            let Some(sketch) = sketch else {
                panic!("no sketch")
            };
            let Scalar::Int64(estimate) = finish(Agg::NUniqueApprox, sketch) else {
                panic!("not a count")
            };
            let error = (estimate - distinct).abs() as f64 / distinct as f64;
            assert!(error < 0.02, "{estimate} for {distinct}");
        }
    }
}
