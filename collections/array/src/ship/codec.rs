//! Codecs for the values array tasks pass: blocks, whole arrays, the
//! partial results of reductions, and the small literals (block geometry,
//! indices) of their tasks.
//!
//! Arrays are a small header and raw little-endian elements, never
//! serialized element by element:
//!
//! ```text
//! kind: u8 (0 dense, 1 filled)  dtype: u8 (DType code)  ndim: u32 LE
//! shape: ndim × u64 LE
//! elements: dense: product(shape) × wire size, row-major; filled: one element
//! ```
//!
//! Partial results are the same header (kind 2), then per position a byte
//! saying whether it holds a partial, and the partial's fields.

use std::any::TypeId;
use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::codec::{Codec, SerdeCodec, StaticCodec};
use barrow_core::{Error, ErrorKind, Result, Value};
use ndarray::{ArrayD, IxDyn};

use crate::block::Block;
use crate::dtype::{DType, Element};
use crate::rechunk::staged::{Staged, StagedPiece};

const DENSE: u8 = 0;
const FILLED: u8 = 1;
const PARTIALS: u8 = 2;

fn damaged(tag: &str, what: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Codec,
        format!("codec '{tag}' cannot decode its bytes: {what}"),
    )
}

fn put_header(kind: u8, dtype: DType, shape: &[usize], out: &mut Vec<u8>) {
    out.push(kind);
    out.push(dtype.code());
    out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
    for &n in shape {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
}

/// Reads `n` bytes off the front of `bytes`.
fn take<'a>(tag: &str, bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if bytes.len() < n {
        return Err(damaged(
            tag,
            format!("truncated: {n} more bytes needed, {} left", bytes.len()),
        ));
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

/// Reads a header: the kind, and the shape with its element count.
fn get_header(tag: &str, dtype: DType, bytes: &mut &[u8]) -> Result<(u8, Vec<usize>, usize)> {
    let head = take(tag, bytes, 6)?;
    let (kind, code) = (head[0], head[1]);
    if code != dtype.code() {
        return Err(damaged(
            tag,
            format!(
                "element type code {code}, expected {} ({})",
                dtype.code(),
                dtype.rust_name()
            ),
        ));
    }
    let ndim = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
    if ndim > bytes.len() / 8 {
        return Err(damaged(tag, format!("{ndim} axes do not fit the bytes")));
    }
    let mut shape = Vec::with_capacity(ndim);
    let mut count: usize = 1;
    for _ in 0..ndim {
        let mut word = [0u8; 8];
        word.copy_from_slice(take(tag, bytes, 8)?);
        let n = usize::try_from(u64::from_le_bytes(word))
            .map_err(|_| damaged(tag, "an axis longer than this machine can address"))?;
        count = count
            .checked_mul(n)
            .ok_or_else(|| damaged(tag, "a shape with more elements than fit in memory"))?;
        shape.push(n);
    }
    Ok((kind, shape, count))
}

/// The encoding of a dense array as its header in `prefix` and its
/// elements borrowed, when they lie in row-major order as they are sent.
fn split_dense<'v, T: Element>(data: &'v ArrayD<T>, prefix: &mut Vec<u8>) -> Option<&'v [u8]> {
    let bytes = T::as_le_bytes(data.as_slice()?)?;
    put_header(DENSE, T::CODE, data.shape(), prefix);
    Some(bytes)
}

/// Appends an array's elements in row-major order.
fn put_elements<T: Element>(data: &ndarray::ArrayViewD<'_, T>, out: &mut Vec<u8>) {
    match data.as_slice() {
        Some(slice) => T::put_le(slice, out),
        None => T::put_le(data.as_standard_layout().as_slice().unwrap_or(&[]), out),
    }
}

fn get_dense<T: Element>(
    tag: &str,
    shape: &[usize],
    count: usize,
    bytes: &[u8],
) -> Result<ArrayD<T>> {
    let size = T::CODE.wire_size();
    if Some(bytes.len()) != count.checked_mul(size) {
        return Err(damaged(
            tag,
            format!(
                "{} bytes of elements for shape {shape:?} ({count} elements of {size} bytes)",
                bytes.len()
            ),
        ));
    }
    let values = T::get_le(bytes).ok_or_else(|| damaged(tag, "an invalid element"))?;
    ArrayD::from_shape_vec(IxDyn(shape), values).map_err(|e| damaged(tag, e))
}

fn get_one<T: Element>(tag: &str, bytes: &mut &[u8]) -> Result<T> {
    let raw = take(tag, bytes, T::CODE.wire_size())?;
    T::get_le(raw)
        .and_then(|v| v.first().copied())
        .ok_or_else(|| damaged(tag, "an invalid element"))
}

/// [`Block<T>`]: tag `barrow.array.block.<type>`.
pub(crate) struct BlockCodec<T> {
    tag: String,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> BlockCodec<T> {
    pub(crate) fn shared() -> Arc<dyn Codec> {
        Arc::new(BlockCodec::<T> {
            tag: format!("barrow.array.block.{}", T::CODE.rust_name()),
            marker: PhantomData,
        })
    }
}

impl<T: Element> Codec for BlockCodec<T> {
    fn tag(&self) -> &str {
        &self.tag
    }
    fn type_id(&self) -> TypeId {
        TypeId::of::<Block<T>>()
    }
    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        match value.downcast_ref::<Block<T>>()? {
            Block::Dense(data) => {
                put_header(DENSE, T::CODE, data.shape(), out);
                put_elements(&data.view(), out);
            }
            block @ Block::Fill { shape, .. } => {
                put_header(FILLED, T::CODE, shape, out);
                T::put_le(&[block.fill_value().unwrap_or_default()], out);
            }
        }
        Ok(())
    }
    fn encode_split<'v>(&self, value: &'v Value, prefix: &mut Vec<u8>) -> Result<Option<&'v [u8]>> {
        Ok(match value.downcast_ref::<Block<T>>()? {
            Block::Dense(data) => split_dense(data, prefix),
            Block::Fill { .. } => None,
        })
    }
    fn decode(&self, mut bytes: &[u8]) -> Result<Value> {
        let tag = self.tag.as_str();
        let (kind, shape, count) = get_header(tag, T::CODE, &mut bytes)?;
        let block = match kind {
            DENSE => Block::Dense(get_dense::<T>(tag, &shape, count, bytes)?),
            FILLED => {
                let value = get_one::<T>(tag, &mut bytes)?;
                if !bytes.is_empty() {
                    return Err(damaged(tag, "bytes after a filled block's value"));
                }
                Block::filled(&shape, value)
            }
            other => return Err(damaged(tag, format!("unknown block kind {other}"))),
        };
        Ok(block.into_value())
    }
}

/// `ArrayD<T>` (`from_array` sources, `map_blocks_func` arguments): tag
/// `barrow.array.ndarray.<type>`.
pub(crate) struct NdarrayCodec<T> {
    tag: String,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> NdarrayCodec<T> {
    pub(crate) fn shared() -> Arc<dyn Codec> {
        Arc::new(NdarrayCodec::<T> {
            tag: format!("barrow.array.ndarray.{}", T::CODE.rust_name()),
            marker: PhantomData,
        })
    }
}

impl<T: Element> Codec for NdarrayCodec<T> {
    fn tag(&self) -> &str {
        &self.tag
    }
    fn type_id(&self) -> TypeId {
        TypeId::of::<ArrayD<T>>()
    }
    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let data = value.downcast_ref::<ArrayD<T>>()?;
        put_header(DENSE, T::CODE, data.shape(), out);
        put_elements(&data.view(), out);
        Ok(())
    }
    fn encode_split<'v>(&self, value: &'v Value, prefix: &mut Vec<u8>) -> Result<Option<&'v [u8]>> {
        Ok(split_dense(value.downcast_ref::<ArrayD<T>>()?, prefix))
    }
    fn decode(&self, mut bytes: &[u8]) -> Result<Value> {
        let tag = self.tag.as_str();
        let (kind, shape, count) = get_header(tag, T::CODE, &mut bytes)?;
        if kind != DENSE {
            return Err(damaged(tag, format!("kind {kind}, expected a dense array")));
        }
        let data = get_dense::<T>(tag, &shape, count, bytes)?;
        let nbytes = data.len() * T::ITEMSIZE;
        Ok(Value::with_nbytes(data, nbytes))
    }
}

/// A partial result of a reduction, written field by field.
pub(crate) trait Partial: Clone + Send + Sync + Sized + 'static {
    /// The tag's last part (`f64`, `pair.f64`, `var`).
    fn tag_suffix() -> String;
    fn put(&self, out: &mut Vec<u8>);
    fn get(tag: &str, bytes: &mut &[u8]) -> Result<Self>;
}

impl<T: Element> Partial for T {
    fn tag_suffix() -> String {
        T::CODE.rust_name().to_owned()
    }
    fn put(&self, out: &mut Vec<u8>) {
        T::put_le(std::slice::from_ref(self), out);
    }
    fn get(tag: &str, bytes: &mut &[u8]) -> Result<T> {
        get_one::<T>(tag, bytes)
    }
}

/// Arg-min/max pairs (value, index) and mean partials (sum, count).
impl<T: Element> Partial for (T, usize) {
    fn tag_suffix() -> String {
        format!("pair.{}", T::CODE.rust_name())
    }
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
    }
    fn get(tag: &str, bytes: &mut &[u8]) -> Result<(T, usize)> {
        Ok((T::get(tag, bytes)?, usize::get(tag, bytes)?))
    }
}

/// Variance partials: (count, mean, sum of squared deviations).
impl Partial for (usize, f64, f64) {
    fn tag_suffix() -> String {
        "var".to_owned()
    }
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
        self.2.put(out);
    }
    fn get(tag: &str, bytes: &mut &[u8]) -> Result<(usize, f64, f64)> {
        Ok((
            usize::get(tag, bytes)?,
            f64::get(tag, bytes)?,
            f64::get(tag, bytes)?,
        ))
    }
}

/// A block of reduction partials, `ArrayD<Option<P>>`: tag
/// `barrow.array.partials.<suffix>`.
pub(crate) struct PartialsCodec<P> {
    tag: String,
    marker: PhantomData<fn() -> P>,
}

impl<P: Partial> PartialsCodec<P> {
    pub(crate) fn shared() -> Arc<dyn Codec> {
        Arc::new(PartialsCodec::<P> {
            tag: format!("barrow.array.partials.{}", P::tag_suffix()),
            marker: PhantomData,
        })
    }
}

impl<P: Partial> Codec for PartialsCodec<P> {
    fn tag(&self) -> &str {
        &self.tag
    }
    fn type_id(&self) -> TypeId {
        TypeId::of::<ArrayD<Option<P>>>()
    }
    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let partials = value.downcast_ref::<ArrayD<Option<P>>>()?;
        // The header's type code is unused for partials: the tag says it.
        put_header(PARTIALS, DType::U8, partials.shape(), out);
        for p in partials.iter() {
            match p {
                None => out.push(0),
                Some(p) => {
                    out.push(1);
                    p.put(out);
                }
            }
        }
        Ok(())
    }
    fn decode(&self, mut bytes: &[u8]) -> Result<Value> {
        let tag = self.tag.as_str();
        let (kind, shape, count) = get_header(tag, DType::U8, &mut bytes)?;
        if kind != PARTIALS {
            return Err(damaged(tag, format!("kind {kind}, expected partials")));
        }
        if count > bytes.len() {
            return Err(damaged(
                tag,
                format!("{count} partials in {} bytes", bytes.len()),
            ));
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(match take(tag, &mut bytes, 1)?[0] {
                0 => None,
                1 => Some(P::get(tag, &mut bytes)?),
                other => return Err(damaged(tag, format!("presence byte {other}"))),
            });
        }
        if !bytes.is_empty() {
            return Err(damaged(
                tag,
                format!("{} bytes after the partials", bytes.len()),
            ));
        }
        let partials = ArrayD::from_shape_vec(IxDyn(&shape), items).map_err(|e| damaged(tag, e))?;
        let nbytes = partials.len() * std::mem::size_of::<Option<P>>();
        Ok(Value::with_nbytes(partials, nbytes.max(64)))
    }
}

/// A rechunk's staged pieces ([`Staged`]): tag
/// `barrow.array.staged.<type>`. Pieces on disk are read back and sent as
/// data (the file stays with the process that wrote it): a count (u32 LE),
/// then per piece its length (u64 LE) and its block's encoding.
pub(crate) struct StagedCodec<T> {
    tag: String,
    block: BlockCodec<T>,
}

impl<T: Element> StagedCodec<T> {
    pub(crate) fn shared() -> Arc<dyn Codec> {
        Arc::new(StagedCodec::<T> {
            tag: format!("barrow.array.staged.{}", T::CODE.rust_name()),
            block: BlockCodec {
                tag: format!("barrow.array.block.{}", T::CODE.rust_name()),
                marker: PhantomData,
            },
        })
    }
}

impl<T: Element> Codec for StagedCodec<T> {
    fn tag(&self) -> &str {
        &self.tag
    }
    fn type_id(&self) -> TypeId {
        TypeId::of::<Staged<T>>()
    }
    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let staged = value.downcast_ref::<Staged<T>>()?;
        out.extend_from_slice(&(staged.pieces.len() as u32).to_le_bytes());
        for index in 0..staged.pieces.len() {
            let piece = staged.piece(index)?.into_value();
            let at = out.len();
            out.extend_from_slice(&[0; 8]);
            self.block.encode(&piece, out)?;
            let len = (out.len() - at - 8) as u64;
            out[at..at + 8].copy_from_slice(&len.to_le_bytes());
        }
        Ok(())
    }
    fn decode(&self, mut bytes: &[u8]) -> Result<Value> {
        let tag = self.tag.as_str();
        let mut word = [0u8; 4];
        word.copy_from_slice(take(tag, &mut bytes, 4)?);
        let count = u32::from_le_bytes(word) as usize;
        if count > bytes.len() / 8 {
            return Err(damaged(tag, format!("{count} pieces do not fit the bytes")));
        }
        let mut pieces = Vec::with_capacity(count);
        let mut held = 0;
        for _ in 0..count {
            let mut len = [0u8; 8];
            len.copy_from_slice(take(tag, &mut bytes, 8)?);
            let len = usize::try_from(u64::from_le_bytes(len))
                .map_err(|_| damaged(tag, "a piece longer than this machine can address"))?;
            let block = self.block.decode(take(tag, &mut bytes, len)?)?;
            held += block.nbytes();
            pieces.push(StagedPiece::Memory(
                block
                    .try_take::<Block<T>>()
                    .map_err(|_| damaged(tag, "a decoded piece is shared"))?,
            ));
        }
        if !bytes.is_empty() {
            return Err(damaged(
                tag,
                format!("{} bytes after the pieces", bytes.len()),
            ));
        }
        Ok(Value::with_nbytes(
            Staged {
                extent: None,
                pieces,
            },
            held + 64,
        ))
    }
}

macro_rules! element_codecs {
    ($($t:ty),*) => {$(
        inventory::submit! { StaticCodec { make: BlockCodec::<$t>::shared } }
        inventory::submit! { StaticCodec { make: NdarrayCodec::<$t>::shared } }
        inventory::submit! { StaticCodec { make: StagedCodec::<$t>::shared } }
        inventory::submit! { StaticCodec { make: PartialsCodec::<$t>::shared } }
        inventory::submit! { StaticCodec { make: PartialsCodec::<($t, usize)>::shared } }
    )*};
}
element_codecs!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, usize, bool);

inventory::submit! { StaticCodec { make: PartialsCodec::<(usize, f64, f64)>::shared } }
inventory::submit! {
    StaticCodec { make: || Arc::new(SerdeCodec::<usize>::new("barrow.array.usize")) }
}
inventory::submit! {
    StaticCodec { make: || Arc::new(SerdeCodec::<Vec<usize>>::new("barrow.array.vec.usize")) }
}
inventory::submit! {
    StaticCodec { make: || Arc::new(SerdeCodec::<Vec<isize>>::new("barrow.array.vec.isize")) }
}
