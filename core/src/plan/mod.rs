//! Lowering a graph into the dense execution plan every executor shares.

mod csr;

pub use csr::Csr;
