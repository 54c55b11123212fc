//! The plugin host, end to end, with real plugin libraries.

mod support;

mod failures;
mod functions;
mod cli;
mod codec;
mod scheduler;
mod setup;
