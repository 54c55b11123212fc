//! Changing an array's chunks: tasks that cut old blocks and put the
//! pieces together into new ones.

use std::marker::PhantomData;
use std::ops::Range;

use barrow_core::Error;

use barrow_core::arg::{keys, lit};
use barrow_core::function::{Function, Input, encode_params};
use barrow_core::tokenize::token_name;
use barrow_core::{Func, Result, Task, Value};
use ndarray::{ArrayD, IxDyn, SliceInfoElem};

use crate::array::{Array, block_key};
use crate::block::{Block, block_ref};
use crate::chunks::{AxisChunks, ChunkSpec, Chunks};
#[cfg(feature = "ship")]
use crate::dtype::DType;
use crate::dtype::Element;
use crate::error::invalid;
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};

/// `barrow.array.rechunk`: puts pieces of old blocks together into a new
/// one; the spec is the element type.
const RECHUNK: &str = "barrow.array.rechunk";

fn rechunk_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(Assemble::<T> {
        params: encode_params(RECHUNK, &T::CODE)?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn rechunk_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(element RECHUNK, *dtype, |T| rechunk_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(RECHUNK, DType, rechunk_kernel);

/// Puts pieces of old blocks together into one new block.
///
/// Arguments: the list of old blocks (in row-major piece order) and the
/// geometry: the new block's shape, then per piece and per axis
/// (start in old block, end in old block, start in new block).
struct Assemble<T> {
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for Assemble<T> {
    crate::kernel::registered_methods!(RECHUNK);

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (Some(pieces), Some(geometry)) = (inputs.first(), inputs.get(1)) else {
            return Err(invalid(
                "rechunk-assemble takes the pieces and their geometry",
            ));
        };
        let pieces = pieces.as_list()?;
        let geometry = geometry.as_value()?.downcast_ref::<Vec<usize>>()?;
        let ndim = pieces
            .first()
            .map(|p| block_ref::<T>(p).map(|b| b.shape().len()))
            .transpose()?
            .unwrap_or(0);
        if geometry.len() != ndim + pieces.len() * ndim * 3 {
            return Err(invalid(
                "rechunk-assemble: geometry does not match the pieces",
            ));
        }
        let shape = &geometry[..ndim];
        let region = |p: usize, within: bool| -> Vec<SliceInfoElem> {
            (0..ndim)
                .map(|axis| {
                    let g = &geometry[ndim + (p * ndim + axis) * 3..][..3];
                    let (start, end) = if within {
                        (g[0], g[1])
                    } else {
                        (g[2], g[2] + g[1] - g[0])
                    };
                    SliceInfoElem::Slice {
                        start: start as isize,
                        end: Some(end as isize),
                        step: 1,
                    }
                })
                .collect()
        };
        if pieces.len() == 1 {
            let block = block_ref::<T>(&pieces[0])?;
            if let Some(v) = block.fill_value() {
                return Ok(Block::filled(shape, v).into_value());
            }
            let view = block.view();
            let cut = view.slice(region(0, true).as_slice());
            return Ok(Block::Dense(cut.to_owned()).into_value());
        }
        let mut out = ArrayD::from_elem(IxDyn(shape), T::default());
        for (p, piece) in pieces.iter().enumerate() {
            let block = block_ref::<T>(piece)?;
            let view = block.view();
            let src = view.slice(region(p, true).as_slice());
            out.slice_mut(region(p, false).as_slice()).assign(&src);
        }
        Ok(Block::Dense(out).into_value())
    }
}

impl<T: Element> Array<T> {
    /// The same values cut into `target` chunks (which must add up to the
    /// same shape), in one step: every new block is assembled from the old
    /// blocks it overlaps; a new block equal to an old one is that block.
    pub(crate) fn rechunk_direct(&self, target: Chunks) -> Array<T> {
        if target == *self.chunks {
            return self.clone();
        }
        let name: std::sync::Arc<str> = token_name(
            "rechunk",
            &(self.name.as_ref(), target.as_slices().to_vec()),
        )
        .into();
        let maps = match super::old_to_new(&self.chunks, &target) {
            Ok(maps) => maps,
            Err(e) => return self.clone().with_problem(e.into()),
        };
        let assemble = match rechunk_typed::<T>() {
            Ok(assemble) => assemble,
            Err(e) => return self.clone().with_problem(e),
        };
        let layer = Array::<T>::layer_for(&name, &target, |index| {
            let per_axis: Vec<&Vec<(usize, Range<usize>)>> = index
                .iter()
                .enumerate()
                .map(|(a, &i)| &maps[a][i])
                .collect();
            let counts: Vec<usize> = per_axis.iter().map(|p| p.len()).collect();
            let total: usize = counts.iter().product();
            // A new block that is exactly one old block is that block.
            if total == 1 {
                let whole = per_axis.iter().enumerate().all(|(axis, p)| {
                    let (old, range) = &p[0];
                    range.start == 0 && range.end == self.chunks.axis(axis)[*old]
                });
                if whole {
                    let old: Vec<usize> = per_axis.iter().map(|p| p[0].0).collect();
                    return Task::alias(block_key(&self.name, &old));
                }
            }
            let shape: Vec<usize> = index
                .iter()
                .enumerate()
                .map(|(a, &i)| target.axis(a)[i])
                .collect();
            let mut geometry = shape;
            let mut piece_keys = Vec::with_capacity(total);
            for flat in 0..total {
                let mut rest = flat;
                let mut which = vec![0; counts.len()];
                for axis in (0..counts.len()).rev() {
                    which[axis] = rest % counts[axis];
                    rest /= counts[axis];
                }
                let mut old = Vec::with_capacity(counts.len());
                for (axis, &w) in which.iter().enumerate() {
                    let (o, range) = &per_axis[axis][w];
                    let new_start: usize = per_axis[axis][..w].iter().map(|(_, r)| r.len()).sum();
                    old.push(*o);
                    geometry.extend([range.start, range.end, new_start]);
                }
                piece_keys.push(block_key(&self.name, &old));
            }
            Task::call(&assemble, [keys(piece_keys), lit(geometry)])
        });
        match layer {
            Ok(layer) => {
                Array::from_layer(name, target, layer, &[&self.graph], [self.problem.clone()])
            }
            Err(e) => self.clone().with_problem(e),
        }
    }
}

impl<T: Element> Array<T> {
    /// The same values cut into other chunks (Dask's `rechunk`). `target`
    /// is a [`ChunkSpec`]: sizes, [`AxisChunks::Full`] for whole axes,
    /// `Auto` (near `array.chunk-size`, keeping the shapes of the current
    /// chunks where it can). The change is planned as Dask plans it: when
    /// going straight to the new chunks would make each task read too many
    /// old blocks or hold more than `array.chunk-size`, it goes through
    /// intermediate chunkings. A step whose tasks would each hold more
    /// than `array.rechunk.memory-budget` (by default a quarter of the
    /// memory a computation may use) stages its pieces through files in
    /// `temporary-directory`, so that memory holds a few blocks, not the
    /// array (an all-to-all rechunk: column blocks to row blocks).
    ///
    /// ```
    /// use barrow_array::{Array, AxisChunks, ChunkSpec};
    /// # barrow_local::link();
    ///
    /// let x = Array::<f64>::ones(&[1000, 1000], 100)?;
    /// let rows = x.rechunk(ChunkSpec::Axes(vec![AxisChunks::Size(10), AxisChunks::Full]))?;
    /// assert_eq!(rows.numblocks(), [100, 1]);
    /// assert_eq!(rows.sum().compute()?, 1.0e6);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn rechunk(&self, target: impl Into<ChunkSpec>) -> Result<Array<T>> {
        let new =
            crate::create::resolve_chunks::<T>(&target.into(), &self.shape(), Some(&self.chunks))?;
        Ok(self.rechunk_to(new))
    }

    /// Rechunks the axes given as `Some`, keeping the others (Dask's
    /// `rechunk({axis: chunks})`).
    pub fn rechunk_axes(&self, target: &[Option<AxisChunks>]) -> Result<Array<T>> {
        let (limit, tolerance) = crate::create::chunk_limits()?;
        let new =
            super::normalize_rechunk_target(target, &self.chunks, T::ITEMSIZE, limit, tolerance)
                .map_err(Error::from)?;
        Ok(self.rechunk_to(new))
    }

    /// Rechunks to exactly `new`, through the intermediate chunkings
    /// [`plan_rechunk`](super::plan_rechunk) picks.
    pub(crate) fn rechunk_to(&self, new: Chunks) -> Array<T> {
        if new == *self.chunks {
            return self.clone();
        }
        let limit = crate::create::chunk_limits()
            .map_or(crate::chunks::DEFAULT_CHUNK_SIZE_BYTES, |(l, _)| l);
        let budget = match super::staged::memory_budget() {
            Ok(budget) => budget,
            Err(e) => return Array::failed(e, new),
        };
        let steps = super::plan_rechunk(&self.chunks, &new, T::ITEMSIZE, None, limit);
        let mut current = self.clone();
        for step in steps {
            // A step whose tasks would each hold more than the budget
            // stages its pieces through files instead.
            let staged = budget.is_some_and(|budget| {
                super::staged::largest_fan_in(&current.chunks, &step, T::ITEMSIZE)
                    .is_ok_and(|held| held > budget)
            });
            current = if staged {
                current.rechunk_staged(step)
            } else {
                current.rechunk_direct(step)
            };
        }
        current
    }
}

/// The common refinement of two chunkings of one axis: a block boundary
/// wherever either has one (Dask's `unify_chunks` per axis).
pub(crate) fn common_refinement(a: &[usize], b: &[usize]) -> Vec<usize> {
    let cuts = |c: &[usize]| -> Vec<usize> {
        c.iter()
            .scan(0, |acc, &x| {
                *acc += x;
                Some(*acc)
            })
            .collect()
    };
    let mut all = cuts(a);
    all.extend(cuts(b));
    all.sort_unstable();
    all.dedup();
    let mut prev = 0;
    let out: Vec<usize> = all
        .into_iter()
        .map(|c| {
            let d = c - prev;
            prev = c;
            d
        })
        .filter(|&d| d > 0)
        .collect();
    if out.is_empty() { a.to_vec() } else { out }
}
