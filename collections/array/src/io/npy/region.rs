//! Hyper-rectangular regions of a C-order array as contiguous runs of the
//! file, and positional I/O of those runs.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::ArrayError;
use crate::io::npy::element::NpyElement;

/// Bytes moved by one positional read or write at most, so long runs use a
/// bounded buffer.
const IO_BYTES: usize = 8 << 20;

/// Checks that `[start, start + extent)` lies inside `array_shape` and has
/// its rank.
pub(crate) fn check_region(
    path: &Path,
    array_shape: &[usize],
    start: &[usize],
    extent: &[usize],
) -> Result<(), ArrayError> {
    let fits = start.len() == array_shape.len()
        && extent.len() == array_shape.len()
        && start
            .iter()
            .zip(extent)
            .zip(array_shape)
            .all(|((&s, &e), &n)| s.checked_add(e).is_some_and(|end| end <= n));
    if fits {
        Ok(())
    } else {
        Err(ArrayError::OutOfBounds {
            path: path.to_path_buf(),
            start: start.to_vec(),
            shape: extent.to_vec(),
            array_shape: array_shape.to_vec(),
        })
    }
}

/// The contiguous runs of a non-empty region of a C-order array, in the
/// region's own C order. Runs that are adjacent in the file are merged: the
/// run covers the innermost axis where the region is narrower than the
/// array, and every axis inside it.
#[derive(Debug)]
pub(crate) struct Runs {
    /// Extents of the axes outside the run.
    outer: Vec<usize>,
    /// Element strides in the file of the axes outside the run.
    strides: Vec<usize>,
    /// Element offset of the region's first element.
    base: usize,
    /// Elements per run.
    run_len: usize,
}

impl Runs {
    /// The runs of `[start, start + extent)` in an array of `shape`, or
    /// `None` if the region is empty. The region must have passed
    /// [`check_region`] and `shape` must have a countable size.
    pub(crate) fn new(shape: &[usize], start: &[usize], extent: &[usize]) -> Option<Self> {
        if extent.contains(&0) {
            return None;
        }
        // Row-major strides; each is at most the element count.
        let mut strides = vec![1usize; shape.len()];
        for axis in (0..shape.len().saturating_sub(1)).rev() {
            strides[axis] = strides[axis + 1].saturating_mul(shape[axis + 1]);
        }
        // Each start is below its axis length, so the sum is below the
        // element count.
        let base = start
            .iter()
            .zip(&strides)
            .fold(0usize, |acc, (&s, &stride)| {
                acc.saturating_add(s.saturating_mul(stride))
            });
        // The innermost axis where the region is narrower than the array;
        // if there is none the region is the whole array, one run.
        let (split, run_len) = match extent.iter().zip(shape).rposition(|(e, n)| e != n) {
            Some(axis) => (axis, extent[axis].saturating_mul(strides[axis])),
            None => (0, extent.iter().product()),
        };
        Some(Self {
            outer: extent[..split].to_vec(),
            strides: strides[..split].to_vec(),
            base,
            run_len,
        })
    }

    /// Elements per run.
    pub(crate) fn run_len(&self) -> usize {
        self.run_len
    }

    /// Calls `f(file_element_offset, region_element_index)` for each run in
    /// order; the region index of run `k` is `k * run_len`.
    pub(crate) fn try_for_each<E>(
        &self,
        mut f: impl FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut index = vec![0usize; self.outer.len()];
        let mut offset = self.base;
        let mut region = 0usize;
        loop {
            f(offset, region)?;
            region += self.run_len;
            let mut axis = self.outer.len();
            loop {
                if axis == 0 {
                    return Ok(());
                }
                axis -= 1;
                index[axis] += 1;
                offset += self.strides[axis];
                if index[axis] < self.outer[axis] {
                    break;
                }
                offset -= self.outer[axis] * self.strides[axis];
                index[axis] = 0;
            }
        }
    }
}

/// Byte position of element `element` of data starting at `data_offset`.
fn position<T: NpyElement>(data_offset: u64, element: usize) -> u64 {
    // Bounded by the file length the header was checked against.
    data_offset + (element as u64) * (T::SIZE as u64)
}

/// Elements moved per positional I/O call at most.
fn io_elements<T: NpyElement>() -> usize {
    (IO_BYTES / T::SIZE.max(1)).max(1)
}

/// Writes `values` (the region `[start, start + extent)` in C order) into
/// the C-order array of `shape` whose data starts at `data_offset` in `file`.
pub(crate) fn write_runs<T: NpyElement>(
    file: &File,
    path: &Path,
    data_offset: u64,
    shape: &[usize],
    start: &[usize],
    extent: &[usize],
    values: &[T],
) -> Result<(), ArrayError> {
    let Some(runs) = Runs::new(shape, start, extent) else {
        return Ok(());
    };
    let run_len = runs.run_len();
    let step = io_elements::<T>();
    let mut buf = Vec::with_capacity(run_len.min(step).saturating_mul(T::SIZE));
    runs.try_for_each(|file_elem, region_elem| {
        let run = values
            .get(region_elem..region_elem + run_len)
            .ok_or_else(|| ArrayError::invalid_request(path, "block is smaller than its shape"))?;
        for (k, piece) in run.chunks(step).enumerate() {
            buf.clear();
            T::write_le(piece, &mut buf);
            let at = position::<T>(data_offset, file_elem + k * step);
            file.write_all_at(&buf, at)
                .map_err(|e| ArrayError::io(path, e))?;
        }
        Ok(())
    })
}

/// Reads the region `[start, start + extent)` of the C-order array of
/// `shape` whose data starts at `data_offset` in `file`, in C order.
pub(crate) fn read_runs<T: NpyElement>(
    file: &File,
    path: &Path,
    data_offset: u64,
    shape: &[usize],
    start: &[usize],
    extent: &[usize],
) -> Result<Vec<T>, ArrayError> {
    let count: usize = extent.iter().product();
    let Some(runs) = Runs::new(shape, start, extent) else {
        return Ok(Vec::new());
    };
    // The region lies inside the array, whose size the header check bounded
    // by the file length.
    let mut out = vec![T::ZERO; count];
    let run_len = runs.run_len();
    let step = io_elements::<T>();
    let mut buf = Vec::new();
    runs.try_for_each(|file_elem, region_elem| {
        let run = out
            .get_mut(region_elem..region_elem + run_len)
            .ok_or_else(|| ArrayError::invalid_request(path, "region run outside the output"))?;
        for (k, piece) in run.chunks_mut(step).enumerate() {
            buf.resize(piece.len() * T::SIZE, 0);
            let at = position::<T>(data_offset, file_elem + k * step);
            file.read_exact_at(&mut buf, at)
                .map_err(|e| ArrayError::io(path, e))?;
            T::read_le(&buf, piece).map_err(|e| e.with_path(path))?;
        }
        Ok(())
    })?;
    Ok(out)
}
