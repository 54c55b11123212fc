//! Values of a plugin's own types: the [`Object`] trait an author implements,
//! and the boundary object the host holds.

use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::std_types::{RErr, ROk, RResult, RStr, RString, RVec};
use abi_stable::type_level::downcasting::TD_CanDowncast;

use crate::abi::{AbiError, AbiObject, ObjectImpl, ObjectImpl_TO};
use crate::author::{Error, Result};

/// A type of the plugin's own that task functions take and return, with its
/// codec: its values spill to disk and travel to process workers as bytes
/// under [`Object::TAG`].
///
/// ```
/// use barrow_plugin::{Object, Result};
///
/// /// Counts of values in ten equal bins over [0, 1).
/// #[derive(Debug, PartialEq)]
/// struct Histogram([u64; 10]);
///
/// impl Object for Histogram {
///     const TAG: &'static str = "example.histogram";
///
///     fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
///         for count in self.0 {
///             out.extend_from_slice(&count.to_le_bytes());
///         }
///         Ok(())
///     }
///
///     fn decode(bytes: &[u8]) -> Result<Self> {
///         let mut counts = [0u64; 10];
///         if bytes.len() != 80 {
///             return Err(format!("a histogram is 80 bytes, not {}", bytes.len()).into());
///         }
///         for (count, chunk) in counts.iter_mut().zip(bytes.chunks_exact(8)) {
///             *count = u64::from_le_bytes(chunk.try_into().map_err(|_| "short chunk")?);
///         }
///         Ok(Histogram(counts))
///     }
/// }
///
/// let h = Histogram([1; 10]);
/// let mut bytes = Vec::new();
/// h.encode(&mut bytes)?;
/// assert_eq!(Histogram::decode(&bytes)?, h);
/// # Ok::<(), barrow_plugin::Error>(())
/// ```
pub trait Object: Send + Sync + Sized + 'static {
    /// The codec tag, stable across builds: `<plugin>.<type>`.
    const TAG: &'static str;

    /// Appends the value's bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>) -> Result<()>;

    /// The value `bytes` encode; an error (never a panic) on bad bytes.
    fn decode(bytes: &[u8]) -> Result<Self>;

    /// Bytes the value holds, for the host's memory accounting.
    fn nbytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

/// An author's value, boxed for the boundary.
pub(crate) struct ObjectBox<T>(T);

impl<T: Object> std::fmt::Debug for ObjectBox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", T::TAG)
    }
}

impl<T: Object> ObjectBox<T> {
    pub(crate) fn erase(value: T) -> AbiObject {
        ObjectImpl_TO::from_value(ObjectBox(value), TD_CanDowncast)
    }
}

impl<T: Object> ObjectImpl for ObjectBox<T> {
    fn tag(&self) -> RStr<'_> {
        T::TAG.into()
    }

    fn encode(&self) -> RResult<RVec<u8>, AbiError> {
        guard(|| {
            let mut out = Vec::new();
            self.0.encode(&mut out)?;
            Ok(RVec::from(out))
        })
    }

    fn nbytes(&self) -> usize {
        catch_unwind(AssertUnwindSafe(|| self.0.nbytes())).unwrap_or(0)
    }

    fn describe(&self) -> RString {
        format!("a {} ({})", T::TAG, std::any::type_name::<T>()).into()
    }
}

/// The author's value behind `object`, if it is a `T` made by this plugin.
pub(crate) fn downcast<T: Object>(object: &AbiObject) -> Option<&T> {
    object.obj.downcast_as::<ObjectBox<T>>().ok().map(|b| &b.0)
}

/// Runs `f`, turning its error or its panic into an [`AbiError`]: a panic
/// must never unwind into the host, which would abort it.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T>) -> RResult<T, AbiError> {
    quiet_panics();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => ROk(value),
        Ok(Err(error)) => RErr(AbiError {
            panicked: false,
            message: error.message().into(),
        }),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            let message = match PANIC_AT.with(|at| at.take()) {
                Some(at) => format!("{message} (at {at})"),
                None => message,
            };
            RErr(AbiError {
                panicked: true,
                message: message.into(),
            })
        }
    }
}

thread_local! {
    /// Where the last panic on this thread happened, for its error.
    static PANIC_AT: std::cell::Cell<Option<String>> = const { std::cell::Cell::new(None) };
}

/// A plugin has its own copy of `std`, whose default hook would print every
/// caught panic with a backtrace to the host's stderr: the host reports it
/// as the task's error instead, with the place this hook records.
fn quiet_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if let Some(location) = info.location() {
                let at = format!("{}:{}:{}", location.file(), location.line(), location.column());
                PANIC_AT.with(|cell| cell.set(Some(at)));
            }
        }));
    });
}

/// The boxed author's decoder, for [`crate::Codec::of`].
pub(crate) fn decode_boxed<T: Object>(bytes: &[u8]) -> Result<AbiObject> {
    T::decode(bytes).map(ObjectBox::erase)
}

impl From<Error> for AbiError {
    fn from(error: Error) -> AbiError {
        AbiError {
            panicked: false,
            message: error.message().into(),
        }
    }
}
