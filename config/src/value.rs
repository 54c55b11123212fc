//! Raw values as sources give them, and where each came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::units::{ByteSize, Duration};

/// A value as a layer gave it, before it is checked against its key's
/// declared type (see [`Setting`](crate::Setting) for the checked form).
///
/// Files and environment variables give YAML values; code gives anything
/// that converts into one:
///
/// ```
/// use barrow_config::Value;
///
/// assert_eq!(Value::from(4), Value::Integer(4));
/// assert_eq!(Value::from("64MiB"), Value::String("64MiB".into()));
/// assert_eq!(Value::from(vec!["a", "b"]).to_string(), r#"["a", "b"]"#);
/// assert_eq!(Value::from(None::<&str>), Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// YAML's `null` (or `~`, or nothing): the key is unset.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction or an exponent.
    Float(f64),
    /// Text.
    String(String),
    /// A sequence (`[a, b]`).
    List(Vec<Value>),
    /// A mapping where a single value was expected.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The value as plain text: a string without quotes, anything else as
    /// [`Display`](fmt::Display) writes it.
    pub fn to_plain_string(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// YAML flow style; strings always in double quotes, so that error messages
/// show exactly where a value starts and ends.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

macro_rules! value_from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(value: $t) -> Value {
                Value::Integer(i64::from(value))
            }
        }
    )*};
}
value_from_integer!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    /// Values past `i64::MAX` become floats.
    fn from(value: u64) -> Value {
        i64::try_from(value).map_or(Value::Float(value as f64), Value::Integer)
    }
}

impl From<usize> for Value {
    /// Values past `i64::MAX` become floats.
    fn from(value: usize) -> Value {
        i64::try_from(value).map_or(Value::Float(value as f64), Value::Integer)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Value {
        Value::Float(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::String(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::String(value)
    }
}

impl From<&Path> for Value {
    fn from(value: &Path) -> Value {
        Value::String(value.to_string_lossy().into_owned())
    }
}

impl From<PathBuf> for Value {
    fn from(value: PathBuf) -> Value {
        Value::from(value.as_path())
    }
}

impl From<ByteSize> for Value {
    fn from(value: ByteSize) -> Value {
        Value::String(value.to_string())
    }
}

impl From<Duration> for Value {
    fn from(value: Duration) -> Value {
        Value::String(value.to_string())
    }
}

impl From<std::time::Duration> for Value {
    fn from(value: std::time::Duration) -> Value {
        Value::from(Duration::from(value))
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(values: Vec<T>) -> Value {
        Value::List(values.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is [`Value::Null`]: it unsets the key.
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// The layers of the configuration, lowest precedence first: a layer
/// overrides every layer before it, key by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// The embedded declarations (and those of registered namespaces).
    Defaults,
    /// `/etc/barrow/*.yaml`.
    System,
    /// `$XDG_CONFIG_HOME/barrow/*.yaml`, else `~/.config/barrow/*.yaml`.
    User,
    /// Files and folders named by `BARROW_CONFIG`.
    ConfigPath,
    /// `BARROW_*` environment variables.
    Environment,
    /// Overrides set in code for the whole process.
    Global,
    /// Overrides set in code for one thread, until their guard drops.
    Scoped,
    /// Options passed to one call.
    Call,
}

impl Layer {
    /// A short name: `defaults`, `system`, `user`, `BARROW_CONFIG`,
    /// `environment`, `global`, `scoped`, `call`.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Defaults => "defaults",
            Layer::System => "system",
            Layer::User => "user",
            Layer::ConfigPath => "BARROW_CONFIG",
            Layer::Environment => "environment",
            Layer::Global => "global",
            Layer::Scoped => "scoped",
            Layer::Call => "call",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a value came from. Its `Display` is what errors and
/// `barrow config list` show: `built-in defaults`, a file's path, an
/// environment variable's name (`BARROW_NUM_WORKERS`), `global override`,
/// `scoped override` or `call option`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// The built-in defaults, or those of a registered namespace.
    Defaults,
    /// A configuration file.
    File {
        /// The file's layer: [`Layer::System`], [`Layer::User`] or
        /// [`Layer::ConfigPath`].
        layer: Layer,
        /// The file's path.
        path: PathBuf,
    },
    /// An environment variable, by name.
    Env(String),
    /// A global override set in code.
    Global,
    /// A scoped override set in code.
    Scoped,
    /// An option passed to one call.
    Call,
}

impl Origin {
    /// The layer this origin belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            Origin::Defaults => Layer::Defaults,
            Origin::File { layer, .. } => *layer,
            Origin::Env(_) => Layer::Environment,
            Origin::Global => Layer::Global,
            Origin::Scoped => Layer::Scoped,
            Origin::Call => Layer::Call,
        }
    }

    /// The file's path, for a value from a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Origin::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The variable's name, for a value from the environment.
    pub fn env_var(&self) -> Option<&str> {
        match self {
            Origin::Env(name) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Defaults => f.write_str("built-in defaults"),
            Origin::File { path, .. } => write!(f, "{}", path.display()),
            Origin::Env(name) => f.write_str(name),
            Origin::Global => f.write_str("global override"),
            Origin::Scoped => f.write_str("scoped override"),
            Origin::Call => f.write_str("call option"),
        }
    }
}

/// One key's value in one layer, with its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub(crate) value: Value,
    pub(crate) origin: Origin,
}

impl Entry {
    /// The value as the layer gave it.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Where the value came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}
