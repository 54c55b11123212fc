//! Where a dataframe's partitions come from: record batches in memory, CSV
//! files (a partition per file) or Parquet files (a partition per row
//! group), and how one partition is read with only the columns and rows
//! the plan needs.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::BooleanArray;
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use barrow_core::{Arg, Error, Graph, Key, Result, Value, arg};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, compute_error};
use crate::expr::Expr;
use crate::join::LazyMerge;
use crate::sort::SortSpec;

mod split;

use split::Split;

/// Rows sampled from the first CSV file to infer the column types.
const INFER_ROWS: usize = 1000;

/// Rows per batch the readers make (the partition is their concatenation).
const BATCH_ROWS: usize = 64 * 1024;

/// How to read CSV files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvOptions {
    /// Whether the first line names the columns (default true).
    pub has_header: bool,
    /// The field separator (default `,`).
    pub delimiter: u8,
    /// Cut each file into partitions of about this many bytes, at line
    /// ends (Dask's `blocksize`); `None` (the default) reads a partition
    /// per file. A quoted field holding a line break must not straddle a
    /// cut, as in Dask.
    pub blocksize: Option<u64>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            has_header: true,
            delimiter: b',',
            blocksize: None,
        }
    }
}

/// The partitions a plan starts from.
pub(crate) enum Source {
    /// Batches given in memory (as task values), one per partition; `id`
    /// tells two such sources apart in task names.
    Batches { id: u64, batches: Vec<Value> },
    /// CSV files: a partition per file, or per block of one (the file's
    /// index in `files`, and the block's byte range).
    Csv {
        files: Vec<PathBuf>,
        blocks: Vec<Block>,
        options: CsvOptions,
    },
    /// Parquet row groups, one partition each: (file, row group).
    Parquet { parts: Vec<(PathBuf, usize)> },
    /// The results of tasks (a join's, a shuffle's), one partition each:
    /// the graph making them and their keys; `token` names them, `label`
    /// says what they are.
    Tasks {
        token: String,
        label: String,
        graph: Graph,
        keys: Vec<Key>,
        /// How the rows are sorted across the partitions, if they are.
        sorted: Option<Sorted>,
        /// The merge these tasks make, if they are one, to make again
        /// reading fewer columns.
        merge: Option<Arc<LazyMerge>>,
    },
}

/// The order of a sorted source: its sort, and the task giving its
/// divisions (the keys between its partitions).
#[derive(Debug, Clone)]
pub(crate) struct Sorted {
    pub(crate) spec: SortSpec,
    pub(crate) divisions: Key,
}

impl Source {
    /// How many partitions it has.
    pub(crate) fn npartitions(&self) -> usize {
        match self {
            Source::Batches { batches, .. } => batches.len(),
            Source::Csv { blocks, .. } => blocks.len(),
            Source::Parquet { parts } => parts.len(),
            Source::Tasks { keys, .. } => keys.len(),
        }
    }

    /// Partition `index` as its task's argument: the batch itself, or the
    /// [`Part`] of a file to read. The argument, not the task function,
    /// names the file, so the function (the plan) is the same for every
    /// partition and is encoded once, whatever the number of files.
    pub(crate) fn part(&self, index: usize) -> Result<Arg> {
        let missing = || Error::internal(format!("no partition {index}"));
        Ok(match self {
            // The same value each time: graphs made from this source twice
            // (a self-join) then agree on their tasks.
            Source::Batches { batches, .. } => {
                arg::value(batches.get(index).ok_or_else(missing)?.clone())
            }
            Source::Csv {
                files,
                blocks,
                options,
            } => {
                let (file, range) = *blocks.get(index).ok_or_else(missing)?;
                arg::lit(Part::Csv {
                    path: files.get(file).ok_or_else(missing)?.clone(),
                    range,
                    options: options.clone(),
                })
            }
            Source::Parquet { parts } => {
                let (path, row_group) = parts.get(index).ok_or_else(missing)?.clone();
                arg::lit(Part::Parquet { path, row_group })
            }
            Source::Tasks { keys, .. } => arg::key(keys.get(index).ok_or_else(missing)?.clone()),
        })
    }
}

/// One partition of a file source, as a task reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Part {
    /// A CSV file, or a block of one.
    Csv {
        /// The file.
        path: PathBuf,
        /// The block's byte range: the rows that start in it.
        range: Option<(u64, u64)>,
        /// How to read it.
        options: CsvOptions,
    },
    /// One row group of a Parquet file.
    Parquet {
        /// The file.
        path: PathBuf,
        /// The row group's index in it.
        row_group: usize,
    },
}

/// Reads one partition: the source columns at `projection` (in source
/// order) of the rows where `predicate` holds. `part` is a [`Part`], or a
/// record batch (given in memory, or made by another task).
pub(crate) fn read(
    part: &Value,
    schema: &SchemaRef,
    projection: &[usize],
    predicate: Option<&Expr>,
) -> Result<RecordBatch> {
    if let Ok(batch) = part.downcast_ref::<RecordBatch>() {
        let batch = batch
            .project(projection)
            .map_err(|e| compute_error("select", e))?;
        return keep_rows(batch, predicate);
    }
    let projected = Arc::new(schema.project(projection).map_err(|e| {
        Error::internal(format!(
            "a dataframe projected a column it does not have: {e}"
        ))
    })?);
    match part.downcast_ref::<Part>()? {
        Part::Csv {
            path,
            range,
            options,
        } => read_csv_file(
            path, *range, options, schema, projection, &projected, predicate,
        ),
        Part::Parquet { path, row_group } => {
            read_row_group(path, *row_group, projection, &projected, predicate)
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Batches { batches, .. } => {
                write!(f, "from_record_batches ({} partitions)", batches.len())
            }
            Source::Csv { files, blocks, .. } if blocks.len() != files.len() => write!(
                f,
                "read_csv ({} files, {} blocks)",
                files.len(),
                blocks.len()
            ),
            Source::Csv { files, .. } => write!(f, "read_csv ({} files)", files.len()),
            Source::Parquet { parts } => {
                let mut files: Vec<&Path> = parts.iter().map(|(p, _)| p.as_path()).collect();
                files.dedup();
                write!(
                    f,
                    "read_parquet ({} files, {} row groups)",
                    files.len(),
                    parts.len()
                )
            }
            Source::Tasks { label, keys, .. } => {
                write!(f, "{label} ({} partitions)", keys.len())
            }
        }
    }
}

/// The rows of `batch` where `predicate` holds (nulls do not).
fn keep_rows(batch: RecordBatch, predicate: Option<&Expr>) -> Result<RecordBatch> {
    let Some(predicate) = predicate else {
        return Ok(batch);
    };
    let mask = predicate_mask(predicate, &batch)?;
    filter_record_batch(&batch, &mask).map_err(|e| compute_error("filter", e))
}

/// `predicate` on `batch`, as booleans.
pub(crate) fn predicate_mask(predicate: &Expr, batch: &RecordBatch) -> Result<BooleanArray> {
    let values = predicate.evaluate(batch)?;
    values
        .as_any()
        .downcast_ref::<BooleanArray>()
        .cloned()
        .ok_or_else(|| {
            DataFrameError::Types {
                operation: format!("filter {predicate}"),
                left: values.data_type().clone(),
                right: values.data_type().clone(),
                advice: "a filter takes a boolean expression (a comparison)",
            }
            .into()
        })
}

/// The files `patterns` name: each pattern expanded as a glob, in sorted
/// order, with duplicates dropped.
pub(crate) fn expand(patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for pattern in patterns {
        let matches = glob::glob(pattern).map_err(|e| DataFrameError::BadPattern {
            pattern: pattern.clone(),
            message: e.to_string(),
        })?;
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in matches {
            let path = entry.map_err(|e| DataFrameError::File {
                path: e.path().to_path_buf(),
                message: e.error().to_string(),
            })?;
            if path.is_file() {
                found.push(path);
            }
        }
        if found.is_empty() {
            return Err(DataFrameError::NoMatch {
                pattern: pattern.clone(),
            }
            .into());
        }
        found.sort();
        files.extend(found);
    }
    files.dedup();
    Ok(files)
}

fn file_error(path: &Path, message: impl fmt::Display) -> Error {
    DataFrameError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
    .into()
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| file_error(path, format!("cannot open: {e}")))
}

/// The columns of CSV files, inferred from the first rows of the first.
pub(crate) fn infer_csv_schema(path: &Path, options: &CsvOptions) -> Result<Schema> {
    let format = Format::default()
        .with_header(options.has_header)
        .with_delimiter(options.delimiter);
    let (schema, _) = format
        .infer_schema(BufReader::new(open(path)?), Some(INFER_ROWS))
        .map_err(|e| file_error(path, e))?;
    Ok(schema)
}

/// A CSV partition: the file's index, and the byte range of its block
/// (`None` for the whole file).
pub(crate) type Block = (usize, Option<(u64, u64)>);

/// The partitions of CSV `files`: one per file, or with `blocksize` one
/// per block of each.
pub(crate) fn csv_blocks(files: &[PathBuf], blocksize: Option<u64>) -> Result<Vec<Block>> {
    let Some(size) = blocksize else {
        return Ok((0..files.len()).map(|i| (i, None)).collect());
    };
    if size == 0 {
        return Err(crate::error::invalid(
            "read_csv blocksize 0: give a size in bytes (64 MB is Dask's), or None for a \
             partition per file",
        ));
    }
    let mut blocks = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let len = std::fs::metadata(path)
            .map_err(|e| file_error(path, format!("cannot read its size: {e}")))?
            .len();
        let mut start = 0;
        loop {
            let end = (start + size).min(len);
            blocks.push((i, Some((start, end))));
            if end >= len {
                break;
            }
            start = end;
        }
    }
    Ok(blocks)
}

/// The offset of the first line start at or after `at` (`at` itself when
/// a line ends just before it; the file's length when none follows).
fn line_start(file: &mut File, at: u64, path: &Path) -> Result<u64> {
    if at == 0 {
        return Ok(0);
    }
    let io = |e: std::io::Error| file_error(path, format!("cannot read: {e}"));
    file.seek(SeekFrom::Start(at - 1)).map_err(io)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut skipped = Vec::new();
    let n = reader.read_until(b'\n', &mut skipped).map_err(io)?;
    Ok(at - 1 + n as u64)
}

fn read_csv_file(
    path: &Path,
    range: Option<(u64, u64)>,
    options: &CsvOptions,
    schema: &SchemaRef,
    projection: &[usize],
    projected: &SchemaRef,
    predicate: Option<&Expr>,
) -> Result<RecordBatch> {
    let (start, input) = block_input(path, range)?;
    let skip_header = options.has_header && start == 0;
    // Lines arrow and this reader count from the block's start.
    let located = |message: String| {
        let message = if start == 0 {
            message
        } else {
            format!("{message} (lines counted from byte {start}, where this block starts)")
        };
        file_error(path, message)
    };
    let input = if split::suits(projected, options.delimiter) {
        let width = schema.fields().len();
        match split::read(
            input,
            skip_header,
            options.delimiter,
            width,
            projection,
            projected,
        ) {
            Ok(Split::Batches(batches)) => {
                let kept = batches
                    .into_iter()
                    .map(|b| keep_rows(b, predicate))
                    .collect::<Result<Vec<_>>>()?;
                return concat_batches(projected, &kept).map_err(|e| file_error(path, e));
            }
            Err(e) => return Err(located(e.message)),
            // Read again, by arrow-csv.
            Ok(Split::Quoted) => block_input(path, range)?.1,
        }
    } else {
        input
    };
    read_with_arrow(
        input,
        skip_header,
        options,
        schema,
        projection,
        projected,
        predicate,
        located,
    )
}

/// The bytes of a block: from the first line start in its range to the
/// first one after it (the whole file without a range), and where they
/// start.
fn block_input(path: &Path, range: Option<(u64, u64)>) -> Result<(u64, Box<dyn Read + Send>)> {
    let mut file = open(path)?;
    Ok(match range {
        None => (0, Box::new(file)),
        Some((start, end)) => {
            let first = line_start(&mut file, start, path)?;
            let last = line_start(&mut file, end, path)?;
            file.seek(SeekFrom::Start(first))
                .map_err(|e| file_error(path, format!("cannot read: {e}")))?;
            (first, Box::new(file.take(last.saturating_sub(first))))
        }
    })
}

/// A block read by arrow-csv (any file, quotes and all types).
#[allow(
    clippy::too_many_arguments,
    reason = "one reader's settings, passed through once"
)]
fn read_with_arrow(
    input: Box<dyn Read + Send>,
    skip_header: bool,
    options: &CsvOptions,
    schema: &SchemaRef,
    projection: &[usize],
    projected: &SchemaRef,
    predicate: Option<&Expr>,
    located: impl Fn(String) -> Error,
) -> Result<RecordBatch> {
    let reader = ReaderBuilder::new(schema.clone())
        .with_header(skip_header)
        .with_delimiter(options.delimiter)
        .with_batch_size(BATCH_ROWS)
        .with_projection(projection.to_vec())
        .build(BufReader::with_capacity(1 << 20, input))
        .map_err(|e| located(e.to_string()))?;
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| located(csv_message(e, schema)))?;
        batches.push(keep_rows(batch, predicate)?);
    }
    concat_batches(projected, &batches).map_err(|e| located(e.to_string()))
}

/// Arrow's CSV error, with the name of the column it gives by index.
fn csv_message(error: ArrowError, schema: &Schema) -> String {
    let text = error.to_string();
    // Arrow says "... for column 3 at line 7 ..."; name the column too.
    let named = text.split("for column ").nth(1).and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let index: usize = digits.parse().ok()?;
        Some(format!(
            " (column {index} is {:?})",
            schema.fields().get(index)?.name()
        ))
    });
    text + &named.unwrap_or_default()
}

/// The partitions of Parquet files: every row group of each, and the
/// files' common schema.
pub(crate) fn parquet_parts(files: &[PathBuf]) -> Result<(Schema, Vec<(PathBuf, usize)>)> {
    let mut schema: Option<(SchemaRef, &Path)> = None;
    let mut parts = Vec::new();
    for path in files {
        let builder = ParquetRecordBatchReaderBuilder::try_new(open(path)?)
            .map_err(|e| file_error(path, e))?;
        let this = builder.schema().clone();
        match &schema {
            None => schema = Some((this, path)),
            Some((first, first_path)) if !crate::same_columns(first, &this) => {
                return Err(DataFrameError::SchemaMismatch {
                    path: path.clone(),
                    first: first_path.to_path_buf(),
                    found: describe(&this),
                    expected: describe(first),
                }
                .into());
            }
            Some(_) => {}
        }
        parts.extend((0..builder.metadata().num_row_groups()).map(|g| (path.clone(), g)));
    }
    let schema = schema.map_or_else(Schema::empty, |(s, _)| Schema::new(s.fields().clone()));
    Ok((schema, parts))
}

/// The columns and their types, as `a: Int64, b: Utf8`.
pub(crate) fn describe(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row group, its columns at `projection`, the rows where `predicate`
/// holds.
///
/// The row group is decoded as one batch (no concatenation after), and
/// the predicate runs on it after decoding. Parquet's row filter, which
/// decodes the other columns only for the rows that pass, costs more than
/// it saves unless few rows pass: its row selections took a quarter of the
/// time of a filter keeping half the rows (df-parquet-projection), which is
/// why DataFusion leaves it off by default too.
fn read_row_group(
    path: &Path,
    row_group: usize,
    projection: &[usize],
    projected: &SchemaRef,
    predicate: Option<&Expr>,
) -> Result<RecordBatch> {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(|e| file_error(path, e))?;
    let rows = builder
        .metadata()
        .row_groups()
        .get(row_group)
        .map_or(BATCH_ROWS, |g| {
            usize::try_from(g.num_rows()).unwrap_or(BATCH_ROWS)
        })
        .max(1);
    // The predicate's columns are read too, and dropped after it ran.
    let mut read: Vec<usize> = projection.to_vec();
    if let Some(predicate) = predicate {
        let mut columns = Vec::new();
        predicate.columns_into(&mut columns);
        let file_schema = builder.schema().clone();
        read.extend(columns.iter().filter_map(|c| file_schema.index_of(c).ok()));
        read.sort_unstable();
        read.dedup();
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), read.iter().copied());
    let read_schema = Arc::new(
        builder
            .schema()
            .project(&read)
            .map_err(|e| file_error(path, e))?,
    );
    let reader = builder
        .with_batch_size(rows)
        .with_row_groups(vec![row_group])
        .with_projection(mask)
        .build()
        .map_err(|e| file_error(path, e))?;
    let mut batches = Vec::with_capacity(1);
    for batch in reader {
        batches.push(batch.map_err(|e| file_error(path, e))?);
    }
    let batch = match batches.len() {
        1 => batches
            .pop()
            .ok_or_else(|| Error::internal("a batch vanished"))?,
        _ => concat_batches(&read_schema, &batches).map_err(|e| file_error(path, e))?,
    };
    let Some(predicate) = predicate else {
        return Ok(batch);
    };
    let mask = predicate_mask(predicate, &batch)?;
    // Only the columns kept are filtered: a column the predicate alone
    // read is dropped first.
    let positions: Vec<usize> = projection
        .iter()
        .filter_map(|p| read.iter().position(|r| r == p))
        .collect();
    let kept = RecordBatch::try_new(
        projected.clone(),
        batch
            .project(&positions)
            .map_err(|e| file_error(path, e))?
            .columns()
            .to_vec(),
    )
    .map_err(|e| file_error(path, e))?;
    filter_record_batch(&kept, &mask).map_err(|e| compute_error("filter", e))
}

/// What `read_csv` and `read_parquet` accept: one path or pattern, or
/// several.
pub trait Patterns {
    /// The patterns, as strings.
    fn patterns(self) -> Vec<String>;
}

impl Patterns for &str {
    fn patterns(self) -> Vec<String> {
        vec![self.to_owned()]
    }
}

impl Patterns for String {
    fn patterns(self) -> Vec<String> {
        vec![self]
    }
}

impl Patterns for &Path {
    fn patterns(self) -> Vec<String> {
        vec![self.to_string_lossy().into_owned()]
    }
}

impl Patterns for &PathBuf {
    fn patterns(self) -> Vec<String> {
        vec![self.to_string_lossy().into_owned()]
    }
}

impl<S: AsRef<str>> Patterns for Vec<S> {
    fn patterns(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_owned()).collect()
    }
}

impl<S: AsRef<str>, const N: usize> Patterns for [S; N] {
    fn patterns(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_owned()).collect()
    }
}
