//! Key declarations: the embedded defaults file and the namespaces crates
//! and plugins register at run time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::error::{Error, ErrorKind, Result};
use crate::key::{canonical_key, is_well_formed, likely_typo, suggest};
use crate::setting::Setting;
use crate::units::{ByteSize, Duration};
use crate::value::{Origin, Value};

/// The embedded declarations of Barrow's own keys: documentation, types and
/// built-in defaults (`config/src/defaults.yaml`).
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// The type a key is declared with (`type:` in a declaration).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum KeyType {
    /// `string`: any text (numbers and booleans are taken as their text).
    String,
    /// `integer`, with an optional inclusive range (`min:`, `max:`).
    Integer {
        /// The smallest accepted value.
        min: Option<i64>,
        /// The largest accepted value.
        max: Option<i64>,
    },
    /// `float`, with an optional inclusive range (`min:`, `max:`).
    Float {
        /// The smallest accepted value.
        min: Option<f64>,
        /// The largest accepted value.
        max: Option<f64>,
    },
    /// `bool`: `true` or `false`.
    Bool,
    /// `enum`: one of the listed values (`values:`), matched ignoring case.
    Enum(Vec<String>),
    /// `list`: a list of strings; a single string is a list of one.
    List,
    /// `path`: a file system path.
    Path,
    /// `path-list`: a list of paths; a single path is a list of one.
    PathList,
    /// `byte-size`: a [`ByteSize`] such as `64MiB`, or a number of bytes.
    ByteSize,
    /// `duration`: a [`Duration`] such as `30s`, or a number of seconds.
    Duration,
}

impl KeyType {
    /// The name used in declarations: `string`, `integer`, `float`, `bool`,
    /// `enum`, `list`, `path`, `path-list`, `byte-size` or `duration`.
    pub fn name(&self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Integer { .. } => "integer",
            KeyType::Float { .. } => "float",
            KeyType::Bool => "bool",
            KeyType::Enum(_) => "enum",
            KeyType::List => "list",
            KeyType::Path => "path",
            KeyType::PathList => "path-list",
            KeyType::ByteSize => "byte-size",
            KeyType::Duration => "duration",
        }
    }

    /// What a value must look like, as error messages say it
    /// (`a byte size such as "64MiB"`).
    pub fn expected(&self) -> String {
        fn range<T: std::fmt::Display>(what: &str, min: &Option<T>, max: &Option<T>) -> String {
            match (min, max) {
                (Some(min), Some(max)) => format!("{what} between {min} and {max}"),
                (Some(min), None) => format!("{what} >= {min}"),
                (None, Some(max)) => format!("{what} <= {max}"),
                (None, None) => what.to_owned(),
            }
        }
        match self {
            KeyType::String => "a string".to_owned(),
            KeyType::Integer { min, max } => range("an integer", min, max),
            KeyType::Float { min, max } => range("a number", min, max),
            KeyType::Bool => "true or false".to_owned(),
            KeyType::Enum(values) => format!("one of: {}", values.join(", ")),
            KeyType::List => "a list of strings such as [a, b]".to_owned(),
            KeyType::Path => "a path".to_owned(),
            KeyType::PathList => "a list of paths such as [/opt/barrow/plugins]".to_owned(),
            KeyType::ByteSize => "a byte size such as \"64MiB\"".to_owned(),
            KeyType::Duration => "a duration such as \"30s\"".to_owned(),
        }
    }

    /// The checked form of a non-null `value`, or `None` if it does not fit.
    pub(crate) fn check(&self, value: &Value) -> Option<Setting> {
        match self {
            KeyType::String => scalar_text(value).map(Setting::String),
            KeyType::Integer { min, max } => {
                let i = match value {
                    Value::Integer(i) => *i,
                    Value::String(s) => s.trim().parse().ok()?,
                    _ => return None,
                };
                in_range(i, min, max).then_some(Setting::Integer(i))
            }
            KeyType::Float { min, max } => {
                let x = match value {
                    Value::Float(x) => *x,
                    Value::Integer(i) => *i as f64,
                    Value::String(s) => s.trim().parse().ok()?,
                    _ => return None,
                };
                (x.is_finite() && in_range(x, min, max)).then_some(Setting::Float(x))
            }
            KeyType::Bool => match value {
                Value::Bool(b) => Some(Setting::Bool(*b)),
                Value::String(s) if s.trim().eq_ignore_ascii_case("true") => {
                    Some(Setting::Bool(true))
                }
                Value::String(s) if s.trim().eq_ignore_ascii_case("false") => {
                    Some(Setting::Bool(false))
                }
                _ => None,
            },
            KeyType::Enum(values) => {
                let text = scalar_text(value)?;
                values
                    .iter()
                    .find(|v| v.eq_ignore_ascii_case(text.trim()))
                    .map(|v| Setting::Enum(v.clone()))
            }
            KeyType::List => list_items(value).map(Setting::List),
            KeyType::PathList => list_items(value)
                .map(|items| Setting::PathList(items.into_iter().map(PathBuf::from).collect())),
            KeyType::Path => match value {
                Value::String(s) if !s.is_empty() => Some(Setting::Path(PathBuf::from(s))),
                _ => None,
            },
            KeyType::ByteSize => match value {
                Value::Integer(i) => u64::try_from(*i)
                    .ok()
                    .map(|b| Setting::ByteSize(ByteSize::b(b))),
                Value::Float(x) => format!("{x}").parse().ok().map(Setting::ByteSize),
                Value::String(s) => s.parse().ok().map(Setting::ByteSize),
                _ => None,
            },
            KeyType::Duration => match value {
                Value::Integer(i) => u64::try_from(*i)
                    .ok()
                    .map(|s| Setting::Duration(Duration::from_secs(s))),
                Value::Float(x) => std::time::Duration::try_from_secs_f64(*x)
                    .ok()
                    .map(|d| Setting::Duration(d.into())),
                Value::String(s) => s.parse().ok().map(Setting::Duration),
                _ => None,
            },
        }
    }
}

fn in_range<T: PartialOrd>(x: T, min: &Option<T>, max: &Option<T>) -> bool {
    min.as_ref().is_none_or(|min| x >= *min) && max.as_ref().is_none_or(|max| x <= *max)
}

/// A scalar as text (`4` → `"4"`); `None` for null, lists and maps.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(_) | Value::Float(_) | Value::Bool(_) => Some(value.to_string()),
        Value::Null | Value::List(_) | Value::Map(_) => None,
    }
}

/// A list of scalars as texts; a single scalar is a list of one.
fn list_items(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::List(items) => items.iter().map(scalar_text).collect(),
        other => scalar_text(other).map(|s| vec![s]),
    }
}

/// One declared key: its documentation, type and default.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    key: String,
    doc: String,
    key_type: KeyType,
    default: Value,
    namespace: Option<String>,
}

impl Declaration {
    /// The canonical key (`array.chunk-size`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What the key does.
    pub fn doc(&self) -> &str {
        &self.doc
    }

    /// The declared type.
    pub fn key_type(&self) -> &KeyType {
        &self.key_type
    }

    /// The default value; [`Value::Null`] for a key that is unset by default.
    pub fn default_value(&self) -> &Value {
        &self.default
    }

    /// Whether the key may be unset (its default is null): its getter then
    /// returns `None`.
    pub fn is_optional(&self) -> bool {
        self.default == Value::Null
    }

    /// The namespace that registered this key, or `None` for a built-in key.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Checks `value` (from `origin`) against the declared type.
    ///
    /// Null unsets an optional key and empties a list; for any other key it
    /// is a bad value.
    pub fn check(&self, value: &Value, origin: &Origin) -> Result<Setting> {
        let checked = match (value, &self.key_type) {
            (Value::Null, KeyType::List) => Some(Setting::List(Vec::new())),
            (Value::Null, KeyType::PathList) => Some(Setting::PathList(Vec::new())),
            (Value::Null, _) => self.is_optional().then_some(Setting::Unset),
            (value, key_type) => key_type.check(value),
        };
        checked.ok_or_else(|| Error::bad_value(&self.key, value, origin, &self.key_type.expected()))
    }
}

/// Every declared key: Barrow's own plus those of registered namespaces.
/// The source of the listing, of validation and of typed getters.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    keys: BTreeMap<String, Declaration>,
    namespaces: BTreeMap<String, String>,
}

fn registry() -> &'static RwLock<Arc<Schema>> {
    static REGISTRY: OnceLock<RwLock<Arc<Schema>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let schema = Schema::builtin().unwrap_or_else(|err| {
            // Only an edit to defaults.yaml that its own test did not catch.
            tracing::error!("barrow-config: the embedded defaults are invalid: {err}");
            Schema::default()
        });
        RwLock::new(Arc::new(schema))
    })
}

impl Schema {
    /// Barrow's own declarations, from [`DEFAULTS_YAML`].
    pub fn builtin() -> Result<Schema> {
        let mut schema = Schema::default();
        for declaration in parse_declarations(DEFAULTS_YAML, None)? {
            schema.keys.insert(declaration.key.clone(), declaration);
        }
        Ok(schema)
    }

    /// The process-wide declarations: the built-in ones and every namespace
    /// registered so far.
    pub fn current() -> Arc<Schema> {
        registry()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The declaration of `key` (in any spelling: `_` or `-`).
    pub fn get(&self, key: &str) -> Option<&Declaration> {
        self.keys.get(&canonical_key(key))
    }

    /// Every declaration, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = &Declaration> {
        self.keys.values()
    }

    /// The number of declared keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is declared.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The registered namespaces, sorted.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespaces.keys().map(String::as_str)
    }

    /// Whether `key` (canonical) holds declared keys: `array` holds
    /// `array.chunk-size`.
    pub fn is_namespace(&self, key: &str) -> bool {
        let inside = format!("{}.", canonical_key(key));
        self.keys
            .range(inside.clone()..)
            .next()
            .is_some_and(|(declared, _)| declared.starts_with(&inside))
    }

    /// The declared key closest to the unknown `key`, if any is close.
    pub fn suggest(&self, key: &str) -> Option<&str> {
        suggest(&canonical_key(key), self.keys.keys().map(String::as_str))
    }

    /// The declared key that `key` (undeclared) is most likely a typo of:
    /// stricter than [`suggest`](Self::suggest), for code that asks for a
    /// key nobody sets.
    pub fn likely_typo(&self, key: &str) -> Option<&str> {
        likely_typo(&canonical_key(key), self.keys.keys().map(String::as_str))
    }

    /// The declaration of `key`, or an unknown-key error with a suggestion.
    pub(crate) fn require(&self, key: &str, origin: Option<&Origin>) -> Result<&Declaration> {
        let canonical = canonical_key(key);
        self.keys
            .get(&canonical)
            .ok_or_else(|| Error::unknown_key(&canonical, origin, self.suggest(&canonical)))
    }

    /// This schema plus the keys of `namespace`.
    fn with_namespace(&self, namespace: &str, declarations: &str) -> Result<Schema> {
        let mut schema = self.clone();
        for declaration in parse_declarations(declarations, Some(namespace))? {
            if let Some(existing) = schema.keys.get(&declaration.key) {
                let owner = existing.namespace.as_deref().map_or_else(
                    || "Barrow itself".to_owned(),
                    |ns| format!("namespace \"{ns}\""),
                );
                return Err(Error::new(
                    ErrorKind::Declaration,
                    format!(
                        "namespace \"{namespace}\" declares \"{}\", which {owner} already declares",
                        declaration.key
                    ),
                ));
            }
            schema.keys.insert(declaration.key.clone(), declaration);
        }
        schema
            .namespaces
            .insert(namespace.to_owned(), declarations.to_owned());
        Ok(schema)
    }
}

/// Declares the keys of `namespace` for the whole process, with their
/// documentation, types and defaults (Dask's `update_defaults`).
///
/// `declarations` has the format of the built-in [`DEFAULTS_YAML`], with keys
/// relative to the namespace. Registering the same declarations again is a
/// no-op; a different declaration for a namespace already registered, or a
/// key that is already declared, is an [`ErrorKind::Declaration`] error.
///
/// ```
/// use barrow_config::{ByteSize, Sandbox};
///
/// barrow_config::register_namespace(
///     "example-cache",
///     r#"
///     size:
///       doc: Bytes the example cache may hold.
///       type: byte-size
///       default: 1GiB
///     "#,
/// )?;
/// let mut sandbox = Sandbox::new()?;
/// sandbox.set_env("BARROW_EXAMPLE_CACHE__SIZE", "2GiB");
/// let snapshot = sandbox.config().snapshot()?;
/// assert_eq!(snapshot.get::<ByteSize>("example-cache.size")?, Some(ByteSize::gib(2)));
/// # Ok::<(), barrow_config::Error>(())
/// ```
pub fn register_namespace(namespace: &str, declarations: &str) -> Result<()> {
    let namespace = canonical_key(namespace);
    if !is_well_formed(&namespace) {
        return Err(Error::new(
            ErrorKind::Declaration,
            format!("invalid namespace name {namespace:?}"),
        ));
    }
    let mut current = registry().write().unwrap_or_else(PoisonError::into_inner);
    match current.namespaces.get(&namespace) {
        Some(existing) if existing == declarations => return Ok(()),
        Some(_) => {
            return Err(Error::new(
                ErrorKind::Declaration,
                format!("namespace \"{namespace}\" is already registered with other declarations"),
            ));
        }
        None => {}
    }
    *current = Arc::new(current.with_namespace(&namespace, declarations)?);
    Ok(())
}

/// Parses a declarations file; keys are prefixed by `namespace`.
fn parse_declarations(yaml: &str, namespace: Option<&str>) -> Result<Vec<Declaration>> {
    let context = match namespace {
        Some(ns) => format!("the declarations of namespace \"{ns}\""),
        None => "the built-in declarations".to_owned(),
    };
    let invalid = |why: String| {
        Error::new(
            ErrorKind::Declaration,
            format!("{context} are not valid: {why}"),
        )
    };
    let table = match crate::yaml::parse(yaml) {
        Ok(None) => BTreeMap::new(),
        Ok(Some(node)) => match node.into_value() {
            Value::Map(table) => table,
            Value::Null => BTreeMap::new(),
            other => return Err(invalid(format!("expected a mapping of keys, not {other}"))),
        },
        Err(crate::yaml::Failure::Syntax { at, what }) => {
            let at = at.map(|at| format!(" at {at}")).unwrap_or_default();
            return Err(invalid(format!("{what}{at}")));
        }
        Err(crate::yaml::Failure::TooLarge { what }) => return Err(invalid(what)),
    };
    let mut out = Vec::new();
    walk(namespace.unwrap_or(""), table, namespace, &mut out).map_err(invalid)?;
    Ok(out)
}

fn walk(
    prefix: &str,
    table: BTreeMap<String, Value>,
    namespace: Option<&str>,
    out: &mut Vec<Declaration>,
) -> std::result::Result<(), String> {
    for (name, value) in table {
        let name = canonical_key(&name);
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Map(fields) if matches!(fields.get("type"), Some(Value::String(_))) => {
                out.push(declaration(key, fields, namespace)?);
            }
            Value::Map(children) => walk(&key, children, namespace, out)?,
            _ => {
                return Err(format!(
                    "\"{key}\" is neither a declaration (a mapping with doc, type and \
                     default) nor a namespace of declarations"
                ));
            }
        }
    }
    Ok(())
}

fn declaration(
    key: String,
    mut fields: BTreeMap<String, Value>,
    namespace: Option<&str>,
) -> std::result::Result<Declaration, String> {
    let mut take = |field: &str| fields.remove(field);
    let doc = match take("doc") {
        Some(Value::String(doc)) if !doc.trim().is_empty() => doc.trim().to_owned(),
        _ => return Err(format!("\"{key}\" needs a `doc:` text saying what it does")),
    };
    let type_name = take("type")
        .map(|v| v.to_plain_string())
        .unwrap_or_default();
    let default = take("default").unwrap_or(Value::Null);
    let values = take("values");
    let min = take("min");
    let max = take("max");
    let number = |field: &str, v: Option<Value>| match v {
        None => Ok(None),
        Some(Value::Integer(i)) => Ok(Some(i as f64)),
        Some(Value::Float(x)) => Ok(Some(x)),
        Some(other) => Err(format!(
            "\"{key}\": `{field}:` must be a number, not {other}"
        )),
    };
    let (min, max) = (number("min", min)?, number("max", max)?);
    let key_type = match type_name.as_str() {
        "string" => KeyType::String,
        "integer" => KeyType::Integer {
            min: min.map(|x| x as i64),
            max: max.map(|x| x as i64),
        },
        "float" => KeyType::Float { min, max },
        "bool" => KeyType::Bool,
        "enum" => match values {
            Some(Value::List(items)) if !items.is_empty() => {
                KeyType::Enum(items.iter().map(Value::to_plain_string).collect())
            }
            _ => return Err(format!("\"{key}\" is an enum: list its `values:`")),
        },
        "list" => KeyType::List,
        "path" => KeyType::Path,
        "path-list" => KeyType::PathList,
        "byte-size" => KeyType::ByteSize,
        "duration" => KeyType::Duration,
        other => {
            return Err(format!(
                "\"{key}\" has unknown type {other:?}; use string, integer, float, bool, \
                 enum, list, path, path-list, byte-size or duration"
            ));
        }
    };
    if let Some(field) = fields.keys().next() {
        return Err(format!(
            "\"{key}\" has unknown field `{field}:`; a declaration has doc, type, \
             default, values (enum), min and max"
        ));
    }
    let declaration = Declaration {
        key,
        doc,
        key_type,
        default,
        namespace: namespace.map(str::to_owned),
    };
    declaration
        .check(&declaration.default, &Origin::Defaults)
        .map_err(|e| format!("bad default: {e}"))?;
    Ok(declaration)
}
