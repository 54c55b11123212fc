//! The glue [`export_plugin!`](crate::export_plugin) expands to: one
//! `extern "C"` entry point per table, each running the author's code under
//! `catch_unwind`, and the library header the host looks up.

use std::sync::OnceLock;

use abi_stable::library::{CheckTypeLayout, LibHeader, RootModuleResult};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::{RNone, ROption, RResult, RSlice, RSome, RStr};

use crate::abi::{
    ABI_MAJOR, ABI_MINOR, AbiArg, AbiError, AbiObject, AbiSink, AbiVersion, Capability, CodecDecl,
    CodecsTable, FunctionDecl, FunctionsTable, PluginInfo, PluginRoot, PluginRootRef, SetupDecl,
    SetupEnv, SetupOutcome, SetupTable, capability as names,
};
use crate::author::{Call, Error, Out};
use crate::object::guard;
use crate::plugin::{Plugin, SetupContext};

/// The symbol abi_stable looks up in a library; the export macro names it
/// literally (attributes take no constants), a test checks they agree.
pub const ROOT_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// A plugin's capability tables, made on first request.
#[derive(Debug)]
pub struct Tables {
    functions: OnceLock<FunctionsTable>,
    codecs: OnceLock<CodecsTable>,
    setup: OnceLock<SetupTable>,
}

impl Tables {
    /// No table made yet.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Tables {
        Tables {
            functions: OnceLock::new(),
            codecs: OnceLock::new(),
            setup: OnceLock::new(),
        }
    }
}

/// The plugin's entry points, generated for its `static`.
#[derive(Debug, Clone, Copy)]
pub struct Entries {
    /// [`crate::abi::CallFn`].
    pub call: crate::abi::CallFn,
    /// [`crate::abi::DecodeFn`].
    pub decode: crate::abi::DecodeFn,
    /// [`crate::abi::RunSetupFn`].
    pub run_setup: crate::abi::RunSetupFn,
}

/// [`PluginRoot::info`].
pub fn info(plugin: &Plugin) -> PluginInfo {
    PluginInfo {
        name: plugin.name.into(),
        version: plugin.version.into(),
        description: plugin.description.into(),
        abi: AbiVersion {
            major: ABI_MAJOR,
            minor: ABI_MINOR,
        },
        config: plugin.config.into(),
    }
}

/// [`PluginRoot::capability`].
pub fn capability(
    plugin: &'static Plugin,
    tables: &'static Tables,
    entries: Entries,
    name: RStr<'_>,
) -> ROption<Capability> {
    let found = match name.as_str() {
        names::FUNCTIONS if !plugin.functions.is_empty() => {
            Capability::of(tables.functions.get_or_init(|| FunctionsTable {
                functions: plugin
                    .functions
                    .iter()
                    .map(|f| FunctionDecl {
                        name: f.name.into(),
                        doc: f.doc.into(),
                        takes_params: f.takes_params,
                    })
                    .collect(),
                call: entries.call,
            }))
        }
        names::CODECS if !plugin.codecs.is_empty() => {
            Capability::of(tables.codecs.get_or_init(|| CodecsTable {
                codecs: plugin
                    .codecs
                    .iter()
                    .map(|c| CodecDecl {
                        tag: c.tag.into(),
                        type_name: c.type_name().into(),
                    })
                    .collect(),
                decode: entries.decode,
            }))
        }
        names::SETUP if !plugin.setup.is_empty() => {
            Capability::of(tables.setup.get_or_init(|| SetupTable {
                steps: plugin
                    .setup
                    .iter()
                    .map(|s| SetupDecl {
                        name: s.name.into(),
                        doc: s.doc.into(),
                    })
                    .collect(),
                run: entries.run_setup,
            }))
        }
        _ => return RNone,
    };
    RSome(found)
}

fn missing(what: &str, index: usize, plugin: &Plugin) -> Error {
    Error::new(format!(
        "plugin '{}' has no {what} number {index}; the host and the plugin disagree",
        plugin.name
    ))
}

/// [`crate::abi::CallFn`].
pub fn call(
    plugin: &'static Plugin,
    index: usize,
    params: RSlice<'_, u8>,
    args: RSlice<'_, AbiArg<'_>>,
    mut sink: AbiSink<'_>,
) -> RResult<(), AbiError> {
    guard(|| {
        let function = plugin
            .functions
            .get(index)
            .ok_or_else(|| missing("function", index, plugin))?;
        let call = Call {
            function: function.name,
            params: params.as_slice(),
            args: args.as_slice(),
        };
        let mut out = Out {
            sink: &mut sink,
            set: false,
        };
        (function.body)(&call, &mut out)?;
        if out.set {
            Ok(())
        } else {
            Err(Error::new(format!(
                "{} returned without a result: call one of Out's methods",
                function.name
            )))
        }
    })
}

/// [`crate::abi::DecodeFn`].
pub fn decode(
    plugin: &'static Plugin,
    index: usize,
    bytes: RSlice<'_, u8>,
) -> RResult<AbiObject, AbiError> {
    guard(|| {
        let codec = plugin
            .codecs
            .get(index)
            .ok_or_else(|| missing("codec", index, plugin))?;
        (codec.decode)(bytes.as_slice())
    })
}

/// [`crate::abi::RunSetupFn`].
pub fn run_setup(
    plugin: &'static Plugin,
    index: usize,
    env: &SetupEnv,
) -> RResult<SetupOutcome, AbiError> {
    guard(|| {
        let step = plugin
            .setup
            .get(index)
            .ok_or_else(|| missing("set-up step", index, plugin))?;
        let context = SetupContext {
            worker: env.worker,
            config: env
                .config
                .iter()
                .map(|e| (e.key.to_string(), e.json.to_string()))
                .collect(),
        };
        let outcome = (step.run)(&context)?;
        Ok(SetupOutcome {
            message: outcome.message.into(),
            restart: outcome.restart,
        })
    })
}

/// The root module of a plugin with these entry points.
pub fn root(
    info: extern "C" fn() -> PluginInfo,
    capability: extern "C" fn(RStr<'_>) -> ROption<Capability>,
) -> PluginRootRef {
    PluginRoot { info, capability }.leak_into_prefix()
}

/// The header exported under [`ROOT_SYMBOL`]: how the host finds, checks
/// and builds the root module.
pub const fn header(loader: extern "C" fn() -> RootModuleResult) -> LibHeader {
    // SAFETY: `from_constructor` needs `loader` to return the root module of
    // type `PluginRootRef`; the export macro passes a loader that calls
    // `__call_root_module_loader(root)`, and `root` returns a `PluginRootRef`.
    unsafe { LibHeader::from_constructor::<PluginRootRef>(loader, CheckTypeLayout::Yes) }
}
