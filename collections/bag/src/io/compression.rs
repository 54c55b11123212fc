//! Whole-file compression of text files: which codec a file uses, and
//! streaming readers and writers for each.
//!
//! Every codec here reads concatenated members (as `cat a.gz b.gz > c.gz`
//! makes), like the command-line tools and Python's modules do.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::BagError;

/// The compression of a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (DEFLATE), level 6 when writing.
    Gzip,
    /// bzip2, level 9 (its default) when writing.
    Bz2,
    /// xz (LZMA2), level 6 when writing.
    Xz,
    /// Zstandard, level 3 when writing.
    Zstd,
}

/// A writer that must be told when the data is complete, so that it can
/// write what it still holds (a compressed stream's last block and
/// trailer) and flush the file.
///
/// Dropping it without calling [`finish`](FinishWrite::finish) may leave a
/// truncated file.
pub trait FinishWrite: Write + Send {
    /// Writes everything still buffered, ends the compressed stream, and
    /// flushes the file.
    ///
    /// # Errors
    /// If the file cannot be written.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

impl Compression {
    /// Every compression, `None` first.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Bz2,
        Compression::Xz,
        Compression::Zstd,
    ];

    /// The compression a file's extension says it has (`.gz`/`.gzip`,
    /// `.bz2`, `.xz`, `.zst`/`.zstd`, in any case); `None` for any other.
    #[must_use]
    pub fn from_path(path: &Path) -> Compression {
        let Some(ext) = path.extension().and_then(|ext| ext.to_str()) else {
            return Compression::None;
        };
        match ext.to_ascii_lowercase().as_str() {
            "gz" | "gzip" => Compression::Gzip,
            "bz2" => Compression::Bz2,
            "xz" => Compression::Xz,
            "zst" | "zstd" => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// The canonical name: `none`, `gzip`, `bz2`, `xz` or `zstd`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Bz2 => "bz2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }

    /// The usual file extension, without the dot; `None` when not
    /// compressed.
    #[must_use]
    pub fn extension(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gz"),
            Compression::Bz2 => Some("bz2"),
            Compression::Xz => Some("xz"),
            Compression::Zstd => Some("zst"),
        }
    }

    /// Whether a file can be read from any byte offset. Only uncompressed
    /// files can: a compressed stream must be decoded from its start, so
    /// a compressed file is always read as one block.
    #[must_use]
    pub fn is_splittable(self) -> bool {
        self == Compression::None
    }

    /// A reader of the decompressed content of `file`, which is named
    /// `path` in errors.
    ///
    /// The reader's errors carry a [`BagError`], which
    /// [`BagError::from_read_error`] takes out: [`BagError::Corrupt`], with
    /// the compressed offset reached, when the data cannot be decoded;
    /// [`BagError::Read`] when the file itself cannot be read. An empty
    /// (0-byte) regular file reads as empty whatever its compression, as
    /// Python's modules do.
    ///
    /// # Errors
    /// [`BagError::Read`] if the decoder cannot be set up (zstd allocates
    /// its context here).
    pub fn reader(self, file: File, path: &Path) -> Result<Box<dyn Read + Send>, BagError> {
        let progress = Arc::new(Progress::default());
        let counting = CountingFile {
            file,
            progress: Arc::clone(&progress),
        };
        let is_empty_file = counting
            .file
            .metadata()
            .is_ok_and(|meta| meta.is_file() && meta.len() == 0);
        if is_empty_file && self != Compression::None {
            return Ok(Box::new(io::empty()));
        }
        let path = path.to_path_buf();
        Ok(match self {
            Compression::None => Box::new(Decoded::new(counting, self, path, progress)),
            Compression::Gzip => {
                let decoder = flate2::read::MultiGzDecoder::new(counting);
                Box::new(Decoded::new(decoder, self, path, progress))
            }
            Compression::Bz2 => {
                let decoder = bzip2::read::MultiBzDecoder::new(counting);
                Box::new(Decoded::new(decoder, self, path, progress))
            }
            #[cfg(feature = "xz")]
            Compression::Xz => {
                let decoder = liblzma::read::XzDecoder::new_multi_decoder(counting);
                Box::new(Decoded::new(decoder, self, path, progress))
            }
            #[cfg(feature = "zstd")]
            Compression::Zstd => {
                // The decoder reads every frame, not just the first.
                let decoder = zstd::stream::read::Decoder::new(counting).map_err(|source| {
                    BagError::Read {
                        path: path.clone(),
                        source,
                    }
                })?;
                Box::new(Decoded::new(decoder, self, path, progress))
            }
            #[cfg(not(all(feature = "xz", feature = "zstd")))]
            missing => return Err(missing.not_built(path)),
        })
    }

    /// A writer that compresses into `file`. Call
    /// [`FinishWrite::finish`] at the end, or the file may be truncated.
    ///
    /// # Errors
    /// If the encoder cannot be set up (zstd allocates its context here).
    pub fn writer(self, file: File) -> io::Result<Box<dyn FinishWrite>> {
        Ok(Box::new(match self {
            Compression::None => Encoder::Plain(file),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::new(6),
            )),
            Compression::Bz2 => Encoder::Bz2(bzip2::write::BzEncoder::new(
                file,
                bzip2::Compression::default(),
            )),
            #[cfg(feature = "xz")]
            Compression::Xz => Encoder::Xz(liblzma::write::XzEncoder::new(file, 6)),
            #[cfg(feature = "zstd")]
            Compression::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(file, 3)?),
            #[cfg(not(all(feature = "xz", feature = "zstd")))]
            missing => {
                return Err(missing
                    .not_built(PathBuf::from("the output file"))
                    .into_io());
            }
        }))
    }

    /// The error of reading or writing a file in a compression this build
    /// leaves out (`xz` and `zstd` are features: their codecs build C code).
    #[cfg(not(all(feature = "xz", feature = "zstd")))]
    fn not_built(self, path: PathBuf) -> BagError {
        BagError::CodecNotBuilt {
            path,
            compression: self.name(),
            feature: self.name(),
        }
    }

    /// Whether this build reads and writes the compression (`xz` and
    /// `zstd` need the features of those names).
    #[must_use]
    #[allow(
        clippy::match_like_matches_macro,
        reason = "the arms are feature switches, constant only in one build"
    )]
    pub fn is_built(self) -> bool {
        match self {
            Compression::Xz => cfg!(feature = "xz"),
            Compression::Zstd => cfg!(feature = "zstd"),
            _ => true,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = BagError;

    /// Parses `none` (or an empty string), `gzip`/`gz`, `bz2`/`bzip2`,
    /// `xz`/`lzma` or `zstd`/`zst`, in any case.
    fn from_str(name: &str) -> Result<Compression, BagError> {
        match name.to_ascii_lowercase().as_str() {
            "" | "none" => Ok(Compression::None),
            "gzip" | "gz" => Ok(Compression::Gzip),
            "bz2" | "bzip2" => Ok(Compression::Bz2),
            "xz" | "lzma" => Ok(Compression::Xz),
            "zstd" | "zst" => Ok(Compression::Zstd),
            _ => Err(BagError::UnknownCompression {
                name: name.to_owned(),
            }),
        }
    }
}

/// What the decoder's input has done so far, shared between the counting
/// file (inside the decoder) and the [`Decoded`] wrapper (outside it),
/// because a decoder's error does not say whether it came from its input.
#[derive(Debug, Default)]
struct Progress {
    /// Bytes read from the file.
    consumed: AtomicU64,
    /// Whether reading the file itself failed.
    failed: AtomicBool,
}

/// The file under a decoder, counting what it gives out.
struct CountingFile {
    file: File,
    progress: Arc<Progress>,
}

impl Read for CountingFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.file.read(buf) {
            Ok(n) => {
                // `n <= buf.len()`, so it fits in a u64 on every platform.
                self.progress
                    .consumed
                    .fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(err) => {
                if err.kind() != io::ErrorKind::Interrupted {
                    self.progress.failed.store(true, Ordering::Relaxed);
                }
                Err(err)
            }
        }
    }
}

/// A decoder whose errors are turned into [`BagError`]s naming the file.
struct Decoded<D> {
    decoder: D,
    compression: Compression,
    path: PathBuf,
    progress: Arc<Progress>,
}

impl<D: Read> Decoded<D> {
    fn new(decoder: D, compression: Compression, path: PathBuf, progress: Arc<Progress>) -> Self {
        Decoded {
            decoder,
            compression,
            path,
            progress,
        }
    }
}

impl<D: Read> Read for Decoded<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf).map_err(|err| {
            if err.kind() == io::ErrorKind::Interrupted {
                // Callers retry these; they are not failures.
                return err;
            }
            let path = self.path.clone();
            let bag = if self.progress.failed.load(Ordering::Relaxed)
                || self.compression == Compression::None
            {
                BagError::Read { path, source: err }
            } else {
                BagError::Corrupt {
                    path,
                    compression: self.compression.name(),
                    offset: self.progress.consumed.load(Ordering::Relaxed),
                    source: err,
                }
            };
            bag.into_io()
        })
    }
}

/// The writers behind [`Compression::writer`]; an enum rather than trait
/// impls on the codecs' types, so those stay out of the public API.
enum Encoder {
    Plain(File),
    Gzip(flate2::write::GzEncoder<File>),
    Bz2(bzip2::write::BzEncoder<File>),
    #[cfg(feature = "xz")]
    Xz(liblzma::write::XzEncoder<File>),
    #[cfg(feature = "zstd")]
    Zstd(zstd::stream::write::Encoder<'static, File>),
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            Encoder::Bz2(w) => w.write(buf),
            #[cfg(feature = "xz")]
            Encoder::Xz(w) => w.write(buf),
            #[cfg(feature = "zstd")]
            Encoder::Zstd(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.write_all(buf),
            Encoder::Gzip(w) => w.write_all(buf),
            Encoder::Bz2(w) => w.write_all(buf),
            #[cfg(feature = "xz")]
            Encoder::Xz(w) => w.write_all(buf),
            #[cfg(feature = "zstd")]
            Encoder::Zstd(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Bz2(w) => w.flush(),
            #[cfg(feature = "xz")]
            Encoder::Xz(w) => w.flush(),
            #[cfg(feature = "zstd")]
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

impl FinishWrite for Encoder {
    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut file = match *self {
            Encoder::Plain(file) => file,
            Encoder::Gzip(w) => w.finish()?,
            Encoder::Bz2(w) => w.finish()?,
            #[cfg(feature = "xz")]
            Encoder::Xz(w) => w.finish()?,
            #[cfg(feature = "zstd")]
            Encoder::Zstd(w) => w.finish()?,
        };
        file.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn write_file(dir: &Path, name: &str, compression: Compression, data: &[u8]) -> PathBuf {
        let path = dir.join(name);
        let mut writer = compression.writer(File::create(&path).unwrap()).unwrap();
        writer.write_all(data).unwrap();
        writer.finish().unwrap();
        path
    }

    fn read_file(path: &Path, compression: Compression) -> Result<Vec<u8>, BagError> {
        let mut reader = compression.reader(File::open(path).unwrap(), path)?;
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .map_err(|err| BagError::from_read_error(path, err))?;
        Ok(out)
    }

    fn sample() -> Vec<u8> {
        (0..8_000u32)
            .flat_map(|i| format!("line {i} {}\n", i * 7919 % 1000).into_bytes())
            .collect()
    }

    #[test]
    fn names_extensions_and_parsing() {
        for c in Compression::ALL {
            assert_eq!(c.name().parse::<Compression>().unwrap(), c);
            assert_eq!(c.to_string(), c.name());
            assert_eq!(c.is_splittable(), c == Compression::None);
            if let Some(ext) = c.extension() {
                let path = PathBuf::from(format!("a/b.json.{ext}"));
                assert_eq!(Compression::from_path(&path), c);
                assert_eq!(ext.parse::<Compression>().unwrap(), c);
            }
        }
        for (name, c) in [
            ("", Compression::None),
            ("GZ", Compression::Gzip),
            ("bzip2", Compression::Bz2),
            ("LZMA", Compression::Xz),
            ("Zst", Compression::Zstd),
        ] {
            assert_eq!(name.parse::<Compression>().unwrap(), c);
        }
        let err = "lz4".parse::<Compression>().unwrap_err();
        assert!(matches!(&err, BagError::UnknownCompression { name } if name == "lz4"));
        assert!(err.to_string().contains("gzip (gz)"));
        for (path, c) in [
            ("x.GZ", Compression::Gzip),
            ("x.gzip", Compression::Gzip),
            ("x.zstd", Compression::Zstd),
            ("x.txt", Compression::None),
            ("gz", Compression::None),
            ("x", Compression::None),
        ] {
            assert_eq!(Compression::from_path(Path::new(path)), c, "{path}");
        }
    }

    #[test]
    fn round_trip_every_compression() {
        let dir = tempfile::tempdir().unwrap();
        let data = sample();
        for c in Compression::ALL {
            let path = write_file(dir.path(), &format!("f.{}", c.name()), c, &data);
            assert_eq!(read_file(&path, c).unwrap(), data, "{c}");
            let empty = write_file(dir.path(), &format!("e.{}", c.name()), c, b"");
            assert_eq!(read_file(&empty, c).unwrap(), b"", "{c}");
        }
    }

    #[test]
    fn concatenated_members_are_all_read() {
        let dir = tempfile::tempdir().unwrap();
        for c in Compression::ALL {
            let a = write_file(dir.path(), "a", c, b"first\n");
            let b = write_file(dir.path(), "b", c, b"second\n");
            let mut both = std::fs::read(&a).unwrap();
            both.extend(std::fs::read(&b).unwrap());
            let path = dir.path().join("both");
            std::fs::write(&path, both).unwrap();
            assert_eq!(read_file(&path, c).unwrap(), b"first\nsecond\n", "{c}");
        }
    }

    #[test]
    fn zero_byte_files_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, b"").unwrap();
        for c in Compression::ALL {
            assert_eq!(read_file(&path, c).unwrap(), b"", "{c}");
        }
    }

    #[test]
    fn corrupt_and_truncated_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let data = sample();
        for c in Compression::ALL.into_iter().filter(|c| !c.is_splittable()) {
            let good = std::fs::read(write_file(dir.path(), "good", c, &data)).unwrap();
            // A valid header, then garbage.
            let mut garbage = good[..good.len().min(16)].to_vec();
            garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
            // A file cut short, as an interrupted download leaves it.
            let truncated = good[..good.len() / 2].to_vec();
            // Only the trailer (checksum, sizes, index) missing.
            let last_byte_cut = good[..good.len() - 1].to_vec();
            for (what, bytes) in [
                ("garbage", garbage),
                ("truncated", truncated),
                ("last-byte-cut", last_byte_cut),
            ] {
                let path = dir.path().join(format!("{what}.{}", c.name()));
                std::fs::write(&path, bytes).unwrap();
                let err = read_file(&path, c).unwrap_err();
                match &err {
                    BagError::Corrupt {
                        path: p,
                        compression,
                        ..
                    } => {
                        assert_eq!(p, &path);
                        assert_eq!(*compression, c.name());
                    }
                    other => panic!("{c} {what}: expected Corrupt, got {other:?}"),
                }
                let message = err.to_string();
                assert!(message.contains(&path.display().to_string()), "{message}");
                assert!(message.contains("corrupt or truncated"), "{message}");
            }
        }
    }

    #[test]
    fn corrupt_offset_is_within_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good =
            std::fs::read(write_file(dir.path(), "g", Compression::Gzip, &sample())).unwrap();
        let mut bad = good.clone();
        let middle = bad.len() / 2;
        bad[middle..].iter_mut().for_each(|b| *b = !*b);
        let path = dir.path().join("bad.gz");
        std::fs::write(&path, &bad).unwrap();
        match read_file(&path, Compression::Gzip).unwrap_err() {
            BagError::Corrupt { offset, .. } => {
                assert!(offset > 0 && offset <= bad.len() as u64, "{offset}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
