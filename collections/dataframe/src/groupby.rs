//! `groupby(keys).agg(...)` by a tree reduction (Dask's default for few
//! groups, `split_out=1`): each partition is aggregated into one row per
//! group of *states*, partial tables are concatenated and aggregated again
//! 8 at a time, and the last one is finished and sorted by the keys.
//!
//! Every aggregation is expressed as states that merge by sum, min or max:
//! `count` is a count of non-null values summed, `mean` a sum and a count.
//! So the per-partition step and every combine are the same hash
//! aggregation, over rows encoded by Arrow's row format (any key types).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, UInt32Array,
};
use arrow::compute::{SortColumn, cast, is_not_null, lexsort_to_indices, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::row::{RowConverter, SortField};
use barrow_core::{Error, Result};
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use barrow_core::tokenize::tokenize;
use barrow_delayed::Delayed;

use crate::DataFrame;
use crate::error::{self, DataFrameError, compute_error};
use crate::reduce::{Agg, tree};
use crate::tasks::Op;

/// How a state column merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    SumInt,
    SumFloat,
    Min,
    Max,
}

/// One requested aggregation, resolved against the input's types.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Spec {
    pub(crate) column: String,
    pub(crate) agg: Agg,
    /// Whether the input is a float column (else an integer one).
    float: bool,
}

impl Spec {
    pub(crate) fn new(column: &str, agg: Agg, t: &DataType) -> Result<Spec> {
        let numeric = t.is_integer() || t.is_floating() || *t == DataType::Null;
        if !numeric && agg != Agg::Count {
            return Err(DataFrameError::Types {
                operation: format!("groupby {}({column})", agg.name()),
                left: t.clone(),
                right: t.clone(),
                advice: "group-by sums, means, minima and maxima take numbers; cast the \
                         column first (count takes any type)",
            }
            .into());
        }
        Ok(Spec {
            column: column.to_owned(),
            agg,
            float: t.is_floating(),
        })
    }

    /// The name of the result column: `price_sum`.
    pub(crate) fn output_name(&self) -> String {
        format!("{}_{}", self.column, self.agg.name())
    }

    /// The state columns, each with how it merges.
    fn merges(&self) -> Vec<Merge> {
        let sum = if self.float {
            Merge::SumFloat
        } else {
            Merge::SumInt
        };
        match self.agg {
            Agg::Count => vec![Merge::SumInt],
            Agg::Sum => vec![sum],
            Agg::Mean => vec![Merge::SumFloat, Merge::SumInt],
            Agg::Min => vec![Merge::Min],
            Agg::Max => vec![Merge::Max],
        }
    }

    /// The type of the result column.
    pub(crate) fn output_type(&self) -> DataType {
        match (self.agg, self.float) {
            (Agg::Count, _) => DataType::Int64,
            (Agg::Mean, _) | (_, true) => DataType::Float64,
            (_, false) => DataType::Int64,
        }
    }
}

fn numbers(values: &ArrayRef, float: bool, what: &str) -> Result<ArrayRef> {
    let to = if float {
        DataType::Float64
    } else {
        DataType::Int64
    };
    cast(values, &to).map_err(|e| compute_error(what, e))
}

/// A partition's rows as (keys, states): rows with a null key are dropped,
/// as pandas' and Dask's `dropna=True`.
pub(crate) fn states(batch: &RecordBatch, keys: &[String], specs: &[Spec]) -> Result<RecordBatch> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| Error::internal(format!("a group-by lost its column {name:?}")))
    };
    let mut keep: Option<BooleanArray> = None;
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for k in keys {
        let values = column(k)?;
        if values.null_count() > 0 {
            let valid = is_not_null(&values).map_err(|e| compute_error("groupby", e))?;
            keep = Some(match keep {
                None => valid,
                Some(before) => {
                    arrow::compute::and(&before, &valid).map_err(|e| compute_error("groupby", e))?
                }
            });
        }
        fields.push(Field::new(k, values.data_type().clone(), true));
        columns.push(values);
    }
    for (s, spec) in specs.iter().enumerate() {
        let values = column(&spec.column)?;
        let notnull = || -> Result<ArrayRef> {
            let valid = is_not_null(&values).map_err(|e| compute_error("groupby", e))?;
            cast(&valid, &DataType::Int64).map_err(|e| compute_error("groupby", e))
        };
        let zero_nulls = |a: ArrayRef| -> Result<ArrayRef> {
            // A null adds nothing to a sum.
            let zero: ArrayRef = if spec.float {
                Arc::new(Float64Array::from_value(0.0, a.len()))
            } else {
                Arc::new(Int64Array::from_value(0, a.len()))
            };
            let valid = is_not_null(&a).map_err(|e| compute_error("groupby", e))?;
            arrow::compute::kernels::zip::zip(&valid, &a, &zero)
                .map_err(|e| compute_error("groupby", e))
        };
        let states: Vec<ArrayRef> = match spec.agg {
            Agg::Count => vec![notnull()?],
            Agg::Sum => vec![zero_nulls(numbers(&values, spec.float, "groupby sum")?)?],
            Agg::Mean => {
                let floats = cast(&values, &DataType::Float64)
                    .map_err(|e| compute_error("groupby mean", e))?;
                let floats = {
                    let zero: ArrayRef = Arc::new(Float64Array::from_value(0.0, floats.len()));
                    let valid = is_not_null(&floats).map_err(|e| compute_error("groupby", e))?;
                    arrow::compute::kernels::zip::zip(&valid, &floats, &zero)
                        .map_err(|e| compute_error("groupby", e))?
                };
                vec![floats, notnull()?]
            }
            Agg::Min | Agg::Max => vec![numbers(&values, spec.float, "groupby")?],
        };
        for (j, state) in states.into_iter().enumerate() {
            fields.push(Field::new(
                format!("state{s}_{j}"),
                state.data_type().clone(),
                true,
            ));
            columns.push(state);
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| compute_error("groupby", e))?;
    match keep {
        None => Ok(batch),
        Some(mask) => arrow::compute::filter_record_batch(&batch, &mask)
            .map_err(|e| compute_error("groupby", e)),
    }
}

/// One row per distinct key of `batch` (keys first, then states), each
/// state merged over the group's rows.
pub(crate) fn aggregate(batch: &RecordBatch, nkeys: usize, specs: &[Spec]) -> Result<RecordBatch> {
    let err = |e| compute_error("groupby", e);
    let merges: Vec<Merge> = specs.iter().flat_map(Spec::merges).collect();
    let key_columns = &batch.columns()[..nkeys];
    let converter = RowConverter::new(
        key_columns
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )
    .map_err(err)?;
    let rows = converter.convert_columns(key_columns).map_err(err)?;
    let mut groups: HashMap<Box<[u8]>, u32> = HashMap::new();
    let mut firsts: Vec<u32> = Vec::new();
    let mut group_of = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let next = groups.len() as u32;
        let g = *groups.entry_ref(rows.row(i).as_ref()).or_insert_with(|| {
            firsts.push(i as u32);
            next
        });
        group_of.push(g);
    }
    let ngroups = firsts.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    let firsts = UInt32Array::from(firsts);
    for keys in key_columns {
        columns.push(take(keys, &firsts, None).map_err(err)?);
    }
    for (merge, state) in merges.iter().zip(&batch.columns()[nkeys..]) {
        columns.push(merge_state(*merge, state, &group_of, ngroups)?);
    }
    RecordBatch::try_new(batch.schema(), columns).map_err(err)
}

fn merge_state(merge: Merge, state: &ArrayRef, group_of: &[u32], n: usize) -> Result<ArrayRef> {
    let int = |a: &ArrayRef| {
        a.as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .ok_or_else(|| Error::internal("a group-by state is not Int64"))
    };
    let float = |a: &ArrayRef| {
        a.as_any()
            .downcast_ref::<Float64Array>()
            .cloned()
            .ok_or_else(|| Error::internal("a group-by state is not Float64"))
    };
    Ok(match merge {
        Merge::SumInt => {
            let values = int(state)?;
            let mut sums = vec![0i64; n];
            for (v, &g) in values.values().iter().zip(group_of) {
                let sum = &mut sums[g as usize];
                *sum = sum.checked_add(*v).ok_or_else(|| DataFrameError::Compute {
                    operation: "groupby sum".into(),
                    message: "a group's sum overflows Int64; cast the column to Float64".into(),
                })?;
            }
            Arc::new(Int64Array::from(sums))
        }
        Merge::SumFloat => {
            let values = float(state)?;
            let mut sums = vec![0f64; n];
            for (v, &g) in values.values().iter().zip(group_of) {
                sums[g as usize] += v;
            }
            Arc::new(Float64Array::from(sums))
        }
        Merge::Min | Merge::Max => {
            let min = merge == Merge::Min;
            if state.data_type().is_floating() {
                let values = float(state)?;
                let mut best: Vec<Option<f64>> = vec![None; n];
                for (v, &g) in values.iter().zip(group_of) {
                    if let Some(v) = v {
                        let b = &mut best[g as usize];
                        if b.is_none_or(|b| if min { v < b } else { v > b }) {
                            *b = Some(v);
                        }
                    }
                }
                Arc::new(Float64Array::from(best))
            } else {
                let values = int(state)?;
                let mut best: Vec<Option<i64>> = vec![None; n];
                for (v, &g) in values.iter().zip(group_of) {
                    if let Some(v) = v {
                        let b = &mut best[g as usize];
                        if b.is_none_or(|b| if min { v < b } else { v > b }) {
                            *b = Some(v);
                        }
                    }
                }
                Arc::new(Int64Array::from(best))
            }
        }
    })
}

/// The schema of the result: the keys, then a column per aggregation.
pub(crate) fn output_schema(keys: &[Field], specs: &[Spec]) -> SchemaRef {
    let mut fields: Vec<Field> = keys.to_vec();
    fields.extend(
        specs
            .iter()
            .map(|s| Field::new(s.output_name(), s.output_type(), true)),
    );
    Arc::new(Schema::new(fields))
}

/// The aggregated states as results, sorted by the keys.
pub(crate) fn finish(
    states: &RecordBatch,
    nkeys: usize,
    specs: &[Spec],
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let err = |e| compute_error("groupby", e);
    let mut columns: Vec<ArrayRef> = states.columns()[..nkeys].to_vec();
    let mut next = nkeys;
    for spec in specs {
        let state = states.column(next);
        columns.push(match spec.agg {
            Agg::Mean => {
                let counts = states.column(next + 1);
                next += 2;
                let sums = cast(state, &DataType::Float64).map_err(err)?;
                let counts = cast(counts, &DataType::Float64).map_err(err)?;
                let (sums, counts) = (
                    sums.as_any().downcast_ref::<Float64Array>(),
                    counts.as_any().downcast_ref::<Float64Array>(),
                );
                let (Some(sums), Some(counts)) = (sums, counts) else {
                    return Err(Error::internal("group-by mean states are not floats"));
                };
                Arc::new(
                    sums.iter()
                        .zip(counts.iter())
                        .map(|(s, c)| match (s, c) {
                            (Some(s), Some(c)) if c > 0.0 => Some(s / c),
                            _ => None,
                        })
                        .collect::<Float64Array>(),
                )
            }
            _ => {
                next += 1;
                state.clone()
            }
        });
    }
    let sort: Vec<SortColumn> = columns[..nkeys]
        .iter()
        .map(|c| SortColumn {
            values: c.clone(),
            options: None,
        })
        .collect();
    if !sort.is_empty() && states.num_rows() > 1 {
        let order = lexsort_to_indices(&sort, None).map_err(err)?;
        columns = columns
            .iter()
            .map(|c| take(c, &order, None))
            .collect::<std::result::Result<_, _>>()
            .map_err(err)?;
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(err)
}

/// Rows grouped by key columns, waiting for [`GroupBy::agg`].
#[derive(Debug, Clone)]
pub struct GroupBy {
    pub(crate) df: DataFrame,
    pub(crate) keys: Vec<String>,
}

impl GroupBy {
    /// One row per group, sorted by the keys: the key columns, then a
    /// column `{column}_{agg}` per `(column, agg)` asked for (`price_sum`).
    /// A tree reduction, as Dask's `split_out=1`: meant for few groups (up
    /// to about a million); the result is one record batch.
    pub fn agg<S: AsRef<str>>(
        &self,
        aggs: impl IntoIterator<Item = (S, Agg)>,
    ) -> Result<Delayed<RecordBatch>> {
        let schema = self.df.schema();
        let specs = aggs
            .into_iter()
            .map(|(column, agg)| {
                let column = column.as_ref();
                let field = schema
                    .field_with_name(column)
                    .map_err(|_| self.df.missing(column))?;
                Spec::new(column, agg, field.data_type())
            })
            .collect::<Result<Vec<_>>>()?;
        if specs.is_empty() {
            return Err(error::invalid(
                "agg needs at least one (column, Agg) pair, such as (\"price\", Agg::Sum)",
            ));
        }
        let mut needed = self.keys.clone();
        for spec in &specs {
            if !needed.contains(&spec.column) {
                needed.push(spec.column.clone());
            }
        }
        let only = self.df.select(&needed)?;
        let key_fields: Vec<Field> = self
            .keys
            .iter()
            .map(|k| schema.field_with_name(k).cloned())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::internal(e.to_string()))?;
        let output = output_schema(&key_fields, &specs);
        let (graph, parts) = only.partitions()?;
        let names: Vec<String> = specs.iter().map(Spec::output_name).collect();
        let base = format!(
            "groupby-{}",
            tokenize(&(only.token(), self.keys.clone(), names))
        );
        let nkeys = self.keys.len();
        let partial = Op::GroupPartial {
            keys: self.keys.clone(),
            specs: specs.clone(),
        }
        .func()?;
        let combine = Op::GroupCombine {
            nkeys,
            specs: specs.clone(),
        }
        .func()?;
        let finish = Op::GroupFinish {
            nkeys,
            specs,
            schema: output,
        }
        .func()?;
        let (graph, out) = tree(graph, &base, parts, &partial, &combine, &finish)?;
        Ok(Delayed::from_graph(graph, out, None))
    }
}
