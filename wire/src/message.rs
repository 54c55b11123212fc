//! Messages: what processes say to each other over a connection.
//!
//! A message is a fixed header, a body (postcard) and zero or more value
//! [frames](crate::frame) appended as they are, so a large array is written
//! once from its own buffer and never copied into the body. All integers
//! are little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic bytes `BRWM` |
//! | 4 | 2 | wire version ([`WIRE_VERSION`]) |
//! | 6 | 1 | kind: what the body holds ([`Kind`]) |
//! | 7 | 1 | reserved, 0 |
//! | 8 | 4 | body length |
//! | 12 | 4 | number of frames |
//! | 16 | 8 | total length of body, frame lengths and frames |
//! | 24 | 8 | xxh3-64 of the header's bytes 4..24, the frame lengths and the body |
//! | 32 | … | one u64 length per frame, the body, then the frames |
//!
//! The body's checksum guards what decides control flow; every frame has its
//! own checksum, checked when it is decoded. A reader checks the magic
//! bytes, the version (a peer of another version is named with both
//! versions), the lengths against its limit before allocating, and the
//! checksum; a damaged or hostile message is an error, never a panic.

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, ErrorKind, Result};

/// The bytes every message starts with.
pub const MESSAGE_MAGIC: [u8; 4] = *b"BRWM";

/// The version of the message protocol (handshake, tasks, results) this
/// build speaks. Peers of different versions refuse each other.
pub const WIRE_VERSION: u16 = 1;

/// Bytes of the fixed header.
pub const MESSAGE_HEADER_LEN: usize = 32;

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
            _ => return None,
        })
    }
}

/// A message read from a connection: its kind, body and frames.
#[derive(Debug)]
pub struct Message {
    kind: Kind,
    body_len: usize,
    frame_ends: Vec<usize>,
    /// Body, then the frames (their lengths are left out).
    bytes: Vec<u8>,
}

impl Message {
    /// What the body holds.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Decodes the body as a `T`; a body that does not decode is a
    /// [`ErrorKind::Protocol`] error.
    pub fn body<T: DeserializeOwned>(&self) -> Result<T> {
        postcard::from_bytes(&self.bytes[..self.body_len]).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "a {:?} message's {}-byte body does not decode: {e}",
                    self.kind, self.body_len
                ),
            )
        })
    }

    /// Number of frames.
    pub fn frame_count(&self) -> usize {
        self.frame_ends.len()
    }

    /// The bytes of frame `index`; an index past the end is a
    /// [`ErrorKind::Protocol`] error.
    pub fn frame(&self, index: usize) -> Result<&[u8]> {
        let end = *self.frame_ends.get(index).ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "a {:?} message refers to frame {index}, but holds {}",
                    self.kind,
                    self.frame_ends.len()
                ),
            )
        })?;
        let start = match index {
            0 => self.body_len,
            i => self.frame_ends[i - 1],
        };
        Ok(&self.bytes[start..end])
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
    let total = frames
        .iter()
        .fold(body.len() + 8 * frames.len(), |n, f| n + f.len());
    let mut header = [0u8; MESSAGE_HEADER_LEN];
    header[..4].copy_from_slice(&MESSAGE_MAGIC);
    header[4..6].copy_from_slice(&WIRE_VERSION.to_le_bytes());
    header[6] = kind as u8;
    header[8..12].copy_from_slice(&body_len.to_le_bytes());
    header[12..16].copy_from_slice(&count.to_le_bytes());
    header[16..24].copy_from_slice(&(total as u64).to_le_bytes());
    let mut lengths = Vec::with_capacity(8 * frames.len());
    for frame in frames {
        lengths.extend_from_slice(&(frame.len() as u64).to_le_bytes());
    }
    let checksum = checksum(&header, &lengths, &body);
    header[24..32].copy_from_slice(&checksum.to_le_bytes());
    let io = |e: std::io::Error| {
        Error::new(
            ErrorKind::Io,
            format!("cannot send a {kind:?} message: {e}"),
        )
        .with_source(e)
    };
    // Small messages go out in one write; a large frame is written from
    // its own buffer rather than copied behind the header.
    if total < 64 << 10 {
        let mut all = Vec::with_capacity(MESSAGE_HEADER_LEN + total);
        all.extend_from_slice(&header);
        all.extend_from_slice(&lengths);
        all.extend_from_slice(&body);
        for frame in frames {
            all.extend_from_slice(frame);
        }
        out.write_all(&all).map_err(io)?;
    } else {
        let mut head = Vec::with_capacity(MESSAGE_HEADER_LEN + body.len() + lengths.len());
        head.extend_from_slice(&header);
        head.extend_from_slice(&lengths);
        head.extend_from_slice(&body);
        out.write_all(&head).map_err(io)?;
        for frame in frames {
            out.write_all(frame).map_err(io)?;
        }
    }
    out.flush().map_err(io)
}

fn checksum(header: &[u8; MESSAGE_HEADER_LEN], lengths: &[u8], body: &[u8]) -> u64 {
    let mut hasher = Xxh3::new();
    hasher.update(&header[4..24]);
    hasher.update(lengths);
    hasher.update(body);
    hasher.digest()
}

/// Reads one message, refusing one longer than `max_len` bytes before
/// allocating for it. `Ok(None)` when the peer closed the connection
/// cleanly, between messages.
pub fn read_message<R: Read + ?Sized>(input: &mut R, max_len: u64) -> Result<Option<Message>> {
    let mut header = [0u8; MESSAGE_HEADER_LEN];
    if !read_header(input, &mut header)? {
        return Ok(None);
    }
    if header[..4] != MESSAGE_MAGIC {
        return Err(Error::new(
            ErrorKind::NotAFrame,
            format!(
                "the peer sent bytes {:02x?} where a Barrow message starts with \"BRWM\": it is \
                 not a Barrow program, or the stream is out of step",
                &header[..4]
            ),
        ));
    }
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
    let stored = u64::from_le_bytes(header[24..32].try_into().unwrap_or_default());
    let body_len = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default()) as usize;
    let count = u32::from_le_bytes(header[12..16].try_into().unwrap_or_default()) as usize;
    let total = u64::from_le_bytes(header[16..24].try_into().unwrap_or_default());
    let kind = Kind::from_code(header[6]);
    let corrupt = |what: String| {
        Error::new(
            ErrorKind::Corrupt,
            format!("corrupt message: {what}; the connection damaged it"),
        )
    };
    let (Some(kind), 0) = (kind, header[7]) else {
        return Err(corrupt(format!(
            "unknown kind {} or reserved byte {} set",
            header[6], header[7]
        )));
    };
    if total > max_len {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "a {kind:?} message of {total} bytes is over the limit of {max_len} bytes \
                 (processes.max-message-size)"
            ),
        ));
    }
    let total = usize::try_from(total)
        .map_err(|_| Error::new(ErrorKind::TooLarge, "a message is larger than memory"))?;
    let lengths_len = count
        .checked_mul(8)
        .filter(|&n| n.checked_add(body_len).is_some_and(|m| m <= total))
        .ok_or_else(|| {
            corrupt(format!(
                "a {body_len}-byte body and {count} frames do not fit in {total} bytes"
            ))
        })?;
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
    let mut lengths = vec![0u8; lengths_len];
    input.read_exact(&mut lengths).map_err(io)?;
    let rest = total - lengths_len;
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
                lengths_len + bytes.len()
            ),
        ));
    }
    if checksum(&header, &lengths, &bytes[..body_len]) != stored {
        return Err(corrupt(format!(
            "the {kind:?} message's checksum does not match"
        )));
    }
    let mut frame_ends = Vec::with_capacity(count);
    let mut end = body_len;
    for (i, len) in lengths.chunks_exact(8).enumerate() {
        let len = u64::from_le_bytes(len.try_into().unwrap_or_default());
        end = usize::try_from(len)
            .ok()
            .and_then(|len| end.checked_add(len))
            .filter(|&e| e <= rest)
            .ok_or_else(|| corrupt(format!("frame {i} runs past the end of the message")))?;
        frame_ends.push(end);
    }
    if end != rest {
        return Err(corrupt(format!(
            "its frames end at byte {end} of {rest} after the frame lengths"
        )));
    }
    Ok(Some(Message {
        kind,
        body_len,
        frame_ends,
        bytes,
    }))
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
    fn a_message_over_the_limit_is_refused_before_allocating() {
        let bytes = sample();
        let err = read_message(&mut &bytes[..], 1000).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(err.to_string().contains("processes.max-message-size"));
    }
}
