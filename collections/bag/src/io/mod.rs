//! Reading and writing the files bags are made from and saved to.
//!
//! - [`paths`] turns paths and glob patterns into a list of files;
//! - [`compression`] reads and writes whole-file gzip, bz2, xz and zstd;
//! - [`text`] cuts text files into line-aligned blocks (a bag's
//!   partitions), streams their lines, and writes lines out.
pub mod compression;
pub mod paths;
pub mod text;
