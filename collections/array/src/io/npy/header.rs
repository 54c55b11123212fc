//! The `.npy` header: magic string, version, length and the Python dict
//! literal describing the array.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::ArrayError;
use crate::io::npy::element::itemsize;

/// The magic string every `.npy` file starts with.
pub(crate) const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The data start is aligned to this many bytes.
const ALIGN: usize = 64;

/// Longest header this crate reads: far above anything NumPy writes for the
/// dtypes supported here, and low enough that a lying length field cannot
/// make us allocate much.
const MAX_HEADER_LEN: usize = 16 << 20;

/// Deepest nesting of the header dict literal accepted.
const MAX_DEPTH: usize = 16;

/// The parsed header of an `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The dtype as NumPy spells it, e.g. `<f8`.
    pub descr: String,
    /// Whether the data is stored in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array's shape; empty for a 0-d array.
    pub shape: Vec<usize>,
    /// Byte offset of the first element in the file.
    pub data_offset: u64,
}

impl NpyHeader {
    /// The number of elements, or `None` if it overflows `usize`.
    pub fn element_count(&self) -> Option<usize> {
        element_count(&self.shape)
    }
}

/// The product of `shape`, or `None` on overflow.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n))
}

/// Total file length (header plus data) for `count` elements of `size` bytes
/// starting at `data_offset`, or `None` on overflow.
pub(crate) fn file_len_for(data_offset: u64, count: usize, size: usize) -> Option<u64> {
    let data = u64::try_from(count.checked_mul(size)?).ok()?;
    data_offset.checked_add(data)
}

/// Encodes a complete header (magic to final newline) for a C- or
/// Fortran-order array: version 1.0 when the header fits in 65535 bytes,
/// else 2.0, padded with spaces to a multiple of 64 bytes.
pub(crate) fn encode_header(descr: &str, fortran_order: bool, shape: &[usize]) -> Vec<u8> {
    let shape_repr = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(ToString::to_string).collect();
            format!("({})", parts.join(", "))
        }
    };
    let fortran = if fortran_order { "True" } else { "False" };
    let dict =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_repr}, }}");
    for (major, prefix) in [(1u8, 10usize), (2u8, 12usize)] {
        let unpadded = prefix + dict.len() + 1;
        let total = unpadded.div_ceil(ALIGN) * ALIGN;
        let header_len = total - prefix;
        if major == 1 && header_len > usize::from(u16::MAX) {
            continue;
        }
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            // Checked just above.
            let len = u16::try_from(header_len).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
        } else {
            let len = u32::try_from(header_len).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.resize(total - 1, b' ');
        out.push(b'\n');
        return out;
    }
    // Unreachable in practice: a 4 GiB shape literal cannot be built.
    Vec::new()
}

/// Opens `path` for reading.
pub(crate) fn open(path: &Path) -> Result<File, ArrayError> {
    File::open(path).map_err(|e| ArrayError::io(path, e))
}

/// Reads the header of `path`.
///
/// The header is checked against the file: the file must be long enough to
/// hold every element the header's shape describes (when the dtype's item
/// size is known), so a lying header cannot lead to a huge allocation later.
///
/// # Errors
/// [`ArrayError::Io`], [`ArrayError::NotNpy`],
/// [`ArrayError::UnsupportedVersion`], [`ArrayError::BadHeader`] or
/// [`ArrayError::Truncated`].
pub fn read_header(path: &Path) -> Result<NpyHeader, ArrayError> {
    let file = open(path)?;
    read_header_from(&file, path)
}

/// Reads and checks the header of the open `file` (see [`read_header`]).
pub(crate) fn read_header_from(file: &File, path: &Path) -> Result<NpyHeader, ArrayError> {
    let file_len = file.metadata().map_err(|e| ArrayError::io(path, e))?.len();
    let mut prefix = [0u8; 12];
    let available = usize::try_from(file_len.min(12)).unwrap_or(12);
    let prefix = &mut prefix[..available];
    file.read_exact_at(prefix, 0)
        .map_err(|e| ArrayError::io(path, e))?;
    let prefix = &*prefix;

    if prefix.len() < MAGIC.len() || prefix[..MAGIC.len()] != MAGIC[..] {
        if !prefix.is_empty() && MAGIC.starts_with(prefix) {
            return Err(ArrayError::bad_header(
                path,
                "the file ends inside the magic string",
            ));
        }
        let what = if prefix.is_empty() {
            "the file is empty".to_string()
        } else {
            let shown: String = prefix[..prefix.len().min(MAGIC.len())]
                .iter()
                .flat_map(|b| std::ascii::escape_default(*b))
                .map(char::from)
                .collect();
            format!("it starts with \"{shown}\", not \"\\x93NUMPY\"")
        };
        return Err(ArrayError::NotNpy {
            path: path.to_path_buf(),
            what,
        });
    }
    let (Some(&major), Some(&minor)) = (prefix.get(6), prefix.get(7)) else {
        return Err(ArrayError::bad_header(
            path,
            "the file ends before the version bytes",
        ));
    };
    let len_size = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(ArrayError::UnsupportedVersion {
                path: path.to_path_buf(),
                major,
                minor,
            });
        }
    };
    let header_start = 8 + len_size;
    let Some(len_bytes) = prefix.get(8..header_start) else {
        return Err(ArrayError::bad_header(
            path,
            "the file ends inside the header length field",
        ));
    };
    let header_len = match *len_bytes {
        [a, b] => usize::from(u16::from_le_bytes([a, b])),
        [a, b, c, d] => usize::try_from(u32::from_le_bytes([a, b, c, d])).unwrap_or(usize::MAX),
        _ => 0,
    };
    if header_len > MAX_HEADER_LEN {
        return Err(ArrayError::bad_header(
            path,
            format!(
                "the header length field says {header_len} bytes, more than the {MAX_HEADER_LEN} accepted"
            ),
        ));
    }
    // Both are small: header_start <= 12, header_len <= MAX_HEADER_LEN.
    let data_offset = (header_start + header_len) as u64;
    if data_offset > file_len {
        return Err(ArrayError::bad_header(
            path,
            format!(
                "the header is truncated: its length field says it ends at byte {data_offset} but the file has {file_len} bytes"
            ),
        ));
    }
    let mut raw = vec![0u8; header_len];
    file.read_exact_at(&mut raw, header_start as u64)
        .map_err(|e| ArrayError::io(path, e))?;
    let text = if major == 3 {
        String::from_utf8(raw)
            .map_err(|_| ArrayError::bad_header(path, "the header is not valid UTF-8"))?
    } else {
        // Versions 1.0 and 2.0 are latin-1.
        raw.iter().map(|&b| char::from(b)).collect()
    };
    let (descr, fortran_order, shape) =
        parse_dict(&text).map_err(|what| ArrayError::bad_header(path, what))?;
    let header = NpyHeader {
        descr,
        fortran_order,
        shape,
        data_offset,
    };
    let Some(count) = header.element_count() else {
        return Err(ArrayError::bad_header(
            path,
            format!(
                "the shape {:?} has more elements than fit in memory",
                header.shape
            ),
        ));
    };
    if let Some(size) = itemsize(&header.descr) {
        let Some(expected) = file_len_for(data_offset, count, size) else {
            return Err(ArrayError::bad_header(
                path,
                format!(
                    "the shape {:?} describes more bytes than a file can hold",
                    header.shape
                ),
            ));
        };
        if expected > file_len {
            return Err(ArrayError::Truncated {
                path: path.to_path_buf(),
                expected,
                actual: file_len,
            });
        }
    }
    Ok(header)
}

/// A value of the Python literal subset used in headers.
#[derive(Debug, Clone, PartialEq)]
enum PyValue {
    Str(String),
    Bool(bool),
    None,
    Int(i128),
    Tuple(Vec<PyValue>),
    List(Vec<PyValue>),
    Dict(Vec<(String, PyValue)>),
}

impl PyValue {
    /// A short description of the value's kind, for messages.
    fn kind(&self) -> &'static str {
        match self {
            Self::Str(_) => "a string",
            Self::Bool(_) => "a bool",
            Self::None => "None",
            Self::Int(_) => "an integer",
            Self::Tuple(_) => "a tuple",
            Self::List(_) => "a list",
            Self::Dict(_) => "a dict",
        }
    }
}

/// Parses the header dict into `(descr, fortran_order, shape)`; the error
/// says which part is wrong.
pub(crate) fn parse_dict(text: &str) -> Result<(String, bool, Vec<usize>), String> {
    let mut parser = Parser { s: text, pos: 0 };
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(format!(
            "unexpected text after the header dict at byte {}",
            parser.pos
        ));
    }
    let PyValue::Dict(entries) = value else {
        return Err(format!("the header is {}, not a dict", value.kind()));
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (key, value) in entries {
        match key.as_str() {
            "descr" => {
                descr = Some(match value {
                    PyValue::Str(s) => s,
                    PyValue::List(_) => {
                        return Err("'descr' is a structured dtype, which is not supported".into());
                    }
                    other => return Err(format!("'descr' is {}, not a string", other.kind())),
                });
            }
            "fortran_order" => {
                fortran = Some(match value {
                    PyValue::Bool(b) => b,
                    other => {
                        return Err(format!("'fortran_order' is {}, not a bool", other.kind()));
                    }
                });
            }
            "shape" => {
                let PyValue::Tuple(items) = value else {
                    return Err(format!("'shape' is {}, not a tuple", value.kind()));
                };
                let dims = items
                    .iter()
                    .map(|item| match item {
                        PyValue::Int(n) => usize::try_from(*n)
                            .map_err(|_| format!("'shape' has the invalid length {n}")),
                        other => Err(format!("'shape' holds {}, not an integer", other.kind())),
                    })
                    .collect::<Result<Vec<usize>, String>>()?;
                shape = Some(dims);
            }
            other => return Err(format!("unexpected key {other:?} in the header dict")),
        }
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        (None, _, _) => Err("the key 'descr' is missing".into()),
        (_, None, _) => Err("the key 'fortran_order' is missing".into()),
        (_, _, None) => Err("the key 'shape' is missing".into()),
    }
}

/// A recursive-descent parser for the Python literals NumPy writes.
struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn error(&self, expected: &str) -> String {
        match self.s[self.pos..].chars().next() {
            Some(c) => format!(
                "garbage in the header dict at byte {}: expected {expected}, found {c:?}",
                self.pos
            ),
            None => format!("the header dict ends early: expected {expected}"),
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "the header dict nests deeper than {MAX_DEPTH} levels"
            ));
        }
        self.skip_ws();
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(PyValue::Str),
            Some(b'(') => {
                let (items, trailing_comma) = self.sequence(b')', depth)?;
                // `(3)` is just 3 in Python; `(3,)` is a tuple.
                if items.len() == 1 && !trailing_comma {
                    Ok(items.into_iter().next().unwrap_or(PyValue::None))
                } else {
                    Ok(PyValue::Tuple(items))
                }
            }
            Some(b'[') => Ok(PyValue::List(self.sequence(b']', depth)?.0)),
            Some(b'{') => self.dict(depth),
            Some(b'0'..=b'9' | b'-' | b'+') => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    "True" => Ok(PyValue::Bool(true)),
                    "False" => Ok(PyValue::Bool(false)),
                    "None" => Ok(PyValue::None),
                    word => Err(format!(
                        "garbage in the header dict at byte {start}: unknown name {word:?}"
                    )),
                }
            }
            _ => Err(self.error("a value")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let Some(quote) = self.peek() else {
            return Err(self.error("a string"));
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.s[self.pos..].chars().next() else {
                return Err("the header dict ends inside a string".into());
            };
            self.pos += c.len_utf8();
            match c {
                c if c as u32 == u32::from(quote) => return Ok(out),
                '\\' => {
                    let Some(e) = self.s[self.pos..].chars().next() else {
                        return Err("the header dict ends inside a string".into());
                    };
                    self.pos += e.len_utf8();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        '\\' | '\'' | '"' => e,
                        other => {
                            return Err(format!("unsupported escape \\{other} in a header string"));
                        }
                    });
                }
                '\n' => return Err("a header string runs past the end of the line".into()),
                c => out.push(c),
            }
        }
    }

    fn int(&mut self) -> Result<PyValue, String> {
        let start = self.pos;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let mut n: i128 = 0;
        let mut digits = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(i128::from(c - b'0')))
                .ok_or_else(|| format!("the integer at byte {start} of the header is too large"))?;
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            return Err(self.error("a digit"));
        }
        // Python 2 long suffix, found in files written by old NumPy versions.
        if matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        Ok(PyValue::Int(if negative { -n } else { n }))
    }

    /// Parses `open item, item, ... close`; returns whether a comma trailed.
    fn sequence(&mut self, close: u8, depth: usize) -> Result<(Vec<PyValue>, bool), String> {
        self.pos += 1;
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, trailing_comma));
            }
            if !items.is_empty() && !trailing_comma {
                return Err(self.error(&format!("',' or '{}'", char::from(close))));
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            trailing_comma = self.peek() == Some(b',');
            if trailing_comma {
                self.pos += 1;
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<PyValue, String> {
        self.pos += 1;
        let mut entries: Vec<(String, PyValue)> = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(PyValue::Dict(entries));
                }
                Some(b'\'' | b'"') => {}
                _ => return Err(self.error("a string key or '}'")),
            }
            let key = self.string()?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(format!("the key {key:?} appears twice in the header dict"));
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("':'"));
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.error("',' or '}'")),
            }
        }
    }
}
