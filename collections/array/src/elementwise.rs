//! Element-wise operations: NumPy broadcasting between arrays and scalars,
//! with operands of different chunkings unified first.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::arg::key;
use barrow_core::tokenize::{Tokenize, token_name, tokenize};
use barrow_core::{Func, Graph, Result, Task};
use barrow_delayed::unique_name;

use crate::array::{Array, block_key};
use crate::chunks::Chunks;
use crate::dtype::{CastTo, Element, Number};
use crate::error::ArrayError;
use crate::kernel::{Binary, Signature, Unary, UnaryInPlace, broadcast_error, broadcast_shapes};
use crate::ship::elementwise::{
    ArithOp, ArithSpec, CastSpec, CmpOp, CompareSpec, Form, LogicOp, LogicSpec, UnaryOp, UnarySpec,
    arith_typed, cast_typed, compare_typed, logic, where_typed,
};
use crate::warn;

/// One side of an element-wise operation: an array or a scalar.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub enum Operand<T> {
    /// An array, broadcast against the other side.
    Array(Array<T>),
    /// One value for every element.
    Scalar(T),
}

impl<T: Element> std::fmt::Debug for Operand<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operand::Array(a) => a.fmt(f),
            Operand::Scalar(s) => s.fmt(f),
        }
    }
}

impl<T> From<Array<T>> for Operand<T> {
    fn from(array: Array<T>) -> Operand<T> {
        Operand::Array(array)
    }
}

impl<T> From<&Array<T>> for Operand<T> {
    fn from(array: &Array<T>) -> Operand<T> {
        Operand::Array(array.clone())
    }
}

macro_rules! scalar_operands {
    ($($t:ty),*) => {
        $(impl From<$t> for Operand<$t> {
            fn from(value: $t) -> Operand<$t> {
                Operand::Scalar(value)
            }
        })*
    };
}
scalar_operands!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8, bool);

/// What an element-wise operation reads from one array operand.
pub(crate) struct Side<'a> {
    pub graph: &'a Graph,
    pub name: &'a str,
    pub chunks: &'a Chunks,
}

/// The output chunks of operands broadcast together, and the chunks each
/// operand needs first (`None`: as it is).
pub(crate) fn broadcast_plan(
    chunks: &[&Chunks],
) -> Result<(Chunks, Vec<Option<Chunks>>), ArrayError> {
    let shapes: Vec<Vec<usize>> = chunks.iter().map(|c| c.shape()).collect();
    let mut out_shape: Vec<usize> = Vec::new();
    for (i, shape) in shapes.iter().enumerate() {
        out_shape = match broadcast_shapes(&out_shape, shape) {
            Ok(s) => s,
            Err(back) => {
                let first = shapes
                    .iter()
                    .take(i)
                    .find(|s| back < s.len() && s[s.len() - 1 - back] != 1);
                return Err(broadcast_error(first.unwrap_or(&out_shape), shape, back));
            }
        };
    }
    let ndim = out_shape.len();
    let mut out_chunks = Vec::with_capacity(ndim);
    let mut grew = false;
    for (axis, &len) in out_shape.iter().enumerate() {
        let mut candidates: Vec<&[usize]> = Vec::new();
        for c in chunks {
            let shift = ndim - c.ndim();
            if axis >= shift && c.shape()[axis - shift] == len {
                candidates.push(c.axis(axis - shift));
            }
        }
        let first: Vec<usize> = candidates.first().map(|c| c.to_vec()).unwrap_or(vec![len]);
        if candidates.iter().all(|c| *c == first.as_slice()) {
            out_chunks.push(first);
        } else {
            let refined = candidates.iter().skip(1).fold(first.clone(), |acc, c| {
                crate::rechunk::common_refinement(&acc, c)
            });
            grew = true;
            out_chunks.push(if refined.is_empty() {
                vec![len]
            } else {
                refined
            });
        }
    }
    let out = Chunks::from_vec_unchecked(out_chunks);
    let targets = chunks
        .iter()
        .map(|c| {
            let shift = ndim - c.ndim();
            let want: Vec<Vec<usize>> = (0..c.ndim())
                .map(|a| {
                    if c.shape()[a] == out_shape[a + shift] {
                        out.axis(a + shift).to_vec()
                    } else {
                        c.axis(a).to_vec()
                    }
                })
                .collect();
            (want != c.as_slices()).then(|| Chunks::from_vec_unchecked(want))
        })
        .collect();
    if grew {
        let before = chunks.iter().map(|c| c.nblocks()).max().unwrap_or(1).max(1);
        warn::unify_growth(before, out.nblocks());
    }
    Ok((out, targets))
}

/// The block of an operand that output block `index` reads: its own index
/// on axes it has in full, 0 on axes it broadcasts.
fn operand_index(side: &Chunks, out: &Chunks, index: &[usize]) -> Vec<usize> {
    let shift = out.ndim() - side.ndim();
    (0..side.ndim())
        .map(|a| {
            if side.numblocks()[a] == out.numblocks()[a + shift] {
                index[a + shift]
            } else {
                0
            }
        })
        .collect()
}

/// A signature for a kernel: deterministic from `label` and `params`, or
/// unique when `params` is `None` (a caller's closure, which has no name).
fn signature(label: &str, params: Option<Vec<u8>>) -> Signature {
    let params = params.or_else(|| Some(unique_name(label).into_bytes()));
    Signature {
        name: label.into(),
        params,
    }
}

pub(crate) fn scalar_params<S: Tokenize>(label: &str, side: &str, s: &S) -> Vec<u8> {
    format!("{label}:{side}:{}", tokenize(s)).into_bytes()
}

/// An array of the blocks of `operands` broadcast together, each output
/// block computed by `function` from the operands' blocks.
pub(crate) fn elementwise<U: Element>(
    label: &str,
    token: Option<&str>,
    operands: &[Side<'_>],
    problems: Vec<Option<Arc<str>>>,
    function: Func,
) -> Array<U> {
    let chunk_refs: Vec<&Chunks> = operands.iter().map(|s| s.chunks).collect();
    let (out, _) = match broadcast_plan(&chunk_refs) {
        Ok(plan) => plan,
        Err(e) => {
            let fallback = chunk_refs
                .first()
                .map(|c| (*c).clone())
                .unwrap_or(Chunks::from_vec_unchecked(vec![]));
            return Array::failed(e.into(), fallback);
        }
    };
    let names: Vec<&str> = operands.iter().map(|s| s.name).collect();
    let name: Arc<str> = match token {
        Some(token) => token_name(label, &(names.clone(), token)).into(),
        None => unique_name(label).into(),
    };
    let layer = Array::<U>::layer_for(&name, &out, |index| {
        let args = operands
            .iter()
            .map(|s| key(block_key(s.name, &operand_index(s.chunks, &out, index))));
        Task::call(&function, args)
    });
    let graphs: Vec<&Graph> = operands.iter().map(|s| s.graph).collect();
    match layer {
        Ok(layer) => Array::from_layer(name, out, layer, &graphs, problems),
        Err(e) => Array::failed(e, out),
    }
}

impl<T: Element> Array<T> {
    /// This array rechunked so it lines up with the others in a broadcast.
    fn aligned(&self, target: &Option<Chunks>) -> Array<T> {
        match target {
            Some(chunks) => self.rechunk_direct(chunks.clone()),
            None => self.clone(),
        }
    }

    /// `f` applied to every element (Dask's `map_blocks` of a ufunc), in
    /// place on blocks no other task reads.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<f64>::arange(0.0, 4.0, 1.0, 2)?;
    /// assert_eq!(x.map(|v| v * v).compute()?.into_raw_vec_and_offset().0, [0.0, 1.0, 4.0, 9.0]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn map<F>(&self, f: F) -> Array<T>
    where
        F: Fn(T) -> T + Send + Sync + 'static,
    {
        self.unary_in_place("map", None, f)
    }

    /// `f` applied to every element, giving another element type.
    pub fn map_into<U: Element, F>(&self, f: F) -> Array<U>
    where
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.unary("map", None, f)
    }

    pub(crate) fn unary<U: Element, F>(
        &self,
        label: &str,
        params: Option<Vec<u8>>,
        f: F,
    ) -> Array<U>
    where
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        let token = params
            .as_ref()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let function = Func::from_function(Unary {
            sig: signature(label, params),
            f,
            marker: PhantomData,
        });
        elementwise(
            label,
            token.as_deref(),
            &[self.side()],
            vec![self.problem.clone()],
            function,
        )
    }

    pub(crate) fn unary_in_place<F>(&self, label: &str, params: Option<Vec<u8>>, f: F) -> Array<T>
    where
        F: Fn(T) -> T + Send + Sync + 'static,
    {
        let token = params
            .as_ref()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let function = Func::from_function(UnaryInPlace {
            sig: signature(label, params),
            f,
            marker: PhantomData,
        });
        elementwise(
            label,
            token.as_deref(),
            &[self.side()],
            vec![self.problem.clone()],
            function,
        )
    }

    /// `function` (a registered kernel of one block) on every block;
    /// `token` makes the blocks' names.
    pub(crate) fn with_kernel<U: Element>(
        &self,
        label: &str,
        token: &str,
        function: Result<Func>,
    ) -> Array<U> {
        match function {
            Ok(function) => elementwise(
                label,
                Some(token),
                &[self.side()],
                vec![self.problem.clone()],
                function,
            ),
            Err(e) => Array::failed(e, (*self.chunks).clone()),
        }
    }

    /// A registered unary operation on every element, its kernel made by
    /// `make` (the builder for this element type's class).
    pub(crate) fn unary_op<U: Element>(
        &self,
        label: &str,
        token: &str,
        op: UnaryOp,
        make: fn(&UnarySpec) -> Result<Func>,
    ) -> Array<U> {
        let spec = UnarySpec { dtype: T::CODE, op };
        self.with_kernel(label, token, make(&spec))
    }

    pub(crate) fn side(&self) -> Side<'_> {
        Side {
            graph: &self.graph,
            name: &self.name,
            chunks: &self.chunks,
        }
    }

    /// `f` on the elements of this array and `other` (an array or a
    /// scalar) broadcast together, giving any element type.
    pub fn zip_with<U: Element, V: Element, F>(
        &self,
        other: impl Into<Operand<U>>,
        f: F,
    ) -> Array<V>
    where
        F: Fn(T, U) -> V + Copy + Send + Sync + 'static,
    {
        binary(
            Operand::Array(self.clone()),
            other.into(),
            "zip_with",
            false,
            f,
        )
    }

    /// Converts every element (NumPy's `astype`): `as` between numbers,
    /// nonzero to `true`, `true` to 1.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<f64>::from_vec(vec![-1.5, 0.0, 2.7], 2)?;
    /// assert_eq!(x.astype::<i32>().compute()?.into_raw_vec_and_offset().0, [-1, 0, 2]);
    /// assert_eq!(x.astype::<bool>().compute()?.into_raw_vec_and_offset().0, [true, false, true]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn astype<U: Element>(&self) -> Array<U>
    where
        T: CastTo<U>,
    {
        let label = format!("astype-{}", U::DTYPE);
        let spec = CastSpec {
            from: T::CODE,
            to: U::CODE,
        };
        self.with_kernel(&label, &label, cast_typed::<T, U>(&spec))
    }

    /// Element-wise `==` (NumPy's `equal`).
    pub fn equal(&self, other: impl Into<Operand<T>>) -> Array<bool> {
        comparison(self.into(), other.into(), "equal", CmpOp::Eq)
    }
    /// Element-wise `!=`.
    pub fn not_equal(&self, other: impl Into<Operand<T>>) -> Array<bool> {
        comparison(self.into(), other.into(), "not_equal", CmpOp::Ne)
    }
    /// Element-wise `<`.
    pub fn less(&self, other: impl Into<Operand<T>>) -> Array<bool> {
        comparison(self.into(), other.into(), "less", CmpOp::Lt)
    }
    /// Element-wise `<=`.
    pub fn less_equal(&self, other: impl Into<Operand<T>>) -> Array<bool> {
        comparison(self.into(), other.into(), "less_equal", CmpOp::Le)
    }
    /// Element-wise `>`.
    pub fn greater(&self, other: impl Into<Operand<T>>) -> Array<bool> {
        comparison(self.into(), other.into(), "greater", CmpOp::Gt)
    }
    /// Element-wise `>=`.
    pub fn greater_equal(&self, other: impl Into<Operand<T>>) -> Array<bool> {
        comparison(self.into(), other.into(), "greater_equal", CmpOp::Ge)
    }
}

/// A registered operation on two operands broadcast together: `make`
/// builds its kernel for where the scalar sits, if there is one.
fn registered<T: Element, V: Element>(
    a: Operand<T>,
    b: Operand<T>,
    label: &str,
    make: impl Fn(Form) -> Result<Func>,
) -> Array<V> {
    let (x, form, token) = match (a, b) {
        (Operand::Array(x), Operand::Array(y)) => {
            return match make(Form::Arrays) {
                Ok(function) => array_pair(&x, &y, label, true, function),
                Err(e) => Array::failed(e, (*x.chunks).clone()),
            };
        }
        (Operand::Array(x), Operand::Scalar(s)) => {
            (x, Form::Right(s.to_scalar()), scalar_params(label, "r", &s))
        }
        (Operand::Scalar(s), Operand::Array(y)) => {
            (y, Form::Left(s.to_scalar()), scalar_params(label, "l", &s))
        }
        (Operand::Scalar(s), Operand::Scalar(t)) => (
            Array::from_scalar(s),
            Form::Right(t.to_scalar()),
            scalar_params(label, "r", &t),
        ),
    };
    x.with_kernel(label, &String::from_utf8_lossy(&token), make(form))
}

/// `a cmp b`, element-wise.
fn comparison<T: Element>(a: Operand<T>, b: Operand<T>, label: &str, op: CmpOp) -> Array<bool> {
    registered(a, b, label, |form| {
        compare_typed::<T>(&CompareSpec {
            dtype: T::CODE,
            op,
            form,
        })
    })
}

/// `a op b` between numbers, reusing an unshared block in place.
pub(crate) fn arith_op<T: Number>(
    a: Operand<T>,
    b: Operand<T>,
    label: &str,
    op: ArithOp,
) -> Array<T> {
    registered(a, b, label, |form| {
        arith_typed::<T>(&ArithSpec {
            dtype: T::CODE,
            op,
            form,
        })
    })
}

/// `a op b` between booleans, reusing an unshared block in place.
pub(crate) fn logic_op(
    a: Operand<bool>,
    b: Operand<bool>,
    label: &str,
    op: LogicOp,
) -> Array<bool> {
    registered(a, b, label, |form| logic(&LogicSpec { op, form }))
}

/// `f` on two operands broadcast together; `known` says `f` is a fixed
/// operation of this `label` (so equal inputs give equal keys), not a
/// caller's closure.
pub(crate) fn binary<T: Element, U: Element, V: Element, F>(
    a: Operand<T>,
    b: Operand<U>,
    label: &str,
    known: bool,
    f: F,
) -> Array<V>
where
    F: Fn(T, U) -> V + Copy + Send + Sync + 'static,
{
    let params = |side: &str, s: &dyn Fn() -> String| {
        known.then(|| format!("{label}:{side}:{}", s()).into_bytes())
    };
    match (a, b) {
        (Operand::Array(x), Operand::Array(y)) => {
            let function = Func::from_function(Binary {
                sig: signature(label, known.then(|| label.as_bytes().to_vec())),
                f,
                marker: PhantomData,
            });
            array_pair(&x, &y, label, known, function)
        }
        (Operand::Array(x), Operand::Scalar(s)) => {
            x.unary(label, params("r", &|| tokenize(&s)), move |v| f(v, s))
        }
        (Operand::Scalar(s), Operand::Array(y)) => {
            y.unary(label, params("l", &|| tokenize(&s)), move |v| f(s, v))
        }
        (Operand::Scalar(s), Operand::Scalar(t)) => {
            let x = Array::<T>::from_scalar(s);
            x.unary(label, params("r", &|| tokenize(&t)), move |v| f(v, t))
        }
    }
}

fn array_pair<T: Element, U: Element, V: Element>(
    x: &Array<T>,
    y: &Array<U>,
    label: &str,
    known: bool,
    function: Func,
) -> Array<V> {
    let (_, targets) = match broadcast_plan(&[&x.chunks, &y.chunks]) {
        Ok(plan) => plan,
        Err(e) => return Array::failed(e.into(), (*x.chunks).clone()),
    };
    let xa = x.aligned(&targets[0]);
    let ya = y.aligned(&targets[1]);
    elementwise(
        label,
        known.then_some(label),
        &[xa.side(), ya.side()],
        vec![xa.problem.clone(), ya.problem.clone()],
        function,
    )
}

/// Picks from `a` where `cond` is true and from `b` elsewhere, all three
/// broadcast together (NumPy's `where`).
///
/// ```
/// use barrow_array::{Array, where_};
/// # barrow_local::link();
///
/// let x = Array::<i64>::arange(0, 6, 1, 4)?;
/// let clipped = where_(&x.greater(3), 3, &x);
/// assert_eq!(clipped.compute()?.into_raw_vec_and_offset().0, [0, 1, 2, 3, 3, 3]);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn where_<T: Element>(
    cond: &Array<bool>,
    a: impl Into<Operand<T>>,
    b: impl Into<Operand<T>>,
) -> Array<T> {
    let as_array = |o: Operand<T>| match o {
        Operand::Array(x) => x,
        Operand::Scalar(s) => Array::from_scalar(s),
    };
    let (a, b) = (as_array(a.into()), as_array(b.into()));
    let (_, targets) = match broadcast_plan(&[&cond.chunks, &a.chunks, &b.chunks]) {
        Ok(plan) => plan,
        Err(e) => return Array::failed(e.into(), (*a.chunks).clone()),
    };
    let c = cond.aligned(&targets[0]);
    let (a, b) = (a.aligned(&targets[1]), b.aligned(&targets[2]));
    let function = match where_typed::<T>() {
        Ok(function) => function,
        Err(e) => return Array::failed(e, (*a.chunks).clone()),
    };
    elementwise(
        "where",
        Some("where"),
        &[c.side(), a.side(), b.side()],
        vec![c.problem.clone(), a.problem.clone(), b.problem.clone()],
        function,
    )
}
