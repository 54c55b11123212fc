//! Copies of large buffers, split across threads.
//!
//! Copying 100 MB into memory that has never been touched is bound by the
//! kernel's page faults more than by the memory itself, and faults in
//! different parts of one buffer are served in parallel. So large payloads
//! (a value into shared memory, a received one into its new buffer) are
//! copied by a few threads, as Ray's object store does; small ones by the
//! caller alone.

use std::sync::{Mutex, OnceLock};

/// Payloads smaller than this are copied by the calling thread.
const PARALLEL_FROM: usize = 16 << 20;

/// Each thread copies pieces of this size.
const PIECE: usize = 4 << 20;

/// More threads than this do not make a copy faster.
const MAX_THREADS: usize = 4;

/// Copies `src` into `dst`; they must have the same length.
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    let threads = threads_for(src.len());
    if threads <= 1 || dst.len() != src.len() {
        dst.copy_from_slice(src);
        return;
    }
    let pieces: Mutex<Vec<(&mut [u8], &[u8])>> =
        Mutex::new(dst.chunks_mut(PIECE).zip(src.chunks(PIECE)).collect());
    let work = || {
        loop {
            let next = pieces.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match next {
                Some((to, from)) => to.copy_from_slice(from),
                None => return,
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            // Without another thread, this one copies every piece.
            if std::thread::Builder::new()
                .name("barrow-copy".into())
                .spawn_scoped(scope, work)
                .is_err()
            {
                break;
            }
        }
        work();
    });
}

fn threads_for(len: usize) -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    if len < PARALLEL_FROM {
        return 1;
    }
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
    cores.min(MAX_THREADS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_copies_are_exact() {
        for len in [0, 1, 4096, PARALLEL_FROM - 1, PARALLEL_FROM + PIECE / 2 + 3] {
            let src: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut dst = vec![0u8; len];
            copy(&mut dst, &src);
            assert!(dst == src, "length {len}");
        }
    }
}
