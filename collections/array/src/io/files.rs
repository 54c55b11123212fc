//! Arrays to and from `.npy` files, one chunk per task.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use barrow_core::arg::{key, keys, lit};
use barrow_core::function::{Function, Input};
use barrow_core::{Func, Key, Layer, Result, Task, Value};
use barrow_delayed::{Delayed, unique_name};
use ndarray::ArrayD;

use crate::array::{Array, block_key};
use crate::block::{Block, block_ref};
use crate::chunks::ChunkSpec;
use crate::create::{geometry, resolve_chunks};
use crate::dtype::Element;
use crate::error::invalid;
use crate::io::npy::{self, NpyElement};

/// Reads one block of an `.npy` file.
struct ReadNpy<T> {
    path: Arc<Path>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element + NpyElement> Function for ReadNpy<T> {
    fn name(&self) -> &str {
        "from_npy"
    }
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let g = inputs
            .first()
            .ok_or_else(|| invalid("from_npy takes a region"))?
            .as_value()?
            .downcast_ref::<Vec<usize>>()?;
        let (start, shape) = g.split_at(g.len() / 2);
        Ok(Block::Dense(npy::read_region::<T>(&self.path, start, shape)?).into_value())
    }
}

/// Creates the file, writes one block, or finishes: by the arguments.
struct WriteNpy<T> {
    path: Arc<Path>,
    shape: Vec<usize>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element + NpyElement> Function for WriteNpy<T> {
    fn name(&self) -> &str {
        "to_npy"
    }
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        match inputs {
            [] => {
                npy::create::<T>(&self.path, &self.shape)?;
                Ok(Value::new(()))
            }
            [block, start, _created] => {
                let block = block_ref::<T>(block)?;
                let start = start.as_value()?.downcast_ref::<Vec<usize>>()?;
                npy::write_region(&self.path, start, block.view())?;
                Ok(Value::new(()))
            }
            [Input::List(_)] => Ok(Value::new(self.path.to_path_buf())),
            _ => Err(invalid("to_npy: unexpected arguments")),
        }
    }
}

impl<T: Element + NpyElement> Array<T> {
    /// An array of the `.npy` file at `path` (NumPy's format, any version,
    /// C or Fortran order), cut into `chunks`; each block task reads its
    /// own region, so the file is never read whole. The header is checked
    /// now: a file of another element type is an error naming both.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("x.npy");
    ///
    /// let x = Array::<f64>::arange(0.0, 12.0, 1.0, 5)?;
    /// x.to_npy(&path)?.compute()?;
    /// let back = Array::<f64>::from_npy(&path, 4)?;
    /// assert_eq!(back.compute()?, x.compute()?);
    /// assert!(Array::<i32>::from_npy(&path, 4).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_npy(path: impl AsRef<Path>, chunks: impl Into<ChunkSpec>) -> Result<Array<T>> {
        let path: Arc<Path> = path.as_ref().into();
        let header = npy::read_header(&path)?;
        // Reading an empty region checks the element type up front.
        npy::read_region::<T>(
            &path,
            &vec![0; header.shape.len()],
            &vec![0; header.shape.len()],
        )?;
        let chunks = resolve_chunks::<T>(&chunks.into(), &header.shape, None)?;
        let name: Arc<str> = unique_name("from_npy").into();
        let function = Func::from_function(ReadNpy::<T> {
            path,
            marker: PhantomData,
        });
        let layer = Array::<T>::layer_for(&name, &chunks, |index| {
            Task::call(&function, [lit(geometry(&chunks, index))])
        })?;
        Ok(Array::from_layer(name, chunks, layer, &[], []))
    }

    /// Writes the array to an `.npy` file at `path`, each block by its own
    /// task straight into its place in the file (so no task holds more
    /// than one block). Lazy: the writing happens when the returned value
    /// is computed, which gives the path.
    pub fn to_npy(&self, path: impl AsRef<Path>) -> Result<Delayed<PathBuf>> {
        let path: Arc<Path> = path.as_ref().into();
        let name = unique_name("to_npy");
        let function = Func::from_function(WriteNpy::<T> {
            path,
            shape: self.shape(),
            marker: PhantomData,
        });
        self.write_blocks(&name, &function)
    }
}

impl<T: Element> Array<T> {
    /// Computes the array into `target`, an array the caller owns, block by
    /// block (Dask's `store` into a NumPy array). `target` must have the
    /// array's shape.
    ///
    /// ```
    /// use barrow_array::Array;
    /// use ndarray::ArrayD;
    /// # barrow_local::link();
    ///
    /// let x = Array::<i64>::arange(0, 10, 1, 4)?;
    /// let mut out = ArrayD::<i64>::zeros(vec![10]);
    /// x.store(&mut out)?;
    /// assert_eq!(out[[9]], 9);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn store(&self, target: &mut ArrayD<T>) -> Result<()> {
        if target.shape() != self.shape().as_slice() {
            return Err(crate::error::ArrayError::ShapeMismatch {
                operation: "store",
                left: self.shape(),
                right: target.shape().to_vec(),
                hint: "the target must have the array's shape".into(),
            }
            .into());
        }
        barrow_core::compute(StoreInto {
            array: self,
            target: std::sync::Mutex::new(target),
        })
    }
}

/// The array's blocks, finalized by writing them into the caller's array.
struct StoreInto<'a, T> {
    array: &'a Array<T>,
    target: std::sync::Mutex<&'a mut ArrayD<T>>,
}

impl<T: Element> barrow_core::Collection for StoreInto<'_, T> {
    type Output = ();

    fn graph(&self) -> Result<barrow_core::Graph> {
        barrow_core::Collection::graph(self.array)
    }

    fn output_keys(&self) -> Vec<Key> {
        self.array.block_keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<()> {
        let mut target = self
            .target
            .lock()
            .map_err(|_| invalid("store: the target was poisoned by a panic"))?;
        let chunks = &self.array.chunks;
        for (index, value) in chunks.block_indices().zip(values) {
            let block = value.downcast_ref::<Block<T>>()?;
            let start = chunks.block_start(&index).unwrap_or_default();
            let region: Vec<ndarray::SliceInfoElem> = start
                .iter()
                .zip(block.shape())
                .map(|(&s, &n)| ndarray::SliceInfoElem::Slice {
                    start: s as isize,
                    end: Some((s + n) as isize),
                    step: 1,
                })
                .collect();
            target.slice_mut(region.as_slice()).assign(&block.view());
        }
        Ok(())
    }

    fn default_scheduler(&self) -> Option<&str> {
        barrow_core::Collection::default_scheduler(self.array)
    }
}

impl<T: Element> Array<T> {
    /// The graph of a lazy write: `function` called with no argument
    /// creates the file, with (block, start, the creation's key) writes one
    /// block, and with the list of writes gives the path.
    pub(crate) fn write_blocks(&self, name: &str, function: &Func) -> Result<Delayed<PathBuf>> {
        let created = Key::new(format!("{name}-create"));
        let mut layer = Layer::try_with_capacity(name, self.chunks.nblocks().saturating_add(2))?;
        layer.insert(created.clone(), Task::call(function, []))?;
        let mut written = Vec::with_capacity(self.chunks.nblocks());
        for index in self.chunks.block_indices() {
            let k = block_key(&format!("{name}-write"), &index);
            let start = self.chunks.block_start(&index).unwrap_or_default();
            let block = key(block_key(&self.name, &index));
            layer.insert(
                k.clone(),
                Task::call(function, [block, lit(start), key(created.clone())]),
            )?;
            written.push(k);
        }
        let done = Key::new(name);
        layer.insert(done.clone(), Task::call(function, [keys(written)]))?;
        let mut graph = self.graph.clone();
        graph.add_layer(Arc::new(layer))?;
        Ok(Delayed::from_graph(graph, done, self.problem.clone()))
    }
}
