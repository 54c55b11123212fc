//! The scheduler conformance suite on `distributed` with real worker
//! processes (this test binary, started again by the LocalCluster).
#![allow(
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

barrow_processes::worker_entry!();

barrow_core::scheduler_conformance!(cluster: support::ClusterScheduler::processes());
