//! Dask's `auto_chunks`: choosing block sizes for "auto" axes.
//!
//! The arithmetic deliberately mirrors Dask's floating-point steps (the same
//! divisions, powers, truncations and iteration order) so that the same inputs
//! give the same blocks as Dask does.

use std::collections::HashMap;

use super::{AxisChunks, Chunks, blockdims_axis, validate_axis_blocks, wide_sum};
use crate::error::ArrayError;

/// Bound on the refinement passes of the previous-chunks branch. Dask loops until
/// its multiplier stops changing, which takes a handful of passes; the bound only
/// guards against a float oscillation that Dask would spin on forever.
const MAX_REFINEMENT_PASSES: usize = 1000;

/// One axis while "auto" axes are being resolved.
#[derive(Clone, Debug, PartialEq)]
enum Slot {
    Auto,
    Size(usize),
    Blocks(Vec<usize>),
}

/// Replaces each "auto" axis of `chunks` with a block size or explicit blocks so
/// that a block holds about `limit_bytes` (Dask's `auto_chunks`).
///
/// Without `previous`, the "auto" axes share the byte budget equally (roughly
/// cubic blocks) and axes shorter than their share become one block. With
/// `previous` (the chunks the data has now, or one block size per axis as storage
/// formats give it), the blocks grow or shrink from those: whole previous blocks
/// are merged while they fit within `tolerance` times the ideal size, and sizes
/// are rounded to the most common previous block size.
///
/// The result has one entry per axis, each [`AxisChunks::Size`] or
/// [`AxisChunks::Blocks`]; axes that were not "auto" come back as given ([`AxisChunks::Full`]
/// as the axis' length). [`AxisChunks::Bytes`] axes are "auto" with that target. When
/// the array holds no element, every "auto" axis becomes one block.
///
/// # Errors
/// [`ArrayError::DimensionMismatch`] and the errors about invalid entries that
/// [`super::normalize_chunks`] reports; [`ArrayError::ZeroItemsize`];
/// [`ArrayError::AutoLimitUnreachable`] when one element along each "auto" axis
/// already exceeds the target; [`ArrayError::PreviousDimensionMismatch`] and
/// [`ArrayError::PreviousSumMismatch`] for a `previous` that does not fit `shape`.
pub fn auto_chunks(
    chunks: &[AxisChunks],
    shape: &[usize],
    itemsize: usize,
    limit_bytes: u64,
    tolerance: f64,
    previous: Option<&Chunks>,
) -> Result<Vec<AxisChunks>, ArrayError> {
    if chunks.len() != shape.len() {
        return Err(ArrayError::DimensionMismatch {
            chunks: chunks.len(),
            shape: shape.len(),
        });
    }
    let mut byte_target: Option<u64> = None;
    let mut slots = Vec::with_capacity(chunks.len());
    for (axis, (request, &length)) in chunks.iter().zip(shape).enumerate() {
        slots.push(match request {
            AxisChunks::Auto => Slot::Auto,
            AxisChunks::Bytes(bytes) => {
                match byte_target {
                    Some(first) if first != *bytes => {
                        return Err(ArrayError::ConflictingByteTargets {
                            first,
                            second: *bytes,
                        });
                    }
                    _ => byte_target = Some(*bytes),
                }
                Slot::Auto
            }
            AxisChunks::Full => Slot::Size(length),
            AxisChunks::Size(size) => {
                // Fails early on 0 and on absurdly many blocks; the blocks are rebuilt later.
                blockdims_axis(axis, length, *size)?;
                Slot::Size(*size)
            }
            AxisChunks::Blocks(blocks) => {
                validate_axis_blocks(axis, blocks, length)?;
                Slot::Blocks(blocks.clone())
            }
            AxisChunks::Invalid(value) => {
                return Err(ArrayError::InvalidChunkValue {
                    value: *value,
                    axis: Some(axis),
                });
            }
        });
    }
    let limit_bytes = byte_target.unwrap_or(limit_bytes);

    if slots.contains(&Slot::Auto) {
        if shape.contains(&0) {
            // Every block of an empty array is empty, so no size is better than the axis.
            for (slot, &length) in slots.iter_mut().zip(shape) {
                if *slot == Slot::Auto {
                    *slot = Slot::Blocks(vec![length]);
                }
            }
        } else {
            check_reachable(&slots, shape, itemsize, limit_bytes)?;
            // Dask raises a limit of 0 to 1 byte.
            let limit = limit_bytes.max(1) as f64;
            match previous {
                Some(previous) => {
                    let previous = expand_previous(previous, shape)?;
                    auto_from_previous(&mut slots, shape, itemsize, limit, tolerance, &previous);
                }
                None => auto_without_previous(&mut slots, shape, itemsize, limit),
            }
        }
    }

    Ok(slots
        .into_iter()
        .zip(shape)
        .map(|(slot, &length)| match slot {
            Slot::Size(size) => AxisChunks::Size(size),
            Slot::Blocks(blocks) => AxisChunks::Blocks(blocks),
            // Both branches resolve every auto axis; one block is the safe fallback.
            Slot::Auto => AxisChunks::Blocks(vec![length]),
        })
        .collect())
}

/// The largest block along a fixed axis. Dask multiplies in the raw chunk size even
/// when it exceeds the axis; the real block is never longer than the axis.
fn fixed_largest(slot: &Slot, length: usize) -> Option<usize> {
    match slot {
        Slot::Auto => None,
        Slot::Size(size) => Some((*size).min(length)),
        Slot::Blocks(blocks) => Some(blocks.iter().copied().max().unwrap_or(0)),
    }
}

fn fixed_elements(slots: &[Slot], shape: &[usize]) -> u128 {
    slots
        .iter()
        .zip(shape)
        .filter_map(|(slot, &length)| fixed_largest(slot, length))
        .fold(1u128, |acc, b| acc.saturating_mul(b as u128))
}

fn check_reachable(
    slots: &[Slot],
    shape: &[usize],
    itemsize: usize,
    limit_bytes: u64,
) -> Result<(), ArrayError> {
    if itemsize == 0 {
        return Err(ArrayError::ZeroItemsize);
    }
    let fixed = fixed_elements(slots, shape);
    if fixed.saturating_mul(itemsize as u128) > u128::from(limit_bytes.max(1)) {
        return Err(ArrayError::AutoLimitUnreachable {
            limit: limit_bytes,
            itemsize,
            fixed_elements: fixed,
        });
    }
    Ok(())
}

/// Dask's handling of `previous_chunks`: an axis given as one block is a block size
/// to repeat over the axis (storage formats report chunk shapes that way).
fn expand_previous(previous: &Chunks, shape: &[usize]) -> Result<Vec<Vec<usize>>, ArrayError> {
    if previous.ndim() != shape.len() {
        return Err(ArrayError::PreviousDimensionMismatch {
            previous: previous.ndim(),
            shape: shape.len(),
        });
    }
    let mismatch =
        |axis: usize, blocks: &[usize], expected: usize| ArrayError::PreviousSumMismatch {
            axis,
            blocks: blocks.to_vec(),
            sum: wide_sum(blocks),
            expected,
        };
    previous
        .as_slices()
        .iter()
        .zip(shape)
        .enumerate()
        .map(|(axis, (blocks, &length))| match blocks.as_slice() {
            [size] => match blockdims_axis(axis, length, *size) {
                Err(ArrayError::ZeroChunkSize { .. }) => Err(mismatch(axis, blocks, length)),
                other => other,
            },
            _ if wide_sum(blocks) == length as u128 && !blocks.is_empty() => Ok(blocks.clone()),
            _ => Err(mismatch(axis, blocks, length)),
        })
        .collect()
}

/// Dask's `round_to`: below the axis length keep the (truncated) size; above it,
/// round down to a multiple of the length.
fn round_to(c: f64, s: usize) -> f64 {
    let s_f = s as f64;
    if c <= s_f || s == 0 {
        c.trunc().max(1.0)
    } else {
        py_floordiv(c, s_f) * s_f
    }
}

/// Python's float `//`, which differs from `(a / b).floor()` when the quotient
/// rounds up to an integer.
fn py_floordiv(a: f64, b: f64) -> f64 {
    let rem = a % b;
    let mut div = (a - rem) / b;
    if rem != 0.0 && ((b < 0.0) != (rem < 0.0)) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0_f64.copysign(a / b);
    }
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

fn auto_without_previous(slots: &mut [Slot], shape: &[usize], itemsize: usize, limit: f64) {
    // Each pass either finishes or turns at least one auto axis into a whole axis.
    loop {
        let autos: Vec<usize> = (0..slots.len())
            .filter(|&i| slots.get(i) == Some(&Slot::Auto))
            .collect();
        if autos.is_empty() {
            return;
        }
        let largest = fixed_elements(slots, shape) as f64;
        let size = (limit / itemsize as f64 / largest).powf(1.0 / autos.len() as f64);
        let mut any_small = false;
        for &i in &autos {
            if let (Some(slot), Some(&length)) = (slots.get_mut(i), shape.get(i))
                && (length as f64) < size
            {
                *slot = Slot::Blocks(vec![length]);
                any_small = true;
            }
        }
        if any_small {
            continue;
        }
        for &i in &autos {
            if let (Some(slot), Some(&length)) = (slots.get_mut(i), shape.get(i)) {
                *slot = Slot::Size(round_to(size, length) as usize);
            }
        }
        return;
    }
}

/// A value of Dask's `median_chunks`/`result` dictionaries.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Number(f64),
    Blocks(Vec<usize>),
}

/// An insertion-ordered map with Python dict semantics: assigning to an existing
/// key keeps its place, a new (or deleted and re-added) key goes last. The order
/// fixes the order of a floating-point product, so it is kept exact.
#[derive(Clone, Debug, Default)]
struct OrderedMap(Vec<(usize, Value)>);

impl OrderedMap {
    fn get(&self, key: usize) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn insert(&mut self, key: usize, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    fn remove(&mut self, key: usize) {
        self.0.retain(|(k, _)| *k != key);
    }
}

/// Dask keeps `result` and `median_chunks` as one dict when it shrinks chunks and
/// relies on that aliasing; this reproduces both layouts.
struct Maps {
    median: OrderedMap,
    result: Option<OrderedMap>,
}

impl Maps {
    fn result_mut(&mut self) -> &mut OrderedMap {
        match &mut self.result {
            Some(result) => result,
            None => &mut self.median,
        }
    }

    fn into_result(self) -> OrderedMap {
        self.result.unwrap_or(self.median)
    }
}

fn compute_multiplier(limit: f64, itemsize: usize, largest_block: u128, map: &OrderedMap) -> f64 {
    let product = map
        .0
        .iter()
        .filter_map(|(_, v)| match v {
            Value::Number(x) if *x != 0.0 => Some(*x),
            Value::Blocks(b) if !b.is_empty() => b.iter().copied().max().map(|m| m as f64),
            _ => None,
        })
        .fold(1.0, |acc, x| acc * x);
    limit / itemsize as f64 / largest_block as f64 / product
}

fn median(values: &[usize]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    match (
        sorted.len() % 2,
        sorted.get(mid),
        mid.checked_sub(1).and_then(|m| sorted.get(m)),
    ) {
        (1, Some(&m), _) => m as f64,
        (0, Some(&hi), Some(&lo)) => (lo as f64 + hi as f64) / 2.0,
        _ => 0.0,
    }
}

/// The most frequent block size, the first seen winning ties, and its count.
fn mode(values: &[usize]) -> Option<(usize, usize)> {
    let mut counts: HashMap<usize, (usize, usize)> = HashMap::new();
    for (position, &v) in values.iter().enumerate() {
        counts.entry(v).or_insert((0, position)).0 += 1;
    }
    counts
        .into_iter()
        .max_by(|(_, (count_a, first_a)), (_, (count_b, first_b))| {
            count_a.cmp(count_b).then(first_b.cmp(first_a))
        })
        .map(|(value, (count, _))| (value, count))
}

fn auto_from_previous(
    slots: &mut [Slot],
    shape: &[usize],
    itemsize: usize,
    limit: f64,
    tolerance: f64,
    previous: &[Vec<usize>],
) {
    let mut autos: Vec<usize> = (0..slots.len())
        .filter(|&i| slots.get(i) == Some(&Slot::Auto))
        .collect();
    let mut largest_block = fixed_elements(slots, shape);
    let empty: &[usize] = &[];
    let prev = |axis: usize| previous.get(axis).map_or(empty, Vec::as_slice);
    let length = |axis: usize| shape.get(axis).copied().unwrap_or(0);

    let mut median_chunks = OrderedMap::default();
    for &a in &autos {
        median_chunks.insert(a, Value::Number(median(prev(a))));
    }
    let mut multiplier = compute_multiplier(limit, itemsize, largest_block, &median_chunks);
    let reduce_case = multiplier < 1.0;
    let mut maps = Maps {
        median: median_chunks,
        result: if reduce_case {
            None
        } else {
            Some(OrderedMap::default())
        },
    };

    // The size previous blocks are rounded to: their mode when it is common enough.
    let ideal_shape: Vec<usize> = (0..shape.len())
        .map(|i| match mode(prev(i)) {
            Some((m, count)) if m > 1 && count as f64 >= prev(i).len() as f64 / 2.0 => m,
            _ => length(i),
        })
        .collect();

    let mut multiplier_remaining = true;
    let mut passes = 0;
    while multiplier_remaining && passes < MAX_REFINEMENT_PASSES {
        passes += 1;
        let share = 1.0 / autos.len() as f64;
        multiplier_remaining = false;
        for a in autos.clone() {
            let this_multiplier = multiplier.powf(share);
            let Some(Value::Number(median_a)) = maps.median.get(a).cloned() else {
                continue;
            };
            let proposed = median_a * this_multiplier;
            let max_chunk_size = proposed * tolerance.powf(share);
            let length_a = length(a);
            let largest_prev = prev(a).iter().copied().max().unwrap_or(0);
            if proposed > length_a as f64 {
                autos.retain(|&x| x != a);
                maps.median.remove(a);
                multiplier_remaining = true;
                largest_block = largest_block.saturating_mul(length_a as u128);
                maps.result_mut().insert(a, Value::Blocks(vec![length_a]));
            } else if reduce_case || largest_prev as f64 > max_chunk_size {
                let ideal = ideal_shape.get(a).copied().unwrap_or(length_a);
                maps.result_mut()
                    .insert(a, Value::Number(round_to(proposed, ideal)));
                if proposed < 1.0 {
                    multiplier_remaining = true;
                    autos.retain(|&x| x != a);
                }
            } else {
                let mut merged = Vec::new();
                let mut current = 0usize;
                for &c in prev(a) {
                    if c.saturating_add(current) as f64 <= proposed {
                        current += c;
                    } else {
                        if current > 0 {
                            merged.push(current);
                        }
                        current = c;
                    }
                }
                if current > 0 {
                    merged.push(current);
                }
                maps.result_mut().insert(a, Value::Blocks(merged));
            }
        }
        if multiplier_remaining || reduce_case {
            let last_multiplier = multiplier;
            multiplier = compute_multiplier(limit, itemsize, largest_block, &maps.median);
            if multiplier != last_multiplier {
                multiplier_remaining = true;
            }
        }
    }

    for (axis, value) in maps.into_result().0 {
        let length_a = length(axis);
        if let Some(slot) = slots.get_mut(axis) {
            *slot = match value {
                Value::Number(x) => Slot::Size((x as usize).max(1)),
                Value::Blocks(b) if b.is_empty() => Slot::Blocks(vec![length_a]),
                Value::Blocks(b) => Slot::Blocks(b),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_prefers_the_first_seen_on_ties() {
        assert_eq!(mode(&[1264, 491]), Some((1264, 1)));
        assert_eq!(mode(&[3, 5, 5, 3]), Some((3, 2)));
        assert_eq!(mode(&[3, 5, 5]), Some((5, 2)));
        assert_eq!(mode(&[]), None);
    }

    #[test]
    fn medians_like_numpy() {
        assert_eq!(median(&[1264, 491]), 877.5);
        assert_eq!(median(&[3, 1, 2]), 2.0);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn round_to_and_floor_division_like_python() {
        assert_eq!(round_to(7.9, 10), 7.0);
        assert_eq!(round_to(0.2, 10), 1.0);
        assert_eq!(round_to(25.0, 10), 20.0);
        assert_eq!(py_floordiv(7.0, 2.0), 3.0);
        // Python: 1 // 0.1 == 9.0, although 1 / 0.1 == 10.0.
        assert_eq!(py_floordiv(1.0, 0.1), 9.0);
    }
}
