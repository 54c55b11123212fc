//! Byte sizes: `128MiB`, `1.5 GB`, `1e9`.

use std::fmt;
use std::str::FromStr;

use super::{Number, parse_error, parse_number, split_unit};
use crate::error::{Error, Result};

/// A number of bytes, written with a decimal or a binary unit.
///
/// Parsing accepts a number (whole, decimal or with an exponent), optional
/// spaces, and a unit, case-insensitively:
///
/// | unit | bytes | | unit | bytes |
/// |---|---|---|---|---|
/// | (none), `B` | 1 | | | |
/// | `kB`, `k` | 1000 | | `KiB`, `Ki` | 1024 |
/// | `MB`, `M` | 1000² | | `MiB`, `Mi` | 1024² |
/// | `GB`, `G` | 1000³ | | `GiB`, `Gi` | 1024³ |
/// | `TB`, `T` | 1000⁴ | | `TiB`, `Ti` | 1024⁴ |
/// | `PB`, `P` | 1000⁵ | | `PiB`, `Pi` | 1024⁵ |
/// | `EB`, `E` | 1000⁶ | | `EiB`, `Ei` | 1024⁶ |
///
/// A fractional number of bytes is rounded down. `Display` writes the
/// shortest exact form, preferring binary units, so it parses back to the
/// same size:
///
/// ```
/// use barrow_config::ByteSize;
///
/// let size: ByteSize = "128MiB".parse()?;
/// assert_eq!(size.as_u64(), 128 * 1024 * 1024);
/// assert_eq!(size.to_string(), "128MiB");
/// assert_eq!("1.5 GB".parse::<ByteSize>()?.to_string(), "1500MB");
/// assert_eq!("1e9".parse::<ByteSize>()?, ByteSize::gb(1));
/// assert_eq!("64 KiB".parse::<ByteSize>()?, ByteSize::kib(64));
/// assert_eq!("1000".parse::<ByteSize>()?.to_string(), "1kB");
/// assert!("12 lots".parse::<ByteSize>().is_err());
/// # Ok::<(), barrow_config::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(u64);

const KIB: u64 = 1024;
const KB: u64 = 1000;

/// Binary units, largest first, with their sizes.
const BINARY: [(&str, u64); 6] = [
    ("EiB", KIB.pow(6)),
    ("PiB", KIB.pow(5)),
    ("TiB", KIB.pow(4)),
    ("GiB", KIB.pow(3)),
    ("MiB", KIB.pow(2)),
    ("KiB", KIB),
];

/// Decimal units, largest first, with their sizes.
const DECIMAL: [(&str, u64); 6] = [
    ("EB", KB.pow(6)),
    ("PB", KB.pow(5)),
    ("TB", KB.pow(4)),
    ("GB", KB.pow(3)),
    ("MB", KB.pow(2)),
    ("kB", KB),
];

impl ByteSize {
    /// `bytes` bytes.
    pub const fn b(bytes: u64) -> ByteSize {
        ByteSize(bytes)
    }

    /// `n` kilobytes (1000 bytes each).
    pub const fn kb(n: u64) -> ByteSize {
        ByteSize(n * KB)
    }

    /// `n` megabytes (1000² bytes each).
    pub const fn mb(n: u64) -> ByteSize {
        ByteSize(n * KB * KB)
    }

    /// `n` gigabytes (1000³ bytes each).
    pub const fn gb(n: u64) -> ByteSize {
        ByteSize(n * KB * KB * KB)
    }

    /// `n` kibibytes (1024 bytes each).
    pub const fn kib(n: u64) -> ByteSize {
        ByteSize(n * KIB)
    }

    /// `n` mebibytes (1024² bytes each).
    pub const fn mib(n: u64) -> ByteSize {
        ByteSize(n * KIB * KIB)
    }

    /// `n` gibibytes (1024³ bytes each).
    pub const fn gib(n: u64) -> ByteSize {
        ByteSize(n * KIB * KIB * KIB)
    }

    /// The number of bytes.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl From<u64> for ByteSize {
    fn from(bytes: u64) -> ByteSize {
        ByteSize(bytes)
    }
}

impl From<ByteSize> for u64 {
    fn from(size: ByteSize) -> u64 {
        size.0
    }
}

fn unit_size(unit: &str) -> Option<u64> {
    let unit = unit.to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    if unit.is_empty() {
        return Some(1);
    }
    let (prefix, base) = match unit.strip_suffix('i') {
        Some(prefix) => (prefix, KIB),
        None => (unit, KB),
    };
    let power = match prefix {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        _ => return None,
    };
    Some(base.pow(power))
}

impl FromStr for ByteSize {
    type Err = Error;

    fn from_str(text: &str) -> Result<ByteSize> {
        const WHAT: &str = "byte size";
        let (number, unit) = split_unit(text);
        let Some(multiplier) = unit_size(unit) else {
            return Err(parse_error(
                text,
                WHAT,
                &format!(
                    "unknown unit {unit:?}; use B, kB, MB, GB, TB, PB, EB or \
                     KiB, MiB, GiB, TiB, PiB, EiB"
                ),
            ));
        };
        let too_large = || parse_error(text, WHAT, "it is larger than 2^64 bytes");
        match parse_number(number, text, WHAT)? {
            Number::Whole(n) => n
                .checked_mul(multiplier)
                .map(ByteSize)
                .ok_or_else(too_large),
            Number::Fraction(x) => {
                let bytes = (x * multiplier as f64).floor();
                if bytes >= u64::MAX as f64 {
                    return Err(too_large());
                }
                // A whole number in 0..u64::MAX (checked above): the cast is exact.
                Ok(ByteSize(bytes as u64))
            }
        }
    }
}

/// The largest unit of `units` that divides `bytes` exactly.
fn exact_unit(bytes: u64, units: &[(&'static str, u64)]) -> Option<(&'static str, u64)> {
    units
        .iter()
        .find(|(_, size)| bytes.is_multiple_of(*size))
        .map(|&(unit, size)| (unit, bytes / size))
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        if bytes == 0 {
            return f.write_str("0B");
        }
        let form = match (exact_unit(bytes, &BINARY), exact_unit(bytes, &DECIMAL)) {
            (Some(binary), Some(decimal)) if decimal.1 < binary.1 => Some(decimal),
            (Some(binary), _) => Some(binary),
            (None, decimal) => decimal,
        };
        match form {
            Some((unit, count)) => write!(f, "{count}{unit}"),
            None => write!(f, "{bytes}B"),
        }
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    /// Accepts a text (`"64MiB"`) or a whole number of bytes.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ByteSize, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte size such as \"64MiB\" or a number of bytes")
            }
            fn visit_u64<E: serde::de::Error>(self, bytes: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(bytes))
            }
            fn visit_i64<E: serde::de::Error>(self, bytes: i64) -> Result<ByteSize, E> {
                u64::try_from(bytes).map(ByteSize).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ByteSize, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
