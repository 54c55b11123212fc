//! Every array operation checked against plain `ndarray` on random shapes
//! and uneven chunkings, on the `sync` and `threads` schedulers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    reason = "a property test fails loudly on the first surprise"
)]

mod props;
