//! The registries of functions, codecs and schedulers, on one instance with
//! one process-wide default.

use std::sync::OnceLock;

use crate::codec::CodecRegistry;
use crate::function::FunctionRegistry;
use crate::scheduler::SchedulerRegistry;

/// Functions, codecs and schedulers by name.
///
/// [`Registry::global`] is the process-wide default that computations use
/// unless told otherwise; it starts with every `#[barrow::task]` function and
/// every scheduler crate linked into the program. Plugins and built-in crates
/// register into it. Tests can build their own with [`Registry::new`].
///
/// ```
/// use barrow_core::{Func, Registry};
///
/// let registry = Registry::new();
/// registry.functions().register(Func::new("double", |x: &f64| 2.0 * x))?;
/// assert!(registry.functions().contains("double"));
/// assert!(!Registry::global().functions().contains("double"));
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Registry {
    functions: FunctionRegistry,
    codecs: CodecRegistry,
    schedulers: SchedulerRegistry,
}

impl Registry {
    /// A registry with the built-in codecs and nothing else.
    pub fn new() -> Registry {
        Registry {
            functions: FunctionRegistry::new(),
            codecs: CodecRegistry::with_builtins(),
            schedulers: SchedulerRegistry::new(),
        }
    }

    /// A registry with the built-in codecs and everything registered at
    /// compile time: `#[barrow::task]` functions and linked scheduler crates.
    pub fn with_static() -> Registry {
        let registry = Registry::new();
        registry.functions.register_static();
        registry.schedulers.register_static();
        registry
    }

    /// The process-wide registry.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::with_static)
    }

    /// The functions.
    pub fn functions(&self) -> &FunctionRegistry {
        &self.functions
    }

    /// The codecs.
    pub fn codecs(&self) -> &CodecRegistry {
        &self.codecs
    }

    /// The schedulers.
    pub fn schedulers(&self) -> &SchedulerRegistry {
        &self.schedulers
    }
}
