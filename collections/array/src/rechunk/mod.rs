//! Rechunking arithmetic: which pieces of old blocks make each new block, and the
//! plan of intermediate chunkings that keeps the task graph small (Dask's
//! `dask/array/rechunk.py`).

mod arena;
mod plan;
pub(crate) mod staged;
mod tasks;

pub(crate) use tasks::common_refinement;
#[cfg(test)]
mod tests;

pub use plan::plan_rechunk;
#[cfg(test)]
pub(crate) use plan::{divide_to_width, merge_to_number, plan_rechunk_raw};

use std::ops::Range;

use crate::chunks::{AxisChunks, ChunkSpec, Chunks, RowMajor, normalize_chunks, wide_sum};
use crate::error::ArrayError;

/// Dask's default `array.rechunk.threshold`: the factor of graph growth under which
/// no intermediate chunking is planned.
pub const DEFAULT_RECHUNK_THRESHOLD: f64 = 4.0;

/// One piece of an old block: its index along the axis, and the range within it.
pub type Piece = (usize, Range<usize>);

/// Resolves a rechunk target against the chunks the array has now (the target
/// handling of Dask's `rechunk`).
///
/// `target` has one entry per axis; `None` keeps that axis' old blocks (Dask's
/// dict form, where unmentioned axes keep theirs, and its `None` entries). "auto"
/// axes follow the old chunks as [`crate::chunks::auto_chunks`] describes. An array
/// with no element along any axis keeps its chunks, as in Dask. To give one
/// request for all axes (an integer, "auto", a byte size), call
/// [`normalize_chunks`] with `previous = Some(old)`.
///
/// # Errors
/// [`ArrayError::DimensionMismatch`] when `target` does not have one entry per
/// axis, and whatever [`normalize_chunks`] reports.
pub fn normalize_rechunk_target(
    target: &[Option<AxisChunks>],
    old: &Chunks,
    itemsize: usize,
    limit_bytes: u64,
    tolerance: f64,
) -> Result<Chunks, ArrayError> {
    if target.len() != old.ndim() {
        return Err(ArrayError::DimensionMismatch {
            chunks: target.len(),
            shape: old.ndim(),
        });
    }
    let shape = old.shape();
    if !shape.is_empty() && shape.iter().all(|&s| s == 0) {
        return Ok(old.clone());
    }
    let axes = target
        .iter()
        .zip(old.as_slices())
        .map(|(request, blocks)| {
            request
                .clone()
                .unwrap_or_else(|| AxisChunks::Blocks(blocks.clone()))
        })
        .collect();
    normalize_chunks(
        &ChunkSpec::Axes(axes),
        &shape,
        itemsize,
        limit_bytes,
        tolerance,
        Some(old),
    )
}

/// For each axis and each new block, the pieces of old blocks it is made of, in
/// order: `(old block index, start..end within that old block)` (Dask's `old_to_new`).
///
/// Empty blocks are handled as in Dask: an empty new block is one empty piece of
/// the old block where it sits.
///
/// # Errors
/// [`ArrayError::RechunkDimensionMismatch`], [`ArrayError::RechunkShapeMismatch`],
/// or [`ArrayError::NoBlocks`] for an axis without blocks.
pub fn old_to_new(old: &Chunks, new: &Chunks) -> Result<Vec<Vec<Vec<Piece>>>, ArrayError> {
    check_compatible(old, new)?;
    Ok(old
        .as_slices()
        .iter()
        .zip(new.as_slices())
        .map(|(o, n)| {
            intersect_1d(&breakpoints(
                &cumulative(o, Label::Old),
                &cumulative(n, Label::New),
            ))
        })
        .collect())
}

/// The pieces of every new block, new blocks in row-major order (Dask's
/// `intersect_chunks`). Each item lists, in row-major order over the axes, the old
/// blocks the new block is cut from; each of those is one [`Piece`] per axis.
///
/// # Errors
/// As [`old_to_new`].
pub fn intersect_chunks(
    old: &Chunks,
    new: &Chunks,
) -> Result<impl Iterator<Item = Vec<Vec<Piece>>> + use<>, ArrayError> {
    let per_axis = old_to_new(old, new)?;
    let counts = per_axis.iter().map(Vec::len).collect();
    Ok(RowMajor::new(counts).map(move |index| {
        let lists: Vec<&Vec<Piece>> = index
            .iter()
            .zip(&per_axis)
            .filter_map(|(&i, axis)| axis.get(i))
            .collect();
        RowMajor::new(lists.iter().map(|l| l.len()).collect())
            .map(|inner| {
                inner
                    .iter()
                    .zip(&lists)
                    .filter_map(|(&j, list)| list.get(j).cloned())
                    .collect()
            })
            .collect()
    }))
}

fn check_compatible(old: &Chunks, new: &Chunks) -> Result<(), ArrayError> {
    if old.ndim() != new.ndim() {
        return Err(ArrayError::RechunkDimensionMismatch {
            old: old.ndim(),
            new: new.ndim(),
        });
    }
    for (axis, (o, n)) in old.as_slices().iter().zip(new.as_slices()).enumerate() {
        if o.is_empty() || n.is_empty() {
            return Err(ArrayError::NoBlocks { axis });
        }
        let (old_len, new_len) = (wide_sum(o), wide_sum(n));
        if old_len != new_len {
            return Err(ArrayError::RechunkShapeMismatch {
                axis,
                old: old_len,
                new: new_len,
            });
        }
    }
    Ok(())
}

/// Whether a breakpoint ends an old or a new block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Old,
    New,
}

/// Dask's `cumdims_label` for one axis: 0 and the end of every block.
fn cumulative(blocks: &[usize], label: Label) -> Vec<(Label, u128)> {
    let mut position = 0u128;
    let mut out = Vec::with_capacity(blocks.len() + 1);
    out.push((label, position));
    for &b in blocks {
        position += b as u128;
        out.push((label, position));
    }
    out
}

/// All breakpoints by position; at equal positions `first`'s come first (the
/// stable sort Dask relies on, with old before new).
fn breakpoints(first: &[(Label, u128)], second: &[(Label, u128)]) -> Vec<(Label, u128)> {
    let mut all = first.to_vec();
    all.extend_from_slice(second);
    all.sort_by_key(|&(_, position)| position);
    all
}

fn piece(index: usize, start: u128, end: u128) -> Piece {
    // Pieces lie inside one old block, whose size is a usize.
    let to_usize = |x: u128| usize::try_from(x).unwrap_or(usize::MAX);
    (index, to_usize(start)..to_usize(end))
}

/// Dask's `_intersect_1d`: walks the breakpoints, cutting a piece between each two.
fn intersect_1d(breaks: &[(Label, u128)]) -> Vec<Vec<Piece>> {
    let old_positions: Vec<u128> = breaks
        .iter()
        .filter(|(label, _)| *label == Label::Old)
        .map(|&(_, position)| position)
        .collect();
    let last_old_index = old_positions.len().saturating_sub(2);
    let last_old_break = old_positions.last().copied().unwrap_or(0);

    let mut last_end = 0u128;
    let mut old_index = 0usize;
    let mut last_old_end = 0u128;
    let mut ret = Vec::new();
    let mut current: Vec<Piece> = Vec::new();
    for pair in breaks.windows(2) {
        let &[(last_label, last_break), (label, brk)] = pair else {
            continue;
        };
        let start = if last_label == Label::New {
            if !current.is_empty() {
                ret.push(std::mem::take(&mut current));
            }
            last_end
        } else {
            0
        };
        let end = brk - last_break + start;
        last_end = end;
        if brk == last_break {
            // An empty interval is a piece only between two new breakpoints (an
            // empty new block); at the very end it comes from the last old block.
            if label == Label::Old {
                old_index += 1;
                last_old_end = end;
            }
            if label == Label::New && last_label == Label::New {
                if brk == last_old_break {
                    current.push(piece(last_old_index, last_old_end, last_old_end));
                    continue;
                }
            } else {
                continue;
            }
        }
        current.push(piece(old_index, start, end));
        if label == Label::Old {
            old_index += 1;
            last_old_end = end;
        }
    }
    if !current.is_empty() {
        ret.push(current);
    }
    ret
}

/// Evens out the blocks of one axis, dropping a small leftover block (Dask's
/// `_balance_chunksizes`, used by `rechunk(..., balance=True)`).
///
/// Tries block sizes around the median and keeps the most even split with as many
/// blocks (one fewer when the smallest block is at most half the largest). `None`
/// when no size gives that count (Dask then warns and keeps the blocks).
pub fn balance_axis(blocks: &[usize]) -> Option<Vec<usize>> {
    let total: usize = blocks.iter().copied().fold(0, usize::saturating_add);
    if total == 0 {
        return (!blocks.is_empty()).then(|| blocks.to_vec());
    }
    let smallest = blocks.iter().copied().min()?;
    let largest = blocks.iter().copied().max()?;
    let median_len = median_trunc(blocks);
    let eps = median_len / 2;
    let mut n_chunks = blocks.len();
    if smallest as f64 <= 0.5 * largest as f64 {
        n_chunks -= 1;
    }
    // Dask tries every size in the window and keeps the first with the smallest
    // spread (largest minus smallest block). The sizes giving `n_chunks` blocks form
    // the range total/n <= size < total/(n - 1), where the spread is
    // n * size - total, growing with the size; so the answer is the smallest size
    // in both ranges, found without the scan.
    let window = ((median_len - eps).max(1), median_len.saturating_add(eps));
    let valid_low = total.div_ceil(n_chunks.max(1));
    let valid_high = match n_chunks {
        0 | 1 => usize::MAX,
        n => total.div_ceil(n - 1) - 1,
    };
    let len = window.0.max(valid_low);
    if n_chunks == 0 || len > window.1.min(valid_high) {
        return None;
    }
    let mut out = vec![len; total / len];
    if !total.is_multiple_of(len) {
        out.push(total % len);
    }
    Some(out)
}

/// Balances every axis; also returns the axes that could not be balanced (kept as
/// they were), for which Dask warns "try increasing the chunk size".
pub fn balance_chunks(chunks: &Chunks) -> (Chunks, Vec<usize>) {
    let mut unbalanced = Vec::new();
    let blocks = chunks
        .as_slices()
        .iter()
        .enumerate()
        .map(|(axis, blocks)| {
            balance_axis(blocks).unwrap_or_else(|| {
                unbalanced.push(axis);
                blocks.clone()
            })
        })
        .collect();
    (Chunks::from_vec_unchecked(blocks), unbalanced)
}

/// `np.median(...).astype(int)`.
fn median_trunc(values: &[usize]) -> usize {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    match (
        sorted.len() % 2,
        sorted.get(mid),
        mid.checked_sub(1).and_then(|m| sorted.get(m)),
    ) {
        (1, Some(&m), _) => m,
        (0, Some(&hi), Some(&lo)) => ((lo as f64 + hi as f64) / 2.0) as usize,
        _ => 0,
    }
}
