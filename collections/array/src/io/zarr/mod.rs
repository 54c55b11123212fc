//! Zarr v3 reading and writing, one region at a time, on a local folder.
//!
//! Each function opens the store and the array itself, so that each call can
//! run as one independent task: the path is the folder that holds the
//! array's `zarr.json` (the filesystem store's root, the array being its root
//! node `/`). Chunks are stored as `c/i/j/...` under that folder.
//!
//! Writes of regions aligned to the store's chunks touch disjoint chunk files
//! and may run concurrently; unaligned writes read, modify and rewrite the
//! chunks they share with their neighbours, so two of them running at once
//! on the same chunk race and one loses its update. Callers that write in
//! parallel therefore align their chunks to the store's.
//!
//! Regions spanning several chunks are decoded and encoded on the global
//! rayon pool of the Zarr library.

use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD};
use zarrs::array::builder::ArrayBuilderFillValue;
use zarrs::array::codec::ZstdCodec;
use zarrs::array::{Array, ArrayBuilder, ArrayMetadata, DataType, data_type};
use zarrs::config::MetadataRetrieveVersion;
use zarrs::filesystem::FilesystemStore;
use zarrs::metadata_ext::chunk_grid::regular::RegularChunkGridConfiguration;

use crate::error::{ArrayError, NotArrayReason};

#[cfg(test)]
mod tests;

mod sealed {
    use zarrs::array::DataType;
    use zarrs::array::builder::ArrayBuilderFillValue;

    /// Keeps [`super::ZarrElement`] to the types this module maps to Zarr data types.
    pub trait Sealed {
        /// The Zarr data type of the element.
        fn data_type() -> DataType;
        /// `value` as a fill value of this type, if it is exactly representable
        /// (floats are rounded to the nearest `f32` for `float32`).
        fn fill_value(value: f64) -> Option<ArrayBuilderFillValue>;
    }
}

/// An element type that can be stored in a Zarr array.
///
/// Implemented for `f64`, `f32`, `i64`, `i32`, `u64`, `u32`, `u8`, `i8` and
/// `bool`; sealed.
pub trait ZarrElement:
    Copy + Send + Sync + 'static + zarrs::array::Element + zarrs::array::ElementOwned + sealed::Sealed
{
    /// The Zarr v3 data type name, e.g. `"float64"`.
    const ZARR_TYPE: &'static str;
}

macro_rules! float_element {
    ($t:ty, $name:literal, $dt:ident) => {
        impl sealed::Sealed for $t {
            fn data_type() -> DataType {
                data_type::$dt()
            }
            #[allow(clippy::cast_possible_truncation)]
            fn fill_value(value: f64) -> Option<ArrayBuilderFillValue> {
                Some(ArrayBuilderFillValue::from(value as $t))
            }
        }
        impl ZarrElement for $t {
            const ZARR_TYPE: &'static str = $name;
        }
    };
}

macro_rules! int_element {
    ($t:ty, $name:literal, $dt:ident) => {
        impl sealed::Sealed for $t {
            fn data_type() -> DataType {
                data_type::$dt()
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            fn fill_value(value: f64) -> Option<ArrayBuilderFillValue> {
                // MIN and MAX + 1 are exact in f64 for every type here (for the
                // 64-bit types, MAX as f64 already rounds up to 2^63 or 2^64).
                let in_range = value >= <$t>::MIN as f64 && value < <$t>::MAX as f64 + 1.0;
                (in_range && value.fract() == 0.0).then(|| ArrayBuilderFillValue::from(value as $t))
            }
        }
        impl ZarrElement for $t {
            const ZARR_TYPE: &'static str = $name;
        }
    };
}

float_element!(f64, "float64", float64);
float_element!(f32, "float32", float32);
int_element!(i64, "int64", int64);
int_element!(i32, "int32", int32);
int_element!(u64, "uint64", uint64);
int_element!(u32, "uint32", uint32);
int_element!(u8, "uint8", uint8);
int_element!(i8, "int8", int8);

impl sealed::Sealed for bool {
    fn data_type() -> DataType {
        data_type::bool()
    }
    fn fill_value(value: f64) -> Option<ArrayBuilderFillValue> {
        let fill = |b: bool| ArrayBuilderFillValue::from(zarrs::array::FillValueMetadata::Bool(b));
        if value == 0.0 {
            Some(fill(false))
        } else if value == 1.0 {
            Some(fill(true))
        } else {
            None
        }
    }
}
impl ZarrElement for bool {
    const ZARR_TYPE: &'static str = "bool";
}

/// Options of [`create`].
#[derive(Debug, Clone, PartialEq)]
pub struct ZarrOptions {
    /// Compression codec name and level, or `None` for uncompressed chunks.
    /// The only name supported is `"zstd"` (levels -131072..=22, higher is
    /// smaller and slower to write; decoding speed hardly depends on it).
    /// Default: `Some(("zstd", 1))` (zstd is zarr-python 3's default codec).
    /// Uncompressed chunks read faster (a 500×500 `f64` chunk: ~0.5–4 ms
    /// against ~3–7 ms with zstd 1) but take more disk space (7× more on
    /// smooth data, about the same on noisy floats).
    pub compression: Option<(String, i32)>,
    /// The value of elements never written, converted to the element type;
    /// it must be exactly representable (an integer in range for integer
    /// types, 0 or 1 for `bool`; `f32` rounds). Default `None`: zero (`false`).
    pub fill_value: Option<f64>,
    /// Whether [`create`] may replace an existing Zarr node (array or group)
    /// at the path. Default `false`.
    pub overwrite: bool,
}

impl Default for ZarrOptions {
    fn default() -> Self {
        Self {
            compression: Some(("zstd".to_owned(), 1)),
            fill_value: None,
            overwrite: false,
        }
    }
}

/// What [`open`] or [`create`] found out about an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZarrMeta {
    /// The array's shape.
    pub shape: Vec<u64>,
    /// The shape of the regular chunk grid's chunks (of the shards, for a sharded array).
    pub chunk_shape: Vec<u64>,
    /// The Zarr data type name, e.g. `float64` (see [`ZarrElement::ZARR_TYPE`]).
    pub dtype: String,
}

/// Creates a Zarr v3 array at `path` (a folder; the filesystem store root is
/// `path`, the array is the root node "/") with `shape`, regular chunk shape
/// `chunk_shape` and element type `T`, and writes its `zarr.json`. No chunk is
/// written: unwritten chunks read as the fill value.
///
/// A missing folder is created, an empty one used. An existing Zarr node
/// (a folder with `zarr.json`, `.zarray` or `.zgroup`) is replaced, all its
/// contents deleted, only if `options.overwrite`; any other non-empty folder
/// or a file is never touched and gives [`ArrayError::AlreadyExists`].
///
/// # Errors
/// [`ArrayError::ZarrDimensionMismatch`], [`ArrayError::InvalidOptions`] (a zero
/// chunk extent, a bad level or fill value), [`ArrayError::UnknownCompression`],
/// [`ArrayError::AlreadyExists`], [`ArrayError::ZarrIo`], [`ArrayError::Zarr`].
pub fn create<T: ZarrElement>(
    path: &Path,
    shape: &[u64],
    chunk_shape: &[u64],
    options: &ZarrOptions,
) -> Result<ZarrMeta, ArrayError> {
    let shown = path.display().to_string();
    let invalid = |message: String| ArrayError::InvalidOptions {
        path: shown.clone(),
        message,
    };
    if chunk_shape.len() != shape.len() {
        return Err(ArrayError::ZarrDimensionMismatch {
            path: shown,
            what: "chunk shape",
            got: chunk_shape.len(),
            expected: shape.len(),
        });
    }
    if chunk_shape.contains(&0) {
        return Err(invalid(format!(
            "chunk shape {chunk_shape:?} has a zero extent"
        )));
    }
    let codecs: Vec<Arc<dyn zarrs::array::BytesToBytesCodecTraits>> = match &options.compression {
        None => Vec::new(),
        Some((name, level)) if name == "zstd" => {
            if !(-131_072..=22).contains(level) {
                return Err(invalid(format!(
                    "zstd level {level} is outside -131072..=22"
                )));
            }
            vec![Arc::new(ZstdCodec::new(*level, false))]
        }
        Some((name, _)) => {
            return Err(ArrayError::UnknownCompression { name: name.clone() });
        }
    };
    let fill = T::fill_value(options.fill_value.unwrap_or(0.0)).ok_or_else(|| {
        invalid(format!(
            "fill value {} is not representable as {}",
            options.fill_value.unwrap_or(0.0),
            T::ZARR_TYPE
        ))
    })?;
    prepare_folder(path, options.overwrite)?;

    let store = Arc::new(FilesystemStore::new(path).map_err(zarr_error(path))?);
    let array = ArrayBuilder::new(shape.to_vec(), chunk_shape.to_vec(), T::data_type(), fill)
        .bytes_to_bytes_codecs(codecs)
        .build(store, "/")
        .map_err(zarr_error(path))?;
    array.store_metadata().map_err(zarr_error(path))?;
    describe(path, &array)
}

/// Opens and describes an existing array: shape, regular chunk shape and
/// element type name.
///
/// # Errors
/// [`ArrayError::NotAnArray`] (saying what is there instead),
/// [`ArrayError::IrregularChunks`] if the chunk grid is not regular,
/// [`ArrayError::Zarr`] for metadata the Zarr library rejects (e.g. a codec
/// not compiled in).
pub fn open(path: &Path) -> Result<ZarrMeta, ArrayError> {
    let array = open_array(path)?;
    describe(path, &array)
}

/// Writes `block` into the array at `path`, its first element at `start`.
///
/// Any region inside the array may be written. A region aligned to the
/// store's chunks (starting on a chunk boundary and ending on one or at the
/// array's end) is the fast path: each chunk is encoded and written whole.
/// An unaligned region reads, updates and rewrites each chunk it only
/// partly covers; two such writes running at once on a shared chunk race,
/// and one update may be lost, which is why callers align their chunks to
/// the store's. Chunks that end up all fill value are deleted rather than
/// written. An empty block writes nothing (its `start` is still checked).
///
/// # Errors
/// [`ArrayError::NotAnArray`], [`ArrayError::ZarrDtypeMismatch`],
/// [`ArrayError::ZarrDimensionMismatch`], [`ArrayError::ZarrOutOfBounds`],
/// [`ArrayError::Zarr`].
pub fn write_region<T: ZarrElement>(
    path: &Path,
    start: &[u64],
    block: ArrayViewD<'_, T>,
) -> Result<(), ArrayError> {
    let array = open_array(path)?;
    check_dtype::<T>(path, &array)?;
    let shape: Vec<u64> = block.shape().iter().map(|&n| n as u64).collect();
    if block.ndim() != array.dimensionality() {
        return Err(ArrayError::ZarrDimensionMismatch {
            path: path.display().to_string(),
            what: "block",
            got: block.ndim(),
            expected: array.dimensionality(),
        });
    }
    let ranges = region(path, &array, start, &shape)?;
    if block.is_empty() {
        return Ok(());
    }
    array
        .store_array_subset(&ranges, &block)
        .map_err(zarr_error(path))
}

/// Reads the region `[start, start + shape)` of the array at `path` into a
/// standard-layout array. Checks the element type before reading anything.
///
/// # Errors
/// [`ArrayError::NotAnArray`], [`ArrayError::ZarrDtypeMismatch`],
/// [`ArrayError::ZarrDimensionMismatch`], [`ArrayError::ZarrOutOfBounds`],
/// [`ArrayError::Zarr`] (including a region too large for memory addressing).
pub fn read_region<T: ZarrElement>(
    path: &Path,
    start: &[u64],
    shape: &[u64],
) -> Result<ArrayD<T>, ArrayError> {
    let array = open_array(path)?;
    check_dtype::<T>(path, &array)?;
    if shape.len() != array.dimensionality() {
        return Err(ArrayError::ZarrDimensionMismatch {
            path: path.display().to_string(),
            what: "region shape",
            got: shape.len(),
            expected: array.dimensionality(),
        });
    }
    let ranges = region(path, &array, start, shape)?;
    let dims = shape
        .iter()
        .map(|&n| usize::try_from(n))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|e| zarr_error(path)(format!("region shape {shape:?}: {e}")))?;
    if shape.contains(&0) {
        return ArrayD::from_shape_vec(dims, Vec::new()).map_err(zarr_error(path));
    }
    array
        .retrieve_array_subset::<ArrayD<T>>(&ranges)
        .map_err(zarr_error(path))
}

type FsArray = Array<FilesystemStore>;

/// Maps any displayable error to [`ArrayError::Zarr`] at `path`.
fn zarr_error<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> ArrayError + '_ {
    move |e| ArrayError::Zarr {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ArrayError + '_ {
    move |source| ArrayError::ZarrIo {
        path: path.display().to_string(),
        source,
    }
}

/// Opens the Zarr v3 array whose `zarr.json` is in the folder `path`; on
/// failure, finds out what is there instead.
fn open_array(path: &Path) -> Result<FsArray, ArrayError> {
    let store = Arc::new(FilesystemStore::new(path).map_err(zarr_error(path))?);
    match Array::open_opt(store, "/", &MetadataRetrieveVersion::V3) {
        Ok(array) => Ok(array),
        Err(err) => Err(diagnose(path, &err.to_string())),
    }
}

/// Explains why `path` could not be opened as an array; `zarr_message` is
/// the library's error, used when the metadata looks like an array's.
fn diagnose(path: &Path, zarr_message: &str) -> ArrayError {
    let not_array = |reason| ArrayError::NotAnArray {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return not_array(NotArrayReason::Missing),
        Err(e) => return io_error(path)(e),
        Ok(m) if !m.is_dir() => return not_array(NotArrayReason::NotAFolder),
        Ok(_) => {}
    }
    let text = match std::fs::read(path.join("zarr.json")) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return not_array(if path.join(".zarray").is_file() {
                NotArrayReason::ZarrV2Array
            } else if path.join(".zgroup").is_file() {
                NotArrayReason::ZarrV2Group
            } else {
                NotArrayReason::NoMetadata
            });
        }
        Err(e) => return io_error(path)(e),
    };
    let json: serde_json::Value = match serde_json::from_slice(&text) {
        Ok(json) => json,
        Err(e) => return not_array(NotArrayReason::Unparsable(format!("not JSON: {e}"))),
    };
    let format = json.get("zarr_format").and_then(serde_json::Value::as_u64);
    let node_type = json.get("node_type").and_then(serde_json::Value::as_str);
    match (format, node_type) {
        (Some(3), Some("group")) => not_array(NotArrayReason::Group),
        (Some(3), Some("array")) => zarr_error(path)(zarr_message),
        (Some(3), other) => not_array(NotArrayReason::Unparsable(format!(
            "node_type is {other:?}, not \"array\""
        ))),
        (other, _) => not_array(NotArrayReason::Unparsable(format!(
            "zarr_format is {other:?}, not 3"
        ))),
    }
}

/// Shape, regular chunk shape and data type name of an opened array.
fn describe(path: &Path, array: &FsArray) -> Result<ZarrMeta, ArrayError> {
    let ArrayMetadata::V3(meta) = array.metadata() else {
        return Err(ArrayError::NotAnArray {
            path: path.display().to_string(),
            reason: NotArrayReason::ZarrV2Array,
        });
    };
    if meta.chunk_grid.name() != "regular" {
        return Err(ArrayError::IrregularChunks {
            path: path.display().to_string(),
            grid: meta.chunk_grid.name().to_owned(),
        });
    }
    let grid: RegularChunkGridConfiguration = meta
        .chunk_grid
        .to_configuration()
        .map_err(zarr_error(path))?;
    Ok(ZarrMeta {
        shape: array.shape().to_vec(),
        chunk_shape: grid.chunk_shape.iter().map(|n| n.get()).collect(),
        dtype: meta.data_type.name().to_owned(),
    })
}

fn check_dtype<T: ZarrElement>(path: &Path, array: &FsArray) -> Result<(), ArrayError> {
    let stored = match array.metadata() {
        ArrayMetadata::V3(meta) => meta.data_type.name(),
        ArrayMetadata::V2(_) => "",
    };
    if stored == T::ZARR_TYPE {
        Ok(())
    } else {
        Err(ArrayError::ZarrDtypeMismatch {
            path: path.display().to_string(),
            stored: stored.to_owned(),
            requested: std::any::type_name::<T>(),
        })
    }
}

/// The region `[start, start + shape)` as ranges, checked to lie inside the array.
fn region(
    path: &Path,
    array: &FsArray,
    start: &[u64],
    shape: &[u64],
) -> Result<Vec<std::ops::Range<u64>>, ArrayError> {
    let array_shape = array.shape();
    if start.len() != array_shape.len() {
        return Err(ArrayError::ZarrDimensionMismatch {
            path: path.display().to_string(),
            what: "start",
            got: start.len(),
            expected: array_shape.len(),
        });
    }
    let ranges: Option<Vec<_>> = start
        .iter()
        .zip(shape)
        .zip(array_shape)
        .map(|((&s, &n), &len)| s.checked_add(n).filter(|&end| end <= len).map(|end| s..end))
        .collect();
    ranges.ok_or_else(|| ArrayError::ZarrOutOfBounds {
        path: path.display().to_string(),
        start: start.to_vec(),
        shape: shape.to_vec(),
        array_shape: array_shape.to_vec(),
    })
}

/// Makes `path` an empty folder for a new array, as [`create`] documents.
fn prepare_folder(path: &Path, overwrite: bool) -> Result<(), ArrayError> {
    let io = io_error(path);
    let exists = |detail: &str| ArrayError::AlreadyExists {
        path: path.display().to_string(),
        detail: detail.to_owned(),
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return std::fs::create_dir_all(path).map_err(io);
        }
        Err(e) => return Err(io(e)),
        Ok(m) if !m.is_dir() => {
            return Err(exists(
                "it is a file; it is never replaced, even with overwrite",
            ));
        }
        Ok(_) => {}
    }
    let mut entries = std::fs::read_dir(path).map_err(&io)?.peekable();
    if entries.peek().is_none() {
        return Ok(());
    }
    let is_zarr = ["zarr.json", ".zarray", ".zgroup"]
        .iter()
        .any(|name| path.join(name).is_file());
    if !is_zarr {
        return Err(exists(
            "it is a non-empty folder that is not a Zarr store; it is never deleted, even with overwrite",
        ));
    }
    if !overwrite {
        return Err(exists(
            "it holds a Zarr array or group; set overwrite to replace it",
        ));
    }
    for entry in entries {
        let entry = entry.map_err(&io)?;
        let file_type = entry.file_type().map_err(&io)?;
        let entry_path = entry.path();
        let removed = if file_type.is_dir() {
            std::fs::remove_dir_all(&entry_path)
        } else {
            std::fs::remove_file(&entry_path)
        };
        removed.map_err(io_error(&entry_path))?;
    }
    Ok(())
}
