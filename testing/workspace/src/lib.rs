//! Nothing to use: this package exists so that workspace builds turn on
//! every feature of the `barrow` facade (see its `Cargo.toml`), and to hold
//! the facade's tests whose dev-dependencies (proptest) its examples should
//! not build. Its tests are in `tests/`.
#![deny(missing_docs, missing_debug_implementations)]
