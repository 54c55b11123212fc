//! The facade crate.
