//! Writing a dataframe out: a file per partition, each written by the task
//! that holds the partition, and one task gathering the paths.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use barrow_core::arg::{key, keys, lit};
use barrow_core::tokenize::tokenize;
use barrow_core::{Error, Key, Layer, Result, Task};
use barrow_delayed::Delayed;
use serde::{Deserialize, Serialize};

use crate::DataFrame;
use crate::error::DataFrameError;
use crate::tasks::Op;

/// A file format written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Format {
    /// Parquet, Snappy-compressed.
    Parquet,
    /// CSV with a header line.
    Csv,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

/// The tasks writing `df`'s partitions to `dir/part.{i}.{ext}`, and the
/// one gathering their paths.
pub(crate) fn write_partitions(
    df: &DataFrame,
    dir: &Path,
    format: Format,
) -> Result<Delayed<Vec<PathBuf>>> {
    std::fs::create_dir_all(dir).map_err(|e| DataFrameError::File {
        path: dir.to_path_buf(),
        message: format!("cannot make the directory: {e}"),
    })?;
    let (mut graph, parts) = df.partitions()?;
    let write = Op::Write(format).func()?;
    let collect = Op::Paths.func()?;
    let name = format!(
        "to-{}-{}",
        format.extension(),
        tokenize(&(df.token(), dir.display().to_string()))
    );
    let mut layer = Layer::try_with_capacity(name.as_str(), parts.len())?;
    let mut written = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate() {
        let k = Key::with_index(name.as_str(), [i as u32]);
        let path = dir.join(format!("part.{i}.{}", format.extension()));
        layer.insert(k.clone(), Task::call(&write, [key(part), lit(path)]))?;
        written.push(k);
    }
    graph.add_layer(Arc::new(layer))?;
    let out = Key::new(name.as_str());
    graph.insert(out.clone(), Task::call(&collect, [keys(written)]))?;
    Ok(Delayed::from_graph(graph, out, None))
}

/// Writes `batch` to the file `path` in `format`.
pub(crate) fn write_file(batch: &RecordBatch, path: &Path, format: Format) -> Result<()> {
    let fail = |message: String| -> Error {
        DataFrameError::File {
            path: path.to_path_buf(),
            message,
        }
        .into()
    };
    let file = File::create(path).map_err(|e| fail(format!("cannot create: {e}")))?;
    match format {
        Format::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .build();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props))
                    .map_err(|e| fail(e.to_string()))?;
            writer.write(batch).map_err(|e| fail(e.to_string()))?;
            writer.close().map_err(|e| fail(e.to_string()))?;
        }
        Format::Csv => {
            let out = std::io::BufWriter::with_capacity(1 << 20, file);
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            writer.write(batch).map_err(|e| fail(e.to_string()))?;
            let mut out = writer.into_inner();
            std::io::Write::flush(&mut out).map_err(|e| fail(format!("cannot write: {e}")))?;
        }
    }
    Ok(())
}
