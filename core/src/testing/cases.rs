//! The conformance cases. Each takes the scheduler under test and panics
//! (as tests do) when it misbehaves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::support::{DropCounter, RecordedEvent, Recorder, run, run_with};
use crate::callback::{Callback, TaskEvent};
use crate::error::ErrorKind;
use crate::function::{Func, List};
use crate::graph::{Graph, Layer};
use crate::key::Key;
use crate::options::Options;
use crate::scheduler::Scheduler;
use crate::store::{MemoryStore, Store};
use crate::task::Task;
use crate::task::arg::{call, key, keys, list, lit};
use crate::value::Value;

fn add() -> Func {
    Func::new("add", |a: &i64, b: &i64| a + b)
}

fn inc() -> Func {
    Func::new("inc", |x: &i64| x + 1)
}

fn sum() -> Func {
    Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>())
}

fn ints(values: &[Value]) -> Vec<i64> {
    values
        .iter()
        .map(|v| *v.downcast_ref::<i64>().expect("an i64 result"))
        .collect()
}

fn get_ints<S: Scheduler + ?Sized>(s: &S, graph: &Graph, wanted: &[&str]) -> Vec<i64> {
    let wanted: Vec<Key> = wanted.iter().map(|k| Key::new(*k)).collect();
    ints(&run(s, graph, &wanted).expect("the graph runs"))
}

/// Dask's seed example: `{'a': 1, 'b': 2, 'c': (add, 'a', 'b'), 'd': (sum, ['a', 'b', 'c'])}`.
pub fn seed_example<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
        ("c", Task::call(&add(), [key("a"), key("b")])),
        ("d", Task::call(&sum(), [keys(["a", "b", "c"])])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["c"]), [3]);
    assert_eq!(get_ints(s, &graph, &["d"]), [6]);
    assert_eq!(get_ints(s, &graph, &["a", "b", "c"]), [1, 2, 3]);
}

/// Dask's `test_get`: single keys and lists of keys.
pub fn get_single_and_many<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        (":x", Task::literal(1i64)),
        (":y", Task::call(&inc(), [key(":x")])),
        (":z", Task::call(&add(), [key(":x"), key(":y")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &[":x"]), [1]);
    assert_eq!(get_ints(s, &graph, &[":y"]), [2]);
    assert_eq!(get_ints(s, &graph, &[":z"]), [3]);
    assert_eq!(get_ints(s, &graph, &[":x", ":y", ":z"]), [1, 2, 3]);
}

/// Dask's `test_data_not_in_dict_is_ok`: literals inside calls.
pub fn literal_arguments<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&add(), [key("x"), lit(10i64)])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["y"]), [11]);
}

/// Dask's `test_nested_tasks`: `(add, (inc, 'x'), 'y')`, and deeper.
pub fn nested_calls<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&inc(), [key("x")])),
        (
            "z",
            Task::call(&add(), [call(&inc(), [key("x")]), key("y")]),
        ),
        (
            "deep",
            Task::call(
                &inc(),
                [call(
                    &inc(),
                    [call(&add(), [call(&inc(), [key("z")]), lit(10i64)])],
                )],
            ),
        ),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["z"]), [4]);
    assert_eq!(get_ints(s, &graph, &["deep"]), [17]);
}

/// List arguments with keys, literals, nested calls and nested lists.
pub fn lists_of_arguments<S: Scheduler + ?Sized>(s: &S) {
    let total = Func::new("nested-total", |outer: crate::function::Raw| -> i64 {
        fn walk(input: &crate::function::Input) -> i64 {
            match input {
                crate::function::Input::Value(v) => *v.downcast_ref::<i64>().expect("i64"),
                crate::function::Input::List(items) => items.iter().map(walk).sum(),
            }
        }
        walk(outer.0)
    });
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
        (
            "s",
            Task::call(
                &sum(),
                [list([key("a"), lit(10i64), call(&inc(), [key("b")])])],
            ),
        ),
        (
            "n",
            Task::call(
                &total,
                [list([list([key("a"), lit(5i64)]), list([]), key("s")])],
            ),
        ),
        ("empty", Task::call(&sum(), [list([])])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["s", "n", "empty"]), [14, 20, 0]);
}

/// Aliases, chained.
pub fn aliases<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::alias("a")),
        ("c", Task::alias("b")),
        ("d", Task::call(&inc(), [key("c")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["c", "d", "b"]), [1, 2, 1]);
}

/// Tuple keys such as `('x', 0)`.
pub fn tuple_keys<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        (Key::from(("x", 0)), Task::literal(1i64)),
        (Key::from(("x", 1)), Task::literal(2i64)),
        (
            Key::from(("y", 0, 0)),
            Task::call(&add(), [key(("x", 0)), key(("x", 1))]),
        ),
        (Key::new("x"), Task::literal(100i64)),
    ])
    .expect("a valid graph");
    let out = run(s, &graph, &[Key::from(("y", 0, 0)), Key::new("x")]).expect("the graph runs");
    assert_eq!(ints(&out), [3, 100]);
}

/// A literal task asked for directly.
pub fn literal_requested_directly<S: Scheduler + ?Sized>(s: &S) {
    let graph =
        Graph::from_tasks([("x", Task::literal(String::from("hello")))]).expect("a valid graph");
    let out = run(s, &graph, &[Key::new("x")]).expect("the graph runs");
    assert_eq!(out[0].downcast_ref::<String>().expect("a string"), "hello");
}

/// One key asked for twice comes back twice.
pub fn repeated_requests<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&inc(), [key("x")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["y", "x", "y"]), [2, 1, 2]);
}

/// `(add, 'x', 'x')` reads one result twice.
pub fn same_key_read_twice<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(21i64)),
        ("y", Task::call(&add(), [key("x"), key("x")])),
        ("z", Task::call(&add(), [key("y"), key("y")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["z"]), [84]);
}

/// Dask's `test_badkey`: a requested key not in the graph.
pub fn missing_key<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([("x", Task::literal(1i64))]).expect("a valid graph");
    let err = run(s, &graph, &[Key::new("badkey")]).expect_err("badkey is not in the graph");
    assert_eq!(err.kind(), ErrorKind::MissingKey);
    assert_eq!(err.key(), Some(&Key::new("badkey")));
    assert!(err.to_string().contains("badkey"), "{err}");
}

/// A dependency no task produces.
pub fn missing_dependency<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([("y", Task::call(&inc(), [key("nowhere")]))]).expect("a graph");
    let err = run(s, &graph, &[Key::new("y")]).expect_err("nowhere is missing");
    assert_eq!(err.kind(), ErrorKind::MissingDependency);
    assert_eq!(err.key(), Some(&Key::new("y")));
    assert!(err.to_string().contains("nowhere"), "{err}");
}

/// A cycle is an error listing its keys, never a hang.
pub fn cycle<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("a", Task::call(&inc(), [key("c")])),
        ("b", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&inc(), [key("b")])),
        ("out", Task::call(&inc(), [key("c")])),
    ])
    .expect("a graph");
    let err = run(s, &graph, &[Key::new("out")]).expect_err("a cycle");
    assert_eq!(err.kind(), ErrorKind::Cycle);
    let mut on_cycle: Vec<String> = err.cycle().iter().map(Key::to_string).collect();
    on_cycle.sort();
    on_cycle.dedup();
    assert_eq!(on_cycle, ["a", "b", "c"]);
}

/// Nothing asked of an empty graph gives nothing; a key asked of it is an
/// error saying the graph is empty.
pub fn empty_graph<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::new();
    assert!(run(s, &graph, &[]).expect("nothing to do").is_empty());
    let err = run(s, &graph, &[Key::new("x")]).expect_err("x is not there");
    assert_eq!(err.kind(), ErrorKind::MissingKey);
    assert!(err.to_string().contains("empty"), "{err}");
}

#[derive(Debug)]
struct Negative(i64);

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "negative input {}", self.0)
    }
}

impl std::error::Error for Negative {}

/// A failing task stops the run with its key, function, original error and
/// the keys waiting on it.
pub fn failing_task<S: Scheduler + ?Sized>(s: &S) {
    let checked = Func::try_new("checked-sqrt", |x: &i64| {
        if *x < 0 {
            Err(Negative(*x))
        } else {
            Ok((*x as f64).sqrt())
        }
    });
    let graph = Graph::from_tasks([
        ("x", Task::literal(-4i64)),
        ("root", Task::call(&checked, [key("x")])),
        ("w1", Task::alias("root")),
        ("w2", Task::alias("root")),
    ])
    .expect("a valid graph");
    let err = run(s, &graph, &[Key::new("w1"), Key::new("w2")]).expect_err("root fails");
    assert_eq!(err.kind(), ErrorKind::TaskFailed);
    assert_eq!(err.key(), Some(&Key::new("root")));
    assert_eq!(err.function(), Some("checked-sqrt"));
    let mut waiting: Vec<String> = err.dependents().iter().map(Key::to_string).collect();
    waiting.sort();
    assert_eq!(waiting, ["w1", "w2"]);
    assert!(
        err.source_as::<Negative>().is_some(),
        "the original error is kept: {err:?}"
    );
    assert!(err.to_string().contains("negative input -4"), "{err}");
}

/// A panic inside a task is caught and reported like a failure.
pub fn panicking_task<S: Scheduler + ?Sized>(s: &S) {
    let boom = Func::new("boom", |x: &i64| -> i64 {
        if *x > 0 {
            panic!("boom at {x}");
        }
        *x
    });
    let graph = Graph::from_tasks([
        ("x", Task::literal(3i64)),
        ("y", Task::call(&boom, [key("x")])),
    ])
    .expect("a valid graph");
    let err = run(s, &graph, &[Key::new("y")]).expect_err("y panics");
    assert!(err.is_panic());
    assert_eq!(err.key(), Some(&Key::new("y")));
    assert_eq!(err.function(), Some("boom"));
    assert!(err.to_string().contains("boom at 3"), "{err}");
    // The scheduler survives and runs the next graph.
    literal_arguments(s);
}

/// A task given a value of the wrong type fails naming the key and types.
pub fn wrong_type_in_task<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(String::from("one"))),
        ("y", Task::call(&inc(), [key("x")])),
    ])
    .expect("a valid graph");
    let err = run(s, &graph, &[Key::new("y")]).expect_err("a string is not an i64");
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert_eq!(err.key(), Some(&Key::new("y")));
    assert!(err.to_string().contains("expected i64"), "{err}");
    assert!(err.to_string().contains("String"), "{err}");
}

/// One failure among many independent branches ends the run, no hang.
pub fn failure_among_many_branches<S: Scheduler + ?Sized>(s: &S) {
    let fragile = Func::try_new("fragile", |x: &i64| {
        if *x == 137 {
            Err(format!("bad item {x}"))
        } else {
            Ok(*x)
        }
    });
    let mut tasks: Vec<(Key, Task)> = (0..500u32)
        .map(|i| {
            (
                Key::from(("f", i)),
                Task::call(&fragile, [lit(i64::from(i))]),
            )
        })
        .collect();
    tasks.push((
        Key::new("total"),
        Task::call(&sum(), [keys((0..500u32).map(|i| ("f", i)))]),
    ));
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let err = run(s, &graph, &[Key::new("total")]).expect_err("item 137 fails");
    assert_eq!(err.key(), Some(&Key::from(("f", 137))));
    assert!(err.to_string().contains("bad item 137"), "{err}");
}

/// Callbacks fire in order: start, pretask before posttask for each task,
/// finish last.
pub fn callbacks_in_order<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&inc(), [key("a")])),
        ("d", Task::call(&add(), [key("b"), key("c")])),
    ])
    .expect("a valid graph");
    let recorder = Recorder::new();
    let options = Options::new().callback(recorder.clone());
    run_with(s, &graph, &[Key::new("d")], &options).expect("the graph runs");
    let events = recorder.events();
    assert_eq!(events.first(), Some(&RecordedEvent::Start(4)));
    assert_eq!(
        events.last(),
        Some(&RecordedEvent::Finish { failed: false })
    );
    for name in ["a", "b", "c", "d"] {
        let k = Key::new(name);
        let pre: Vec<usize> = positions(&events, &RecordedEvent::Pretask(k.clone()));
        let post: Vec<usize> = positions(&events, &RecordedEvent::Posttask(k.clone()));
        assert_eq!(
            (pre.len(), post.len()),
            (1, 1),
            "{name} runs once: {events:?}"
        );
        assert!(pre[0] < post[0], "pretask before posttask for {name}");
    }
    let post = |name: &str| positions(&events, &RecordedEvent::Posttask(Key::new(name)))[0];
    let pre = |name: &str| positions(&events, &RecordedEvent::Pretask(Key::new(name)))[0];
    assert!(post("a") < pre("b") && post("a") < pre("c"));
    assert!(post("b") < pre("d") && post("c") < pre("d"));
    assert_eq!(events.len(), 10);
}

fn positions(events: &[RecordedEvent], wanted: &RecordedEvent) -> Vec<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| *e == wanted)
        .map(|(i, _)| i)
        .collect()
}

/// `finish` fires after a failure too, and says so.
pub fn callbacks_see_failure<S: Scheduler + ?Sized>(s: &S) {
    let fail = Func::try_new("fail", |_: &i64| Err::<i64, _>("no"));
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::call(&fail, [key("a")])),
    ])
    .expect("a valid graph");
    let recorder = Recorder::new();
    let options = Options::new().callback(recorder.clone());
    run_with(s, &graph, &[Key::new("b")], &options).expect_err("b fails");
    let events = recorder.events();
    assert_eq!(events.last(), Some(&RecordedEvent::Finish { failed: true }));
    assert!(!events.contains(&RecordedEvent::Posttask(Key::new("b"))));
}

/// Results no remaining task needs are dropped while the run goes on, not
/// at its end: along a chain, each link is freed once the next has run.
pub fn intermediates_freed_early<S: Scheduler + ?Sized>(s: &S) {
    let counter = DropCounter::new();
    let maker = counter.clone();
    let start = Func::new("start", move || maker.make(0));
    let next_counter = counter.clone();
    let step = Func::new("step", move |x: &super::support::Counted| {
        next_counter.make(x.value + 1)
    });
    let mut tasks = vec![(Key::from(("c", 0)), Task::call(&start, []))];
    for i in 1..20u32 {
        tasks.push((Key::from(("c", i)), Task::call(&step, [key(("c", i - 1))])));
    }
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let probe = Arc::new(AliveProbe {
        counter: counter.clone(),
        most_alive: AtomicUsize::new(0),
    });
    let options = Options::new().callback(probe.clone());
    let out = run_with(s, &graph, &[Key::from(("c", 19))], &options).expect("the chain runs");
    let last = out[0]
        .downcast_ref::<super::support::Counted>()
        .expect("a counted value");
    assert_eq!(last.value, 19);
    let most = probe.most_alive.load(Ordering::SeqCst);
    assert!(
        most <= 3,
        "at most 3 links alive at once along a chain, saw {most}"
    );
    drop(out);
    assert_eq!(counter.alive(), 0, "nothing leaks after the run");
}

struct AliveProbe {
    counter: Arc<DropCounter>,
    most_alive: AtomicUsize,
}

impl Callback for AliveProbe {
    fn posttask(&self, _task: &TaskEvent<'_>, _value: &Value) {
        self.most_alive
            .fetch_max(self.counter.alive(), Ordering::SeqCst);
    }
}

/// Requested results survive to the end even when other tasks read them.
pub fn outputs_kept_until_the_end<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("a", Task::literal(5i64)),
        ("b", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&inc(), [key("b")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["a", "b", "c"]), [5, 6, 7]);
}

/// Tasks no requested key needs are culled: they never run.
pub fn unrequested_tasks_do_not_run<S: Scheduler + ?Sized>(s: &S) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let counted = Func::new("counted", move |x: &i64| {
        seen.fetch_add(1, Ordering::SeqCst);
        *x
    });
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("used", Task::call(&counted, [key("x")])),
        ("unused", Task::call(&counted, [key("x")])),
        ("unused2", Task::call(&counted, [key("unused")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["used"]), [1]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// The store comes from the run's options, and is empty after the run.
pub fn store_from_the_context<S: Scheduler + ?Sized>(s: &S) {
    let puts = Arc::new(AtomicUsize::new(0));
    let left = Arc::new(Mutex::new(None));
    let (p, l) = (puts.clone(), left.clone());
    let options = Options::new().store(move || {
        Box::new(CountingStore {
            inner: MemoryStore::new(),
            puts: p.clone(),
            left: l.clone(),
        })
    });
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&inc(), [key("b")])),
    ])
    .expect("a valid graph");
    let out = run_with(s, &graph, &[Key::new("c")], &options).expect("the graph runs");
    assert_eq!(ints(&out), [3]);
    assert!(
        puts.load(Ordering::SeqCst) >= 2,
        "results went through the given store"
    );
    assert_eq!(
        *left.lock().expect("not poisoned"),
        Some(0),
        "the store is emptied"
    );
}

struct CountingStore {
    inner: MemoryStore,
    puts: Arc<AtomicUsize>,
    left: Arc<Mutex<Option<usize>>>,
}

impl Drop for CountingStore {
    fn drop(&mut self) {
        *self.left.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.inner.len());
    }
}

impl Store for CountingStore {
    fn put(&mut self, id: u32, key: &Key, value: Value) -> crate::Result<()> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put(id, key, value)
    }
    fn get(&mut self, id: u32, key: &Key) -> crate::Result<Option<Value>> {
        self.inner.get(id, key)
    }
    fn remove(&mut self, id: u32, key: &Key) -> crate::Result<()> {
        self.inner.remove(id, key)
    }
    fn contains(&self, id: u32) -> bool {
        self.inner.contains(id)
    }
    fn nbytes(&self) -> usize {
        self.inner.nbytes()
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
}

/// One scheduler object runs many graphs, including after a failure.
pub fn scheduler_is_reusable<S: Scheduler + ?Sized>(s: &S) {
    for i in 0..5 {
        seed_example(s);
        if i == 2 {
            failing_task(s);
        }
    }
}

/// Merged layers share their common work: it runs once.
pub fn layered_graph_shares_work<S: Scheduler + ?Sized>(s: &S) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let expensive = Func::new("expensive", move |x: &i64| {
        seen.fetch_add(1, Ordering::SeqCst);
        x * 10
    });
    let mut shared = Layer::new("shared");
    shared.insert("x", Task::literal(4i64)).expect("a new key");
    shared
        .insert("big", Task::call(&expensive, [key("x")]))
        .expect("a new key");
    let shared = Arc::new(shared);
    let mut left = Layer::new("left");
    left.insert("l", Task::call(&inc(), [key("big")]))
        .expect("a new key");
    let mut right = Layer::new("right");
    right
        .insert("r", Task::call(&add(), [key("big"), key("x")]))
        .expect("a new key");
    let mut a = Graph::from_layer(shared.clone());
    a.add_layer(Arc::new(left)).expect("no conflict");
    let mut b = Graph::from_layer(shared);
    b.add_layer(Arc::new(right)).expect("no conflict");
    let merged = Graph::merge_all([&a, &b]).expect("no conflict");
    assert_eq!(merged.layers().len(), 3, "the shared layer appears once");
    assert_eq!(get_ints(s, &merged, &["l", "r"]), [41, 44]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A tree reduction over 4,096 inputs never holds more than a few dozen
/// results at once: ready tasks are taken in `order`'s priority, which
/// finishes one branch before starting the next.
pub fn reduction_streams_through_memory<S: Scheduler + ?Sized>(s: &S) {
    let counter = DropCounter::new();
    let maker = counter.clone();
    let leaf = Func::new("leaf", move |i: &i64| maker.make(*i));
    let joiner = counter.clone();
    let join = Func::new(
        "join",
        move |a: &super::support::Counted, b: &super::support::Counted| {
            joiner.make(a.value + b.value)
        },
    );
    let levels = 12u32;
    let mut tasks = Vec::new();
    for i in 0..1u32 << levels {
        tasks.push((
            Key::from(("t", 0, i)),
            Task::call(&leaf, [lit(i64::from(i))]),
        ));
    }
    for level in 1..=levels {
        for i in 0..1u32 << (levels - level) {
            tasks.push((
                Key::from(("t", level, i)),
                Task::call(
                    &join,
                    [
                        key(("t", level - 1, 2 * i)),
                        key(("t", level - 1, 2 * i + 1)),
                    ],
                ),
            ));
        }
    }
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let probe = Arc::new(AliveProbe {
        counter: counter.clone(),
        most_alive: AtomicUsize::new(0),
    });
    let options = Options::new().callback(probe.clone());
    let out = run_with(s, &graph, &[Key::from(("t", levels, 0))], &options).expect("the tree runs");
    let n = 1i64 << levels;
    let root = out[0]
        .downcast_ref::<super::support::Counted>()
        .expect("a counted value");
    assert_eq!(root.value, n * (n - 1) / 2);
    let most = probe.most_alive.load(Ordering::SeqCst);
    assert!(
        most <= 64,
        "a tree reduction of 4096 leaves held {most} results at once"
    );
}

/// 100,000 independent tasks and one sum over all of them.
pub fn independent_100k<S: Scheduler + ?Sized>(s: &S) {
    let n = 100_000u32;
    let add = add();
    let one = Value::new(1i64);
    let mut tasks: Vec<(Key, Task)> = (0..n)
        .map(|i| {
            let i_value = crate::task::arg::lit(i64::from(i));
            (
                Key::from(("x", i)),
                Task::call(&add, [i_value, crate::task::arg::value(one.clone())]),
            )
        })
        .collect();
    tasks.push((
        Key::new("total"),
        Task::call(&sum(), [keys((0..n).map(|i| ("x", i)))]),
    ));
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let n = i64::from(n);
    assert_eq!(get_ints(s, &graph, &["total"]), [n * (n - 1) / 2 + n]);
}

/// A chain of 100,000 tasks (no recursion may overflow the stack).
pub fn chain_100k<S: Scheduler + ?Sized>(s: &S) {
    let n = 100_000u32;
    let add = add();
    let mut tasks = vec![(
        Key::from(("c", 0)),
        Task::call(&add, [lit(0i64), lit(1i64)]),
    )];
    for i in 1..n {
        tasks.push((
            Key::from(("c", i)),
            Task::call(&add, [key(("c", i - 1)), lit(1i64)]),
        ));
    }
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let out = run(s, &graph, &[Key::from(("c", n - 1))]).expect("the chain runs");
    assert_eq!(ints(&out), [i64::from(n)]);
}

/// A binary reduction tree over 2^16 leaves (131,071 tasks).
pub fn tree_100k<S: Scheduler + ?Sized>(s: &S) {
    let levels = 16u32;
    let add = add();
    let mut tasks = Vec::new();
    for i in 0..1u32 << levels {
        tasks.push((
            Key::from(("t", 0, i)),
            Task::call(&add, [lit(i64::from(i)), lit(1i64)]),
        ));
    }
    for level in 1..=levels {
        for i in 0..1u32 << (levels - level) {
            tasks.push((
                Key::from(("t", level, i)),
                Task::call(
                    &add,
                    [
                        key(("t", level - 1, 2 * i)),
                        key(("t", level - 1, 2 * i + 1)),
                    ],
                ),
            ));
        }
    }
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let out = run(s, &graph, &[Key::from(("t", levels, 0))]).expect("the tree runs");
    let n = 1i64 << levels;
    assert_eq!(ints(&out), [n * (n - 1) / 2 + n]);
}
