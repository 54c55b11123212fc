//! `set_index_sorted`: a frame already sorted across its partitions (Dask's
//! `set_index(column, sorted=True)`) gets divisions without a shuffle. Each
//! partition gives its first and last key, after checking its rows are in
//! order, and one task checks that each partition's keys are below the
//! next one's and takes the divisions from the partitions' first keys.

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::row::Rows;
use barrow_core::arg::{key, keys};
use barrow_core::tokenize::tokenize;
use barrow_core::{Key, Result, Task};

use super::SortSpec;
use crate::DataFrame;
use crate::error::{self, compute_error};
use crate::shuffle::column_indices;
use crate::source::{Sorted, Source};
use crate::tasks::Op;

const OPERATION: &str = "set_index_sorted";

fn rows_of(spec: &SortSpec, keys: &RecordBatch) -> Result<Rows> {
    let (converter, indices) = spec.converter(&keys.schema())?;
    let columns: Vec<_> = indices.iter().map(|&i| keys.column(i).clone()).collect();
    converter
        .convert_columns(&columns)
        .map_err(|e| compute_error(OPERATION, e))
}

/// The first and last rows of `batch`'s sort columns (none when it has no
/// rows), once its rows are found in order.
pub(crate) fn edges(spec: &SortSpec, batch: &RecordBatch) -> Result<RecordBatch> {
    let indices = column_indices(&batch.schema(), &spec.columns, OPERATION)?;
    let keys = batch
        .project(&indices)
        .map_err(|e| compute_error(OPERATION, e))?;
    let rows = rows_of(spec, &keys)?;
    if let Some(i) = (1..rows.num_rows()).find(|&i| rows.row(i) < rows.row(i - 1)) {
        return Err(error::invalid(format!(
            "set_index_sorted: a partition's rows are not sorted by [{}] (row {i} comes before \
             row {}); use set_index, which sorts",
            spec.columns.join(", "),
            i - 1
        )));
    }
    let n = keys.num_rows() as u32;
    let picked = if n == 0 { vec![] } else { vec![0, n - 1] };
    take_record_batch(&keys, &UInt32Array::from(picked)).map_err(|e| compute_error(OPERATION, e))
}

/// The divisions from every partition's edges, in order: division `p` is
/// the first key of the first partition from `p` on that has rows (the
/// last key when none has), once each partition's keys are found below
/// the next one's.
pub(crate) fn divisions(spec: &SortSpec, edges: &[&RecordBatch]) -> Result<RecordBatch> {
    let all = crate::concat(OPERATION, edges)?;
    let rows = rows_of(spec, &all)?;
    // (first row, last row) in `all` of each partition with rows.
    let mut spans: Vec<Option<(usize, usize)>> = Vec::with_capacity(edges.len());
    let mut at = 0;
    for e in edges {
        spans.push((e.num_rows() == 2).then_some((at, at + 1)));
        at += e.num_rows();
    }
    let mut previous: Option<(usize, usize)> = None;
    for (p, span) in spans.iter().enumerate() {
        let Some((first, last)) = *span else { continue };
        if let Some((_, before)) = previous
            && rows.row(before) >= rows.row(first)
        {
            return Err(error::invalid(format!(
                "set_index_sorted: partition {p} starts at or below where the partition before \
                 it ends, by [{}]; use set_index, which sorts and moves equal keys together",
                spec.columns.join(", ")
            )));
        }
        previous = Some((first, last));
    }
    let Some((_, last_row)) = previous else {
        return take_record_batch(&all, &UInt32Array::from(Vec::<u32>::new()))
            .map_err(|e| compute_error(OPERATION, e));
    };
    let mut picked = Vec::with_capacity(edges.len().saturating_sub(1));
    for p in 1..spans.len() {
        let next = spans[p..].iter().flatten().next();
        picked.push(next.map_or(last_row, |(first, _)| *first) as u32);
    }
    take_record_batch(&all, &UInt32Array::from(picked)).map_err(|e| compute_error(OPERATION, e))
}

impl DataFrame {
    /// `column` first, as the frame's sort key, for a frame already sorted
    /// by it across its partitions (Dask's `set_index(column,
    /// sorted=True)`): nothing moves, and [`DataFrame::divisions`] comes
    /// from each partition's first key. The order is checked when the
    /// divisions are computed: rows out of order, or a partition starting
    /// at or below the end of the one before, are an error that says to
    /// use [`DataFrame::set_index`] instead.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use barrow_dataframe::DataFrame;
    /// use barrow_dataframe::arrow::array::{Int64Array, RecordBatch};
    ///
    /// let part = |ids: Vec<i64>| {
    ///     RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(ids)) as _)]).unwrap()
    /// };
    /// let df = DataFrame::from_record_batches([part(vec![1, 2]), part(vec![5, 9])])?;
    /// let indexed = df.set_index_sorted("id")?;
    /// let divisions = barrow_core::compute(&indexed.divisions().unwrap())?;
    /// assert_eq!(divisions.num_rows(), 1); // 5: partition 1 starts there
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn set_index_sorted(&self, column: &str) -> Result<DataFrame> {
        let df = self.with_first(column)?;
        let spec = SortSpec::new(vec![column.to_owned()], vec![false]);
        let token = tokenize(&(df.token(), format!("presorted {spec:?}")));
        let name = format!("presorted-{token}");
        let (mut graph, parts) = df.partitions()?;
        let edge_fn = Op::SortedEdges(spec.clone()).func()?;
        let mut edges = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let k = Key::with_index(format!("{name}-edges"), [i as u32]);
            graph.insert(k.clone(), Task::call(&edge_fn, [key(part.clone())]))?;
            edges.push(k);
        }
        let bounds = Key::new(format!("{name}-divisions"));
        let divide = Op::SortedDivisions(spec.clone()).func()?;
        graph.insert(bounds.clone(), Task::call(&divide, [keys(edges)]))?;
        Ok(DataFrame::from_source(
            Source::Tasks {
                token,
                label: format!(
                    "set_index_sorted by {column}, divisions from the partitions' first keys"
                ),
                graph,
                keys: parts,
                sorted: Some(Sorted {
                    spec,
                    divisions: bounds,
                }),
                merge: None,
            },
            df.schema(),
        ))
    }
}
