//! Text files as lines: planning the blocks a bag's partitions read,
//! streaming a block's lines, and writing lines out.
//!
//! A block is a byte range of a file, and it owns every line that starts
//! inside that range, as Dask's delimiter-aware blocks do: the blocks of a
//! file, read one after the other, give each of its lines exactly once,
//! whatever the block size, even when a line crosses a block boundary.

#[cfg(test)]
use std::convert::Infallible;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::compression::{Compression, FinishWrite};
use crate::error::BagError;

/// The buffer of line readers and writers. Large enough that system calls
/// and decoder refills cost little next to the per-line work, small
/// enough to give each of many concurrent partitions one.
const BUFFER_SIZE: usize = 1 << 20;

/// A byte range of a text file, read as one partition of a bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextBlock {
    /// The file.
    pub path: PathBuf,
    /// How the file is compressed. The offsets below count bytes of the
    /// decompressed text.
    pub compression: Compression,
    /// The first byte of the range. The block owns the lines that start
    /// at or after it.
    pub start: u64,
    /// The byte after the range (its lines start before it, and the last
    /// one is read to its end past it); `None` to read to the end of the
    /// file.
    pub end: Option<u64>,
    /// The longest line read (`bag.max-line-length`); a longer one is an
    /// error, so that a file without newlines cannot grow one line until
    /// memory runs out.
    pub max_line_length: u64,
}

/// Why [`read_lines`] stopped: the file, or the sink.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E> {
    /// The file could not be read or decoded, or held invalid UTF-8.
    #[error(transparent)]
    Bag(#[from] BagError),
    /// The sink returned this error, passed on unchanged.
    #[error(transparent)]
    Sink(E),
}

#[cfg(test)]
impl ReadError<Infallible> {
    /// The [`BagError`], when the sink cannot fail.
    #[must_use]
    pub fn into_bag(self) -> BagError {
        match self {
            ReadError::Bag(err) => err,
            ReadError::Sink(never) => match never {},
        }
    }
}

/// Splits files into the blocks that become a bag's partitions.
///
/// `compression` applies to every file; `None` infers each file's own from
/// its extension ([`Compression::from_path`]). With a `blocksize`, each
/// uncompressed file is cut into `ceil(len / blocksize)` ranges of
/// equal size (at most `blocksize` bytes) (an empty file still gives one block); the last
/// range of a file has `end: None`, so that it reads to the end of the
/// file as it is when read. A compressed file is always one block, since
/// it cannot be read from the middle (Dask does the same); split such
/// files by recompressing them into several. Without a `blocksize`, each
/// file is one block.
///
/// Only uncompressed files are looked at, for their length; a file that
/// is missing fails later, when read.
///
/// # Errors
/// - [`BagError::ZeroBlocksize`] if `blocksize` is `Some(0)`; callers
///   should reject that where the user gave it, with the same error;
/// - [`BagError::Read`] if an uncompressed file's length cannot be read.
pub fn plan_blocks(
    paths: &[PathBuf],
    blocksize: Option<u64>,
    compression: Option<Compression>,
    max_line_length: u64,
) -> Result<Vec<TextBlock>, BagError> {
    if blocksize == Some(0) {
        return Err(BagError::ZeroBlocksize);
    }
    let mut blocks = Vec::with_capacity(paths.len());
    for path in paths {
        let compression = compression.unwrap_or_else(|| Compression::from_path(path));
        let block = |start, end| TextBlock {
            path: path.clone(),
            compression,
            start,
            end,
            max_line_length,
        };
        let Some(size) = blocksize.filter(|_| compression.is_splittable()) else {
            blocks.push(block(0, None));
            continue;
        };
        let len = fs::metadata(path)
            .map_err(|source| BagError::Read {
                path: path.clone(),
                source,
            })?
            .len();
        let count = len.div_ceil(size).max(1);
        // Blocks of equal size, at most `size`: no small block at the end.
        let step = len.div_ceil(count).max(1);
        // Every `(i + 1) * step` with `i + 1 < count` is below `len`, so
        // nothing here overflows.
        blocks.extend((0..count).map(|i| {
            let start = i * step;
            let end = (i + 1 < count).then(|| start + step);
            block(start, end)
        }));
    }
    Ok(blocks)
}

/// Streams the lines a block owns into `sink`, one at a time, and returns
/// how many there were.
///
/// Lines come without their terminator (`\n`, or `\r\n`), as
/// [`str::lines`] gives them: a last line without a newline is still a
/// line, an empty file has none. The block is never held in memory whole:
/// only a buffer of about 1 MiB and the current line are.
///
/// `sink`'s own error type `E` (a user function's, say) is passed through
/// unchanged as [`ReadError::Sink`], and reading stops at the first one.
/// Use [`Infallible`](std::convert::Infallible) for a sink that cannot fail, and
/// [`ReadError::into_bag`] to get a plain [`BagError`].
///
/// # Errors
/// [`ReadError::Bag`] with [`BagError::Read`] if the file cannot be opened
/// or read, [`BagError::Corrupt`] if it cannot be decompressed, or
/// [`BagError::NotUtf8`] with the offset of the first line that is not
/// UTF-8; [`ReadError::Sink`] with the first error of `sink`.
pub fn read_lines<E, F>(block: &TextBlock, mut sink: F) -> Result<u64, ReadError<E>>
where
    F: FnMut(String) -> Result<(), E>,
{
    read_lines_lent(block, |line: &str| sink(line.to_owned()))
}

/// [`read_lines`] with each line lent to `sink` as a `&str` into the
/// reader's buffer (or, for a line that spans refills, into the one buffer
/// that collects it): no allocation per line.
///
/// # Errors
/// As [`read_lines`].
pub fn read_lines_lent<E, F>(block: &TextBlock, mut sink: F) -> Result<u64, ReadError<E>>
where
    F: FnMut(&str) -> Result<(), E>,
{
    let path = block.path.as_path();
    let file = File::open(path).map_err(|source| BagError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // Reading starts one byte early: the block skips the line it starts
    // in, unless the byte before its start ends a line.
    let from = block.start.saturating_sub(1);
    if block.compression.is_splittable() {
        let mut file = file;
        if from > 0 {
            file.seek(SeekFrom::Start(from))
                .map_err(|err| BagError::from_read_error(path, err))?;
        }
        let reader = BufReader::with_capacity(BUFFER_SIZE, file);
        LineReader::new(reader, block, from).run(block, &mut sink)
    } else {
        let decoded = block.compression.reader(file, path)?;
        let mut reader = BufReader::with_capacity(BUFFER_SIZE, decoded);
        // A compressed stream cannot seek: decode and drop what comes
        // before the block (only blocks built by hand start past 0).
        let skipped = io::copy(&mut (&mut reader).take(from), &mut io::sink())
            .map_err(|err| BagError::from_read_error(path, err))?;
        if skipped < from {
            return Ok(0);
        }
        LineReader::new(reader, block, from).run(block, &mut sink)
    }
}

/// All the lines a block owns, in a vector; see [`read_lines`].
#[cfg(test)]
///
/// # Errors
/// As [`read_lines`].
pub fn read_block_lines(block: &TextBlock) -> Result<Vec<String>, BagError> {
    let mut lines = Vec::new();
    read_lines(block, |line| {
        lines.push(line);
        Ok::<(), Infallible>(())
    })
    .map_err(ReadError::into_bag)?;
    Ok(lines)
}

/// The state of one pass over a block.
struct LineReader<'a, R> {
    reader: R,
    path: &'a Path,
    /// The offset, in the decompressed text, of the next byte `reader`
    /// gives.
    pos: u64,
    /// The start of a line that spans refills of the buffer.
    partial: Vec<u8>,
    /// The longest line accepted, in bytes.
    max_line_length: u64,
}

impl<'a, R: BufRead> LineReader<'a, R> {
    fn new(reader: R, block: &'a TextBlock, pos: u64) -> Self {
        LineReader {
            reader,
            path: &block.path,
            pos,
            partial: Vec::new(),
            max_line_length: block.max_line_length,
        }
    }

    fn run<E>(
        mut self,
        block: &TextBlock,
        sink: &mut impl FnMut(&str) -> Result<(), E>,
    ) -> Result<u64, ReadError<E>> {
        if block.start > 0 && !self.skip_line()? {
            return Ok(0);
        }
        let mut count = 0;
        while block.end.is_none_or(|end| self.pos < end) {
            match self.next_line(&mut *sink)? {
                None => break,
                Some(sunk) => sunk.map_err(ReadError::Sink)?,
            }
            count += 1;
        }
        Ok(count)
    }

    /// Consumes everything up to and including the next `\n`; false if
    /// the text ends first.
    fn skip_line(&mut self) -> Result<bool, BagError> {
        let line_start = self.pos;
        let mut skipped = 0usize;
        loop {
            let buf = fill(&mut self.reader, self.path)?;
            if buf.is_empty() {
                return Ok(false);
            }
            let (found, used) = match find_newline(buf) {
                Some(i) => (true, i + 1),
                None => (false, buf.len()),
            };
            self.consume(used);
            if found {
                return Ok(true);
            }
            // The previous block's last line, past the limit: that block
            // fails too, and an endless file must not keep this one busy.
            skipped = skipped.saturating_add(used);
            check_length(self.path, self.max_line_length, skipped, line_start)?;
        }
    }

    /// Lends the next line, without its terminator, to `sink` and gives
    /// back what `sink` returned; `None` at the end of the text.
    fn next_line<T>(&mut self, sink: impl FnOnce(&str) -> T) -> Result<Option<T>, BagError> {
        let line_start = self.pos;
        loop {
            let buf = fill(&mut self.reader, self.path)?;
            if buf.is_empty() {
                if self.partial.is_empty() {
                    return Ok(None);
                }
                // A last line without a newline keeps any `\r`, as
                // `str::lines` does.
                let bytes = std::mem::take(&mut self.partial);
                let line = self.decode(&bytes, line_start)?;
                return Ok(Some(sink(line)));
            }
            let Some(newline) = find_newline(buf) else {
                let used = buf.len();
                check_length(
                    self.path,
                    self.max_line_length,
                    self.partial.len().saturating_add(used),
                    line_start,
                )?;
                self.partial.extend_from_slice(buf);
                self.consume(used);
                continue;
            };
            check_length(
                self.path,
                self.max_line_length,
                self.partial.len().saturating_add(newline),
                line_start,
            )?;
            let sunk = if self.partial.is_empty() {
                // The common case: the whole line is in the buffer, and is
                // lent from there.
                match std::str::from_utf8(strip_cr(&buf[..newline])) {
                    Ok(text) => sink(text),
                    Err(_) => return Err(self.not_utf8(line_start)),
                }
            } else {
                self.partial.extend_from_slice(&buf[..newline]);
                let mut bytes = std::mem::take(&mut self.partial);
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
                let sunk = sink(self.decode(&bytes, line_start)?);
                // The buffer is kept for the next long line.
                bytes.clear();
                self.partial = bytes;
                sunk
            };
            self.consume(newline + 1);
            return Ok(Some(sunk));
        }
    }

    fn consume(&mut self, used: usize) {
        self.reader.consume(used);
        // `used` is at most the buffer's length, so it fits in a u64.
        self.pos += used as u64;
    }

    fn decode<'b>(&self, bytes: &'b [u8], line_start: u64) -> Result<&'b str, BagError> {
        std::str::from_utf8(bytes).map_err(|_| self.not_utf8(line_start))
    }

    fn not_utf8(&self, offset: u64) -> BagError {
        BagError::NotUtf8 {
            path: self.path.to_path_buf(),
            offset,
        }
    }
}

/// Refuses a line of `len` bytes (so far) starting at `line_start` when it
/// is past `limit`.
fn check_length(path: &Path, limit: u64, len: usize, line_start: u64) -> Result<(), BagError> {
    if len as u64 > limit {
        return Err(BagError::LineTooLong {
            path: path.to_path_buf(),
            offset: line_start,
            limit,
        });
    }
    Ok(())
}

/// The reader's buffer, refilled if empty; an empty slice at the end.
fn fill<'r, R: BufRead>(reader: &'r mut R, path: &Path) -> Result<&'r [u8], BagError> {
    // `fill_buf` passes on interruptions (`read_until` would retry them).
    // The second call returns what the first one buffered, without
    // reading: returning the first call's borrow from inside the loop is
    // what the borrow checker refuses.
    loop {
        match reader.fill_buf() {
            Ok([]) => return Ok(&[]),
            Ok(_) => break,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(BagError::from_read_error(path, err)),
        }
    }
    reader
        .fill_buf()
        .map_err(|err| BagError::from_read_error(path, err))
}

/// SIMD `memchr` reads plain text about 1.6 times as fast as a byte loop.
fn find_newline(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', buf)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Lines going into a new file, compressed on the way: what
/// `to_textfiles` streams a partition into.
pub struct LineWriter {
    path: PathBuf,
    out: BufWriter<Box<dyn FinishWrite>>,
    count: u64,
}

impl std::fmt::Debug for LineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineWriter")
            .field("path", &self.path)
            .field("count", &self.count)
            .finish()
    }
}

impl LineWriter {
    /// Creates (or replaces) the file at `path`, and any missing parent
    /// directories.
    ///
    /// # Errors
    /// [`BagError::Write`] naming the file, or the directory that could
    /// not be created.
    pub fn create(path: &Path, compression: Compression) -> Result<LineWriter, BagError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|source| BagError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let write_error = |source| BagError::Write {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(write_error)?;
        let encoder = compression.writer(file).map_err(write_error)?;
        Ok(LineWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(BUFFER_SIZE, encoder),
            count: 0,
        })
    }

    /// Writes `line` and a `\n`.
    ///
    /// # Errors
    /// [`BagError::Write`] naming the file.
    pub fn write_line(&mut self, line: &str) -> Result<(), BagError> {
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|source| BagError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and closes the file (ending the compressed stream), and
    /// returns how many lines it holds. Dropping a writer without finishing
    /// it may leave the file incomplete.
    ///
    /// # Errors
    /// [`BagError::Write`] naming the file.
    pub fn finish(self) -> Result<u64, BagError> {
        let path = self.path;
        let write_error = |source| BagError::Write {
            path: path.clone(),
            source,
        };
        let encoder = self
            .out
            .into_inner()
            .map_err(|err| write_error(err.into_error()))?;
        encoder.finish().map_err(write_error)?;
        Ok(self.count)
    }
}

/// Writes each line followed by `\n` to a new file at `path` (replacing
/// any), compressed with `compression`, and returns how many lines it
/// wrote. Missing parent directories are created. On error the file may
/// be left incomplete.
///
/// A line that holds `\n` itself reads back as several lines. (Dask's
/// `to_textfiles` leaves out the last newline by default; ending every
/// line keeps a last empty line when the file is read back.)
///
/// # Errors
/// [`BagError::Write`] naming the file, or the directory that could not be
/// created.
#[cfg(test)]
pub fn write_lines<I, S>(path: &Path, compression: Compression, lines: I) -> Result<u64, BagError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut writer = LineWriter::create(path, compression)?;
    for line in lines {
        writer.write_line(line.as_ref())?;
    }
    writer.finish()
}

/// The file names `to_textfiles` writes a bag's partitions to.
///
/// A pattern with one `*` has it replaced by each partition's number; a
/// pattern without one names a directory, holding `0.part`, `1.part`, ….
/// As in Dask, the numbers are zero-padded to the width of the largest
/// (`00` … `11` for 12 partitions), so that the names sort in partition
/// order and a glob reads the partitions back in order.
///
/// # Errors
/// [`BagError::BadNamePattern`] if the pattern has more than one `*`.
pub fn expand_name_pattern(pattern: &str, npartitions: usize) -> Result<Vec<PathBuf>, BagError> {
    let width = npartitions.saturating_sub(1).to_string().len();
    let number = |i: usize| format!("{i:0width$}");
    match pattern.matches('*').count() {
        0 => Ok((0..npartitions)
            .map(|i| Path::new(pattern).join(format!("{}.part", number(i))))
            .collect()),
        1 => Ok((0..npartitions)
            .map(|i| PathBuf::from(pattern.replacen('*', &number(i), 1)))
            .collect()),
        stars => Err(BagError::BadNamePattern {
            pattern: pattern.to_owned(),
            stars,
        }),
    }
}

#[cfg(test)]
mod tests;
