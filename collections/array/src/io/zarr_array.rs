//! Arrays to and from Zarr v3 stores, one chunk per task.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use barrow_core::arg::lit;
use barrow_core::function::{Function, Input};
use barrow_core::{Func, Result, Task, Value};
use barrow_delayed::{Delayed, unique_name};

use crate::array::Array;
use crate::block::{Block, block_ref};
use crate::chunks::{ChunkSpec, Chunks};
use crate::create::{geometry, resolve_chunks};
use crate::dtype::Element;
use crate::error::invalid;
use crate::io::zarr::{self, ZarrElement, ZarrOptions};

fn u64s(v: &[usize]) -> Vec<u64> {
    v.iter().map(|&x| x as u64).collect()
}

/// Reads one block of a Zarr array.
struct ReadZarr<T> {
    path: Arc<Path>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element + ZarrElement> Function for ReadZarr<T> {
    fn name(&self) -> &str {
        "from_zarr"
    }
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let g = inputs
            .first()
            .ok_or_else(|| invalid("from_zarr takes a region"))?
            .as_value()?
            .downcast_ref::<Vec<usize>>()?;
        let (start, shape) = g.split_at(g.len() / 2);
        Ok(Block::Dense(zarr::read_region::<T>(
            &self.path,
            &u64s(start),
            &u64s(shape),
        )?)
        .into_value())
    }
}

/// Creates the store, writes one block, or finishes: by the arguments.
struct WriteZarr<T> {
    path: Arc<Path>,
    shape: Vec<u64>,
    chunk_shape: Vec<u64>,
    options: ZarrOptions,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element + ZarrElement> Function for WriteZarr<T> {
    fn name(&self) -> &str {
        "to_zarr"
    }
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        match inputs {
            [] => {
                zarr::create::<T>(&self.path, &self.shape, &self.chunk_shape, &self.options)?;
                Ok(Value::new(()))
            }
            [block, start, _created] => {
                let block = block_ref::<T>(block)?;
                let start = start.as_value()?.downcast_ref::<Vec<usize>>()?;
                zarr::write_region(&self.path, &u64s(start), block.view())?;
                Ok(Value::new(()))
            }
            [Input::List(_)] => Ok(Value::new(self.path.to_path_buf())),
            _ => Err(invalid("to_zarr: unexpected arguments")),
        }
    }
}

impl<T: Element + ZarrElement> Array<T> {
    /// An array of the Zarr v3 array at `path` (a folder holding
    /// `zarr.json`), in the store's own chunks, so each task reads whole
    /// stored chunks. A path that is not a Zarr array, or holds another
    /// element type, is an error that says which.
    ///
    /// ```
    /// use barrow_array::Array;
    /// use barrow_array::io::zarr::ZarrOptions;
    /// # barrow_local::link();
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("x.zarr");
    ///
    /// let x = Array::<f64>::arange(0.0, 100.0, 1.0, 30)?.reshape(&[10, 10])?;
    /// x.to_zarr(&path, ZarrOptions::default())?.compute()?;
    /// let back = Array::<f64>::from_zarr(&path)?;
    /// assert_eq!(back.compute()?, x.compute()?);
    /// assert!(Array::<i32>::from_zarr(&path).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_zarr(path: impl AsRef<Path>) -> Result<Array<T>> {
        let meta = zarr::open(path.as_ref())?;
        let chunks: Vec<usize> = meta.chunk_shape.iter().map(|&c| c as usize).collect();
        Array::from_zarr_with_chunks(path, chunks)
    }

    /// As [`Array::from_zarr`], cut into `chunks` (best a multiple of the
    /// store's chunks: a task reading part of a stored chunk decodes all of
    /// it).
    pub fn from_zarr_with_chunks(
        path: impl AsRef<Path>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<T>> {
        let path: Arc<Path> = path.as_ref().into();
        let meta = zarr::open(&path)?;
        // An empty read checks the element type now, not in a task.
        let origin = vec![0u64; meta.shape.len()];
        zarr::read_region::<T>(&path, &origin, &origin)?;
        let shape: Vec<usize> = meta.shape.iter().map(|&n| n as usize).collect();
        let chunks = resolve_chunks::<T>(&chunks.into(), &shape, None)?;
        let name: Arc<str> = unique_name("from_zarr").into();
        let function = Func::from_function(ReadZarr::<T> {
            path,
            marker: PhantomData,
        });
        let layer = Array::<T>::layer_for(&name, &chunks, |index| {
            Task::call(&function, [lit(geometry(&chunks, index))])
        })?;
        Ok(Array::from_layer(name, chunks, layer, &[], []))
    }

    /// Writes the array to a new Zarr v3 array at `path`, each block by its
    /// own task. The store's chunks are the array's (its largest block per
    /// axis); an array with irregular chunks is rechunked to regular ones
    /// first, so no two tasks write one stored chunk. Lazy: the writing
    /// happens when the returned value is computed, which gives the path.
    pub fn to_zarr(
        &self,
        path: impl AsRef<Path>,
        options: ZarrOptions,
    ) -> Result<Delayed<PathBuf>> {
        let path: Arc<Path> = path.as_ref().into();
        let shape = self.shape();
        let chunk_shape: Vec<usize> = self
            .chunks
            .largest_block()
            .iter()
            .map(|&c| c.max(1))
            .collect();
        let regular: Vec<Vec<usize>> = shape
            .iter()
            .zip(&chunk_shape)
            .map(|(&n, &c)| {
                if n == 0 {
                    return vec![0];
                }
                let mut v = vec![c; n / c];
                if n % c != 0 {
                    v.push(n % c);
                }
                v
            })
            .collect();
        let source = self.rechunk_to(Chunks::from_vec_unchecked(regular));
        let name = unique_name("to_zarr");
        let function = Func::from_function(WriteZarr::<T> {
            path,
            shape: u64s(&shape),
            chunk_shape: u64s(&chunk_shape),
            options,
            marker: PhantomData,
        });
        source.write_blocks(&name, &function)
    }
}
