//! The plugin host, end to end, with real plugin libraries.

mod support;

mod cli;
mod codec;
mod failures;
mod functions;
mod scheduler;
mod setup;
