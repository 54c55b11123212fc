//! The lazy plan: a source and the row-wise steps after it, as written, and
//! the plan after optimization, which is what becomes tasks.
//!
//! Optimizing does what dask-expr does before a graph is made:
//! - a filter is moved into the source when it reads only the source's own
//!   columns (none a `with_column` before it redefined): it runs on each
//!   batch as the reader decodes it (a column only the filter reads is
//!   dropped before the rows are), and CSV drops the rows batch by batch;
//! - the source reads only the columns some later step or the result needs,
//!   and a `with_column` whose column nothing reads is left out;
//! - every step left runs in the one task that reads the partition.

use std::fmt::{self, Write};
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use barrow_core::{Result, Value};
use serde::{Deserialize, Serialize};

use crate::error::compute_error;
use crate::expr::Expr;
use crate::source::{self, Source, predicate_mask};

/// One row-wise step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Step {
    /// Keep the rows where the expression holds.
    Filter(Expr),
    /// Add (or replace) a column.
    WithColumn(String, Expr),
    /// Keep these columns, in this order.
    Select(Vec<String>),
    /// Give columns new names: (old, new) pairs.
    Rename(Vec<(String, String)>),
}

impl Step {
    fn run(&self, batch: RecordBatch) -> Result<RecordBatch> {
        match self {
            Step::Filter(predicate) => {
                let mask = predicate_mask(predicate, &batch)?;
                arrow::compute::filter_record_batch(&batch, &mask)
                    .map_err(|e| compute_error(format!("filter {predicate}"), e))
            }
            Step::WithColumn(name, expr) => {
                let values = expr.evaluate(&batch)?;
                let field = arrow::datatypes::Field::new(name, values.data_type().clone(), true);
                let schema = batch.schema();
                let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
                let mut columns = batch.columns().to_vec();
                match schema.index_of(name) {
                    Ok(i) => {
                        fields[i] = Arc::new(field);
                        columns[i] = values;
                    }
                    Err(_) => {
                        fields.push(Arc::new(field));
                        columns.push(values);
                    }
                }
                RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
                    .map_err(|e| compute_error(format!("with_column {name}"), e))
            }
            Step::Select(columns) => select(&batch, columns),
            Step::Rename(pairs) => {
                let schema = batch.schema();
                let fields: Vec<_> = schema
                    .fields()
                    .iter()
                    .map(|f| match pairs.iter().find(|(old, _)| old == f.name()) {
                        Some((_, new)) => Arc::new(f.as_ref().clone().with_name(new)),
                        None => f.clone(),
                    })
                    .collect();
                RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec())
                    .map_err(|e| compute_error("rename", e))
            }
        }
    }
}

/// The columns `names` of `batch`, in that order.
pub(crate) fn select(batch: &RecordBatch, names: &[String]) -> Result<RecordBatch> {
    let schema = batch.schema();
    let indices = names
        .iter()
        .map(|n| {
            schema.index_of(n).map_err(|_| {
                crate::error::DataFrameError::missing_column(
                    n,
                    schema.fields().iter().map(|f| f.name().as_str()),
                )
                .into()
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    batch
        .project(&indices)
        .map_err(|e| compute_error("select", e))
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Filter(e) => write!(f, "filter {e}"),
            Step::WithColumn(name, e) => write!(f, "with_column {name} = {e}"),
            Step::Select(columns) => write!(f, "select [{}]", columns.join(", ")),
            Step::Rename(pairs) => {
                let shown: Vec<String> = pairs.iter().map(|(o, n)| format!("{o} -> {n}")).collect();
                write!(f, "rename [{}]", shown.join(", "))
            }
        }
    }
}

/// A plan as written.
#[derive(Clone)]
pub(crate) struct Plan {
    pub(crate) source: Arc<Source>,
    /// The source's columns.
    pub(crate) source_schema: SchemaRef,
    pub(crate) steps: Vec<Step>,
    /// The columns after the last step.
    pub(crate) schema: SchemaRef,
}

/// A plan as it runs: what the source reads, and the steps after. It is
/// the parameter of the partitions' task function, the same for every
/// partition (each task's argument is its [`Part`](crate::source::Part)).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Optimized {
    pub(crate) source_schema: SchemaRef,
    /// Indices of the source columns read, in source order.
    pub(crate) projection: Vec<usize>,
    /// The filter the source applies while reading.
    pub(crate) predicate: Option<Expr>,
    pub(crate) steps: Vec<Step>,
    /// The columns of the result, in order.
    pub(crate) output: Vec<String>,
}

impl Plan {
    /// The plan as it will run.
    pub(crate) fn optimize(&self) -> Optimized {
        // Filters that read only source columns move into the source.
        let mut defined: Vec<String> = Vec::new();
        let mut pushed: Option<Expr> = None;
        let mut steps = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            match step {
                Step::Filter(predicate) => {
                    let mut reads = Vec::new();
                    predicate.columns_into(&mut reads);
                    if reads.iter().any(|c| defined.contains(c)) {
                        steps.push(step.clone());
                    } else {
                        pushed = Some(match pushed.take() {
                            None => predicate.clone(),
                            Some(before) => before.and(predicate.clone()),
                        });
                    }
                }
                Step::WithColumn(name, _) => {
                    defined.push(name.clone());
                    steps.push(step.clone());
                }
                Step::Select(_) => steps.push(step.clone()),
                // A renamed column is no longer the source's under its new
                // name: a filter on it stays after the rename.
                Step::Rename(pairs) => {
                    defined.extend(pairs.iter().map(|(_, new)| new.clone()));
                    steps.push(step.clone());
                }
            }
        }
        // Walking back from the result: the columns each step needs.
        let output: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut needed = output.clone();
        // A column made and never read is not made.
        let mut unused = vec![false; steps.len()];
        for (step, unused) in steps.iter().zip(&mut unused).rev() {
            match step {
                Step::WithColumn(name, _) if !needed.contains(name) => *unused = true,
                Step::Select(columns) => needed = columns.clone(),
                Step::Rename(pairs) => {
                    for name in &mut needed {
                        if let Some((old, _)) = pairs.iter().find(|(_, new)| new == name) {
                            *name = old.clone();
                        }
                    }
                }
                Step::WithColumn(name, expr) => {
                    needed.retain(|c| c != name);
                    expr.columns_into(&mut needed);
                }
                Step::Filter(predicate) => predicate.columns_into(&mut needed),
            }
        }
        let mut unused = unused.into_iter();
        steps.retain(|_| !unused.next().unwrap_or(false));
        // A Parquet reader evaluates its filter on columns of its own.
        if let Some(predicate) = &pushed
            && !matches!(*self.source, Source::Parquet { .. })
        {
            predicate.columns_into(&mut needed);
        }
        let mut projection: Vec<usize> = needed
            .iter()
            .filter_map(|c| self.source_schema.index_of(c).ok())
            .collect();
        projection.sort_unstable();
        projection.dedup();
        Optimized {
            source_schema: self.source_schema.clone(),
            projection,
            predicate: pushed,
            steps,
            output,
        }
    }

    /// The plan as written, a line per step.
    pub(crate) fn describe(&self) -> String {
        let mut out = format!("{}\n", self.source);
        for step in &self.steps {
            let _ = writeln!(out, "  {step}");
        }
        out
    }
}

impl Optimized {
    /// One partition (a [`Part`](crate::source::Part) or a batch), read
    /// and carried through every step.
    pub(crate) fn run(&self, part: &Value) -> Result<RecordBatch> {
        let mut batch = source::read(
            part,
            &self.source_schema,
            &self.projection,
            self.predicate.as_ref(),
        )?;
        for step in &self.steps {
            batch = step.run(batch)?;
        }
        select(&batch, &self.output)
    }

    /// The plan as it runs from `source`, a line per task stage.
    pub(crate) fn describe(&self, source: &Source) -> String {
        let columns: Vec<&str> = self
            .projection
            .iter()
            .filter_map(|&i| {
                self.source_schema
                    .fields()
                    .get(i)
                    .map(|f| f.name().as_str())
            })
            .collect();
        let mut out = format!("{source} columns [{}]", columns.join(", "));
        if let Some(predicate) = &self.predicate {
            let _ = write!(out, " filter {predicate}");
        }
        out.push('\n');
        for step in &self.steps {
            let _ = writeln!(out, "  {step}");
        }
        out
    }
}
