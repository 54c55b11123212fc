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

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::row::{RowConverter, SortField};
use barrow_core::arg::{key, keys};
use barrow_core::tokenize::tokenize;
use barrow_core::{Key, Layer, Result, Task};

use barrow_delayed::Delayed;

use crate::DataFrame;
use crate::error::{self, DataFrameError};
use crate::plan::Step;
use crate::shuffle::{Cut, exchange, task_per_group};
use crate::source::{Sorted, Source};
use crate::tasks::Op;

mod kernels;
mod presorted;

pub(crate) use kernels::{SortSpec, boundaries, sample, sort_pieces};
pub(crate) use presorted::{divisions as presorted_divisions, edges as presorted_edges};

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
        self.with_first(column)?.sort_values([column], true)
    }

    /// The frame with `column` moved first (Barrow's stand-in for an
    /// index).
    pub(crate) fn with_first(&self, column: &str) -> Result<DataFrame> {
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
        self.select(order)
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
