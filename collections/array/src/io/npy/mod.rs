//! NumPy `.npy` files, read and written whole or one hyper-rectangular
//! region (chunk) at a time.
//!
//! The format (versions 1.0, 2.0 and 3.0) is a magic string, a version, a
//! header length and a Python dict literal giving `descr`, `fortran_order`
//! and `shape`, padded so the raw little-endian data starts on a 64-byte
//! boundary. Files are written in C order with a version 1.0 header (2.0 if
//! the header does not fit in 65535 bytes). Files in Fortran order are read,
//! whole or by region, and their regions can be overwritten.
//!
//! Regions move as positional reads and writes of the runs they occupy in
//! the file, merged where they are adjacent, so several threads may write
//! disjoint regions of a file made by [`create`] at the same time.

mod element;
mod header;
mod region;
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::error::ArrayError;
pub use element::NpyElement;
pub use header::{NpyHeader, read_header};
use header::{element_count, encode_header, file_len_for, open, read_header_from};
use region::{check_region, read_runs, write_runs};

/// Checks that `header` describes `T` values.
fn check_dtype<T: NpyElement>(path: &Path, header: &NpyHeader) -> Result<(), ArrayError> {
    if element::descr_matches::<T>(&header.descr) {
        Ok(())
    } else {
        Err(element::dtype_mismatch::<T>(path, &header.descr))
    }
}

/// The element count of `shape` and the length of a file holding it as `T`
/// behind `header_len` bytes of header.
fn sizes<T: NpyElement>(
    path: &Path,
    shape: &[usize],
    header_len: usize,
) -> Result<(usize, u64), ArrayError> {
    element_count(shape)
        .and_then(|count| Some((count, file_len_for(header_len as u64, count, T::SIZE)?)))
        .ok_or_else(|| {
            ArrayError::invalid_request(
                path,
                format!("an array of shape {shape:?} has more bytes than a file can hold"),
            )
        })
}

/// The header `encode_header` produced, as [`NpyHeader`].
fn header_for<T: NpyElement>(shape: &[usize], header_len: usize) -> NpyHeader {
    NpyHeader {
        descr: T::DESCR.to_string(),
        fortran_order: false,
        shape: shape.to_vec(),
        data_offset: header_len as u64,
    }
}

/// Creates (truncates) `path` with a header for `shape` of `T` and the data
/// region sized with `set_len`, so it is sparse and reads as zeros until
/// written. Chunks are then written independently with [`write_region`],
/// possibly from several threads at once.
///
/// # Errors
/// [`ArrayError::InvalidRequest`] if the shape's size overflows,
/// [`ArrayError::Io`] if the file cannot be created.
pub fn create<T: NpyElement>(path: &Path, shape: &[usize]) -> Result<NpyHeader, ArrayError> {
    let bytes = encode_header(T::DESCR, false, shape);
    let (_, total) = sizes::<T>(path, shape, bytes.len())?;
    let mut file = File::create(path).map_err(|e| ArrayError::io(path, e))?;
    file.write_all(&bytes)
        .and_then(|()| file.set_len(total))
        .map_err(|e| ArrayError::io(path, e))?;
    Ok(header_for::<T>(shape, bytes.len()))
}

/// Writes `block` (any memory layout) into the region starting at `start` of
/// an existing file, such as one made by [`create`]. The file's dtype must be
/// `T` and the region must lie inside the array.
///
/// Uses positional writes of the contiguous runs the region occupies in the
/// file (one run when the block covers whole trailing axes), so disjoint
/// regions may be written from several threads at once.
///
/// # Errors
/// Those of [`read_header`], plus [`ArrayError::DtypeMismatch`],
/// [`ArrayError::OutOfBounds`] and [`ArrayError::Io`].
pub fn write_region<T: NpyElement>(
    path: &Path,
    start: &[usize],
    block: ArrayViewD<'_, T>,
) -> Result<(), ArrayError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| ArrayError::io(path, e))?;
    let header = read_header_from(&file, path)?;
    check_dtype::<T>(path, &header)?;
    check_region(path, &header.shape, start, block.shape())?;
    let (shape, start, block) = if header.fortran_order {
        // A Fortran-order array is the C-order array of its transpose.
        (
            reversed(&header.shape),
            reversed(start),
            block.reversed_axes(),
        )
    } else {
        (header.shape.clone(), start.to_vec(), block)
    };
    let standard = block.as_standard_layout();
    let values = standard
        .as_slice()
        .ok_or_else(|| ArrayError::invalid_request(path, "block is not contiguous"))?;
    write_runs(
        &file,
        path,
        header.data_offset,
        &shape,
        &start,
        standard.shape(),
        values,
    )
}

/// Reads the region `[start, start + shape)` into a new standard-layout
/// array, with positional reads of the contiguous runs it occupies.
///
/// # Errors
/// Those of [`read_header`], plus [`ArrayError::DtypeMismatch`],
/// [`ArrayError::OutOfBounds`], [`ArrayError::InvalidData`] (a `bool` byte
/// other than 0 or 1) and [`ArrayError::Io`].
pub fn read_region<T: NpyElement>(
    path: &Path,
    start: &[usize],
    shape: &[usize],
) -> Result<ArrayD<T>, ArrayError> {
    let file = open(path)?;
    let header = read_header_from(&file, path)?;
    check_dtype::<T>(path, &header)?;
    read_region_from(&file, path, &header, start, shape)
}

/// [`read_region`] on an open file whose header and dtype are checked.
fn read_region_from<T: NpyElement>(
    file: &File,
    path: &Path,
    header: &NpyHeader,
    start: &[usize],
    extent: &[usize],
) -> Result<ArrayD<T>, ArrayError> {
    check_region(path, &header.shape, start, extent)?;
    let shape_error = |e: ndarray::ShapeError| ArrayError::invalid_request(path, e.to_string());
    if header.fortran_order {
        let c_extent = reversed(extent);
        let values = read_runs(
            file,
            path,
            header.data_offset,
            &reversed(&header.shape),
            &reversed(start),
            &c_extent,
        )?;
        let transposed = ArrayD::from_shape_vec(IxDyn(&c_extent), values).map_err(shape_error)?;
        let array = transposed.reversed_axes();
        if array.is_standard_layout() {
            Ok(array)
        } else {
            Ok(array.as_standard_layout().into_owned())
        }
    } else {
        let values = read_runs(file, path, header.data_offset, &header.shape, start, extent)?;
        ArrayD::from_shape_vec(IxDyn(extent), values).map_err(shape_error)
    }
}

/// `v` in reverse order.
fn reversed(v: &[usize]) -> Vec<usize> {
    v.iter().rev().copied().collect()
}

/// Writes `array` (any memory layout) to `path` as a C-order `.npy` file,
/// replacing any file there.
///
/// # Errors
/// [`ArrayError::Io`] if the file cannot be written.
pub fn write<T: NpyElement>(path: &Path, array: ArrayViewD<'_, T>) -> Result<(), ArrayError> {
    let bytes = encode_header(T::DESCR, false, array.shape());
    sizes::<T>(path, array.shape(), bytes.len())?;
    let standard = array.as_standard_layout();
    let values = standard
        .as_slice()
        .ok_or_else(|| ArrayError::invalid_request(path, "array is not contiguous"))?;
    let mut file = File::create(path).map_err(|e| ArrayError::io(path, e))?;
    file.write_all(&bytes)
        .map_err(|e| ArrayError::io(path, e))?;
    let mut buf = Vec::new();
    let step = ((8 << 20) / T::SIZE.max(1)).max(1);
    for piece in values.chunks(step) {
        buf.clear();
        T::write_le(piece, &mut buf);
        file.write_all(&buf).map_err(|e| ArrayError::io(path, e))?;
    }
    Ok(())
}

/// Reads the whole array in `path` (C or Fortran order) into a new
/// standard-layout array.
///
/// # Errors
/// As [`read_region`].
pub fn read<T: NpyElement>(path: &Path) -> Result<ArrayD<T>, ArrayError> {
    let file = open(path)?;
    let header = read_header_from(&file, path)?;
    check_dtype::<T>(path, &header)?;
    let start = vec![0; header.shape.len()];
    read_region_from(&file, path, &header, &start, &header.shape)
}
