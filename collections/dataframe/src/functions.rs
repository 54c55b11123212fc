//! Functions of one column in expressions: string tests and changes
//! (Dask's `.str` accessor) and parts of dates and times (`.dt`), on
//! arrow-rs kernels where it has them.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, Scalar as ArrowScalar, StringArray};
use arrow::compute::cast;
use arrow::compute::kernels::comparison::{contains, ends_with, starts_with};
use arrow::compute::kernels::regexp::regexp_is_match_scalar;
use arrow::compute::kernels::temporal::{DatePart, date_part};
use arrow::datatypes::DataType;
use barrow_core::Result;
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, compute_error};

/// A function of one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Function {
    /// Whether the string contains this text (`str.contains`, not a
    /// regular expression).
    Contains(String),
    /// Whether a regular expression (Rust's `regex` syntax) matches
    /// somewhere in the string (`str.contains(pat, regex=True)`; anchor it
    /// with `^` and `$` for `str.fullmatch`).
    Matches(String),
    /// Whether the string starts with this text.
    StartsWith(String),
    /// Whether the string ends with this text.
    EndsWith(String),
    /// The string in lower case.
    Lower,
    /// The string in upper case.
    Upper,
    /// The number of characters (Unicode scalar values) of the string.
    Length,
    /// The year of a date or timestamp.
    Year,
    /// The month, 1 to 12.
    Month,
    /// The day of the month, 1 to 31.
    Day,
    /// The hour, 0 to 23 (timestamps).
    Hour,
    /// The minute, 0 to 59.
    Minute,
    /// The second, 0 to 59.
    Second,
    /// The day of the week, Monday 0 to Sunday 6 (pandas' `dayofweek`).
    DayOfWeek,
}

impl Function {
    fn name(&self) -> &'static str {
        match self {
            Function::Contains(_) => "contains",
            Function::Matches(_) => "matches",
            Function::StartsWith(_) => "starts_with",
            Function::EndsWith(_) => "ends_with",
            Function::Lower => "lower",
            Function::Upper => "upper",
            Function::Length => "length",
            Function::Year => "year",
            Function::Month => "month",
            Function::Day => "day",
            Function::Hour => "hour",
            Function::Minute => "minute",
            Function::Second => "second",
            Function::DayOfWeek => "day_of_week",
        }
    }

    fn takes_text(&self) -> bool {
        matches!(
            self,
            Function::Contains(_)
                | Function::Matches(_)
                | Function::StartsWith(_)
                | Function::EndsWith(_)
                | Function::Lower
                | Function::Upper
                | Function::Length
        )
    }

    /// The type of the result on values of type `t`, or why `t` does not
    /// fit.
    pub(crate) fn data_type(&self, t: &DataType) -> Result<DataType> {
        let text = matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
        let temporal = matches!(
            t,
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
        );
        let date_only = matches!(t, DataType::Date32 | DataType::Date64);
        let time_part = matches!(self, Function::Hour | Function::Minute | Function::Second);
        let fits = if self.takes_text() {
            text || *t == DataType::Null
        } else {
            temporal && !(date_only && time_part) || *t == DataType::Null
        };
        if !fits {
            return Err(DataFrameError::Types {
                operation: self.name().to_owned(),
                left: t.clone(),
                right: t.clone(),
                advice: if self.takes_text() {
                    "string functions take strings; cast the column to Utf8 first"
                } else {
                    "date parts take dates and timestamps (hours, minutes and seconds only \
                     timestamps); cast the column first"
                },
            }
            .into());
        }
        if let Function::Matches(pattern) = self
            && let Err(e) = regex::Regex::new(pattern)
        {
            return Err(crate::error::invalid(format!(
                "matches({pattern:?}) is not a regular expression: {e}"
            )));
        }
        Ok(match self {
            Function::Contains(_)
            | Function::Matches(_)
            | Function::StartsWith(_)
            | Function::EndsWith(_) => DataType::Boolean,
            Function::Lower | Function::Upper => DataType::Utf8,
            _ => DataType::Int64,
        })
    }

    /// The function of every value of `values`; a null stays null.
    pub(crate) fn evaluate(&self, values: &ArrayRef) -> Result<ArrayRef> {
        let err = |e| compute_error(self.name(), e);
        if *values.data_type() == DataType::Null {
            return Ok(arrow::array::new_null_array(
                &self.data_type(&DataType::Null)?,
                values.len(),
            ));
        }
        let text = || -> Result<StringArray> {
            let utf8 = cast(values, &DataType::Utf8).map_err(err)?;
            Ok(StringArray::from(utf8.to_data()))
        };
        let test = |pattern: &str,
                    kernel: fn(
            &dyn arrow::array::Datum,
            &dyn arrow::array::Datum,
        ) -> std::result::Result<
            arrow::array::BooleanArray,
            arrow::error::ArrowError,
        >|
         -> Result<ArrayRef> {
            let needle = ArrowScalar::new(StringArray::from(vec![pattern]));
            Ok(Arc::new(kernel(&text()?, &needle).map_err(err)?))
        };
        let part = |p: DatePart| -> Result<ArrayRef> {
            let parts = date_part(values.as_ref(), p).map_err(err)?;
            cast(&parts, &DataType::Int64).map_err(err)
        };
        Ok(match self {
            Function::Contains(p) => test(p, contains)?,
            Function::Matches(p) => {
                Arc::new(regexp_is_match_scalar(&text()?, p, None).map_err(err)?)
            }
            Function::StartsWith(p) => test(p, starts_with)?,
            Function::EndsWith(p) => test(p, ends_with)?,
            Function::Lower => Arc::new(
                text()?
                    .iter()
                    .map(|s| s.map(str::to_lowercase))
                    .collect::<StringArray>(),
            ),
            Function::Upper => Arc::new(
                text()?
                    .iter()
                    .map(|s| s.map(str::to_uppercase))
                    .collect::<StringArray>(),
            ),
            Function::Length => Arc::new(
                text()?
                    .iter()
                    .map(|s| s.map(|s| s.chars().count() as i64))
                    .collect::<Int64Array>(),
            ),
            Function::Year => part(DatePart::Year)?,
            Function::Month => part(DatePart::Month)?,
            Function::Day => part(DatePart::Day)?,
            Function::Hour => part(DatePart::Hour)?,
            Function::Minute => part(DatePart::Minute)?,
            Function::Second => part(DatePart::Second)?,
            Function::DayOfWeek => part(DatePart::DayOfWeekMonday0)?,
        })
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Function::Contains(p)
            | Function::Matches(p)
            | Function::StartsWith(p)
            | Function::EndsWith(p) => write!(f, "{}({p:?})", self.name()),
            _ => write!(f, "{}()", self.name()),
        }
    }
}
