//! The frame: a codec's bytes with what a reader needs to trust them.
//!
//! Every value travels (to a spill file, another process, another machine)
//! as one frame. All integers are little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic bytes `BRWF` |
//! | 4 | 8 | xxh3-64 checksum of every byte from offset 12 to the end |
//! | 12 | 2 | format version ([`VERSION`]) |
//! | 14 | 1 | compression: 0 none, 1 lz4 (block), 2 zstd |
//! | 15 | 1 | reserved, 0 |
//! | 16 | 2 | length of the codec tag in bytes (at most [`MAX_TAG_LEN`]) |
//! | 18 | 2 | reserved, 0 |
//! | 20 | 8 | payload length, uncompressed |
//! | 28 | 8 | payload length, as stored |
//! | 36 | … | the codec tag (UTF-8), then the stored payload |
//!
//! A reader checks, in order: the magic bytes (else [`NotAFrame`]), the
//! version (else [`UnsupportedVersion`]), that the bytes hold exactly the
//! frame (else [`Truncated`] or [`Corrupt`]), the checksum, the other
//! header fields, and after decompressing, the uncompressed length. Lengths
//! are checked before anything is allocated, and memory for a decompressed
//! payload is reserved fallibly, so a damaged or hostile frame is an error,
//! never a panic or an abort.
//!
//! [`NotAFrame`]: crate::ErrorKind::NotAFrame
//! [`UnsupportedVersion`]: crate::ErrorKind::UnsupportedVersion
//! [`Truncated`]: crate::ErrorKind::Truncated
//! [`Corrupt`]: crate::ErrorKind::Corrupt

use std::borrow::Cow;

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::error::{Error, ErrorKind, Result};
use crate::options::{Compression, WireOptions};

/// The bytes every frame starts with.
pub const MAGIC: [u8; 4] = *b"BRWF";

/// The format version this build writes and reads.
pub const VERSION: u16 = 1;

/// Bytes of the fixed header, before the tag.
pub const HEADER_LEN: usize = 36;

/// The longest codec tag a frame carries, in bytes.
pub const MAX_TAG_LEN: usize = 1024;

/// Where the checksummed part of a frame starts.
const CHECKED_FROM: usize = 12;

/// The fixed-size start of a frame, checked for magic bytes, version and
/// sizes. A reader of a stream parses it from the first [`HEADER_LEN`]
/// bytes to learn how many more to read ([`FrameHeader::frame_len`]).
///
/// ```
/// use barrow_wire::frame::{FrameHeader, HEADER_LEN, write_frame};
/// use barrow_wire::WireOptions;
///
/// let bytes = write_frame("example.bytes", b"hello", &WireOptions::new())?;
/// let header = FrameHeader::parse(&bytes[..HEADER_LEN])?;
/// assert_eq!(header.frame_len(), bytes.len());
/// assert_eq!(header.payload_len(), 5);
/// # Ok::<(), barrow_wire::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    checksum: u64,
    compression_code: u8,
    reserved: [u8; 3],
    tag_len: usize,
    payload_len: usize,
    stored_len: usize,
    frame_len: usize,
}

impl FrameHeader {
    /// Reads the header at the start of `bytes` (which may hold more).
    pub fn parse(bytes: &[u8]) -> Result<FrameHeader> {
        if !bytes.starts_with(&MAGIC) {
            let start = &bytes[..bytes.len().min(MAGIC.len())];
            if MAGIC.starts_with(start) {
                return Err(truncated(HEADER_LEN, bytes.len()));
            }
            return Err(Error::new(
                ErrorKind::NotAFrame,
                format!(
                    "not a barrow-wire frame: it starts with {start:02x?} instead of the magic \
                     bytes {MAGIC:02x?} (\"BRWF\")"
                ),
            ));
        }
        let Some(header) = bytes.get(..HEADER_LEN) else {
            return Err(truncated(HEADER_LEN, bytes.len()));
        };
        let version = u16::from_le_bytes([header[12], header[13]]);
        if version != VERSION {
            return Err(Error::new(
                ErrorKind::UnsupportedVersion,
                format!(
                    "the frame has format version {version}, and this build of barrow-wire reads \
                     version {VERSION} only: use the same Barrow version to write and read"
                ),
            ));
        }
        let tag_len = usize::from(u16::from_le_bytes([header[16], header[17]]));
        let payload_len = read_len(header, 20, "uncompressed payload")?;
        let stored_len = read_len(header, 28, "stored payload")?;
        let frame_len = HEADER_LEN
            .checked_add(tag_len)
            .and_then(|n| n.checked_add(stored_len))
            .ok_or_else(|| {
                Error::corrupt("its lengths add up to more than this machine can address")
            })?;
        Ok(FrameHeader {
            checksum: u64::from_le_bytes(array8(header, 4)),
            compression_code: header[14],
            reserved: [header[15], header[18], header[19]],
            tag_len,
            payload_len,
            stored_len,
            frame_len,
        })
    }

    /// Bytes of the whole frame: header, tag and stored payload.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Bytes of the payload once decompressed.
    pub fn payload_len(&self) -> usize {
        self.payload_len
    }

    /// Bytes of the payload as stored.
    pub fn stored_len(&self) -> usize {
        self.stored_len
    }

    /// Bytes of the codec tag.
    pub fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// The compression of the payload, if this build knows its code.
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_code(self.compression_code)
    }

    /// Checks the fields the checksum vouches for but `parse` left alone.
    fn check_fields(&self, tag: &str) -> Result<Compression> {
        if self.reserved != [0; 3] {
            return Err(Error::corrupt("a reserved header field is set"));
        }
        if self.tag_len > MAX_TAG_LEN {
            return Err(Error::corrupt(format!(
                "its codec tag is {} bytes long, more than the {MAX_TAG_LEN} allowed",
                self.tag_len
            )));
        }
        let Some(compression) = self.compression() else {
            return Err(Error::new(
                ErrorKind::UnsupportedCompression,
                format!(
                    "the frame (codec '{tag}') uses compression code {}, which this build of \
                     barrow-wire does not know: use the same Barrow version to write and read",
                    self.compression_code
                ),
            )
            .with_tag(tag));
        };
        if !compression.is_available() {
            return Err(Error::new(
                ErrorKind::UnsupportedCompression,
                format!(
                    "the frame (codec '{tag}') is compressed with zstd, and this build of \
                     barrow-wire lacks its `zstd` feature: enable it where frames are read"
                ),
            )
            .with_tag(tag));
        }
        if compression == Compression::None && self.payload_len != self.stored_len {
            return Err(Error::corrupt(format!(
                "it is uncompressed, yet its header gives {} bytes stored and {} uncompressed",
                self.stored_len, self.payload_len
            ))
            .with_tag(tag));
        }
        Ok(compression)
    }
}

/// A frame read from bytes: its codec tag and its payload, borrowed when
/// it was stored uncompressed.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    tag: &'a str,
    compression: Compression,
    payload: Cow<'a, [u8]>,
}

impl<'a> Frame<'a> {
    /// The codec tag.
    pub fn tag(&self) -> &'a str {
        self.tag
    }

    /// How the payload was stored.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The payload, decompressed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, decompressed, without a copy.
    pub fn into_payload(self) -> Cow<'a, [u8]> {
        self.payload
    }
}

/// Frames `payload` under `tag`, compressing it as `options` say.
///
/// ```
/// use barrow_wire::frame::{read_frame, write_frame};
/// use barrow_wire::{Compression, WireOptions};
///
/// let text = "a wheelbarrow of bricks, ".repeat(10_000);
/// let options = WireOptions::new().compression(Compression::Lz4);
/// let bytes = write_frame("example.text", text.as_bytes(), &options)?;
/// assert!(bytes.len() < text.len() / 10);
/// let frame = read_frame(&bytes)?;
/// assert_eq!(frame.tag(), "example.text");
/// assert_eq!(frame.payload(), text.as_bytes());
/// # Ok::<(), barrow_wire::Error>(())
/// ```
pub fn write_frame(tag: &str, payload: &[u8], options: &WireOptions) -> Result<Vec<u8>> {
    write_frame_with(tag, options, payload.len(), |out| {
        out.extend_from_slice(payload);
        Ok(())
    })
}

/// A frame ready to send, in two parts: its head (header, tag and the
/// start of the payload) and the rest of the payload, which may be borrowed
/// from the value it encodes (a vector's elements), so that a transport
/// writes it from where it lies instead of copying it into a new buffer
/// first. The frame's bytes are the head followed by the tail.
///
/// ```
/// use barrow_core::codec::CodecRegistry;
/// use barrow_core::Value;
/// use barrow_wire::WireOptions;
///
/// let value = Value::new(vec![2.5f64; 1000]);
/// let codecs = CodecRegistry::with_builtins();
/// let frame = barrow_wire::encode_frame(&value, &codecs, &WireOptions::new())?;
/// // The elements are not copied: the tail is the vector's own buffer.
/// assert_eq!(frame.tail().len(), 8000);
/// assert_eq!(frame.to_vec(), barrow_wire::encode(&value, &codecs)?);
/// # Ok::<(), barrow_wire::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EncodedFrame<'v> {
    head: Cow<'v, [u8]>,
    tail: &'v [u8],
}

impl<'v> EncodedFrame<'v> {
    /// Bytes of the whole frame.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether the frame has no bytes (never true of a real frame).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The head: header, tag and the start of the payload.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The rest of the payload (empty when the head holds it all).
    pub fn tail(&self) -> &'v [u8] {
        self.tail
    }

    /// The frame's bytes in one buffer (a copy of the tail).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(self.tail);
        out
    }

    /// Copies the frame into `out`, which must be exactly [`len`](Self::len)
    /// bytes long.
    pub fn copy_to(&self, out: &mut [u8]) {
        let (head, tail) = out.split_at_mut(self.head.len());
        head.copy_from_slice(&self.head);
        crate::copy::copy(tail, self.tail);
    }
}

impl From<Vec<u8>> for EncodedFrame<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        EncodedFrame {
            head: Cow::Owned(bytes),
            tail: &[],
        }
    }
}

impl<'v> From<&'v [u8]> for EncodedFrame<'v> {
    fn from(bytes: &'v [u8]) -> Self {
        EncodedFrame {
            head: Cow::Borrowed(bytes),
            tail: &[],
        }
    }
}

/// Frames the payload `prefix` followed by `tail`, uncompressed, without
/// copying `tail`.
pub(crate) fn write_split_frame<'v>(
    tag: &str,
    prefix: &[u8],
    tail: &'v [u8],
) -> Result<EncodedFrame<'v>> {
    check_tag(tag)?;
    let mut head = Vec::with_capacity(HEADER_LEN + tag.len() + prefix.len());
    head.resize(HEADER_LEN, 0);
    head.extend_from_slice(tag.as_bytes());
    head.extend_from_slice(prefix);
    let payload_len = prefix.len() + tail.len();
    fill_header(&mut head, tag, Compression::None, payload_len, payload_len);
    let mut hasher = Xxh3::new();
    hasher.update(&head[CHECKED_FROM..]);
    hasher.update(tail);
    head[4..12].copy_from_slice(&hasher.digest().to_le_bytes());
    Ok(EncodedFrame {
        head: Cow::Owned(head),
        tail,
    })
}

fn check_tag(tag: &str) -> Result<()> {
    if tag.is_empty() || tag.len() > MAX_TAG_LEN {
        return Err(Error::new(
            ErrorKind::Codec,
            format!(
                "a codec tag must be 1 to {MAX_TAG_LEN} bytes long; {:?} is {} bytes",
                tag.chars().take(64).collect::<String>(),
                tag.len()
            ),
        ));
    }
    Ok(())
}

/// Writes the header fields other than the checksum.
fn fill_header(
    out: &mut [u8],
    tag: &str,
    compression: Compression,
    payload_len: usize,
    stored_len: usize,
) {
    out[..4].copy_from_slice(&MAGIC);
    out[12..14].copy_from_slice(&VERSION.to_le_bytes());
    out[14] = compression.code();
    out[16..18].copy_from_slice(&(tag.len() as u16).to_le_bytes());
    out[20..28].copy_from_slice(&(payload_len as u64).to_le_bytes());
    out[28..36].copy_from_slice(&(stored_len as u64).to_le_bytes());
}

/// Frames the payload that `fill` appends, under `tag`. `size_hint` is the
/// expected payload size, for the first allocation.
pub(crate) fn write_frame_with(
    tag: &str,
    options: &WireOptions,
    size_hint: usize,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<Vec<u8>> {
    check_tag(tag)?;
    let start = HEADER_LEN + tag.len();
    let mut out = Vec::new();
    reserve(&mut out, start.saturating_add(size_hint))?;
    out.resize(HEADER_LEN, 0);
    out.extend_from_slice(tag.as_bytes());
    fill(&mut out).map_err(|e| e.with_tag(tag))?;
    let payload_len = out.len() - start;
    let mut compression = Compression::None;
    if options.compression_kind() != Compression::None
        && payload_len > options.compress_above_bytes()
        && let Some(compressed) = compress(options.compression_kind(), &out, start)?
    {
        out = compressed;
        compression = options.compression_kind();
    }
    let stored_len = out.len() - start;
    fill_header(&mut out, tag, compression, payload_len, stored_len);
    let checksum = xxh3_64(&out[CHECKED_FROM..]);
    out[4..12].copy_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

/// Reads the frame that `bytes` holds, exactly (no bytes before or after),
/// checking it and decompressing its payload.
pub fn read_frame(bytes: &[u8]) -> Result<Frame<'_>> {
    let header = FrameHeader::parse(bytes)?;
    if bytes.len() < header.frame_len {
        return Err(truncated(header.frame_len, bytes.len()));
    }
    if bytes.len() > header.frame_len {
        return Err(Error::corrupt(format!(
            "{} bytes follow the end of the frame ({} bytes by its header)",
            bytes.len() - header.frame_len,
            header.frame_len
        )));
    }
    let checksum = xxh3_64(&bytes[CHECKED_FROM..]);
    if checksum != header.checksum {
        return Err(Error::corrupt(format!(
            "its checksum is {checksum:016x}, and its header says {:016x}",
            header.checksum
        )));
    }
    let tag_end = HEADER_LEN + header.tag_len;
    let tag = std::str::from_utf8(&bytes[HEADER_LEN..tag_end])
        .map_err(|e| Error::corrupt("its codec tag is not UTF-8").with_source(e))?;
    let compression = header.check_fields(tag)?;
    let stored = &bytes[tag_end..];
    let payload = match compression {
        Compression::None => Cow::Borrowed(stored),
        _ => Cow::Owned(
            decompress(compression, stored, header.payload_len).map_err(|e| e.with_tag(tag))?,
        ),
    };
    Ok(Frame {
        tag,
        compression,
        payload,
    })
}

fn truncated(expected: usize, actual: usize) -> Error {
    Error::new(
        ErrorKind::Truncated,
        format!(
            "truncated frame: {actual} bytes, where the frame needs {expected}; the data was cut \
             off (a short read, an interrupted write or a partly copied file)"
        ),
    )
}

fn array8(bytes: &[u8], at: usize) -> [u8; 8] {
    let mut out = [0; 8];
    out.copy_from_slice(&bytes[at..at + 8]);
    out
}

fn read_len(header: &[u8], at: usize, what: &str) -> Result<usize> {
    let len = u64::from_le_bytes(array8(header, at));
    usize::try_from(len).map_err(|_| {
        Error::new(
            ErrorKind::TooLarge,
            format!("the frame's {what} length, {len} bytes, does not fit this machine"),
        )
    })
}

/// Reserves room for `additional` more bytes, or fails instead of aborting.
pub(crate) fn reserve(buffer: &mut Vec<u8>, additional: usize) -> Result<()> {
    buffer.try_reserve_exact(additional).map_err(|e| {
        Error::new(
            ErrorKind::TooLarge,
            format!("cannot allocate {additional} bytes for a frame"),
        )
        .with_source(e)
    })
}

/// Bytes of the sample tried before compressing a large payload.
const PROBE_LEN: usize = 64 << 10;

/// Compresses `framed[start..]` into a new buffer that starts with
/// `framed[..start]`; `None` when that would not save at least 1/16.
///
/// A payload over four samples is tried on its first [`PROBE_LEN`] bytes
/// first: when they do not compress, the rest is not tried either, which
/// spares incompressible data (random floats) a whole pass.
fn compress(compression: Compression, framed: &[u8], start: usize) -> Result<Option<Vec<u8>>> {
    let payload = &framed[start..];
    if payload.len() > 4 * PROBE_LEN {
        let probe = &framed[..start + PROBE_LEN];
        if compress(compression, probe, start)?.is_none() {
            return Ok(None);
        }
    }
    let bound = match compression {
        Compression::None => return Ok(None),
        Compression::Lz4 => lz4_flex::block::get_maximum_output_size(payload.len()),
        Compression::Zstd { .. } => zstd_bound(payload.len())?,
    };
    let mut out = Vec::new();
    reserve(&mut out, start.saturating_add(bound))?;
    out.extend_from_slice(&framed[..start]);
    out.resize(start + bound, 0);
    let written = match compression {
        Compression::None => return Ok(None),
        Compression::Lz4 => lz4_flex::block::compress_into(payload, &mut out[start..])
            .map_err(|e| compress_failed("lz4", e))?,
        Compression::Zstd { level } => zstd_compress(payload, &mut out[start..], level)?,
    };
    if written.saturating_mul(16) > payload.len().saturating_mul(15) {
        return Ok(None);
    }
    out.truncate(start + written);
    Ok(Some(out))
}

fn compress_failed(kind: &str, error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(
        ErrorKind::Codec,
        format!("{kind} compression failed: {error}"),
    )
    .with_source(error)
}

/// Decompresses `stored` into exactly `payload_len` bytes.
fn decompress(compression: Compression, stored: &[u8], payload_len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let written = match compression {
        Compression::None => return Ok(stored.to_vec()),
        Compression::Lz4 => {
            // One byte of an lz4 block stands for at most 255 of output:
            // a larger claim is damage, caught before allocating for it.
            if payload_len > stored.len().saturating_mul(255).saturating_add(64) {
                return Err(Error::corrupt(format!(
                    "it claims {payload_len} bytes uncompressed from {} bytes of lz4, more than \
                     lz4 can encode",
                    stored.len()
                )));
            }
            reserve(&mut out, payload_len)?;
            out.resize(payload_len, 0);
            lz4_flex::block::decompress_into(stored, &mut out)
                .map_err(|e| Error::corrupt(format!("its lz4 data does not decompress ({e})")))?
        }
        Compression::Zstd { .. } => {
            reserve(&mut out, payload_len)?;
            zstd_decompress(stored, &mut out)?
        }
    };
    if written != payload_len {
        return Err(Error::corrupt(format!(
            "it decompresses to {written} bytes, and its header says {payload_len}"
        )));
    }
    out.truncate(written);
    Ok(out)
}

#[cfg(feature = "zstd")]
fn zstd_bound(len: usize) -> Result<usize> {
    Ok(zstd::compress_bound(len))
}

#[cfg(feature = "zstd")]
fn zstd_compress(payload: &[u8], out: &mut [u8], level: i32) -> Result<usize> {
    zstd::bulk::compress_to_buffer(payload, out, level).map_err(|e| compress_failed("zstd", e))
}

#[cfg(feature = "zstd")]
fn zstd_decompress(stored: &[u8], out: &mut Vec<u8>) -> Result<usize> {
    // Into the reserved capacity: memory is touched only as zstd writes,
    // so a false length costs nothing before the error.
    zstd::bulk::Decompressor::new()
        .and_then(|mut d| d.decompress_to_buffer(stored, out))
        .map_err(|e| Error::corrupt(format!("its zstd data does not decompress ({e})")))
}

#[cfg(not(feature = "zstd"))]
fn zstd_unavailable() -> Error {
    Error::new(
        ErrorKind::UnsupportedCompression,
        "zstd compression needs the `zstd` feature of barrow-wire; enable it or choose lz4",
    )
}

#[cfg(not(feature = "zstd"))]
fn zstd_bound(_len: usize) -> Result<usize> {
    Err(zstd_unavailable())
}

#[cfg(not(feature = "zstd"))]
fn zstd_compress(_payload: &[u8], _out: &mut [u8], _level: i32) -> Result<usize> {
    Err(zstd_unavailable())
}

#[cfg(not(feature = "zstd"))]
fn zstd_decompress(_stored: &[u8], _out: &mut Vec<u8>) -> Result<usize> {
    Err(zstd_unavailable())
}
