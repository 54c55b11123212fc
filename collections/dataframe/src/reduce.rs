//! Reductions of one column (`count`, `sum`, `min`, `max`, `mean`): a
//! partial result per partition, combined by a tree of tasks (Dask's
//! `split_every`, 8 by default), then finished into a [`Scalar`].

use std::cmp::Ordering;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::compute::{self, cast};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use std::sync::Arc;

use barrow_core::arg::{key, keys};
use barrow_core::{Error, Func, Graph, Key, Layer, Result, Task};
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, compute_error};
use crate::expr::Scalar;

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
        }
    }

    /// Checks that the reduction takes a column of type `t`.
    pub(crate) fn check(self, column: &str, t: &DataType) -> Result<()> {
        let ok = match self {
            Agg::Count => true,
            Agg::Sum | Agg::Mean => is_number(t),
            Agg::Min | Agg::Max => is_number(t) || is_text(t),
        };
        if ok {
            Ok(())
        } else {
            Err(DataFrameError::Types {
                operation: format!("{}({column})", self.name()),
                left: t.clone(),
                right: t.clone(),
                advice: "sum and mean take numbers, min and max numbers or strings; cast the \
                         column first",
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
}

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
    })
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

/// The result from the combined contribution.
pub(crate) fn finish(partial: Partial) -> Scalar {
    match partial {
        Partial::Count(n) => Scalar::Int64(n as i64),
        Partial::SumInt(s) => Scalar::Int64(s),
        Partial::SumFloat(s) => Scalar::Float64(s),
        Partial::Extreme(v) => v,
        Partial::Mean(_, 0) => Scalar::Null,
        Partial::Mean(s, n) => Scalar::Float64(s / n as f64),
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
