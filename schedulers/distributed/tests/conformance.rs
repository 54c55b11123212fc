//! The scheduler conformance suite on `distributed`: a cluster of two
//! in-process workers per case, invariants validated after every event.
#![allow(
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

barrow_core::scheduler_conformance!(cluster: support::ClusterScheduler::in_process());
