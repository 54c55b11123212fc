//! Large frames through shared memory, between processes on one machine.
//!
//! A frame of a few megabytes costs a socket two copies through the kernel,
//! and its reader a fresh buffer to receive it in. Over a Unix socket,
//! [`SharedMemory`] instead copies a message's large frames into a
//! **segment**: a `memfd` file, mapped by the writer, sealed so that it can
//! never shrink under a reader, and sent with the message as a file
//! descriptor (`SCM_RIGHTS`). The reader ([`MessageReader`]) maps it and
//! decodes the frames from where they lie; the frames keep their
//! checksums. When it is done, the reader sends a [`Kind::Release`] message
//! and the writer uses the segment again: its pages are already there, so
//! the next large message costs one copy into warm memory.
//!
//! ```
//! # #[cfg(target_os = "linux")] {
//! use std::os::unix::net::UnixStream;
//! use barrow_wire::message::Kind;
//! use barrow_wire::shared::{MessageReader, SharedMemory};
//!
//! let (a, b) = UnixStream::pair()?;
//! let shared = SharedMemory::new(1 << 20, 64 << 20)?;
//! let big = vec![7u8; 4 << 20];
//! shared.write_message(&a, Kind::Run, &"a body", &[big.as_slice().into()])?;
//!
//! let mut reader = MessageReader::new(b);
//! let message = reader.read(u64::MAX)?.expect("a message");
//! assert_eq!(message.frame(0)?, &big[..]);
//! assert_eq!(message.shared_len(), 4 << 20);
//! // Done with it: the writer may use the segment again.
//! let segment = message.segment().expect("a segment");
//! drop(message);
//! shared.release(segment)?;
//! assert_eq!(shared.stats().busy, 0);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::EncodedFrame;
use crate::message::{
    Kind, Layout, Message, Segment, SegmentBytes, Segments, compose, io_error, read_message_with,
    send_rest,
};

/// Segments are made in multiples of this many bytes, so that one made for
/// a frame serves the next of about the same size.
const GRANULE: usize = 2 << 20;

/// The most descriptors one read accepts (a message brings at most one).
const MAX_FDS: usize = 4;

/// The writing side of a connection's shared memory: its segments, each
/// either holding a message's frames until the reader releases it, or idle
/// and ready for the next.
///
/// Cloning gives another handle on the same segments (the thread that
/// reads the peer's [`Kind::Release`] messages needs one). Idle segments
/// beyond `retain` bytes are given back to the system, least recently used
/// first; all are when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct SharedMemory {
    arena: Arc<Mutex<Arena>>,
    above: usize,
}

/// What a [`SharedMemory`] holds, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SharedStats {
    /// Segments it holds, busy or idle.
    pub segments: usize,
    /// Segments a reader has not released yet.
    pub busy: usize,
    /// Bytes of all its segments.
    pub bytes: usize,
    /// Segments made since it was created.
    pub created: u64,
}

#[derive(Debug)]
struct Arena {
    segments: Vec<OwnSegment>,
    /// Segments given back to the system since the last message: the
    /// next one tells the reader to unmap them.
    forgotten: Vec<u64>,
    retain: usize,
    next_id: u64,
    clock: u64,
    created: u64,
}

#[derive(Debug)]
struct OwnSegment {
    id: u64,
    file: File,
    map: memmap2::MmapMut,
    busy: bool,
    last_used: u64,
}

impl SharedMemory {
    /// Shared memory for frames of `above` bytes or more, keeping up to
    /// `retain` bytes of idle segments for reuse. Fails, saying why, where
    /// this system has no sealable `memfd` (not Linux, or a sandbox that
    /// forbids it): the connection then sends every frame inline.
    pub fn new(above: usize, retain: usize) -> Result<SharedMemory> {
        // Find out now rather than in the middle of a computation.
        drop(create_segment(4096).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("shared memory is not available on this system: {e}"),
            )
        })?);
        Ok(SharedMemory {
            arena: Arc::new(Mutex::new(Arena {
                segments: Vec::new(),
                forgotten: Vec::new(),
                retain,
                next_id: 1,
                clock: 0,
                created: 0,
            })),
            above: above.max(1),
        })
    }

    /// Frames of this many bytes or more go in shared memory.
    pub fn above(&self) -> usize {
        self.above
    }

    /// Writes one message to `stream`, as
    /// [`write_frames`](crate::message::write_frames) does, except that
    /// frames of [`above`](Self::above) bytes or more go in a segment sent
    /// with it. The segment stays busy until [`release`](Self::release).
    pub fn write_message(
        &self,
        stream: &UnixStream,
        kind: Kind,
        body: &impl Serialize,
        frames: &[EncodedFrame<'_>],
    ) -> Result<()> {
        let shared: Vec<bool> = frames.iter().map(|f| f.len() >= self.above).collect();
        let shared_len: usize = frames
            .iter()
            .zip(&shared)
            .filter(|(_, s)| **s)
            .map(|(f, _)| f.len())
            .sum();
        if shared_len == 0 {
            let layout = Layout {
                forget: std::mem::take(&mut self.lock().forgotten),
                ..Layout::inline(frames.len())
            };
            let head = compose(kind, body, frames, &layout)?;
            return send_rest(&mut &*stream, kind, &head, frames, &layout);
        }
        let (id, fd, forget) = {
            let mut arena = self.lock();
            let (id, fd) = arena.take(shared_len)?;
            if let Err(error) = arena.fill(id, frames, &shared) {
                arena.release(id);
                return Err(error);
            }
            (id, fd, std::mem::take(&mut arena.forgotten))
        };
        let layout = Layout {
            shared,
            segment: Some((id, shared_len as u64)),
            forget,
        };
        let sent = compose(kind, body, frames, &layout).and_then(|head| {
            let first = send_with_fd(stream, &head, &fd).map_err(|e| io_error(kind, e))?;
            send_rest(&mut &*stream, kind, &head[first..], frames, &layout)
        });
        if sent.is_err() {
            // The reader never got it: nobody will release it.
            self.lock().release(id);
        }
        sent
    }

    /// Marks segment `id` idle again, after the reader's [`Kind::Release`]
    /// message. An id this side never sent is a [`ErrorKind::Protocol`]
    /// error.
    pub fn release(&self, id: u64) -> Result<()> {
        if self.lock().release(id) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Protocol,
                format!("the peer released shared-memory segment {id}, which it was never sent"),
            ))
        }
    }

    /// Its segments, busy and idle.
    pub fn stats(&self) -> SharedStats {
        let arena = self.lock();
        SharedStats {
            segments: arena.segments.len(),
            busy: arena.segments.iter().filter(|s| s.busy).count(),
            bytes: arena.segments.iter().map(|s| s.map.len()).sum(),
            created: arena.created,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Arena> {
        // A panic while copying leaves the segment list consistent.
        self.arena.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Arena {
    /// An idle segment of at least `len` bytes (the smallest), or a new
    /// one; marked busy.
    fn take(&mut self, len: usize) -> Result<(u64, OwnedFd)> {
        self.clock += 1;
        let best = self
            .segments
            .iter_mut()
            .filter(|s| !s.busy && s.map.len() >= len)
            .min_by_key(|s| s.map.len());
        let segment = match best {
            Some(segment) => segment,
            None => {
                let capacity = len.div_ceil(GRANULE).saturating_mul(GRANULE);
                let (file, map) = create_segment(capacity).map_err(|e| {
                    Error::new(
                        ErrorKind::TooLarge,
                        format!("cannot make a shared-memory segment of {capacity} bytes: {e}"),
                    )
                })?;
                let id = self.next_id;
                self.next_id += 1;
                self.created += 1;
                self.segments.push(OwnSegment {
                    id,
                    file,
                    map,
                    busy: false,
                    last_used: 0,
                });
                self.segments
                    .last_mut()
                    .ok_or_else(|| Error::new(ErrorKind::Protocol, "no segment"))?
            }
        };
        segment.busy = true;
        segment.last_used = self.clock;
        let fd = segment.file.try_clone().map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot share a shared-memory segment: {e}"),
            )
        })?;
        let id = segment.id;
        self.trim();
        Ok((id, fd.into()))
    }

    /// Copies the frames marked `shared` into segment `id`, one after the
    /// other from its start.
    fn fill(&mut self, id: u64, frames: &[EncodedFrame<'_>], shared: &[bool]) -> Result<()> {
        let segment = self
            .segments
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::new(ErrorKind::Protocol, format!("no segment {id}")))?;
        let mut at = 0;
        for frame in frames
            .iter()
            .zip(shared)
            .filter(|(_, s)| **s)
            .map(|(f, _)| f)
        {
            let end = at + frame.len();
            let Some(out) = segment.map.get_mut(at..end) else {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("segment {id} is too small for its frames"),
                ));
            };
            frame.copy_to(out);
            at = end;
        }
        Ok(())
    }

    /// Marks `id` idle; `false` if there is no such segment.
    fn release(&mut self, id: u64) -> bool {
        self.clock += 1;
        let Some(segment) = self.segments.iter_mut().find(|s| s.id == id) else {
            return false;
        };
        segment.busy = false;
        segment.last_used = self.clock;
        self.trim();
        true
    }

    /// Drops the least recently used idle segments while the idle ones
    /// hold more than `retain` bytes.
    fn trim(&mut self) {
        loop {
            let idle: usize = self
                .segments
                .iter()
                .filter(|s| !s.busy)
                .map(|s| s.map.len())
                .sum();
            if idle <= self.retain {
                return;
            }
            let oldest = self
                .segments
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.busy)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    let segment = self.segments.swap_remove(i);
                    self.forgotten.push(segment.id);
                }
                None => return,
            }
        }
    }
}

/// Writes one message to `stream`: its large frames through `shared` when
/// there is one, else every frame through the socket.
pub fn send_message(
    stream: &UnixStream,
    shared: Option<&SharedMemory>,
    kind: Kind,
    body: &impl Serialize,
    frames: &[EncodedFrame<'_>],
) -> Result<()> {
    match shared {
        Some(shared) => shared.write_message(stream, kind, body, frames),
        None => crate::message::write_frames(&mut &*stream, kind, body, frames),
    }
}

/// Sends the start of `head` with `fd` attached; returns the bytes sent.
fn send_with_fd(stream: &UnixStream, head: &[u8], fd: &OwnedFd) -> std::io::Result<usize> {
    use std::os::fd::AsFd;
    let fds = [fd.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(std::io::Error::other("no room for a descriptor"));
    }
    loop {
        match rustix::net::sendmsg(
            stream,
            &[IoSlice::new(head)],
            &mut control,
            SendFlags::empty(),
        ) {
            Ok(sent) => return Ok(sent),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads messages from a Unix socket, with the shared-memory segments they
/// bring (see the [module](self)); buffered. It keeps each segment mapped
/// until its writer says it has given it back to the system, so that a
/// segment used again costs no new mapping.
#[derive(Debug)]
pub struct MessageReader {
    input: BufReader<FdSocket>,
    segments: Mappings,
}

/// The segments a reader has mapped, and the descriptors received with
/// messages not read yet.
#[derive(Debug)]
struct Mappings {
    fds: Arc<Mutex<VecDeque<OwnedFd>>>,
    mapped: HashMap<u64, Arc<Mapped>>,
}

impl MessageReader {
    /// A reader of `stream`.
    pub fn new(stream: UnixStream) -> MessageReader {
        let fds = Arc::new(Mutex::new(VecDeque::new()));
        let socket = FdSocket {
            stream,
            fds: fds.clone(),
        };
        MessageReader {
            input: BufReader::with_capacity(1 << 16, socket),
            segments: Mappings {
                fds,
                mapped: HashMap::new(),
            },
        }
    }

    /// The socket it reads.
    pub fn get_ref(&self) -> &UnixStream {
        &self.input.get_ref().stream
    }

    /// Bytes of the segments it keeps mapped.
    pub fn mapped_bytes(&self) -> usize {
        self.segments.mapped.values().map(|m| m.0.len()).sum()
    }

    /// Reads one message, as [`read_message`](crate::message::read_message)
    /// does, mapping the segment it comes with. A segment counts towards
    /// `max_len`; one that is not a sealed memory file, or smaller than its
    /// frames, is a [`ErrorKind::Protocol`] error.
    pub fn read(&mut self, max_len: u64) -> Result<Option<Message>> {
        read_message_with(&mut self.input, max_len, &mut self.segments)
    }
}

impl Segments for Mappings {
    fn take(&mut self, kind: Kind, id: u64, len: usize) -> Result<Segment> {
        let fd = self
            .fds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "a {kind:?} message says it comes with shared memory, and no descriptor \
                         came with it"
                    ),
                )
            })?;
        let mapped = match self.mapped.get(&id) {
            Some(mapped) if mapped.0.len() >= len => mapped.clone(),
            _ => {
                let mapped = Arc::new(map_segment(fd, len).map_err(|e| {
                    Error::new(
                        ErrorKind::Protocol,
                        format!("the shared memory of a {kind:?} message cannot be read: {e}"),
                    )
                })?);
                self.mapped.insert(id, mapped.clone());
                mapped
            }
        };
        Ok(Segment {
            id,
            len,
            bytes: mapped,
        })
    }

    fn forget(&mut self, id: u64) {
        self.mapped.remove(&id);
    }
}

/// A socket read with `recvmsg`, keeping the descriptors that come along.
#[derive(Debug)]
struct FdSocket {
    stream: UnixStream,
    fds: Arc<Mutex<VecDeque<OwnedFd>>>,
}

impl Read for FdSocket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received = loop {
            match rustix::net::recvmsg(
                &self.stream,
                &mut [IoSliceMut::new(buf)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Ok(received) => break received,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        };
        let mut fds = self.fds.lock().unwrap_or_else(|e| e.into_inner());
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = message {
                fds.extend(received);
            }
        }
        if received.flags.contains(ReturnFlags::CTRUNC) {
            return Err(std::io::Error::other(
                "the peer sent more descriptors than a message brings",
            ));
        }
        Ok(received.bytes)
    }
}

/// A received segment, mapped for reading.
#[derive(Debug)]
struct Mapped(memmap2::Mmap);

impl SegmentBytes for Mapped {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn create_segment(capacity: usize) -> std::io::Result<(File, memmap2::MmapMut)> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let fd = rustix::fs::memfd_create(
        "barrow-frames",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    rustix::fs::ftruncate(&fd, capacity as u64)?;
    // Readers rely on these: the file can never be cut short under their
    // mapping (which would kill them with SIGBUS), nor the seals undone.
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
    let file = File::from(fd);
    // SAFETY: the file is a memfd this process just made, sealed against
    // resizing, so the mapping stays backed. Its other mappings are the
    // readers' (read-only), and this side writes a segment only while no
    // reader holds it (between their release and the next message).
    let map = unsafe { memmap2::MmapOptions::new().len(capacity).map_mut(&file)? };
    Ok((file, map))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn create_segment(_capacity: usize) -> std::io::Result<(File, memmap2::MmapMut)> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "sealable memory files (memfd) are Linux's",
    ))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn map_segment(fd: OwnedFd, len: usize) -> std::io::Result<Mapped> {
    use rustix::fs::SealFlags;
    let seals = rustix::fs::fcntl_get_seals(&fd)?;
    if !seals.contains(SealFlags::SHRINK) {
        return Err(std::io::Error::other(
            "the descriptor is not a memory file sealed against shrinking",
        ));
    }
    let size = usize::try_from(rustix::fs::fstat(&fd)?.st_size).unwrap_or(0);
    if size < len {
        return Err(std::io::Error::other(format!(
            "the segment holds {size} bytes, and its frames {len}"
        )));
    }
    let file = File::from(fd);
    // SAFETY: the file is a memfd sealed against shrinking (checked above)
    // and `size` bytes long, so every mapped page stays backed. It is
    // mapped read-only, and its writer leaves the part holding a message's
    // frames alone until this side has read them and released it.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .len(size)
            .populate()
            .map(&file)?
    };
    Ok(Mapped(map))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn map_segment(_fd: OwnedFd, _len: usize) -> std::io::Result<Mapped> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "shared-memory segments are read on Linux only",
    ))
}

#[cfg(test)]
#[cfg(any(target_os = "linux", target_os = "android"))]
mod tests {
    use super::*;
    use crate::message::read_message;

    const MIB: usize = 1 << 20;

    fn pair() -> (UnixStream, MessageReader) {
        let (a, b) = UnixStream::pair().unwrap();
        (a, MessageReader::new(b))
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn large_frames_go_in_a_segment_small_ones_inline_and_segments_are_reused() {
        let (a, mut reader) = pair();
        let shared = SharedMemory::new(MIB, 64 * MIB).unwrap();
        let (big, small, other) = (bytes(3 * MIB, 1), bytes(100, 2), bytes(2 * MIB, 3));
        for round in 0..3 {
            let frames = [
                big.as_slice().into(),
                small.as_slice().into(),
                other.as_slice().into(),
            ];
            shared
                .write_message(&a, Kind::Done, &round, &frames)
                .unwrap();
            let message = reader.read(u64::MAX).unwrap().unwrap();
            assert_eq!(message.body::<i32>().unwrap(), round);
            assert_eq!(message.frame(0).unwrap(), big.as_slice());
            assert_eq!(message.frame(1).unwrap(), small.as_slice());
            assert_eq!(message.frame(2).unwrap(), other.as_slice());
            assert_eq!(message.shared_len(), 5 * MIB);
            let segment = message.segment().unwrap();
            drop(message);
            assert_eq!(shared.stats().busy, 1);
            shared.release(segment).unwrap();
        }
        let stats = shared.stats();
        assert_eq!((stats.created, stats.segments, stats.busy), (1, 1, 0));
        // A message of small frames only needs no segment.
        shared
            .write_message(&a, Kind::Done, &(), &[small.as_slice().into()])
            .unwrap();
        let message = reader.read(u64::MAX).unwrap().unwrap();
        assert_eq!(
            (message.segment(), message.frame(0).unwrap()),
            (None, small.as_slice())
        );
    }

    #[test]
    fn a_busy_segment_is_never_written_over() {
        let (a, mut reader) = pair();
        let shared = SharedMemory::new(MIB, 64 * MIB).unwrap();
        let (first, second) = (bytes(2 * MIB, 1), bytes(2 * MIB, 2));
        shared
            .write_message(&a, Kind::Done, &(), &[first.as_slice().into()])
            .unwrap();
        let held = reader.read(u64::MAX).unwrap().unwrap();
        shared
            .write_message(&a, Kind::Done, &(), &[second.as_slice().into()])
            .unwrap();
        let next = reader.read(u64::MAX).unwrap().unwrap();
        assert_ne!(held.segment(), next.segment());
        assert_eq!(held.frame(0).unwrap(), first.as_slice());
        assert_eq!(next.frame(0).unwrap(), second.as_slice());
        assert_eq!(shared.stats().created, 2);
    }

    #[test]
    fn idle_segments_beyond_the_limit_are_given_back_and_the_reader_unmaps_them() {
        let (a, mut reader) = pair();
        // Keeps one idle 4 MiB segment at most.
        let shared = SharedMemory::new(MIB, 4 * MIB).unwrap();
        let (one, two) = (bytes(3 * MIB, 1), bytes(3 * MIB, 2));
        shared
            .write_message(&a, Kind::Done, &(), &[one.as_slice().into()])
            .unwrap();
        let first = reader.read(u64::MAX).unwrap().unwrap();
        shared
            .write_message(&a, Kind::Done, &(), &[two.as_slice().into()])
            .unwrap();
        let second = reader.read(u64::MAX).unwrap().unwrap();
        assert_eq!(reader.mapped_bytes(), 8 * MIB);
        for message in [first, second] {
            shared.release(message.segment().unwrap()).unwrap();
        }
        assert_eq!(shared.stats().segments, 1, "{:?}", shared.stats());
        // The next message tells the reader which one went.
        shared.write_message(&a, Kind::Done, &(), &[]).unwrap();
        reader.read(u64::MAX).unwrap().unwrap();
        assert_eq!(reader.mapped_bytes(), 4 * MIB);
    }

    #[test]
    fn damage_in_shared_memory_is_caught_by_the_frame_checksum() {
        let (a, mut reader) = pair();
        let shared = SharedMemory::new(MIB, 64 * MIB).unwrap();
        let frame =
            crate::frame::write_frame("test.bytes", &bytes(2 * MIB, 5), &Default::default())
                .unwrap();
        shared
            .write_message(&a, Kind::Done, &(), &[frame.as_slice().into()])
            .unwrap();
        // A writer breaking the protocol: it changes the segment under the
        // reader.
        shared.lock().segments[0].map[MIB] ^= 1;
        let message = reader.read(u64::MAX).unwrap().unwrap();
        let err = crate::frame::read_frame(message.frame(0).unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    }

    #[test]
    fn releasing_a_segment_never_sent_is_a_protocol_error() {
        let shared = SharedMemory::new(MIB, MIB).unwrap();
        let err = shared.release(42).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.to_string().contains("42"), "{err}");
    }

    #[test]
    fn a_plain_reader_refuses_shared_memory_and_a_limit_counts_it() {
        let (a, b) = UnixStream::pair().unwrap();
        let shared = SharedMemory::new(MIB, 64 * MIB).unwrap();
        let big = bytes(2 * MIB, 1);
        shared
            .write_message(&a, Kind::Done, &(), &[big.as_slice().into()])
            .unwrap();
        let err = read_message(&mut &b, u64::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.to_string().contains("cannot receive"), "{err}");

        let (a, mut reader) = pair();
        shared
            .write_message(&a, Kind::Done, &(), &[big.as_slice().into()])
            .unwrap();
        let err = reader.read(MIB as u64).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    }

    /// Sends a message saying its one frame is in segment 1, with `fd`
    /// attached if given.
    fn send_claiming_a_segment(stream: &UnixStream, fd: Option<&OwnedFd>, len: usize) {
        let frame = vec![0u8; len];
        let frames = [EncodedFrame::from(frame.as_slice())];
        let layout = Layout {
            shared: vec![true],
            segment: Some((1, len as u64)),
            forget: Vec::new(),
        };
        let head = compose(Kind::Done, &(), &frames, &layout).unwrap();
        let sent = match fd {
            Some(fd) => send_with_fd(stream, &head, fd).unwrap(),
            None => 0,
        };
        send_rest(&mut &*stream, Kind::Done, &head[sent..], &frames, &layout).unwrap();
    }

    #[test]
    fn a_segment_without_its_descriptor_is_refused() {
        let (a, mut reader) = pair();
        send_claiming_a_segment(&a, None, 4096);
        let err = reader.read(u64::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.to_string().contains("no descriptor"), "{err}");
    }

    #[test]
    fn an_unsealed_or_short_segment_is_refused() {
        // Not sealed: its writer could cut it short under the reader.
        let (a, mut reader) = pair();
        let unsealed = rustix::fs::memfd_create("test", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&unsealed, 4096).unwrap();
        send_claiming_a_segment(&a, Some(&unsealed), 4096);
        let err = reader.read(u64::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.to_string().contains("sealed"), "{err}");

        // Sealed, but smaller than the frames it should hold.
        let (a, mut reader) = pair();
        let (file, _map) = create_segment(4096).unwrap();
        send_claiming_a_segment(&a, Some(&OwnedFd::from(file)), 8192);
        let err = reader.read(u64::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.to_string().contains("holds 4096 bytes"), "{err}");
    }
}
