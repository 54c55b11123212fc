//! Element-wise task functions on blocks, with NumPy broadcasting between
//! the blocks of two operands and in-place reuse of a block no one else
//! holds.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::function::{Function, Input};
use barrow_core::{Result, Value};
use ndarray::{ArrayD, IxDyn, Zip};

use crate::block::{Block, block_ref, try_take_unique};
use crate::dtype::Element;
use crate::error::{ArrayError, invalid};

/// The shape two shapes broadcast to (NumPy's rules), or the axis (from the
/// end) where they disagree.
pub(crate) fn broadcast_shapes(a: &[usize], b: &[usize]) -> std::result::Result<Vec<usize>, usize> {
    let ndim = a.len().max(b.len());
    let mut out = vec![0; ndim];
    for back in 0..ndim {
        let x = if back < a.len() {
            a[a.len() - 1 - back]
        } else {
            1
        };
        let y = if back < b.len() {
            b[b.len() - 1 - back]
        } else {
            1
        };
        out[ndim - 1 - back] = match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(back),
        };
    }
    Ok(out)
}

pub(crate) fn broadcast_error(a: &[usize], b: &[usize], back: usize) -> ArrayError {
    let at = |s: &[usize]| {
        if back < s.len() {
            s[s.len() - 1 - back]
        } else {
            1
        }
    };
    ArrayError::Broadcast {
        left: a.to_vec(),
        right: b.to_vec(),
        axis: back,
        left_len: at(a),
        right_len: at(b),
    }
}

fn input<'a>(inputs: &'a [Input<'a>], i: usize) -> Result<&'a Input<'a>> {
    inputs.get(i).ok_or_else(|| {
        invalid(format!(
            "an array kernel expected argument {i}, got {}",
            inputs.len()
        ))
    })
}

fn input_mut<'a, 'b>(inputs: &'a mut [Input<'b>], i: usize) -> Result<&'a mut Input<'b>> {
    let n = inputs.len();
    inputs
        .get_mut(i)
        .ok_or_else(|| invalid(format!("an array kernel expected argument {i}, got {n}")))
}

/// `Function::name` and `Function::params` of a kernel with a `sig` field.
macro_rules! signature_methods {
    () => {
        fn name(&self) -> &str {
            &self.sig.name
        }

        fn params(&self) -> Option<&[u8]> {
            self.sig.params.as_deref()
        }
    };
}

/// `Function::name` and `Function::params` of a registered kernel with a
/// `params` field: named by a factory's constant (`registered_methods!(RESHAPE)`)
/// or by its own `name` field (`registered_methods!()`).
macro_rules! registered_methods {
    () => {
        fn name(&self) -> &str {
            &self.name
        }

        fn params(&self) -> Option<&[u8]> {
            Some(&self.params)
        }
    };
    ($name:expr) => {
        fn name(&self) -> &str {
            $name
        }

        fn params(&self) -> Option<&[u8]> {
            Some(&self.params)
        }
    };
}
pub(crate) use registered_methods;

/// Names a kernel and the parameters that make two of them the same task.
#[derive(Debug, Clone)]
pub(crate) struct Signature {
    pub name: Arc<str>,
    /// Bytes identifying captured scalars; `None` for a unique closure
    /// (whose name is then unique).
    pub params: Option<Vec<u8>>,
}

/// `f` on every element of one block; `T -> T` kernels reuse the block.
pub(crate) struct Unary<T, U, F> {
    pub sig: Signature,
    pub f: F,
    pub marker: PhantomData<fn(T) -> U>,
}

impl<T, U, F> Function for Unary<T, U, F>
where
    T: Element,
    U: Element,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    signature_methods!();

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let block = block_ref::<T>(input(inputs, 0)?)?;
        Ok(block.map(&self.f).into_value())
    }
}

/// `f` on every element of one block, in place when the block is unshared.
pub(crate) struct UnaryInPlace<T, F> {
    pub sig: Signature,
    pub f: F,
    pub marker: PhantomData<fn(T) -> T>,
}

impl<T, F> Function for UnaryInPlace<T, F>
where
    T: Element,
    F: Fn(T) -> T + Send + Sync + 'static,
{
    signature_methods!();

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let block = block_ref::<T>(input(inputs, 0)?)?;
        Ok(block.map(&self.f).into_value())
    }

    fn call_taking(&self, inputs: &mut [Input]) -> Result<Value> {
        match try_take_unique::<T>(input_mut(inputs, 0)?) {
            Some(mut block) => {
                block.map_inplace(&self.f);
                Ok(block.into_value())
            }
            None => self.call(inputs),
        }
    }
}

/// `f` on the elements of two blocks broadcast together.
pub(crate) struct Binary<A, B, C, F> {
    pub sig: Signature,
    pub f: F,
    pub marker: PhantomData<fn(A, B) -> C>,
}

pub(crate) fn zip_blocks<A: Element, B: Element, C: Element>(
    a: &Block<A>,
    b: &Block<B>,
    f: impl Fn(A, B) -> C,
) -> Result<Block<C>> {
    let shape = broadcast_shapes(a.shape(), b.shape())
        .map_err(|back| broadcast_error(a.shape(), b.shape(), back))?;
    if let (Some(x), Some(y)) = (a.fill_value(), b.fill_value()) {
        return Ok(Block::filled(&shape, f(x, y)));
    }
    let (av, bv) = (a.view(), b.view());
    let (Some(x), Some(y)) = (av.broadcast(IxDyn(&shape)), bv.broadcast(IxDyn(&shape))) else {
        return Err(broadcast_error(a.shape(), b.shape(), 0).into());
    };
    Ok(Block::Dense(
        Zip::from(&x).and(&y).map_collect(|&p, &q| f(p, q)),
    ))
}

impl<A, B, C, F> Function for Binary<A, B, C, F>
where
    A: Element,
    B: Element,
    C: Element,
    F: Fn(A, B) -> C + Send + Sync + 'static,
{
    signature_methods!();

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let a = block_ref::<A>(input(inputs, 0)?)?;
        let b = block_ref::<B>(input(inputs, 1)?)?;
        Ok(zip_blocks(a, b, &self.f)?.into_value())
    }
}

/// `f` on the elements of two blocks of one type broadcast together,
/// writing into whichever operand is unshared and already of the output's
/// shape.
pub(crate) struct BinaryInPlace<T, F> {
    pub sig: Signature,
    pub f: F,
    pub marker: PhantomData<fn(T, T) -> T>,
}

impl<T, F> Function for BinaryInPlace<T, F>
where
    T: Element,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    signature_methods!();

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let a = block_ref::<T>(input(inputs, 0)?)?;
        let b = block_ref::<T>(input(inputs, 1)?)?;
        Ok(zip_blocks(a, b, &self.f)?.into_value())
    }

    fn call_taking(&self, inputs: &mut [Input]) -> Result<Value> {
        let shape = {
            let a = block_ref::<T>(input(inputs, 0)?)?;
            let b = block_ref::<T>(input(inputs, 1)?)?;
            if a.fill_value().is_some() && b.fill_value().is_some() {
                return self.call(inputs);
            }
            broadcast_shapes(a.shape(), b.shape())
                .map_err(|back| broadcast_error(a.shape(), b.shape(), back))?
        };
        for (own, other) in [(0, 1), (1, 0)] {
            let reusable = matches!(
                block_ref::<T>(input(inputs, own)?)?,
                Block::Dense(d) if d.shape() == shape.as_slice()
            );
            if !reusable {
                continue;
            }
            if let Some(Block::Dense(mut data)) = try_take_unique::<T>(input_mut(inputs, own)?) {
                let rhs = block_ref::<T>(input(inputs, other)?)?.view();
                let f = &self.f;
                if own == 0 {
                    data.zip_mut_with(&rhs, |x, &y| *x = f(*x, y));
                } else {
                    data.zip_mut_with(&rhs, |y, &x| *y = f(x, *y));
                }
                return Ok(Block::Dense(data).into_value());
            }
        }
        self.call(inputs)
    }
}

/// `cond ? a : b` element-wise, all three broadcast together.
pub(crate) struct Where<T> {
    pub sig: Signature,
    pub marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for Where<T> {
    signature_methods!();

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let c = block_ref::<bool>(input(inputs, 0)?)?;
        let a = block_ref::<T>(input(inputs, 1)?)?;
        let b = block_ref::<T>(input(inputs, 2)?)?;
        let ab = broadcast_shapes(a.shape(), b.shape())
            .map_err(|back| broadcast_error(a.shape(), b.shape(), back))?;
        let shape = broadcast_shapes(c.shape(), &ab)
            .map_err(|back| broadcast_error(c.shape(), &ab, back))?;
        let (cv, av, bv) = (c.view(), a.view(), b.view());
        let (Some(cv), Some(av), Some(bv)) = (
            cv.broadcast(IxDyn(&shape)),
            av.broadcast(IxDyn(&shape)),
            bv.broadcast(IxDyn(&shape)),
        ) else {
            return Err(broadcast_error(c.shape(), &ab, 0).into());
        };
        let out: ArrayD<T> = Zip::from(&cv)
            .and(&av)
            .and(&bv)
            .map_collect(|&c, &a, &b| if c { a } else { b });
        Ok(Block::Dense(out).into_value())
    }
}

/// A block-level function from the caller: `f(block) -> block`.
pub(crate) struct BlockFn<T, U, F> {
    pub sig: Signature,
    pub f: F,
    pub marker: PhantomData<fn(T) -> U>,
}

impl<T, U, F> Function for BlockFn<T, U, F>
where
    T: Element,
    U: Element,
    F: Fn(ndarray::ArrayViewD<'_, T>) -> Result<ArrayD<U>> + Send + Sync + 'static,
{
    signature_methods!();

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let block = block_ref::<T>(input(inputs, 0)?)?;
        let geometry = input(inputs, 1)?.as_value()?.downcast_ref::<Vec<usize>>()?;
        let (index, expected) = geometry.split_at(geometry.len() / 2);
        let out = (self.f)(block.view())?;
        if out.shape() != expected {
            return Err(ArrayError::BlockShape {
                name: "map_blocks".into(),
                block: index.to_vec(),
                expected: expected.to_vec(),
                actual: out.shape().to_vec(),
                hint: "the function must return blocks of the array's chunks; give the chunks it \
                       returns with map_blocks_with_chunks",
            }
            .into());
        }
        Ok(Block::Dense(out).into_value())
    }
}
