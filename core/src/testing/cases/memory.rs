//! Cases on memory: early freeing, culling, the store, shared work, streaming.

use super::*;

/// Results no remaining task needs are dropped while the run goes on, not
/// at its end: along a chain, each link is freed once the next has run.
pub fn intermediates_freed_early<S: Scheduler + ?Sized>(s: &S) {
    let counter = DropCounter::new();
    let maker = counter.clone();
    let start = Func::new("start", move || maker.make(0));
    let next_counter = counter.clone();
    let step = Func::new("step", move |x: &crate::testing::support::Counted| {
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
        .downcast_ref::<crate::testing::support::Counted>()
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
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("used", Task::call(&inc(), [key("x")])),
        ("unused", Task::call(&inc(), [key("x")])),
        ("unused2", Task::call(&inc(), [key("unused")])),
    ])
    .expect("a valid graph");
    let recorder = Recorder::new();
    let options = Options::new().callback(recorder.clone());
    let out = run_with(s, &graph, &[Key::new("used")], &options).expect("the graph runs");
    assert_eq!(ints(&out), [2]);
    let events = recorder.events();
    for unused in ["unused", "unused2"] {
        assert!(
            !events.contains(&RecordedEvent::Pretask(Key::new(unused))),
            "{unused} ran: {events:?}"
        );
    }
    assert_eq!(recorder.count(&RecordedEvent::Pretask(Key::new("used"))), 1);
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
    let expensive = add();
    let mut shared = Layer::new("shared");
    shared.insert("x", Task::literal(4i64)).expect("a new key");
    shared
        .insert("big", Task::call(&expensive, [key("x"), lit(36i64)]))
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
    let recorder = Recorder::new();
    let options = Options::new().callback(recorder.clone());
    let out =
        run_with(s, &merged, &[Key::new("l"), Key::new("r")], &options).expect("the graph runs");
    assert_eq!(ints(&out), [41, 44]);
    assert_eq!(
        recorder.count(&RecordedEvent::Pretask(Key::new("big"))),
        1,
        "the shared task runs once"
    );
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
        move |a: &crate::testing::support::Counted, b: &crate::testing::support::Counted| {
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
        .downcast_ref::<crate::testing::support::Counted>()
        .expect("a counted value");
    assert_eq!(root.value, n * (n - 1) / 2);
    let most = probe.most_alive.load(Ordering::SeqCst);
    assert!(
        most <= 64,
        "a tree reduction of 4096 leaves held {most} results at once"
    );
}
