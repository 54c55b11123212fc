//! The dataframe's task functions, registered so that its graphs run in
//! worker processes (`processes`, a cluster) as well as on local threads.
//!
//! Every task function is an [`Op`]: what the task does and everything it
//! needs to know (the optimized plan, the aggregations, the file format),
//! serialized as the function's parameters. A worker rebuilds the function
//! from its name and those parameters through the [`StaticFactory`]s below;
//! the values the tasks exchange (record batches, partial results, parts of
//! files, paths) have the codecs registered here, record batches as Arrow
//! IPC streams.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use barrow_core::codec::{Codec, SerdeCodec, StaticCodec};
use barrow_core::function::{Function, Input, StaticFactory, decode_params, encode_params};
use barrow_core::{Error, ErrorKind, Func, Result, Value};
use serde::{Deserialize, Serialize};

use crate::describe::{self, Summaries};
use crate::groupby::{self, Spec};
use crate::join::{self, JoinSpec};
use crate::plan::Optimized;
use crate::reduce::{self, Agg, Partial};
use crate::reshape;
use crate::shuffle::{self, Cut};
use crate::sink::{self, Format};
use crate::sort::{self, SortSpec};
use crate::source::Part;

/// What one dataframe task does.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    /// Reads a partition (its argument: a [`Part`] or a batch) and runs the
    /// plan's steps on it.
    Partition(Optimized),
    /// A reduction's contribution from one partition's `column`.
    AggPartial {
        /// The reduction.
        agg: Agg,
        /// The column reduced.
        column: String,
    },
    /// Partial results combined (argument: a list of them).
    AggCombine(Agg),
    /// The reduction's result from the last partial one.
    AggFinish(Agg),
    /// One partition's rows aggregated per group.
    GroupPartial {
        /// The key columns.
        keys: Vec<String>,
        /// The aggregations.
        specs: Vec<Spec>,
    },
    /// Partial group tables concatenated and aggregated again.
    GroupCombine {
        /// How many key columns lead the tables.
        nkeys: usize,
        /// The aggregations.
        specs: Vec<Spec>,
    },
    /// The last group table as results, sorted by the keys.
    GroupFinish {
        /// How many key columns lead the table.
        nkeys: usize,
        /// The aggregations.
        specs: Vec<Spec>,
        /// The result's columns.
        schema: SchemaRef,
    },
    /// The first rows of a partition.
    Head(usize),
    /// Writes a partition (first argument) to a file (second).
    Write(Format),
    /// The written files' paths, gathered.
    Paths,
    /// A partition cut into `parts` pieces (a shuffle's first half; a
    /// range cut takes the boundaries as its second argument); the result
    /// is [`Pieces`].
    Split {
        /// How rows are assigned to pieces.
        cut: Cut,
        /// How many pieces.
        parts: usize,
    },
    /// Piece `index` of a split partition.
    Piece(usize),
    /// Left and right rows joined (arguments: the list of left pieces, then
    /// the list of right pieces).
    Join(JoinSpec),
    /// Rows sampled from a partition's sort columns, weighted.
    Sample(SortSpec),
    /// The sort's divisions from the samples (argument: their list).
    Boundaries {
        /// The sort.
        spec: SortSpec,
        /// How many partitions the divisions cut.
        parts: usize,
    },
    /// One output partition of a sort from its pieces (argument: their
    /// list).
    SortPieces(SortSpec),
    /// A presorted partition's first and last keys, once its order is
    /// checked.
    SortedEdges(SortSpec),
    /// A presorted frame's divisions from its partitions' edges (argument:
    /// their list).
    SortedDivisions(SortSpec),
    /// Pieces concatenated, without rows repeating an earlier one's values
    /// in these columns (argument: the list of pieces).
    Dedupe(Vec<String>),
    /// Partitions concatenated (argument: their list).
    Concat,
    /// A group-by's result sorted by its count, largest first, and the
    /// count column named `count` (`value_counts`).
    Counts(SortSpec),
    /// One partition's summaries of these columns (`describe`).
    DescribePartial(Vec<String>),
    /// Summaries combined (argument: their list).
    DescribeCombine,
    /// The `describe` table of these columns from their summaries.
    DescribeFinish(Vec<String>),
    /// A batch checked against the columns it must have (`from_delayed`).
    Conform(SchemaRef),
    /// The blocks of an array's block row side by side (argument: their
    /// list).
    #[cfg(feature = "array")]
    FromArray {
        /// The element type.
        dtype: crate::from_array::Dtype,
        /// The columns made.
        schema: SchemaRef,
    },
}

impl Op {
    /// The registered name of the task function.
    fn name(&self) -> &'static str {
        match self {
            Op::Partition(_) => PARTITION,
            Op::AggPartial { .. } => AGG_PARTIAL,
            Op::AggCombine(_) => AGG_COMBINE,
            Op::AggFinish(_) => AGG_FINISH,
            Op::GroupPartial { .. } => GROUP_PARTIAL,
            Op::GroupCombine { .. } => GROUP_COMBINE,
            Op::GroupFinish { .. } => GROUP_FINISH,
            Op::Head(_) => HEAD,
            Op::Write(_) => WRITE,
            Op::Paths => PATHS,
            Op::Split { .. } => SPLIT,
            Op::Piece(_) => PIECE,
            Op::Join(_) => JOIN,
            Op::Sample(_) => SAMPLE,
            Op::Boundaries { .. } => BOUNDARIES,
            Op::SortedEdges(_) => SORTED_EDGES,
            Op::SortedDivisions(_) => SORTED_DIVISIONS,
            Op::SortPieces(_) => SORT,
            Op::Dedupe(_) => DEDUPE,
            Op::Concat => CONCAT,
            Op::Counts(_) => COUNTS,
            Op::DescribePartial(_) => DESCRIBE_PARTIAL,
            Op::DescribeCombine => DESCRIBE_COMBINE,
            Op::DescribeFinish(_) => DESCRIBE_FINISH,
            Op::Conform(_) => CONFORM,
            #[cfg(feature = "array")]
            Op::FromArray { .. } => FROM_ARRAY,
        }
    }

    /// The task function doing this.
    pub(crate) fn func(self) -> Result<Func> {
        let name = self.name();
        let params = encode_params(name, &self)?;
        Ok(Func::from_function(OpFunction { op: self, params }))
    }
}

const PARTITION: &str = "barrow.dataframe.partition";
const AGG_PARTIAL: &str = "barrow.dataframe.agg-partial";
const AGG_COMBINE: &str = "barrow.dataframe.agg-combine";
const AGG_FINISH: &str = "barrow.dataframe.agg-finish";
const GROUP_PARTIAL: &str = "barrow.dataframe.groupby-partial";
const GROUP_COMBINE: &str = "barrow.dataframe.groupby-combine";
const GROUP_FINISH: &str = "barrow.dataframe.groupby-finish";
const HEAD: &str = "barrow.dataframe.head";
const WRITE: &str = "barrow.dataframe.write";
const PATHS: &str = "barrow.dataframe.paths";
const SPLIT: &str = "barrow.dataframe.split";
const PIECE: &str = "barrow.dataframe.piece";
const JOIN: &str = "barrow.dataframe.join";
const SAMPLE: &str = "barrow.dataframe.sort-sample";
const BOUNDARIES: &str = "barrow.dataframe.sort-divisions";
const SORTED_EDGES: &str = "barrow.dataframe.presorted-edges";
const SORTED_DIVISIONS: &str = "barrow.dataframe.presorted-divisions";
const SORT: &str = "barrow.dataframe.sort";
const DEDUPE: &str = "barrow.dataframe.drop-duplicates";
const CONCAT: &str = "barrow.dataframe.concat";
const COUNTS: &str = "barrow.dataframe.value-counts";
const DESCRIBE_PARTIAL: &str = "barrow.dataframe.describe-partial";
const DESCRIBE_COMBINE: &str = "barrow.dataframe.describe-combine";
const DESCRIBE_FINISH: &str = "barrow.dataframe.describe-finish";
const CONFORM: &str = "barrow.dataframe.conform";
#[cfg(feature = "array")]
const FROM_ARRAY: &str = "barrow.dataframe.from-array";

/// Rebuilds a task function from its parameters, in a worker process.
fn make(bytes: &[u8]) -> Result<Func> {
    let op: Op = decode_params("barrow.dataframe", bytes)?;
    Ok(Func::from_function(OpFunction {
        op,
        params: bytes.to_vec(),
    }))
}

macro_rules! factories {
    ($($name:ident),*) => {
        $(inventory::submit! { StaticFactory { name: $name, make } })*
    };
}

factories!(
    PARTITION,
    AGG_PARTIAL,
    AGG_COMBINE,
    AGG_FINISH,
    GROUP_PARTIAL,
    GROUP_COMBINE,
    GROUP_FINISH,
    HEAD,
    WRITE,
    PATHS,
    SPLIT,
    PIECE,
    JOIN,
    SAMPLE,
    BOUNDARIES,
    SORTED_EDGES,
    SORTED_DIVISIONS,
    SORT,
    DEDUPE,
    CONCAT,
    COUNTS,
    DESCRIBE_PARTIAL,
    DESCRIBE_COMBINE,
    DESCRIBE_FINISH,
    CONFORM
);
#[cfg(feature = "array")]
factories!(FROM_ARRAY);

/// An [`Op`] with its encoded form, as a task function.
struct OpFunction {
    op: Op,
    params: Vec<u8>,
}

impl Function for OpFunction {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn params(&self) -> Option<&[u8]> {
        Some(&self.params)
    }

    /// A piece of a split is a slice of a value already in memory.
    fn is_selector(&self) -> bool {
        matches!(self.op, Op::Piece(_))
    }

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let name = self.op.name();
        match &self.op {
            Op::Partition(plan) => batch_value(plan.run(value(inputs, 0, name)?)?),
            Op::AggPartial { agg, column } => {
                let batch: &RecordBatch = arg(inputs, 0, name)?;
                let values = batch.column_by_name(column).ok_or_else(|| {
                    Error::internal(format!("a partition lost its column {column:?}"))
                })?;
                Ok(Value::new(reduce::partial(*agg, values)?))
            }
            Op::AggCombine(agg) => {
                let parts: Vec<&Partial> = list(inputs, 0, name)?;
                let (first, rest) = parts
                    .split_first()
                    .ok_or_else(|| Error::internal("a combine of no partial results"))?;
                let combined = rest
                    .iter()
                    .try_fold((*first).clone(), |acc, p| reduce::combine(*agg, &acc, p))?;
                Ok(Value::new(combined))
            }
            Op::AggFinish(agg) => {
                let partial: &Partial = arg(inputs, 0, name)?;
                Ok(Value::new(reduce::finish(*agg, partial.clone())))
            }
            Op::GroupPartial { keys, specs } => {
                let batch: &RecordBatch = arg(inputs, 0, name)?;
                let states = groupby::states(batch, keys, specs)?;
                batch_value(groupby::aggregate(&states, keys.len(), specs)?)
            }
            Op::GroupCombine { nkeys, specs } => {
                let parts: Vec<&RecordBatch> = list(inputs, 0, name)?;
                let all = crate::concat("groupby", &parts)?;
                batch_value(groupby::aggregate(&all, *nkeys, specs)?)
            }
            Op::GroupFinish {
                nkeys,
                specs,
                schema,
            } => {
                let states: &RecordBatch = arg(inputs, 0, name)?;
                batch_value(groupby::finish(states, *nkeys, specs, schema)?)
            }
            Op::Head(n) => {
                let batch: &RecordBatch = arg(inputs, 0, name)?;
                batch_value(batch.slice(0, (*n).min(batch.num_rows())))
            }
            Op::Write(format) => {
                let batch: &RecordBatch = arg(inputs, 0, name)?;
                let path: &PathBuf = arg(inputs, 1, name)?;
                sink::write_file(batch, path, *format)?;
                Ok(Value::new(path.clone()))
            }
            Op::Paths => {
                let paths: Vec<&PathBuf> = list(inputs, 0, name)?;
                Ok(Value::new(paths.into_iter().cloned().collect::<Vec<_>>()))
            }
            Op::Split { cut, parts } => {
                let batch: &RecordBatch = arg(inputs, 0, name)?;
                let bounds = match cut {
                    Cut::Range(_) => Some(arg::<RecordBatch>(inputs, 1, name)?),
                    _ => None,
                };
                let pieces = shuffle::cut(batch, cut, bounds, *parts)?;
                let nbytes = pieces.iter().map(RecordBatch::get_array_memory_size).sum();
                Ok(Value::with_nbytes(Pieces(pieces), nbytes))
            }
            Op::Piece(i) => {
                let pieces: &Pieces = arg(inputs, 0, name)?;
                let piece = pieces.0.get(*i).ok_or_else(|| {
                    Error::internal(format!("a split has no piece {i} of {}", pieces.0.len()))
                })?;
                batch_value(piece.clone())
            }
            Op::Join(spec) => {
                let left: Vec<&RecordBatch> = list(inputs, 0, name)?;
                let right: Vec<&RecordBatch> = list(inputs, 1, name)?;
                batch_value(join::join(spec, &left, &right)?)
            }
            Op::Sample(spec) => batch_value(sort::sample(spec, arg(inputs, 0, name)?)?),
            Op::Boundaries { spec, parts } => {
                let samples: Vec<&RecordBatch> = list(inputs, 0, name)?;
                batch_value(sort::boundaries(spec, &samples, *parts)?)
            }
            Op::SortedEdges(spec) => {
                batch_value(sort::presorted_edges(spec, arg(inputs, 0, name)?)?)
            }
            Op::SortedDivisions(spec) => {
                let edges: Vec<&RecordBatch> = list(inputs, 0, name)?;
                batch_value(sort::presorted_divisions(spec, &edges)?)
            }
            Op::SortPieces(spec) => {
                let pieces: Vec<&RecordBatch> = list(inputs, 0, name)?;
                batch_value(sort::sort_pieces(spec, &pieces)?)
            }
            Op::Dedupe(subset) => {
                let pieces: Vec<&RecordBatch> = list(inputs, 0, name)?;
                batch_value(reshape::dedupe(&pieces, subset)?)
            }
            Op::Concat => {
                let parts: Vec<&RecordBatch> = list(inputs, 0, name)?;
                batch_value(crate::concat("repartition", &parts)?)
            }
            Op::Counts(spec) => {
                let counts: &RecordBatch = arg(inputs, 0, name)?;
                batch_value(groupby::value_counts(spec, counts)?)
            }
            Op::DescribePartial(columns) => Ok(Value::new(describe::partial(
                arg(inputs, 0, name)?,
                columns,
            )?)),
            Op::DescribeCombine => Ok(Value::new(describe::combine(&list(inputs, 0, name)?)?)),
            Op::DescribeFinish(columns) => {
                batch_value(describe::finish(arg(inputs, 0, name)?, columns)?)
            }
            Op::Conform(schema) => {
                let batch: &RecordBatch = arg(inputs, 0, name)?;
                if !crate::same_columns(&batch.schema(), schema) {
                    return Err(crate::error::invalid(format!(
                        "a from_delayed partition has the columns [{}] but the schema given has \
                         [{}]: make every partition with the declared columns and types",
                        crate::source::describe(&batch.schema()),
                        crate::source::describe(schema)
                    )));
                }
                let columns = batch.columns().to_vec();
                batch_value(
                    RecordBatch::try_new(schema.clone(), columns)
                        .map_err(|e| crate::error::compute_error("from_delayed", e))?,
                )
            }
            #[cfg(feature = "array")]
            Op::FromArray { dtype, schema } => {
                batch_value(crate::from_array::call(*dtype, inputs, schema)?)
            }
        }
    }
}

/// The pieces of a partition cut by a shuffle, one per output partition.
#[derive(Debug, Clone)]
pub(crate) struct Pieces(pub(crate) Vec<RecordBatch>);

/// A batch as a task's value, with its size for the memory accounting.
fn batch_value(batch: RecordBatch) -> Result<Value> {
    let nbytes = batch.get_array_memory_size();
    Ok(Value::with_nbytes(batch, nbytes))
}

fn missing(name: &str, i: usize) -> Error {
    Error::internal(format!("task function '{name}' got no argument {i}"))
}

fn value<'v>(inputs: &'v [Input], i: usize, name: &str) -> Result<&'v Value> {
    inputs.get(i).ok_or_else(|| missing(name, i))?.as_value()
}

fn arg<'v, T: Send + Sync + 'static>(inputs: &'v [Input], i: usize, name: &str) -> Result<&'v T> {
    value(inputs, i, name)?.downcast_ref::<T>()
}

fn list<'v, T: Send + Sync + 'static>(
    inputs: &'v [Input],
    i: usize,
    name: &str,
) -> Result<Vec<&'v T>> {
    inputs
        .get(i)
        .ok_or_else(|| missing(name, i))?
        .as_list()?
        .iter()
        .map(|item| item.as_value()?.downcast_ref::<T>())
        .collect()
}

/// Record batches as Arrow IPC streams (a schema message, then the batch):
/// the format pyarrow, polars and DataFusion read.
struct BatchCodec;

/// The tag of [`BatchCodec`].
pub(crate) const BATCH_TAG: &str = "barrow.dataframe.record-batch";

fn ipc_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Codec,
        format!("an Arrow IPC record batch cannot be {what}: {e}"),
    )
}

impl Codec for BatchCodec {
    fn tag(&self) -> &str {
        BATCH_TAG
    }

    fn type_id(&self) -> std::any::TypeId {
        std::any::TypeId::of::<RecordBatch>()
    }

    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let batch = value.downcast_ref::<RecordBatch>()?;
        let mut writer =
            StreamWriter::try_new(out, &batch.schema()).map_err(|e| ipc_error("written", e))?;
        writer.write(batch).map_err(|e| ipc_error("written", e))?;
        writer.finish().map_err(|e| ipc_error("written", e))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Value> {
        let mut reader =
            StreamReader::try_new(Cursor::new(bytes), None).map_err(|e| ipc_error("read", e))?;
        let schema = reader.schema();
        let batch = match reader.next() {
            Some(batch) => batch.map_err(|e| ipc_error("read", e))?,
            None => RecordBatch::new_empty(schema),
        };
        batch_value(batch)
    }
}

/// The pieces of a shuffle: a count, then each piece as [`BatchCodec`]
/// writes it, after its length.
struct PiecesCodec;

impl Codec for PiecesCodec {
    fn tag(&self) -> &str {
        "barrow.dataframe.pieces"
    }

    fn type_id(&self) -> std::any::TypeId {
        std::any::TypeId::of::<Pieces>()
    }

    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let pieces = value.downcast_ref::<Pieces>()?;
        out.extend_from_slice(&(pieces.0.len() as u64).to_le_bytes());
        for piece in &pieces.0 {
            let at = out.len();
            out.extend_from_slice(&0u64.to_le_bytes());
            BatchCodec.encode(&Value::new(piece.clone()), out)?;
            let len = (out.len() - at - 8) as u64;
            out[at..at + 8].copy_from_slice(&len.to_le_bytes());
        }
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Value> {
        let short = || ipc_error("read", "the shuffle pieces end early");
        let take = |rest: &mut &[u8]| -> Result<u64> {
            let (head, tail) = rest.split_first_chunk::<8>().ok_or_else(short)?;
            *rest = tail;
            Ok(u64::from_le_bytes(*head))
        };
        let mut rest = bytes;
        let n = take(&mut rest)?;
        let mut pieces = Vec::new();
        for _ in 0..n {
            let len = usize::try_from(take(&mut rest)?).map_err(|_| short())?;
            let (piece, tail) = rest.split_at_checked(len).ok_or_else(short)?;
            rest = tail;
            let value = BatchCodec.decode(piece)?;
            pieces.push(value.downcast_ref::<RecordBatch>()?.clone());
        }
        let nbytes = pieces.iter().map(RecordBatch::get_array_memory_size).sum();
        Ok(Value::with_nbytes(Pieces(pieces), nbytes))
    }
}

inventory::submit! { StaticCodec { make: || Arc::new(BatchCodec) } }
inventory::submit! { StaticCodec { make: || Arc::new(PiecesCodec) } }

/// Registers a [`SerdeCodec`] for each type, under its tag.
macro_rules! codecs {
    ($($ty:ty => $tag:literal,)*) => {
        $(inventory::submit! {
            StaticCodec { make: || Arc::new(SerdeCodec::<$ty>::new($tag)) }
        })*
    };
}

codecs! {
    Part => "barrow.dataframe.part",
    Partial => "barrow.dataframe.partial",
    Summaries => "barrow.dataframe.summaries",
    crate::Scalar => "barrow.dataframe.scalar",
    PathBuf => "barrow.dataframe.path",
    Vec<PathBuf> => "barrow.dataframe.paths",
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on the first surprise"
    )]

    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use barrow_core::Registry;

    use super::*;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as _,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec!["a", "b", "c"])) as _,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn a_record_batch_survives_its_codec_and_damage_is_an_error() {
        let mut bytes = Vec::new();
        BatchCodec.encode(&Value::new(batch()), &mut bytes).unwrap();
        let back = BatchCodec.decode(&bytes).unwrap();
        assert_eq!(back.downcast_ref::<RecordBatch>().unwrap(), &batch());
        let err = BatchCodec.decode(&bytes[..bytes.len() / 2]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Codec);
    }

    #[test]
    fn shuffle_pieces_survive_their_codec() {
        let pieces = Pieces(vec![batch(), batch().slice(1, 0), batch().slice(0, 1)]);
        let mut bytes = Vec::new();
        PiecesCodec
            .encode(&Value::new(pieces.clone()), &mut bytes)
            .unwrap();
        let back = PiecesCodec.decode(&bytes).unwrap();
        assert_eq!(back.downcast_ref::<Pieces>().unwrap().0, pieces.0);
        assert!(PiecesCodec.decode(&bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn every_task_function_is_rebuilt_from_its_name_and_parameters() {
        let registry = Registry::global();
        let op = Op::Head(3);
        let func = op.func().unwrap();
        let rebuilt = registry
            .functions()
            .resolve(func.name(), func.params())
            .unwrap();
        assert!(rebuilt.same_as(&func));
        let out = rebuilt.call(&[Input::Value(Value::new(batch()))]).unwrap();
        assert_eq!(out.downcast_ref::<RecordBatch>().unwrap().num_rows(), 3);
        for name in [
            PARTITION,
            AGG_PARTIAL,
            AGG_COMBINE,
            AGG_FINISH,
            GROUP_PARTIAL,
            GROUP_COMBINE,
            GROUP_FINISH,
            HEAD,
            WRITE,
            PATHS,
            SPLIT,
            PIECE,
            JOIN,
            SAMPLE,
            BOUNDARIES,
            SORTED_EDGES,
            SORTED_DIVISIONS,
            SORT,
            DEDUPE,
            CONCAT,
            COUNTS,
            DESCRIBE_PARTIAL,
            DESCRIBE_COMBINE,
            DESCRIBE_FINISH,
            CONFORM,
            #[cfg(feature = "array")]
            FROM_ARRAY,
        ] {
            assert!(
                registry.functions().contains(name),
                "{name} is not registered"
            );
        }
    }
}
