//! The stable ABI of Barrow plugins. A plugin is a `cdylib` that depends on
//! this crate only: it describes what it provides in a [`Plugin`] and exports
//! it with [`export_plugin!`]; any Barrow program built against the same
//! major version of this crate loads it at run time, without recompiling.
//!
//! ```
//! use barrow_plugin::{Call, Function, Out, Plugin, Result, export_plugin};
//!
//! /// Standard scores of a block: (x - mean) / std.
//! fn zscore(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
//!     let x = call.numbers::<f64>(0)?;
//!     let n = x.data.len().max(1) as f64;
//!     let mean = x.data.iter().sum::<f64>() / n;
//!     let std = (x.data.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
//!     // A block gives a block, a bag's partition a vector.
//!     let y = out.like::<f64, f64>(&x)?;
//!     for (y, x) in y.iter_mut().zip(x.data) {
//!         *y = if std > 0.0 { (x - mean) / std } else { 0.0 };
//!     }
//!     Ok(())
//! }
//!
//! static PLUGIN: Plugin = Plugin {
//!     name: "stats",
//!     version: env!("CARGO_PKG_VERSION"),
//!     description: "Statistics on whole blocks.",
//!     functions: &[Function::new("zscore", "Standard scores of a block.", zscore)],
//!     ..Plugin::EMPTY
//! };
//! export_plugin!(PLUGIN);
//!
//! // Authors test their functions in-process, through the same entry points.
//! use barrow_plugin::testing::{self, Value};
//! let z = testing::call(&PLUGIN, "zscore", &[Value::array(&[4], &[1.0f64, 2.0, 3.0, 4.0])])?;
//! let (shape, data) = z.numbers::<f64>().ok_or("not numbers")?;
//! assert_eq!(shape, [4]);
//! assert!((data.iter().sum::<f64>()).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What crosses the boundary
//!
//! Functions take and return numbers (an array's block or a bag's
//! partition, borrowed from the host and written into buffers the host
//! allocates: never copied), scalars, strings and values of the plugin's own
//! types ([`Object`], with their codec). A call costs a few nanoseconds more
//! than a native one, so functions work on whole chunks, not elements.
//!
//! # Compatibility
//!
//! This crate's version is the ABI version. A plugin built against `1.x`
//! loads in any host built against `1.y`, older or newer: the root module is
//! frozen and every capability (functions, codecs, set-up steps,
//! schedulers) is looked up by name, its layout checked on the way. A host
//! reports the capabilities an older plugin predates as absent. Another
//! major version is refused with a message naming both.
//!
//! # Safety
//!
//! Plugins are trusted code: loading one runs it in the host process, and
//! loaded libraries are never unloaded. Every entry point runs the author's
//! code under `catch_unwind`: a panic becomes an error for the task, never
//! an abort of the host.

pub mod abi;
mod author;
mod export;
pub mod meta;
mod object;
mod plugin;
pub mod testing;

pub use abi::{ABI_MAJOR, ABI_MINOR, Dtype, Shape};
pub use author::{Call, Element, Error, Numbers, Out, Result};
pub use object::Object;
pub use plugin::{
    Codec, Event, Function, FunctionBody, Graph, Hook, HookBody, Outcome, Plugin, Runner,
    Scheduler, Setup, SetupContext,
};

/// The glue [`export_plugin!`] expands to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::abi::{
        AbiArg, AbiError, AbiEvent, AbiGraph, AbiObject, AbiRunner, AbiSink, Capability,
        PluginInfo, PluginRootRef, SetupEnv, SetupOutcome,
    };
    pub use crate::export::{
        Entries, ROOT_SYMBOL, Tables, abi_event, call, capability, decode, header, info, on_event,
        root, run_setup, schedule,
    };
    pub use crate::meta::{encode as encode_meta, encoded_len as meta_len};
    pub use abi_stable::library::{__call_root_module_loader, LibHeader, RootModuleResult};
    pub use abi_stable::std_types::{ROption, RResult, RSlice, RStr};
}

/// Exports a `static` [`Plugin`] as this library's root module, the one
/// symbol a Barrow host looks up. Use it once, in a `cdylib` crate.
///
/// ```
/// use barrow_plugin::{Plugin, export_plugin};
///
/// static PLUGIN: Plugin = Plugin {
///     name: "empty",
///     description: "Provides nothing.",
///     ..Plugin::EMPTY
/// };
/// export_plugin!(PLUGIN);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:path) => {
        const _: () = {
            use $crate::__private as p;

            static TABLES: p::Tables = p::Tables::new();

            // The plugin's description, in a section of its own, for hosts
            // that read the file without loading it (`barrow plugin
            // inspect`); see `barrow_plugin::meta`.
            const META_LEN: usize = p::meta_len(&$plugin);
            #[cfg_attr(
                any(target_os = "macos", target_os = "ios"),
                unsafe(link_section = "__DATA,__barrow_plug")
            )]
            #[cfg_attr(windows, unsafe(link_section = ".brwplug"))]
            #[cfg_attr(
                not(any(target_os = "macos", target_os = "ios", windows)),
                unsafe(link_section = ".barrow_plugin")
            )]
            #[used]
            static META: [u8; META_LEN] = p::encode_meta::<META_LEN>(&$plugin);

            extern "C" fn info() -> p::PluginInfo {
                // Referenced from an exported entry point, so that no
                // linker drops the section.
                ::core::hint::black_box(&META);
                p::info(&$plugin)
            }

            extern "C" fn call(
                index: usize,
                params: p::RSlice<'_, u8>,
                args: p::RSlice<'_, p::AbiArg<'_>>,
                sink: p::AbiSink<'_>,
            ) -> p::RResult<(), p::AbiError> {
                p::call(&$plugin, index, params, args, sink)
            }

            extern "C" fn decode(
                index: usize,
                bytes: p::RSlice<'_, u8>,
            ) -> p::RResult<p::AbiObject, p::AbiError> {
                p::decode(&$plugin, index, bytes)
            }

            extern "C" fn run_setup(
                index: usize,
                env: &p::SetupEnv,
            ) -> p::RResult<p::SetupOutcome, p::AbiError> {
                p::run_setup(&$plugin, index, env)
            }

            extern "C" fn schedule(
                index: usize,
                graph: &p::AbiGraph,
                runner: p::AbiRunner<'_>,
            ) -> p::RResult<(), p::AbiError> {
                p::schedule(&$plugin, index, graph, runner)
            }

            extern "C" fn on_event(
                index: usize,
                event: &p::AbiEvent<'_>,
            ) -> p::RResult<(), p::AbiError> {
                p::on_event(&$plugin, index, event)
            }

            extern "C" fn capability(name: p::RStr<'_>) -> p::ROption<p::Capability> {
                let entries = p::Entries {
                    call,
                    decode,
                    run_setup,
                    schedule,
                    on_event,
                };
                p::capability(&$plugin, &TABLES, entries, name)
            }

            fn root() -> p::PluginRootRef {
                p::root(info, capability)
            }

            extern "C" fn loader() -> p::RootModuleResult {
                p::__call_root_module_loader(root)
            }

            #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
            static HEADER: p::LibHeader = p::header(loader);
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_export_macro_names_the_symbol_abi_stable_looks_up() {
        assert_eq!(
            crate::export::ROOT_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}
