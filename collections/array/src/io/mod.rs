//! Reading and writing arrays chunk by chunk: NumPy `.npy` files.

mod files;
pub mod npy;
