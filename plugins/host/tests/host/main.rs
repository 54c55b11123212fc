//! The plugin host, end to end, with real plugin libraries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

mod cli;
mod codec;
mod failures;
mod file_checks;
mod functions;
mod scheduler;
mod setup;
