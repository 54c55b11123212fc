//! The error type of `barrow-array`.
//!
//! Public functions return [`barrow_core::Error`], the one error a
//! computation gives, so that array code and the `compute` that follows
//! share one `?`. An [`ArrayError`] travels inside it as its source, with the
//! kind [`ErrorKind::Io`] for file problems and [`ErrorKind::InvalidArgument`]
//! for the rest; `error.source_as::<ArrayError>()` recovers the details.

use std::fmt;
use std::path::{Path, PathBuf};

use barrow_core::{Error, ErrorKind};

/// What went wrong while building, computing, reading or writing an array.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ArrayError {
    /// Shapes that do not broadcast together.
    #[error(
        "operands could not be broadcast together with shapes {left:?} and {right:?} \
         (axis {axis} from the end has {left_len} and {right_len}; each axis must be equal \
         or 1 in one of them)"
    )]
    Broadcast {
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
        /// The axis that disagrees, counted from the last (0 = last).
        axis: usize,
        /// Its length in the first shape.
        left_len: usize,
        /// Its length in the second shape.
        right_len: usize,
    },
    /// Two arrays that must have the same shape do not.
    #[error("cannot {operation} arrays of shapes {left:?} and {right:?}: {hint}")]
    ShapeMismatch {
        /// The operation.
        operation: &'static str,
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
        /// What to do.
        hint: String,
    },
    /// An axis number past the array's dimensions.
    #[error("axis {axis} is out of range for an array of {ndim} dimensions (shape {shape:?})")]
    AxisOutOfRange {
        /// The axis given.
        axis: isize,
        /// The array's dimensions.
        ndim: usize,
        /// The array's shape.
        shape: Vec<usize>,
    },
    /// The same axis named twice.
    #[error("axis {axis} is repeated in {axes:?}: name each axis once")]
    RepeatedAxis {
        /// The repeated axis.
        axis: usize,
        /// All axes given.
        axes: Vec<usize>,
    },
    /// An index or slice outside the array.
    #[error("{message}")]
    OutOfRange {
        /// What was out of range, where, and the valid range.
        message: String,
    },
    /// Any other bad argument.
    #[error("{message}")]
    InvalidArgument {
        /// What was wrong and what to do.
        message: String,
    },
    /// A block of an unexpected shape reached a task: a `map_blocks` or
    /// `from_fn` function returned the wrong shape.
    #[error(
        "block {block:?} of {name} has shape {actual:?} but the array's chunks say {expected:?}: \
         {hint}"
    )]
    BlockShape {
        /// The array's name.
        name: String,
        /// The block index.
        block: Vec<usize>,
        /// The shape the chunks promise.
        expected: Vec<usize>,
        /// The shape the function returned.
        actual: Vec<usize>,
        /// What to do.
        hint: &'static str,
    },
    /// A reduction with nothing to reduce and no identity (min of an empty
    /// array, the mean of no elements).
    #[error("{operation} of an empty array (shape {shape:?}) has no value: {hint}")]
    EmptyReduction {
        /// The reduction.
        operation: &'static str,
        /// The shape of the array.
        shape: Vec<usize>,
        /// What to do.
        hint: &'static str,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The operating system refused an operation on the file.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The file does not start with the `.npy` magic string `\x93NUMPY`.
    #[error("{path} is not an .npy file: {what}", path = path.display())]
    NotNpy {
        /// The file.
        path: PathBuf,
        /// What was found instead of the magic string.
        what: String,
    },

    /// The file is an `.npy` file of a format version this crate does not read.
    #[error(
        "{path} uses .npy format version {major}.{minor}; only 1.0, 2.0 and 3.0 are supported",
        path = path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },

    /// The header is malformed: truncated, not a valid dictionary, missing
    /// keys, or describing an array the file cannot hold.
    #[error("{path} has a bad .npy header: {what}", path = path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// Which part of the header is wrong, and how.
        what: String,
    },

    /// The file holds elements of another type than the one asked for.
    #[error(
        "{path} holds {found} ({found_name}) values, not {expected}; {hint}",
        path = path.display()
    )]
    DtypeMismatch {
        /// The file.
        path: PathBuf,
        /// The file's `descr`, e.g. `<i4`.
        found: String,
        /// NumPy's name for it, e.g. `int32`.
        found_name: String,
        /// The Rust element type asked for, e.g. `f64`.
        expected: &'static str,
        /// What to do instead, e.g. `read it as i32 or convert after reading`.
        hint: String,
    },

    /// A region does not lie inside the array, or its rank differs from the
    /// array's.
    #[error(
        "{path}: the region starting at {start:?} with shape {shape:?} does not fit in the array of shape {array_shape:?}",
        path = path.display()
    )]
    OutOfBounds {
        /// The file.
        path: PathBuf,
        /// First index of the region along each axis.
        start: Vec<usize>,
        /// Extent of the region along each axis.
        shape: Vec<usize>,
        /// Shape of the whole array in the file.
        array_shape: Vec<usize>,
    },

    /// The file is shorter than its header says.
    #[error(
        "{path} is truncated: its header describes {expected} bytes (header and data) but the file has {actual}",
        path = path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises (header plus data).
        expected: u64,
        /// Bytes the file has.
        actual: u64,
    },

    /// The data holds a value that is not valid for the element type (a
    /// `bool` byte other than 0 or 1), or a byte buffer has the wrong length.
    #[error("{path}: invalid data: {what}", path = path.display())]
    InvalidData {
        /// The file (empty when the error comes from
        /// [`NpyElement::read_le`](crate::io::npy::NpyElement::read_le) on a
        /// bare buffer).
        path: PathBuf,
        /// What was wrong.
        what: String,
    },

    /// The caller asked for something impossible, such as a shape whose size
    /// overflows or a block whose rank differs from its start index.
    #[error("{path}: invalid request: {what}", path = path.display())]
    InvalidRequest {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// The chunks name a different number of axes than the shape has.
    #[error("chunks give {chunks} axes but the shape has {shape}")]
    DimensionMismatch {
        /// Axes in the chunk request.
        chunks: usize,
        /// Axes in the shape.
        shape: usize,
    },

    /// Explicit blocks along one axis do not add up to that axis' length.
    #[error(
        "chunks {} along axis {axis} add up to {sum}, but the shape has {expected} there; \
         the block sizes of each axis must add up to that axis' length",
        fmt_tuple(.blocks)
    )]
    SumMismatch {
        /// The axis.
        axis: usize,
        /// The blocks given for it.
        blocks: Vec<usize>,
        /// Their sum (wide so that it cannot overflow).
        sum: u128,
        /// The axis' length.
        expected: usize,
    },

    /// A chunk size of 0 for an axis that is not empty.
    #[error(
        "chunk size 0 along axis {axis}: chunk sizes must be positive (use -1 for the whole axis)"
    )]
    ZeroChunkSize {
        /// The axis.
        axis: usize,
    },

    /// An explicit block of size 0 on an axis that is not empty.
    #[error(
        "block {block} of chunks {} along axis {axis} has size 0: blocks must be positive \
         on an axis of length {length}; drop the empty block",
        fmt_tuple(.blocks)
    )]
    ZeroBlock {
        /// The axis.
        axis: usize,
        /// Position of the empty block.
        block: usize,
        /// The blocks given for the axis.
        blocks: Vec<usize>,
        /// The axis' length.
        length: usize,
    },

    /// An explicit, empty list of blocks.
    #[error(
        "no blocks given along axis {axis}: give at least one block size \
         (a zero-length axis is written (0,))"
    )]
    NoBlocks {
        /// The axis.
        axis: usize,
    },

    /// Several empty blocks on a zero-length axis.
    #[error(
        "chunks {} along axis {axis} split an axis of length 0; write it as one empty block, (0,)",
        fmt_tuple(.blocks)
    )]
    SplitEmptyAxis {
        /// The axis.
        axis: usize,
        /// The blocks given for it.
        blocks: Vec<usize>,
    },

    /// A negative chunk value other than -1.
    #[error(
        "chunk value {value}{}: use a positive size, -1 for the whole axis, or \"auto\"",
        fmt_axis(*.axis)
    )]
    InvalidChunkValue {
        /// The value given.
        value: i64,
        /// The axis, when the value was given for one axis only.
        axis: Option<usize>,
    },

    /// Two different byte targets in one request.
    #[error(
        "chunks ask for two byte targets, {} and {}: give one byte size for all \"auto\" axes",
        fmt_bytes(*.first),
        fmt_bytes(*.second)
    )]
    ConflictingByteTargets {
        /// The first target met.
        first: u64,
        /// The other one.
        second: u64,
    },

    /// Auto-chunking an array whose elements take no bytes.
    #[error(
        "\"auto\" chunks need the size of one element, but the item size is 0 bytes; \
         give explicit chunks for this element type"
    )]
    ZeroItemsize,

    /// The byte target cannot be met even with one element along every "auto" axis.
    #[error(
        "\"auto\" chunks cannot reach {} with {itemsize}-byte items: {}",
        fmt_bytes(*.limit),
        unreachable_reason(*.limit, *.itemsize, *.fixed_elements)
    )]
    AutoLimitUnreachable {
        /// The byte target.
        limit: u64,
        /// Bytes per element.
        itemsize: usize,
        /// Elements in the largest block of the axes that are not "auto" (1 if none).
        fixed_elements: u128,
    },

    /// Previous chunks (the hint for "auto") name a different number of axes.
    #[error(
        "previous chunks give {previous} axes but the shape has {shape}; \
         pass the chunks of an array of this shape"
    )]
    PreviousDimensionMismatch {
        /// Axes in the previous chunks.
        previous: usize,
        /// Axes in the shape.
        shape: usize,
    },

    /// Previous chunks (the hint for "auto") do not cover an axis.
    #[error(
        "previous chunks {} along axis {axis} add up to {sum}, but the shape has {expected} there; \
         pass the chunks of an array of this shape, or one positive block size for the axis",
        fmt_tuple(.blocks)
    )]
    PreviousSumMismatch {
        /// The axis.
        axis: usize,
        /// The previous blocks along it.
        blocks: Vec<usize>,
        /// Their sum.
        sum: u128,
        /// The axis' length.
        expected: usize,
    },

    /// Old and new chunks of a rechunk name different numbers of axes.
    #[error(
        "cannot rechunk: the old chunks have {old} axes but the new ones have {new}; \
         rechunking keeps the number of axes"
    )]
    RechunkDimensionMismatch {
        /// Axes of the old chunks.
        old: usize,
        /// Axes of the new chunks.
        new: usize,
    },

    /// Old and new chunks of a rechunk cover different lengths.
    #[error(
        "cannot rechunk along axis {axis}: the old chunks cover {old} elements but the new ones \
         cover {new}; rechunking keeps the shape"
    )]
    RechunkShapeMismatch {
        /// The axis.
        axis: usize,
        /// Length covered by the old chunks.
        old: u128,
        /// Length covered by the new chunks.
        new: u128,
    },

    /// A shape whose bytes do not fit in the address space: the product of
    /// its (nonzero) axis lengths times the item size passes `isize::MAX`,
    /// the limit NumPy and ndarray put on one array.
    #[error(
        "an array of shape {shape:?} of {dtype} would hold {} elements ({} bytes), more than \
         one array can address ({} bytes, isize::MAX, as in NumPy): use a smaller shape",
        fmt_wide(crate::size::wide_product(.shape)),
        fmt_wide(crate::size::wide_product(.shape).and_then(|n| n.checked_mul(*.itemsize as u128))),
        isize::MAX
    )]
    TooLarge {
        /// The shape (wide: an axis joined from several arrays may pass
        /// `usize`).
        shape: Vec<u128>,
        /// NumPy's name for the element type.
        dtype: &'static str,
        /// Bytes per element.
        itemsize: usize,
    },

    /// A chunk size so small that the axis would need more blocks than can be handled.
    #[error(
        "chunk size {size} along axis {axis} splits its {length} elements into {blocks} blocks, \
         more than the {limit} allowed per axis; use larger chunks"
    )]
    TooManyBlocks {
        /// The axis.
        axis: usize,
        /// The chunk size asked for.
        size: usize,
        /// The axis' length.
        length: usize,
        /// Blocks that would result.
        blocks: usize,
        /// The most blocks allowed along one axis.
        limit: usize,
    },

    /// The path does not name a Zarr v3 array; `reason` says what is there instead.
    #[error("{path} is not a Zarr array: {reason}; give the path of an array inside the store")]
    NotAnArray {
        /// The path given.
        path: String,
        /// What was found instead.
        reason: NotArrayReason,
    },
    /// The array's stored element type differs from the one asked for.
    #[error("{path} holds {stored} values, not {requested}")]
    ZarrDtypeMismatch {
        /// The array's path.
        path: String,
        /// The Zarr data type name stored in the array's metadata, e.g. `int32`.
        stored: String,
        /// The Rust element type asked for, e.g. `f64`.
        requested: &'static str,
    },
    /// A region does not lie inside the array.
    #[error(
        "region starting at {start:?} with shape {shape:?} is out of bounds of {path}, whose shape is {array_shape:?}"
    )]
    ZarrOutOfBounds {
        /// The array's path.
        path: String,
        /// The region's first index along each axis.
        start: Vec<u64>,
        /// The region's extent along each axis.
        shape: Vec<u64>,
        /// The array's shape.
        array_shape: Vec<u64>,
    },
    /// A region, block or chunk shape has a different number of axes than the array.
    #[error("{what} has {got} axes but {path} has {expected}")]
    ZarrDimensionMismatch {
        /// The array's path.
        path: String,
        /// What had the wrong number of axes (`"start"`, `"block"`, `"chunk shape"`, ...).
        what: &'static str,
        /// Its number of axes.
        got: usize,
        /// The array's number of axes.
        expected: usize,
    },
    /// The array's chunk grid is not a regular grid.
    #[error("{path} has a {grid:?} chunk grid; only regular chunk grids are supported")]
    IrregularChunks {
        /// The array's path.
        path: String,
        /// The chunk grid's name in the metadata.
        grid: String,
    },
    /// A compression name other than those supported.
    #[error(
        "unknown compression {name:?}: the supported one is \"zstd\" (or none, for uncompressed)"
    )]
    UnknownCompression {
        /// The name given.
        name: String,
    },
    /// An option or argument of `create` is invalid (zero chunk extent, compression level, fill value).
    #[error("invalid options for {path}: {message}")]
    InvalidOptions {
        /// The array's path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// `create` found something at the path that it will not replace.
    #[error("{path} already exists: {detail}")]
    AlreadyExists {
        /// The path given.
        path: String,
        /// What is there and what to do.
        detail: String,
    },
    /// A file-system error outside the Zarr library (inspecting or clearing the folder).
    #[error("{path}: {source}")]
    ZarrIo {
        /// The path concerned.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error of the underlying Zarr library, as text.
    #[error("Zarr error at {path}: {message}")]
    Zarr {
        /// The array's path.
        path: String,
        /// The library's message.
        message: String,
    },

    /// tsqr, qr or svd was asked for an array that is not chunked as one
    /// column of blocks.
    #[error(
        "the array has {} chunks along its columns (sizes {col_chunks:?}); tsqr/qr/svd need one: \
         call `.rechunk([{row_chunk}, {ncols}])` with the whole column axis in one chunk",
        col_chunks.len()
    )]
    NotTallSkinny {
        /// The chunk sizes along the column axis.
        col_chunks: Vec<usize>,
        /// The largest row chunk, kept as it is in the suggested rechunk.
        row_chunk: usize,
        /// The number of columns of the array (the one column chunk to ask for).
        ncols: usize,
    },
    /// An operation over blocks was given none.
    #[error("{operation} was given no blocks: {hint}")]
    NoBlocksFor {
        /// The operation.
        operation: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// A decomposition was given a NaN or an infinity.
    #[error(
        "{operation} of an array of shape {shape:?} found the non-finite value {value} at \
         [{row}, {col}]: remove or replace NaN and infinite values (for example with a \
         where/fillna step) before decomposing"
    )]
    NonFinite {
        /// The operation.
        operation: &'static str,
        /// The array's shape.
        shape: Vec<usize>,
        /// Row of the first non-finite value.
        row: usize,
        /// Column of the first non-finite value.
        col: usize,
        /// The value, as printed.
        value: String,
    },
    /// The numerical routine itself failed.
    #[error("{operation} of an array of shape {shape:?} failed: {reason}")]
    Decomposition {
        /// The operation.
        operation: &'static str,
        /// The array's shape.
        shape: Vec<usize>,
        /// Why, and what to do.
        reason: String,
    },
}

/// Prints what `Display` prints, then the causes (as `anyhow` does).
impl fmt::Debug for ArrayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        barrow_core::error::write_report(self, f)
    }
}

impl ArrayError {
    /// Returns the error with its path set to `path` if it had none (as the
    /// errors of [`NpyElement::read_le`](crate::io::npy::NpyElement::read_le) do).
    #[must_use]
    pub fn with_path(mut self, file: &Path) -> Self {
        match &mut self {
            Self::Io { path, .. }
            | Self::NotNpy { path, .. }
            | Self::UnsupportedVersion { path, .. }
            | Self::BadHeader { path, .. }
            | Self::DtypeMismatch { path, .. }
            | Self::OutOfBounds { path, .. }
            | Self::Truncated { path, .. }
            | Self::InvalidData { path, .. }
            | Self::InvalidRequest { path, .. }
                if path.as_os_str().is_empty() =>
            {
                *path = file.to_path_buf();
            }
            _ => {}
        }
        self
    }

    /// An [`ArrayError::Io`] for `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An [`ArrayError::BadHeader`] for `path`.
    pub(crate) fn bad_header(path: &Path, what: impl Into<String>) -> Self {
        Self::BadHeader {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// An [`ArrayError::InvalidRequest`] for `path`.
    pub(crate) fn invalid_request(path: &Path, what: impl Into<String>) -> Self {
        Self::InvalidRequest {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// The [`ErrorKind`] this error travels under.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArrayError::File { .. }
            | ArrayError::Io { .. }
            | ArrayError::NotNpy { .. }
            | ArrayError::UnsupportedVersion { .. }
            | ArrayError::BadHeader { .. }
            | ArrayError::DtypeMismatch { .. }
            | ArrayError::Truncated { .. }
            | ArrayError::InvalidData { .. }
            | ArrayError::NotAnArray { .. }
            | ArrayError::ZarrDtypeMismatch { .. }
            | ArrayError::ZarrIo { .. }
            | ArrayError::AlreadyExists { .. }
            | ArrayError::Zarr { .. } => ErrorKind::Io,
            _ => ErrorKind::InvalidArgument,
        }
    }
}

impl From<ArrayError> for Error {
    fn from(error: ArrayError) -> Error {
        Error::new(error.kind(), error.to_string()).with_source(error)
    }
}

/// An [`ArrayError::InvalidArgument`] as an [`Error`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    ArrayError::InvalidArgument {
        message: message.into(),
    }
    .into()
}

/// Formats block sizes the way Python prints a tuple: `(3, 3)`, `(3,)`, `()`.
pub(crate) fn fmt_tuple(blocks: &[usize]) -> String {
    match blocks {
        [only] => format!("({only},)"),
        _ => {
            let inner: Vec<String> = blocks.iter().map(usize::to_string).collect();
            format!("({})", inner.join(", "))
        }
    }
}

/// Formats a byte count with a binary unit, one decimal: `128.0 MiB`, `600 B`.
pub(crate) fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("PiB", 1 << 50),
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            return format!("{:.1} {unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes} B")
}

/// A wide count, or "more than 2^128" when even that overflowed.
fn fmt_wide(n: Option<u128>) -> String {
    n.map_or_else(|| "more than 2^128".to_owned(), |n| n.to_string())
}

fn fmt_axis(axis: Option<usize>) -> String {
    axis.map(|a| format!(" along axis {a}")).unwrap_or_default()
}

fn unreachable_reason(limit: u64, itemsize: usize, fixed_elements: u128) -> String {
    if itemsize as u128 > u128::from(limit) {
        format!(
            "the limit is smaller than a single element; raise it to at least {}",
            fmt_bytes(itemsize as u64)
        )
    } else {
        let bytes = fixed_elements.saturating_mul(itemsize as u128);
        let shown = u64::try_from(bytes).map_or_else(|_| format!("{bytes} B"), fmt_bytes);
        format!(
            "the axes with fixed chunks alone make blocks of {fixed_elements} elements ({shown}) \
             with one element along each \"auto\" axis; raise the limit, or make those axes \
             \"auto\" or smaller"
        )
    }
}

/// Why a path does not name a Zarr v3 array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotArrayReason {
    /// Nothing exists at the path.
    Missing,
    /// The path is a file, not a folder.
    NotAFolder,
    /// The folder has no `zarr.json` (and no Zarr v2 metadata either).
    NoMetadata,
    /// The folder's `zarr.json` describes a group, not an array.
    Group,
    /// The folder holds a Zarr v2 array (`.zarray`), which is not read here.
    ZarrV2Array,
    /// The folder holds a Zarr v2 group (`.zgroup`).
    ZarrV2Group,
    /// The folder's `zarr.json` is not valid Zarr v3 metadata; the text says why.
    Unparsable(String),
}

impl fmt::Display for NotArrayReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("the path does not exist"),
            Self::NotAFolder => f.write_str("it is a file, not a folder"),
            Self::NoMetadata => f.write_str("no zarr.json in the folder"),
            Self::Group => f.write_str("its zarr.json describes a group, not an array"),
            Self::ZarrV2Array => f.write_str(
                "it is a Zarr v2 array (.zarray); only Zarr v3 is supported, convert it first",
            ),
            Self::ZarrV2Group => f.write_str("it is a Zarr v2 group (.zgroup)"),
            Self::Unparsable(why) => {
                write!(f, "its zarr.json is not valid Zarr v3 metadata ({why})")
            }
        }
    }
}
