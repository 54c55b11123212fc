//! Chunkings of n-dimensional arrays and the normalization of chunk requests
//! (Dask's `normalize_chunks`, `auto_chunks` and `blockdims_from_blockshape`).

mod auto;
#[cfg(test)]
pub(crate) mod tests;

use std::fmt;

use crate::error::{ArrayError, fmt_tuple};

pub use auto::auto_chunks;

/// Dask's default byte target for one chunk (`array.chunk-size`, 128 MiB).
pub const DEFAULT_CHUNK_SIZE_BYTES: u64 = 128 * 1024 * 1024;

/// Dask's default `array.chunk-size-tolerance`: how far (as a factor) "auto" chunks
/// that follow previous chunks may exceed the ideal size before those chunks are split.
pub const DEFAULT_CHUNK_SIZE_TOLERANCE: f64 = 1.25;

/// The most blocks one axis may be split into by a chunk *size*.
///
/// A vector of block sizes this long already takes 512 MiB; beyond it a typo such
/// as chunk size 1 on a huge axis would exhaust memory instead of failing.
pub const MAX_BLOCKS_PER_AXIS: usize = 1 << 26;

/// Block sizes along each axis: Dask's tuple of tuples, the canonical form.
///
/// Built by [`Chunks::new`] (or [`normalize_chunks`]) the block sizes of each axis add
/// up to that axis' length and are positive, except that an axis of length 0 is
/// the single empty block `(0,)`. [`Chunks::from_vec_unchecked`] skips those checks;
/// every method here stays panic-free on such values.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Chunks(Vec<Vec<usize>>);

impl Chunks {
    /// Checks `blocks` against `shape` and wraps them.
    ///
    /// # Errors
    /// [`ArrayError::DimensionMismatch`], [`ArrayError::NoBlocks`],
    /// [`ArrayError::SumMismatch`], [`ArrayError::ZeroBlock`] or
    /// [`ArrayError::SplitEmptyAxis`] when the blocks do not tile the shape.
    pub fn new(blocks: Vec<Vec<usize>>, shape: &[usize]) -> Result<Chunks, ArrayError> {
        if blocks.len() != shape.len() {
            return Err(ArrayError::DimensionMismatch {
                chunks: blocks.len(),
                shape: shape.len(),
            });
        }
        for (axis, (axis_blocks, &length)) in blocks.iter().zip(shape).enumerate() {
            validate_axis_blocks(axis, axis_blocks, length)?;
        }
        Ok(Chunks(blocks))
    }

    /// Wraps block sizes without checking them, for callers that computed them.
    pub fn from_vec_unchecked(blocks: Vec<Vec<usize>>) -> Chunks {
        Chunks(blocks)
    }

    /// The block sizes, one vector per axis.
    pub fn into_inner(self) -> Vec<Vec<usize>> {
        self.0
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.0.len()
    }

    /// Length of each axis: the sum of its blocks (saturating).
    pub fn shape(&self) -> Vec<usize> {
        self.0.iter().map(|axis| saturating_sum(axis)).collect()
    }

    /// The block sizes along `axis`; empty when there is no such axis.
    pub fn axis(&self, axis: usize) -> &[usize] {
        self.0.get(axis).map_or(&[], Vec::as_slice)
    }

    /// The block sizes of all axes.
    pub fn as_slices(&self) -> &[Vec<usize>] {
        &self.0
    }

    /// Number of blocks along each axis.
    pub fn numblocks(&self) -> Vec<usize> {
        self.0.iter().map(Vec::len).collect()
    }

    /// Total number of blocks: the product of [`Chunks::numblocks`] (1 for a 0-d array).
    pub fn nblocks(&self) -> usize {
        self.0
            .iter()
            .fold(1usize, |acc, axis| acc.saturating_mul(axis.len()))
    }

    /// Where each block along `axis` starts, followed by the axis' length, so
    /// block `i` spans `offsets[i]..offsets[i + 1]`; empty when there is no such axis.
    pub fn offsets(&self, axis: usize) -> Vec<usize> {
        let Some(blocks) = self.0.get(axis) else {
            return Vec::new();
        };
        let mut offsets = Vec::with_capacity(blocks.len() + 1);
        let mut position = 0usize;
        offsets.push(position);
        for &size in blocks {
            position = position.saturating_add(size);
            offsets.push(position);
        }
        offsets
    }

    /// Shape of the block at `index` (one block index per axis), if it exists.
    pub fn block_shape(&self, index: &[usize]) -> Option<Vec<usize>> {
        if index.len() != self.0.len() {
            return None;
        }
        self.0
            .iter()
            .zip(index)
            .map(|(blocks, &i)| blocks.get(i).copied())
            .collect()
    }

    /// Position of the first element of the block at `index`, if the block exists.
    pub fn block_start(&self, index: &[usize]) -> Option<Vec<usize>> {
        if index.len() != self.0.len() {
            return None;
        }
        self.0
            .iter()
            .zip(index)
            .map(|(blocks, &i)| {
                blocks
                    .get(..i)
                    .filter(|_| i < blocks.len())
                    .map(saturating_sum)
            })
            .collect()
    }

    /// The largest block size along each axis (0 for an axis without blocks); their
    /// product bounds the elements of any one block.
    pub fn largest_block(&self) -> Vec<usize> {
        self.0
            .iter()
            .map(|axis| axis.iter().copied().max().unwrap_or(0))
            .collect()
    }

    /// Every block index, in row-major order (the last axis varies fastest). A 0-d
    /// chunking has one block, whose index is empty.
    pub fn block_indices(&self) -> impl Iterator<Item = Vec<usize>> + use<> {
        RowMajor::new(self.numblocks())
    }
}

/// Prints like Dask prints chunks: `((1000, 1000), (1000,))`, `((10,),)`, `()`.
impl fmt::Display for Chunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let axes: Vec<String> = self.0.iter().map(|axis| fmt_tuple(axis)).collect();
        match axes.as_slice() {
            [only] => write!(f, "({only},)"),
            _ => write!(f, "({})", axes.join(", ")),
        }
    }
}

impl From<Chunks> for Vec<Vec<usize>> {
    fn from(chunks: Chunks) -> Self {
        chunks.0
    }
}

/// One axis of a chunk request.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisChunks {
    /// Chosen to reach the byte target (Dask's `"auto"`).
    Auto,
    /// One block spanning the axis (Dask's `-1` or `None`).
    Full,
    /// Blocks of this size, the last one possibly smaller. 0 is accepted only on an
    /// axis of length 0.
    Size(usize),
    /// Explicit block sizes.
    Blocks(Vec<usize>),
    /// "auto" with this byte target (Dask's `"64MiB"` given for one axis). It
    /// replaces the `limit_bytes` argument; all such axes must agree.
    Bytes(u64),
    /// A negative value other than -1 given as an integer; kept so that the
    /// conversion from `i64` cannot fail and [`normalize_chunks`] can report the
    /// axis. Always rejected.
    Invalid(i64),
}

impl From<usize> for AxisChunks {
    fn from(size: usize) -> Self {
        AxisChunks::Size(size)
    }
}

/// `-1` is [`AxisChunks::Full`], other negative values [`AxisChunks::Invalid`].
impl From<i64> for AxisChunks {
    fn from(value: i64) -> Self {
        match value {
            -1 => AxisChunks::Full,
            v => usize::try_from(v).map_or(AxisChunks::Invalid(v), AxisChunks::Size),
        }
    }
}

impl From<Vec<usize>> for AxisChunks {
    fn from(blocks: Vec<usize>) -> Self {
        AxisChunks::Blocks(blocks)
    }
}

impl From<&[usize]> for AxisChunks {
    fn from(blocks: &[usize]) -> Self {
        AxisChunks::Blocks(blocks.to_vec())
    }
}

/// What a user may pass as chunks (Dask's `chunks=` argument).
///
/// Conversions exist from the forms Dask accepts: an integer for every axis, one
/// integer per axis (`[usize; N]`, `[i64; N]`, `Vec<usize>`, `&[usize]`), per-axis
/// requests, explicit blocks (`Vec<Vec<usize>>`, [`Chunks`]). Integer conversions
/// never fail: `-1` means the whole axis, and any other negative value becomes an
/// `Invalid` entry that [`normalize_chunks`] rejects with an error naming it, so
/// that one `?` at the normalization reports every mistake.
///
/// As in Dask, several plain sizes given for a 1-d shape are read as its blocks:
/// `[3, 2]` on shape `(5,)` means the blocks `(3, 2)`.
#[derive(Clone, Debug, PartialEq)]
pub enum ChunkSpec {
    /// "auto" for every axis.
    Auto,
    /// "auto" with this byte target for every axis (Dask's `"64MiB"`). It replaces
    /// the `limit_bytes` argument.
    Bytes(u64),
    /// One block size for every axis.
    Size(usize),
    /// One request per axis.
    Axes(Vec<AxisChunks>),
    /// One block per axis (Dask's `-1`).
    Full,
    /// A negative integer other than -1 given for every axis; always rejected.
    Invalid(i64),
    /// Text that is neither `"auto"` nor a byte size; always rejected.
    Unparsed(String),
}

impl From<usize> for ChunkSpec {
    fn from(size: usize) -> Self {
        ChunkSpec::Size(size)
    }
}

/// `-1` is [`ChunkSpec::Full`], other negative values [`ChunkSpec::Invalid`].
impl From<i64> for ChunkSpec {
    fn from(value: i64) -> Self {
        match value {
            -1 => ChunkSpec::Full,
            v => usize::try_from(v).map_or(ChunkSpec::Invalid(v), ChunkSpec::Size),
        }
    }
}

/// Plain integer literals (`1000`, `-1`) are `i32`s.
impl From<i32> for ChunkSpec {
    fn from(value: i32) -> Self {
        ChunkSpec::from(i64::from(value))
    }
}

impl<const N: usize> From<[i32; N]> for ChunkSpec {
    fn from(values: [i32; N]) -> Self {
        ChunkSpec::Axes(
            values
                .into_iter()
                .map(|v| AxisChunks::from(i64::from(v)))
                .collect(),
        )
    }
}

/// `"auto"`, or a byte size such as `"64MiB"` (auto chunks near that size);
/// anything else is kept as invalid and rejected, with the text, when the
/// chunks are normalized.
impl From<&str> for ChunkSpec {
    fn from(text: &str) -> Self {
        if text.trim().eq_ignore_ascii_case("auto") {
            return ChunkSpec::Auto;
        }
        match text.parse::<barrow_core::config::ByteSize>() {
            Ok(size) => ChunkSpec::Bytes(size.as_u64()),
            Err(_) => ChunkSpec::Unparsed(text.to_string()),
        }
    }
}

impl<const N: usize> From<[usize; N]> for ChunkSpec {
    fn from(sizes: [usize; N]) -> Self {
        ChunkSpec::Axes(sizes.into_iter().map(AxisChunks::Size).collect())
    }
}

impl<const N: usize> From<[i64; N]> for ChunkSpec {
    fn from(values: [i64; N]) -> Self {
        ChunkSpec::Axes(values.into_iter().map(AxisChunks::from).collect())
    }
}

impl From<Vec<usize>> for ChunkSpec {
    fn from(sizes: Vec<usize>) -> Self {
        ChunkSpec::Axes(sizes.into_iter().map(AxisChunks::Size).collect())
    }
}

impl From<&[usize]> for ChunkSpec {
    fn from(sizes: &[usize]) -> Self {
        ChunkSpec::Axes(sizes.iter().copied().map(AxisChunks::Size).collect())
    }
}

impl From<Vec<AxisChunks>> for ChunkSpec {
    fn from(axes: Vec<AxisChunks>) -> Self {
        ChunkSpec::Axes(axes)
    }
}

impl<const N: usize> From<[AxisChunks; N]> for ChunkSpec {
    fn from(axes: [AxisChunks; N]) -> Self {
        ChunkSpec::Axes(axes.into())
    }
}

impl From<Vec<Vec<usize>>> for ChunkSpec {
    fn from(blocks: Vec<Vec<usize>>) -> Self {
        ChunkSpec::Axes(blocks.into_iter().map(AxisChunks::Blocks).collect())
    }
}

impl From<Chunks> for ChunkSpec {
    fn from(chunks: Chunks) -> Self {
        chunks.0.into()
    }
}

impl From<&Chunks> for ChunkSpec {
    fn from(chunks: &Chunks) -> Self {
        chunks.0.clone().into()
    }
}

/// Turns a chunk request into explicit blocks for `shape` (Dask's `normalize_chunks`).
///
/// `itemsize` (bytes per element), `limit_bytes` (Dask's `array.chunk-size`, see
/// [`DEFAULT_CHUNK_SIZE_BYTES`]) and `tolerance` (Dask's `array.chunk-size-tolerance`,
/// see [`DEFAULT_CHUNK_SIZE_TOLERANCE`]) matter only for "auto" axes, which
/// [`auto_chunks`] resolves; `previous`, the chunks the data has now, guides them.
/// A byte target given in the request ([`ChunkSpec::Bytes`], [`AxisChunks::Bytes`])
/// replaces `limit_bytes`.
///
/// # Errors
/// Any [`ArrayError`] about the request: wrong number of axes, blocks that do not
/// add up, zero or negative sizes, conflicting byte targets, or an "auto" target
/// that cannot be met.
pub fn normalize_chunks(
    spec: &ChunkSpec,
    shape: &[usize],
    itemsize: usize,
    limit_bytes: u64,
    tolerance: f64,
    previous: Option<&Chunks>,
) -> Result<Chunks, ArrayError> {
    let axes = expand_spec(spec, shape)?;
    let resolved = auto_chunks(&axes, shape, itemsize, limit_bytes, tolerance, previous)?;
    let mut blocks = Vec::with_capacity(resolved.len());
    for (axis, (request, &length)) in resolved.into_iter().zip(shape).enumerate() {
        blocks.push(match request {
            AxisChunks::Blocks(b) => {
                validate_axis_blocks(axis, &b, length)?;
                b
            }
            AxisChunks::Size(size) => blockdims_axis(axis, length, size)?,
            AxisChunks::Full => blockdims_axis(axis, length, length)?,
            // auto_chunks resolves these; report rather than trust that.
            AxisChunks::Invalid(value) => {
                return Err(ArrayError::InvalidChunkValue {
                    value,
                    axis: Some(axis),
                });
            }
            AxisChunks::Auto | AxisChunks::Bytes(_) => blockdims_axis(axis, length, length)?,
        });
    }
    Ok(Chunks(blocks))
}

/// Splits each axis of `shape` into blocks of the matching `blockshape` size, the
/// last block taking the remainder (an axis of length 0 becomes `(0,)`).
///
/// # Errors
/// [`ArrayError::DimensionMismatch`] when the lengths differ,
/// [`ArrayError::ZeroChunkSize`] for a block size of 0 on a non-empty axis,
/// [`ArrayError::TooManyBlocks`] past [`MAX_BLOCKS_PER_AXIS`].
pub fn blockdims_from_blockshape(
    shape: &[usize],
    blockshape: &[usize],
) -> Result<Chunks, ArrayError> {
    if shape.len() != blockshape.len() {
        return Err(ArrayError::DimensionMismatch {
            chunks: blockshape.len(),
            shape: shape.len(),
        });
    }
    shape
        .iter()
        .zip(blockshape)
        .enumerate()
        .map(|(axis, (&length, &size))| blockdims_axis(axis, length, size))
        .collect::<Result<Vec<_>, _>>()
        .map(Chunks)
}

/// One axis of [`blockdims_from_blockshape`].
pub(crate) fn blockdims_axis(
    axis: usize,
    length: usize,
    size: usize,
) -> Result<Vec<usize>, ArrayError> {
    if length == 0 {
        return Ok(vec![0]);
    }
    if size == 0 {
        return Err(ArrayError::ZeroChunkSize { axis });
    }
    let full = length / size;
    let rest = length % size;
    let count = full + usize::from(rest > 0);
    if count > MAX_BLOCKS_PER_AXIS {
        return Err(ArrayError::TooManyBlocks {
            axis,
            size,
            length,
            blocks: count,
            limit: MAX_BLOCKS_PER_AXIS,
        });
    }
    let mut blocks = vec![size; full];
    if rest > 0 {
        blocks.push(rest);
    }
    Ok(blocks)
}

/// Checks that `blocks` tile an axis of `length` in canonical form.
pub(crate) fn validate_axis_blocks(
    axis: usize,
    blocks: &[usize],
    length: usize,
) -> Result<(), ArrayError> {
    if blocks.is_empty() {
        return Err(ArrayError::NoBlocks { axis });
    }
    let sum = wide_sum(blocks);
    if sum != length as u128 {
        return Err(ArrayError::SumMismatch {
            axis,
            blocks: blocks.to_vec(),
            sum,
            expected: length,
        });
    }
    if length == 0 {
        if blocks.len() > 1 {
            return Err(ArrayError::SplitEmptyAxis {
                axis,
                blocks: blocks.to_vec(),
            });
        }
    } else if let Some(block) = blocks.iter().position(|&b| b == 0) {
        return Err(ArrayError::ZeroBlock {
            axis,
            block,
            blocks: blocks.to_vec(),
            length,
        });
    }
    Ok(())
}

/// Brings every form of request to one entry per axis.
fn expand_spec(spec: &ChunkSpec, shape: &[usize]) -> Result<Vec<AxisChunks>, ArrayError> {
    let ndim = shape.len();
    Ok(match spec {
        ChunkSpec::Auto => vec![AxisChunks::Auto; ndim],
        ChunkSpec::Full => vec![AxisChunks::Full; ndim],
        ChunkSpec::Bytes(bytes) => vec![AxisChunks::Bytes(*bytes); ndim],
        ChunkSpec::Size(size) => vec![AxisChunks::Size(*size); ndim],
        ChunkSpec::Invalid(value) => {
            return Err(ArrayError::InvalidChunkValue {
                value: *value,
                axis: None,
            });
        }
        ChunkSpec::Unparsed(text) => {
            return Err(ArrayError::InvalidArgument {
                message: format!(
                    "chunks {text:?} are neither \"auto\" nor a byte size such as \"64MiB\""
                ),
            });
        }
        ChunkSpec::Axes(axes) => {
            let all_sizes: Option<Vec<usize>> = axes
                .iter()
                .map(|a| match a {
                    AxisChunks::Size(s) => Some(*s),
                    _ => None,
                })
                .collect();
            if axes.is_empty() && ndim > 0 && shape.iter().all(|&s| s == 0) {
                vec![AxisChunks::Blocks(vec![0]); ndim]
            } else if let (1, true, Some(sizes)) = (ndim, axes.len() > 1, all_sizes) {
                vec![AxisChunks::Blocks(sizes)]
            } else if axes.len() != ndim {
                return Err(ArrayError::DimensionMismatch {
                    chunks: axes.len(),
                    shape: ndim,
                });
            } else {
                axes.clone()
            }
        }
    })
}

pub(crate) fn wide_sum(blocks: &[usize]) -> u128 {
    blocks.iter().map(|&b| b as u128).sum()
}

fn saturating_sum(blocks: &[usize]) -> usize {
    blocks.iter().fold(0usize, |acc, &b| acc.saturating_add(b))
}

/// Row-major enumeration of the indices of an n-dimensional grid.
#[derive(Debug, Clone)]
pub(crate) struct RowMajor {
    counts: Vec<usize>,
    next: Option<Vec<usize>>,
}

impl RowMajor {
    pub(crate) fn new(counts: Vec<usize>) -> RowMajor {
        let next = if counts.contains(&0) {
            None
        } else {
            Some(vec![0; counts.len()])
        };
        RowMajor { counts, next }
    }
}

impl Iterator for RowMajor {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        let current = self.next.take()?;
        let mut successor = current.clone();
        for (digit, &count) in successor.iter_mut().zip(&self.counts).rev() {
            *digit += 1;
            if *digit < count {
                self.next = Some(successor);
                return Some(current);
            }
            *digit = 0;
        }
        Some(current)
    }
}
