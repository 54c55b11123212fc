//! Wire messages over an asynchronous stream, and batches of protocol
//! messages with their frames.
//!
//! A connection has one reader (a loop reading [`read_batch`]) and one
//! writer task ([`spawn_writer`]) fed by a channel: whatever was queued
//! while the last write was under way goes out as one wire message, so a
//! burst of small messages to a peer costs one write, with no timer (Dask
//! batches on 2–10 ms intervals; here the batch is whatever accumulated).

use std::ops::Range;
use std::sync::Arc;

use barrow_core::Registry;
use barrow_core::Value;
use barrow_wire::message::{
    Kind, MESSAGE_HEADER_LEN, Message, decode_message, message_head, parse_head,
};
use barrow_wire::{EncodedFrame, WireOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::{Error, ErrorKind, Result};

/// One frame to send with a message.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// Bytes already encoded (a task's literal).
    Bytes(Arc<[u8]>),
    /// A value, encoded when it is written (from its own buffer where
    /// its codec allows).
    Value(Value),
}

/// A message to send, with its frames.
#[derive(Debug)]
pub(crate) struct Outgoing<M> {
    pub(crate) message: M,
    pub(crate) frames: Vec<Frame>,
}

impl<M> Outgoing<M> {
    /// A message without frames.
    pub(crate) fn plain(message: M) -> Outgoing<M> {
        Outgoing {
            message,
            frames: Vec::new(),
        }
    }
}

/// A message received, with access to its frames.
#[derive(Debug)]
pub(crate) struct Received<M> {
    pub(crate) message: M,
    frames: Range<usize>,
    wire: Arc<Message>,
}

impl<M> Received<M> {
    /// How many frames came with it.
    #[cfg(test)]
    pub(crate) fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Its frame `index` (from 0).
    #[cfg(test)]
    pub(crate) fn frame(&self, index: usize) -> Result<&[u8]> {
        if index >= self.frames.len() {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "a message refers to its frame {index} but came with {}",
                    self.frames.len()
                ),
            ));
        }
        Ok(self.wire.frame(self.frames.start + index)?)
    }

    /// The message and its frames, apart.
    pub(crate) fn into_parts(self) -> (M, FrameSlice) {
        let frames = self.share_frames();
        (self.message, frames)
    }

    /// The wire message it came in and where its frames lie there, to
    /// keep the frames without copying them.
    pub(crate) fn share_frames(&self) -> FrameSlice {
        FrameSlice {
            wire: Some(self.wire.clone()),
            start: self.frames.start,
            len: self.frames.len(),
        }
    }
}

/// Some frames of a received wire message, kept alive with it.
#[derive(Debug, Clone, Default)]
pub(crate) struct FrameSlice {
    wire: Option<Arc<Message>>,
    start: usize,
    len: usize,
}

impl FrameSlice {
    /// Frame `index` of the slice.
    pub(crate) fn frame(&self, index: u32) -> barrow_wire::Result<&[u8]> {
        let index = index as usize;
        match &self.wire {
            Some(wire) if index < self.len => wire.frame(self.start + index),
            _ => Err(barrow_wire::Error::new(
                barrow_wire::ErrorKind::Protocol,
                format!(
                    "a task refers to its literal {index} but came with {}",
                    self.len
                ),
            )),
        }
    }

    /// How many frames.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Reads one wire message; `Ok(None)` when the peer closed the connection
/// between messages. A message over `max_len` bytes is refused before
/// memory is allocated for it.
pub(crate) async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: u64,
) -> Result<Option<Message>> {
    let mut header = [0u8; MESSAGE_HEADER_LEN];
    let mut filled = 0;
    while filled < header.len() {
        let n = match reader.read(&mut header[filled..]).await {
            Ok(n) => n,
            // A TLS peer that closed without a close_notify (its process
            // ended) between two messages: as a TCP peer's close, since
            // messages are delimited by their own lengths.
            Err(e) if filled == 0 && e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(closed("cannot read a message", e)),
        };
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(Error::new(
                ErrorKind::Closed,
                format!("the connection closed {filled} bytes into a message header"),
            ));
        }
        filled += n;
    }
    let head = parse_head(&header, max_len).map_err(|e| limit_error(e, max_len))?;
    let len = usize::try_from(head.rest_len)
        .map_err(|_| Error::new(ErrorKind::Protocol, "a message is larger than memory"))?;
    let mut rest = Vec::new();
    // A little slack past `len`: tokio's `read_to_end` wants 32 free bytes
    // before each read, and would otherwise grow (copy) the buffer near its end.
    rest.try_reserve_exact(len.saturating_add(32))
        .map_err(|_| {
            Error::new(
                ErrorKind::Limit,
                format!("no memory for a {:?} message of {len} bytes", head.kind),
            )
        })?;
    // Read into the reserved capacity: zeroing a large buffer first costs as
    // much as a copy of it.
    let read = (&mut *reader)
        .take(head.rest_len)
        .read_to_end(&mut rest)
        .await
        .map_err(|e| closed(&format!("cannot read a message of {len} bytes"), e))?;
    if read != len {
        return Err(Error::new(
            ErrorKind::Closed,
            format!("the connection closed {read} bytes into a message of {len} bytes"),
        ));
    }
    Ok(Some(decode_message(&header, rest, max_len)?))
}

fn limit_error(error: barrow_wire::Error, max_len: u64) -> Error {
    if error.kind() == barrow_wire::ErrorKind::TooLarge {
        return Error::new(
            ErrorKind::Protocol,
            format!(
                "the peer sent a message over the limit of {max_len} bytes \
                 (distributed.comm.max-message-size)"
            ),
        )
        .with_source(error);
    }
    error.into()
}

fn closed(what: &str, error: std::io::Error) -> Error {
    // A TLS peer that refused this process's certificate says so in the
    // first read after the handshake (TLS 1.3).
    #[cfg(feature = "tls")]
    if let Some(why) = crate::comm::tls::explain(&error, None) {
        return Error::new(ErrorKind::Tls, format!("{what}: {why}")).with_source(error);
    }
    Error::new(ErrorKind::Closed, format!("{what}: {error}")).with_source(error)
}

/// Reads one batch of protocol messages; `Ok(None)` when the peer closed
/// the connection between messages.
pub(crate) async fn read_batch<M, R>(
    reader: &mut R,
    max_len: u64,
) -> Result<Option<Vec<Received<M>>>>
where
    M: DeserializeOwned,
    R: AsyncRead + Unpin,
{
    let Some(wire) = read_message(reader, max_len).await? else {
        return Ok(None);
    };
    if wire.kind() != Kind::Batch {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "expected a batch of messages, got a {:?} message",
                wire.kind()
            ),
        ));
    }
    let entries: Vec<(M, u32)> = wire.body()?;
    let wire = Arc::new(wire);
    let mut received = Vec::with_capacity(entries.len());
    let mut next = 0usize;
    for (message, count) in entries {
        let end = next.saturating_add(count as usize);
        if end > wire.frame_count() {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "a batch's messages claim {end} frames, and it came with {}",
                    wire.frame_count()
                ),
            ));
        }
        received.push(Received {
            message,
            frames: next..end,
            wire: wire.clone(),
        });
        next = end;
    }
    Ok(Some(received))
}

/// Writes one wire message of `kind` with `body` and no frames.
pub(crate) async fn write_plain<W: AsyncWrite + Unpin>(
    writer: &mut W,
    kind: Kind,
    body: &impl Serialize,
) -> Result<()> {
    let head = message_head(kind, body, &[])?;
    writer
        .write_all(&head)
        .await
        .map_err(|e| closed("cannot send a message", e))?;
    writer
        .flush()
        .await
        .map_err(|e| closed("cannot send a message", e))
}

/// The most messages, and frame bytes, one batch takes before it is
/// written (the rest goes in the next).
const BATCH_MESSAGES: usize = 8192;
const BATCH_FRAME_BYTES: usize = 64 << 20;

/// The sending side of a connection: queue messages, a task writes them.
pub(crate) type Sender<M> = mpsc::UnboundedSender<Outgoing<M>>;

/// The receiving end of a [`Sender`], for [`spawn_writer`].
pub(crate) type Queue<M> = mpsc::UnboundedReceiver<Outgoing<M>>;

/// A queue for a connection's messages, made before the connection is
/// ready so that messages sent meanwhile wait in it.
pub(crate) fn queue<M>() -> (Sender<M>, Queue<M>) {
    mpsc::unbounded_channel()
}

/// Starts the task that writes what is queued in `queue` to `writer`,
/// batching what accumulates. It ends when every sender is dropped
/// (shutting the stream's write side) or a write fails.
pub(crate) fn spawn_writer<M, W>(
    writer: W,
    queue: Queue<M>,
    registry: &'static Registry,
    options: WireOptions,
    peer: String,
) where
    M: Serialize + Send + Sync + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = write_loop(writer, queue, registry, options).await {
            tracing::debug!("writing to {peer} stopped: {error}");
        }
    });
}

async fn write_loop<M: Serialize, W: AsyncWrite + Unpin>(
    mut writer: W,
    mut receiver: mpsc::UnboundedReceiver<Outgoing<M>>,
    registry: &'static Registry,
    options: WireOptions,
) -> Result<()> {
    let mut buffer = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let mut frame_bytes = 0usize;
        while batch.len() < BATCH_MESSAGES && frame_bytes < BATCH_FRAME_BYTES {
            match receiver.try_recv() {
                Ok(next) => {
                    frame_bytes += next.frames.iter().map(estimate).sum::<usize>();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        write_batch(&mut writer, &batch, registry, &options, &mut buffer).await?;
    }
    let _ = writer.shutdown().await;
    Ok(())
}

fn estimate(frame: &Frame) -> usize {
    match frame {
        Frame::Bytes(bytes) => bytes.len(),
        Frame::Value(value) => value.nbytes(),
    }
}

/// Writes `batch` as one wire message; small parts are gathered into one
/// write, large frames are written from their own buffers.
async fn write_batch<M: Serialize, W: AsyncWrite + Unpin>(
    writer: &mut W,
    batch: &[Outgoing<M>],
    registry: &'static Registry,
    options: &WireOptions,
    buffer: &mut Vec<u8>,
) -> Result<()> {
    let mut entries = Vec::with_capacity(batch.len());
    let mut frames: Vec<EncodedFrame<'_>> = Vec::new();
    for outgoing in batch {
        entries.push((&outgoing.message, outgoing.frames.len() as u32));
        for frame in &outgoing.frames {
            frames.push(match frame {
                Frame::Bytes(bytes) => EncodedFrame::from(&bytes[..]),
                Frame::Value(value) => {
                    match barrow_wire::encode_frame(value, registry.codecs(), options) {
                        Ok(frame) => frame,
                        Err(error) => {
                            // The receiver reads an empty frame as "this
                            // value could not be sent" and says so.
                            tracing::error!(
                                "a {} cannot be encoded to be sent: {error}",
                                value.type_name()
                            );
                            EncodedFrame::from(Vec::new())
                        }
                    }
                }
            });
        }
    }
    let head = message_head(Kind::Batch, &entries, &frames)?;
    let io = |e| closed("cannot send a message", e);
    buffer.clear();
    buffer.extend_from_slice(&head);
    for frame in &frames {
        if buffer.len() + frame.len() > (256 << 10) && frame.len() > (64 << 10) {
            // A large frame: what is gathered goes first, then the frame
            // from where it lies.
            writer.write_all(buffer).await.map_err(io)?;
            buffer.clear();
            writer.write_all(frame.head()).await.map_err(io)?;
            writer.write_all(frame.tail()).await.map_err(io)?;
        } else {
            buffer.extend_from_slice(frame.head());
            buffer.extend_from_slice(frame.tail());
        }
    }
    if !buffer.is_empty() {
        writer.write_all(buffer).await.map_err(io)?;
    }
    if buffer.capacity() > (1 << 20) {
        *buffer = Vec::new();
    }
    writer.flush().await.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Note {
        Text(String),
        Number(u64),
    }

    #[tokio::test(flavor = "current_thread")]
    async fn batches_carry_their_messages_and_frames_in_order() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let registry: &'static Registry = Registry::global();
        let (sender, receiver) = queue::<Note>();
        spawn_writer(a, receiver, registry, WireOptions::new(), "test".into());
        let big = Value::new(vec![1.5f64; 100_000]);
        sender
            .send(Outgoing {
                message: Note::Text("first".into()),
                frames: vec![Frame::Bytes(Arc::from(&b"abc"[..])), Frame::Value(big)],
            })
            .unwrap();
        sender.send(Outgoing::plain(Note::Number(7))).unwrap();
        drop(sender);
        let mut got = Vec::new();
        while let Some(batch) = read_batch::<Note, _>(&mut b, u64::MAX).await.unwrap() {
            got.extend(batch);
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].message, Note::Text("first".into()));
        assert_eq!(got[0].frame_count(), 2);
        assert_eq!(got[0].frame(0).unwrap(), b"abc");
        let value = barrow_wire::decode(got[0].frame(1).unwrap(), registry.codecs()).unwrap();
        assert_eq!(value.downcast_ref::<Vec<f64>>().unwrap().len(), 100_000);
        assert_eq!(got[1].message, Note::Number(7));
        assert_eq!(got[1].frame_count(), 0);
        assert!(got[1].frame(0).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever the bytes, reading them is a batch or an error, never
        /// a panic: random bytes, and damaged real messages.
        #[test]
        fn random_bytes_never_panic_the_reader(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            flips in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 0..8),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(async {
                let mut reader = &bytes[..];
                let _ = read_batch::<Note, _>(&mut reader, 1 << 20).await;
                let mut real = message_head(Kind::Batch, &vec![(Note::Number(3), 1u32)], &[EncodedFrame::from(&b"frame"[..])]).unwrap();
                real.extend_from_slice(b"frame");
                for (at, value) in &flips {
                    let len = real.len();
                    real[at % len] ^= value;
                }
                let mut reader = &real[..];
                let _ = read_batch::<Note, _>(&mut reader, 1 << 20).await;
            });
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_message_over_the_limit_is_refused_naming_the_setting() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        write_plain(&mut a, Kind::Batch, &vec![0u8; 4096])
            .await
            .unwrap();
        let err = read_message(&mut b, 100).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(
            err.to_string()
                .contains("distributed.comm.max-message-size"),
            "{err}"
        );
    }
}
