//! `merge`: joins of two dataframes on key columns (Dask's `merge`), inner,
//! left, right or outer.
//!
//! Two ways to bring matching rows together, as in Dask:
//! - **broadcast**: when one side is a single partition, every partition of
//!   the other is joined with all of it, in one task each, and nothing
//!   moves; it serves `inner` and the joins that keep the rows of the large
//!   side (`left` when the right side is small, `right` when the left is);
//! - **hash shuffle** otherwise: each partition of both sides is cut into
//!   pieces by a hash of its keys (a fixed hash, so that every process
//!   agrees), and output partition `j` joins piece `j` of every left
//!   partition with piece `j` of every right one.
//!
//! Each join task is a hash join on Arrow's kernels: a table of the right
//! side's keys, encoded by Arrow's row format (any key types, several key
//! columns), probed with the left side's rows, and the columns gathered
//! with `take`. A null key matches nothing (as SQL and polars; pandas
//! matches nulls with each other).

use std::hash::Hash;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array, UInt32Builder};
use arrow::compute::kernels::zip::zip;
use arrow::compute::{concat_batches, is_not_null, take};
use arrow::datatypes::{Field, Schema, SchemaRef};
use barrow_core::arg::keys;
use barrow_core::tokenize::tokenize;
use barrow_core::{Error, Key, Layer, Result, Task};
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use crate::DataFrame;
use crate::error::{self, DataFrameError, compute_error};
use crate::shuffle::{Cut, KeyEncoder, Keys, exchange};
use crate::source::Source;
use crate::tasks::Op;

/// Which rows a join keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum How {
    /// Rows whose keys are on both sides.
    Inner,
    /// Every left row; the right columns are null where no key matches.
    Left,
    /// Every right row; the left columns are null where no key matches.
    Right,
    /// Every row of both sides.
    Outer,
}

impl How {
    fn name(self) -> &'static str {
        match self {
            How::Inner => "inner",
            How::Left => "left",
            How::Right => "right",
            How::Outer => "outer",
        }
    }

    fn keeps_left(self) -> bool {
        matches!(self, How::Left | How::Outer)
    }

    fn keeps_right(self) -> bool {
        matches!(self, How::Right | How::Outer)
    }
}

/// How the matching rows are brought together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JoinStrategy {
    /// Broadcast a side of one partition when the join allows it, else
    /// shuffle.
    #[default]
    Auto,
    /// Always the hash shuffle (for two large sides).
    Shuffle,
}

/// How to join: the key columns of each side, which rows to keep, the
/// suffixes of column names both sides have, and the strategy.
///
/// ```
/// use barrow_dataframe::{How, MergeOptions};
///
/// let options = MergeOptions::on(["id"]).how(How::Left);
/// let renamed = MergeOptions::left_right(["id"], ["user_id"]).suffixes("_order", "_user");
/// # let _ = (options, renamed);
/// ```
#[derive(Debug, Clone)]
pub struct MergeOptions {
    left_on: Vec<String>,
    right_on: Vec<String>,
    how: How,
    suffixes: (String, String),
    strategy: JoinStrategy,
    npartitions: Option<usize>,
}

impl MergeOptions {
    /// Join on columns both sides have under these names (`on=`); the
    /// result has each key column once.
    pub fn on<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> MergeOptions {
        let keys: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_owned()).collect();
        MergeOptions::left_right(keys.clone(), keys)
    }

    /// Join the left side's `left_on` columns with the right side's
    /// `right_on` (`left_on=`, `right_on=`); key columns of different
    /// names are both kept.
    pub fn left_right<A: AsRef<str>, B: AsRef<str>>(
        left_on: impl IntoIterator<Item = A>,
        right_on: impl IntoIterator<Item = B>,
    ) -> MergeOptions {
        MergeOptions {
            left_on: left_on.into_iter().map(|k| k.as_ref().to_owned()).collect(),
            right_on: right_on
                .into_iter()
                .map(|k| k.as_ref().to_owned())
                .collect(),
            how: How::Inner,
            suffixes: ("_x".to_owned(), "_y".to_owned()),
            strategy: JoinStrategy::Auto,
            npartitions: None,
        }
    }

    /// Which rows to keep (default [`How::Inner`]).
    pub fn how(mut self, how: How) -> MergeOptions {
        self.how = how;
        self
    }

    /// The suffixes of the columns both sides have (default `_x`, `_y`).
    pub fn suffixes(mut self, left: &str, right: &str) -> MergeOptions {
        self.suffixes = (left.to_owned(), right.to_owned());
        self
    }

    /// How the rows are brought together (default [`JoinStrategy::Auto`]).
    pub fn strategy(mut self, strategy: JoinStrategy) -> MergeOptions {
        self.strategy = strategy;
        self
    }

    /// The number of partitions a shuffle makes (default: the larger
    /// side's).
    pub fn npartitions(mut self, n: usize) -> MergeOptions {
        self.npartitions = Some(n);
        self
    }
}

/// What a join task needs: the sides' columns and keys, and the result's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JoinSpec {
    how: How,
    left_schema: SchemaRef,
    right_schema: SchemaRef,
    left_on: Vec<usize>,
    right_on: Vec<usize>,
    /// The right columns in the result, in order (a key shared by name is
    /// left out: it is the left one's, filled from the right).
    right_kept: Vec<usize>,
    /// For each left key, whether the right one of the same name fills it.
    shared: Vec<bool>,
    schema: SchemaRef,
}

/// Builds `left.merge(right)`.
pub(crate) fn merge(
    left: &DataFrame,
    right: &DataFrame,
    options: &MergeOptions,
) -> Result<DataFrame> {
    let spec = resolve(left, right, options)?;
    let (nl, nr) = (left.npartitions(), right.npartitions());
    let broadcast_right = nr == 1 && !options.how.keeps_right();
    let broadcast_left = nl == 1 && !options.how.keeps_left();
    let token = tokenize(&(
        left.token(),
        right.token(),
        (options.left_on.clone(), options.right_on.clone()),
        format!(
            "{} {:?} {:?} {:?}",
            options.how.name(),
            options.suffixes,
            options.strategy,
            options.npartitions
        ),
    ));
    let (mut graph, lparts) = left.partitions()?;
    let (rgraph, rparts) = right.partitions()?;
    graph.merge(&rgraph)?;
    let name = format!("merge-{token}");
    let join = Op::Join(spec.clone()).func()?;
    let mut layer = Layer::new(name.as_str());
    let mut outputs = Vec::new();
    let mut add = |layer: &mut Layer, l: Vec<Key>, r: Vec<Key>| -> Result<()> {
        let k = Key::with_index(name.as_str(), [outputs.len() as u32]);
        layer.insert(k.clone(), Task::call(&join, [keys(l), keys(r)]))?;
        outputs.push(k);
        Ok(())
    };
    let shuffle = options.strategy == JoinStrategy::Shuffle || !(broadcast_right || broadcast_left);
    if !shuffle && broadcast_right {
        for l in lparts {
            add(&mut layer, vec![l], rparts.clone())?;
        }
    } else if !shuffle {
        for r in rparts {
            add(&mut layer, lparts.clone(), vec![r])?;
        }
    } else {
        let n = options.npartitions.unwrap_or(nl.max(nr)).max(1);
        let lpieces = exchange(
            &mut graph,
            &format!("{name}-left"),
            &lparts,
            Cut::Hash(left_keys(&spec)),
            None,
            n,
        )?;
        let rpieces = exchange(
            &mut graph,
            &format!("{name}-right"),
            &rparts,
            Cut::Hash(right_keys(&spec)),
            None,
            n,
        )?;
        for (l, r) in lpieces.into_iter().zip(rpieces) {
            add(&mut layer, l, r)?;
        }
    }
    graph.add_layer(Arc::new(layer))?;
    let label = format!(
        "merge {} on [{}] = [{}], {}",
        options.how.name(),
        options.left_on.join(", "),
        options.right_on.join(", "),
        if shuffle {
            "hash shuffle"
        } else if broadcast_right {
            "right side broadcast"
        } else {
            "left side broadcast"
        }
    );
    let recipe = LazyMerge {
        left: left.clone(),
        right: right.clone(),
        options: options.clone(),
    };
    Ok(DataFrame::from_source(
        Source::Tasks {
            token,
            label,
            graph,
            keys: outputs,
            sorted: None,
            merge: Some(Arc::new(recipe)),
        },
        spec.schema.clone(),
    ))
}

/// A merge's sides and options, kept with its tasks so that it can be made
/// again reading only the columns the steps after it use.
#[derive(Debug)]
pub(crate) struct LazyMerge {
    left: DataFrame,
    right: DataFrame,
    options: MergeOptions,
}

impl LazyMerge {
    /// The merge of only the side columns that give the result columns
    /// `needed` (and the keys), or `None` when that is all of them. A
    /// column both sides have is kept on both sides when either is
    /// needed, so that the suffixes, and the names, stay as they were.
    pub(crate) fn narrowed(&self, needed: &[String]) -> Result<Option<DataFrame>> {
        let spec = resolve(&self.left, &self.right, &self.options)?;
        let (ls, rs) = (&spec.left_schema, &spec.right_schema);
        let mut keep_left = vec![false; ls.fields().len()];
        let mut keep_right = vec![false; rs.fields().len()];
        for &i in &spec.left_on {
            keep_left[i] = true;
        }
        for &j in &spec.right_on {
            keep_right[j] = true;
        }
        for (pos, field) in spec.schema.fields().iter().enumerate() {
            if !needed.contains(field.name()) {
                continue;
            }
            let (side, other) = match pos.checked_sub(ls.fields().len()) {
                None => {
                    keep_left[pos] = true;
                    (ls.field(pos).name(), rs.index_of(ls.field(pos).name()).ok())
                }
                Some(r) => {
                    let j = spec.right_kept[r];
                    keep_right[j] = true;
                    (rs.field(j).name(), ls.index_of(rs.field(j).name()).ok())
                }
            };
            if side != field.name() {
                match other {
                    Some(o) if pos < ls.fields().len() => keep_right[o] = true,
                    Some(o) => keep_left[o] = true,
                    None => {}
                }
            }
        }
        if keep_left.iter().chain(&keep_right).all(|&k| k) {
            return Ok(None);
        }
        let kept = |schema: &Schema, keep: &[bool]| -> Vec<String> {
            schema
                .fields()
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(f, _)| f.name().clone())
                .collect()
        };
        let left = self.left.select(kept(ls, &keep_left))?;
        let right = self.right.select(kept(rs, &keep_right))?;
        merge(&left, &right, &self.options).map(Some)
    }
}

fn left_keys(spec: &JoinSpec) -> Vec<String> {
    names(&spec.left_schema, &spec.left_on)
}

fn right_keys(spec: &JoinSpec) -> Vec<String> {
    names(&spec.right_schema, &spec.right_on)
}

fn names(schema: &Schema, indices: &[usize]) -> Vec<String> {
    indices
        .iter()
        .map(|&i| schema.field(i).name().clone())
        .collect()
}

/// Checks the keys and works out the result's columns.
fn resolve(left: &DataFrame, right: &DataFrame, options: &MergeOptions) -> Result<JoinSpec> {
    let (ls, rs) = (left.schema(), right.schema());
    if options.left_on.is_empty() {
        return Err(error::invalid(
            "merge needs at least one key column: MergeOptions::on([\"id\"])",
        ));
    }
    if options.left_on.len() != options.right_on.len() {
        return Err(error::invalid(format!(
            "merge got {} left key columns [{}] but {} right ones [{}]: give as many on each side",
            options.left_on.len(),
            options.left_on.join(", "),
            options.right_on.len(),
            options.right_on.join(", ")
        )));
    }
    let lookup = |df: &DataFrame, schema: &Schema, name: &str| {
        schema.index_of(name).map_err(|_| df.missing(name))
    };
    let mut left_on = Vec::new();
    let mut right_on = Vec::new();
    for (l, r) in options.left_on.iter().zip(&options.right_on) {
        let (i, j) = (lookup(left, &ls, l)?, lookup(right, &rs, r)?);
        let (lt, rt) = (ls.field(i).data_type(), rs.field(j).data_type());
        if lt != rt {
            return Err(DataFrameError::Types {
                operation: format!("merge on {l} = {r}"),
                left: lt.clone(),
                right: rt.clone(),
                advice: "join keys must have the same type on both sides; convert one with \
                         astype first",
            }
            .into());
        }
        left_on.push(i);
        right_on.push(j);
    }
    let shared: Vec<bool> = options
        .left_on
        .iter()
        .zip(&options.right_on)
        .map(|(l, r)| l == r)
        .collect();
    let right_kept: Vec<usize> = (0..rs.fields().len())
        .filter(|j| {
            !right_on
                .iter()
                .zip(&shared)
                .any(|(k, same)| *same && k == j)
        })
        .collect();
    let right_names: Vec<&str> = right_kept
        .iter()
        .map(|&j| rs.field(j).name().as_str())
        .collect();
    let mut fields: Vec<Field> = Vec::new();
    for (i, f) in ls.fields().iter().enumerate() {
        let key_shared = left_on
            .iter()
            .zip(&shared)
            .any(|(k, same)| *same && *k == i);
        let name = if !key_shared && right_names.contains(&f.name().as_str()) {
            format!("{}{}", f.name(), options.suffixes.0)
        } else {
            f.name().clone()
        };
        fields.push(f.as_ref().clone().with_name(name).with_nullable(true));
    }
    for &j in &right_kept {
        let f = rs.field(j);
        let name = if ls.index_of(f.name()).is_ok() {
            format!("{}{}", f.name(), options.suffixes.1)
        } else {
            f.name().clone()
        };
        fields.push(f.clone().with_name(name).with_nullable(true));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = fields.iter().find(|f| !seen.insert(f.name().clone())) {
        return Err(error::invalid(format!(
            "merge would make two columns named {:?}: choose other suffixes, or rename a column \
             first",
            twice.name()
        )));
    }
    Ok(JoinSpec {
        how: options.how,
        left_schema: ls,
        right_schema: rs,
        left_on,
        right_on,
        right_kept,
        shared,
        schema: Arc::new(Schema::new(fields)),
    })
}

/// The pairs of (left, right) row indices a join keeps, from each side's
/// length and key of a row (`None` for a null key, which matches
/// nothing); an unmatched row kept pairs with a null.
fn matches<K: Hash + Eq>(
    (nl, lkey): (usize, impl Fn(usize) -> Option<K>),
    (nr, rkey): (usize, impl Fn(usize) -> Option<K>),
    how: How,
) -> (UInt32Array, UInt32Array) {
    // The right rows of each key, chained in order: `heads` gives the
    // first, `next` the one after.
    let mut heads: HashMap<K, u32> = HashMap::with_capacity(nr);
    let mut next = vec![u32::MAX; nr];
    for j in (0..nr).rev() {
        if let Some(k) = rkey(j) {
            let slot = heads.entry(k).or_insert(u32::MAX);
            next[j] = *slot;
            *slot = j as u32;
        }
    }
    let mut li = UInt32Builder::with_capacity(nl);
    let mut ri = UInt32Builder::with_capacity(nl);
    let mut matched = vec![false; if how.keeps_right() { nr } else { 0 }];
    for i in 0..nl {
        let mut j = lkey(i)
            .and_then(|k| heads.get(&k).copied())
            .unwrap_or(u32::MAX);
        if j == u32::MAX {
            if how.keeps_left() {
                li.append_value(i as u32);
                ri.append_null();
            }
            continue;
        }
        while j != u32::MAX {
            li.append_value(i as u32);
            ri.append_value(j);
            if let Some(m) = matched.get_mut(j as usize) {
                *m = true;
            }
            j = next[j as usize];
        }
    }
    for (j, m) in matched.iter().enumerate() {
        if !m {
            li.append_null();
            ri.append_value(j as u32);
        }
    }
    (li.finish(), ri.finish())
}

/// The rows of `left` and `right` (each the concatenation of its pieces)
/// joined.
pub(crate) fn join(
    spec: &JoinSpec,
    left: &[&RecordBatch],
    right: &[&RecordBatch],
) -> Result<RecordBatch> {
    let err = |e| compute_error("merge", e);
    let left = concat_batches(&spec.left_schema, left.iter().copied()).map_err(err)?;
    let right = concat_batches(&spec.right_schema, right.iter().copied()).map_err(err)?;
    let encoder = KeyEncoder::new(&spec.left_schema, &spec.left_on)?;
    let lkeys = encoder.encode(&left, &spec.left_on)?;
    let rkeys = encoder.encode(&right, &spec.right_on)?;
    let (nl, nr, how) = (left.num_rows(), right.num_rows(), spec.how);
    let (li, ri) = match (&lkeys, &rkeys) {
        (Keys::Int(l), Keys::Int(r)) => matches(
            (nl, |i| l.is_valid(i).then(|| l.value(i))),
            (nr, |j| r.is_valid(j).then(|| r.value(j))),
            how,
        ),
        (Keys::Rows(l, lvalid), Keys::Rows(r, rvalid)) => matches(
            (nl, |i| lvalid[i].then(|| l.row(i).data())),
            (nr, |j| rvalid[j].then(|| r.row(j).data())),
            how,
        ),
        _ => {
            return Err(Error::internal(
                "the sides of a join encoded their keys apart",
            ));
        }
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(spec.schema.fields().len());
    for (i, column) in left.columns().iter().enumerate() {
        let taken = take(column, &li, None).map_err(err)?;
        let fill = spec
            .left_on
            .iter()
            .zip(&spec.right_on)
            .zip(&spec.shared)
            .find(|((l, _), same)| **same && **l == i)
            .map(|((_, r), _)| *r);
        columns.push(match fill {
            Some(r) if spec.how.keeps_right() => {
                let from_right = take(right.column(r), &ri, None).map_err(err)?;
                let has_left = is_not_null(&li).map_err(err)?;
                zip(&has_left, &taken, &from_right).map_err(err)?
            }
            _ => taken,
        });
    }
    for &j in &spec.right_kept {
        columns.push(take(right.column(j), &ri, None).map_err(err)?);
    }
    RecordBatch::try_new(spec.schema.clone(), columns).map_err(err)
}

impl DataFrame {
    /// The rows of this dataframe and `right` whose `on` columns match,
    /// joined (Dask's `merge(right, on=..., how=...)`); see
    /// [`DataFrame::merge_with`] for different key names, suffixes and the
    /// strategy. A right side of one partition is broadcast to every left
    /// partition (for `inner` and `left` joins); other joins shuffle both
    /// sides by a hash of the keys.
    pub fn merge<S: AsRef<str>>(
        &self,
        right: &DataFrame,
        on: impl IntoIterator<Item = S>,
        how: How,
    ) -> Result<DataFrame> {
        merge(self, right, &MergeOptions::on(on).how(how))
    }

    /// [`DataFrame::merge`] with all its options.
    pub fn merge_with(&self, right: &DataFrame, options: &MergeOptions) -> Result<DataFrame> {
        merge(self, right, options)
    }
}
