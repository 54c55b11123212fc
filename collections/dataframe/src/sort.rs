//! `sort_values` and `set_index`: a sort across partitions, as Dask does
//! it. Each partition's sort columns are sampled (a pass that reads only
//! those columns), the samples give approximate quantiles, and those cut
//! the key space into one range per output partition (the *divisions*).
//! A range shuffle sends each row to its range, and each output partition
//! is sorted on its own: partition `i` holds keys below partition `i+1`'s.
//!
//! Keys are compared in Arrow's row format, which orders any column types,
//! several columns, descending columns and nulls first or last alike, so
//! the sampled quantiles, the cut and the final sort agree on one order.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, Float64Array, PrimitiveArray, RecordBatch,
};
use arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use arrow::row::{RowConverter, SortField};
use barrow_core::arg::{key, keys};
use barrow_core::tokenize::tokenize;
use barrow_core::{Error, Key, Layer, Result, Task};
use serde::{Deserialize, Serialize};

use barrow_delayed::Delayed;

use crate::DataFrame;
use crate::error::{self, DataFrameError, compute_error};
use crate::plan::Step;
use crate::shuffle::{Cut, column_indices, exchange, task_per_group};
use crate::source::{Sorted, Source};
use crate::tasks::Op;

/// How many rows of each partition the quantiles are estimated from.
const SAMPLE: usize = 1000;

/// How to sort: the columns, each ascending or descending, where nulls go,
/// and the number of partitions.
///
/// ```
/// use barrow_dataframe::SortBy;
///
/// let newest_first = SortBy::columns(["day", "amount"]).ascending([false, true]).nulls_first(true);
/// # let _ = newest_first;
/// ```
#[derive(Debug, Clone)]
pub struct SortBy {
    columns: Vec<String>,
    ascending: Vec<bool>,
    nulls_first: bool,
    npartitions: Option<usize>,
}

impl SortBy {
    /// Sort by these columns, the first one first, all ascending, nulls
    /// last (pandas' `na_position="last"`).
    pub fn columns<S: AsRef<str>>(columns: impl IntoIterator<Item = S>) -> SortBy {
        let columns: Vec<String> = columns.into_iter().map(|c| c.as_ref().to_owned()).collect();
        SortBy {
            ascending: vec![true; columns.len()],
            columns,
            nulls_first: false,
            npartitions: None,
        }
    }

    /// Whether each column sorts ascending; one value applies to all.
    pub fn ascending(mut self, ascending: impl Into<Ascending>) -> SortBy {
        self.ascending = match ascending.into() {
            Ascending::All(a) => vec![a; self.columns.len()],
            Ascending::Each(each) => each,
        };
        self
    }

    /// Whether nulls come before every value (default: after).
    pub fn nulls_first(mut self, first: bool) -> SortBy {
        self.nulls_first = first;
        self
    }

    /// How many partitions the result has (default: as many as before).
    pub fn npartitions(mut self, n: usize) -> SortBy {
        self.npartitions = Some(n);
        self
    }
}

/// The direction of every sort column, or of each.
#[derive(Debug, Clone)]
pub enum Ascending {
    /// The same for every column.
    All(bool),
    /// One per column, in order.
    Each(Vec<bool>),
}

impl From<bool> for Ascending {
    fn from(a: bool) -> Ascending {
        Ascending::All(a)
    }
}

impl<const N: usize> From<[bool; N]> for Ascending {
    fn from(each: [bool; N]) -> Ascending {
        Ascending::Each(each.to_vec())
    }
}

impl From<Vec<bool>> for Ascending {
    fn from(each: Vec<bool>) -> Ascending {
        Ascending::Each(each)
    }
}

/// A sort order, as tasks carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SortSpec {
    pub(crate) columns: Vec<String>,
    descending: Vec<bool>,
    nulls_first: bool,
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
    fn converter(&self, schema: &Schema) -> Result<(RowConverter, Vec<usize>)> {
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
    let picked = arrow::array::UInt32Array::from(picked);
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
    let cuts = arrow::array::UInt32Array::from(cuts);
    take_record_batch(&keys, &cuts).map_err(|e| compute_error("sort_values", e))
}

/// The rows of `pieces` (one output partition's) sorted.
pub(crate) fn sort_pieces(spec: &SortSpec, pieces: &[&RecordBatch]) -> Result<RecordBatch> {
    let all = crate::concat("sort_values", pieces)?;
    spec.sort(&all)
}

/// Checks `by` against `df`'s columns and works out the spec.
fn resolve(df: &DataFrame, by: &SortBy) -> Result<SortSpec> {
    if by.columns.is_empty() {
        return Err(error::invalid(
            "sort_values needs at least one column: SortBy::columns([\"x\"])",
        ));
    }
    if by.ascending.len() != by.columns.len() {
        return Err(error::invalid(format!(
            "sort_values got {} ascending flags for {} columns [{}]: give one, or one per column",
            by.ascending.len(),
            by.columns.len(),
            by.columns.join(", ")
        )));
    }
    if by.npartitions == Some(0) {
        return Err(error::invalid(
            "sort_values into 0 partitions: give at least 1",
        ));
    }
    let schema = df.schema();
    for c in &by.columns {
        let i = schema.index_of(c).map_err(|_| df.missing(c))?;
        let t = schema.field(i).data_type();
        if !RowConverter::supports_fields(&[SortField::new(t.clone())]) {
            return Err(DataFrameError::Types {
                operation: format!("sort_values by {c}"),
                left: t.clone(),
                right: t.clone(),
                advice: "this type has no order; cast the column with astype first",
            }
            .into());
        }
    }
    Ok(SortSpec {
        columns: by.columns.clone(),
        descending: by.ascending.iter().map(|a| !a).collect(),
        nulls_first: by.nulls_first,
    })
}

/// Builds `df.sort_values(by)`.
pub(crate) fn sort_values(df: &DataFrame, by: &SortBy) -> Result<DataFrame> {
    let spec = resolve(df, by)?;
    let n = by.npartitions.unwrap_or(df.npartitions()).max(1);
    let token = tokenize(&(df.token(), format!("{spec:?} {n}")));
    let name = format!("sort-{token}");

    // The quantiles come from a read of the sort columns alone, so that no
    // whole partition waits in memory for them.
    let (mut graph, keys_only) = df.select(&spec.columns)?.partitions()?;
    let sample_fn = Op::Sample(spec.clone()).func()?;
    let sample_name = format!("{name}-sample");
    let mut samples = Layer::try_with_capacity(sample_name.as_str(), keys_only.len())?;
    let mut sample_keys = Vec::with_capacity(keys_only.len());
    for (i, part) in keys_only.into_iter().enumerate() {
        let k = Key::with_index(sample_name.as_str(), [i as u32]);
        samples.insert(k.clone(), Task::call(&sample_fn, [key(part)]))?;
        sample_keys.push(k);
    }
    graph.add_layer(Arc::new(samples))?;
    let bounds = Key::new(format!("{name}-divisions"));
    let cut = Op::Boundaries {
        spec: spec.clone(),
        parts: n,
    }
    .func()?;
    graph.insert(bounds.clone(), Task::call(&cut, [keys(sample_keys)]))?;

    let (whole, parts) = df.partitions()?;
    graph.merge(&whole)?;
    let pieces = exchange(
        &mut graph,
        &name,
        &parts,
        Cut::Range(spec.clone()),
        Some(&bounds),
        n,
    )?;
    let sort_fn = Op::SortPieces(spec.clone()).func()?;
    let outputs = task_per_group(&mut graph, &name, pieces, |pieces| {
        Task::call(&sort_fn, [keys(pieces)])
    })?;
    let order: Vec<String> = spec
        .columns
        .iter()
        .zip(&spec.descending)
        .map(|(c, d)| format!("{c} {}", if *d { "desc" } else { "asc" }))
        .collect();
    let label = format!(
        "sort_values by [{}], nulls {}, ranges from sampled quantiles",
        order.join(", "),
        if spec.nulls_first { "first" } else { "last" }
    );
    Ok(DataFrame::from_source(
        Source::Tasks {
            token,
            label,
            graph,
            keys: outputs,
            sorted: Some(Sorted {
                spec,
                divisions: bounds,
            }),
            merge: None,
        },
        df.schema(),
    ))
}

impl DataFrame {
    /// The rows sorted by `columns` across partitions (Dask's
    /// `sort_values`), ascending or descending, nulls last: partition `i`
    /// holds keys before partition `i + 1`'s. See [`SortBy`] for a
    /// direction per column, nulls first and the number of partitions.
    ///
    /// The partitions' ranges come from quantiles estimated on a sample of
    /// each partition's sort columns, read in a pass of their own; a key
    /// repeated many times stays in one partition, which grows with it.
    pub fn sort_values<S: AsRef<str>>(
        &self,
        columns: impl IntoIterator<Item = S>,
        ascending: bool,
    ) -> Result<DataFrame> {
        sort_values(self, &SortBy::columns(columns).ascending(ascending))
    }

    /// [`DataFrame::sort_values`] with all its options.
    pub fn sort_values_with(&self, by: &SortBy) -> Result<DataFrame> {
        sort_values(self, by)
    }

    /// The rows sorted by `column`, ascending with nulls last, and
    /// `column` moved first (Dask's `set_index`). Barrow's dataframes have
    /// no index apart from their columns: the column stays one, and
    /// [`DataFrame::divisions`] gives the values between the partitions.
    pub fn set_index(&self, column: &str) -> Result<DataFrame> {
        let schema = self.schema();
        schema.index_of(column).map_err(|_| self.missing(column))?;
        let mut order = vec![column.to_owned()];
        order.extend(
            schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| n != column),
        );
        self.select(order)?.sort_values([column], true)
    }

    /// The keys between the partitions of a sorted dataframe (made by
    /// `sort_values` or `set_index`, with only steps after it that keep
    /// the sort columns as they are): `npartitions - 1` rows of the sort
    /// columns (none when the table has no rows), partition `i` holding
    /// the keys from row `i - 1` (included) up to row `i` (excluded).
    /// `None` when the order is not known.
    pub fn divisions(&self) -> Option<Delayed<RecordBatch>> {
        let Source::Tasks {
            graph,
            sorted: Some(sorted),
            ..
        } = &*self.plan.source
        else {
            return None;
        };
        let sort_columns = &sorted.spec.columns;
        let kept = self.plan.steps.iter().all(|step| match step {
            Step::Filter(_) => true,
            Step::Select(columns) => sort_columns.iter().all(|c| columns.contains(c)),
            Step::WithColumn(name, _) => !sort_columns.contains(name),
            Step::Rename(pairs) => pairs.iter().all(|(old, _)| !sort_columns.contains(old)),
        });
        kept.then(|| Delayed::from_graph(graph.clone(), sorted.divisions.clone(), None))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on the first surprise"
    )]

    use super::*;

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
