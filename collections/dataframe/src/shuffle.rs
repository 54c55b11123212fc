//! Moving rows between partitions: each input partition is cut into one
//! piece per output partition, and output partition `j` is made from piece
//! `j` of every input. Joins, `drop_duplicates` and the group-by with
//! `split_out` cut by a hash of their keys, `sort_values` by ranges of its
//! sort key, `repartition` into equal runs of rows.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{DataType, Schema};
use arrow::row::{RowConverter, Rows, SortField};
use barrow_core::arg::key;
use barrow_core::{Error, Graph, Key, Layer, Result, Task};
use serde::{Deserialize, Serialize};

use crate::error::compute_error;
use crate::sort::SortSpec;
use crate::tasks::Op;

/// How a partition is cut into pieces.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Cut {
    /// By a fixed hash of these columns: rows with equal keys land in the
    /// same piece, in every process.
    Hash(Vec<String>),
    /// By ranges of the sort key, between the boundaries given as the
    /// task's second argument.
    Range(SortSpec),
    /// Into runs of consecutive rows of (nearly) equal length.
    Even,
}

/// Adds the first half of a shuffle of `parts` into `n` partitions: a task
/// cutting each part (given `extra` as its second argument, if any), and
/// one taking each piece out. Returns, for each output partition, the keys
/// of its pieces in input order.
pub(crate) fn exchange(
    graph: &mut Graph,
    name: &str,
    parts: &[Key],
    cut: Cut,
    extra: Option<&Key>,
    n: usize,
) -> Result<Vec<Vec<Key>>> {
    let split = Op::Split { cut, parts: n }.func()?;
    let split_name = format!("{name}-split");
    let mut splits = Layer::try_with_capacity(split_name.as_str(), parts.len())?;
    let piece_name = format!("{name}-piece");
    let mut pieces = Layer::try_with_capacity(piece_name.as_str(), parts.len() * n)?;
    let mut out: Vec<Vec<Key>> = vec![Vec::with_capacity(parts.len()); n];
    let takers = (0..n)
        .map(|j| Op::Piece(j).func())
        .collect::<Result<Vec<_>>>()?;
    for (i, part) in parts.iter().enumerate() {
        let s = Key::with_index(split_name.as_str(), [i as u32]);
        let task = match extra {
            Some(extra) => Task::call(&split, [key(part.clone()), key(extra.clone())]),
            None => Task::call(&split, [key(part.clone())]),
        };
        splits.insert(s.clone(), task)?;
        for (j, taker) in takers.iter().enumerate() {
            let p = Key::with_index(piece_name.as_str(), [i as u32, j as u32]);
            pieces.insert(p.clone(), Task::call(taker, [key(s.clone())]))?;
            out[j].push(p);
        }
    }
    graph.add_layer(Arc::new(splits))?;
    graph.add_layer(Arc::new(pieces))?;
    Ok(out)
}

/// A layer `name` of one task per group, made by `task`; returns its keys.
pub(crate) fn task_per_group(
    graph: &mut Graph,
    name: &str,
    groups: Vec<Vec<Key>>,
    task: impl Fn(Vec<Key>) -> Task,
) -> Result<Vec<Key>> {
    let mut layer = Layer::try_with_capacity(name, groups.len())?;
    let mut outputs = Vec::with_capacity(groups.len());
    for (j, group) in groups.into_iter().enumerate() {
        let k = Key::with_index(name, [j as u32]);
        layer.insert(k.clone(), task(group))?;
        outputs.push(k);
    }
    graph.add_layer(Arc::new(layer))?;
    Ok(outputs)
}

/// `batch` cut into `parts` pieces as `cut` says.
pub(crate) fn cut(
    batch: &RecordBatch,
    cut: &Cut,
    boundaries: Option<&RecordBatch>,
    parts: usize,
) -> Result<Vec<RecordBatch>> {
    let parts = parts.max(1);
    let n = batch.num_rows();
    let part_of: Vec<u32> = match cut {
        Cut::Hash(keys) => {
            let indices = column_indices(&batch.schema(), keys, "shuffle")?;
            let keys = KeyEncoder::new(&batch.schema(), &indices)?.encode(batch, &indices)?;
            let p = parts as u64;
            (0..n).map(|i| (keys.hash(i) % p) as u32).collect()
        }
        Cut::Range(spec) => {
            let boundaries =
                boundaries.ok_or_else(|| Error::internal("a range shuffle got no boundaries"))?;
            spec.ranges(batch, boundaries)?
        }
        Cut::Even => (0..n).map(|i| (i * parts / n.max(1)) as u32).collect(),
    };
    scatter(batch, &part_of, parts)
}

/// How key columns are compared and hashed: a single integer column by
/// its values, anything else (several columns, strings, floats) in Arrow's
/// row format. Both sides of a join have the same key types, so they get
/// the same encoder, and rows that are equal hash alike in every process.
pub(crate) enum KeyEncoder {
    /// One integer column, widened to `Int64`.
    Int,
    /// Arrow's row format.
    Rows(RowConverter),
}

/// Key columns encoded by a [`KeyEncoder`].
pub(crate) enum Keys {
    /// The values; a null matches nothing.
    Int(Int64Array),
    /// The rows, and whether each one's keys are all non-null.
    Rows(Rows, Vec<bool>),
}

impl KeyEncoder {
    /// The encoder of the columns of `schema` at `indices`.
    pub(crate) fn new(schema: &Schema, indices: &[usize]) -> Result<KeyEncoder> {
        let integer = |t: &DataType| {
            matches!(
                t,
                DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::UInt8
                    | DataType::UInt16
                    | DataType::UInt32
            )
        };
        Ok(match indices {
            [i] if integer(schema.field(*i).data_type()) => KeyEncoder::Int,
            _ => KeyEncoder::Rows(converter(schema, indices)?),
        })
    }

    /// The key columns of `batch` at `indices`.
    pub(crate) fn encode(&self, batch: &RecordBatch, indices: &[usize]) -> Result<Keys> {
        match self {
            KeyEncoder::Int => {
                let column = indices
                    .first()
                    .map(|&i| batch.column(i))
                    .ok_or_else(|| Error::internal("a key of no column"))?;
                let wide = cast(column, &DataType::Int64)
                    .map_err(|e| compute_error("encoding key columns", e))?;
                let values = wide
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .cloned()
                    .ok_or_else(|| Error::internal("a cast to Int64 gave another type"))?;
                Ok(Keys::Int(values))
            }
            KeyEncoder::Rows(converter) => {
                let (rows, valid) = key_rows(converter, batch, indices)?;
                Ok(Keys::Rows(rows, valid))
            }
        }
    }
}

impl Keys {
    /// Row `i`'s hash: fixed, the same in every process.
    pub(crate) fn hash(&self, i: usize) -> u64 {
        match self {
            Keys::Int(values) if values.is_null(i) => 0,
            Keys::Int(values) => mix(values.value(i) as u64),
            Keys::Rows(rows, _) => hash_bytes(rows.row(i).data()),
        }
    }
}

/// MurmurHash3's 64-bit finalizer: every input bit moves every output
/// bit, so keys in a narrow range still spread over the high bits too.
pub(crate) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A hash of `bytes` fixed across processes. xxh3 alone is not enough:
/// on 9–16 byte inputs (an Arrow row of one integer) nearby values share
/// their top bits, which a HyperLogLog uses as the register index.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    mix(xxhash_rust::xxh3::xxh3_64(bytes))
}

/// The rows of `batch` gathered by piece (`part_of[i]` is row `i`'s),
/// keeping their order within each piece.
fn scatter(batch: &RecordBatch, part_of: &[u32], parts: usize) -> Result<Vec<RecordBatch>> {
    // A counting sort of the row indices by piece.
    let mut starts = vec![0usize; parts + 1];
    for &p in part_of {
        starts[p as usize + 1] += 1;
    }
    for p in 0..parts {
        starts[p + 1] += starts[p];
    }
    let mut order = vec![0u32; part_of.len()];
    let mut fill = starts.clone();
    for (i, &p) in part_of.iter().enumerate() {
        order[fill[p as usize]] = i as u32;
        fill[p as usize] += 1;
    }
    let order = UInt32Array::from(order);
    (0..parts)
        .map(|p| {
            let idx = order.slice(starts[p], starts[p + 1] - starts[p]);
            take_record_batch(batch, &idx).map_err(|e| compute_error("shuffle", e))
        })
        .collect()
}

/// The positions of `names` in `schema`; a name not there is a bug of the
/// plan (it checked the names when it was built).
pub(crate) fn column_indices(
    schema: &Schema,
    names: &[String],
    operation: &str,
) -> Result<Vec<usize>> {
    names
        .iter()
        .map(|k| {
            schema
                .index_of(k)
                .map_err(|_| Error::internal(format!("a {operation} lost its key column {k:?}")))
        })
        .collect()
}

/// A converter of the columns at `indices` to Arrow's row format (bytes
/// that compare and hash as the values do).
pub(crate) fn converter(schema: &Schema, indices: &[usize]) -> Result<RowConverter> {
    RowConverter::new(
        indices
            .iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect(),
    )
    .map_err(|e| compute_error("encoding key columns", e))
}

/// The key columns of `batch` at `indices` as rows, and whether each row's
/// keys are all non-null.
pub(crate) fn key_rows(
    converter: &RowConverter,
    batch: &RecordBatch,
    indices: &[usize],
) -> Result<(Rows, Vec<bool>)> {
    let columns: Vec<ArrayRef> = indices.iter().map(|&i| batch.column(i).clone()).collect();
    let rows = converter
        .convert_columns(&columns)
        .map_err(|e| compute_error("encoding key columns", e))?;
    let mut valid = vec![true; batch.num_rows()];
    for c in &columns {
        if let Some(nulls) = c.logical_nulls() {
            for (v, ok) in valid.iter_mut().zip(nulls.iter()) {
                *v &= ok;
            }
        }
    }
    Ok((rows, valid))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on the first surprise"
    )]

    use arrow::array::Int64Array;

    use super::*;

    fn batch(values: Vec<i64>) -> RecordBatch {
        RecordBatch::try_from_iter([("v", Arc::new(Int64Array::from(values)) as ArrayRef)]).unwrap()
    }

    fn values(b: &RecordBatch) -> Vec<i64> {
        let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        a.values().to_vec()
    }

    #[test]
    fn an_even_cut_keeps_every_row_in_order() {
        for (n, parts) in [(10, 3), (2, 5), (0, 4), (7, 1)] {
            let b = batch((0..n).collect());
            let pieces = cut(&b, &Cut::Even, None, parts).unwrap();
            assert_eq!(pieces.len(), parts);
            let all: Vec<i64> = pieces.iter().flat_map(values).collect();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
            let sizes: Vec<usize> = pieces.iter().map(RecordBatch::num_rows).collect();
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi - lo <= 1, "{sizes:?}");
        }
    }

    #[test]
    fn a_hash_cut_puts_equal_keys_together() {
        let b = batch(vec![5, 1, 5, 2, 1, 5, 9]);
        let pieces = cut(&b, &Cut::Hash(vec!["v".into()]), None, 3).unwrap();
        let mut seen = std::collections::HashMap::new();
        for (p, piece) in pieces.iter().enumerate() {
            for v in values(piece) {
                assert_eq!(*seen.entry(v).or_insert(p), p, "{v} in two pieces");
            }
        }
        assert_eq!(pieces.iter().map(RecordBatch::num_rows).sum::<usize>(), 7);
    }
}
