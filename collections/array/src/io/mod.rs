//! Reading and writing arrays chunk by chunk: NumPy `.npy` files and
//! (feature `zarr`) Zarr v3 stores.

mod files;
pub mod npy;
/// Zarr v3 stores, chunk by chunk (feature `zarr`).
#[cfg(feature = "zarr")]
pub mod zarr;
#[cfg(feature = "zarr")]
mod zarr_array;
