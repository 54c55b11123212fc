//! Shared helpers for the Barrow benchmarks.
