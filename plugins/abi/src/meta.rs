//! A plugin's description embedded in a section of its own library file
//! (`.barrow_plugin` in ELF, `__DATA,__barrow_plug` in Mach-O), written at
//! compile time by [`export_plugin!`](crate::export_plugin): a host reads
//! it from the file, without loading the library, so that `barrow plugin
//! inspect` and the host's checks run none of the plugin's code.
//!
//! The encoding is small and fixed (no serde in a `const`): the magic
//! [`MAGIC`], a format number, the ABI version, then length-prefixed UTF-8
//! strings and counted lists, all integers little-endian `u32`:
//!
//! ```text
//! MAGIC  format  abi-major  abi-minor
//! name  version  description  config
//! functions: count, then (name, doc, takes-params byte) each
//! codecs: count, then tag each
//! set-up steps: count, then (name, doc) each
//! schedulers: count, then (name, doc) each
//! hooks: count, then (name, doc) each        (ABI 1.2 and later)
//! ```
//!
//! ```
//! use barrow_plugin::meta::{Metadata, encode, encoded_len};
//! use barrow_plugin::{Function, Plugin};
//!
//! static PLUGIN: Plugin = Plugin {
//!     name: "demo",
//!     description: "Shows the encoding.",
//!     functions: &[Function::new("one", "Gives one.", |_, out| {
//!         out.f64(1.0);
//!         Ok(())
//!     })],
//!     ..Plugin::EMPTY
//! };
//! const LEN: usize = encoded_len(&PLUGIN);
//! static BYTES: [u8; LEN] = encode::<LEN>(&PLUGIN);
//!
//! let meta = Metadata::decode(&BYTES)?;
//! assert_eq!(meta.name, "demo");
//! assert_eq!(meta.functions[0].name, "one");
//! # Ok::<(), barrow_plugin::meta::DecodeError>(())
//! ```

use std::fmt;

use crate::abi::{ABI_MAJOR, ABI_MINOR};
use crate::plugin::Plugin;

/// The bytes the embedded description starts with.
pub const MAGIC: &[u8; 16] = b"BARROW-PLUGIN\0\0\x01";

/// The version of this encoding; a host reads the ones it knows.
pub const FORMAT: u32 = 1;

/// The section name in ELF files.
pub const ELF_SECTION: &str = ".barrow_plugin";

/// The section name in Mach-O files (in the `__DATA` segment).
pub const MACHO_SECTION: &str = "__barrow_plug";

/// The section name in PE files (at most 8 bytes).
pub const PE_SECTION: &str = ".brwplug";

const fn str_len(s: &str) -> usize {
    4 + s.len()
}

/// The length of [`encode`]'s output for `plugin`.
pub const fn encoded_len(plugin: &Plugin) -> usize {
    let mut len = MAGIC.len() + 4 * 3;
    len += str_len(plugin.name) + str_len(plugin.version);
    len += str_len(plugin.description) + str_len(plugin.config);
    len += 4;
    let mut i = 0;
    while i < plugin.functions.len() {
        let f = &plugin.functions[i];
        len += str_len(f.name) + str_len(f.doc) + 1;
        i += 1;
    }
    len += 4;
    i = 0;
    while i < plugin.codecs.len() {
        len += str_len(plugin.codecs[i].tag);
        i += 1;
    }
    len += 4;
    i = 0;
    while i < plugin.setup.len() {
        len += str_len(plugin.setup[i].name) + str_len(plugin.setup[i].doc);
        i += 1;
    }
    len += 4;
    i = 0;
    while i < plugin.schedulers.len() {
        len += str_len(plugin.schedulers[i].name) + str_len(plugin.schedulers[i].doc);
        i += 1;
    }
    len += 4;
    i = 0;
    while i < plugin.hooks.len() {
        len += str_len(plugin.hooks[i].name) + str_len(plugin.hooks[i].doc);
        i += 1;
    }
    len
}

const fn put_bytes<const N: usize>(out: &mut [u8; N], mut at: usize, bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        out[at] = bytes[i];
        at += 1;
        i += 1;
    }
    at
}

const fn put_u32<const N: usize>(out: &mut [u8; N], at: usize, n: usize) -> usize {
    // A plugin's strings and lists are far below 4 GiB: `encoded_len` of a
    // larger one could not be a static either.
    put_bytes(out, at, &(n as u32).to_le_bytes())
}

const fn put_str<const N: usize>(out: &mut [u8; N], at: usize, s: &str) -> usize {
    let at = put_u32(out, at, s.len());
    put_bytes(out, at, s.as_bytes())
}

/// `plugin`'s description in the embedded encoding; `N` must be
/// [`encoded_len`] of it (compilation fails otherwise).
pub const fn encode<const N: usize>(plugin: &Plugin) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = put_bytes(&mut out, 0, MAGIC);
    at = put_u32(&mut out, at, FORMAT as usize);
    at = put_u32(&mut out, at, ABI_MAJOR as usize);
    at = put_u32(&mut out, at, ABI_MINOR as usize);
    at = put_str(&mut out, at, plugin.name);
    at = put_str(&mut out, at, plugin.version);
    at = put_str(&mut out, at, plugin.description);
    at = put_str(&mut out, at, plugin.config);
    at = put_u32(&mut out, at, plugin.functions.len());
    let mut i = 0;
    while i < plugin.functions.len() {
        let f = &plugin.functions[i];
        at = put_str(&mut out, at, f.name);
        at = put_str(&mut out, at, f.doc);
        at = put_bytes(&mut out, at, &[f.takes_params as u8]);
        i += 1;
    }
    at = put_u32(&mut out, at, plugin.codecs.len());
    i = 0;
    while i < plugin.codecs.len() {
        at = put_str(&mut out, at, plugin.codecs[i].tag);
        i += 1;
    }
    at = put_u32(&mut out, at, plugin.setup.len());
    i = 0;
    while i < plugin.setup.len() {
        at = put_str(&mut out, at, plugin.setup[i].name);
        at = put_str(&mut out, at, plugin.setup[i].doc);
        i += 1;
    }
    at = put_u32(&mut out, at, plugin.schedulers.len());
    i = 0;
    while i < plugin.schedulers.len() {
        at = put_str(&mut out, at, plugin.schedulers[i].name);
        at = put_str(&mut out, at, plugin.schedulers[i].doc);
        i += 1;
    }
    at = put_u32(&mut out, at, plugin.hooks.len());
    i = 0;
    while i < plugin.hooks.len() {
        at = put_str(&mut out, at, plugin.hooks[i].name);
        at = put_str(&mut out, at, plugin.hooks[i].doc);
        i += 1;
    }
    assert!(at == N, "encode::<N> needs N = encoded_len(plugin)");
    out
}

/// A named item and its documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The name, without the plugin's namespace.
    pub name: String,
    /// Its documentation.
    pub doc: String,
}

/// A function, as the description lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionItem {
    /// The name, without the plugin's namespace.
    pub name: String,
    /// Its documentation.
    pub doc: String,
    /// Whether it takes parameters.
    pub takes_params: bool,
}

/// A plugin's description, as read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The encoding's format.
    pub format: u32,
    /// The `barrow-plugin` version (major, minor) it was built against.
    pub abi: (u32, u32),
    /// Its name.
    pub name: String,
    /// Its own version.
    pub version: String,
    /// What it provides.
    pub description: String,
    /// The configuration keys it declares (YAML).
    pub config: String,
    /// Its functions.
    pub functions: Vec<FunctionItem>,
    /// The tags of its codecs.
    pub codecs: Vec<String>,
    /// Its set-up steps.
    pub setup: Vec<Item>,
    /// Its schedulers.
    pub schedulers: Vec<Item>,
    /// Its hooks on a cluster's events (none before ABI 1.2).
    pub hooks: Vec<Item>,
}

/// Why an embedded description could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError(format!("it ends inside {what}")));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let len = self.u32(what)? as usize;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError(format!("{what} is not UTF-8")))
    }

    /// A counted list of (name, doc) pairs.
    fn items(&mut self, what: &str) -> Result<Vec<Item>, DecodeError> {
        let mut items = Vec::new();
        for _ in 0..self.count(what, 8)? {
            let name = self.string(what)?;
            let doc = self.string(what)?;
            items.push(Item { name, doc });
        }
        Ok(items)
    }

    /// A count of items of at least `min_bytes` each, checked against what
    /// is left, so a damaged count cannot ask for a huge vector.
    fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize, DecodeError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_bytes) > self.bytes.len() {
            return Err(DecodeError(format!(
                "it lists {n} {what}, more than its bytes can hold"
            )));
        }
        Ok(n)
    }
}

impl Metadata {
    /// Reads a description written by [`encode`] (trailing padding, as a
    /// section may have, is ignored).
    ///
    /// # Errors
    /// A [`DecodeError`] saying what is wrong: another magic, a format
    /// this crate does not read, a length past the end.
    pub fn decode(bytes: &[u8]) -> Result<Metadata, DecodeError> {
        let mut r = Reader { bytes };
        if r.take(MAGIC.len(), "the magic")? != MAGIC {
            return Err(DecodeError("it does not start with Barrow's magic".into()));
        }
        let format = r.u32("the format")?;
        if format != FORMAT {
            return Err(DecodeError(format!(
                "it is in format {format}; this program reads format {FORMAT}"
            )));
        }
        let abi = (r.u32("the ABI version")?, r.u32("the ABI version")?);
        let name = r.string("the name")?;
        let version = r.string("the version")?;
        let description = r.string("the description")?;
        let config = r.string("the configuration keys")?;
        let mut functions = Vec::new();
        for _ in 0..r.count("functions", 9)? {
            let name = r.string("a function's name")?;
            let doc = r.string("a function's doc")?;
            let takes_params = r.take(1, "a function")?[0] != 0;
            functions.push(FunctionItem {
                name,
                doc,
                takes_params,
            });
        }
        let mut codecs = Vec::new();
        for _ in 0..r.count("codecs", 4)? {
            codecs.push(r.string("a codec's tag")?);
        }
        let setup = r.items("set-up steps")?;
        let schedulers = r.items("schedulers")?;
        // Plugins built before 1.2 end here.
        let hooks = if abi.1 >= 2 {
            r.items("hooks")?
        } else {
            Vec::new()
        };
        Ok(Metadata {
            format,
            abi,
            name,
            version,
            description,
            config,
            functions,
            codecs,
            setup,
            schedulers,
            hooks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Function, Scheduler, Setup};

    fn one(_: &crate::Call<'_>, out: &mut crate::Out<'_, '_>) -> crate::Result<()> {
        out.f64(1.0);
        Ok(())
    }

    static FULL: Plugin = Plugin {
        name: "full",
        version: "2.3.4",
        description: "Everything once. With ünïcode.",
        config: "level:\n  type: integer\n  default: 1\n",
        functions: &[
            Function::new("one", "Gives one.", one),
            Function::with_params("scaled", "Scales.", one),
        ],
        codecs: &[],
        setup: &[Setup {
            name: "install",
            doc: "Installs.",
            run: |_| {
                Ok(crate::Outcome {
                    message: String::new(),
                    restart: false,
                })
            },
        }],
        schedulers: &[Scheduler {
            name: "lifo",
            doc: "Last in.",
            run: |_, _| Ok(()),
        }],
        hooks: &[crate::Hook {
            name: "audit",
            doc: "Keeps events.",
            on: |_| Ok(()),
        }],
    };
    const LEN: usize = encoded_len(&FULL);
    static BYTES: [u8; LEN] = encode::<LEN>(&FULL);

    #[test]
    fn a_description_reads_back_as_written() {
        let meta = Metadata::decode(&BYTES).unwrap();
        assert_eq!(meta.abi, (ABI_MAJOR, ABI_MINOR));
        assert_eq!(
            (meta.name.as_str(), meta.version.as_str()),
            ("full", "2.3.4")
        );
        assert_eq!(meta.description, FULL.description);
        assert_eq!(meta.config, FULL.config);
        assert_eq!(meta.functions.len(), 2);
        assert!(!meta.functions[0].takes_params && meta.functions[1].takes_params);
        assert_eq!(meta.setup[0].name, "install");
        assert_eq!(meta.hooks[0].name, "audit");
        assert_eq!(meta.hooks[0].doc, "Keeps events.");
        assert_eq!(meta.schedulers[0].doc, "Last in.");
        // Padding after it, as a section may carry, is ignored.
        let mut padded = BYTES.to_vec();
        padded.extend([0; 16]);
        assert_eq!(Metadata::decode(&padded).unwrap(), meta);
    }

    #[test]
    fn damaged_bytes_are_an_error_never_a_panic() {
        for cut in 0..BYTES.len() {
            assert!(Metadata::decode(&BYTES[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge_count = BYTES.to_vec();
        // The function count follows the four strings.
        let at = MAGIC.len()
            + 12
            + [FULL.name, FULL.version, FULL.description, FULL.config]
                .iter()
                .map(|s| 4 + s.len())
                .sum::<usize>();
        huge_count[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = Metadata::decode(&huge_count).unwrap_err();
        assert!(
            err.to_string().contains("more than its bytes can hold"),
            "{err}"
        );
        let mut other = BYTES.to_vec();
        other[0] = b'X';
        assert!(Metadata::decode(&other).is_err());
    }
}
