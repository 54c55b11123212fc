//! Cases on failing tasks and callbacks.

use super::*;

use crate::testing::functions::{Negative, boom, checked_sqrt, fail, fragile, names};

/// A failing task stops the run with its key, function, original error and
/// the keys waiting on it.
pub fn failing_task<S: Scheduler + ?Sized>(s: &S) {
    let checked = checked_sqrt();
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
    assert_eq!(err.function(), Some(names::CHECKED_SQRT));
    let mut waiting: Vec<String> = err.dependents().iter().map(Key::to_string).collect();
    waiting.sort();
    assert_eq!(waiting, ["w1", "w2"]);
    assert!(err.to_string().contains("negative input -4"), "{err}");
}

/// In the caller's process, a failing task keeps its original error value
/// as the source (across a process boundary only its text survives).
pub fn failing_task_keeps_its_error<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(-4i64)),
        ("root", Task::call(&checked_sqrt(), [key("x")])),
    ])
    .expect("a valid graph");
    let err = run(s, &graph, &[Key::new("root")]).expect_err("root fails");
    assert!(
        err.source_as::<Negative>().is_some(),
        "the original error is kept: {err:?}"
    );
}

/// A panic inside a task is caught and reported like a failure.
pub fn panicking_task<S: Scheduler + ?Sized>(s: &S) {
    let boom = boom();
    let graph = Graph::from_tasks([
        ("x", Task::literal(3i64)),
        ("y", Task::call(&boom, [key("x")])),
    ])
    .expect("a valid graph");
    let err = run(s, &graph, &[Key::new("y")]).expect_err("y panics");
    assert!(err.is_panic());
    assert_eq!(err.key(), Some(&Key::new("y")));
    assert_eq!(err.function(), Some(names::BOOM));
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
    let fragile = fragile();
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

/// `pretask` means a task started: at most as many tasks as the run has
/// workers are between their `pretask` and `posttask` at once, even when a
/// pool queues many more to its workers (Dask's local schedulers hold the
/// same), and each task sees one of each.
pub fn callbacks_bracket_running_tasks<S: Scheduler + ?Sized>(s: &S) {
    let width = 96u32;
    let mut tasks: Vec<(Key, Task)> = (0..width)
        .flat_map(|i| {
            [
                (Key::from(("x", i)), Task::literal(i64::from(i))),
                (Key::from(("y", i)), Task::call(&inc(), [key(("x", i))])),
            ]
        })
        .collect();
    tasks.push((
        Key::new("total"),
        Task::call(&sum(), [keys((0..width).map(|i| ("y", i)))]),
    ));
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let bracket = Arc::new(Bracket::default());
    let options = Options::new().callback(bracket.clone());
    let out = run_with(s, &graph, &[Key::new("total")], &options).expect("the graph runs");
    let expected: i64 = (1..=i64::from(width)).sum();
    assert_eq!(ints(&out), [expected]);
    let seen = bracket.lock();
    assert!(seen.workers > 0, "start gives the number of workers");
    assert!(
        seen.most_running <= seen.workers,
        "{} tasks were between pretask and posttask at once on {} workers",
        seen.most_running,
        seen.workers
    );
    let total = 2 * width as usize + 1;
    assert_eq!((seen.pretasks, seen.posttasks), (total, total));
}

/// Counts the tasks between `pretask` and `posttask`.
#[derive(Debug, Default)]
struct Bracket(Mutex<BracketState>);

#[derive(Debug, Default)]
struct BracketState {
    workers: usize,
    running: usize,
    most_running: usize,
    pretasks: usize,
    posttasks: usize,
}

impl Bracket {
    fn lock(&self) -> std::sync::MutexGuard<'_, BracketState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Callback for Bracket {
    fn start(&self, run: &RunInfo<'_>) {
        self.lock().workers = run.workers;
    }

    fn pretask(&self, _task: &TaskEvent<'_>) {
        let mut state = self.lock();
        state.pretasks += 1;
        state.running += 1;
        state.most_running = state.most_running.max(state.running);
    }

    fn posttask(&self, _task: &TaskEvent<'_>, _value: &Value) {
        let mut state = self.lock();
        state.posttasks += 1;
        state.running = state.running.saturating_sub(1);
    }
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
    let fail = fail();
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
