//! Checked values: what a key's declared type makes of a raw value, and the
//! Rust types a getter can ask for.

use std::fmt;
use std::path::PathBuf;

use crate::schema::KeyType;
use crate::units::{ByteSize, Duration};

/// A value checked against its key's declared type: the form typed getters
/// read from. `Display` writes the canonical form (`128MiB`, `[a, b]`), and
/// nothing for an unset key.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Setting {
    /// The key is unset (its value is `null`).
    Unset,
    /// A `string` key.
    String(String),
    /// An `integer` key.
    Integer(i64),
    /// A `float` key.
    Float(f64),
    /// A `bool` key.
    Bool(bool),
    /// An `enum` key: one of its declared values, spelled as declared.
    Enum(String),
    /// A `list` key.
    List(Vec<String>),
    /// A `path` key.
    Path(PathBuf),
    /// A `path-list` key.
    PathList(Vec<PathBuf>),
    /// A `byte-size` key.
    ByteSize(ByteSize),
    /// A `duration` key.
    Duration(Duration),
}

impl Setting {
    /// Whether the key is unset.
    pub fn is_unset(&self) -> bool {
        matches!(self, Setting::Unset)
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T>(
            f: &mut fmt::Formatter<'_>,
            items: &[T],
            show: impl Fn(&T) -> String,
        ) -> fmt::Result {
            let shown: Vec<String> = items.iter().map(show).collect();
            write!(f, "[{}]", shown.join(", "))
        }
        match self {
            Setting::Unset => Ok(()),
            Setting::String(s) | Setting::Enum(s) => f.write_str(s),
            Setting::Integer(i) => write!(f, "{i}"),
            Setting::Float(x) => write!(f, "{x:?}"),
            Setting::Bool(b) => write!(f, "{b}"),
            Setting::List(items) => list(f, items, Clone::clone),
            Setting::Path(path) => write!(f, "{}", path.display()),
            Setting::PathList(items) => list(f, items, |p| p.display().to_string()),
            Setting::ByteSize(size) => write!(f, "{size}"),
            Setting::Duration(duration) => write!(f, "{duration}"),
        }
    }
}

/// A Rust type a typed getter ([`Snapshot::get`](crate::Snapshot::get)) can
/// read a key as. A getter asking for a type the key's declaration cannot
/// give fails with [`ErrorKind::WrongType`](crate::ErrorKind::WrongType).
///
/// | declared type | Rust types |
/// |---|---|
/// | `string`, `enum` | `String` |
/// | `integer` | `i64`, `u64`, `i32`, `u32`, `usize` (range-checked) |
/// | `float` | `f64` (also from `integer`) |
/// | `bool` | `bool` |
/// | `list` | `Vec<String>` |
/// | `path`, `path-list` | `PathBuf`, `Vec<PathBuf>` |
/// | `byte-size` | [`ByteSize`] |
/// | `duration` | [`Duration`], `std::time::Duration` |
/// | any | [`Setting`] |
///
/// A key nobody declared is read as if it were declared with the type of
/// [`undeclared_type`](FromSetting::undeclared_type): `get::<ByteSize>`
/// parses `"64MiB"`, `get::<u64>` takes `4` or `"4"`, `get::<String>`
/// takes any single value as text. [`Setting`] itself takes the value as
/// it is (a number, a boolean, text or a list).
pub trait FromSetting: Sized {
    /// The value of `setting`, or `None` if this type cannot hold it. Never
    /// called for an unset key.
    fn from_setting(setting: &Setting) -> Option<Self>;

    /// The declared type a key nobody declared is read as, when read as
    /// this type; `None` takes the value as its layer gave it.
    fn undeclared_type() -> Option<KeyType> {
        None
    }
}

impl FromSetting for Setting {
    fn from_setting(setting: &Setting) -> Option<Self> {
        Some(setting.clone())
    }
}

impl FromSetting for String {
    fn from_setting(setting: &Setting) -> Option<Self> {
        match setting {
            Setting::String(s) | Setting::Enum(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::String)
    }
}

macro_rules! integer_from_setting {
    ($($t:ty),*) => {$(
        impl FromSetting for $t {
            fn from_setting(setting: &Setting) -> Option<Self> {
                match setting {
                    Setting::Integer(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }

            fn undeclared_type() -> Option<KeyType> {
                Some(KeyType::Integer { min: None, max: None })
            }
        }
    )*};
}
integer_from_setting!(i64, u64, i32, u32, usize);

impl FromSetting for f64 {
    fn from_setting(setting: &Setting) -> Option<Self> {
        match setting {
            Setting::Float(x) => Some(*x),
            Setting::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::Float {
            min: None,
            max: None,
        })
    }
}

impl FromSetting for bool {
    fn from_setting(setting: &Setting) -> Option<Self> {
        match setting {
            Setting::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::Bool)
    }
}

impl FromSetting for Vec<String> {
    fn from_setting(setting: &Setting) -> Option<Self> {
        match setting {
            Setting::List(items) => Some(items.clone()),
            _ => None,
        }
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::List)
    }
}

impl FromSetting for PathBuf {
    fn from_setting(setting: &Setting) -> Option<Self> {
        match setting {
            Setting::Path(path) => Some(path.clone()),
            _ => None,
        }
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::Path)
    }
}

impl FromSetting for Vec<PathBuf> {
    fn from_setting(setting: &Setting) -> Option<Self> {
        match setting {
            Setting::PathList(items) => Some(items.clone()),
            Setting::Path(path) => Some(vec![path.clone()]),
            _ => None,
        }
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::PathList)
    }
}

impl FromSetting for ByteSize {
    fn from_setting(setting: &Setting) -> Option<Self> {
        match setting {
            Setting::ByteSize(size) => Some(*size),
            _ => None,
        }
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::ByteSize)
    }
}

impl FromSetting for Duration {
    fn from_setting(setting: &Setting) -> Option<Self> {
        match setting {
            Setting::Duration(duration) => Some(*duration),
            _ => None,
        }
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::Duration)
    }
}

impl FromSetting for std::time::Duration {
    fn from_setting(setting: &Setting) -> Option<Self> {
        Duration::from_setting(setting).map(Duration::as_std)
    }

    fn undeclared_type() -> Option<KeyType> {
        Some(KeyType::Duration)
    }
}
