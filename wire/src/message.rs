//! Messages: what processes say to each other over a connection.
//!
//! A message is a fixed header, a body (postcard) and zero or more value
//! [frames](crate::frame) appended as they are, so a large array is written
//! once from its own buffer and never copied into the body. Over a local
//! connection, large frames may travel in a shared-memory segment instead
//! ([`SharedMemory`](crate::shared::SharedMemory)), whose descriptor comes
//! with the message. All integers are little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic bytes `BRWM` |
//! | 4 | 2 | wire version ([`WIRE_VERSION`]) |
//! | 6 | 1 | kind: what the body holds ([`Kind`]) |
//! | 7 | 1 | flags: 1 = a shared-memory segment comes with it, 2 = segments to forget |
//! | 8 | 4 | body length |
//! | 12 | 4 | number of frames |
//! | 16 | 8 | bytes after the header: entries, body, frames |
//! | 24 | 8 | xxh3-64 of the header's bytes 4..24, the entries and the body |
//! | 32 | … | one u64 entry per frame, the segment and the forget list if flagged, the body, then the frames |
//!
//! A frame's entry is its length; with the top bit set, the frame is in the
//! segment rather than in the stream. The segment, when flag 1 is set, is
//! its id and its length (two u64); its frames lie in it from its start, in
//! frame order, one after the other. Forget, when flag 2 is set, is a count
//! and that many segment ids (u64) that the writer has given back to the
//! system: a reader keeping them mapped unmaps them.
//!
//! The checksum guards what decides control flow; every frame has its own
//! checksum, checked when it is decoded. A reader checks the magic bytes,
//! the version (a peer of another version is named with both versions), the
//! lengths against its limit before allocating, and the checksum; a
//! damaged or hostile message is an error, never a panic.

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::EncodedFrame;

/// The bytes every message starts with.
pub const MESSAGE_MAGIC: [u8; 4] = *b"BRWM";

/// The version of the message protocol (handshake, tasks, results) this
/// build speaks. Peers of different versions refuse each other.
pub const WIRE_VERSION: u16 = 2;

/// Bytes of the fixed header.
pub const MESSAGE_HEADER_LEN: usize = 32;

/// The flag saying a shared-memory segment comes with a message.
const FLAG_SEGMENT: u8 = 1;

/// The flag saying a list of segments to forget comes with a message.
const FLAG_FORGET: u8 = 2;

/// The bit of a frame entry saying the frame is in the segment.
const IN_SEGMENT: u64 = 1 << 63;

/// What a message's body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum Kind {
    /// A worker introduces itself ([`Hello`](crate::handshake::Hello)).
    Hello = 1,
    /// The pool accepts a worker ([`Welcome`](crate::handshake::Welcome)).
    Welcome = 2,
    /// The pool refuses a worker, saying why (a string).
    Refused = 3,
    /// Tasks to run ([`RunBatch`](crate::task::RunBatch)).
    Run = 4,
    /// Finished tasks ([`DoneBatch`](crate::task::DoneBatch)).
    Done = 5,
    /// The worker should exit after what it is running.
    Shutdown = 6,
    /// A request to a fork server.
    Fork = 7,
    /// A fork server's reply.
    Forked = 8,
    /// The reader of a shared-memory segment is done with it: its writer
    /// may use it again (a u64, the segment's id).
    Release = 9,
    /// A cluster connection's handshake: a greeting, a challenge or its
    /// answer (the bodies `barrow-distributed` defines).
    Greet = 10,
    /// Messages between the processes of a cluster, several to one
    /// message (a list `barrow-distributed` defines).
    Batch = 11,
}

impl Kind {
    fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            1 => Kind::Hello,
            2 => Kind::Welcome,
            3 => Kind::Refused,
            4 => Kind::Run,
            5 => Kind::Done,
            6 => Kind::Shutdown,
            7 => Kind::Fork,
            8 => Kind::Forked,
            9 => Kind::Release,
            10 => Kind::Greet,
            11 => Kind::Batch,
            _ => return None,
        })
    }
}

/// Where a frame of a received message lies.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// In the message's bytes.
    Inline { start: usize, end: usize },
    /// In its shared-memory segment.
    Shared { start: usize, end: usize },
}

/// A message read from a connection: its kind, body and frames.
#[derive(Debug)]
pub struct Message {
    kind: Kind,
    /// Where the body starts in `bytes`.
    body_start: usize,
    body_len: usize,
    frames: Vec<Place>,
    /// The body, then the inline frames, from `body_start`.
    bytes: Vec<u8>,
    segment: Option<Segment>,
}

/// The shared-memory segment a message came with, mapped for reading.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) id: u64,
    /// Bytes of the message's frames in it (from its start).
    pub(crate) len: usize,
    pub(crate) bytes: std::sync::Arc<dyn SegmentBytes>,
}

/// Read access to a received segment's memory.
pub(crate) trait SegmentBytes: std::fmt::Debug + Send + Sync {
    fn bytes(&self) -> &[u8];
}

impl Message {
    /// What the body holds.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Decodes the body as a `T`; a body that does not decode is a
    /// [`ErrorKind::Protocol`] error.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T> {
        postcard::from_bytes(&self.bytes[self.body_start..self.body_start + self.body_len]).map_err(
            |e| {
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "a {:?} message's {}-byte body does not decode: {e}",
                        self.kind, self.body_len
                    ),
                )
            },
        )
    }

    /// Number of frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// The bytes of frame `index`; an index past the end is a
    /// [`ErrorKind::Protocol`] error.
    pub fn frame(&self, index: usize) -> Result<&[u8]> {
        let place = *self.frames.get(index).ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "a {:?} message refers to frame {index}, but holds {}",
                    self.kind,
                    self.frames.len()
                ),
            )
        })?;
        match (place, &self.segment) {
            (Place::Inline { start, end }, _) => Ok(&self.bytes[start..end]),
            (Place::Shared { start, end }, Some(segment)) => Ok(&segment.bytes.bytes()[start..end]),
            // Not made by `read_message_with`, which refuses such messages.
            (Place::Shared { .. }, None) => Err(Error::new(
                ErrorKind::Protocol,
                format!("frame {index} is in shared memory, and no segment came with it"),
            )),
        }
    }

    /// The id of the shared-memory segment this message came with: once
    /// its frames are read and the message dropped, tell the writer with a
    /// [`Kind::Release`] message so that it can use the segment again.
    pub fn segment(&self) -> Option<u64> {
        self.segment.as_ref().map(|s| s.id)
    }

    /// Bytes of the message's frames that came in shared memory.
    pub fn shared_len(&self) -> usize {
        self.segment.as_ref().map_or(0, |s| s.len)
    }
}

/// Writes one message: `body` (postcard) and `frames` after it, each written
/// from its own buffer.
pub fn write_message<W: Write + ?Sized>(
    out: &mut W,
    kind: Kind,
    body: &impl Serialize,
    frames: &[&[u8]],
) -> Result<()> {
    let frames: Vec<EncodedFrame<'_>> = frames.iter().map(|f| EncodedFrame::from(*f)).collect();
    write_frames(out, kind, body, &frames)
}

/// Writes one message: `body` (postcard) and `frames` after it, each
/// written from where its parts lie.
pub fn write_frames<W: Write + ?Sized>(
    out: &mut W,
    kind: Kind,
    body: &impl Serialize,
    frames: &[EncodedFrame<'_>],
) -> Result<()> {
    let layout = Layout::inline(frames.len());
    let head = compose(kind, body, frames, &layout)?;
    send_rest(out, kind, &head, frames, &layout)?;
    out.flush().map_err(|e| io_error(kind, e))
}

/// The bytes of a message before its frames (header, frame entries and
/// body), for writers that write the frames after it themselves, from
/// where they lie (an asynchronous connection): the message is this,
/// then each frame's [`head`](EncodedFrame::head) and
/// [`tail`](EncodedFrame::tail), in order.
pub fn message_head(
    kind: Kind,
    body: &impl Serialize,
    frames: &[EncodedFrame<'_>],
) -> Result<Vec<u8>> {
    compose(kind, body, frames, &Layout::inline(frames.len()))
}

/// Which frames go in a segment, and which segment.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) shared: Vec<bool>,
    pub(crate) segment: Option<(u64, u64)>,
    pub(crate) forget: Vec<u64>,
}

impl Layout {
    pub(crate) fn inline(count: usize) -> Layout {
        Layout {
            shared: vec![false; count],
            segment: None,
            forget: Vec::new(),
        }
    }
}

/// The header, entries, segment and body of a message.
pub(crate) fn compose(
    kind: Kind,
    body: &impl Serialize,
    frames: &[EncodedFrame<'_>],
    layout: &Layout,
) -> Result<Vec<u8>> {
    let body = postcard::to_allocvec(body).map_err(|e| {
        Error::new(
            ErrorKind::Protocol,
            format!("a {kind:?} message's body cannot be encoded: {e}"),
        )
    })?;
    let too_large = || {
        Error::new(
            ErrorKind::TooLarge,
            format!("a {kind:?} message is too large to send"),
        )
    };
    let body_len = u32::try_from(body.len()).map_err(|_| too_large())?;
    let count = u32::try_from(frames.len()).map_err(|_| too_large())?;
    let mut extra = if layout.segment.is_some() { 16 } else { 0 };
    if !layout.forget.is_empty() {
        extra += 8 + 8 * layout.forget.len();
    }
    let mut entries = Vec::with_capacity(8 * frames.len() + extra);
    let mut total = body.len() + 8 * frames.len() + extra;
    for (frame, &shared) in frames.iter().zip(&layout.shared) {
        let len = frame.len() as u64;
        if shared {
            entries.extend_from_slice(&(len | IN_SEGMENT).to_le_bytes());
        } else {
            entries.extend_from_slice(&len.to_le_bytes());
            total += frame.len();
        }
    }
    let mut flags = 0;
    if let Some((id, len)) = layout.segment {
        flags |= FLAG_SEGMENT;
        entries.extend_from_slice(&id.to_le_bytes());
        entries.extend_from_slice(&len.to_le_bytes());
    }
    if !layout.forget.is_empty() {
        flags |= FLAG_FORGET;
        entries.extend_from_slice(&(layout.forget.len() as u64).to_le_bytes());
        for id in &layout.forget {
            entries.extend_from_slice(&id.to_le_bytes());
        }
    }
    let mut head = Vec::with_capacity(MESSAGE_HEADER_LEN + entries.len() + body.len());
    head.extend_from_slice(&MESSAGE_MAGIC);
    head.extend_from_slice(&WIRE_VERSION.to_le_bytes());
    head.push(kind as u8);
    head.push(flags);
    head.extend_from_slice(&body_len.to_le_bytes());
    head.extend_from_slice(&count.to_le_bytes());
    head.extend_from_slice(&(total as u64).to_le_bytes());
    let checksum = checksum(&head[4..24], &entries, &body);
    head.extend_from_slice(&checksum.to_le_bytes());
    head.extend_from_slice(&entries);
    head.extend_from_slice(&body);
    Ok(head)
}

/// Writes what follows the first `sent` bytes of `head`: the rest of it,
/// then the inline frames.
pub(crate) fn send_rest<W: Write + ?Sized>(
    out: &mut W,
    kind: Kind,
    head: &[u8],
    frames: &[EncodedFrame<'_>],
    layout: &Layout,
) -> Result<()> {
    let inline = frames
        .iter()
        .zip(&layout.shared)
        .filter(|(_, shared)| !**shared)
        .map(|(frame, _)| frame);
    let inline_len: usize = inline.clone().map(EncodedFrame::len).sum();
    let io = |e| io_error(kind, e);
    // Small messages go out in one write; large parts are written from
    // their own buffers rather than copied behind the header.
    if head.len() + inline_len < 64 << 10 {
        let mut all = Vec::with_capacity(head.len() + inline_len);
        all.extend_from_slice(head);
        for frame in inline {
            all.extend_from_slice(frame.head());
            all.extend_from_slice(frame.tail());
        }
        return out.write_all(&all).map_err(io);
    }
    out.write_all(head).map_err(io)?;
    for frame in inline {
        out.write_all(frame.head()).map_err(io)?;
        out.write_all(frame.tail()).map_err(io)?;
    }
    Ok(())
}

pub(crate) fn io_error(kind: Kind, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot send a {kind:?} message: {e}"),
    )
    .with_source(e)
}

fn checksum(header: &[u8], entries: &[u8], body: &[u8]) -> u64 {
    let mut hasher = Xxh3::new();
    hasher.update(header);
    hasher.update(entries);
    hasher.update(body);
    hasher.digest()
}

/// Reads one message, refusing one longer than `max_len` bytes before
/// allocating for it. `Ok(None)` when the peer closed the connection
/// cleanly, between messages. A message that comes with shared memory is
/// an error here: read those with a
/// [`MessageReader`](crate::shared::MessageReader).
pub fn read_message<R: Read + ?Sized>(input: &mut R, max_len: u64) -> Result<Option<Message>> {
    read_message_with(input, max_len, &mut NoSegments)
}

/// Where a reader's shared-memory segments come from.
pub(crate) trait Segments {
    /// The segment `id`, of at least `len` bytes, that a message of `kind`
    /// comes with.
    fn take(&mut self, kind: Kind, id: u64, len: usize) -> Result<Segment>;
    /// The writer gave segment `id` back to the system.
    fn forget(&mut self, id: u64);
}

/// A connection that cannot receive shared memory.
struct NoSegments;

impl Segments for NoSegments {
    fn take(&mut self, kind: Kind, _: u64, _: usize) -> Result<Segment> {
        Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "a {kind:?} message came with shared memory, which this connection cannot \
                 receive"
            ),
        ))
    }

    fn forget(&mut self, _: u64) {}
}

/// [`read_message`], with `segments` mapping a message's segment.
pub(crate) fn read_message_with<R: Read + ?Sized>(
    input: &mut R,
    max_len: u64,
    segments: &mut dyn Segments,
) -> Result<Option<Message>> {
    let mut header = [0u8; MESSAGE_HEADER_LEN];
    if !read_header(input, &mut header)? {
        return Ok(None);
    }
    let head = Head::parse(&header, max_len)?;
    let kind = head.kind;
    let total = head.total;
    let io = |e: std::io::Error| {
        let kind_ = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ErrorKind::Truncated
        } else {
            ErrorKind::Io
        };
        Error::new(
            kind_,
            format!("cannot read a {kind:?} message of {total} bytes: {e}"),
        )
        .with_source(e)
    };
    let mut entries = vec![0u8; head.entries_len];
    input.read_exact(&mut entries).map_err(io)?;
    let forget_len = head.forget_len(&entries)?;
    if forget_len > 0 {
        let at = entries.len();
        entries.resize(at + forget_len, 0);
        input.read_exact(&mut entries[at..]).map_err(io)?;
    }
    let rest = total - entries.len();
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(rest).map_err(|_| {
        Error::new(
            ErrorKind::TooLarge,
            format!("no memory for a {kind:?} message of {total} bytes"),
        )
    })?;
    input
        .take(rest as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() < rest {
        return Err(Error::new(
            ErrorKind::Truncated,
            format!(
                "the connection closed {} bytes into a {kind:?} message of {total} bytes",
                entries.len() + bytes.len()
            ),
        ));
    }
    head.assemble(&header, &entries, bytes, 0, max_len, segments)
        .map(Some)
}

/// What a message's fixed header says, checked.
#[derive(Debug, Clone, Copy)]
pub struct MessageHead {
    /// What the body holds.
    pub kind: Kind,
    /// Bytes after the header: frame entries, body and inline frames.
    pub rest_len: u64,
}

/// Checks the fixed header of a message (its first [`MESSAGE_HEADER_LEN`]
/// bytes): magic bytes, version, kind, flags and the length of what
/// follows, which must not exceed `max_len`. For readers that fetch the
/// rest themselves (an asynchronous connection) and then call
/// [`decode_message`]. Never panics, whatever the bytes.
pub fn parse_head(header: &[u8; MESSAGE_HEADER_LEN], max_len: u64) -> Result<MessageHead> {
    let head = Head::parse(header, max_len)?;
    Ok(MessageHead {
        kind: head.kind,
        rest_len: head.total as u64,
    })
}

/// Decodes a message from its fixed header and the `rest` of its bytes
/// (exactly [`MessageHead::rest_len`] of them), keeping `rest` as the
/// message's buffer rather than copying it. A message that comes with
/// shared memory is refused (a network connection cannot carry one).
/// Every inconsistency is an error, never a panic.
pub fn decode_message(
    header: &[u8; MESSAGE_HEADER_LEN],
    rest: Vec<u8>,
    max_len: u64,
) -> Result<Message> {
    let head = Head::parse(header, max_len)?;
    let kind = head.kind;
    if rest.len() != head.total {
        return Err(Error::new(
            ErrorKind::Truncated,
            format!(
                "a {kind:?} message of {} bytes came with {} bytes",
                head.total,
                rest.len()
            ),
        ));
    }
    let base = head.entries_len;
    let forget_len = head.forget_len(&rest[..base])?;
    let entries_len = base + forget_len;
    let entries = rest[..entries_len].to_vec();
    head.assemble(
        header,
        &entries,
        rest,
        entries_len,
        max_len,
        &mut NoSegments,
    )
}

/// The checked fields of a message header.
struct Head {
    kind: Kind,
    has_segment: bool,
    has_forget: bool,
    stored: u64,
    body_len: usize,
    count: usize,
    /// Bytes after the header.
    total: usize,
    /// Bytes of the frame entries, the segment and the forget count (not
    /// the forget list, whose length that count gives).
    entries_len: usize,
}

fn corrupt(what: String) -> Error {
    Error::new(
        ErrorKind::Corrupt,
        format!("corrupt message: {what}; the connection damaged it"),
    )
}

impl Head {
    fn parse(header: &[u8; MESSAGE_HEADER_LEN], max_len: u64) -> Result<Head> {
        if header[..4] != MESSAGE_MAGIC {
            return Err(Error::new(
                ErrorKind::NotAFrame,
                format!(
                    "the peer sent bytes {:02x?} where a Barrow message starts with \"BRWM\": it \
                     is not a Barrow program, or the stream is out of step",
                    &header[..4]
                ),
            ));
        }
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        let half = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let version = u16::from_le_bytes([header[4], header[5]]);
        if version != WIRE_VERSION {
            return Err(Error::new(
                ErrorKind::UnsupportedVersion,
                format!(
                    "the peer speaks Barrow wire version {version}, this program speaks version \
                     {WIRE_VERSION}: run the same build of the program on every worker"
                ),
            ));
        }
        let stored = word(24);
        let body_len = half(8) as usize;
        let count = half(12) as usize;
        let total = word(16);
        let kind = Kind::from_code(header[6]);
        let flags = header[7];
        let (Some(kind), 0) = (kind, flags & !(FLAG_SEGMENT | FLAG_FORGET)) else {
            return Err(corrupt(format!(
                "unknown kind {} or unknown flags {flags:#04x}",
                header[6]
            )));
        };
        let has_segment = flags & FLAG_SEGMENT != 0;
        let has_forget = flags & FLAG_FORGET != 0;
        if total > max_len {
            return Err(over_limit(kind, total, max_len));
        }
        let total = usize::try_from(total)
            .map_err(|_| Error::new(ErrorKind::TooLarge, "a message is larger than memory"))?;
        let entries_len = count
            .checked_mul(8)
            .and_then(|n| n.checked_add(if has_segment { 16 } else { 0 }))
            .and_then(|n| n.checked_add(if has_forget { 8 } else { 0 }))
            .filter(|&n| n.checked_add(body_len).is_some_and(|m| m <= total))
            .ok_or_else(|| {
                corrupt(format!(
                    "a {body_len}-byte body and {count} frames do not fit in {total} bytes"
                ))
            })?;
        Ok(Head {
            kind,
            has_segment,
            has_forget,
            stored,
            body_len,
            count,
            total,
            entries_len,
        })
    }

    /// Bytes of the forget list that follows `entries` (the fixed entries).
    fn forget_len(&self, entries: &[u8]) -> Result<usize> {
        if !self.has_forget {
            return Ok(0);
        }
        let at = self.entries_len - 8;
        let mut word = [0u8; 8];
        word.copy_from_slice(&entries[at..self.entries_len]);
        usize::try_from(u64::from_le_bytes(word))
            .ok()
            .and_then(|n| n.checked_mul(8))
            .filter(|&n| {
                n.checked_add(self.entries_len)
                    .and_then(|m| m.checked_add(self.body_len))
                    .is_some_and(|m| m <= self.total)
            })
            .ok_or_else(|| corrupt("its list of segments to forget runs past its end".into()))
    }

    /// Checks the checksum and the frames' places and builds the message;
    /// `bytes[body_start..]` are the body and the inline frames.
    fn assemble(
        &self,
        header: &[u8; MESSAGE_HEADER_LEN],
        entries: &[u8],
        bytes: Vec<u8>,
        body_start: usize,
        max_len: u64,
        segments: &mut dyn Segments,
    ) -> Result<Message> {
        let Head {
            kind,
            body_len,
            count,
            total,
            ..
        } = *self;
        let forget: Vec<u64> = entries[self.entries_len..]
            .chunks_exact(8)
            .map(|id| u64::from_le_bytes(id.try_into().unwrap_or_default()))
            .collect();
        let payload = &bytes[body_start..];
        let rest = payload.len();
        if checksum(&header[4..24], entries, &payload[..body_len]) != self.stored {
            return Err(corrupt(format!(
                "the {kind:?} message's checksum does not match"
            )));
        }
        let mut frames = Vec::with_capacity(count);
        let mut inline_end = body_len;
        let mut shared_end = 0usize;
        for (i, entry) in entries[..8 * count].chunks_exact(8).enumerate() {
            let entry = u64::from_le_bytes(entry.try_into().unwrap_or_default());
            let shared = entry & IN_SEGMENT != 0;
            let len = usize::try_from(entry & !IN_SEGMENT).ok();
            let end = if shared {
                &mut shared_end
            } else {
                &mut inline_end
            };
            let start = *end;
            *end = len
                .and_then(|len| start.checked_add(len))
                .ok_or_else(|| corrupt(format!("frame {i} runs past the end of the message")))?;
            frames.push(if shared {
                Place::Shared { start, end: *end }
            } else {
                Place::Inline {
                    start: start + body_start,
                    end: *end + body_start,
                }
            });
        }
        if inline_end != rest {
            return Err(corrupt(format!(
                "its frames end at byte {inline_end} of {rest} after the frame entries"
            )));
        }
        let segment = if self.has_segment {
            let at = 8 * count;
            let mut id = [0u8; 8];
            id.copy_from_slice(&entries[at..at + 8]);
            let mut len = [0u8; 8];
            len.copy_from_slice(&entries[at + 8..at + 16]);
            let len = u64::from_le_bytes(len);
            if len != shared_end as u64 || len == 0 {
                return Err(corrupt(format!(
                    "its shared-memory segment holds {len} bytes, and its frames there {shared_end}"
                )));
            }
            if (total as u64).saturating_add(len) > max_len {
                return Err(over_limit(
                    kind,
                    (total as u64).saturating_add(len),
                    max_len,
                ));
            }
            for &id in &forget {
                segments.forget(id);
            }
            Some(segments.take(kind, u64::from_le_bytes(id), shared_end)?)
        } else if shared_end > 0 {
            return Err(corrupt(
                "a frame is in shared memory, but no segment comes with the message".into(),
            ));
        } else {
            for &id in &forget {
                segments.forget(id);
            }
            None
        };
        Ok(Message {
            kind,
            body_start,
            body_len,
            frames,
            bytes,
            segment,
        })
    }
}

fn over_limit(kind: Kind, total: u64, max_len: u64) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!(
            "a {kind:?} message of {total} bytes is over the limit of {max_len} bytes \
             (processes.max-message-size)"
        ),
    )
}

/// Fills `header`; `false` when the stream ends before its first byte.
fn read_header<R: Read + ?Sized>(input: &mut R, header: &mut [u8]) -> Result<bool> {
    let mut filled = 0;
    while filled < header.len() {
        match input.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(Error::new(
                    ErrorKind::Truncated,
                    format!(
                        "the connection closed {filled} bytes into a message header of {} bytes",
                        header.len()
                    ),
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(
                    Error::new(ErrorKind::Io, format!("cannot read a message: {e}")).with_source(e),
                );
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        let big = vec![7u8; 100_000];
        write_message(&mut out, Kind::Run, &("hello", 42u32), &[b"abc", &big]).unwrap();
        out
    }

    #[test]
    fn messages_round_trip_with_their_frames() {
        let bytes = sample();
        let message = read_message(&mut &bytes[..], u64::MAX).unwrap().unwrap();
        assert_eq!(message.kind(), Kind::Run);
        assert_eq!(
            message.body::<(String, u32)>().unwrap(),
            ("hello".into(), 42)
        );
        assert_eq!(message.frame_count(), 2);
        assert_eq!(message.frame(0).unwrap(), b"abc");
        assert_eq!(message.frame(1).unwrap().len(), 100_000);
        assert_eq!(message.frame(2).unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn a_closed_stream_between_messages_is_the_end_not_an_error() {
        assert!(read_message(&mut &[][..], u64::MAX).unwrap().is_none());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample();
        for cut in [
            1,
            10,
            MESSAGE_HEADER_LEN,
            MESSAGE_HEADER_LEN + 5,
            bytes.len() - 1,
        ] {
            let err = read_message(&mut &bytes[..cut], u64::MAX).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Truncated, "cut at {cut}: {err}");
        }
    }

    #[test]
    fn damage_to_header_or_body_is_caught() {
        let bytes = sample();
        for at in [6, 7, 9, 13, 17, 25, MESSAGE_HEADER_LEN + 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            let err = read_message(&mut &damaged[..], u64::MAX).unwrap_err();
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::Corrupt | ErrorKind::Truncated | ErrorKind::TooLarge
                ),
                "byte {at}: {err}"
            );
        }
    }

    #[test]
    fn another_version_or_program_is_named() {
        let mut bytes = sample();
        bytes[4] = 9;
        let err = read_message(&mut &bytes[..], u64::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsupportedVersion);
        assert!(err.to_string().contains("version 9"), "{err}");
        assert!(err.to_string().contains(&format!("version {WIRE_VERSION}")));
        let err =
            read_message(&mut &b"hello world, I am a shell script....."[..], u64::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAFrame);
    }

    #[test]
    fn a_message_decodes_from_its_header_and_the_rest_of_its_bytes() {
        let bytes = sample();
        let header: [u8; MESSAGE_HEADER_LEN] = bytes[..MESSAGE_HEADER_LEN].try_into().unwrap();
        let head = parse_head(&header, u64::MAX).unwrap();
        assert_eq!(head.kind, Kind::Run);
        assert_eq!(head.rest_len as usize, bytes.len() - MESSAGE_HEADER_LEN);
        let rest = bytes[MESSAGE_HEADER_LEN..].to_vec();
        let message = decode_message(&header, rest.clone(), u64::MAX).unwrap();
        assert_eq!(
            message.body::<(String, u32)>().unwrap(),
            ("hello".into(), 42)
        );
        assert_eq!(message.frame(0).unwrap(), b"abc");
        assert_eq!(message.frame(1).unwrap(), &[7u8; 100_000][..]);
        let err = decode_message(&header, rest[..rest.len() - 1].to_vec(), u64::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Truncated);
        let err = parse_head(&header, 1000).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        let mut damaged = rest;
        damaged[20] ^= 1;
        let err = decode_message(&header, damaged, u64::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt);
    }

    #[test]
    fn a_head_written_apart_makes_the_same_message() {
        let big = vec![7u8; 100_000];
        let frames = [
            EncodedFrame::from(&b"abc"[..]),
            EncodedFrame::from(&big[..]),
        ];
        let mut out = message_head(Kind::Batch, &("hi", 1u8), &frames).unwrap();
        for frame in &frames {
            out.extend_from_slice(frame.head());
            out.extend_from_slice(frame.tail());
        }
        let message = read_message(&mut &out[..], u64::MAX).unwrap().unwrap();
        assert_eq!(message.kind(), Kind::Batch);
        assert_eq!(message.body::<(String, u8)>().unwrap(), ("hi".into(), 1));
        assert_eq!(message.frame(1).unwrap().len(), 100_000);
    }

    #[test]
    fn a_message_over_the_limit_is_refused_before_allocating() {
        let bytes = sample();
        let err = read_message(&mut &bytes[..], 1000).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(err.to_string().contains("processes.max-message-size"));
    }
}
