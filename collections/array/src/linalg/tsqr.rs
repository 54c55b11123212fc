//! Dask's direct tall-and-skinny QR (`dask.array.linalg.tsqr`, after Benson,
//! Gleich and Demmel 2013) and the SVD built on it, as pure functions over
//! blocks, so that each step maps to tasks of a graph.
//!
//! The array `A` is one column of row blocks `A_0, …, A_{p-1}`, block `i` of
//! shape `[m_i, n]`, and `k_i = min(m_i, n)`:
//!
//! 1. per block ([`tsqr_step1`]): `(Q1_i, R1_i) = qr(A_i)`, `Q1_i` is
//!    `[m_i, k_i]`, `R1_i` is `[k_i, n]`;
//! 2. one task ([`tsqr_step2`]): stack the `R1_i` vertically (`K = Σ k_i`
//!    rows), `(Q2, R) = qr(stacked)`, and cut `Q2` into the pieces `Q2_i`
//!    holding the `k_i` rows that came from block `i`;
//! 3. per block ([`tsqr_step3`]): `Q_i = Q1_i · Q2_i`.
//!
//! `Q` (the blocks `Q_i` stacked) is `[m, k]` and `R` is `[k, n]` with
//! `k = min(m, n)`, the thin QR of `A`. For the SVD ([`svd_step`]):
//! `(U_r, S, Vt) = svd(R)` in one task, then per block ([`svd_u_block`])
//! `U_i = Q_i · U_r`.
//!
//! Like Dask, blocks need not be tall: a block with fewer rows than columns
//! (even zero rows) contributes `k_i = m_i` rows to the stack and the result is
//! still exact. Only a single column chunk is required
//! ([`check_tall_skinny`]). When the stack is much taller than one block,
//! Dask replaces step 2 by a recursive tsqr over groups of stacked `R1_i`;
//! [`tsqr_reduction_groups`] gives those groups with Dask's rule.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::Real;
use super::kernels::{Svd, matmul, qr, svd};
use crate::error::ArrayError;

/// A thin SVD over row blocks `(U_i blocks, S, Vt)`, as [`svd_in_memory`]
/// returns it.
pub type BlockSvd<T> = (Vec<Array2<T>>, Array1<T>, Array2<T>);

/// Checks that an array chunked as `nrows_chunks` × `ncols_chunks` can go
/// through tsqr, qr or svd: it must have exactly one chunk along its columns,
/// as Dask's `tsqr` requires ("have only one column of blocks").
///
/// Row blocks of any height are accepted, like in Dask: a block with fewer
/// rows than columns (even one with zero rows) contributes only `m_i` rows to
/// the stacked R factors and the decomposition is still exact; it only makes
/// the reduction less effective, so taller blocks are better.
///
/// # Errors
/// - [`ArrayError::NotTallSkinny`] when there is not exactly one column
///   chunk; its message shows the `.rechunk([rows, ncols])` call to make,
///   with the current largest row chunk and the number of columns.
/// - [`ArrayError::NoBlocks`] when there is no row chunk.
pub fn check_tall_skinny(nrows_chunks: &[usize], ncols_chunks: &[usize]) -> Result<(), ArrayError> {
    let row_chunk = nrows_chunks.iter().copied().max().unwrap_or(0);
    if ncols_chunks.len() != 1 {
        return Err(ArrayError::NotTallSkinny {
            col_chunks: ncols_chunks.to_vec(),
            row_chunk,
            ncols: ncols_chunks.iter().sum(),
        });
    }
    if nrows_chunks.is_empty() {
        return Err(ArrayError::NoBlocksFor {
            operation: "tsqr",
            hint: "the array has no chunk along its rows; give it at least one row block",
        });
    }
    Ok(())
}

/// Dask's plan for a recursive step 2: `None` when the stacked R factors are
/// reduced by one QR in one task (plain [`tsqr_step2`]), or the groups of
/// block indices whose `R1_i` are stacked into one block each of a new
/// tall-and-skinny array that tsqr is applied to again.
///
/// `max_rows` is the tallest row block of the original array (Dask passes it
/// down the recursion as `_max_vchunk_size`). Dask recurses when the blocks are
/// known, `max_rows >= 2 * ncols` and `ceil(p * ncols / max_rows) > 1` with
/// `p` blocks; blocks are packed in order while the stacked `k_i` fit in
/// `max_rows` rows. After the inner tsqr, `Q2_i` is the rows of the inner `Q`
/// block of `i`'s group that came from block `i`.
pub fn tsqr_reduction_groups(
    nrows_chunks: &[usize],
    ncols: usize,
    max_rows: usize,
) -> Option<Vec<Vec<usize>>> {
    if max_rows == 0 || max_rows < 2 * ncols {
        return None;
    }
    let single_task_rows = nrows_chunks.len() * ncols;
    if single_task_rows.div_ceil(max_rows) <= 1 {
        return None;
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_rows = 0;
    for (i, &m_i) in nrows_chunks.iter().enumerate() {
        let k_i = m_i.min(ncols);
        if current_rows + k_i > max_rows && !current.is_empty() {
            groups.push(std::mem::take(&mut current));
            current_rows = 0;
        }
        current.push(i);
        current_rows += k_i;
    }
    if !current.is_empty() {
        groups.push(current);
    }
    Some(groups)
}

/// Step 1, one task per row block: the thin QR of block `A_i`, returning
/// `(Q1_i, R1_i)` of shapes `[m_i, k_i]` and `[k_i, n]`, `k_i = min(m_i, n)`.
///
/// # Errors
/// Those of [`qr`].
pub fn tsqr_step1<T: Real>(block: ArrayView2<'_, T>) -> Result<(Array2<T>, Array2<T>), ArrayError> {
    qr(block)
}

/// Step 2, one task: stacks the `R1_i` of all blocks vertically, takes
/// `(Q2, R) = qr(stacked)` and returns `Q2` cut into one piece per block
/// (piece `i` has the `k_i` rows of `R1_i`, and `min(K, n)` columns) together
/// with `R` (`[min(K, n), n]`, `K = Σ k_i`).
///
/// # Errors
/// [`ArrayError::NoBlocks`] for an empty slice, and
/// [`ArrayError::ShapeMismatch`] naming block 0's and the offending block's
/// shapes when the `R1_i` do not all have the same number of columns.
pub fn tsqr_step2<T: Real>(
    r1_blocks: &[ArrayView2<'_, T>],
) -> Result<(Vec<Array2<T>>, Array2<T>), ArrayError> {
    check_same_width("stack the R factors of", r1_blocks)?;
    let stacked =
        ndarray::concatenate(Axis(0), r1_blocks).map_err(|error| ArrayError::ShapeMismatch {
            operation: "stack the R factors of",
            left: r1_blocks
                .first()
                .map(|r| r.shape().to_vec())
                .unwrap_or_default(),
            right: vec![],
            hint: error.to_string(),
        })?;
    let (q2, r) = qr(stacked.view())?;
    let mut pieces = Vec::with_capacity(r1_blocks.len());
    let mut start = 0;
    for r1 in r1_blocks {
        let end = start + r1.nrows();
        pieces.push(q2.slice(ndarray::s![start..end, ..]).to_owned());
        start = end;
    }
    Ok((pieces, r))
}

/// Step 3, one task per row block: `Q_i = Q1_i · Q2_i`, of shape
/// `[m_i, min(K, n)]`.
///
/// # Errors
/// [`ArrayError::ShapeMismatch`] naming both shapes when `Q2_i` does not have
/// as many rows as `Q1_i` has columns (the piece of another block was passed).
pub fn tsqr_step3<T: Real>(
    q1: ArrayView2<'_, T>,
    q2_piece: ArrayView2<'_, T>,
) -> Result<Array2<T>, ArrayError> {
    if q1.ncols() != q2_piece.nrows() {
        return Err(ArrayError::ShapeMismatch {
            operation: "multiply (tsqr step 3) the block factor Q1_i and the piece Q2_i of",
            left: q1.shape().to_vec(),
            right: q2_piece.shape().to_vec(),
            hint: format!(
                "Q1_i has {} columns, so its piece of Q2 must have {} rows but has {}: pass the \
                 piece that tsqr_step2 returned at the same block index",
                q1.ncols(),
                q1.ncols(),
                q2_piece.nrows()
            ),
        });
    }
    matmul(q1, q2_piece)
}

/// The SVD step, one task: `(U_r, S, Vt) = svd(R)` from tsqr's `R`. `S` and
/// `Vt` are the singular values and right singular vectors of the whole
/// array; `U_r` is then applied to each block with [`svd_u_block`]. Signs
/// follow Dask's default `svd_flip` (see [`svd`]).
///
/// # Errors
/// Those of [`svd`].
pub fn svd_step<T: Real>(r: ArrayView2<'_, T>) -> Result<Svd<T>, ArrayError> {
    svd(r)
}

/// The last SVD step, one task per row block: `U_i = Q_i · U_r`.
///
/// # Errors
/// [`ArrayError::ShapeMismatch`] naming both shapes when `U_r` does not have
/// as many rows as `Q_i` has columns.
pub fn svd_u_block<T: Real>(
    q: ArrayView2<'_, T>,
    u_r: ArrayView2<'_, T>,
) -> Result<Array2<T>, ArrayError> {
    if q.ncols() != u_r.nrows() {
        return Err(ArrayError::ShapeMismatch {
            operation: "multiply (svd) the block Q_i and U_r of",
            left: q.shape().to_vec(),
            right: u_r.shape().to_vec(),
            hint: format!(
                "U_r must have as many rows as Q_i has columns ({}); pass the U of svd_step on the \
                 R of the same tsqr",
                q.ncols()
            ),
        });
    }
    matmul(q, u_r)
}

/// Checks that the blocks are not empty and all have block 0's width.
fn check_same_width<T>(
    operation: &'static str,
    blocks: &[ArrayView2<'_, T>],
) -> Result<(), ArrayError> {
    let Some(first) = blocks.first() else {
        return Err(ArrayError::NoBlocksFor {
            operation: "tsqr",
            hint: "pass at least one row block (a block may have zero rows)",
        });
    };
    match blocks
        .iter()
        .enumerate()
        .find(|(_, b)| b.ncols() != first.ncols())
    {
        Some((i, block)) => Err(ArrayError::ShapeMismatch {
            operation,
            left: first.shape().to_vec(),
            right: block.shape().to_vec(),
            hint: format!(
                "block 0 has {} columns but block {i} has {}; all row blocks of a tall-and-skinny \
                 array have the full width, so rechunk the columns into one chunk",
                first.ncols(),
                block.ncols()
            ),
        }),
        None => Ok(()),
    }
}

/// The whole tsqr in memory, composing [`tsqr_step1`], [`tsqr_step2`] and
/// [`tsqr_step3`]: returns the blocks `Q_i` (`[m_i, k]`) and `R` (`[k, n]`),
/// `k = min(Σ m_i, n)`. The reference the task-graph version is checked
/// against.
///
/// # Errors
/// [`ArrayError::NoBlocks`] for no blocks, [`ArrayError::ShapeMismatch`] when
/// the blocks differ in width, and those of the steps.
pub fn tsqr_in_memory<T: Real>(
    blocks: &[ArrayView2<'_, T>],
) -> Result<(Vec<Array2<T>>, Array2<T>), ArrayError> {
    check_same_width("tsqr", blocks)?;
    let step1 = blocks
        .iter()
        .map(|b| tsqr_step1(b.view()))
        .collect::<Result<Vec<_>, _>>()?;
    let r1: Vec<ArrayView2<'_, T>> = step1.iter().map(|(_, r1)| r1.view()).collect();
    let (q2, r) = tsqr_step2(&r1)?;
    let q = step1
        .iter()
        .zip(&q2)
        .map(|((q1, _), q2_i)| tsqr_step3(q1.view(), q2_i.view()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((q, r))
}

/// The thin SVD in memory over row blocks: tsqr, then [`svd_step`] on `R`
/// and [`svd_u_block`] per block. Returns the blocks `U_i` (`[m_i, k]`), `S`
/// (`k` values, descending) and `Vt` (`[k, n]`), `k = min(Σ m_i, n)`.
///
/// # Errors
/// Those of [`tsqr_in_memory`] and [`svd_step`].
pub fn svd_in_memory<T: Real>(blocks: &[ArrayView2<'_, T>]) -> Result<BlockSvd<T>, ArrayError> {
    let (q, r) = tsqr_in_memory(blocks)?;
    let (u_r, s, vt) = svd_step(r.view())?;
    let u = q
        .iter()
        .map(|q_i| svd_u_block(q_i.view(), u_r.view()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((u, s, vt))
}
