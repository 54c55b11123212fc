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
use barrow_core::arg::{key, keys};
use barrow_core::{Error, Func, Key, Layer, Result, Task};
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use barrow_core::tokenize::tokenize;
use barrow_delayed::Delayed;

use crate::DataFrame;
use crate::error::{self, DataFrameError, compute_error};
use crate::reduce::{Agg, tree};
use crate::shuffle::{Cut, exchange};
use crate::sort::SortSpec;
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
        if matches!(agg, Agg::NUnique | Agg::NUniqueApprox) {
            return Err(error::invalid(format!(
                "groupby cannot take {}({column}): count the distinct pairs instead, \
                 drop_duplicates([keys.., \"{column}\"]) then groupby(keys) with Agg::Count",
                agg.name()
            )));
        }
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
            Agg::Var | Agg::Std => vec![Merge::SumFloat, Merge::SumFloat, Merge::SumInt],
            Agg::NUnique | Agg::NUniqueApprox => Vec::new(),
            Agg::Min => vec![Merge::Min],
            Agg::Max => vec![Merge::Max],
        }
    }

    /// The type of the result column.
    pub(crate) fn output_type(&self) -> DataType {
        match (self.agg, self.float) {
            (Agg::Count, _) => DataType::Int64,
            (Agg::Mean | Agg::Var | Agg::Std, _) | (_, true) => DataType::Float64,
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

/// `values` as floats, 0 for a null (which adds nothing to a sum).
fn zeroed_floats(values: &ArrayRef) -> Result<ArrayRef> {
    let floats = cast(values, &DataType::Float64).map_err(|e| compute_error("groupby", e))?;
    let zero: ArrayRef = Arc::new(Float64Array::from_value(0.0, floats.len()));
    let valid = is_not_null(&floats).map_err(|e| compute_error("groupby", e))?;
    arrow::compute::kernels::zip::zip(&valid, &floats, &zero)
        .map_err(|e| compute_error("groupby", e))
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
            Agg::Mean => vec![zeroed_floats(&values)?, notnull()?],
            Agg::Var | Agg::Std => {
                let floats = zeroed_floats(&values)?;
                let squares = arrow::compute::kernels::numeric::mul(&floats, &floats)
                    .map_err(|e| compute_error("groupby var", e))?;
                vec![floats, squares, notnull()?]
            }
            Agg::NUnique | Agg::NUniqueApprox => Vec::new(),
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
            Agg::Var | Agg::Std => {
                let floats = |i: usize| -> Result<Float64Array> {
                    let a = cast(states.column(i), &DataType::Float64).map_err(err)?;
                    a.as_any()
                        .downcast_ref::<Float64Array>()
                        .cloned()
                        .ok_or_else(|| Error::internal("group-by variance states are not floats"))
                };
                let (sums, squares, counts) = (floats(next)?, floats(next + 1)?, floats(next + 2)?);
                next += 3;
                Arc::new(
                    (0..sums.len())
                        .map(|i| {
                            let (s, q, n) = (sums.value(i), squares.value(i), counts.value(i));
                            (n >= 2.0).then(|| {
                                let var = ((q - s * s / n) / (n - 1.0)).max(0.0);
                                if spec.agg == Agg::Std {
                                    var.sqrt()
                                } else {
                                    var
                                }
                            })
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
    /// to about a million); the result is one record batch. For more
    /// groups, [`GroupBy::agg_split_out`] spreads them over partitions.
    pub fn agg<S: AsRef<str>>(
        &self,
        aggs: impl IntoIterator<Item = (S, Agg)>,
    ) -> Result<Delayed<RecordBatch>> {
        let plan = self.resolve(aggs)?;
        let (graph, parts) = plan.input.partitions()?;
        let (partial, combine, finish) = plan.functions()?;
        let (graph, out) = tree(graph, &plan.base, parts, &partial, &combine, &finish)?;
        Ok(Delayed::from_graph(graph, out, None))
    }

    /// [`GroupBy::agg`] for many groups (Dask's `split_out=n`): each
    /// partition's groups are aggregated, sent by a hash of their keys to
    /// one of `n` partitions, and aggregated there, so no task holds every
    /// group. The result is a dataframe of `n` partitions, each sorted by
    /// the keys, a group in exactly one of them.
    pub fn agg_split_out<S: AsRef<str>>(
        &self,
        aggs: impl IntoIterator<Item = (S, Agg)>,
        n: usize,
    ) -> Result<DataFrame> {
        if n == 0 {
            return Err(error::invalid(
                "agg_split_out into 0 partitions: give at least 1",
            ));
        }
        let plan = self.resolve(aggs)?;
        let (mut graph, parts) = plan.input.partitions()?;
        let (partial, combine, finish) = plan.functions()?;
        let name = format!("{}-split-out-{n}", plan.base);
        let partial_name = format!("{name}-partial");
        let mut layer = Layer::try_with_capacity(partial_name.as_str(), parts.len())?;
        let mut partials = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            let k = Key::with_index(partial_name.as_str(), [i as u32]);
            layer.insert(k.clone(), Task::call(&partial, [key(part)]))?;
            partials.push(k);
        }
        graph.add_layer(Arc::new(layer))?;
        let pieces = exchange(
            &mut graph,
            &name,
            &partials,
            Cut::Hash(self.keys.clone()),
            None,
            n,
        )?;
        let combine_name = format!("{name}-combine");
        let mut combines = Layer::try_with_capacity(combine_name.as_str(), n)?;
        let mut finishes = Layer::try_with_capacity(name.as_str(), n)?;
        let mut outputs = Vec::with_capacity(n);
        for (j, pieces) in pieces.into_iter().enumerate() {
            let c = Key::with_index(combine_name.as_str(), [j as u32]);
            combines.insert(c.clone(), Task::call(&combine, [keys(pieces)]))?;
            let k = Key::with_index(name.as_str(), [j as u32]);
            finishes.insert(k.clone(), Task::call(&finish, [key(c)]))?;
            outputs.push(k);
        }
        graph.add_layer(Arc::new(combines))?;
        graph.add_layer(Arc::new(finishes))?;
        let label = format!(
            "groupby [{}] agg [{}], split_out {n} by a hash of the keys",
            self.keys.join(", "),
            plan.specs
                .iter()
                .map(Spec::output_name)
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(DataFrame::from_tasks(
            name,
            label,
            graph,
            outputs,
            plan.output,
        ))
    }

    /// Checks the aggregations and works out what the tasks need.
    fn resolve<S: AsRef<str>>(
        &self,
        aggs: impl IntoIterator<Item = (S, Agg)>,
    ) -> Result<GroupPlan> {
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
        let input = self.df.select(&needed)?;
        let key_fields: Vec<Field> = self
            .keys
            .iter()
            .map(|k| schema.field_with_name(k).cloned())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::internal(e.to_string()))?;
        let output = output_schema(&key_fields, &specs);
        let names: Vec<String> = specs.iter().map(Spec::output_name).collect();
        let base = format!(
            "groupby-{}",
            tokenize(&(input.token(), self.keys.clone(), names))
        );
        Ok(GroupPlan {
            input,
            keys: self.keys.clone(),
            specs,
            output,
            base,
        })
    }
}

/// A group-by as its tasks need it.
struct GroupPlan {
    /// The columns read: keys and aggregated.
    input: DataFrame,
    keys: Vec<String>,
    specs: Vec<Spec>,
    /// The result's columns.
    output: SchemaRef,
    /// The name its tasks start with.
    base: String,
}

impl GroupPlan {
    /// The functions of a partition's partial table, of a combine of
    /// partial tables, and of the finish.
    fn functions(&self) -> Result<(Func, Func, Func)> {
        let nkeys = self.keys.len();
        let partial = Op::GroupPartial {
            keys: self.keys.clone(),
            specs: self.specs.clone(),
        }
        .func()?;
        let combine = Op::GroupCombine {
            nkeys,
            specs: self.specs.clone(),
        }
        .func()?;
        let finish = Op::GroupFinish {
            nkeys,
            specs: self.specs.clone(),
            schema: self.output.clone(),
        }
        .func()?;
        Ok((partial, combine, finish))
    }
}

/// Builds `df.value_counts(column)`.
pub(crate) fn value_counts_of(df: &DataFrame, column: &str) -> Result<Delayed<RecordBatch>> {
    let counted = df.groupby([column])?.agg([(column, Agg::Count)])?;
    let spec = SortSpec::new(vec!["count".into(), column.to_owned()], vec![true, false]);
    let out = Key::new(format!("value-counts-{}", counted.key()));
    let mut graph = counted.graph_ref().clone();
    graph.insert(
        out.clone(),
        Task::call(&Op::Counts(spec).func()?, [key(counted.key().clone())]),
    )?;
    Ok(Delayed::from_graph(graph, out, None))
}

/// A group-by count (`[column, column_count]`) as `value_counts` gives it:
/// the count column named `count`, the largest counts first.
pub(crate) fn value_counts(spec: &SortSpec, counts: &RecordBatch) -> Result<RecordBatch> {
    let schema = counts.schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == 1 {
                f.as_ref().clone().with_name("count")
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let renamed = RecordBatch::try_new(Arc::new(Schema::new(fields)), counts.columns().to_vec())
        .map_err(|e| compute_error("value_counts", e))?;
    spec.sort(&renamed)
}
