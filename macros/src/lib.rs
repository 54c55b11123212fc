//! Procedural macros for Barrow.
