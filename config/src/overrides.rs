//! Overrides set in code: scoped ones live on a per-thread stack of frames.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, ErrorKind, Result};
use crate::key::{canonical_key, is_well_formed};
use crate::load::{Leaf, flatten};
use crate::schema::Schema;
use crate::value::{Entry, Origin, Value};
use crate::yaml::{Node, Position};

/// Checks `pairs` against `schema`, splitting mappings into their keys
/// (`("array", {chunk-size: 2MiB})` is `array.chunk-size`): every value of a
/// declared key must fit its type; keys nobody declared are kept as given.
/// Returns canonical keys with their entries, in the order given.
pub(crate) fn checked<I, K, V>(
    pairs: I,
    origin: &Origin,
    schema: &Schema,
) -> Result<Vec<(String, Entry)>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<Value>,
{
    let mut out = Vec::new();
    for (key, value) in pairs {
        let key = canonical_key(key.as_ref());
        if !is_well_formed(&key) {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                format!(
                    "{key:?} (from {origin}) is not a configuration key: keys are names \
                     separated by dots, none of them empty"
                ),
            ));
        }
        let mut leaves = Vec::new();
        let node = Node::from_value(value.into(), Position::NOWHERE);
        flatten(key, String::new(), None, node, schema, &mut leaves);
        for (key, value) in leaves.into_iter().map(Leaf::into_parts) {
            if let Some(declaration) = schema.get(&key) {
                declaration.check(&value, origin)?;
            }
            let entry = Entry {
                value,
                origin: origin.clone(),
            };
            out.push((key, entry));
        }
    }
    Ok(out)
}

struct Frame {
    id: u64,
    entries: Vec<(String, Entry)>,
}

thread_local! {
    static SCOPED: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

static NEXT_FRAME: AtomicU64 = AtomicU64::new(1);

/// The scoped overrides of this thread, outermost first.
pub(crate) fn scoped_entries() -> Vec<(String, Entry)> {
    SCOPED.with(|frames| {
        frames
            .borrow()
            .iter()
            .flat_map(|frame| frame.entries.iter().cloned())
            .collect()
    })
}

/// Whether this thread has scoped overrides.
pub(crate) fn has_scoped() -> bool {
    SCOPED.with(|frames| !frames.borrow().is_empty())
}

/// Scoped overrides for the current thread; dropping the guard removes them,
/// which restores the values they hid. Made by [`scoped`].
///
/// The guard is neither `Send` nor `Sync`: it belongs to the thread whose
/// overrides it holds.
#[must_use = "the overrides end when the guard is dropped"]
pub struct ScopedGuard {
    id: u64,
    _thread_bound: PhantomData<*const ()>,
}

impl fmt::Debug for ScopedGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedGuard")
            .field("frame", &self.id)
            .finish()
    }
}

impl Drop for ScopedGuard {
    fn drop(&mut self) {
        // Removing this guard's own frame (rather than the top one) keeps
        // guards dropped out of order correct.
        let _ = SCOPED.try_with(|frames| frames.borrow_mut().retain(|frame| frame.id != self.id));
    }
}

/// Overrides `pairs` on the current thread until the returned guard drops
/// (layer 7: above global overrides, below per-call options).
///
/// Guards nest: an inner guard wins while it lives, and dropping it brings
/// the outer values back. Other threads never see these overrides; a
/// scheduler copies them to its workers through the snapshot it takes when a
/// computation starts. A value may be a mapping (`("array",
/// {"chunk-size": "2MiB"})`), at any depth: its keys merge into the tree as
/// dotted keys do. Values of declared keys must fit their types, or nothing
/// is overridden and an error says why; keys nobody declared are kept (code
/// reads them with [`get_value`](crate::get_value) or a typed getter), with
/// a warning when one looks like a typo of a declared key.
///
/// ```
/// use barrow_config::{Layer, Sandbox};
///
/// let sandbox = Sandbox::new()?;
/// let config = sandbox.config();
/// let _default = config.set_default(); // this thread reads the sandbox
///
/// let outer = barrow_config::scoped([("num-workers", 2)])?;
/// {
///     let _inner = barrow_config::scoped([("num-workers", 8)])?;
///     assert_eq!(barrow_config::get::<u64>("num-workers")?, Some(8));
///     let config = config.clone();
///     std::thread::spawn(move || {
///         // Another thread does not see this thread's overrides.
///         let snapshot = config.snapshot().unwrap();
///         let origin = snapshot.lookup("num-workers").unwrap().origin().clone();
///         assert_eq!(origin.layer(), Layer::Defaults);
///     })
///     .join()
///     .unwrap();
/// }
/// assert_eq!(barrow_config::get::<u64>("num-workers")?, Some(2));
/// drop(outer);
/// assert_eq!(barrow_config::get::<u64>("num-workers")?, None);
/// # Ok::<(), barrow_config::Error>(())
/// ```
pub fn scoped<I, K, V>(pairs: I) -> Result<ScopedGuard>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<Value>,
{
    let entries = checked(pairs, &Origin::Scoped, &Schema::current())?;
    let id = NEXT_FRAME.fetch_add(1, Ordering::Relaxed);
    SCOPED.with(|frames| frames.borrow_mut().push(Frame { id, entries }));
    Ok(ScopedGuard {
        id,
        _thread_bound: PhantomData,
    })
}

/// Runs `f` with `pairs` overridden on the current thread, like
/// [`scoped`] for the duration of one closure.
///
/// ```
/// # let sandbox = barrow_config::Sandbox::new()?;
/// # let _default = sandbox.config().set_default();
/// let workers = barrow_config::with_scoped([("num-workers", 3)], || {
///     barrow_config::get::<u64>("num-workers")
/// })??;
/// assert_eq!(workers, Some(3));
/// # Ok::<(), barrow_config::Error>(())
/// ```
pub fn with_scoped<I, K, V, R>(pairs: I, f: impl FnOnce() -> R) -> Result<R>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<Value>,
{
    let _guard = scoped(pairs)?;
    Ok(f())
}
