//! The bag workloads of `benches/compare/run`, shared by the `compare`
//! binary and the criterion benches: the same expressions as
//! `benches/compare/dask/run_bag.py`.

use std::path::Path;

use barrow_bag::{Bag, read_text};
use barrow_core::Result;
use barrow_delayed::Delayed;

/// Items of `bag-mapfilter`.
pub const MAPFILTER_ITEMS: i64 = 2_000_000;

/// Partitions of `bag-mapfilter`.
pub const MAPFILTER_PARTITIONS: usize = 40;

/// Block size of `bag-text-frequencies`, as Dask's `blocksize=8_000_000`.
pub const TEXT_BLOCKSIZE: u64 = 8_000_000;

/// `from_sequence(0..items, partitions).map(x * 3 + 1).filter(x % 7 == 0).count()`.
pub fn mapfilter(items: i64, partitions: usize) -> Result<Delayed<u64>> {
    Ok(Bag::from_sequence(0..items, partitions)?
        .map(|x| x * 3 + 1)
        .filter(|x| x % 7 == 0)
        .count())
}

/// What [`mapfilter`] counts, by a plain loop.
pub fn mapfilter_expected(items: i64) -> u64 {
    (0..items).filter(|x| (x * 3 + 1) % 7 == 0).count() as u64
}

/// `read_text(pattern).split_whitespace().frequencies().most_common(10)`
/// (Dask: `read_text(pattern).str.split().flatten().frequencies().topk(10, key=...)`):
/// the ten most frequent words with their counts, most frequent first. Every
/// step is a registered operation, so it runs on `processes` too.
pub fn text_frequencies(pattern: &Path, blocksize: Option<u64>) -> Result<Bag<(String, u64)>> {
    Ok(read_text(pattern)
        .blocksize_option(blocksize)
        .into_bag()?
        .split_whitespace()
        .frequencies()
        .most_common(10))
}
