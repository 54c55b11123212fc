//! Can this graph cross a process boundary? Dask users check with
//! `cloudpickle.dumps/loads`; Barrow checks before anything runs.

use std::collections::HashMap;
use std::fmt;

use barrow_core::task::{Arg, Call, TaskBody};
use barrow_core::{Error, ErrorKind, Func, Graph, Key, Registry, Task, Value};

use crate::WireOptions;

/// How thoroughly to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Functions are registered and every literal's type has a codec: what a
    /// scheduler checks before every run (cheap).
    Codecs,
    /// Also encode every literal, decode it, encode it again and compare the
    /// bytes: what [`check_serializable`] does.
    RoundTrip,
}

/// One task that cannot cross, and the line that fixes it.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The task.
    pub key: Key,
    /// The function concerned, if any.
    pub function: Option<String>,
    /// The type of the literal concerned, if any.
    pub type_name: Option<&'static str>,
    /// What is wrong.
    pub reason: String,
    /// What to do.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.key)?;
        if let Some(function) = &self.function {
            write!(f, " (function '{function}')")?;
        }
        if let Some(type_name) = self.type_name {
            write!(f, " (literal of type {type_name})")?;
        }
        write!(f, ": {}; fix: {}", self.reason, self.fix)
    }
}

/// Every task of a graph that cannot cross a process boundary: the source
/// of a [`ErrorKind::NotShippable`] error.
#[derive(Debug, Clone)]
pub struct NotShippable {
    /// The problems, in the graph's order.
    pub problems: Vec<Problem>,
    /// How many tasks were checked.
    pub tasks: usize,
}

/// How many problems an error message lists.
const SHOWN: usize = 10;

impl fmt::Display for NotShippable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} tasks cannot be sent to another process:",
            self.problems.len(),
            self.tasks
        )?;
        for problem in self.problems.iter().take(SHOWN) {
            write!(f, "\n  - {problem}")?;
        }
        if self.problems.len() > SHOWN {
            write!(f, "\n  - and {} more", self.problems.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl std::error::Error for NotShippable {}

/// Checks that every task of `graph` can run in another process built from
/// this program: every function is registered by name in `registry` (with
/// parameters exactly when its registration takes them), and every literal
/// round-trips through its codec (encoded, decoded and encoded again to the
/// same bytes). The error lists every task that cannot, with its key,
/// function and type and the line that fixes it.
///
/// ```
/// use barrow_core::arg::lit;
/// use barrow_core::{ErrorKind, Func, Graph, Registry, Task};
///
/// let registry = Registry::new();
/// let double = Func::new("example.double", |x: &i64| 2 * x);
/// registry.functions().register(double.clone())?;
/// let closure = Func::new("my-closure", |x: &i64| x + 1);
///
/// let mut tasks: Vec<(String, Task)> = (0..1000)
///     .map(|i| (format!("x-{i}"), Task::call(&double, [lit(i as i64)])))
///     .collect();
/// tasks[500].1 = Task::call(&closure, [lit(1i64)]);
/// let graph = Graph::from_tasks(tasks)?;
///
/// let err = barrow_wire::check_serializable(&graph, &registry).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotShippable);
/// let text = err.to_string();
/// assert!(text.contains("1 of 1000 tasks"), "{text}");
/// assert!(text.contains("x-500") && text.contains("my-closure"), "{text}");
/// assert!(text.contains("#[barrow::task]"), "{text}");
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn check_serializable(graph: &Graph, registry: &Registry) -> barrow_core::Result<()> {
    check_graph(graph, registry, &WireOptions::default(), Depth::RoundTrip)
}

/// [`check_serializable`] at the given depth, writing values as `options`
/// say.
pub fn check_graph(
    graph: &Graph,
    registry: &Registry,
    options: &WireOptions,
    depth: Depth,
) -> barrow_core::Result<()> {
    check_tasks(graph.iter(), registry, options, depth)
}

/// [`check_graph`] over some tasks (a graph's tasks as a scheduler will
/// send them).
pub fn check_tasks<'t>(
    tasks: impl IntoIterator<Item = (&'t Key, &'t Task)>,
    registry: &Registry,
    options: &WireOptions,
    depth: Depth,
) -> barrow_core::Result<()> {
    let mut checker = Checker {
        registry,
        options,
        depth,
        problems: Vec::new(),
        functions: HashMap::new(),
        last_shippable: None,
        values: HashMap::new(),
        types: HashMap::new(),
    };
    let mut count = 0;
    for (key, task) in tasks {
        count += 1;
        checker.task(key, task);
    }
    if checker.problems.is_empty() {
        return Ok(());
    }
    let report = NotShippable {
        problems: checker.problems,
        tasks: count,
    };
    Err(Error::new(ErrorKind::NotShippable, report.to_string()).with_source(report))
}

struct Checker<'a> {
    registry: &'a Registry,
    options: &'a WireOptions,
    depth: Depth,
    problems: Vec<Problem>,
    /// Verdicts by function name and parameters.
    functions: HashMap<(String, Option<Vec<u8>>), Option<String>>,
    /// The last function found shippable: most graphs call one function
    /// from many tasks, and comparing handles is cheaper than a lookup.
    last_shippable: Option<Func>,
    /// Round-trip verdicts by value (the address of its shared data).
    values: HashMap<usize, Option<String>>,
    /// Codec verdicts by type.
    types: HashMap<std::any::TypeId, bool>,
}

impl Checker<'_> {
    fn task(&mut self, key: &Key, task: &Task) {
        match task.body() {
            TaskBody::Literal(value) => self.value(key, None, value),
            TaskBody::Alias(_) => {}
            TaskBody::Call(call) => self.call(key, call),
        }
    }

    fn call(&mut self, key: &Key, call: &Call) {
        self.function(key, call.function());
        for arg in call.args() {
            self.arg(key, call.function(), arg);
        }
    }

    fn arg(&mut self, key: &Key, function: &Func, arg: &Arg) {
        match arg {
            Arg::Literal(value) => self.value(key, Some(function.name()), value),
            Arg::Key(_) => {}
            Arg::List(items) => items.iter().for_each(|item| self.arg(key, function, item)),
            Arg::Call(call) => self.call(key, call),
            Arg::Fused(fused) => self.call(key, &fused.1),
        }
    }

    fn function(&mut self, key: &Key, function: &Func) {
        if self
            .last_shippable
            .as_ref()
            .is_some_and(|last| last.same_as(function))
        {
            return;
        }
        let probe = (
            function.name().to_owned(),
            function.params().map(<[u8]>::to_vec),
        );
        let registry = self.registry;
        let verdict = self
            .functions
            .entry(probe)
            .or_insert_with(|| registry.functions().can_ship(function).err());
        let Some(reason) = verdict.clone() else {
            self.last_shippable = Some(function.clone());
            return;
        };
        self.problems.push(Problem {
            key: key.clone(),
            function: Some(function.name().to_owned()),
            type_name: None,
            reason,
            fix: "put #[barrow::task] on a named function (a closure cannot cross a process \
                  boundary), or register it in the set-up function given to the worker hook \
                  (barrow::processes::worker_main_with)"
                .to_owned(),
        });
    }

    fn value(&mut self, key: &Key, function: Option<&str>, value: &Value) {
        let codecs = self.registry.codecs();
        let options = self.options;
        let verdict = match self.depth {
            Depth::Codecs => {
                let ok = *self
                    .types
                    .entry(value.type_id())
                    .or_insert_with(|| crate::can_encode(value, codecs, options));
                (!ok).then(|| format!("no codec is registered for {}", value.type_name()))
            }
            Depth::RoundTrip => {
                let address = std::ptr::from_ref(value.as_any()).cast::<()>() as usize;
                self.values
                    .entry(address)
                    .or_insert_with(|| round_trip(value, codecs, options).err())
                    .clone()
            }
        };
        if let Some(reason) = verdict {
            self.problems.push(Problem {
                key: key.clone(),
                function: function.map(str::to_owned),
                type_name: Some(value.type_name()),
                reason,
                fix: format!(
                    "register a codec for the type: registry.codecs().register(Arc::new(\
                     SerdeCodec::<{}>::new(\"my.tag\"))), or a StaticCodec with \
                     inventory::submit! so worker processes have it too",
                    short_type(value.type_name())
                ),
            });
        }
    }
}

fn round_trip(
    value: &Value,
    codecs: &barrow_core::codec::CodecRegistry,
    options: &WireOptions,
) -> Result<(), String> {
    let first = crate::encode_with(value, codecs, options).map_err(|e| e.to_string())?;
    let back = crate::decode(&first, codecs)
        .map_err(|e| format!("it encodes, but does not decode: {e}"))?;
    if back.type_id() != value.type_id() {
        return Err(format!(
            "it decodes as a {}, not a {}",
            back.type_name(),
            value.type_name()
        ));
    }
    let second = crate::encode_with(&back, codecs, options)
        .map_err(|e| format!("it decodes, but the copy does not encode again: {e}"))?;
    if first != second {
        return Err(
            "it does not round-trip: the decoded copy encodes to other bytes than the original"
                .to_owned(),
        );
    }
    Ok(())
}

/// `alloc::vec::Vec<my::Point>` as `Vec<Point>`, for a readable fix line.
fn short_type(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut segment = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use barrow_core::arg::{call, key, lit};
    use barrow_core::codec::Codec;
    use barrow_core::testing::functions::{add, inc};

    #[test]
    fn type_names_are_shortened_for_the_fix_line() {
        assert_eq!(short_type("alloc::vec::Vec<my::Point>"), "Vec<Point>");
        assert_eq!(short_type("i64"), "i64");
    }

    /// A value whose codec does not give it back.
    struct Drifting(i64);

    struct Lossy;
    impl Codec for Lossy {
        fn tag(&self) -> &str {
            "test.lossy"
        }
        fn type_id(&self) -> std::any::TypeId {
            std::any::TypeId::of::<Drifting>()
        }
        fn encode(&self, value: &Value, out: &mut Vec<u8>) -> barrow_core::Result<()> {
            out.extend(value.downcast_ref::<Drifting>()?.0.to_le_bytes());
            Ok(())
        }
        fn decode(&self, bytes: &[u8]) -> barrow_core::Result<Value> {
            let n = i64::from_le_bytes(bytes.try_into().unwrap_or_default());
            Ok(Value::new(Drifting(n + 1)))
        }
    }

    #[test]
    fn one_bad_task_among_a_thousand_is_named_with_its_fix() {
        let registry = Registry::new();
        registry.functions().register_static();
        struct Opaque;
        let mut tasks: Vec<(Key, Task)> = (0..1000u32)
            .map(|i| (Key::from(("x", i)), Task::call(&inc(), [lit(i64::from(i))])))
            .collect();
        tasks[123].1 = Task::call(&add(), [lit(Opaque), key(("x", 0))]);
        let graph = Graph::from_tasks(tasks).unwrap();
        let err = check_serializable(&graph, &registry).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotShippable);
        let report = err.source_as::<NotShippable>().unwrap();
        assert_eq!(report.tasks, 1000);
        assert_eq!(report.problems.len(), 1);
        let problem = &report.problems[0];
        assert_eq!(problem.key, Key::from(("x", 123)));
        assert_eq!(problem.function.as_deref(), Some("barrow.testing.add"));
        assert!(problem.type_name.unwrap().ends_with("Opaque"));
        assert!(
            problem.fix.contains("SerdeCodec::<Opaque>"),
            "{}",
            problem.fix
        );
    }

    #[test]
    fn closures_nested_calls_and_lossy_codecs_are_all_found() {
        let registry = Registry::new();
        registry.functions().register_static();
        registry.codecs().register(Arc::new(Lossy)).unwrap();
        let closure = Func::new("closure", |x: &i64| *x);
        let graph = Graph::from_tasks([
            ("fine", Task::call(&inc(), [lit(1i64)])),
            ("nested", Task::call(&inc(), [call(&closure, [lit(2i64)])])),
            ("lossy", Task::literal(Drifting(3))),
        ])
        .unwrap();
        let err = check_serializable(&graph, &registry).unwrap_err();
        let report = err.source_as::<NotShippable>().unwrap();
        let keys: Vec<String> = report.problems.iter().map(|p| p.key.to_string()).collect();
        assert_eq!(keys, ["nested", "lossy"], "{err}");
        assert!(report.problems[1].reason.contains("round-trip"), "{err}");
        // The cheap check trusts codecs, and still finds the closure.
        let err =
            check_graph(&graph, &registry, &WireOptions::default(), Depth::Codecs).unwrap_err();
        assert_eq!(err.source_as::<NotShippable>().unwrap().problems.len(), 1);
    }
}
