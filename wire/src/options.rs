//! How values are written: compression, its threshold, raw numeric buffers.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

/// How a frame's payload is compressed.
///
/// [`Compression::Lz4`] (pure Rust) is the default where compression is
/// wanted at all: about 2 GB/s even on incompressible floats, so it never
/// holds a writer up, and about 2× on text. [`Compression::Zstd`] compresses
/// text about 1.5× better than lz4 at a quarter of its speed; it needs the
/// `zstd` feature (a bundled C library).
///
/// Parses from `"none"`, `"lz4"`, `"zstd"` (level 1) or `"zstd:<level>"`:
///
/// ```
/// use barrow_wire::Compression;
///
/// assert_eq!("lz4".parse::<Compression>()?, Compression::Lz4);
/// assert_eq!("zstd:3".parse::<Compression>()?, Compression::Zstd { level: 3 });
/// assert!("gzip".parse::<Compression>().is_err());
/// # Ok::<(), barrow_wire::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Stored as is.
    #[default]
    None,
    /// lz4 block format (`lz4_flex`).
    Lz4,
    /// zstd at `level` (1 fastest … 22 smallest; 0 is zstd's default, 3).
    Zstd {
        /// The zstd compression level.
        level: i32,
    },
}

impl Compression {
    /// The byte written in a frame's header.
    pub(crate) fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd { .. } => 2,
        }
    }

    /// The compression of a header byte (a zstd level is not recorded: it
    /// does not matter for decompressing).
    pub(crate) fn from_code(code: u8) -> Option<Compression> {
        match code {
            0 => Some(Compression::None),
            1 => Some(Compression::Lz4),
            2 => Some(Compression::Zstd { level: 0 }),
            _ => None,
        }
    }

    /// Whether this build can write and read this compression.
    pub fn is_available(self) -> bool {
        match self {
            Compression::None | Compression::Lz4 => true,
            Compression::Zstd { .. } => cfg!(feature = "zstd"),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Lz4 => f.write_str("lz4"),
            Compression::Zstd { level } => write!(f, "zstd:{level}"),
        }
    }
}

impl FromStr for Compression {
    type Err = Error;

    fn from_str(text: &str) -> Result<Compression, Error> {
        let text = text.trim().to_ascii_lowercase();
        let (name, level) = match text.split_once(':') {
            Some((name, level)) => (name, Some(level)),
            None => (text.as_str(), None),
        };
        let bad = || {
            Error::new(
                ErrorKind::UnsupportedCompression,
                format!(
                    "unknown compression {text:?}: expected \"none\", \"lz4\", \"zstd\" or \
                     \"zstd:<level>\" (level 1 to 22)"
                ),
            )
        };
        match (name, level) {
            ("none", None) => Ok(Compression::None),
            ("lz4", None) => Ok(Compression::Lz4),
            ("zstd", None) => Ok(Compression::Zstd { level: 1 }),
            ("zstd", Some(level)) => match level.parse::<i32>() {
                Ok(level) if (0..=22).contains(&level) => Ok(Compression::Zstd { level }),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// How [`encode_with`](crate::encode_with) writes a value.
///
/// ```
/// use barrow_wire::{Compression, WireOptions};
///
/// let options = WireOptions::new().compression(Compression::Lz4).compress_above(64 << 10);
/// assert_eq!(options.compression_kind(), Compression::Lz4);
/// assert!(options.raw_numeric_enabled());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireOptions {
    compression: Compression,
    compress_above: usize,
    raw_numeric: bool,
}

impl Default for WireOptions {
    fn default() -> WireOptions {
        WireOptions {
            compression: Compression::None,
            compress_above: WireOptions::DEFAULT_COMPRESS_ABOVE,
            raw_numeric: true,
        }
    }
}

impl WireOptions {
    /// Payloads up to this many bytes are never compressed by default: the
    /// saving would not pay for the time.
    pub const DEFAULT_COMPRESS_ABOVE: usize = 64 << 10;

    /// No compression; raw buffers for vectors of numbers.
    pub fn new() -> WireOptions {
        WireOptions::default()
    }

    /// Compresses payloads larger than the threshold with `compression`.
    /// A compressed payload is kept only if it saves at least 1/16 of the
    /// size, so incompressible data costs nothing when read; and a payload
    /// over 256 KiB is tried on a 64 KiB sample from its start first, so
    /// incompressible data costs little when written.
    pub fn compression(mut self, compression: Compression) -> WireOptions {
        self.compression = compression;
        self
    }

    /// Compresses only payloads larger than `bytes` (default 64 KiB).
    pub fn compress_above(mut self, bytes: usize) -> WireOptions {
        self.compress_above = bytes;
        self
    }

    /// Writes `Vec`s of primitive numbers as raw little-endian buffers
    /// ([`RawVecCodec`](crate::RawVecCodec)) in place of the registry's
    /// codec for them (default on). Readers understand both either way.
    pub fn raw_numeric(mut self, on: bool) -> WireOptions {
        self.raw_numeric = on;
        self
    }

    /// The compression chosen.
    pub fn compression_kind(&self) -> Compression {
        self.compression
    }

    /// The size above which payloads are compressed.
    pub fn compress_above_bytes(&self) -> usize {
        self.compress_above
    }

    /// Whether raw buffers are written for vectors of numbers.
    pub fn raw_numeric_enabled(&self) -> bool {
        self.raw_numeric
    }
}
