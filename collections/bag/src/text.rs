//! Text files in and out: `read_text` and `to_textfiles`.

use std::fmt::{Display, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use barrow_core::{Error, Func, Graph, Key, Layer, Result, Task};
use barrow_delayed::Delayed;

use crate::Bag;
use crate::error::BagError;
use crate::feed::{Element, Elements, name_of, unique_name};
use crate::io::compression::Compression;
use crate::io::paths::expand;
use crate::io::text::{LineWriter, TextBlock, expand_name_pattern, plan_blocks};
use crate::recipe::{BlockSpec, Recipe, SourceSpec};
use crate::steps;

/// Paths or glob patterns: one (`"logs/*.gz"`) or several
/// (`["a.txt", "b/*.txt"]`).
pub trait Patterns {
    /// The patterns, in order.
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

impl Patterns for &std::path::Path {
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

impl<S: AsRef<str>> Patterns for &[S] {
    fn patterns(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_owned()).collect()
    }
}

/// `bag.max-line-length`'s default: 256 MiB.
const DEFAULT_MAX_LINE_LENGTH: u64 = 256 << 20;

/// Lines of text files, as a bag of `String`s: see [`read_text`].
#[derive(Debug, Clone)]
pub struct ReadText {
    patterns: Vec<String>,
    blocksize: Option<u64>,
    compression: Option<Compression>,
    max_line_length: Option<u64>,
}

/// The lines of text files (Dask's `read_text`), one partition per file,
/// or per block of `blocksize` bytes of an uncompressed file; lines come
/// without their `\n` or `\r\n`. Files ending in `.gz`, `.bz2`, `.xz` or
/// `.zst` are decompressed on the fly (one partition per file: a compressed
/// stream cannot be read from its middle). A partition streams its lines
/// through the bag's operations without holding its block in memory.
///
/// ```
/// use barrow_bag::read_text;
/// use barrow_core::{Options, compute_with};
/// # barrow_local::link();
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "to be\nor not\n")?;
/// std::fs::write(dir.path().join("b.txt"), "to be\n")?;
///
/// let lines = read_text(dir.path().join("*.txt").to_str().unwrap()).into_bag()?;
/// assert_eq!(lines.npartitions(), 2);
/// let words = lines.flat_map(|l| l.split(' ').map(String::from).collect::<Vec<_>>());
/// let mut counts = compute_with(&words.frequencies(), &Options::new().scheduler("sync"))?;
/// counts.sort();
/// assert_eq!(counts, [("be".to_string(), 2), ("not".to_string(), 1), ("or".to_string(), 1), ("to".to_string(), 2)]);
///
/// let missing = read_text(dir.path().join("*.csv").to_str().unwrap()).into_bag().unwrap_err();
/// assert!(missing.to_string().contains("no file matches"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_text(patterns: impl Patterns) -> ReadText {
    ReadText {
        patterns: patterns.patterns(),
        blocksize: None,
        compression: None,
        max_line_length: None,
    }
}

impl ReadText {
    /// Cuts uncompressed files into blocks of at most `bytes` bytes, one
    /// partition each (a line crossing a block's end belongs to the block
    /// it starts in). Zero is an error when the bag is made.
    pub fn blocksize(self, bytes: u64) -> ReadText {
        ReadText {
            blocksize: Some(bytes),
            ..self
        }
    }

    /// [`ReadText::blocksize`] when `Some`; one partition per file when
    /// `None`.
    pub fn blocksize_option(self, bytes: Option<u64>) -> ReadText {
        ReadText {
            blocksize: bytes,
            ..self
        }
    }

    /// Reads every file with `compression` (a name: `none`, `gzip`, `bz2`,
    /// `xz`, `zstd`) instead of guessing it from each file's extension.
    pub fn compression(self, compression: &str) -> Result<ReadText> {
        let compression = compression.parse::<Compression>()?;
        Ok(ReadText {
            compression: Some(compression),
            ..self
        })
    }

    /// Refuses lines longer than `bytes` (instead of `bag.max-line-length`
    /// from the configuration): reading one is an error naming the file
    /// and the byte offset where the line starts.
    pub fn max_line_length(self, bytes: u64) -> ReadText {
        ReadText {
            max_line_length: Some(bytes),
            ..self
        }
    }

    /// The bag: finds the files now (a pattern matching nothing, or a
    /// missing file, is an error naming it) and reads them when computed.
    pub fn into_bag(self) -> Result<Bag<String>> {
        if self.blocksize == Some(0) {
            return Err(BagError::ZeroPartitions { what: "blocksize" }.into());
        }
        let max_line_length = match self.max_line_length {
            Some(bytes) => bytes,
            None => {
                barrow_core::config::get::<barrow_core::config::ByteSize>("bag.max-line-length")?
                    .map_or(DEFAULT_MAX_LINE_LENGTH, u64::from)
            }
        };
        let paths = expand(&self.patterns)?;
        let blocks: Arc<[TextBlock]> =
            plan_blocks(&paths, self.blocksize, self.compression, max_line_length)?.into();
        let name = name_of("read_text", &describe(&blocks));
        let parts = vec![Vec::new(); blocks.len()];
        let recipe = BlockSpec::describe(&blocks).map(|specs| Recipe::new(SourceSpec::Text(specs)));
        let feed = steps::text(blocks.clone());
        let lent = steps::text_lent(blocks);
        Ok(
            Bag::fed(Graph::new(), None, name, "read_text", parts, (feed, recipe))
                .lending(Some(lent)),
        )
    }
}

/// What identifies the blocks in the bag's name: paths, ranges and
/// compressions (not contents: reading them would cost a pass).
fn describe(blocks: &[TextBlock]) -> Vec<(String, u64, u64, &'static str)> {
    blocks
        .iter()
        .map(|b| {
            (
                b.path.to_string_lossy().into_owned(),
                b.start,
                b.end.unwrap_or(u64::MAX),
                b.compression.name(),
            )
        })
        .collect()
}

impl<T: Element + Display> Bag<T> {
    /// Writes each partition to a text file, one element a line (Dask's
    /// `to_textfiles`). `pattern` has one `*`, replaced by the partition
    /// index (`out/part-*.txt.gz`), or is a directory that gets
    /// `0.part`, `1.part`, …; the extension picks the compression (`.gz`,
    /// `.bz2`, `.xz`, `.zst`), as [`read_text`] reads them back.
    ///
    /// Lazy, unlike Dask's: the result is a delayed list of the paths
    /// written, computed alone or with other results; elements stream from
    /// the bag's operations to the file without being held in memory.
    ///
    /// ```
    /// use barrow_bag::{Bag, read_text};
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let dir = tempfile::tempdir()?;
    /// let pattern = dir.path().join("part-*.txt.gz");
    /// let numbers = Bag::range(10, 3)?.map(|x| x * x);
    /// let options = Options::new().scheduler("sync");
    /// let written = compute_with(numbers.to_textfiles(pattern.to_str().unwrap())?, &options)?;
    /// assert_eq!(written.len(), 3);
    ///
    /// let back = read_text(pattern.to_str().unwrap()).into_bag()?.try_map(|l| l.parse::<u64>());
    /// assert_eq!(compute_with(back.sum(), &options)?, 285);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_textfiles(&self, pattern: &str) -> Result<Delayed<Vec<PathBuf>>> {
        let paths: Arc<[PathBuf]> = expand_name_pattern(pattern, self.npartitions())?.into();
        let name = unique_name("to_textfiles");
        let files = paths.clone();
        let layer = self.partition_layer(
            &name,
            "to_textfiles",
            Arc::new(move |elements: &Elements<'_, T>| {
                let path = files.get(elements.index()).ok_or_else(|| {
                    Error::internal(format!(
                        "to_textfiles has no path for partition {}",
                        elements.index()
                    ))
                })?;
                let mut writer = LineWriter::create(path, Compression::from_path(path))?;
                let mut line = String::new();
                elements.for_each(&mut |x| {
                    line.clear();
                    write!(line, "{x}").map_err(|e| Error::internal(e.to_string()))?;
                    Ok(writer.write_line(&line)?)
                })?;
                writer.finish()?;
                Ok(path.clone())
            }),
        );
        let mut graph = self.graph.clone();
        let parts: Vec<Key> = layer.iter().map(|(k, _)| k.clone()).collect();
        graph.add_layer(Arc::new(layer))?;
        let gather = Func::new(
            "to_textfiles-paths",
            |all: barrow_core::function::List<PathBuf>| {
                all.iter().map(|p| (*p).clone()).collect::<Vec<PathBuf>>()
            },
        );
        let out = Key::new(name.clone());
        let mut last = Layer::with_capacity(format!("{name}-paths"), 1);
        last.insert(
            out.clone(),
            Task::call(&gather, [barrow_core::arg::keys(parts)]),
        )?;
        graph.add_layer(Arc::new(last))?;
        Ok(Delayed::from_graph(graph, out, self.problem.clone()))
    }
}
