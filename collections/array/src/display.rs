//! What an array shows: shape, dtype, chunks, bytes, tasks.

use std::fmt;

use crate::array::Array;
use crate::dtype::Element;

/// The facts a user needs to choose chunks (Dask's array repr table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayInfo {
    /// The array's name (the key prefix of its blocks).
    pub name: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// NumPy's name for the element type.
    pub dtype: &'static str,
    /// Block sizes per axis.
    pub chunks: Vec<Vec<usize>>,
    /// Blocks per axis.
    pub numblocks: Vec<usize>,
    /// Bytes of the whole array.
    pub nbytes: u64,
    /// Bytes of the largest chunk.
    pub chunk_nbytes: u64,
    /// Tasks in the graph that computes the array.
    pub tasks: usize,
    /// Graph layers.
    pub layers: usize,
}

/// `1234567` bytes as `1.18 MiB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

impl<T: Element> Array<T> {
    /// Shape, dtype, chunks, bytes in total and per chunk, and tasks.
    ///
    /// ```
    /// use barrow_array::Array;
    ///
    /// let x = Array::<f64>::ones(&[4000, 3000], 1000)?;
    /// let info = x.info();
    /// assert_eq!(info.numblocks, [4, 3]);
    /// assert_eq!(info.nbytes, 96_000_000);
    /// assert_eq!(info.chunk_nbytes, 8_000_000);
    /// assert_eq!(info.tasks, 12);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn info(&self) -> ArrayInfo {
        let shape = self.shape();
        // Arrays keep their bytes within isize::MAX (crate::size): these
        // products cannot wrap; saturating says so without a panic path.
        let elements = self.len() as u64;
        let chunk: u64 = self
            .chunks
            .largest_block()
            .iter()
            .fold(1u64, |acc, &n| acc.saturating_mul(n as u64));
        ArrayInfo {
            name: self.name.to_string(),
            dtype: T::DTYPE,
            chunks: self.chunks.as_slices().to_vec(),
            numblocks: self.chunks.numblocks(),
            nbytes: elements.saturating_mul(T::ITEMSIZE as u64),
            chunk_nbytes: chunk.saturating_mul(T::ITEMSIZE as u64),
            tasks: self.graph.len(),
            layers: self.graph.layers().len(),
            shape,
        }
    }
}

impl fmt::Display for ArrayInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "barrow array {}", self.name)?;
        writeln!(f, "  shape   {:?}  dtype {}", self.shape, self.dtype)?;
        writeln!(
            f,
            "  chunks  {:?} blocks of at most {}",
            self.numblocks,
            human_bytes(self.chunk_nbytes)
        )?;
        writeln!(f, "  bytes   {} in total", human_bytes(self.nbytes))?;
        write!(
            f,
            "  graph   {} tasks in {} layers",
            self.tasks, self.layers
        )
    }
}

impl<T: Element> fmt::Display for Array<T> {
    /// One line, like Dask's repr:
    /// `barrow.array<ones, shape=(4000, 3000), dtype=float64, chunksize=(1000, 1000), chunktype=ndarray>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.info();
        let shape: Vec<String> = info.shape.iter().map(ToString::to_string).collect();
        let chunk: Vec<String> = self
            .chunks
            .largest_block()
            .iter()
            .map(ToString::to_string)
            .collect();
        let tuple = |v: &[String]| {
            if v.len() == 1 {
                format!("({},)", v[0])
            } else {
                format!("({})", v.join(", "))
            }
        };
        write!(
            f,
            "barrow.array<{}, shape={}, dtype={}, chunksize={}, nbytes={}, chunk nbytes={}, \
             tasks={}>",
            self.name,
            tuple(&shape),
            info.dtype,
            tuple(&chunk),
            human_bytes(info.nbytes),
            human_bytes(info.chunk_nbytes),
            info.tasks
        )
    }
}

impl<T: Element> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("name", &self.name)
            .field("shape", &self.shape())
            .field("dtype", &T::DTYPE)
            .field("chunks", &self.chunks.as_slices())
            .field("tasks", &self.graph.len())
            .field("problem", &self.problem)
            .finish()
    }
}
