//! TEMPORARY minimal chunk arithmetic, replaced by the full port of Dask's
//! `normalize_chunks` (in progress).

use std::fmt;

use crate::error::ArrayError;

/// Block sizes along each axis: Dask's tuple of tuples, the canonical form.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Chunks(Vec<Vec<usize>>);

impl Chunks {
    /// Checked chunks for `shape`.
    pub fn new(blocks: Vec<Vec<usize>>, shape: &[usize]) -> Result<Chunks, ArrayError> {
        if blocks.len() != shape.len() {
            return Err(ArrayError::InvalidArgument {
                message: format!(
                    "chunks give {} axes but the shape has {}",
                    blocks.len(),
                    shape.len()
                ),
            });
        }
        for (axis, (b, &n)) in blocks.iter().zip(shape).enumerate() {
            if b.iter().sum::<usize>() != n {
                return Err(ArrayError::InvalidArgument {
                    message: format!("chunks along axis {axis} do not add up to {n}"),
                });
            }
        }
        Ok(Chunks(blocks))
    }
    /// Chunks known to be valid.
    pub fn from_vec_unchecked(blocks: Vec<Vec<usize>>) -> Chunks {
        Chunks(blocks)
    }
    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.0.len()
    }
    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.0.iter().map(|b| b.iter().sum()).collect()
    }
    /// Blocks along one axis.
    pub fn axis(&self, axis: usize) -> &[usize] {
        &self.0[axis]
    }
    /// All axes.
    pub fn as_slices(&self) -> &[Vec<usize>] {
        &self.0
    }
    /// Blocks per axis.
    pub fn numblocks(&self) -> Vec<usize> {
        self.0.iter().map(Vec::len).collect()
    }
    /// Total blocks.
    pub fn nblocks(&self) -> usize {
        self.0.iter().map(Vec::len).product()
    }
    /// Starts of blocks.
    pub fn offsets(&self, axis: usize) -> Vec<usize> {
        let mut out = vec![0];
        let mut acc = 0;
        for b in &self.0[axis] {
            acc += b;
            out.push(acc);
        }
        out
    }
    /// Shape of a block.
    pub fn block_shape(&self, index: &[usize]) -> Option<Vec<usize>> {
        index
            .iter()
            .zip(&self.0)
            .map(|(&i, b)| b.get(i).copied())
            .collect()
    }
    /// Start of a block.
    pub fn block_start(&self, index: &[usize]) -> Option<Vec<usize>> {
        index
            .iter()
            .zip(&self.0)
            .map(|(&i, b)| (i <= b.len()).then(|| b[..i].iter().sum()))
            .collect()
    }
    /// Largest block per axis.
    pub fn largest_block(&self) -> Vec<usize> {
        self.0
            .iter()
            .map(|b| b.iter().copied().max().unwrap_or(0))
            .collect()
    }
    /// Block indices in row-major order.
    pub fn block_indices(&self) -> impl Iterator<Item = Vec<usize>> {
        let numblocks = self.numblocks();
        let total: usize = numblocks.iter().product();
        (0..total).map(move |mut flat| {
            let mut index = vec![0; numblocks.len()];
            for axis in (0..numblocks.len()).rev() {
                index[axis] = flat % numblocks[axis];
                flat /= numblocks[axis];
            }
            index
        })
    }
}

impl fmt::Display for Chunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(")?;
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "(")?;
            for (j, s) in b.iter().enumerate() {
                if j > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{s}")?;
            }
            if b.len() == 1 {
                write!(f, ",")?;
            }
            write!(f, ")")?;
        }
        if self.0.len() == 1 {
            write!(f, ",")?;
        }
        write!(f, ")")
    }
}

/// One axis of a chunk request.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisChunks {
    /// Chosen automatically.
    Auto,
    /// The whole axis in one block.
    Full,
    /// Blocks of this size (the last may be smaller).
    Size(usize),
    /// Explicit block sizes.
    Blocks(Vec<usize>),
}

/// What a user may pass as chunks.
#[derive(Clone, Debug, PartialEq)]
pub enum ChunkSpec {
    /// Automatic for every axis.
    Auto,
    /// Automatic with this byte target.
    Bytes(u64),
    /// One size for every axis.
    Size(usize),
    /// Per axis.
    Axes(Vec<AxisChunks>),
}

impl From<usize> for ChunkSpec {
    fn from(size: usize) -> ChunkSpec {
        ChunkSpec::Size(size)
    }
}

impl<const N: usize> From<[usize; N]> for ChunkSpec {
    fn from(sizes: [usize; N]) -> ChunkSpec {
        ChunkSpec::Axes(sizes.into_iter().map(AxisChunks::Size).collect())
    }
}

/// Canonical chunks for `shape`.
pub fn normalize_chunks(
    spec: &ChunkSpec,
    shape: &[usize],
    _itemsize: usize,
    _limit_bytes: u64,
    _tolerance: f64,
    _previous: Option<&Chunks>,
) -> Result<Chunks, ArrayError> {
    let axis = |a: &AxisChunks, n: usize| -> Result<Vec<usize>, ArrayError> {
        Ok(match a {
            AxisChunks::Auto | AxisChunks::Full => vec![n],
            AxisChunks::Size(0) => {
                return Err(ArrayError::InvalidArgument {
                    message: "chunk size 0".into(),
                });
            }
            AxisChunks::Size(s) => {
                if n == 0 {
                    vec![0]
                } else {
                    let mut v = vec![*s; n / s];
                    if !n.is_multiple_of(*s) {
                        v.push(n % s);
                    }
                    v
                }
            }
            AxisChunks::Blocks(b) => b.clone(),
        })
    };
    let blocks = match spec {
        ChunkSpec::Auto | ChunkSpec::Bytes(_) => shape.iter().map(|&n| vec![n]).collect(),
        ChunkSpec::Size(s) => shape
            .iter()
            .map(|&n| axis(&AxisChunks::Size(*s), n))
            .collect::<Result<_, _>>()?,
        ChunkSpec::Axes(a) => a
            .iter()
            .zip(shape)
            .map(|(a, &n)| axis(a, n))
            .collect::<Result<_, _>>()?,
    };
    Chunks::new(blocks, shape)
}
