//! The error type of `barrow-dataframe`.
//!
//! Public functions return [`barrow_core::Error`], the one error a
//! computation gives, so dataframe code and the `compute` after it share
//! one `?`. A [`DataFrameError`] travels inside it as its source (kind
//! [`ErrorKind::Io`] for files, [`ErrorKind::WrongType`] for types,
//! [`ErrorKind::InvalidArgument`] for the rest); recover it with
//! `error.source_as::<DataFrameError>()`.

use std::path::PathBuf;

use arrow::datatypes::DataType;
use barrow_core::{Error, ErrorKind};

/// What went wrong while building, reading or computing a dataframe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataFrameError {
    /// An expression names a column the table does not have.
    #[error("no column {name:?}{hint}; the columns are: {}", columns.join(", "))]
    MissingColumn {
        /// The name asked for.
        name: String,
        /// The columns there are.
        columns: Vec<String>,
        /// " (did you mean \"x\"?)" when one is close, else empty.
        hint: String,
    },
    /// An operation applied to types it does not take.
    #[error("{operation} cannot take {left} and {right}: {advice}")]
    Types {
        /// The operation (`+`, `>`, `sum`, `filter`).
        operation: String,
        /// The (first) operand's type.
        left: DataType,
        /// The other operand's type (the same as `left` for one operand).
        right: DataType,
        /// What to do.
        advice: &'static str,
    },
    /// No file matches a path or glob pattern.
    #[error(
        "no file matches {pattern:?}: check the path (patterns use glob syntax: *, ?, [..], **)"
    )]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
    /// A glob pattern is malformed.
    #[error("invalid glob pattern {pattern:?}: {message}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be read or parsed, or a partition's data did not
    /// fit its schema.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong, with the line, column and value when known.
        message: String,
    },
    /// Files of one dataframe disagree on their columns.
    #[error(
        "{} has the columns [{found}] but {} has [{expected}]: the files of one dataframe must \
         have the same columns, in the same order",
        path.display(), first.display()
    )]
    SchemaMismatch {
        /// The file that differs.
        path: PathBuf,
        /// The file the schema was taken from.
        first: PathBuf,
        /// Its columns and types.
        found: String,
        /// The first file's columns and types.
        expected: String,
    },
    /// A computation on the data failed (overflow, a bad cast).
    #[error("{operation}: {message}")]
    Compute {
        /// The operation.
        operation: String,
        /// What the kernel reported.
        message: String,
    },
    /// An argument out of its range.
    #[error("{message}")]
    InvalidArgument {
        /// What was wrong and what to do.
        message: String,
    },
}

impl DataFrameError {
    /// The kind of [`Error`] this becomes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DataFrameError::NoMatch { .. }
            | DataFrameError::File { .. }
            | DataFrameError::SchemaMismatch { .. } => ErrorKind::Io,
            DataFrameError::Types { .. } => ErrorKind::WrongType,
            _ => ErrorKind::InvalidArgument,
        }
    }

    /// The error of a column `name` missing among `columns`.
    pub(crate) fn missing_column<'a>(
        name: &str,
        columns: impl IntoIterator<Item = &'a str>,
    ) -> DataFrameError {
        let columns: Vec<String> = columns.into_iter().map(str::to_owned).collect();
        let nearest = columns
            .iter()
            .map(|c| (strsim::damerau_levenshtein(name, c), c))
            .filter(|&(d, c)| d <= (c.len().max(name.len()) / 3).max(1))
            .min_by_key(|&(d, _)| d);
        let hint = nearest.map_or_else(String::new, |(_, c)| format!(" (did you mean {c:?}?)"));
        DataFrameError::MissingColumn {
            name: name.to_owned(),
            columns,
            hint,
        }
    }
}

impl From<DataFrameError> for Error {
    fn from(error: DataFrameError) -> Error {
        Error::new(error.kind(), error.to_string()).with_source(error)
    }
}

/// An Arrow kernel's failure in `operation`, as an [`Error`].
pub(crate) fn compute_error(
    operation: impl Into<String>,
    error: arrow::error::ArrowError,
) -> Error {
    DataFrameError::Compute {
        operation: operation.into(),
        message: error.to_string(),
    }
    .into()
}

/// A [`DataFrameError::InvalidArgument`] as an [`Error`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    DataFrameError::InvalidArgument {
        message: message.into(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_column_lists_the_columns_and_the_nearest() {
        let err = DataFrameError::missing_column("amuont", ["id", "amount", "name"]);
        let text = err.to_string();
        assert!(text.contains("no column \"amuont\""), "{text}");
        assert!(text.contains("did you mean \"amount\""), "{text}");
        assert!(text.contains("id, amount, name"), "{text}");
        let far = DataFrameError::missing_column("zzz", ["id", "amount"]).to_string();
        assert!(!far.contains("did you mean"), "{far}");
    }
}
