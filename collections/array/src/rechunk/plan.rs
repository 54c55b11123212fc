//! Dask's rechunk planner: intermediate chunkings that keep the rechunk graph
//! small without exceeding the memory limit.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::DEFAULT_RECHUNK_THRESHOLD;
use crate::chunks::{Chunks, wide_sum};

/// Bound on the passes of [`plan_rechunk`]. Each pass of Dask's planner either stops
/// or changes the chunking; the bound guards against a cycle, which Dask would not
/// leave.
const MAX_PLAN_PASSES: usize = 1000;

/// The chunkings to go through, ending with `new`, so that the rechunk graph stays
/// small while no intermediate block exceeds `block_size_limit` bytes (Dask's
/// `plan_rechunk`).
///
/// `threshold` is the factor of graph growth under which no intermediate step is
/// added ([`DEFAULT_RECHUNK_THRESHOLD`] when `None`, non-finite or not positive).
/// The limit is raised to the largest old or new block, so 0 means "no larger than
/// those". An `itemsize` of 0 counts as 1. Chunkings with fewer than two axes, and
/// `old`/`new` that do not describe the same shape, get no intermediate.
pub fn plan_rechunk(
    old: &Chunks,
    new: &Chunks,
    itemsize: usize,
    threshold: Option<f64>,
    block_size_limit: u64,
) -> Vec<Chunks> {
    let shape = new.shape();
    let mut plan: Vec<Chunks> = plan_rechunk_raw(old, new, itemsize, threshold, block_size_limit)
        .into_iter()
        .filter(|step| valid_for(step, &shape))
        .map(Chunks::from_vec_unchecked)
        .collect();
    // `new` always ends the plan, even when the caller handed an unchecked one.
    if plan.last() != Some(new) {
        plan.push(new.clone());
    }
    plan
}

fn valid_for(blocks: &[Vec<usize>], shape: &[usize]) -> bool {
    Chunks::new(blocks.to_vec(), shape).is_ok()
}

/// [`plan_rechunk`] before its defensive filtering, so that tests see every step.
pub(crate) fn plan_rechunk_raw(
    old: &Chunks,
    new: &Chunks,
    itemsize: usize,
    threshold: Option<f64>,
    block_size_limit: u64,
) -> Vec<Vec<Vec<usize>>> {
    let threshold = match threshold {
        Some(t) if t.is_finite() && t > 0.0 => t,
        _ => DEFAULT_RECHUNK_THRESHOLD,
    };
    let old = old.as_slices();
    let new_chunks = new.as_slices();
    if new_chunks.len() <= 1
        || new_chunks.iter().any(Vec::is_empty)
        || old.iter().any(Vec::is_empty)
        || old.len() != new_chunks.len()
        || old
            .iter()
            .zip(new_chunks)
            .any(|(o, n)| wide_sum(o) != wide_sum(n))
    {
        return vec![new_chunks.to_vec()];
    }

    let limit = (block_size_limit as f64 / itemsize.max(1) as f64)
        .max(largest_block_size(old) as f64)
        .max(largest_block_size(new_chunks) as f64);
    let graph_size_threshold =
        threshold * (number_of_blocks(old) as f64 + number_of_blocks(new_chunks) as f64);

    let mut current = old.to_vec();
    let mut first_pass = true;
    let mut steps = Vec::new();
    for _ in 0..MAX_PLAN_PASSES {
        let graph_size = estimate_graph_size(&current, new_chunks);
        if (graph_size as f64) < graph_size_threshold {
            break;
        }
        let chunks = if first_pass {
            current.clone()
        } else {
            // The last merge hit the memory limit: accept a larger graph to get
            // nearer the goal and to shrink blocks for the next merge.
            find_split_rechunk(&current, new_chunks, graph_size as f64 * threshold)
        };
        let (chunks, memory_limit_hit) = find_merge_rechunk(&chunks, new_chunks, limit);
        if (chunks == current && !first_pass) || chunks == new_chunks {
            break;
        }
        if chunks != current {
            steps.push(chunks.clone());
        }
        current = chunks;
        if !memory_limit_hit {
            break;
        }
        first_pass = false;
    }
    steps.push(new_chunks.to_vec());
    steps
}

fn number_of_blocks(chunks: &[Vec<usize>]) -> u128 {
    chunks
        .iter()
        .fold(1u128, |acc, axis| acc.saturating_mul(axis.len() as u128))
}

fn largest_block_size(chunks: &[Vec<usize>]) -> u128 {
    chunks.iter().fold(1u128, |acc, axis| {
        acc.saturating_mul(axis.iter().copied().max().unwrap_or(0) as u128)
    })
}

/// Dask's `estimate_graph_size`: the blocks a rechunk cuts, without intersecting.
pub(crate) fn estimate_graph_size(old: &[Vec<usize>], new: &[Vec<usize>]) -> u128 {
    old.iter().zip(new).fold(1u128, |acc, (o, n)| {
        let crossed = if o == n {
            o.len()
        } else {
            (o.len() + n.len()).saturating_sub(1)
        };
        acc.saturating_mul(crossed as u128)
    })
}

/// Dask's `divide_to_width`: splits each block into the fewest near-equal parts no
/// wider than `max_width`.
pub(crate) fn divide_to_width(desired: &[usize], max_width: usize) -> Vec<usize> {
    let max_width = max_width.max(1);
    let mut out = Vec::new();
    for &block in desired {
        let parts = block.div_ceil(max_width);
        let mut rest = block;
        for i in 0..parts {
            let n = rest / (parts - i);
            out.push(n);
            rest -= n;
        }
    }
    out
}

/// Dask's `merge_to_number`: merges adjacent blocks, narrowest pairs first, until
/// at most `max_number` remain.
pub(crate) fn merge_to_number(desired: &[usize], max_number: usize) -> Vec<usize> {
    let max_number = max_number.max(1);
    if desired.len() <= max_number {
        return desired.to_vec();
    }
    if let [w, rest @ ..] = desired {
        let w = *w;
        if w > 0 && rest.iter().all(|&x| x == w) {
            // A regular result for a regular input.
            let total = desired.len().saturating_mul(w);
            let desired_width = total / max_number;
            let width = w * (desired_width / w);
            let adjust = (total - max_number * width) / w;
            let mut out = vec![width + w; adjust];
            out.extend(std::iter::repeat_n(width, max_number - adjust));
            return out;
        }
    }

    let mut chunks = desired.to_vec();
    let mut deleted = vec![false; chunks.len()];
    let sum_at = |chunks: &[usize], i: usize, j: usize| {
        chunks
            .get(i)
            .copied()
            .unwrap_or(0)
            .saturating_add(chunks.get(j).copied().unwrap_or(0))
    };
    let mut heap: BinaryHeap<Reverse<(usize, usize, usize)>> = (0..chunks.len() - 1)
        .map(|i| Reverse((sum_at(&chunks, i, i + 1), i, i + 1)))
        .collect();
    let mut merges = desired.len() - max_number;
    while merges > 0 {
        let Some(Reverse((width, i, mut j))) = heap.pop() else {
            break;
        };
        if deleted.get(j).copied().unwrap_or(true) {
            // The right neighbour was merged away: pair with the next live block.
            j += 1;
            while deleted.get(j).copied().unwrap_or(false) {
                j += 1;
            }
            if j < chunks.len() {
                heap.push(Reverse((sum_at(&chunks, i, j), i, j)));
            }
            continue;
        }
        if sum_at(&chunks, i, j) != width {
            heap.push(Reverse((sum_at(&chunks, i, j), i, j)));
            continue;
        }
        if let Some(d) = deleted.get_mut(i) {
            *d = true;
        }
        if let Some(c) = chunks.get_mut(j) {
            *c = width;
        }
        merges -= 1;
    }
    chunks
        .into_iter()
        .zip(deleted)
        .filter_map(|(c, d)| (!d).then_some(c))
        .collect()
}

/// Dask's `find_merge_rechunk`: adopts the new blocks along the axes where that
/// shrinks the graph most per unit of block growth, within `block_size_limit`
/// elements; returns whether the limit stopped a full adoption.
pub(crate) fn find_merge_rechunk(
    old: &[Vec<usize>],
    new: &[Vec<usize>],
    block_size_limit: f64,
) -> (Vec<Vec<usize>>, bool) {
    let widest = |axis: &Vec<usize>| axis.iter().copied().max().unwrap_or(0);
    let old_largest: Vec<usize> = old.iter().map(widest).collect();
    let new_largest: Vec<usize> = new.iter().map(widest).collect();
    let graph_size_effect: Vec<f64> = old
        .iter()
        .zip(new)
        .map(|(o, n)| n.len() as f64 / o.len() as f64)
        .collect();
    let block_size_effect: Vec<f64> = old_largest
        .iter()
        .zip(&new_largest)
        .map(|(&o, &n)| n as f64 / o.max(1) as f64)
        .collect();
    let key = |dim: usize| {
        let gse = graph_size_effect.get(dim).copied().unwrap_or(1.0);
        let mut bse = block_size_effect.get(dim).copied().unwrap_or(1.0);
        if bse == 1.0 {
            bse = 1.0 + 1e-9;
        }
        if bse > 0.0 { gse.ln() / bse.ln() } else { 0.0 }
    };
    let mut candidates: Vec<usize> = (0..old.len())
        .filter(|&d| graph_size_effect.get(d).is_some_and(|&g| g <= 1.0))
        .collect();
    // Python compares -0.0 and 0.0 as equal, so a stable sort on partial_cmp matches it.
    candidates.sort_by(|&a, &b| key(a).partial_cmp(&key(b)).unwrap_or(Ordering::Equal));

    let mut largest_block = old_largest
        .iter()
        .fold(1u128, |acc, &w| acc.saturating_mul(w as u128));
    let mut chunks = old.to_vec();
    let mut memory_limit_hit = false;
    for dim in candidates {
        let (Some(&old_w), Some(&new_w), Some(new_blocks), Some(old_blocks)) = (
            old_largest.get(dim),
            new_largest.get(dim),
            new.get(dim),
            old.get(dim),
        ) else {
            continue;
        };
        let grown = largest_block.saturating_mul(new_w as u128) / old_w.max(1) as u128;
        if grown as f64 <= block_size_limit {
            if let Some(c) = chunks.get_mut(dim) {
                c.clone_from(new_blocks);
            }
            largest_block = grown;
        } else {
            // Only part of the way: new blocks cut to the width the limit allows.
            let chunk_limit = if largest_block == 0 {
                0
            } else {
                (block_size_limit * old_w as f64 / largest_block as f64) as usize
            };
            let divided = divide_to_width(new_blocks, chunk_limit);
            if divided.len() <= old_blocks.len() {
                let widest_divided = divided.iter().copied().max().unwrap_or(0);
                if let Some(c) = chunks.get_mut(dim) {
                    *c = divided;
                }
                largest_block =
                    largest_block.saturating_mul(widest_divided as u128) / old_w.max(1) as u128;
            }
            memory_limit_hit = true;
        }
    }
    (chunks, memory_limit_hit)
}

/// Dask's `find_split_rechunk`: moves towards the new blocks along axes where they
/// are more numerous, merged down so that the graph stays within `graph_size_limit`.
pub(crate) fn find_split_rechunk(
    old: &[Vec<usize>],
    new: &[Vec<usize>],
    graph_size_limit: f64,
) -> Vec<Vec<usize>> {
    let mut chunks = old.to_vec();
    for (dim, (old_blocks, new_blocks)) in old.iter().zip(new).enumerate() {
        let graph_size = estimate_graph_size(&chunks, new);
        if graph_size as f64 > graph_size_limit {
            break;
        }
        if old_blocks.len() > new_blocks.len() {
            continue;
        }
        let max_number =
            (old_blocks.len() as f64 * graph_size_limit / graph_size.max(1) as f64) as usize;
        let merged = merge_to_number(new_blocks, max_number);
        let widest_merged = merged.iter().copied().max().unwrap_or(0);
        let widest_old = old_blocks.iter().copied().max().unwrap_or(0);
        if merged.len() >= old_blocks.len()
            && widest_merged <= widest_old
            && let Some(c) = chunks.get_mut(dim)
        {
            *c = merged;
        }
    }
    chunks
}
