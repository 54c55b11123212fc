//! Quantities with units that configuration values spell as text:
//! [`ByteSize`] (`"128MiB"`) and [`Duration`] (`"30s"`).

mod byte_size;
mod duration;

pub use byte_size::ByteSize;
pub use duration::Duration;

use crate::error::{Error, ErrorKind, Result};

/// Splits `"1.5 GB"` into `("1.5", "GB")`: the unit is the trailing run of
/// letters (`µ` counts as one), the number is what comes before it.
fn split_unit(text: &str) -> (&str, &str) {
    let text = text.trim();
    let unit_len: usize = text
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic() || *c == 'µ')
        .map(char::len_utf8)
        .sum();
    let (number, unit) = text.split_at(text.len() - unit_len);
    (number.trim_end(), unit)
}

/// A non-negative number: exact when it is a whole number, else a float.
enum Number {
    Whole(u64),
    Fraction(f64),
}

fn parse_number(number: &str, text: &str, what: &str) -> Result<Number> {
    if number.is_empty() {
        return Err(parse_error(text, what, "it has no number"));
    }
    if let Ok(whole) = number.parse::<u64>() {
        return Ok(Number::Whole(whole));
    }
    match number.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(Number::Fraction(x)),
        Ok(_) => Err(parse_error(text, what, "it must be a finite number >= 0")),
        Err(_) => Err(parse_error(
            text,
            what,
            &format!("{number:?} is not a number"),
        )),
    }
}

fn parse_error(text: &str, what: &str, why: &str) -> Error {
    Error::new(ErrorKind::Parse, format!("invalid {what} {text:?}: {why}"))
}

#[cfg(test)]
mod test;
