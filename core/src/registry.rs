//! The registries of functions, codecs, schedulers and store factories, on
//! one instance with one process-wide default.

use std::sync::{Arc, OnceLock};

use crate::codec::CodecRegistry;
use crate::function::FunctionRegistry;
use crate::scheduler::SchedulerRegistry;
use crate::store::StoreRegistry;

/// Functions, codecs, schedulers and store factories by name.
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
    codecs: Arc<CodecRegistry>,
    schedulers: SchedulerRegistry,
    stores: StoreRegistry,
}

impl Registry {
    /// A registry with the built-in codecs and nothing else.
    pub fn new() -> Registry {
        Registry {
            functions: FunctionRegistry::new(),
            codecs: Arc::new(CodecRegistry::with_builtins()),
            schedulers: SchedulerRegistry::new(),
            stores: StoreRegistry::new(),
        }
    }

    /// A registry with the built-in codecs and everything registered at
    /// compile time: `#[barrow::task]` functions, and the schedulers and
    /// store factories of linked crates.
    pub fn with_static() -> Registry {
        let registry = Registry::new();
        registry.functions.register_static();
        registry.codecs.register_static();
        registry.schedulers.register_static();
        registry.stores.register_static();
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

    /// The codecs, shared: for what outlives a borrow of the registry (a
    /// store that spills values, a connection to a worker).
    pub fn shared_codecs(&self) -> Arc<CodecRegistry> {
        self.codecs.clone()
    }

    /// The schedulers.
    pub fn schedulers(&self) -> &SchedulerRegistry {
        &self.schedulers
    }

    /// The store factories, asked for a store when a run starts without one
    /// of its own.
    pub fn stores(&self) -> &StoreRegistry {
        &self.stores
    }
}
