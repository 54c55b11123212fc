//! Warnings, once per kind, about chunkings that will hurt.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::array::Array;
use crate::dtype::Element;

/// Graphs with more tasks than this draw a warning.
pub const MAX_TASKS: usize = 1_000_000;

/// Chunks more than this many times `array.chunk-size` draw a warning.
const OVERSIZE_FACTOR: u64 = 10;

static TOO_MANY_TASKS: AtomicBool = AtomicBool::new(false);
static TOO_BIG_CHUNKS: AtomicBool = AtomicBool::new(false);
static UNIFY_GROWTH: AtomicBool = AtomicBool::new(false);

fn first(flag: &AtomicBool) -> bool {
    !flag.swap(true, Ordering::Relaxed)
}

/// Warns when an array has very many blocks, or blocks far past
/// `array.chunk-size`.
pub(crate) fn check_size<T: Element>(array: &Array<T>) {
    let blocks = array.chunks.nblocks();
    let tasks = array.graph.len();
    if tasks > MAX_TASKS && blocks <= MAX_TASKS && first(&TOO_MANY_TASKS) {
        tracing::warn!(
            array = %array.name,
            tasks,
            "array's graph has {tasks} tasks (more than {MAX_TASKS}): scheduling will dominate; \
             use larger chunks, e.g. .rechunk(ChunkSpec::Auto), or persist intermediate results"
        );
    }
    if blocks > MAX_TASKS && first(&TOO_MANY_TASKS) {
        tracing::warn!(
            array = %array.name,
            blocks,
            "array has {blocks} chunks (more than {MAX_TASKS} tasks per step): scheduling will \
             dominate; use larger chunks, e.g. .rechunk(ChunkSpec::Auto)"
        );
    }
    let largest: u64 = array
        .chunks
        .largest_block()
        .iter()
        .map(|&n| n as u64)
        .product::<u64>()
        .saturating_mul(T::ITEMSIZE as u64);
    if let Ok((limit, _)) = crate::create::chunk_limits()
        && largest > limit.saturating_mul(OVERSIZE_FACTOR)
        && first(&TOO_BIG_CHUNKS)
    {
        {
            tracing::warn!(
                array = %array.name,
                chunk_bytes = largest,
                "array has chunks of {largest} bytes, over {OVERSIZE_FACTOR}x array.chunk-size \
                 ({limit} bytes): every task holds one in memory; use smaller chunks, e.g. \
                 .rechunk(ChunkSpec::Auto)"
            );
        }
    }
}

/// Warns when unifying the chunks of operands multiplies the task count.
pub(crate) fn unify_growth(before: usize, after: usize) {
    if after > before.saturating_mul(10) && first(&UNIFY_GROWTH) {
        tracing::warn!(
            before,
            after,
            "operands with different chunks were unified into {after} chunks (from {before}): \
             rechunk one operand to the other's chunks first"
        );
    }
}
