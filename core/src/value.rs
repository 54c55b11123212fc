//! Values: cheap, shared, type-erased handles to task results.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// A task's input or result: a cheap-to-clone handle to any
/// `Send + Sync + 'static` data, shared between tasks without copying.
///
/// A value knows its type's name (for errors) and an estimate of its size in
/// bytes ([`Value::nbytes`], Dask's `sizeof`) that schedulers use to account
/// for memory. It is serialized only when it must leave the process or be
/// spilled, through the codec registry.
///
/// ```
/// use barrow_core::Value;
///
/// let v = Value::new(vec![1.0f64, 2.0, 3.0]);
/// assert_eq!(v.downcast_ref::<Vec<f64>>()?, &[1.0, 2.0, 3.0]);
/// assert_eq!(v.nbytes(), 24);
///
/// // A wrong type is an error naming both types, never a panic.
/// let err = v.downcast_ref::<String>().unwrap_err();
/// assert!(err.to_string().contains("expected alloc::string::String"));
/// assert!(err.to_string().contains("alloc::vec::Vec<f64>"));
///
/// // The last holder of a value can take it back without copying.
/// let data: Vec<f64> = v.try_take().unwrap();
/// assert_eq!(data.len(), 3);
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Value(Arc<dyn Payload>);

/// The object behind a [`Value`]: the data plus what is known about it.
trait Payload: Any + Send + Sync {
    fn data(&self) -> &(dyn Any + Send + Sync);
    fn type_name(&self) -> &'static str;
    fn nbytes(&self) -> usize;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// Data whose size is estimated when asked ([`estimate_nbytes`]): no room
/// spent on a size for the many small literals of a graph.
struct Boxed<T> {
    data: T,
}

/// Data with a size given by its maker.
struct Measured<T> {
    nbytes: usize,
    data: T,
}

impl<T: Send + Sync + 'static> Payload for Boxed<T> {
    fn data(&self) -> &(dyn Any + Send + Sync) {
        &self.data
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn nbytes(&self) -> usize {
        estimate_nbytes(&self.data)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl<T: Send + Sync + 'static> Payload for Measured<T> {
    fn data(&self) -> &(dyn Any + Send + Sync) {
        &self.data
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn nbytes(&self) -> usize {
        self.nbytes
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl Value {
    /// Wraps `data`, estimating its size with [`estimate_nbytes`].
    pub fn new<T: Send + Sync + 'static>(data: T) -> Value {
        Value(Arc::new(Boxed { data }))
    }

    /// Wraps `data` with a size in bytes the caller knows better than the
    /// estimate (an array's buffer, a partition's total string length).
    pub fn with_nbytes<T: Send + Sync + 'static>(data: T, nbytes: usize) -> Value {
        Value(Arc::new(Measured { nbytes, data }))
    }

    /// The size estimate in bytes.
    pub fn nbytes(&self) -> usize {
        self.0.nbytes()
    }

    /// The Rust type name of the data, as `std::any::type_name` spells it.
    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    /// The `TypeId` of the data.
    pub fn type_id(&self) -> TypeId {
        self.0.data().type_id()
    }

    /// Whether the data is a `T`.
    pub fn is<T: 'static>(&self) -> bool {
        self.0.data().is::<T>()
    }

    /// Borrows the data as a `T`, or fails naming the expected and actual types.
    pub fn downcast_ref<T: 'static>(&self) -> Result<&T> {
        self.0
            .data()
            .downcast_ref::<T>()
            .ok_or_else(|| Error::wrong_type(std::any::type_name::<T>(), self.type_name()))
    }

    /// Takes the data out when this is its last handle, so the last consumer
    /// of a buffer can reuse it in place. Gives the value back otherwise (it
    /// is shared, or not a `T`).
    pub fn try_take<T: Send + Sync + 'static>(self) -> Result<T, Value> {
        if !self.is::<T>() || Arc::strong_count(&self.0) != 1 {
            return Err(self);
        }
        let any = self.0.into_any();
        let any = match any.downcast::<Boxed<T>>() {
            Ok(boxed) => {
                return match Arc::try_unwrap(boxed) {
                    Ok(boxed) => Ok(boxed.data),
                    Err(shared) => Err(Value(shared)),
                };
            }
            Err(any) => any,
        };
        match any.downcast::<Measured<T>>() {
            Ok(measured) => match Arc::try_unwrap(measured) {
                Ok(measured) => Ok(measured.data),
                Err(shared) => Err(Value(shared)),
            },
            // Unreachable: the two payload types were tried and `T` was
            // checked above. The erased value cannot be rebuilt, so hand back
            // a marker rather than panic.
            Err(_) => Err(Value::new(TakeFailed)),
        }
    }

    /// Takes the data when unshared, or clones it when shared.
    pub fn take_or_clone<T: Clone + Send + Sync + 'static>(self) -> Result<T> {
        match self.try_take::<T>() {
            Ok(data) => Ok(data),
            Err(value) => value.downcast_ref::<T>().cloned(),
        }
    }

    /// Whether two handles point at the same data.
    pub fn ptr_eq(&self, other: &Value) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }

    /// The data as `&dyn Any`, for code that dispatches on types itself
    /// (codecs, tokenize).
    pub fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self.0.data()
    }

    /// A short description for messages: the data itself for scalars and
    /// strings (`3`, `"a"`), else the type in angle brackets.
    pub fn short(&self) -> String {
        scalar_repr(self.as_any()).unwrap_or_else(|| format!("<{}>", self.type_name()))
    }

    /// Number of handles to this data (for tests and diagnostics).
    pub fn handle_count(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

/// Returned by [`Value::try_take`] in the impossible case where a checked
/// downcast fails after all.
#[derive(Debug)]
struct TakeFailed;

/// Shows the type and, for scalars and strings, the data itself.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match scalar_repr(self.as_any()) {
            Some(repr) => write!(f, "Value({repr})"),
            None => write!(f, "Value(<{}, {} bytes>)", self.type_name(), self.nbytes()),
        }
    }
}

/// The scalar types Barrow knows by content. The order is part of the token
/// format (`tokenize` numbers scalar tags by it): append, never reorder.
macro_rules! for_each_scalar {
    ($m:ident) => {
        $m!(
            i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64, bool, char
        );
    };
}
pub(crate) use for_each_scalar;

fn scalar_repr(data: &dyn Any) -> Option<String> {
    macro_rules! try_scalars {
        ($($t:ty),*) => {
            $(if let Some(v) = data.downcast_ref::<$t>() {
                return Some(format!("{v:?}"));
            })*
        };
    }
    for_each_scalar!(try_scalars);
    if let Some(s) = data.downcast_ref::<String>() {
        return Some(format!("{s:?}"));
    }
    if let Some(s) = data.downcast_ref::<&'static str>() {
        return Some(format!("{s:?}"));
    }
    None
}

/// Estimates the bytes held by `data`, as Dask's `sizeof` does.
///
/// Knows the common containers of scalars and strings (`Vec`, `Box<[_]>`,
/// `String`, `Vec<String>`, `Vec<Value>`); for any other type it counts the
/// inline size only. Collections whose buffers it cannot see give the right
/// figure with [`Value::with_nbytes`].
pub fn estimate_nbytes<T: 'static>(data: &T) -> usize {
    let any = data as &dyn Any;
    macro_rules! try_containers {
        ($($t:ty),*) => {
            $(if let Some(v) = any.downcast_ref::<Vec<$t>>() {
                return size_of_val(v.as_slice());
            }
            if let Some(v) = any.downcast_ref::<Box<[$t]>>() {
                return size_of_val(&**v);
            })*
        };
    }
    for_each_scalar!(try_containers);
    if let Some(s) = any.downcast_ref::<String>() {
        return s.len();
    }
    if let Some(v) = any.downcast_ref::<Vec<String>>() {
        return v.iter().map(|s| s.len() + size_of::<String>()).sum();
    }
    if let Some(v) = any.downcast_ref::<Vec<Value>>() {
        return v.iter().map(Value::nbytes).sum();
    }
    size_of::<T>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_take_gives_back_shared_values() {
        let v = Value::new(String::from("abc"));
        let other = v.clone();
        let v = v.try_take::<String>().unwrap_err();
        drop(other);
        assert_eq!(v.try_take::<String>().unwrap(), "abc");
    }

    #[test]
    fn try_take_works_for_measured_values() {
        let v = Value::with_nbytes(vec![1u8, 2], 1000);
        assert_eq!(v.nbytes(), 1000);
        assert_eq!(v.try_take::<Vec<u8>>().unwrap(), [1, 2]);
    }

    #[test]
    fn try_take_of_wrong_type_gives_back_the_value() {
        let v = Value::new(3i64);
        let v = v.try_take::<String>().unwrap_err();
        assert_eq!(*v.downcast_ref::<i64>().unwrap(), 3);
    }

    #[test]
    fn nbytes_estimates() {
        assert_eq!(Value::new(1u8).nbytes(), 1);
        assert_eq!(Value::new(vec![0i32; 10]).nbytes(), 40);
        assert_eq!(Value::new(String::from("hello")).nbytes(), 5);
        assert_eq!(Value::with_nbytes((), 1000).nbytes(), 1000);
        let list = Value::new(vec![Value::new(vec![0u64; 4]), Value::new(1u16)]);
        assert_eq!(list.nbytes(), 34);
    }

    #[test]
    fn debug_shows_scalars() {
        assert_eq!(format!("{:?}", Value::new(3i64)), "Value(3)");
        assert_eq!(
            format!("{:?}", Value::new(String::from("a"))),
            "Value(\"a\")"
        );
        assert!(format!("{:?}", Value::new(vec![1u8])).contains("Vec<u8>, 1 bytes"));
    }
}
