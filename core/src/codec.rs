//! Codecs: how values become bytes when they leave the process or are spilled.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};
use crate::value::Value;

/// Turns values of one type into bytes and back.
///
/// A codec is found by its **tag**, an explicit string chosen by its author
/// (`"barrow.f64"`, `"stats.histogram"`), never a `TypeId` or type name:
/// those differ between builds and between dynamic libraries. Within one
/// process, a codec is also found by the `TypeId` of the type it encodes.
pub trait Codec: Send + Sync + 'static {
    /// The stable tag written next to the bytes.
    fn tag(&self) -> &str;

    /// The type this codec encodes, in this process.
    fn type_id(&self) -> TypeId;

    /// Appends the encoding of `value` to `out`.
    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()>;

    /// The encoding of `value` in two parts, when its end is a buffer the
    /// value already holds (the elements of a vector of numbers): appends
    /// the start to `prefix` and returns that buffer, so that the encoding
    /// is `prefix` followed by it. A transport then writes the buffer from
    /// where it lies (into shared memory, to a socket) instead of copying
    /// it into a new one first.
    ///
    /// `Ok(None)`, the default, writes nothing and means "use
    /// [`encode`](Codec::encode)". An implementation must give exactly the
    /// bytes `encode` gives.
    fn encode_split<'v>(&self, value: &'v Value, prefix: &mut Vec<u8>) -> Result<Option<&'v [u8]>> {
        let _ = (value, prefix);
        Ok(None)
    }

    /// Decodes a value from `bytes`.
    fn decode(&self, bytes: &[u8]) -> Result<Value>;
}

/// A codec for any serde type, in postcard's compact binary format.
///
/// ```
/// use barrow_core::codec::{Codec, SerdeCodec};
/// use barrow_core::Value;
///
/// let codec = SerdeCodec::<Vec<String>>::new("example.strings");
/// let mut bytes = Vec::new();
/// codec.encode(&Value::new(vec!["a".to_string()]), &mut bytes)?;
/// let back = codec.decode(&bytes)?;
/// assert_eq!(back.downcast_ref::<Vec<String>>()?, &["a"]);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub struct SerdeCodec<T> {
    tag: String,
    marker: PhantomData<fn() -> T>,
}

impl<T> SerdeCodec<T> {
    /// A codec writing `tag`.
    pub fn new(tag: impl Into<String>) -> SerdeCodec<T> {
        SerdeCodec {
            tag: tag.into(),
            marker: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SerdeCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerdeCodec({})", self.tag)
    }
}

impl<T> Codec for SerdeCodec<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn tag(&self) -> &str {
        &self.tag
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let data = value.downcast_ref::<T>()?;
        let encoded = postcard::to_allocvec(data).map_err(|e| {
            Error::new(
                ErrorKind::Codec,
                format!(
                    "codec '{}' cannot encode a {}: {e}",
                    self.tag,
                    value.type_name()
                ),
            )
        })?;
        out.extend_from_slice(&encoded);
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Value> {
        let data: T = postcard::from_bytes(bytes).map_err(|e| {
            Error::new(
                ErrorKind::Codec,
                format!(
                    "codec '{}' cannot decode {} bytes (corrupt or truncated data?): {e}",
                    self.tag,
                    bytes.len()
                ),
            )
        })?;
        Ok(Value::new(data))
    }
}

/// A codec registered at compile time by the crate that defines its type
/// (`inventory::submit!`), collected into the process-wide registry on first
/// use, so that a worker process built from the same program decodes what
/// the caller encodes without any set-up.
pub struct StaticCodec {
    /// Makes the codec.
    pub make: fn() -> Arc<dyn Codec>,
}

impl fmt::Debug for StaticCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticCodec")
    }
}

inventory::collect!(StaticCodec);

/// Codecs by tag and by type.
#[derive(Default)]
pub struct CodecRegistry {
    inner: RwLock<Codecs>,
}

#[derive(Default)]
struct Codecs {
    by_tag: HashMap<String, Arc<dyn Codec>>,
    by_type: HashMap<TypeId, Arc<dyn Codec>>,
}

impl CodecRegistry {
    /// An empty registry.
    pub fn new() -> CodecRegistry {
        CodecRegistry::default()
    }

    /// A registry with codecs for scalars, strings and vectors of them,
    /// tagged `barrow.<type>` (`barrow.f64`, `barrow.vec.f64`, `barrow.string`).
    pub fn with_builtins() -> CodecRegistry {
        let registry = CodecRegistry::new();
        macro_rules! builtin {
            ($($t:ty => $name:literal),*) => {
                $(
                    registry.insert(Arc::new(SerdeCodec::<$t>::new(concat!("barrow.", $name))));
                    registry.insert(Arc::new(SerdeCodec::<Vec<$t>>::new(concat!("barrow.vec.", $name))));
                )*
            };
        }
        builtin!(
            i8 => "i8", i16 => "i16", i32 => "i32", i64 => "i64",
            u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64",
            f32 => "f32", f64 => "f64", bool => "bool", String => "string"
        );
        registry
    }

    /// Registers every [`StaticCodec`] linked into this program; a tag or
    /// type taken already keeps its codec.
    pub fn register_static(&self) {
        for item in inventory::iter::<StaticCodec> {
            let codec = (item.make)();
            let inner = self.read();
            let taken = inner.by_tag.contains_key(codec.tag())
                || inner.by_type.contains_key(&codec.type_id());
            drop(inner);
            if !taken {
                self.insert(codec);
            }
        }
    }

    /// A fingerprint of the registered tags (xxh3-64 of the sorted list).
    pub fn fingerprint(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(self.tags().join("\n").as_bytes())
    }

    /// Registers a codec. A second codec for the same tag or type is an error.
    pub fn register(&self, codec: Arc<dyn Codec>) -> Result<()> {
        let inner = self.read();
        if inner.by_tag.contains_key(codec.tag()) {
            return Err(Error::new(
                ErrorKind::Codec,
                format!(
                    "a codec is already registered under the tag '{}'",
                    codec.tag()
                ),
            ));
        }
        if let Some(existing) = inner.by_type.get(&codec.type_id()) {
            return Err(Error::new(
                ErrorKind::Codec,
                format!(
                    "codec '{}' encodes a type that codec '{}' already encodes",
                    codec.tag(),
                    existing.tag()
                ),
            ));
        }
        drop(inner);
        self.insert(codec);
        Ok(())
    }

    fn insert(&self, codec: Arc<dyn Codec>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.by_type.insert(codec.type_id(), codec.clone());
        inner.by_tag.insert(codec.tag().to_string(), codec);
    }

    /// The codec registered under `tag`.
    pub fn by_tag(&self, tag: &str) -> Result<Arc<dyn Codec>> {
        self.read().by_tag.get(tag).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::Codec,
                format!(
                    "no codec is registered under the tag '{tag}'; register the codec (or load \
                     the plugin that provides it) in this process"
                ),
            )
        })
    }

    /// The codec for the type of `value`.
    pub fn for_value(&self, value: &Value) -> Result<Arc<dyn Codec>> {
        self.read()
            .by_type
            .get(&value.type_id())
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Codec,
                    format!(
                        "no codec is registered for values of type {}; register one (for a serde \
                     type: registry.codecs().register(Arc::new(SerdeCodec::<T>::new(\"my.tag\"))))",
                        value.type_name()
                    ),
                )
            })
    }

    /// Whether some codec encodes the type of `value`.
    pub fn can_encode(&self, value: &Value) -> bool {
        self.read().by_type.contains_key(&value.type_id())
    }

    /// All tags, sorted.
    ///
    /// ```
    /// use barrow_core::codec::CodecRegistry;
    ///
    /// let tags = CodecRegistry::with_builtins().tags();
    /// assert!(tags.contains(&"barrow.string".to_string()));
    /// assert!(tags.contains(&"barrow.vec.f64".to_string()));
    /// ```
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self.read().by_tag.keys().cloned().collect();
        tags.sort();
        tags
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Codecs> {
        // Writes are single inserts, so a poisoned lock still holds a whole map.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for CodecRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecRegistry")
            .field("tags", &self.tags())
            .finish()
    }
}
