//! Rechunks whose tasks would each hold more than
//! `array.rechunk.memory-budget`: the pieces go through files.
//!
//! Going straight from old chunks to new ones, a new block is assembled
//! from the whole old blocks it overlaps. When every new block overlaps
//! every old one (column blocks to row blocks), the first new block needs
//! the whole array in memory, and so does the run: no old block can be
//! freed before the last new block is made. Past the budget the rechunk is
//! staged instead, as Dask's P2P rechunk stages its shards:
//!
//! - a *stage* task per old block cuts it into the pieces the new blocks
//!   need and writes them to an extent of the process's staging file in
//!   `temporary-directory` (`super::arena`: unlinked, so nothing is left
//!   behind whatever happens, and reused, so a second rechunk writes at
//!   memory speed), and returns a [`Staged`] value: the extent and where
//!   each piece lies in it, a few bytes. The old block is freed as soon as
//!   it is staged.
//! - a *gather* task per new block reads its pieces back, straight into
//!   its buffer, and makes the block; an extent is freed once the last
//!   gather that needs it has run.
//!
//! Memory then holds, per running task, one old block or one new block
//! (plus one piece), whatever the array's size; the operating system's
//! page cache holds the pieces in between, and writes them to disk only
//! when it needs the memory. Filled blocks (`ones`, `full`) are cut in
//! memory: their pieces are one element each.
//!
//! A [`Staged`] value that travels to another process (`processes`,
//! `distributed`) is encoded with its pieces' data, read from its file:
//! there the rechunk is correct but not bounded by the budget.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::arena::{Extent, extent, io_error};

use barrow_core::arg::{key, keys, lit};
use barrow_core::function::{Function, Input, encode_params};
use barrow_core::tokenize::token_name;
use barrow_core::{Error, Func, Result, Task, Value};
use ndarray::{ArrayD, IxDyn, SliceInfoElem};

use crate::array::{Array, block_key};
use crate::block::{Block, block_ref};
use crate::chunks::Chunks;
#[cfg(feature = "ship")]
use crate::dtype::DType;
use crate::dtype::Element;
use crate::error::invalid;
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};

/// `barrow.array.rechunk-stage`: cuts an old block into pieces written to a
/// file; the spec is the element type.
pub(crate) const STAGE: &str = "barrow.array.rechunk-stage";
/// `barrow.array.rechunk-gather`: makes a new block from staged pieces.
pub(crate) const GATHER: &str = "barrow.array.rechunk-gather";

/// The share of the memory a computation may use that one rechunk may
/// hold when `array.rechunk.memory-budget` is unset.
const DEFAULT_SHARE: u64 = 4;

/// The bytes a rechunk's tasks may hold: `array.rechunk.memory-budget`,
/// else a quarter of what a computation may use (`local.memory-limit`,
/// else the memory available); `None` when neither is known.
pub(crate) fn memory_budget() -> Result<Option<u64>> {
    let config = barrow_core::config::snapshot()?;
    if let Some(budget) =
        config.get::<barrow_core::config::ByteSize>("array.rechunk.memory-budget")?
    {
        return Ok(Some(budget.as_u64()));
    }
    Ok(barrow_core::memory::budget(&config)?.map(|b| b.bytes() / DEFAULT_SHARE))
}

/// The most bytes of old blocks one new block overlaps: what a direct
/// rechunk's task holds (axes are independent, so it is the product of
/// each axis' largest overlap).
pub(crate) fn largest_fan_in(old: &Chunks, new: &Chunks, itemsize: usize) -> Result<u64> {
    let maps = super::old_to_new(old, new).map_err(Error::from)?;
    let mut bytes = itemsize as u64;
    for (axis, blocks) in maps.iter().enumerate() {
        let lengths = old.axis(axis);
        let widest = blocks
            .iter()
            .map(|pieces| pieces.iter().map(|(o, _)| lengths[*o] as u64).sum::<u64>())
            .max()
            .unwrap_or(0);
        bytes = bytes.saturating_mul(widest);
    }
    Ok(bytes)
}

/// Where one staged piece is.
#[derive(Debug)]
pub(crate) enum StagedPiece<T> {
    /// In the extent, `shape`'s elements from byte `offset`, row-major.
    Disk {
        /// Its first byte in the extent.
        offset: u64,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// In memory (a filled block's piece, or one read in another process).
    Memory(Block<T>),
}

/// The pieces of one old block, in the order its stage task was given.
#[derive(Debug)]
pub(crate) struct Staged<T> {
    /// Where the `Disk` pieces are; freed with the last handle.
    pub(crate) extent: Option<Arc<Extent>>,
    /// The pieces.
    pub(crate) pieces: Vec<StagedPiece<T>>,
}

impl<T: Element> Staged<T> {
    /// The value, counting the bytes it holds in memory.
    fn into_value(self) -> Value {
        let held: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                StagedPiece::Memory(block) => block.nbytes(),
                StagedPiece::Disk { shape, .. } => 16 + 8 * shape.len(),
            })
            .sum();
        Value::with_nbytes(self, held + 64)
    }

    /// Reads disk piece `shape` at `offset` into `buffer` (resized to it).
    fn read_into(&self, offset: u64, shape: &[usize], buffer: &mut Vec<T>) -> Result<()> {
        let extent = self
            .extent
            .as_ref()
            .ok_or_else(|| invalid("a staged piece on disk without its file"))?;
        let count: usize = shape.iter().product();
        // Every element is read over: a buffer of the right length is not
        // filled again (pieces of one gather mostly share a shape).
        if buffer.len() != count {
            buffer.clear();
            buffer.resize(count, T::default());
        }
        let at = extent.offset() + offset;
        let bytes = count * T::CODE.wire_size();
        let cannot = |e| io_error("read back", bytes, e);
        match T::as_le_bytes_mut(buffer) {
            Some(raw) => extent.file().read_exact_at(raw, at).map_err(cannot)?,
            None => {
                let mut raw = vec![0u8; bytes];
                extent.file().read_exact_at(&mut raw, at).map_err(cannot)?;
                *buffer = T::get_le(&raw)
                    .ok_or_else(|| invalid("a rechunk's staged piece holds an invalid element"))?;
            }
        }
        Ok(())
    }

    /// Piece `index` as a block of its own (for a codec sending it).
    pub(crate) fn piece(&self, index: usize) -> Result<Block<T>> {
        match self.pieces.get(index) {
            Some(StagedPiece::Memory(block)) => Ok(block.clone()),
            Some(StagedPiece::Disk { offset, shape }) => {
                let mut buffer = Vec::new();
                self.read_into(*offset, shape, &mut buffer)?;
                let data = ArrayD::from_shape_vec(IxDyn(shape), buffer)
                    .map_err(|e| invalid(format!("a staged piece's shape: {e}")))?;
                Ok(Block::Dense(data))
            }
            None => Err(invalid(format!("staged piece {index} does not exist"))),
        }
    }
}

fn slices(ranges: impl Iterator<Item = (usize, usize)>) -> Vec<SliceInfoElem> {
    ranges
        .map(|(start, end)| SliceInfoElem::Slice {
            start: start as isize,
            end: Some(end as isize),
            step: 1,
        })
        .collect()
}

pub(crate) fn stage_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(Stage::<T> {
        params: encode_params(STAGE, &T::CODE)?,
        marker: PhantomData,
    }))
}

pub(crate) fn gather_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(Gather::<T> {
        params: encode_params(GATHER, &T::CODE)?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn stage_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(element STAGE, *dtype, |T| stage_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(STAGE, DType, stage_kernel);
#[cfg(feature = "ship")]
fn gather_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(element GATHER, *dtype, |T| gather_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(GATHER, DType, gather_kernel);

/// Cuts one old block into pieces written to a file.
///
/// Arguments: the old block, and the geometry: per piece and per axis,
/// (start, end) within the old block.
struct Stage<T> {
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for Stage<T> {
    crate::kernel::registered_methods!(STAGE);

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (Some(block), Some(geometry)) = (inputs.first(), inputs.get(1)) else {
            return Err(invalid(
                "rechunk-stage takes a block and its pieces' geometry",
            ));
        };
        let block = block_ref::<T>(block)?;
        let geometry = geometry.as_value()?.downcast_ref::<Vec<usize>>()?;
        let ndim = block.shape().len();
        if ndim == 0 || !geometry.len().is_multiple_of(2 * ndim) {
            return Err(invalid("rechunk-stage: geometry does not match the block"));
        }
        let regions: Vec<&[usize]> = geometry.chunks(2 * ndim).collect();
        let inside = |r: &&[usize]| {
            r.chunks(2)
                .zip(block.shape())
                .all(|(p, &n)| p[0] <= p[1] && p[1] <= n)
        };
        if !regions.iter().all(inside) {
            return Err(invalid("rechunk-stage: a piece reaches outside its block"));
        }
        if let Some(value) = block.fill_value() {
            let pieces = regions
                .iter()
                .map(|r| {
                    let shape: Vec<usize> = r.chunks(2).map(|p| p[1] - p[0]).collect();
                    StagedPiece::Memory(Block::filled(&shape, value))
                })
                .collect();
            return Ok(Staged {
                extent: None,
                pieces,
            }
            .into_value());
        }
        let shapes: Vec<Vec<usize>> = regions
            .iter()
            .map(|r| r.chunks(2).map(|p| p[1] - p[0]).collect())
            .collect();
        let total: usize = shapes
            .iter()
            .map(|s| s.iter().product::<usize>() * T::CODE.wire_size())
            .sum();
        let extent = extent(total as u64)?;
        let view = block.view();
        let mut pieces: Vec<StagedPiece<T>> = Vec::with_capacity(regions.len());
        let mut offset = 0u64;
        let mut scratch = Vec::new();
        for (region, shape) in regions.into_iter().zip(shapes) {
            let cut = view.slice(slices(region.chunks(2).map(|p| (p[0], p[1]))).as_slice());
            let contiguous = cut.as_standard_layout();
            let elements = contiguous.as_slice().unwrap_or(&[]);
            let bytes = match T::as_le_bytes(elements) {
                Some(bytes) => bytes,
                None => {
                    scratch.clear();
                    T::put_le(elements, &mut scratch);
                    &scratch
                }
            };
            extent
                .file()
                .write_all_at(bytes, extent.offset() + offset)
                .map_err(|e| io_error("write", bytes.len(), e))?;
            pieces.push(StagedPiece::Disk { offset, shape });
            offset += bytes.len() as u64;
        }
        Ok(Staged {
            extent: Some(Arc::new(extent)),
            pieces,
        }
        .into_value())
    }
}

/// Makes one new block from staged pieces.
///
/// Arguments: the list of staged old blocks (one per piece, in row-major
/// piece order) and the geometry: the new block's shape, then per piece
/// its index among its staged value's pieces and, per axis, where it
/// starts in the new block.
struct Gather<T> {
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for Gather<T> {
    crate::kernel::registered_methods!(GATHER);

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (Some(staged), Some(geometry)) = (inputs.first(), inputs.get(1)) else {
            return Err(invalid(
                "rechunk-gather takes the staged pieces and their geometry",
            ));
        };
        let staged = staged.as_list()?;
        let geometry = geometry.as_value()?.downcast_ref::<Vec<usize>>()?;
        // The shape, then per piece its index and one start per axis.
        let count = staged.len();
        let ndim = geometry.len().saturating_sub(count) / (count + 1);
        if ndim == 0 || ndim + count * (ndim + 1) != geometry.len() {
            return Err(invalid(
                "rechunk-gather: geometry does not match the pieces",
            ));
        }
        let shape = &geometry[..ndim];
        let mut out = ArrayD::from_elem(IxDyn(shape), T::default());
        let mut buffer = Vec::new();
        for (p, input) in staged.iter().enumerate() {
            let from = input.as_value()?.downcast_ref::<Staged<T>>()?;
            let entry = &geometry[ndim + p * (ndim + 1)..][..ndim + 1];
            let (index, starts) = (entry[0], &entry[1..]);
            let piece = from
                .pieces
                .get(index)
                .ok_or_else(|| invalid(format!("rechunk-gather: no staged piece {index}")))?;
            let piece_shape = match piece {
                StagedPiece::Memory(block) => block.shape(),
                StagedPiece::Disk { shape, .. } => shape.as_slice(),
            };
            let fits = piece_shape.len() == ndim
                && starts
                    .iter()
                    .zip(piece_shape)
                    .zip(shape)
                    .all(|((&s, &n), &len)| s.checked_add(n).is_some_and(|end| end <= len));
            if !fits {
                return Err(invalid("rechunk-gather: a piece reaches outside its block"));
            }
            let place = |piece_shape: &[usize]| {
                slices(starts.iter().zip(piece_shape).map(|(&s, &n)| (s, s + n)))
            };
            match piece {
                StagedPiece::Memory(block) => {
                    let region = place(block.shape());
                    out.slice_mut(region.as_slice()).assign(&block.view());
                }
                StagedPiece::Disk { offset, shape } => {
                    if read_in_place(from, *offset, shape, starts, &mut out)? {
                        continue;
                    }
                    from.read_into(*offset, shape, &mut buffer)?;
                    let data = ndarray::ArrayViewD::from_shape(IxDyn(shape), &buffer)
                        .map_err(|e| invalid(format!("a staged piece's shape: {e}")))?;
                    out.slice_mut(place(shape).as_slice()).assign(&data);
                }
            }
        }
        Ok(Block::Dense(out).into_value())
    }
}

/// The most buffers one `preadv` takes (Linux's `IOV_MAX`).
const IOV_MAX: usize = 1024;

/// Reads a staged piece straight into its place in `out` (one `preadv`
/// per 1024 rows of the piece), when `T`'s memory is its encoding; says
/// whether it did (`false`: the caller goes through a buffer).
fn read_in_place<T: Element>(
    from: &Staged<T>,
    offset: u64,
    shape: &[usize],
    starts: &[usize],
    out: &mut ArrayD<T>,
) -> Result<bool> {
    let Some(extent) = from.extent.as_ref() else {
        return Ok(false);
    };
    let out_shape = out.shape().to_vec();
    let Some(elements) = out.as_slice_mut() else {
        return Ok(false);
    };
    let Some(mut rest) = T::as_le_bytes_mut(elements) else {
        return Ok(false);
    };
    let size = T::CODE.wire_size();
    let ndim = shape.len();
    let run = shape[ndim - 1] * size;
    let rows: usize = shape[..ndim - 1].iter().product();
    if run == 0 || rows == 0 {
        return Ok(true);
    }
    // Row-major strides of `out`, in elements.
    let mut strides = vec![1usize; ndim];
    for axis in (0..ndim - 1).rev() {
        strides[axis] = strides[axis + 1] * out_shape[axis + 1];
    }
    // Each row of the piece is one run of `out`, at increasing offsets:
    // cut them off `out`'s bytes in order.
    let mut runs = Vec::with_capacity(rows);
    let mut cursor = 0usize;
    let mut row = vec![0usize; ndim.saturating_sub(1)];
    for _ in 0..rows {
        let start: usize = row
            .iter()
            .enumerate()
            .map(|(a, &r)| (starts[a] + r) * strides[a])
            .sum::<usize>()
            + starts[ndim - 1];
        let skip = start * size - cursor;
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(skip);
        let (this, tail) = tail.split_at_mut(run);
        runs.push(std::io::IoSliceMut::new(this));
        rest = tail;
        cursor = start * size + run;
        for axis in (0..row.len()).rev() {
            row[axis] += 1;
            if row[axis] < shape[axis] {
                break;
            }
            row[axis] = 0;
        }
    }
    let mut at = extent.offset() + offset;
    for batch in runs.chunks_mut(IOV_MAX) {
        let want: usize = batch.iter().map(|b| b.len()).sum();
        let got = rustix::io::preadv(extent.file(), batch, at)
            .map_err(|e| io_error("read back", want, e.into()))?;
        if got != want {
            return Err(invalid(format!(
                "a rechunk's staged piece ended early: {got} of {want} bytes read back"
            )));
        }
        at += want as u64;
    }
    Ok(true)
}

impl<T: Element> Array<T> {
    /// The same values cut into `target` chunks in one step, through
    /// staging files (see the module's notes).
    pub(crate) fn rechunk_staged(&self, target: Chunks) -> Array<T> {
        match self.try_rechunk_staged(target.clone()) {
            Ok(array) => array,
            Err(e) => Array::failed(e, target),
        }
    }

    fn try_rechunk_staged(&self, target: Chunks) -> Result<Array<T>> {
        let slices_of = target.as_slices().to_vec();
        let name: Arc<str> =
            token_name("rechunk", &(self.name.as_ref(), &slices_of, "staged")).into();
        let stage_name: Arc<str> =
            token_name("rechunk-stage", &(self.name.as_ref(), &slices_of)).into();
        let maps = super::old_to_new(&self.chunks, &target).map_err(Error::from)?;
        crate::size::check_chunks::<T>(&target).map_err(Error::from)?;
        let stage = stage_typed::<T>()?;
        let gather = gather_typed::<T>()?;
        // Per old block, the regions its stage task cuts, in the order the
        // new blocks (row-major) ask for them; per new block, its pieces.
        let mut regions: HashMap<Vec<usize>, Vec<usize>> = HashMap::new();
        let mut layer =
            barrow_core::graph::Layer::try_with_capacity(name.clone(), target.nblocks())?;
        for index in target.block_indices() {
            let per_axis: Vec<_> = index
                .iter()
                .enumerate()
                .map(|(a, &i)| &maps[a][i])
                .collect();
            let sizes: Vec<usize> = per_axis.iter().map(|p| p.len()).collect();
            let total: usize = sizes.iter().product();
            let mut geometry: Vec<usize> = index
                .iter()
                .enumerate()
                .map(|(a, &i)| target.axis(a)[i])
                .collect();
            let mut inputs = Vec::with_capacity(total);
            for flat in 0..total {
                let mut rest = flat;
                let mut which = vec![0; sizes.len()];
                for axis in (0..sizes.len()).rev() {
                    which[axis] = rest % sizes[axis];
                    rest /= sizes[axis];
                }
                let mut old = Vec::with_capacity(sizes.len());
                let mut cut = Vec::with_capacity(2 * sizes.len());
                let mut starts: Vec<usize> = Vec::with_capacity(sizes.len());
                for (axis, &w) in which.iter().enumerate() {
                    let (o, range) = &per_axis[axis][w];
                    old.push(*o);
                    cut.extend([range.start, range.end]);
                    starts.push(per_axis[axis][..w].iter().map(|(_, r)| r.len()).sum());
                }
                let cuts = regions.entry(old.clone()).or_default();
                geometry.push(cuts.len() / cut.len());
                geometry.extend(starts);
                cuts.extend(cut);
                inputs.push(block_key(&stage_name, &old));
            }
            let task = Task::call(&gather, [keys(inputs), lit(geometry)]);
            layer.insert(block_key(&name, &index), task)?;
        }
        let mut stage_layer =
            barrow_core::graph::Layer::try_with_capacity(stage_name.clone(), regions.len())?;
        let mut olds: Vec<_> = regions.into_iter().collect();
        olds.sort_unstable();
        for (old, cut) in olds {
            let task = Task::call(&stage, [key(block_key(&self.name, &old)), lit(cut)]);
            stage_layer.insert(block_key(&stage_name, &old), task)?;
        }
        let mut staged_graph = self.graph.clone();
        staged_graph.add_layer(Arc::new(stage_layer))?;
        Ok(Array::from_layer(
            name,
            target,
            layer,
            &[&staged_graph],
            [self.problem.clone()],
        ))
    }
}
