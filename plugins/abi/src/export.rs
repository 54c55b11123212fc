//! The glue [`export_plugin!`](crate::export_plugin) expands to: one
//! `extern "C"` entry point per table, each running the author's code under
//! `catch_unwind`, and the library header the host looks up.

use std::sync::OnceLock;

use abi_stable::library::{CheckTypeLayout, LibHeader, RootModuleResult};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::{RNone, ROption, RResult, RSlice, RSome, RStr};

use crate::abi::{
    ABI_MAJOR, ABI_MINOR, AbiArg, AbiError, AbiEvent, AbiEventKind, AbiGraph, AbiObject, AbiRunner,
    AbiSink, AbiVersion, Capability, CodecDecl, CodecsTable, FunctionDecl, FunctionsTable,
    HookDecl, HooksTable, PluginInfo, PluginRoot, PluginRootRef, SchedulerDecl, SchedulersTable,
    SetupDecl, SetupEnv, SetupOutcome, SetupTable, capability as names,
};
use crate::author::{Call, Error, Out};
use crate::object::guard;
use crate::plugin::{Event, Graph, Plugin, Runner, SetupContext};

/// The symbol abi_stable looks up in a library; the export macro names it
/// literally (attributes take no constants), a test checks they agree.
pub const ROOT_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// A plugin's capability tables, made on first request.
#[derive(Debug)]
pub struct Tables {
    functions: OnceLock<FunctionsTable>,
    codecs: OnceLock<CodecsTable>,
    setup: OnceLock<SetupTable>,
    schedulers: OnceLock<SchedulersTable>,
    hooks: OnceLock<HooksTable>,
}

impl Tables {
    /// No table made yet.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Tables {
        Tables {
            functions: OnceLock::new(),
            codecs: OnceLock::new(),
            setup: OnceLock::new(),
            schedulers: OnceLock::new(),
            hooks: OnceLock::new(),
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
    /// [`crate::abi::ScheduleFn`].
    pub schedule: crate::abi::ScheduleFn,
    /// [`crate::abi::OnEventFn`].
    pub on_event: crate::abi::OnEventFn,
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
            Capability::of(tables.functions.get_or_init(|| {
                FunctionsTable {
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
                }
            }))
        }
        names::CODECS if !plugin.codecs.is_empty() => {
            Capability::of(tables.codecs.get_or_init(|| {
                CodecsTable {
                    codecs: plugin
                        .codecs
                        .iter()
                        .map(|c| CodecDecl {
                            tag: c.tag.into(),
                            type_name: c.type_name().into(),
                        })
                        .collect(),
                    decode: entries.decode,
                }
            }))
        }
        names::SETUP if !plugin.setup.is_empty() => {
            Capability::of(tables.setup.get_or_init(|| {
                SetupTable {
                    steps: plugin
                        .setup
                        .iter()
                        .map(|s| SetupDecl {
                            name: s.name.into(),
                            doc: s.doc.into(),
                        })
                        .collect(),
                    run: entries.run_setup,
                }
            }))
        }
        names::HOOKS if !plugin.hooks.is_empty() => {
            Capability::of(tables.hooks.get_or_init(|| {
                HooksTable {
                    hooks: plugin
                        .hooks
                        .iter()
                        .map(|h| HookDecl {
                            name: h.name.into(),
                            doc: h.doc.into(),
                        })
                        .collect(),
                    on_event: entries.on_event,
                }
            }))
        }
        names::SCHEDULERS if !plugin.schedulers.is_empty() => {
            Capability::of(tables.schedulers.get_or_init(|| {
                SchedulersTable {
                    schedulers: plugin
                        .schedulers
                        .iter()
                        .map(|s| SchedulerDecl {
                            name: s.name.into(),
                            doc: s.doc.into(),
                        })
                        .collect(),
                    schedule: entries.schedule,
                }
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

/// [`crate::abi::ScheduleFn`].
pub fn schedule(
    plugin: &'static Plugin,
    index: usize,
    graph: &AbiGraph,
    runner: AbiRunner<'_>,
) -> RResult<(), AbiError> {
    guard(|| {
        let scheduler = plugin
            .schedulers
            .get(index)
            .ok_or_else(|| missing("scheduler", index, plugin))?;
        let graph = Graph {
            keys: &graph.keys,
            dependencies: &graph.dependencies,
            outputs: &graph.outputs,
        };
        (scheduler.run)(&graph, &Runner { inner: runner })
    })
}

/// [`crate::abi::OnEventFn`].
pub fn on_event(
    plugin: &'static Plugin,
    index: usize,
    event: &AbiEvent<'_>,
) -> RResult<(), AbiError> {
    guard(|| {
        let hook = plugin
            .hooks
            .get(index)
            .ok_or_else(|| missing("hook", index, plugin))?;
        (hook.on)(&event_of(event))
    })
}

/// The author's view of an event.
pub(crate) fn event_of<'a>(event: &AbiEvent<'a>) -> Event<'a> {
    let (worker, key, from, to, detail) = (
        event.worker.as_str(),
        event.key.as_str(),
        event.from.as_str(),
        event.to.as_str(),
        event.detail.as_str(),
    );
    match event.kind {
        AbiEventKind::WorkerStarted => Event::WorkerStarted { worker },
        AbiEventKind::WorkerClosing => Event::WorkerClosing {
            worker,
            reason: detail,
        },
        AbiEventKind::SchedulerStarted => Event::SchedulerStarted { address: detail },
        AbiEventKind::SchedulerClosing => Event::SchedulerClosing,
        AbiEventKind::WorkerAdded => Event::WorkerAdded { worker },
        AbiEventKind::WorkerRemoved => Event::WorkerRemoved {
            worker,
            reason: detail,
        },
        AbiEventKind::Transition => Event::Transition {
            key,
            from,
            to,
            worker,
        },
    }
}

/// An author's event as it crosses the boundary (the host's side, and
/// in-process tests).
pub fn abi_event<'a>(event: &Event<'a>) -> AbiEvent<'a> {
    let mut out = AbiEvent {
        kind: AbiEventKind::SchedulerClosing,
        worker: RStr::from(""),
        key: RStr::from(""),
        from: RStr::from(""),
        to: RStr::from(""),
        detail: RStr::from(""),
    };
    match *event {
        Event::WorkerStarted { worker } => {
            out.kind = AbiEventKind::WorkerStarted;
            out.worker = worker.into();
        }
        Event::WorkerClosing { worker, reason } => {
            out.kind = AbiEventKind::WorkerClosing;
            out.worker = worker.into();
            out.detail = reason.into();
        }
        Event::SchedulerStarted { address } => {
            out.kind = AbiEventKind::SchedulerStarted;
            out.detail = address.into();
        }
        Event::SchedulerClosing => {}
        Event::WorkerAdded { worker } => {
            out.kind = AbiEventKind::WorkerAdded;
            out.worker = worker.into();
        }
        Event::WorkerRemoved { worker, reason } => {
            out.kind = AbiEventKind::WorkerRemoved;
            out.worker = worker.into();
            out.detail = reason.into();
        }
        Event::Transition {
            key,
            from,
            to,
            worker,
        } => {
            out.kind = AbiEventKind::Transition;
            out.key = key.into();
            out.from = from.into();
            out.to = to.into();
            out.worker = worker.into();
        }
    }
    out
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
