//! The types that cross the library boundary. Plugin authors never name
//! them: the [`export_plugin!`](crate::export_plugin) macro builds them and
//! the host reads them.
//!
//! # Evolution rules
//!
//! The root module ([`PluginRoot`]) is frozen for the whole major version:
//! its two functions never change. Everything a plugin provides is a
//! **capability**, looked up by name ([`capability`]), each with a table type
//! that is itself frozen once released. A new minor version adds capabilities
//! under new names; it never changes a released table. So a plugin built
//! against an older minor loads in a newer host (the host finds fewer
//! capabilities), and a newer plugin loads in an older host (the host never
//! asks for the capabilities it does not know). Every table is checked
//! against the host's layout when it is looked up, so a mismatch is an error,
//! never undefined behaviour.

// `sabi_trait` expands to impls inside constants.
#![allow(non_local_definitions)]

use std::ffi::c_void;
use std::fmt::Debug;

use abi_stable::StableAbi;
use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{ROption, RResult, RSlice, RSliceMut, RStr, RString, RVec};
use abi_stable::type_layout::TypeLayout;

/// The ABI's major version: plugins and hosts of different majors never load
/// each other.
pub const ABI_MAJOR: u32 = 1;
/// The ABI's minor version: the capabilities this crate knows. Minor 0 had
/// functions, codecs and set-up steps; minor 1 added schedulers; minor 2
/// added cluster hooks.
pub const ABI_MINOR: u32 = 2;

/// Names of the capabilities, with the minor version that introduced each.
pub mod capability {
    /// Task functions ([`super::FunctionsTable`]), since 1.0.
    pub const FUNCTIONS: &str = "functions/1";
    /// Codecs for the plugin's own types ([`super::CodecsTable`]), since 1.0.
    pub const CODECS: &str = "codecs/1";
    /// Worker set-up steps ([`super::SetupTable`]), since 1.0.
    pub const SETUP: &str = "setup/1";
    /// Schedulers ([`super::SchedulersTable`]), since 1.1.
    pub const SCHEDULERS: &str = "schedulers/1";
    /// Hooks on a cluster's events ([`super::HooksTable`]), since 1.2.
    pub const HOOKS: &str = "hooks/1";
}

/// A version of the ABI.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbiVersion {
    /// Plugins and hosts of different majors never load each other.
    pub major: u32,
    /// The capabilities known to the crate the plugin was built with.
    pub minor: u32,
}

/// What a plugin says about itself.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct PluginInfo {
    /// The plugin's name: the namespace of its functions (`stats`).
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// One line on what it provides.
    pub description: RString,
    /// The `barrow-plugin` it was built against.
    pub abi: AbiVersion,
    /// Configuration keys it reads, declared in the YAML format of
    /// `barrow_config::register_namespace`, under its name; empty if none.
    pub config: RString,
}

/// The one exported module of a plugin library. Frozen for a major version.
#[repr(C)]
#[derive(StableAbi, Debug)]
#[sabi(kind(Prefix(prefix_ref = PluginRootRef)))]
#[sabi(missing_field(panic))]
pub struct PluginRoot {
    /// What the plugin says about itself.
    pub info: extern "C" fn() -> PluginInfo,
    /// The table of a capability by name, or none when the plugin does not
    /// provide it (or predates it).
    #[sabi(last_prefix_field)]
    pub capability: extern "C" fn(name: RStr<'_>) -> ROption<Capability>,
}

impl RootModule for PluginRootRef {
    abi_stable::declare_root_module_statics! {PluginRootRef}
    const BASE_NAME: &'static str = "barrow_plugin";
    const NAME: &'static str = "barrow plugin";
    const VERSION_STRINGS: VersionStrings = abi_stable::package_version_strings!();
}

/// A capability's table and the layout it was built with, which the host
/// checks against its own before reading the table.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct Capability {
    /// The layout of the table type, as the plugin was compiled.
    pub layout: &'static TypeLayout,
    /// The table: a `&'static` of the type `layout` describes.
    pub table: *const c_void,
}

// SAFETY: `table` points to an immutable `'static` table of `Sync` data
// (fn pointers and strings), which any thread may read.
unsafe impl Send for Capability {}
// SAFETY: as above: the table is never written after it is made.
unsafe impl Sync for Capability {}

impl Capability {
    /// The capability of a `'static` table.
    pub fn of<T: StableAbi + Sync>(table: &'static T) -> Capability {
        Capability {
            layout: T::LAYOUT,
            table: (table as *const T).cast(),
        }
    }
}

/// Why a call into a plugin failed.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct AbiError {
    /// Whether it panicked (else it returned an error).
    pub panicked: bool,
    /// What went wrong.
    pub message: RString,
}

/// The element type of an array or vector argument.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// `f64`
    F64,
    /// `f32`
    F32,
    /// `i64`
    I64,
    /// `i32`
    I32,
    /// `u64`
    U64,
    /// `u32`
    U32,
    /// `u8`
    U8,
}

impl Dtype {
    /// The Rust name of the element type.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "f64",
            Dtype::F32 => "f32",
            Dtype::I64 => "i64",
            Dtype::I32 => "i32",
            Dtype::U64 => "u64",
            Dtype::U32 => "u32",
            Dtype::U8 => "u8",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::U8 => 1,
        }
    }
}

/// Whether numbers arrive as an n-dimensional array or a flat vector (a
/// bag's partition); a result is made of the same kind.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An n-dimensional array (the host's `ndarray::ArrayD`).
    Array,
    /// A vector (the host's `Vec`).
    Vec,
}

/// One argument of a plugin function, borrowed from the host.
#[repr(C, u8)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub enum AbiArg<'a> {
    /// A number: the host's `f64`.
    F64(f64),
    /// A number: the host's `i64`.
    I64(i64),
    /// A number: the host's `u64`.
    U64(u64),
    /// The host's `bool`.
    Bool(bool),
    /// The host's `String`.
    Str(RStr<'a>),
    /// Numbers in row-major order: an array (with its shape) or a vector
    /// (with its length as the shape).
    Numbers {
        /// Array or vector.
        kind: Shape,
        /// The element type.
        dtype: Dtype,
        /// The extent along each axis.
        shape: RSlice<'a, usize>,
        /// The elements' bytes, aligned for `dtype`.
        data: RSlice<'a, u8>,
    },
    /// The host's `Vec<String>`.
    Strs(RSlice<'a, RStr<'a>>),
    /// A value of a plugin's own type.
    Object(&'a AbiObject),
}

/// A value of a plugin's own type, owned by the host and made by the plugin.
#[abi_stable::sabi_trait]
pub trait ObjectImpl: Send + Sync + Debug + 'static {
    /// The codec tag of the type (`stats.histogram`).
    fn tag(&self) -> RStr<'_>;
    /// Appends the value's encoding.
    fn encode(&self) -> RResult<RVec<u8>, AbiError>;
    /// Bytes held, for memory accounting.
    fn nbytes(&self) -> usize;
    /// A short description for errors and debugging.
    #[sabi(last_prefix_field)]
    fn describe(&self) -> RString;
}

/// An owned plugin object.
pub type AbiObject = ObjectImpl_TO<abi_stable::std_types::RBox<()>>;

/// Where a plugin function puts its result: a sink in the host, so that
/// buffers are allocated by the host and never copied.
#[abi_stable::sabi_trait]
pub trait SinkImpl {
    /// Sets a number result.
    fn number(&mut self, value: AbiScalar);
    /// Sets a string result.
    fn string(&mut self, value: RStr<'_>);
    /// Sets a result of numbers and returns its zeroed buffer to fill.
    fn numbers(&mut self, kind: Shape, dtype: Dtype, shape: RSlice<'_, usize>)
    -> RSliceMut<'_, u8>;
    /// Sets an empty `Vec<String>` result, with room for `capacity`.
    fn strings(&mut self, capacity: usize);
    /// Adds one string to the `Vec<String>` result.
    fn push_string(&mut self, value: RStr<'_>);
    /// Sets a plugin object result.
    #[sabi(last_prefix_field)]
    fn object(&mut self, value: AbiObject);
}

/// A borrowed sink.
pub type AbiSink<'a> = SinkImpl_TO<'a, abi_stable::sabi_types::RMut<'a, ()>>;

/// A scalar result.
#[repr(C, u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq)]
pub enum AbiScalar {
    /// `f64`
    F64(f64),
    /// `i64`
    I64(i64),
    /// `u64`
    U64(u64),
    /// `bool`
    Bool(bool),
}

/// A function, as the plugin declares it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FunctionDecl {
    /// The name within the plugin's namespace (`zscore`).
    pub name: RString,
    /// One paragraph on what it does.
    pub doc: RString,
    /// Whether it takes parameters (bound when the task is made).
    pub takes_params: bool,
}

/// Calls function `index` of a [`FunctionsTable`] with its parameters and
/// arguments, putting its result in the sink.
pub type CallFn = extern "C" fn(
    index: usize,
    params: RSlice<'_, u8>,
    args: RSlice<'_, AbiArg<'_>>,
    sink: AbiSink<'_>,
) -> RResult<(), AbiError>;

/// Capability [`capability::FUNCTIONS`].
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct FunctionsTable {
    /// The functions, in index order.
    pub functions: RVec<FunctionDecl>,
    /// Calls one ([`CallFn`]).
    pub call: extern "C" fn(
        index: usize,
        params: RSlice<'_, u8>,
        args: RSlice<'_, AbiArg<'_>>,
        sink: AbiSink<'_>,
    ) -> RResult<(), AbiError>,
}

/// A codec, as the plugin declares it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct CodecDecl {
    /// The tag written next to the bytes (`stats.histogram`).
    pub tag: RString,
    /// The Rust type it encodes, for messages.
    pub type_name: RString,
}

/// Decodes bytes with codec `index` of a [`CodecsTable`].
pub type DecodeFn =
    extern "C" fn(index: usize, bytes: RSlice<'_, u8>) -> RResult<AbiObject, AbiError>;

/// Capability [`capability::CODECS`].
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct CodecsTable {
    /// The codecs, in index order.
    pub codecs: RVec<CodecDecl>,
    /// Decodes with one ([`DecodeFn`]; encoding is the object's own method).
    pub decode: extern "C" fn(index: usize, bytes: RSlice<'_, u8>) -> RResult<AbiObject, AbiError>,
}

/// A worker set-up step, as the plugin declares it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct SetupDecl {
    /// The step's name within the plugin's namespace.
    pub name: RString,
    /// One paragraph on what it does.
    pub doc: RString,
}

/// One configuration value given to a set-up step: the key (within the
/// plugin's namespace) and the value as JSON.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct ConfigEntry {
    /// The key, without the plugin's namespace (`commands`).
    pub key: RString,
    /// The value, as JSON text.
    pub json: RString,
}

/// Where a set-up step runs.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct SetupEnv {
    /// The worker's id; 0 for the program itself (threads).
    pub worker: u32,
    /// The plugin's configuration values.
    pub config: RVec<ConfigEntry>,
}

/// What a set-up step did.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct SetupOutcome {
    /// A line for the log.
    pub message: RString,
    /// Whether the worker must restart to see what the step installed.
    pub restart: bool,
}

/// Runs set-up step `index` of a [`SetupTable`].
pub type RunSetupFn =
    extern "C" fn(index: usize, env: &SetupEnv) -> RResult<SetupOutcome, AbiError>;

/// Capability [`capability::SETUP`].
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct SetupTable {
    /// The steps, in index order.
    pub steps: RVec<SetupDecl>,
    /// Runs one ([`RunSetupFn`]).
    pub run: extern "C" fn(index: usize, env: &SetupEnv) -> RResult<SetupOutcome, AbiError>,
}

/// A task graph as a plugin scheduler sees it: tasks by index, each with the
/// indices of the tasks it needs.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct AbiGraph {
    /// Each task's key, for logs.
    pub keys: RVec<RString>,
    /// Each task's dependencies.
    pub dependencies: RVec<RVec<usize>>,
    /// The tasks whose results were asked for.
    pub outputs: RVec<usize>,
}

/// What a plugin scheduler drives: the host runs tasks and keeps results.
#[abi_stable::sabi_trait]
pub trait RunnerImpl: Sync {
    /// Runs task `index`; its dependencies must have run. Safe to call from
    /// several threads at once.
    fn run(&self, index: usize) -> RResult<(), AbiError>;
    /// Drops the result of task `index`: no task left needs it.
    #[sabi(last_prefix_field)]
    fn release(&self, index: usize);
}

/// A borrowed runner.
pub type AbiRunner<'a> = RunnerImpl_TO<'a, abi_stable::sabi_types::RRef<'a, ()>>;

/// A scheduler, as the plugin declares it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct SchedulerDecl {
    /// The name it is chosen by (`scheduler: lifo`); not namespaced.
    pub name: RString,
    /// One paragraph on how it schedules.
    pub doc: RString,
}

/// Runs a graph with scheduler `index` of a [`SchedulersTable`].
pub type ScheduleFn =
    extern "C" fn(index: usize, graph: &AbiGraph, runner: AbiRunner<'_>) -> RResult<(), AbiError>;

/// Capability [`capability::SCHEDULERS`].
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct SchedulersTable {
    /// The schedulers, in index order.
    pub schedulers: RVec<SchedulerDecl>,
    /// Runs a graph with one ([`ScheduleFn`]).
    pub schedule: extern "C" fn(
        index: usize,
        graph: &AbiGraph,
        runner: AbiRunner<'_>,
    ) -> RResult<(), AbiError>,
}

/// A hook on a cluster's events, as the plugin declares it.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct HookDecl {
    /// Its name within the plugin's namespace: a process runs one hook of
    /// each full name, however often the plugin is loaded.
    pub name: RString,
    /// One paragraph on what it does.
    pub doc: RString,
}

/// What happened, for [`AbiEvent`].
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbiEventKind {
    /// A worker joined its scheduler and is about to take tasks (in the
    /// worker's process).
    WorkerStarted,
    /// A worker is closing (in its process); `detail` says why.
    WorkerClosing,
    /// A scheduler listens (in its process); `detail` is its address.
    SchedulerStarted,
    /// A scheduler is closing (in its process).
    SchedulerClosing,
    /// A worker joined (on the scheduler).
    WorkerAdded,
    /// A worker left (on the scheduler); `detail` says why.
    WorkerRemoved,
    /// A task moved from state `from` to `to` (on the scheduler), on
    /// `worker` when it runs or is held there.
    Transition,
}

/// One event of a cluster, borrowed for the call.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct AbiEvent<'a> {
    /// What happened.
    pub kind: AbiEventKind,
    /// The worker it concerns (empty when none).
    pub worker: RStr<'a>,
    /// The task's key (transitions; else empty).
    pub key: RStr<'a>,
    /// The state it left (transitions; else empty).
    pub from: RStr<'a>,
    /// The state it entered (transitions; else empty).
    pub to: RStr<'a>,
    /// Why, or the address (see [`AbiEventKind`]).
    pub detail: RStr<'a>,
}

/// Hands an event to hook `index` of a [`HooksTable`].
pub type OnEventFn = extern "C" fn(index: usize, event: &AbiEvent<'_>) -> RResult<(), AbiError>;

/// Capability [`capability::HOOKS`].
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct HooksTable {
    /// The hooks, in index order.
    pub hooks: RVec<HookDecl>,
    /// Hands one an event ([`OnEventFn`]).
    pub on_event: extern "C" fn(index: usize, event: &AbiEvent<'_>) -> RResult<(), AbiError>,
}
