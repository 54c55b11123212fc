//! Values of plugins' own types in the host, and the one codec that carries
//! them: its payload names the plugin codec's tag, so spilling and process
//! workers find the plugin that decodes it.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

use abi_stable::std_types::RSlice;
use barrow_core::codec::Codec;
use barrow_core::{Error, ErrorKind, Result, Value};
use barrow_plugin::abi::{AbiObject, CodecsTable};

/// The tag of the codec that carries every plugin type.
pub const OBJECT_TAG: &str = "barrow.plugin-object";

/// A value of a plugin's own type, owned by the host.
pub struct ForeignObject {
    object: AbiObject,
}

impl fmt::Debug for ForeignObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.object.describe())
    }
}

impl ForeignObject {
    /// A value holding `object`, sized as the plugin says.
    pub(crate) fn value(object: AbiObject) -> Value {
        let nbytes = object.nbytes();
        Value::with_nbytes(ForeignObject { object }, nbytes)
    }

    pub(crate) fn object(&self) -> &AbiObject {
        &self.object
    }

    /// The codec tag of its type (`hist.histogram`).
    pub fn tag(&self) -> String {
        self.object.tag().to_string()
    }

    /// The plugin's encoding of it.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.object
            .encode()
            .into_result()
            .map(|bytes| bytes.into_vec())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Codec,
                    format!(
                        "the plugin codec '{}' cannot encode {}: {}{}",
                        self.object.tag(),
                        self.object.describe(),
                        if e.panicked { "panicked: " } else { "" },
                        e.message
                    ),
                )
            })
    }
}

/// Plugin codecs by tag.
type Decoders = HashMap<String, (String, &'static CodecsTable, usize)>;

fn decoders() -> &'static RwLock<Decoders> {
    static DECODERS: OnceLock<RwLock<Decoders>> = OnceLock::new();
    DECODERS.get_or_init(Default::default)
}

/// Makes plugin `plugin`'s codecs known; a tag another plugin already
/// provides is an error naming both.
pub(crate) fn add_decoders(plugin: &str, table: &'static CodecsTable) -> Result<()> {
    let mut decoders = decoders().write().unwrap_or_else(|e| e.into_inner());
    for (index, codec) in table.codecs.iter().enumerate() {
        match decoders.get(codec.tag.as_str()) {
            Some((owner, ..)) if owner != plugin => {
                return Err(Error::new(
                    ErrorKind::Codec,
                    format!(
                        "codec tag '{}' is provided by plugin '{owner}' and by plugin '{plugin}'; \
                         load only one of them",
                        codec.tag
                    ),
                ));
            }
            Some(_) => {}
            None => {
                decoders.insert(codec.tag.to_string(), (plugin.to_owned(), table, index));
            }
        }
    }
    Ok(())
}

/// The codec registered under [`OBJECT_TAG`]: a payload is the inner tag's
/// length (u16, little-endian), the inner tag, then the plugin's bytes.
#[derive(Debug)]
pub(crate) struct ObjectCodec;

// Every process that links the host reads the envelope, so a value whose
// plugin it lacks fails naming the plugin's codec, not the envelope's.
inventory::submit! {
    barrow_core::codec::StaticCodec { make: || Arc::new(ObjectCodec) }
}

impl Codec for ObjectCodec {
    fn tag(&self) -> &str {
        OBJECT_TAG
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<ForeignObject>()
    }

    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<()> {
        let object = value.downcast_ref::<ForeignObject>()?;
        let tag = object.tag();
        let len = u16::try_from(tag.len()).map_err(|_| {
            Error::new(
                ErrorKind::Codec,
                format!("plugin codec tag '{tag}' is too long"),
            )
        })?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(tag.as_bytes());
        out.extend_from_slice(&object.encode()?);
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Value> {
        let damaged = |what: &str| {
            Error::new(
                ErrorKind::Codec,
                format!("a plugin object's bytes are damaged: {what}"),
            )
        };
        let (len, rest) = bytes
            .split_first_chunk::<2>()
            .ok_or_else(|| damaged("shorter than its header"))?;
        let len = usize::from(u16::from_le_bytes(*len));
        let (tag, payload) = rest
            .split_at_checked(len)
            .ok_or_else(|| damaged("shorter than its tag"))?;
        let tag = std::str::from_utf8(tag).map_err(|_| damaged("its tag is not UTF-8"))?;
        let found = decoders()
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tag)
            .map(|(plugin, table, index)| (plugin.clone(), *table, *index));
        let (plugin, table, index) = found.ok_or_else(|| {
            Error::new(
                ErrorKind::Codec,
                format!(
                    "no loaded plugin provides the codec '{tag}'; load the plugin that does \
                     (plugins.load), or send it to a cluster's workers (client.upload_plugin)"
                ),
            )
        })?;
        (table.decode)(index, RSlice::from_slice(payload))
            .into_result()
            .map(ForeignObject::value)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Codec,
                    format!(
                        "plugin '{plugin}' cannot decode a '{tag}': {}{}",
                        if e.panicked { "panicked: " } else { "" },
                        e.message
                    ),
                )
            })
    }
}
