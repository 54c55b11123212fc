//! The sort's work on batches: the range each row falls in, the sampled
//! quantiles, and the sort of one output partition, with fast paths for
//! one Float64 or Int64 column (compared by value, in the order Arrow's
//! row format gives it).

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, Float64Array, PrimitiveArray, RecordBatch,
    UInt32Array,
};
use arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use arrow::row::{RowConverter, SortField};
use barrow_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::error::compute_error;
use crate::shuffle::column_indices;

/// How many rows of each partition the quantiles are estimated from.
const SAMPLE: usize = 1000;

/// A sort order, as tasks carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SortSpec {
    pub(crate) columns: Vec<String>,
    pub(crate) descending: Vec<bool>,
    pub(crate) nulls_first: bool,
}

impl SortSpec {
    /// A sort by `columns`, each descending or not, nulls last.
    pub(crate) fn new(columns: Vec<String>, descending: Vec<bool>) -> SortSpec {
        SortSpec {
            columns,
            descending,
            nulls_first: false,
        }
    }

    fn options(&self, i: usize) -> SortOptions {
        SortOptions {
            descending: self.descending[i],
            nulls_first: self.nulls_first,
        }
    }

    /// A converter of the sort columns (as `schema` places them) to rows
    /// that compare in this order.
    pub(super) fn converter(&self, schema: &Schema) -> Result<(RowConverter, Vec<usize>)> {
        let indices = column_indices(schema, &self.columns, "sort")?;
        let fields = indices
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                SortField::new_with_options(schema.field(c).data_type().clone(), self.options(i))
            })
            .collect();
        let converter = RowConverter::new(fields).map_err(|e| compute_error("sort_values", e))?;
        Ok((converter, indices))
    }

    /// For each row of `batch`, the range of `bounds` (a batch of the
    /// sort columns) it falls in: the number of bounds not above it, so
    /// that equal keys share a range.
    pub(crate) fn ranges(&self, batch: &RecordBatch, bounds: &RecordBatch) -> Result<Vec<u32>> {
        let indices = column_indices(&batch.schema(), &self.columns, "sort")?;
        let bound_indices = column_indices(&bounds.schema(), &self.columns, "sort")?;
        if let ([c], [b]) = (indices.as_slice(), bound_indices.as_slice()) {
            let (column, bound) = (batch.column(*c), bounds.column(*b));
            // One float or integer column: compared as values, in the
            // order the row format gives them (floats by `total_cmp`).
            if let (Some(v), Some(b)) = (
                column.as_primitive_opt::<Float64Type>(),
                bound.as_primitive_opt::<Float64Type>(),
            ) {
                if let Some(ranges) = self.float_ranges(v, b) {
                    return Ok(ranges);
                }
                return Ok(self.ranges_of(v, b, f64::total_cmp, float_key));
            }
            if let (Some(v), Some(b)) = (
                column.as_primitive_opt::<Int64Type>(),
                bound.as_primitive_opt::<Int64Type>(),
            ) {
                return Ok(self.ranges_of(v, b, i64::cmp, |x| (x as u64) ^ (1 << 63)));
            }
        }
        let (converter, _) = self.converter(&batch.schema())?;
        let pick = |b: &RecordBatch, idx: &[usize]| -> Vec<ArrayRef> {
            idx.iter().map(|&i| b.column(i).clone()).collect()
        };
        let rows = converter
            .convert_columns(&pick(batch, &indices))
            .map_err(|e| compute_error("sort_values", e))?;
        let bounds = converter
            .convert_columns(&pick(bounds, &bound_indices))
            .map_err(|e| compute_error("sort_values", e))?;
        let bounds: Vec<_> = bounds.iter().collect();
        Ok(rows
            .iter()
            .map(|r| bounds.partition_point(|b| *b <= r) as u32)
            .collect())
    }

    /// [`SortSpec::ranges`] of a float column and bounds without nulls or
    /// NaNs, and few bounds: a count of the bounds not above each value, in
    /// float comparisons, which vectorize on any x86-64 (64-bit integer
    /// comparisons need SSE4.2). Float `<=` differs from `total_cmp` only
    /// at zero (-0 = +0), and agrees with its order, so the ranges still
    /// split the sorted rows, only -0 may land next to +0.
    fn float_ranges(&self, values: &Float64Array, bounds: &Float64Array) -> Option<Vec<u32>> {
        let plain =
            |a: &Float64Array| a.null_count() == 0 && !a.values().iter().any(|x| x.is_nan());
        if bounds.len() > 64 || !plain(values) || !plain(bounds) {
            return None;
        }
        let bounds = bounds.values();
        let count = |x: f64| -> u32 {
            if self.options(0).descending {
                bounds.iter().map(|b| u32::from(x <= *b)).sum()
            } else {
                bounds.iter().map(|b| u32::from(*b <= x)).sum()
            }
        };
        Some(values.values().iter().map(|x| count(*x)).collect())
    }

    /// [`SortSpec::ranges`] of one primitive column, `order` comparing
    /// two values ascending, `key` mapping them to integers in that order.
    fn ranges_of<T: ArrowPrimitiveType>(
        &self,
        values: &PrimitiveArray<T>,
        bounds: &PrimitiveArray<T>,
        order: impl Fn(&T::Native, &T::Native) -> Ordering,
        key: impl Fn(T::Native) -> u64,
    ) -> Vec<u32> {
        let options = self.options(0);
        if values.null_count() == 0 && bounds.null_count() == 0 && bounds.len() <= 64 {
            // The common case, without nulls and with few partitions: a
            // count of the bounds not above each key, over integers that
            // order as the values do, is branch-free (and vectorizes),
            // where a binary search mispredicts at every step.
            let flip = |k: u64| if options.descending { !k } else { k };
            let bounds: Vec<u64> = bounds.values().iter().map(|b| flip(key(*b))).collect();
            return values
                .values()
                .iter()
                .map(|v| {
                    let k = flip(key(*v));
                    bounds.iter().map(|b| u32::from(*b <= k)).sum::<u32>()
                })
                .collect();
        }
        let compare = |a: Option<T::Native>, b: Option<T::Native>| match (a, b) {
            (None, None) => Ordering::Equal,
            (None, _) if options.nulls_first => Ordering::Less,
            (None, _) => Ordering::Greater,
            (_, None) if options.nulls_first => Ordering::Greater,
            (_, None) => Ordering::Less,
            (Some(x), Some(y)) if options.descending => order(&y, &x),
            (Some(x), Some(y)) => order(&x, &y),
        };
        let bounds: Vec<Option<T::Native>> = bounds.iter().collect();
        let place = |v: Option<T::Native>| {
            bounds.partition_point(|b| compare(*b, v) != Ordering::Greater) as u32
        };
        if values.null_count() == 0 {
            values.values().iter().map(|v| place(Some(*v))).collect()
        } else {
            values.iter().map(place).collect()
        }
    }

    /// `batch` sorted.
    pub(crate) fn sort(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if batch.num_rows() < 2 {
            return Ok(batch.clone());
        }
        let indices = column_indices(&batch.schema(), &self.columns, "sort")?;
        if let Some(sorted) = self.sort_by_value(&[batch])? {
            return Ok(sorted);
        }
        let columns: Vec<SortColumn> = indices
            .iter()
            .enumerate()
            .map(|(i, &c)| SortColumn {
                values: batch.column(c).clone(),
                options: Some(self.options(i)),
            })
            .collect();
        let order =
            lexsort_to_indices(&columns, None).map_err(|e| compute_error("sort_values", e))?;
        take_record_batch(batch, &order).map_err(|e| compute_error("sort_values", e))
    }
}

impl SortSpec {
    /// The rows of `pieces` sorted, when the sort is by one Float64 or
    /// Int64 column without nulls (`None` otherwise): each key becomes an
    /// integer that orders as the value does, its low bits replaced by the
    /// row's position, and the integers are sorted alone, which is about
    /// twice as fast as sorting (value, position) pairs. Keys that agree
    /// but for the bits given to the position are put in order after, and
    /// equal keys keep their order.
    fn sort_by_value(&self, pieces: &[&RecordBatch]) -> Result<Option<RecordBatch>> {
        let [column] = self.columns.as_slice() else {
            return Ok(None);
        };
        let mut columns = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let Some(values) = piece.column_by_name(column) else {
                return Ok(None);
            };
            let typed = if let Some(v) = values.as_primitive_opt::<Float64Type>() {
                ValueKeys::Float(v)
            } else if let Some(v) = values.as_primitive_opt::<Int64Type>() {
                ValueKeys::Int(v)
            } else {
                return Ok(None);
            };
            if values.null_count() > 0 {
                return Ok(None);
            }
            columns.push(typed);
        }
        let flip = if self.options(0).descending {
            u64::MAX
        } else {
            0
        };
        let keyed = |i: usize, row: usize| columns[i].key(row) ^ flip;
        let n: usize = pieces.iter().map(|p| p.num_rows()).sum();
        if n < 2 || u32::try_from(n).is_err() {
            return Ok(None);
        }
        let bits = usize::BITS - (n - 1).leading_zeros();
        let low = (1u64 << bits) - 1;
        let mut starts = Vec::with_capacity(pieces.len() + 1);
        let mut keys = Vec::with_capacity(n);
        for (i, piece) in pieces.iter().enumerate() {
            starts.push(keys.len());
            keys.extend((0..piece.num_rows()).map(|row| keyed(i, row)));
        }
        starts.push(n);
        let mut packed: Vec<u64> = keys
            .iter()
            .zip(0u64..)
            .map(|(key, at)| (key & !low) | at)
            .collect();
        packed.sort_unstable();
        // Runs that agree in the high bits (equal keys, mostly): in order
        // of the whole key, then of position, unless their keys are equal.
        let mut run = 0;
        while run < n {
            let high = packed[run] & !low;
            let mut end = run + 1;
            while end < n && packed[end] & !low == high {
                end += 1;
            }
            let whole = |p: &u64| keys[(p & low) as usize];
            let first = whole(&packed[run]);
            if packed[run + 1..end].iter().any(|p| whole(p) != first) {
                packed[run..end].sort_unstable_by_key(|p| (whole(p), p & low));
            }
            run = end;
        }
        drop(keys);
        let order: UInt32Array = packed
            .iter()
            .map(|p| (p & low) as u32)
            .collect::<Vec<u32>>()
            .into();
        // One copy in order and a gather from it is faster than gathering
        // from the pieces (`interleave` pays a lookup per value).
        let all = crate::concat("sort_values", pieces)?;
        let gathered =
            take_record_batch(&all, &order).map_err(|e| compute_error("sort_values", e))?;
        Ok(Some(gathered))
    }
}

/// One piece's sort column, typed once.
enum ValueKeys<'a> {
    Float(&'a Float64Array),
    Int(&'a arrow::array::Int64Array),
}

impl ValueKeys<'_> {
    /// Row `row` as an integer that orders as the value does.
    fn key(&self, row: usize) -> u64 {
        match self {
            ValueKeys::Float(v) => float_key(v.value(row)),
            ValueKeys::Int(v) => (v.value(row) as u64) ^ (1 << 63),
        }
    }
}

/// A float as an integer that orders as `f64::total_cmp` does: negative
/// values have every bit flipped, positive ones the sign bit set.
fn float_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Up to [`SAMPLE`] evenly spaced rows of the sort columns of `batch`,
/// with a last column giving how many rows each stands for.
pub(crate) fn sample(spec: &SortSpec, batch: &RecordBatch) -> Result<RecordBatch> {
    let n = batch.num_rows();
    let s = n.min(SAMPLE);
    let picked: Vec<u32> = (0..s).map(|i| (i * n / s.max(1)) as u32).collect();
    let picked = UInt32Array::from(picked);
    let indices = column_indices(&batch.schema(), &spec.columns, "sort")?;
    let columns = batch
        .project(&indices)
        .map_err(|e| compute_error("sort_values", e))?;
    let taken =
        take_record_batch(&columns, &picked).map_err(|e| compute_error("sort_values", e))?;
    let weight = n as f64 / s.max(1) as f64;
    let mut fields: Vec<Field> = taken
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("__weight", DataType::Float64, false));
    let mut arrays = taken.columns().to_vec();
    arrays.push(Arc::new(Float64Array::from(vec![weight; s])));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| compute_error("sort_values", e))
}

/// The `parts - 1` keys cutting the sampled rows into `parts` ranges of
/// about equal weight, as a batch of the sort columns.
pub(crate) fn boundaries(
    spec: &SortSpec,
    samples: &[&RecordBatch],
    parts: usize,
) -> Result<RecordBatch> {
    let all = crate::concat("sort_values", samples)?;
    let weights = all
        .column(all.num_columns() - 1)
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| Error::internal("a sort sample lost its weights"))?
        .clone();
    let keys = all
        .project(&(0..all.num_columns() - 1).collect::<Vec<_>>())
        .map_err(|e| compute_error("sort_values", e))?;
    let sorted_order = {
        let (converter, indices) = spec.converter(&keys.schema())?;
        let columns: Vec<ArrayRef> = indices.iter().map(|&i| keys.column(i).clone()).collect();
        let rows = converter
            .convert_columns(&columns)
            .map_err(|e| compute_error("sort_values", e))?;
        let mut order: Vec<u32> = (0..keys.num_rows() as u32).collect();
        order.sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
        order
    };
    let total: f64 = weights.values().iter().sum();
    let mut cuts = Vec::with_capacity(parts.saturating_sub(1));
    let mut seen = 0.0;
    let mut next = 1;
    for &i in &sorted_order {
        if next >= parts {
            break;
        }
        seen += weights.value(i as usize);
        while next < parts && seen >= total * next as f64 / parts as f64 {
            cuts.push(i);
            next += 1;
        }
    }
    let cuts = UInt32Array::from(cuts);
    take_record_batch(&keys, &cuts).map_err(|e| compute_error("sort_values", e))
}

/// The rows of `pieces` (one output partition's) sorted.
pub(crate) fn sort_pieces(spec: &SortSpec, pieces: &[&RecordBatch]) -> Result<RecordBatch> {
    if let Some(sorted) = spec.sort_by_value(pieces)? {
        return Ok(sorted);
    }
    let all = crate::concat("sort_values", pieces)?;
    spec.sort(&all)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on the first surprise"
    )]

    use super::*;

    fn pieces_of(values: &[f64], cuts: &[usize]) -> Vec<RecordBatch> {
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().copied().filter(|&c| c < values.len()));
        bounds.push(values.len());
        bounds
            .windows(2)
            .map(|w| {
                let x = Float64Array::from(values[w[0]..w[1]].to_vec());
                let at: Vec<i64> = (w[0] as i64..w[1] as i64).collect();
                RecordBatch::try_from_iter([
                    ("x", Arc::new(x) as ArrayRef),
                    (
                        "at",
                        Arc::new(arrow::array::Int64Array::from(at)) as ArrayRef,
                    ),
                ])
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn the_packed_key_sort_orders_keys_that_differ_only_in_their_low_bits() {
        // 300 rows: the position takes the low 9 bits of each key, and
        // these values differ in those bits only, with ties among them.
        let base = 1.5f64.to_bits();
        let mut values: Vec<f64> = (0..300u64)
            .map(|i| f64::from_bits(base + (i * 37 % 200)))
            .collect();
        values.extend([-0.0, 0.0, -2.5, f64::INFINITY]);
        for descending in [false, true] {
            let spec = SortSpec::new(vec!["x".into()], vec![descending]);
            let pieces = pieces_of(&values, &[100, 101, 250]);
            let refs: Vec<&RecordBatch> = pieces.iter().collect();
            let sorted = spec.sort_by_value(&refs).unwrap().unwrap();
            let mut want: Vec<(f64, i64)> = values.iter().copied().zip(0..).collect();
            // A stable sort by value: equal values keep their order.
            want.sort_by(|a, b| {
                let order = a.0.total_cmp(&b.0);
                if descending { order.reverse() } else { order }
            });
            let x = sorted.column(0).as_primitive::<Float64Type>();
            let at = sorted.column(1).as_primitive::<Int64Type>();
            let got: Vec<(f64, i64)> = x
                .values()
                .iter()
                .copied()
                .zip(at.values().iter().copied())
                .collect();
            assert_eq!(
                got.iter()
                    .map(|(x, at)| (x.to_bits(), *at))
                    .collect::<Vec<_>>(),
                want.iter()
                    .map(|(x, at)| (x.to_bits(), *at))
                    .collect::<Vec<_>>(),
                "descending {descending}"
            );
        }
    }

    #[test]
    fn float_keys_order_as_total_cmp() {
        let mut values = vec![
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            3.0,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        values.sort_by(f64::total_cmp);
        let keys: Vec<u64> = values.iter().map(|v| float_key(*v)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    }

    #[test]
    fn the_count_of_bounds_and_the_binary_search_agree() {
        let values = Float64Array::from(vec![-3.0, 0.5, 1.0, 1.0, 7.5, f64::NAN, -0.0]);
        for descending in [false, true] {
            // Bounds come in the sort's order.
            let mut cuts = vec![0.0, 1.0, 5.0];
            if descending {
                cuts.reverse();
            }
            let bounds = Float64Array::from(cuts);
            let spec = SortSpec {
                columns: vec!["x".into()],
                descending: vec![descending],
                nulls_first: false,
            };
            let fast = spec.ranges_of(&values, &bounds, f64::total_cmp, float_key);
            // With a null among the values, the general path runs.
            let with_null =
                Float64Array::from(values.iter().chain([None]).collect::<Vec<Option<f64>>>());
            let slow = spec.ranges_of(&with_null, &bounds, f64::total_cmp, float_key);
            assert_eq!(fast, slow[..values.len()], "descending {descending}");
            // Nulls last, whatever the direction.
            assert_eq!(slow[values.len()], 3);
        }
        let bounds = Float64Array::from(vec![0.0, 1.0, 5.0]);
        let spec = SortSpec::new(vec!["x".into()], vec![false]);
        let fast = spec.ranges_of(&values, &bounds, f64::total_cmp, float_key);
        // NaN after every number, -0 before 0 (as the sort orders them).
        assert_eq!(fast, [0, 1, 2, 2, 3, 3, 0]);
    }
}
