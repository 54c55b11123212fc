//! Linear algebra on whole arrays: the task graphs of `dot`, `tensordot`
//! and the tall-and-skinny `qr` / `svd`.

use std::sync::Arc;

use barrow_core::arg::{key, keys, lit};
use barrow_core::function::List;
use barrow_core::tokenize::token_name;
use barrow_core::{Func, Layer, Result, Task};
use ndarray::{Array2, ArrayView2, Ix2};

use super::Real;
use super::kernels::{matmul, matmul_acc};
use super::tsqr::{check_tall_skinny, svd_step, svd_u_block, tsqr_step1, tsqr_step2, tsqr_step3};
use crate::array::{Array, block_key};
use crate::block::Block;
use crate::chunks::Chunks;
use crate::dtype::{DType, Element};
use crate::error::{ArrayError, invalid};
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};
use crate::ship::{kernel, list_arg};

fn view2<T: Element>(block: &Block<T>) -> Result<ArrayView2<'_, T>> {
    block.view().into_dimensionality::<Ix2>().map_err(|e| {
        invalid(format!(
            "a linear-algebra task expected a matrix block: {e}"
        ))
    })
}

fn dense<T: Element>(a: Array2<T>) -> Block<T> {
    Block::Dense(a.into_dyn())
}

/// `barrow.array.dot`: one output block of a matrix product, the sum of
/// the products of a row of blocks and a column of blocks; the spec is the
/// element type.
const DOT: &str = "barrow.array.dot";

fn dot_typed<T: Element + Real>(dtype: &DType) -> Result<Func> {
    kernel(DOT, dtype, |inputs| {
        let (rows, cols) = (
            list_arg::<Block<T>>(inputs, 0)?,
            list_arg::<Block<T>>(inputs, 1)?,
        );
        let mut acc: Option<Array2<T>> = None;
        for (x, y) in rows.iter().zip(cols.iter()) {
            let (x, y) = (view2(x)?, view2(y)?);
            match acc.as_mut() {
                None => acc = Some(matmul(x, y)?),
                Some(acc) => matmul_acc(acc, x, y)?,
            }
        }
        acc.map(|a| dense(a).into_value())
            .ok_or_else(|| invalid("dot of an empty contraction"))
    })
}

#[cfg(feature = "ship")]
fn dot_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(float DOT, *dtype, |T| dot_typed::<T>(dtype))
}
#[cfg(feature = "ship")]
factory!(DOT, DType, dot_kernel);

impl<T: Element + Real> Array<T> {
    /// The matrix product (NumPy's `dot` for 1-D and 2-D arrays): each
    /// output block multiplies a row of blocks of `self` by a column of
    /// blocks of `other` and adds the products up in place, one block
    /// product at a time, single-threaded on faer (the scheduler runs one
    /// task per core). The contracted axis is rechunked to a common
    /// chunking when the two differ.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<f64>::arange(0.0, 6.0, 1.0, 2)?.reshape(&[2, 3])?;
    /// let xxt = x.dot(&x.t())?;
    /// assert_eq!(xxt.compute()?.into_raw_vec_and_offset().0, [5.0, 14.0, 14.0, 50.0]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn dot(&self, other: &Array<T>) -> Result<Array<T>> {
        match (self.ndim(), other.ndim()) {
            (2, 2) => Ok(self.dot2(other)),
            (2, 1) => {
                let n = other.shape()[0];
                let col = other.reshape(&[n, 1])?;
                self.dot2(&col).reshape(&[self.shape()[0]])
            }
            (1, 2) => {
                let n = self.shape()[0];
                let row = self.reshape(&[1, n])?;
                row.dot2(other).reshape(&[other.shape()[1]])
            }
            (1, 1) => {
                let n = self.shape()[0];
                let row = self.reshape(&[1, n])?;
                let col = other.reshape(&[other.shape()[0], 1])?;
                row.dot2(&col).reshape(&[])
            }
            (a, b) => Err(invalid(format!(
                "dot takes 1-D and 2-D arrays, got {a}-D and {b}-D (shapes {:?} and {:?}); use \
                 tensordot for more axes",
                self.shape(),
                other.shape()
            ))),
        }
    }

    /// The matrix product; the same as [`Array::dot`] for 1-D and 2-D
    /// arrays.
    pub fn matmul(&self, other: &Array<T>) -> Result<Array<T>> {
        self.dot(other)
    }

    fn dot2(&self, other: &Array<T>) -> Array<T> {
        let (a_shape, b_shape) = (self.shape(), other.shape());
        if a_shape[1] != b_shape[0] {
            return Array::failed(
                ArrayError::ShapeMismatch {
                    operation: "multiply",
                    left: a_shape.clone(),
                    right: b_shape.clone(),
                    hint: format!(
                        "the first array's columns ({}) must equal the second's rows ({})",
                        a_shape[1], b_shape[0]
                    ),
                }
                .into(),
                (*self.chunks).clone(),
            );
        }
        let k = crate::rechunk::common_refinement(self.chunks.axis(1), other.chunks.axis(0));
        let a = self.rechunk_direct(Chunks::from_vec_unchecked(vec![
            self.chunks.axis(0).to_vec(),
            k.clone(),
        ]));
        let b = other.rechunk_direct(Chunks::from_vec_unchecked(vec![
            k.clone(),
            other.chunks.axis(1).to_vec(),
        ]));
        let chunks =
            Chunks::from_vec_unchecked(vec![a.chunks.axis(0).to_vec(), b.chunks.axis(1).to_vec()]);
        let name: Arc<str> = token_name("dot", &(a.name.as_ref(), b.name.as_ref())).into();
        let function = match dot_typed::<T>(&T::CODE) {
            Ok(function) => function,
            Err(e) => return Array::failed(e, chunks),
        };
        let nk = k.len();
        let layer = Array::<T>::layer_for(&name, &chunks, |index| {
            let (i, j) = (index[0], index[1]);
            let rows = (0..nk).map(|kk| block_key(&a.name, &[i, kk]));
            let cols = (0..nk).map(|kk| block_key(&b.name, &[kk, j]));
            Task::call(&function, [keys(rows), keys(cols)])
        });
        match layer {
            Ok(layer) => Array::from_layer(
                name,
                chunks,
                layer,
                &[&a.graph, &b.graph],
                [a.problem.clone(), b.problem.clone()],
            ),
            Err(e) => Array::failed(e, chunks),
        }
    }

    /// The sum of products over `axes.0` of `self` and `axes.1` of `other`
    /// (NumPy's `tensordot`): the other axes of `self`, then those of
    /// `other`. Computed as a matrix product of the arrays with their axes
    /// moved and merged, which rechunks the merged axes whole when their
    /// chunks require it.
    pub fn tensordot(&self, other: &Array<T>, axes: (&[usize], &[usize])) -> Result<Array<T>> {
        let (a_shape, b_shape) = (self.shape(), other.shape());
        let (ca, cb) = axes;
        if ca.len() != cb.len()
            || ca
                .iter()
                .zip(cb)
                .any(|(&x, &y)| a_shape.get(x) != b_shape.get(y) || x >= a_shape.len())
        {
            return Err(ArrayError::ShapeMismatch {
                operation: "tensordot",
                left: a_shape,
                right: b_shape,
                hint: format!(
                    "contracted axes {ca:?} and {cb:?} must exist and have equal lengths"
                ),
            }
            .into());
        }
        let free_a: Vec<usize> = (0..a_shape.len()).filter(|x| !ca.contains(x)).collect();
        let free_b: Vec<usize> = (0..b_shape.len()).filter(|x| !cb.contains(x)).collect();
        let perm_a: Vec<usize> = free_a.iter().chain(ca).copied().collect();
        let perm_b: Vec<usize> = cb.iter().chain(&free_b).copied().collect();
        let m: usize = free_a.iter().map(|&x| a_shape[x]).product();
        let k: usize = ca.iter().map(|&x| a_shape[x]).product();
        let n: usize = free_b.iter().map(|&x| b_shape[x]).product();
        let a2 = self.permute_axes(&perm_a)?.reshape(&[m, k])?;
        let b2 = other.permute_axes(&perm_b)?.reshape(&[k, n])?;
        let out_shape: Vec<usize> = free_a
            .iter()
            .map(|&x| a_shape[x])
            .chain(free_b.iter().map(|&x| b_shape[x]))
            .collect();
        a2.dot2(&b2).reshape(&out_shape)
    }
}

/// One row block's first QR, kept together.
#[derive(Debug, Clone)]
struct Qr1<T> {
    q: Array2<T>,
    r: Array2<T>,
}

/// The second QR: the pieces of Q2 for each row block, and R.
#[derive(Debug, Clone)]
struct Qr2<T> {
    pieces: Vec<Array2<T>>,
    r: Array2<T>,
}

/// The SVD of R.
#[derive(Debug, Clone)]
struct SvdR<T> {
    u: Array2<T>,
    s: ndarray::Array1<T>,
    vt: Array2<T>,
}

/// The graph pieces of a tsqr: Q's array and R's key.
struct Tsqr<T> {
    q: Array<T>,
    qr2_key: barrow_core::Key,
    layer_graph: barrow_core::Graph,
    n: usize,
    k: usize,
}

impl<T: Element + Real> Array<T> {
    fn tsqr_graph(&self) -> Result<Tsqr<T>> {
        let shape = self.shape();
        if shape.len() != 2 {
            return Err(invalid(format!(
                "qr and svd take a 2-D array, got shape {shape:?}"
            )));
        }
        check_tall_skinny(self.chunks.axis(0), self.chunks.axis(1))?;
        let (m, n) = (shape[0], shape[1]);
        let rows = self.chunks.axis(0).to_vec();
        let base = token_name("tsqr", &self.name.as_ref());
        let step1 = Func::try_new("tsqr-qr", |a: &Block<T>| -> Result<Qr1<T>> {
            let (q, r) = tsqr_step1(view2(a)?)?;
            Ok(Qr1 { q, r })
        });
        let step2 = Func::try_new("tsqr-stack-qr", |parts: List<Qr1<T>>| -> Result<Qr2<T>> {
            let views: Vec<ArrayView2<'_, T>> = parts.iter().map(|p| p.r.view()).collect();
            let (pieces, r) = tsqr_step2(&views)?;
            Ok(Qr2 { pieces, r })
        });
        let step3 = Func::try_new(
            "tsqr-q",
            |part: &Qr1<T>, qr2: &Qr2<T>, i: &u32| -> Result<Block<T>> {
                let piece = qr2
                    .pieces
                    .get(*i as usize)
                    .ok_or_else(|| invalid("tsqr: missing a piece of Q2"))?;
                Ok(dense(tsqr_step3(part.q.view(), piece.view())?))
            },
        );
        let mut layer = Layer::try_with_capacity(
            base.as_str(),
            rows.len().saturating_mul(2).saturating_add(1),
        )?;
        let first = |i: usize| block_key(&format!("{base}-qr1"), &[i]);
        for i in 0..rows.len() {
            layer.insert(
                first(i),
                Task::call(&step1, [key(block_key(&self.name, &[i, 0]))]),
            )?;
        }
        let qr2_key = barrow_core::Key::new(format!("{base}-qr2"));
        layer.insert(
            qr2_key.clone(),
            Task::call(&step2, [keys((0..rows.len()).map(first))]),
        )?;
        let q_name: Arc<str> = format!("{base}-q").into();
        for i in 0..rows.len() {
            layer.insert(
                block_key(&q_name, &[i, 0]),
                Task::call(&step3, [key(first(i)), key(qr2_key.clone()), lit(i as u32)]),
            )?;
        }
        let k = m.min(n);
        let q_chunks = Chunks::from_vec_unchecked(vec![rows.clone(), vec![k]]);
        let mut graph = self.graph.clone();
        graph.add_layer(Arc::new(layer))?;
        let q = Array {
            graph: graph.clone(),
            name: q_name,
            chunks: Arc::new(q_chunks),
            problem: self.problem.clone(),
            split_every: None,
            stream: None,
            marker: std::marker::PhantomData,
        };
        Ok(Tsqr {
            q,
            qr2_key,
            layer_graph: graph,
            n,
            k,
        })
    }

    /// The QR decomposition of a tall-and-skinny array (one chunk along
    /// the columns), by Dask's `tsqr`: Q with the row chunks of `self`, and
    /// R, one `min(m, n) × n` block. More than one column chunk is an error
    /// that says how to rechunk.
    ///
    /// ```
    /// use barrow_array::random::Generator;
    /// # barrow_local::link();
    ///
    /// let a = Generator::new(1).random(&[100, 5], [25, 5])?;
    /// let (q, r) = a.qr()?;
    /// let back = q.dot(&r)?.compute()?;
    /// let a = a.compute()?;
    /// assert!(back.iter().zip(a.iter()).all(|(x, y)| (x - y).abs() < 1e-10));
    /// assert!(Generator::new(1).random(&[100, 6], [25, 3])?.qr().is_err());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn qr(&self) -> Result<(Array<T>, Array<T>)> {
        let t = self.tsqr_graph()?;
        let r_name: Arc<str> = format!("{}-r", t.qr2_key.name()).into();
        let take_r = Func::new("tsqr-r", |qr2: &Qr2<T>| dense(qr2.r.clone()));
        let mut layer = Layer::new(r_name.as_ref());
        layer.insert(
            block_key(&r_name, &[0, 0]),
            Task::call(&take_r, [key(t.qr2_key.clone())]),
        )?;
        let mut graph = t.layer_graph.clone();
        graph.add_layer(Arc::new(layer))?;
        let r = Array {
            graph,
            name: r_name,
            chunks: Arc::new(Chunks::from_vec_unchecked(vec![vec![t.k], vec![t.n]])),
            problem: self.problem.clone(),
            split_every: None,
            stream: None,
            marker: std::marker::PhantomData,
        };
        Ok((t.q, r))
    }

    /// Dask's name for [`Array::qr`] on tall-and-skinny arrays.
    pub fn tsqr(&self) -> Result<(Array<T>, Array<T>)> {
        self.qr()
    }

    /// The thin singular value decomposition of a tall-and-skinny array,
    /// through `tsqr` (Dask's `svd`): U with the row chunks of `self`, the
    /// singular values S (descending) and Vᵀ, with Dask's sign convention.
    ///
    /// ```
    /// use barrow_array::random::Generator;
    /// # barrow_local::link();
    ///
    /// let a = Generator::new(2).random(&[60, 4], [20, 4])?;
    /// let (u, s, vt) = a.svd()?;
    /// let (u, s, vt, a) = (u.compute()?, s.compute()?, vt.compute()?, a.compute()?);
    /// assert!(s.iter().zip(s.iter().skip(1)).all(|(x, y)| x >= y));
    /// for i in 0..60 {
    ///     for j in 0..4 {
    ///         let back: f64 = (0..4).map(|k| u[[i, k]] * s[[k]] * vt[[k, j]]).sum();
    ///         assert!((back - a[[i, j]]).abs() < 1e-10);
    ///     }
    /// }
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn svd(&self) -> Result<(Array<T>, Array<T>, Array<T>)> {
        let t = self.tsqr_graph()?;
        let base = format!("{}-svd", t.qr2_key.name());
        let svd_key = barrow_core::Key::new(base.clone());
        let svd_r = Func::try_new("svd-r", |qr2: &Qr2<T>| -> Result<SvdR<T>> {
            let (u, s, vt) = svd_step(qr2.r.view())?;
            Ok(SvdR { u, s, vt })
        });
        let u_block = Func::try_new("svd-u", |q: &Block<T>, svd: &SvdR<T>| -> Result<Block<T>> {
            Ok(dense(svd_u_block(view2(q)?, svd.u.view())?))
        });
        let take_s = Func::new("svd-s", |svd: &SvdR<T>| {
            Block::Dense(svd.s.clone().into_dyn())
        });
        let take_vt = Func::new("svd-vt", |svd: &SvdR<T>| dense(svd.vt.clone()));
        let mut layer = Layer::new(base.as_str());
        layer.insert(
            svd_key.clone(),
            Task::call(&svd_r, [key(t.qr2_key.clone())]),
        )?;
        let (u_name, s_name, vt_name): (Arc<str>, Arc<str>, Arc<str>) = (
            format!("{base}-u").into(),
            format!("{base}-s").into(),
            format!("{base}-vt").into(),
        );
        let rows = t.q.chunks.axis(0).to_vec();
        for i in 0..rows.len() {
            layer.insert(
                block_key(&u_name, &[i, 0]),
                Task::call(
                    &u_block,
                    [key(block_key(&t.q.name, &[i, 0])), key(svd_key.clone())],
                ),
            )?;
        }
        layer.insert(
            block_key(&s_name, &[0]),
            Task::call(&take_s, [key(svd_key.clone())]),
        )?;
        layer.insert(
            block_key(&vt_name, &[0, 0]),
            Task::call(&take_vt, [key(svd_key.clone())]),
        )?;
        let mut graph = t.layer_graph.clone();
        graph.add_layer(Arc::new(layer))?;
        let make = |name: Arc<str>, chunks: Vec<Vec<usize>>| Array {
            graph: graph.clone(),
            name,
            chunks: Arc::new(Chunks::from_vec_unchecked(chunks)),
            problem: self.problem.clone(),
            split_every: None,
            stream: None,
            marker: std::marker::PhantomData,
        };
        Ok((
            make(u_name, vec![rows, vec![t.k]]),
            make(s_name, vec![vec![t.k]]),
            make(vt_name, vec![vec![t.k], vec![t.n]]),
        ))
    }
}
