//! A simulated worker process: every function rebuilt from its name and
//! parameters through the process-wide registry, every value encoded and
//! decoded on its way between tasks.

use std::collections::HashMap;

use barrow_core::function::Input;
use barrow_core::task::{Arg, Call, TaskBody};
use barrow_core::{Collection, Error, Graph, Key, Options, Registry, Value};

/// Encodes a value to a wire frame, decodes it, and checks that the copy
/// encodes to the same bytes (the codec is exact).
pub fn round_trip(value: &Value) -> barrow_core::Result<Value> {
    let codecs = Registry::global().codecs();
    let bytes = barrow_wire::encode(value, codecs)?;
    // What the processes scheduler sends: the elements borrowed, same bytes.
    let split = barrow_wire::encode_frame(value, codecs, &barrow_wire::WireOptions::new())?;
    assert!(
        split.to_vec() == bytes,
        "{}: its split encoding differs",
        value.type_name()
    );
    let back = barrow_wire::decode(&bytes, codecs)?;
    assert_eq!(back.type_id(), value.type_id(), "{}", value.type_name());
    let again = barrow_wire::encode(&back, codecs)?;
    assert!(
        bytes == again,
        "{} does not round-trip exactly",
        value.type_name()
    );
    Ok(back)
}

/// Every function of a graph (nested and fused calls included), with the
/// key of its task.
pub fn functions(graph: &Graph) -> Vec<(Key, barrow_core::Func)> {
    fn walk(key: &Key, call: &Call, out: &mut Vec<(Key, barrow_core::Func)>) {
        out.push((key.clone(), call.function().clone()));
        for arg in call.args() {
            walk_arg(key, arg, out);
        }
    }
    fn walk_arg(key: &Key, arg: &Arg, out: &mut Vec<(Key, barrow_core::Func)>) {
        match arg {
            Arg::Call(call) => walk(key, call, out),
            Arg::Fused(fused) => walk(key, &fused.1, out),
            Arg::List(items) => items.iter().for_each(|a| walk_arg(key, a, out)),
            Arg::Literal(_) | Arg::Key(_) => {}
        }
    }
    let mut out = Vec::new();
    for (key, task) in graph.iter() {
        if let TaskBody::Call(call) = task.body() {
            walk(key, call, &mut out);
        }
    }
    out
}

/// Runs `graph` as a worker process would, returning the values of
/// `keys` (decoded, as the client receives them).
pub fn run(graph: &Graph, keys: &[Key]) -> barrow_core::Result<Vec<Value>> {
    let mut worker = Worker {
        graph,
        done: HashMap::new(),
    };
    keys.iter().map(|k| worker.value(k)).collect()
}

struct Worker<'g> {
    graph: &'g Graph,
    done: HashMap<Key, Value>,
}

impl Worker<'_> {
    fn value(&mut self, key: &Key) -> barrow_core::Result<Value> {
        if let Some(value) = self.done.get(key) {
            return Ok(value.clone());
        }
        let task = self
            .graph
            .get(key)
            .ok_or_else(|| Error::internal(format!("no task {key}")))?;
        let value = match task.body() {
            TaskBody::Literal(value) => value.clone(),
            TaskBody::Alias(target) => self.value(target)?,
            TaskBody::Call(call) => self.call(call)?,
        };
        // Every result crosses the wire to the tasks that need it.
        let value = round_trip(&value)?;
        self.done.insert(key.clone(), value.clone());
        Ok(value)
    }

    fn call(&mut self, call: &Call) -> barrow_core::Result<Value> {
        let sent = call.function();
        let rebuilt = Registry::global()
            .functions()
            .resolve(sent.name(), sent.params())?;
        assert_eq!(rebuilt.name(), sent.name());
        assert_eq!(rebuilt.params(), sent.params(), "{}", sent.name());
        let mut inputs = call
            .args()
            .iter()
            .map(|a| self.arg(a))
            .collect::<barrow_core::Result<Vec<_>>>()?;
        rebuilt.call_taking(&mut inputs)
    }

    fn arg(&mut self, arg: &Arg) -> barrow_core::Result<Input<'static>> {
        Ok(match arg {
            Arg::Literal(value) => Input::Value(round_trip(value)?),
            Arg::Key(key) => Input::Value(self.value(key)?),
            Arg::List(items) => Input::List(
                items
                    .iter()
                    .map(|a| self.arg(a))
                    .collect::<barrow_core::Result<_>>()?,
            ),
            Arg::Call(call) => Input::Value(self.call(call)?),
            Arg::Fused(fused) => Input::Value(self.call(&fused.1)?),
        })
    }
}

/// Checks that `collection` can run in worker processes, runs it as one
/// would (its raw graph and its optimized, fused graph), and checks the
/// results equal a local run's exactly; returns the local result.
pub fn ship<C>(collection: &C) -> C::Output
where
    C: Collection + Clone,
    C::Output: PartialEq + std::fmt::Debug,
{
    let graph = collection.graph().expect("graph");
    let keys = collection.output_keys();
    let registry = Registry::global();
    if let Err(e) = barrow_wire::check_serializable(&graph, registry) {
        panic!("not shippable: {e}");
    }
    let optimized = barrow_core::optimize::optimize(&graph, &keys).expect("optimize");
    if let Err(e) = barrow_wire::check_serializable(&optimized, registry) {
        panic!("optimized graph not shippable: {e}");
    }
    let local = barrow_core::compute_with(collection.clone(), &Options::new().scheduler("sync"))
        .expect("local compute");
    for g in [&graph, &optimized] {
        let values = run(g, &keys).expect("remote run");
        let remote = collection.finalize(values).expect("finalize");
        assert_eq!(remote, local);
    }
    local
}
