//! Dataframes (Dask's `dask.dataframe`): a table cut into partitions along
//! its rows, each partition an Apache Arrow [`RecordBatch`], each operation
//! a step of a lazy plan that is optimized before it becomes tasks.
//!
//! ```
//! use barrow_core::{Options, compute_with};
//! use barrow_dataframe::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
//! use barrow_dataframe::{DataFrame, Scalar, col, lit};
//! # barrow_local::link();
//! # fn batch(ids: Vec<i64>, prices: Vec<f64>, names: Vec<&str>) -> RecordBatch {
//! #     use std::sync::Arc;
//! #     RecordBatch::try_from_iter([
//! #         ("id", Arc::new(Int64Array::from(ids)) as _),
//! #         ("price", Arc::new(Float64Array::from(prices)) as _),
//! #         ("name", Arc::new(StringArray::from(names)) as _),
//! #     ]).unwrap()
//! # }
//!
//! // Two partitions of (id, price, name).
//! let df = DataFrame::from_record_batches([
//!     batch(vec![1, 2], vec![9.5, 20.0], vec!["tea", "cake"]),
//!     batch(vec![3, 4], vec![4.0, 31.0], vec!["bun", "pie"]),
//! ])?;
//! let dear = df
//!     .filter(col("price").gt(lit(5)))?
//!     .with_column("with_tax", col("price") * lit(1.2))?
//!     .select(["name", "with_tax"])?;
//! // The filter runs inside the read, and `id` is never read.
//! println!("{}", dear.explain());
//!
//! let options = Options::new().scheduler("threads");
//! let table = compute_with(&dear, &options)?;
//! assert_eq!(table.num_rows(), 3);
//! let total = compute_with(&dear.sum("with_tax")?, &options)?;
//! assert!((total.as_f64().unwrap() - 72.6).abs() < 1e-9);
//! assert_eq!(compute_with(&df.count("id")?, &options)?, Scalar::Int64(4));
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! What there is so far: creation from record batches, CSV files (a
//! partition per file) and Parquet files (a partition per row group); the
//! row-wise steps `filter`, `with_column`, `select`, `drop`, `rename`,
//! `dropna`, `fillna`, `astype`, with
//! expressions of arithmetic, comparisons, boolean logic, null tests and
//! casts; the reductions `count`, `sum`, `min`, `max`, `mean`, by a tree of
//! tasks; `groupby(..).agg(..)`; `head`, `compute` to one record batch,
//! `to_parquet` and `to_csv`; [`DataFrame::merge`] (inner, left, right,
//! outer; a one-partition side broadcast, else a hash shuffle). Filters
//! and column selection are pushed into the readers; see
//! [`DataFrame::explain`]. Every task function is registered and every
//! value it exchanges has a codec (partitions as Arrow IPC streams), so
//! dataframes run on `processes` as on `threads`. Sorting and
//! `split_out` group-bys are not there yet.

mod describe;
pub mod error;
mod expr;
#[cfg(feature = "array")]
mod from_array;
mod functions;
mod groupby;
mod join;
mod plan;
mod reduce;
mod reshape;
mod shuffle;
mod sink;
mod sort;
mod source;
mod tasks;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::compute::concat_batches;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use barrow_core::arg::key;
use barrow_core::collection::{Collection, Persist};
use barrow_core::tokenize::tokenize;
use barrow_core::{Error, Graph, Key, Layer, Result, Task, Value};
use barrow_delayed::Delayed;

pub use arrow;
pub use error::DataFrameError;
pub use expr::{BinaryOp, Expr, Scalar, col, lit};
#[cfg(feature = "array")]
pub use from_array::ColumnElement;
pub use functions::Function;
pub use groupby::GroupBy;
pub use join::{How, JoinStrategy, MergeOptions};
pub use reduce::Agg;
pub use sort::{Ascending, SortBy};
pub use source::{CsvOptions, Patterns};

use plan::{Plan, Step};
use source::Source;
use tasks::Op;

/// A lazy, partitioned table. Every method returns a new dataframe (or a
/// lazy result); nothing is read until `compute`.
#[derive(Clone)]
pub struct DataFrame {
    plan: Plan,
}

impl std::fmt::Debug for DataFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFrame")
            .field("npartitions", &self.npartitions())
            .field("columns", &self.columns())
            .finish()
    }
}

impl DataFrame {
    /// A dataframe of the given batches, one partition each; they must
    /// have the same columns (an empty batch is a valid, empty partition).
    pub fn from_record_batches(
        batches: impl IntoIterator<Item = RecordBatch>,
    ) -> Result<DataFrame> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let batches: Vec<RecordBatch> = batches.into_iter().collect();
        let Some(first) = batches.first() else {
            return Err(error::invalid(
                "from_record_batches needs at least one batch (an empty one gives an empty \
                 dataframe with its columns)",
            ));
        };
        // Nullability is a property of one batch's values (Arrow infers it
        // from them), not of the column: every column may hold nulls.
        let schema = nullable(&first.schema());
        if let Some((i, other)) = batches
            .iter()
            .enumerate()
            .find(|(_, b)| !same_columns(&b.schema(), &schema))
        {
            return Err(error::invalid(format!(
                "batch {i} has the columns [{}] but batch 0 has [{}]: every partition needs \
                 the same columns and types",
                source::describe(&other.schema()),
                source::describe(&schema)
            )));
        }
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        Ok(DataFrame::from_source(
            Source::Batches {
                id,
                batches: batches
                    .into_iter()
                    .map(|b| {
                        let nbytes = b.get_array_memory_size();
                        Value::with_nbytes(b, nbytes)
                    })
                    .collect(),
            },
            schema,
        ))
    }

    /// A dataframe of lazy batches, one partition each (Dask's
    /// `from_delayed`), with the columns `schema` declares; a partition
    /// whose columns differ fails when it is computed, naming both.
    pub fn from_delayed(
        parts: impl IntoIterator<Item = Delayed<RecordBatch>>,
        schema: SchemaRef,
    ) -> Result<DataFrame> {
        let parts: Vec<Delayed<RecordBatch>> = parts.into_iter().collect();
        if parts.is_empty() {
            return Err(error::invalid(
                "from_delayed needs at least one partition (from_record_batches takes an \
                 empty batch for an empty dataframe)",
            ));
        }
        let schema = nullable(&schema);
        let keys: Vec<String> = parts.iter().map(|p| p.key().to_string()).collect();
        let token = tokenize(&(keys, source::describe(&schema)));
        let name = format!("from-delayed-{token}");
        let mut graph = Graph::merge_all(parts.iter().map(Delayed::graph_ref))?;
        let conform = Op::Conform(schema.clone()).func()?;
        let mut layer = Layer::try_with_capacity(name.as_str(), parts.len())?;
        let mut outputs = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let k = Key::with_index(name.as_str(), [i as u32]);
            layer.insert(k.clone(), Task::call(&conform, [key(part.key().clone())]))?;
            outputs.push(k);
        }
        graph.add_layer(Arc::new(layer))?;
        Ok(DataFrame::from_tasks(
            token,
            "from_delayed".to_owned(),
            graph,
            outputs,
            schema,
        ))
    }

    /// CSV files (Dask's `read_csv`): paths or glob patterns, one
    /// partition per file, column types inferred from the first rows of the
    /// first file, with a header line and `,` between fields.
    pub fn read_csv(patterns: impl Patterns) -> Result<DataFrame> {
        DataFrame::read_csv_with(patterns, CsvOptions::default())
    }

    /// CSV files read with `options`.
    pub fn read_csv_with(patterns: impl Patterns, options: CsvOptions) -> Result<DataFrame> {
        let files = source::expand(&patterns.patterns())?;
        let first = files
            .first()
            .ok_or_else(|| error::invalid("read_csv needs at least one path"))?;
        let schema = nullable(&source::infer_csv_schema(first, &options)?);
        let blocks = source::csv_blocks(&files, options.blocksize)?;
        Ok(DataFrame::from_source(
            Source::Csv {
                files,
                blocks,
                options,
            },
            schema,
        ))
    }

    /// Parquet files (Dask's `read_parquet`): paths or glob patterns, one
    /// partition per row group. Only the columns the plan needs are
    /// decoded, and a filter on the files' own columns runs as each row group
    /// is decoded.
    pub fn read_parquet(patterns: impl Patterns) -> Result<DataFrame> {
        let files = source::expand(&patterns.patterns())?;
        let (schema, parts) = source::parquet_parts(&files)?;
        if parts.is_empty() {
            // A file with no row group still has columns: one empty
            // partition keeps them.
            return DataFrame::from_record_batches([RecordBatch::new_empty(Arc::new(schema))]);
        }
        Ok(DataFrame::from_source(
            Source::Parquet { parts },
            nullable(&schema),
        ))
    }

    fn from_source(source: Source, schema: SchemaRef) -> DataFrame {
        DataFrame {
            plan: Plan {
                source: Arc::new(source),
                source_schema: schema.clone(),
                steps: Vec::new(),
                schema,
            },
        }
    }

    /// A dataframe of `schema`'s columns whose partitions are the tasks
    /// `keys` of `graph` (a shuffle's, a join's, ...), named by `token` and
    /// described by `label` in `explain`.
    pub(crate) fn from_tasks(
        token: String,
        label: String,
        graph: Graph,
        keys: Vec<Key>,
        schema: SchemaRef,
    ) -> DataFrame {
        DataFrame::from_source(
            Source::Tasks {
                token,
                label,
                graph,
                keys,
                sorted: None,
                merge: None,
            },
            schema,
        )
    }

    fn then(&self, step: Step, schema: SchemaRef) -> DataFrame {
        let mut plan = self.plan.clone();
        plan.steps.push(step);
        plan.schema = schema;
        DataFrame { plan }
    }

    /// The columns and their types.
    pub fn schema(&self) -> SchemaRef {
        self.plan.schema.clone()
    }

    /// The column names, in order.
    pub fn columns(&self) -> Vec<String> {
        self.plan
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// How many partitions.
    pub fn npartitions(&self) -> usize {
        self.plan.source.npartitions()
    }

    /// The rows where `predicate` (a boolean expression) holds; nulls do
    /// not.
    pub fn filter(&self, predicate: Expr) -> Result<DataFrame> {
        let t = predicate.data_type(&self.plan.schema)?;
        if !matches!(
            t,
            arrow::datatypes::DataType::Boolean | arrow::datatypes::DataType::Null
        ) {
            return Err(DataFrameError::Types {
                operation: format!("filter {predicate}"),
                left: t.clone(),
                right: t,
                advice: "a filter takes a boolean expression (a comparison)",
            }
            .into());
        }
        Ok(self.then(Step::Filter(predicate), self.plan.schema.clone()))
    }

    /// A new column `name` (or a new value for an existing one) from `expr`
    /// (Dask's `assign`).
    pub fn with_column(&self, name: &str, expr: Expr) -> Result<DataFrame> {
        let t = expr.data_type(&self.plan.schema)?;
        let field = Arc::new(Field::new(name, t, true));
        let mut fields: Vec<_> = self.plan.schema.fields().iter().cloned().collect();
        match self.plan.schema.index_of(name) {
            Ok(i) => fields[i] = field,
            Err(_) => fields.push(field),
        }
        Ok(self.then(
            Step::WithColumn(name.to_owned(), expr),
            Arc::new(Schema::new(fields)),
        ))
    }

    /// Only these columns, in this order.
    pub fn select<S: AsRef<str>>(&self, columns: impl IntoIterator<Item = S>) -> Result<DataFrame> {
        let names: Vec<String> = columns.into_iter().map(|c| c.as_ref().to_owned()).collect();
        let fields = names
            .iter()
            .map(|n| {
                self.plan
                    .schema
                    .field_with_name(n)
                    .cloned()
                    .map_err(|_| self.missing(n))
            })
            .collect::<Result<Vec<Field>>>()?;
        Ok(self.then(Step::Select(names), Arc::new(Schema::new(fields))))
    }

    /// All columns but these.
    pub fn drop<S: AsRef<str>>(&self, columns: impl IntoIterator<Item = S>) -> Result<DataFrame> {
        let dropped: Vec<String> = columns.into_iter().map(|c| c.as_ref().to_owned()).collect();
        if let Some(name) = dropped
            .iter()
            .find(|n| self.plan.schema.index_of(n).is_err())
        {
            return Err(self.missing(name));
        }
        let kept: Vec<String> = self
            .columns()
            .into_iter()
            .filter(|c| !dropped.contains(c))
            .collect();
        self.select(kept)
    }

    /// The columns renamed: `(old, new)` pairs (Dask's `rename`). A new
    /// name may not be one of the other columns.
    pub fn rename<A: AsRef<str>, B: AsRef<str>>(
        &self,
        pairs: impl IntoIterator<Item = (A, B)>,
    ) -> Result<DataFrame> {
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(a, b)| (a.as_ref().to_owned(), b.as_ref().to_owned()))
            .collect();
        let mut names = self.columns();
        for (old, new) in &pairs {
            let i = names
                .iter()
                .position(|n| n == old)
                .ok_or_else(|| self.missing(old))?;
            names[i] = new.clone();
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(error::invalid(format!(
                "rename would make two columns named {twice:?}: choose a name no other column has"
            )));
        }
        let fields: Vec<Field> = self
            .plan
            .schema
            .fields()
            .iter()
            .zip(&names)
            .map(|(f, n)| f.as_ref().clone().with_name(n))
            .collect();
        Ok(self.then(Step::Rename(pairs), Arc::new(Schema::new(fields))))
    }

    /// The rows with no null in `columns` (all columns when empty: Dask's
    /// `dropna()`).
    pub fn dropna<S: AsRef<str>>(&self, columns: impl IntoIterator<Item = S>) -> Result<DataFrame> {
        let mut names: Vec<String> = columns.into_iter().map(|c| c.as_ref().to_owned()).collect();
        if names.is_empty() {
            names = self.columns();
        }
        let predicate = names
            .iter()
            .map(|n| col(n.as_str()).is_not_null())
            .reduce(Expr::and)
            .ok_or_else(|| error::invalid("dropna of a dataframe with no columns"))?;
        self.filter(predicate)
    }

    /// `column` with its nulls replaced by `value` (Dask's `fillna`).
    pub fn fillna(&self, column: &str, value: impl Into<Scalar>) -> Result<DataFrame> {
        self.with_column(column, col(column).fill_null(Expr::Literal(value.into())))
    }

    /// `column` converted to type `to` (Dask's `astype`).
    pub fn astype(&self, column: &str, to: arrow::datatypes::DataType) -> Result<DataFrame> {
        self.with_column(column, col(column).cast(to))
    }

    fn missing(&self, name: &str) -> Error {
        DataFrameError::missing_column(
            name,
            self.plan.schema.fields().iter().map(|f| f.name().as_str()),
        )
        .into()
    }

    /// The plan as written and as it will run (Dask's `explain`): the
    /// second shows the columns each source reads and the filter it
    /// applies while reading; every line under it runs in the same task.
    pub fn explain(&self) -> String {
        // A merge shows the columns it will read; an error making it again
        // is the compute's to report.
        let run = self
            .narrowed()
            .ok()
            .flatten()
            .unwrap_or_else(|| self.clone());
        format!(
            "plan:\n{}optimized (one task per partition):\n{}",
            indent(&self.plan.describe()),
            indent(&run.plan.optimize().describe(&run.plan.source))
        )
    }

    /// This frame with the merge it reads from made again of only the
    /// columns its steps and result need (dask-expr's projection through a
    /// merge: the sides read, shuffle and gather no other), or `None` when
    /// it reads no merge or needs every column.
    fn narrowed(&self) -> Result<Option<DataFrame>> {
        let Source::Tasks {
            merge: Some(merge), ..
        } = &*self.plan.source
        else {
            return Ok(None);
        };
        let optimized = self.plan.optimize();
        let fields = self.plan.source_schema.fields();
        if optimized.projection.len() == fields.len() {
            return Ok(None);
        }
        let needed: Vec<String> = optimized
            .projection
            .iter()
            .map(|&i| fields[i].name().clone())
            .collect();
        Ok(merge.narrowed(&needed)?.map(|merged| DataFrame {
            plan: Plan {
                source: merged.plan.source.clone(),
                source_schema: merged.plan.source_schema.clone(),
                steps: self.plan.steps.clone(),
                schema: self.plan.schema.clone(),
            },
        }))
    }

    /// The name of the partitions' tasks: the same plan gives the same one.
    fn token(&self) -> String {
        let source = match &*self.plan.source {
            Source::Batches { id, .. } => format!("batches {id}"),
            Source::Csv { files, options, .. } => format!("csv {files:?} {options:?}"),
            Source::Parquet { parts } => format!("parquet {parts:?}"),
            Source::Tasks { token, .. } => format!("tasks {token}"),
        };
        tokenize(&(source, self.plan.describe(), self.columns()))
    }

    /// The partitions' tasks, named `(df-<token>, i)`, with the graph of
    /// the tasks they read from, if any.
    fn partitions(&self) -> Result<(Graph, Vec<Key>)> {
        if let Some(narrow) = self.narrowed()? {
            return narrow.partitions();
        }
        let name: Arc<str> = format!("df-{}", self.token()).into();
        let read = Op::Partition(self.plan.optimize()).func()?;
        let n = self.npartitions();
        let mut graph = match &*self.plan.source {
            Source::Tasks { graph, .. } => graph.clone(),
            _ => Graph::new(),
        };
        let mut layer = Layer::try_with_capacity(name.clone(), n)?;
        let mut outputs = Vec::with_capacity(n);
        for i in 0..n {
            let k = Key::with_index(name.clone(), [i as u32]);
            layer.insert(k.clone(), Task::call(&read, [self.plan.source.part(i)?]))?;
            outputs.push(k);
        }
        graph.add_layer(Arc::new(layer))?;
        Ok((graph, outputs))
    }

    /// Groups the rows by the values of `keys` (Dask's `groupby`); rows
    /// with a null key are left out, as pandas' `dropna=True`.
    pub fn groupby<S: AsRef<str>>(&self, keys: impl IntoIterator<Item = S>) -> Result<GroupBy> {
        let keys: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_owned()).collect();
        if keys.is_empty() {
            return Err(error::invalid("groupby needs at least one key column"));
        }
        if let Some(k) = keys.iter().find(|k| self.plan.schema.index_of(k).is_err()) {
            return Err(self.missing(k));
        }
        Ok(GroupBy {
            df: self.clone(),
            keys,
        })
    }

    /// The first `n` rows, from the first partition only (as Dask's
    /// `head`, which warns when that partition has fewer).
    pub fn head(&self, n: usize) -> Result<Delayed<RecordBatch>> {
        let (mut graph, parts) = self.partitions()?;
        let first = parts
            .into_iter()
            .next()
            .ok_or_else(|| error::invalid("head of a dataframe with no partitions"))?;
        let out = Key::new(format!("head-{n}-{}", self.token()));
        let take = Op::Head(n).func()?;
        graph.insert(out.clone(), Task::call(&take, [key(first)]))?;
        Ok(Delayed::from_graph(graph, out, None))
    }

    /// Partition `index` alone (Dask's `get_partition`).
    pub fn get_partition(&self, index: usize) -> Result<Delayed<RecordBatch>> {
        let (graph, parts) = self.partitions()?;
        let n = parts.len();
        let part = parts.into_iter().nth(index).ok_or_else(|| {
            error::invalid(format!(
                "get_partition({index}) of a dataframe of {n} partitions: give 0 to {}",
                n.saturating_sub(1)
            ))
        })?;
        Ok(Delayed::from_graph(graph, part, None))
    }

    /// Writes each partition to `dir/part.{i}.parquet` (Dask's
    /// `to_parquet`, Snappy-compressed), lazily: the result is the files
    /// written, in partition order. The directory is made if missing.
    pub fn to_parquet(&self, dir: impl AsRef<Path>) -> Result<Delayed<Vec<PathBuf>>> {
        sink::write_partitions(self, dir.as_ref(), sink::Format::Parquet)
    }

    /// Writes each partition to `dir/part.{i}.csv` with a header line
    /// (Dask's `to_csv`), lazily: the result is the files written, in
    /// partition order. The directory is made if missing.
    pub fn to_csv(&self, dir: impl AsRef<Path>) -> Result<Delayed<Vec<PathBuf>>> {
        sink::write_partitions(self, dir.as_ref(), sink::Format::Csv)
    }
}

/// Whether two schemas have the same column names and types, in order.
pub(crate) fn same_columns(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

/// `schema` with every column nullable.
pub(crate) fn nullable(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<Field>>(),
    ))
}

/// `batches` (of the same columns, each with its own nullability) as one.
pub(crate) fn concat(operation: &str, batches: &[&RecordBatch]) -> Result<RecordBatch> {
    let first = batches
        .first()
        .ok_or_else(|| Error::internal(format!("{operation} got no batch to concatenate")))?;
    concat_batches(&nullable(&first.schema()), batches.iter().copied())
        .map_err(|e| error::compute_error(operation, e))
}

/// Makes sure this crate is linked into a program that names none of its
/// items (the generic `barrow worker`), so that its registered functions
/// and codecs reach the registry.
pub fn link() {}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// [`barrow_core::persist`] gives a dataframe whose partitions are the
/// computed batches themselves (Dask's `persist`): operations on it start
/// from them instead of reading and computing again. (Divisions are not
/// carried over: sort again, or keep the sorted frame, to have them.)
impl Persist for DataFrame {
    fn with_results(&self, graph: Graph) -> DataFrame {
        DataFrame::from_tasks(
            format!("persisted-{}", self.token()),
            format!("persisted {}", self.plan.source),
            graph,
            self.output_keys(),
            self.plan.schema.clone(),
        )
    }
}

impl Collection for DataFrame {
    type Output = RecordBatch;

    fn graph(&self) -> Result<Graph> {
        Ok(self.partitions()?.0)
    }

    fn output_keys(&self) -> Vec<Key> {
        let name: Arc<str> = format!("df-{}", self.token()).into();
        (0..self.npartitions())
            .map(|i| Key::with_index(name.clone(), [i as u32]))
            .collect()
    }

    /// The partitions as one record batch.
    fn finalize(&self, values: Vec<Value>) -> Result<RecordBatch> {
        let batches = values
            .iter()
            .map(|v| v.downcast_ref::<RecordBatch>().cloned())
            .collect::<Result<Vec<_>>>()?;
        concat_batches(&self.plan.schema, &batches)
            .map_err(|e| error::compute_error("concatenating the partitions", e))
    }

    /// Dataframes default to threads, as in Dask.
    fn default_scheduler(&self) -> Option<&str> {
        Some("threads")
    }
}
