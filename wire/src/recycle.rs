//! Buffers of decoded vectors, kept for the next values of their size.
//!
//! A fresh buffer of 100 MB costs its reader about as much as the copy into
//! it: every page is faulted in and zeroed by the kernel. A worker process
//! that has sent a result back no longer needs its buffer, and the next
//! value it receives is often of the same size (the next chunk of an
//! array). [`Recycler::keep`] takes such buffers, and [`decode_recycling`]
//! decodes vectors of numbers into them instead of new ones.
//!
//! ```
//! use barrow_core::codec::CodecRegistry;
//! use barrow_core::Value;
//! use barrow_wire::Recycler;
//!
//! let codecs = CodecRegistry::with_builtins();
//! let recycler = Recycler::new(64 << 20);
//! let frame = barrow_wire::encode(&Value::new(vec![1.5f64; 1 << 16]), &codecs)?;
//!
//! let first = barrow_wire::decode_recycling(&frame, &codecs, &recycler)?;
//! let address = first.downcast_ref::<Vec<f64>>()?.as_ptr();
//! recycler.keep(first); // done with it
//! assert_eq!(recycler.bytes(), 8 << 16);
//!
//! let second = barrow_wire::decode_recycling(&frame, &codecs, &recycler)?;
//! assert_eq!(second.downcast_ref::<Vec<f64>>()?.as_ptr(), address);
//! assert_eq!(second.downcast_ref::<Vec<f64>>()?, &vec![1.5; 1 << 16]);
//! # Ok::<(), barrow_core::Error>(())
//! ```

use std::any::TypeId;
use std::collections::VecDeque;
use std::sync::Mutex;

use barrow_core::Value;
use barrow_core::codec::CodecRegistry;

use crate::raw::{Element, Kept, decode_raw_recycling, take_raw_vec};

/// Buffers of vectors of numbers (`Vec<f64>`, `Vec<i32>`, …) kept for
/// reuse, at most `max_bytes` of them, the most recently kept first.
#[derive(Debug)]
pub struct Recycler {
    max_bytes: usize,
    kept: Mutex<VecDeque<Kept>>,
}

impl Recycler {
    /// A recycler keeping at most `max_bytes` of buffers.
    pub fn new(max_bytes: usize) -> Recycler {
        Recycler {
            max_bytes,
            kept: Mutex::new(VecDeque::new()),
        }
    }

    /// Keeps the buffer of `value` when it is a vector of numbers and this
    /// is its last handle; drops it otherwise. The oldest buffers go when
    /// the kept ones would exceed the limit.
    pub fn keep(&self, value: Value) {
        let Some(kept) = take_raw_vec(value) else {
            return;
        };
        if kept.bytes == 0 || kept.bytes > self.max_bytes {
            return;
        }
        let mut all = self.lock();
        all.push_front(kept);
        let mut total: usize = all.iter().map(|k| k.bytes).sum();
        while total > self.max_bytes {
            match all.pop_back() {
                Some(oldest) => total -= oldest.bytes,
                None => break,
            }
        }
    }

    /// Bytes of the buffers kept.
    pub fn bytes(&self) -> usize {
        self.lock().iter().map(|k| k.bytes).sum()
    }

    /// A kept `Vec<T>` that holds `len` elements without growing and is
    /// not more than twice as large (a small value must not pin a large
    /// buffer); the smallest such.
    pub(crate) fn take<T: Element>(&self, len: usize) -> Option<Vec<T>> {
        let want = TypeId::of::<Vec<T>>();
        let bytes = len.checked_mul(size_of::<T>())?;
        let mut all = self.lock();
        let at = all
            .iter()
            .enumerate()
            .filter(|(_, k)| k.type_id == want && k.bytes >= bytes && k.bytes / 2 <= bytes)
            .min_by_key(|(_, k)| k.bytes)
            .map(|(i, _)| i)?;
        let kept = all.remove(at)?;
        kept.buffer.downcast::<Vec<T>>().ok().map(|b| *b)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Kept>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// [`decode`](crate::decode), with vectors of numbers decoded into a buffer
/// `recycler` kept, when it has one of the right type and size.
pub fn decode_recycling(
    bytes: &[u8],
    codecs: &CodecRegistry,
    recycler: &Recycler,
) -> crate::Result<Value> {
    let frame = crate::frame::read_frame(bytes)?;
    let tag = frame.tag();
    match decode_raw_recycling(tag, frame.payload(), recycler) {
        Some(decoded) => decoded.map_err(|e| crate::payload_error(tag, frame.payload().len(), e)),
        None => crate::decode_frame(&frame, codecs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(value: Value) -> Vec<u8> {
        crate::encode(&value, &CodecRegistry::with_builtins()).unwrap()
    }

    fn decoded<T: Clone + 'static>(bytes: &[u8], recycler: &Recycler) -> (Vec<T>, usize) {
        let value = decode_recycling(bytes, &CodecRegistry::with_builtins(), recycler).unwrap();
        let data = value.downcast_ref::<Vec<T>>().unwrap();
        (data.clone(), data.as_ptr() as usize)
    }

    #[test]
    fn only_last_handles_of_vectors_of_numbers_are_kept() {
        let recycler = Recycler::new(1 << 20);
        let shared = Value::new(vec![1u32; 100]);
        let other = shared.clone();
        recycler.keep(shared);
        recycler.keep(Value::new("text".to_owned()));
        recycler.keep(Value::new(Vec::<f64>::new()));
        assert_eq!(recycler.bytes(), 0);
        recycler.keep(other);
        assert_eq!(recycler.bytes(), 400);
    }

    #[test]
    fn a_buffer_is_reused_only_for_its_type_and_about_its_size() {
        let recycler = Recycler::new(1 << 20);
        let kept = vec![0i64; 1000];
        let address = kept.as_ptr() as usize;
        recycler.keep(Value::new(kept));
        // Another element type, a larger vector, one under half its size.
        let (_, at) = decoded::<u64>(&frame_of(Value::new(vec![1u64; 1000])), &recycler);
        assert_ne!(at, address);
        let (_, at) = decoded::<i64>(&frame_of(Value::new(vec![1i64; 1001])), &recycler);
        assert_ne!(at, address);
        let (_, at) = decoded::<i64>(&frame_of(Value::new(vec![1i64; 400])), &recycler);
        assert_ne!(at, address);
        // A bit smaller: reused, and holding exactly the new elements.
        let want: Vec<i64> = (0..700).collect();
        let (data, at) = decoded::<i64>(&frame_of(Value::new(want.clone())), &recycler);
        assert_eq!((data, at), (want, address));
        assert_eq!(recycler.bytes(), 0);
    }

    #[test]
    fn the_oldest_buffers_go_beyond_the_limit() {
        let recycler = Recycler::new(10_000);
        recycler.keep(Value::new(vec![0u8; 6000]));
        recycler.keep(Value::new(vec![0u8; 3000]));
        recycler.keep(Value::new(vec![0u8; 4000]));
        assert_eq!(recycler.bytes(), 7000);
        recycler.keep(Value::new(vec![0u8; 20_000]));
        assert_eq!(recycler.bytes(), 7000, "larger than the limit: not kept");
    }
}
