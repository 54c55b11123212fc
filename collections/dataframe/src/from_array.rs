//! `from_array`: a 2-D Barrow array as a dataframe (Dask's
//! `dd.from_dask_array`), a partition per block row, a column per array
//! column; the blocks of a block row are put side by side in one task.

use std::sync::Arc;

use crate::DataFrame;
use crate::error::{self, compute_error};
use crate::tasks::Op;
use arrow::array::{ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use barrow_array::{Array, Block, Element};
use barrow_core::arg::keys;
use barrow_core::function::Input;
use barrow_core::tokenize::tokenize;
use barrow_core::{Error, Graph, Key, Layer, Result, Task};

pub(crate) use sealed::Dtype;
use sealed::ToColumn;

/// The array element types `from_array` takes: `f64`, `f32`, `i64` and
/// `i32`, each with its Arrow column type.
pub trait ColumnElement: Element + ToColumn {}

impl<T: Element + ToColumn> ColumnElement for T {}

/// What makes an element a column, kept out of the public API.
mod sealed {
    use super::{ArrayRef, DataType, Float32Array, Float64Array, Int32Array, Int64Array};
    use serde::{Deserialize, Serialize};
    use std::sync::Arc;

    /// The element types, as a task's parameters name them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Dtype {
        F64,
        F32,
        I64,
        I32,
    }

    /// An element type with an Arrow column type.
    pub trait ToColumn: Sized {
        /// Its tag.
        const COLUMN_DTYPE: Dtype;
        /// Its Arrow type.
        fn arrow_type() -> DataType;
        /// Values as an Arrow column.
        fn column(values: Vec<Self>) -> ArrayRef;
    }

    macro_rules! to_column {
        ($($t:ty => $tag:ident, $arrow:ident, $array:ident;)*) => {
            $(impl ToColumn for $t {
                const COLUMN_DTYPE: Dtype = Dtype::$tag;
                fn arrow_type() -> DataType {
                    DataType::$arrow
                }
                fn column(values: Vec<$t>) -> ArrayRef {
                    Arc::new($array::from(values))
                }
            })*
        };
    }

    to_column! {
        f64 => F64, Float64, Float64Array;
        f32 => F32, Float32, Float32Array;
        i64 => I64, Int64, Int64Array;
        i32 => I32, Int32, Int32Array;
    }
}

/// The blocks of one block row (inputs: their list, left to right) as a
/// batch of `schema`'s columns.
fn side_by_side<T: ColumnElement>(inputs: &[Input], schema: &Arc<Schema>) -> Result<RecordBatch> {
    let blocks = inputs
        .first()
        .ok_or_else(|| Error::internal("from_array got no blocks"))?
        .as_list()?
        .iter()
        .map(|b| b.as_value()?.downcast_ref::<Block<T>>())
        .collect::<Result<Vec<_>>>()?;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for block in blocks {
        let view = block.view();
        let [rows, cols] = view.shape() else {
            return Err(Error::internal("from_array got a block that is not 2-D"));
        };
        let (rows, cols) = (*rows, *cols);
        for j in 0..cols {
            let values: Vec<T> = (0..rows).map(|i| view[[i, j]]).collect();
            columns.push(T::column(values));
        }
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| compute_error("from_array", e))
}

/// Runs the task of [`Op::FromArray`].
pub(crate) fn call(dtype: Dtype, inputs: &[Input], schema: &Arc<Schema>) -> Result<RecordBatch> {
    match dtype {
        Dtype::F64 => side_by_side::<f64>(inputs, schema),
        Dtype::F32 => side_by_side::<f32>(inputs, schema),
        Dtype::I64 => side_by_side::<i64>(inputs, schema),
        Dtype::I32 => side_by_side::<i32>(inputs, schema),
    }
}

/// Builds `DataFrame::from_array(array, columns)`.
pub(crate) fn from_array<T: ColumnElement>(
    array: &Array<T>,
    columns: Option<Vec<String>>,
) -> Result<DataFrame> {
    array.check()?;
    let shape = array.shape();
    let [_, ncols] = shape.as_slice() else {
        return Err(error::invalid(format!(
            "from_array takes a 2-D array (rows, columns), not one of shape {shape:?}: reshape \
             it first"
        )));
    };
    let names = match columns {
        Some(names) if names.len() != *ncols => {
            return Err(error::invalid(format!(
                "from_array got {} column names for an array of {ncols} columns",
                names.len()
            )));
        }
        Some(names) => names,
        None => (0..*ncols).map(|j| j.to_string()).collect(),
    };
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(error::invalid(format!(
            "from_array got the column name {twice:?} twice"
        )));
    }
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, T::arrow_type(), true))
            .collect::<Vec<_>>(),
    ));
    let numblocks = array.numblocks();
    let (row_blocks, col_blocks) = (numblocks[0], numblocks[1]);
    let blocks = array.block_keys();
    let token = tokenize(&(array.name(), names.clone()));
    let name = format!("from-array-{token}");
    let mut graph: Graph = array.graph_ref().clone();
    let func = Op::FromArray {
        dtype: T::COLUMN_DTYPE,
        schema: schema.clone(),
    }
    .func()?;
    let mut layer = Layer::try_with_capacity(name.as_str(), row_blocks)?;
    let mut outputs = Vec::with_capacity(row_blocks);
    for i in 0..row_blocks {
        let row: Vec<Key> = blocks[i * col_blocks..(i + 1) * col_blocks].to_vec();
        let k = Key::with_index(name.as_str(), [i as u32]);
        layer.insert(k.clone(), Task::call(&func, [keys(row)]))?;
        outputs.push(k);
    }
    graph.add_layer(Arc::new(layer))?;
    Ok(DataFrame::from_tasks(
        token,
        format!("from_array {shape:?}"),
        graph,
        outputs,
        schema,
    ))
}

impl DataFrame {
    /// A 2-D array as a dataframe (Dask's `from_dask_array`): a partition
    /// per block row, a column per array column, named by `columns` (or
    /// `"0"`, `"1"`, ... when `None`). Takes `f64`, `f32`, `i64` and
    /// `i32` arrays.
    ///
    /// ```
    /// use barrow_array::Array;
    /// use barrow_core::compute;
    /// use barrow_dataframe::DataFrame;
    ///
    /// # barrow_local::link();
    /// let x = Array::<f64>::ones(&[6, 3], [4, 2])?;
    /// let df = DataFrame::from_array(&x, Some(vec!["a".into(), "b".into(), "c".into()]))?;
    /// assert_eq!(df.npartitions(), 2);
    /// assert_eq!(compute(df.sum("b")?)?.as_f64(), Some(6.0));
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_array<T: ColumnElement>(
        array: &Array<T>,
        columns: Option<Vec<String>>,
    ) -> Result<DataFrame> {
        from_array(array, columns)
    }
}
