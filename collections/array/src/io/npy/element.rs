//! Element types an `.npy` file can hold, and NumPy's names for dtypes.

use std::path::PathBuf;

use crate::error::ArrayError;

/// Element types the files can hold.
///
/// Values are stored little-endian, as NumPy writes them on every common
/// platform.
pub trait NpyElement: Copy + Send + Sync + 'static {
    /// NumPy's little-endian `descr` of the type, e.g. `"<f8"` or `"|b1"`.
    const DESCR: &'static str;
    /// The Rust name of the type, e.g. `"f64"`, for messages.
    const RUST_NAME: &'static str;
    /// Bytes per element in the file.
    const SIZE: usize;
    /// A value to fill buffers with before they are read into.
    const ZERO: Self;

    /// Appends the raw little-endian bytes of `values` to `out`.
    fn write_le(values: &[Self], out: &mut Vec<u8>);

    /// Decodes `bytes` (exactly `out.len() * SIZE` raw little-endian bytes)
    /// into `out`.
    ///
    /// # Errors
    /// [`ArrayError::InvalidData`] (with an empty path) when `bytes` has the
    /// wrong length, or for `bool`, a byte other than 0 or 1.
    fn read_le(bytes: &[u8], out: &mut [Self]) -> Result<(), ArrayError>;
}

/// Checks that a byte buffer holds exactly `n` elements of `size` bytes.
fn check_len(bytes: usize, n: usize, size: usize) -> Result<(), ArrayError> {
    if n.checked_mul(size) == Some(bytes) {
        Ok(())
    } else {
        Err(ArrayError::InvalidData {
            path: PathBuf::new(),
            what: format!("{bytes} bytes cannot hold exactly {n} elements of {size} bytes"),
        })
    }
}

macro_rules! impl_number {
    ($t:ty, $descr:literal, $n:literal) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $descr;
            const RUST_NAME: &'static str = stringify!($t);
            const SIZE: usize = $n;
            const ZERO: Self = 0 as $t;

            fn write_le(values: &[Self], out: &mut Vec<u8>) {
                let start = out.len();
                // A slice in memory never spans more than isize::MAX bytes.
                out.resize(start + values.len() * $n, 0);
                let (chunks, _) = out[start..].as_chunks_mut::<$n>();
                for (chunk, value) in chunks.iter_mut().zip(values) {
                    *chunk = value.to_le_bytes();
                }
            }

            fn read_le(bytes: &[u8], out: &mut [Self]) -> Result<(), ArrayError> {
                check_len(bytes.len(), out.len(), $n)?;
                let (chunks, _) = bytes.as_chunks::<$n>();
                for (value, chunk) in out.iter_mut().zip(chunks) {
                    *value = <$t>::from_le_bytes(*chunk);
                }
                Ok(())
            }
        }
    };
}

impl_number!(f64, "<f8", 8);
impl_number!(f32, "<f4", 4);
impl_number!(i64, "<i8", 8);
impl_number!(i32, "<i4", 4);
impl_number!(u64, "<u8", 8);
impl_number!(u32, "<u4", 4);
impl_number!(u8, "|u1", 1);
impl_number!(i8, "|i1", 1);

impl NpyElement for bool {
    const DESCR: &'static str = "|b1";
    const RUST_NAME: &'static str = "bool";
    const SIZE: usize = 1;
    const ZERO: Self = false;

    fn write_le(values: &[Self], out: &mut Vec<u8>) {
        out.extend(values.iter().map(|&v| u8::from(v)));
    }

    fn read_le(bytes: &[u8], out: &mut [Self]) -> Result<(), ArrayError> {
        check_len(bytes.len(), out.len(), 1)?;
        for (value, &byte) in out.iter_mut().zip(bytes) {
            *value = match byte {
                0 => false,
                1 => true,
                other => {
                    return Err(ArrayError::InvalidData {
                        path: PathBuf::new(),
                        what: format!("byte {other:#04x} is not a bool (only 0 and 1 are)"),
                    });
                }
            };
        }
        Ok(())
    }
}

/// `descr` in the spelling this crate uses: one-byte types get the `|`
/// byte order (NumPy accepts `<u1` too), and `=` (native) becomes `<` or `>`.
pub(crate) fn normalize_descr(descr: &str) -> String {
    let Some(order) = descr.chars().next() else {
        return String::new();
    };
    let rest = &descr[order.len_utf8()..];
    let one_byte = matches!(rest, "u1" | "i1" | "b1");
    match order {
        '<' | '>' | '|' | '=' if one_byte => format!("|{rest}"),
        '=' if cfg!(target_endian = "little") => format!("<{rest}"),
        '=' => format!(">{rest}"),
        _ => descr.to_string(),
    }
}

/// Itemsize of a simple dtype `descr` such as `<f8` or `<U5`, if it is one.
pub(crate) fn itemsize(descr: &str) -> Option<usize> {
    let mut chars = descr.chars();
    if !matches!(chars.next(), Some('<' | '>' | '|' | '=')) {
        return None;
    }
    let kind = chars.next()?;
    let digits = chars.as_str();
    if !kind.is_ascii_alphabetic()
        || digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    if kind == 'U' {
        n.checked_mul(4)
    } else {
        Some(n)
    }
}

/// The supported Rust element type stored as `descr`, if any.
pub(crate) fn rust_name(descr: &str) -> Option<&'static str> {
    let normalized = normalize_descr(descr);
    [
        (f64::DESCR, f64::RUST_NAME),
        (f32::DESCR, f32::RUST_NAME),
        (i64::DESCR, i64::RUST_NAME),
        (i32::DESCR, i32::RUST_NAME),
        (u64::DESCR, u64::RUST_NAME),
        (u32::DESCR, u32::RUST_NAME),
        (u8::DESCR, u8::RUST_NAME),
        (i8::DESCR, i8::RUST_NAME),
        (bool::DESCR, bool::RUST_NAME),
    ]
    .into_iter()
    .find_map(|(d, name)| (d == normalized).then_some(name))
}

/// NumPy's name for `descr`, e.g. `int32` for `<i4`, `big-endian float64`
/// for `>f8`; `unrecognized dtype` when it is not a simple dtype.
pub(crate) fn numpy_name(descr: &str) -> String {
    let normalized = normalize_descr(descr);
    let Some(size) = itemsize(&normalized) else {
        return "unrecognized dtype".to_string();
    };
    let mut chars = normalized.chars();
    let order = chars.next();
    let kind = chars.next();
    let bits = size.saturating_mul(8);
    let base = match kind {
        Some('f') => format!("float{bits}"),
        Some('i') => format!("int{bits}"),
        Some('u') => format!("uint{bits}"),
        Some('c') => format!("complex{bits}"),
        Some('b') if size == 1 => "bool".to_string(),
        Some('S') => format!("bytes{size}"),
        Some('U') => format!("str{}", size / 4),
        Some('V') => format!("void{size}"),
        _ => return "unrecognized dtype".to_string(),
    };
    if order == Some('>') {
        format!("big-endian {base}")
    } else {
        base
    }
}

/// The [`ArrayError::DtypeMismatch`] for a file holding `found` read as `T`.
pub(crate) fn dtype_mismatch<T: NpyElement>(path: &std::path::Path, found: &str) -> ArrayError {
    let hint = match rust_name(found) {
        Some(name) => format!("read it as {name} or convert after reading"),
        None => "that dtype is not supported here; convert the file with NumPy \
                 (e.g. `np.save(p, np.load(p).astype('<f8'))`) first"
            .to_string(),
    };
    ArrayError::DtypeMismatch {
        path: path.to_path_buf(),
        found: found.to_string(),
        found_name: numpy_name(found),
        expected: T::RUST_NAME,
        hint,
    }
}

/// Whether a file whose `descr` is `found` holds `T` values.
pub(crate) fn descr_matches<T: NpyElement>(found: &str) -> bool {
    normalize_descr(found) == T::DESCR
}
