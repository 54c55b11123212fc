//! Durations: `30s`, `5 min`, `100ms`, `2h`.

use std::fmt;
use std::str::FromStr;

use super::{Number, parse_error, parse_number, split_unit};
use crate::error::{Error, Result};

/// A span of time, written as a number and a unit.
///
/// Parsing accepts a number (whole or decimal), optional spaces, and a unit,
/// case-insensitively: `ns`; `us` or `µs`; `ms`; `s`, `sec`, `second(s)`;
/// `m`, `min`, `minute(s)`; `h`, `hr`, `hour(s)`; `d`, `day(s)`; `w`,
/// `week(s)`. A number without a unit is in seconds, as in Dask.
/// `Display` writes the largest unit that keeps the number whole, so it
/// parses back to the same duration:
///
/// ```
/// use barrow_config::Duration;
///
/// let timeout: Duration = "5 min".parse()?;
/// assert_eq!(timeout.as_std(), std::time::Duration::from_secs(300));
/// assert_eq!(timeout.to_string(), "5min");
/// assert_eq!("100ms".parse::<Duration>()?.to_string(), "100ms");
/// assert_eq!("90s".parse::<Duration>()?.to_string(), "90s");
/// assert_eq!("1.5h".parse::<Duration>()?.to_string(), "90min");
/// assert!("soon".parse::<Duration>().is_err());
/// # Ok::<(), barrow_config::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(std::time::Duration);

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Units `Display` may use, largest first, in nanoseconds.
const DISPLAY_UNITS: [(&str, u128); 7] = [
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("min", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

impl Duration {
    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Duration {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Duration {
        Duration(std::time::Duration::from_millis(millis))
    }

    /// The same span as a [`std::time::Duration`].
    pub const fn as_std(self) -> std::time::Duration {
        self.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(duration: std::time::Duration) -> Duration {
        Duration(duration)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(duration: Duration) -> std::time::Duration {
        duration.0
    }
}

fn unit_nanos(unit: &str) -> Option<u128> {
    let nanos = match unit.to_lowercase().as_str() {
        "ns" | "nanosecond" | "nanoseconds" => 1,
        "us" | "µs" | "microsecond" | "microseconds" => 1_000,
        "ms" | "millisecond" | "milliseconds" => 1_000_000,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => NANOS_PER_SEC,
        "m" | "min" | "mins" | "minute" | "minutes" => 60 * NANOS_PER_SEC,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600 * NANOS_PER_SEC,
        "d" | "day" | "days" => 86_400 * NANOS_PER_SEC,
        "w" | "week" | "weeks" => 7 * 86_400 * NANOS_PER_SEC,
        _ => return None,
    };
    Some(nanos)
}

fn from_nanos(nanos: u128) -> Option<Duration> {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).ok()?;
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).ok()?;
    Some(Duration(std::time::Duration::new(secs, subsec)))
}

impl FromStr for Duration {
    type Err = Error;

    fn from_str(text: &str) -> Result<Duration> {
        const WHAT: &str = "duration";
        let (number, unit) = split_unit(text);
        let Some(unit) = unit_nanos(unit) else {
            return Err(parse_error(
                text,
                WHAT,
                &format!("unknown unit {unit:?}; use ns, us, ms, s, min, h, d or w"),
            ));
        };
        let too_long = || parse_error(text, WHAT, "it is too long");
        match parse_number(number, text, WHAT)? {
            Number::Whole(n) => u128::from(n)
                .checked_mul(unit)
                .and_then(from_nanos)
                .ok_or_else(too_long),
            Number::Fraction(x) => {
                std::time::Duration::try_from_secs_f64(x * unit as f64 / NANOS_PER_SEC as f64)
                    .map(Duration)
                    .map_err(|_| too_long())
            }
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        let (unit, size) = DISPLAY_UNITS
            .iter()
            .copied()
            .find(|(_, size)| nanos.is_multiple_of(*size))
            .unwrap_or(("ns", 1));
        write!(f, "{}{unit}", nanos / size)
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    /// Accepts a text (`"30s"`) or a number of seconds.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\" or a number of seconds")
            }
            fn visit_u64<E: serde::de::Error>(self, secs: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(secs))
            }
            fn visit_i64<E: serde::de::Error>(self, secs: i64) -> Result<Duration, E> {
                u64::try_from(secs)
                    .map(Duration::from_secs)
                    .map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, secs: f64) -> Result<Duration, E> {
                std::time::Duration::try_from_secs_f64(secs)
                    .map(Duration)
                    .map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
