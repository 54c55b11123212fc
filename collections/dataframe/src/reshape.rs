//! Steps that move rows between partitions without joining or sorting
//! them: `drop_duplicates` (a hash shuffle on the columns compared, so
//! equal rows meet in one task) and `repartition` (neighbouring partitions
//! concatenated, or partitions cut into equal runs of rows).

use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use barrow_core::arg::{key, keys};
use barrow_core::tokenize::tokenize;
use barrow_core::{Key, Layer, Result, Task};
use hashbrown::HashSet;

use crate::DataFrame;
use crate::error::{self, compute_error};
use crate::shuffle::{Cut, column_indices, converter, exchange, key_rows, task_per_group};
use crate::tasks::Op;

/// The rows of `pieces` (concatenated) without those whose `subset`
/// columns equal an earlier row's; nulls equal nulls, as in pandas.
pub(crate) fn dedupe(pieces: &[&RecordBatch], subset: &[String]) -> Result<RecordBatch> {
    let all = crate::concat("drop_duplicates", pieces)?;
    let indices = column_indices(&all.schema(), subset, "drop_duplicates")?;
    let converter = converter(&all.schema(), &indices)?;
    let (rows, _) = key_rows(&converter, &all, &indices)?;
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(all.num_rows());
    let firsts: Vec<u32> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| seen.insert(r.data()))
        .map(|(i, _)| i as u32)
        .collect();
    if firsts.len() == all.num_rows() {
        return Ok(all);
    }
    take_record_batch(&all, &UInt32Array::from(firsts))
        .map_err(|e| compute_error("drop_duplicates", e))
}

/// Builds `df.drop_duplicates(subset)`.
pub(crate) fn drop_duplicates(df: &DataFrame, subset: Vec<String>) -> Result<DataFrame> {
    let subset = if subset.is_empty() {
        df.columns()
    } else {
        subset
    };
    let schema = df.schema();
    for c in &subset {
        schema.index_of(c).map_err(|_| df.missing(c))?;
    }
    let token = tokenize(&(df.token(), subset.clone()));
    let name = format!("drop-duplicates-{token}");
    let (mut graph, parts) = df.partitions()?;
    let n = parts.len();
    // One partition needs no shuffle: its duplicates are all in it.
    let groups: Vec<Vec<Key>> = if n == 1 {
        vec![parts]
    } else {
        exchange(
            &mut graph,
            &name,
            &parts,
            Cut::Hash(subset.clone()),
            None,
            n,
        )?
    };
    let dedupe = Op::Dedupe(subset.clone()).func()?;
    let outputs = task_per_group(&mut graph, &name, groups, |pieces| {
        Task::call(&dedupe, [keys(pieces)])
    })?;
    Ok(DataFrame::from_tasks(
        token,
        format!("drop_duplicates on [{}], hash shuffle", subset.join(", ")),
        graph,
        outputs,
        df.schema(),
    ))
}

/// Builds `df.repartition(n)`.
pub(crate) fn repartition(df: &DataFrame, n: usize) -> Result<DataFrame> {
    if n == 0 {
        return Err(error::invalid(
            "repartition into 0 partitions: give at least 1",
        ));
    }
    let m = df.npartitions();
    let token = tokenize(&(df.token(), n));
    let name = format!("repartition-{token}");
    let (mut graph, parts) = df.partitions()?;
    let outputs = if n <= m {
        // Output j concatenates inputs [j·m/n, (j+1)·m/n).
        let groups: Vec<Vec<Key>> = (0..n)
            .map(|j| parts[j * m / n..(j + 1) * m / n].to_vec())
            .collect();
        let concat = Op::Concat.func()?;
        task_per_group(&mut graph, &name, groups, |pieces| {
            Task::call(&concat, [keys(pieces)])
        })?
    } else {
        // Input i is cut into (i+1)·n/m − i·n/m runs of rows.
        let split_name = format!("{name}-split");
        let mut splits = Layer::try_with_capacity(split_name.as_str(), m)?;
        let mut pieces = Layer::try_with_capacity(name.as_str(), n)?;
        let mut outputs = Vec::with_capacity(n);
        for (i, part) in parts.iter().enumerate() {
            let runs = (i + 1) * n / m - i * n / m;
            let split = Op::Split {
                cut: Cut::Even,
                parts: runs,
            }
            .func()?;
            let s = Key::with_index(split_name.as_str(), [i as u32]);
            splits.insert(s.clone(), Task::call(&split, [key(part.clone())]))?;
            for j in 0..runs {
                let k = Key::with_index(name.as_str(), [outputs.len() as u32]);
                pieces.insert(
                    k.clone(),
                    Task::call(&Op::Piece(j).func()?, [key(s.clone())]),
                )?;
                outputs.push(k);
            }
        }
        graph.add_layer(Arc::new(splits))?;
        graph.add_layer(Arc::new(pieces))?;
        outputs
    };
    Ok(DataFrame::from_tasks(
        token,
        format!("repartition {m} -> {n}"),
        graph,
        outputs,
        df.schema(),
    ))
}

impl DataFrame {
    /// The rows without those whose `subset` columns (all columns when
    /// empty) equal an earlier row's (Dask's `drop_duplicates`, keeping
    /// the first). Equal rows meet through a hash shuffle, so the order of
    /// the rows changes unless there is a single partition.
    pub fn drop_duplicates<S: AsRef<str>>(
        &self,
        subset: impl IntoIterator<Item = S>,
    ) -> Result<DataFrame> {
        let subset = subset.into_iter().map(|c| c.as_ref().to_owned()).collect();
        drop_duplicates(self, subset)
    }

    /// The same rows, in the same order, in `n` partitions (Dask's
    /// `repartition(npartitions=n)`): fewer by concatenating neighbours,
    /// more by cutting each partition into runs of equal length.
    pub fn repartition(&self, n: usize) -> Result<DataFrame> {
        repartition(self, n)
    }
}
