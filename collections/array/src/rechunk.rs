//! Changing an array's chunks: tasks that cut old blocks and put the
//! pieces together into new ones.

use std::marker::PhantomData;
use std::ops::Range;

use barrow_core::arg::{keys, lit};
use barrow_core::function::{Function, Input};
use barrow_core::tokenize::token_name;
use barrow_core::{Func, Result, Task, Value};
use ndarray::{ArrayD, IxDyn, SliceInfoElem};

use crate::array::{Array, block_key};
use crate::block::{Block, block_ref};
use crate::chunks::Chunks;
use crate::dtype::Element;
use crate::error::invalid;

/// For one axis: for each new block, the pieces of old blocks it is made
/// of, as (old block index, range within that old block).
pub(crate) fn old_to_new_axis(old: &[usize], new: &[usize]) -> Vec<Vec<(usize, Range<usize>)>> {
    let mut old_starts = Vec::with_capacity(old.len() + 1);
    let mut acc = 0;
    for &b in old {
        old_starts.push(acc);
        acc += b;
    }
    old_starts.push(acc);
    let mut out = Vec::with_capacity(new.len());
    let mut start = 0;
    let mut i = 0;
    for &size in new {
        let end = start + size;
        let mut pieces = Vec::new();
        if size == 0 {
            // A zero-length block (a 0-length axis) reads an empty piece.
            let i0 = i.min(old.len().saturating_sub(1));
            pieces.push((i0, 0..0));
        }
        let mut pos = start;
        while pos < end && i < old.len() {
            let (os, oe) = (old_starts[i], old_starts[i + 1]);
            if oe <= pos {
                i += 1;
                continue;
            }
            let take_end = end.min(oe);
            pieces.push((i, pos - os..take_end - os));
            pos = take_end;
            if take_end == oe {
                i += 1;
            }
        }
        out.push(pieces);
        start = end;
    }
    out
}

/// Puts pieces of old blocks together into one new block.
///
/// Arguments: the list of old blocks (in row-major piece order) and the
/// geometry: the new block's shape, then per piece and per axis
/// (start in old block, end in old block, start in new block).
struct Assemble<T> {
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for Assemble<T> {
    fn name(&self) -> &str {
        "rechunk-assemble"
    }

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
        let maps: Vec<_> = (0..target.ndim())
            .map(|axis| old_to_new_axis(self.chunks.axis(axis), target.axis(axis)))
            .collect();
        let assemble = Func::from_function(Assemble::<T> {
            marker: PhantomData,
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_tile_new_blocks() {
        let m = old_to_new_axis(&[4, 4, 2], &[3, 5, 2]);
        assert_eq!(m[0], vec![(0, 0..3)]);
        assert_eq!(m[1], vec![(0, 3..4), (1, 0..4)]);
        assert_eq!(m[2], vec![(2, 0..2)]);
        assert_eq!(old_to_new_axis(&[0], &[0]), vec![vec![(0, 0..0)]]);
    }
}
