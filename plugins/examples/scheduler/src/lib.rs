//! `lifo-example`: an example Barrow plugin that provides a scheduler,
//! `lifo`: single-threaded and depth-first, like Dask's synchronous
//! scheduler. Of the tasks ready to run it runs the one that became ready
//! last, so a chain of tasks runs to its end before the next chain starts
//! and intermediate results are released early, keeping memory low.
//!
//! # Loading it
//!
//! ```text
//! cargo build --release -p barrow-example-scheduler
//! BARROW_PLUGINS__PATHS=target/release BARROW_PLUGINS__LOAD=lifo-example \
//! BARROW_SCHEDULER=lifo my-program
//! ```
//!
//! or by the path of the file:
//! `BARROW_PLUGINS__LOAD=target/release/libbarrow_example_scheduler.so`.
//! Scheduler names are not namespaced: the scheduler is chosen as `lifo`.
//!
//! # The algorithm
//!
//! [`run_lifo`] is the scheduler over any [`TaskGraph`], with closures to
//! run and release tasks, so it is tested without a host. It counts each
//! task's dependencies not yet run and each task's dependents not yet run;
//! a task whose count of dependencies reaches 0 goes on a stack of ready
//! tasks; a task whose dependents have all run, and whose result was not
//! asked for, is released. Tasks left over when the stack empties sit on a
//! cycle, or wait on one: that is an error naming one of them.

use barrow_plugin::{Error, Graph, Plugin, Result, Runner, Scheduler, export_plugin};

/// The plugin: its scheduler, exported as this library's root module.
pub static PLUGIN: Plugin = Plugin {
    name: "lifo-example",
    version: env!("CARGO_PKG_VERSION"),
    description: "A depth-first, single-threaded scheduler.",
    schedulers: &[Scheduler {
        name: "lifo",
        doc: "Single-threaded and depth-first (Dask's synchronous scheduler): runs the task \
              that became ready last, so chains run to their end before others start and \
              results are released as soon as their last dependent has run.",
        run: lifo,
    }],
    ..Plugin::EMPTY
};

export_plugin!(PLUGIN);

fn lifo(graph: &Graph<'_>, runner: &Runner<'_>) -> Result<()> {
    run_lifo(graph, |task| runner.run(task), |task| runner.release(task))
}

/// A task graph as [`run_lifo`] reads it: tasks `0..len()`, each with the
/// tasks it needs. Implemented for the host's [`Graph`].
pub trait TaskGraph {
    /// How many tasks.
    fn len(&self) -> usize;

    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tasks task `task` needs (a task may be listed more than once).
    fn dependencies(&self, task: usize) -> &[usize];

    /// Task `task`'s key, for errors.
    fn key(&self, task: usize) -> &str;

    /// The tasks whose results were asked for: never released.
    fn outputs(&self) -> &[usize];
}

impl TaskGraph for Graph<'_> {
    fn len(&self) -> usize {
        Graph::len(self)
    }

    fn dependencies(&self, task: usize) -> &[usize] {
        Graph::dependencies(self, task)
    }

    fn key(&self, task: usize) -> &str {
        Graph::key(self, task)
    }

    fn outputs(&self) -> &[usize] {
        Graph::outputs(self)
    }
}

/// Runs every task of `graph` once, each after its dependencies, depth
/// first: `run(task)` runs one (its error stops the schedule and is
/// returned), `release(task)` says no task left needs its result (never
/// called for an output). An error, before anything runs, if a task names a
/// task that does not exist; an error naming a stuck task if some tasks
/// can never run (a cycle).
pub fn run_lifo<G: TaskGraph + ?Sized>(
    graph: &G,
    mut run: impl FnMut(usize) -> Result<()>,
    mut release: impl FnMut(usize),
) -> Result<()> {
    let n = graph.len();
    let mut is_output = vec![false; n];
    for &task in graph.outputs() {
        *is_output.get_mut(task).ok_or_else(|| {
            Error::new(format!("output {task} is not a task of this graph of {n}"))
        })? = true;
    }
    // Counts include repeats: a task listing a dependency twice waits on it
    // twice, and is one of its dependents twice.
    let mut waiting_on: Vec<usize> = (0..n).map(|t| graph.dependencies(t).len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for task in 0..n {
        for &dependency in graph.dependencies(task) {
            dependents
                .get_mut(dependency)
                .ok_or_else(|| {
                    Error::new(format!(
                        "task '{}' depends on task {dependency}, which is not in this graph of {n}",
                        graph.key(task)
                    ))
                })?
                .push(task);
        }
    }
    let mut needed_by: Vec<usize> = dependents.iter().map(Vec::len).collect();

    // Reversed, so the first task by index pops first.
    let mut ready: Vec<usize> = (0..n).rev().filter(|&t| waiting_on[t] == 0).collect();
    let mut ran = 0;
    while let Some(task) = ready.pop() {
        run(task)?;
        ran += 1;
        for &dependency in graph.dependencies(task) {
            needed_by[dependency] -= 1;
            if needed_by[dependency] == 0 && !is_output[dependency] {
                release(dependency);
            }
        }
        // A result no task needs and no one asked for goes at once.
        if dependents[task].is_empty() && !is_output[task] {
            release(task);
        }
        // Reversed, so the first dependent made ready runs next.
        for &dependent in dependents[task].iter().rev() {
            waiting_on[dependent] -= 1;
            if waiting_on[dependent] == 0 {
                ready.push(dependent);
            }
        }
    }

    if ran < n {
        let stuck = (0..n).find(|&t| waiting_on[t] > 0).unwrap_or(0);
        let blocker = graph
            .dependencies(stuck)
            .iter()
            .find(|&&d| waiting_on[d] > 0)
            .map_or_else(String::new, |&d| {
                format!(" (it waits on '{}')", graph.key(d))
            });
        return Err(Error::new(format!(
            "{} of {n} tasks can never run: the graph has a cycle; task '{}' is stuck{blocker}",
            n - ran,
            graph.key(stuck)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{PLUGIN, TaskGraph, run_lifo};
    use barrow_plugin::Result;

    /// A graph for tests: keys are `t<index>`.
    struct Dag {
        dependencies: Vec<Vec<usize>>,
        outputs: Vec<usize>,
        keys: Vec<String>,
    }

    impl Dag {
        fn new(dependencies: &[&[usize]], outputs: &[usize]) -> Dag {
            Dag {
                dependencies: dependencies.iter().map(|d| d.to_vec()).collect(),
                outputs: outputs.to_vec(),
                keys: (0..dependencies.len()).map(|i| format!("t{i}")).collect(),
            }
        }
    }

    impl TaskGraph for Dag {
        fn len(&self) -> usize {
            self.dependencies.len()
        }
        fn dependencies(&self, task: usize) -> &[usize] {
            &self.dependencies[task]
        }
        fn key(&self, task: usize) -> &str {
            &self.keys[task]
        }
        fn outputs(&self) -> &[usize] {
            &self.outputs
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Event {
        Run(usize),
        Release(usize),
    }

    fn schedule(dag: &Dag) -> Result<Vec<Event>> {
        let events = std::cell::RefCell::new(Vec::new());
        run_lifo(
            dag,
            |t| {
                events.borrow_mut().push(Event::Run(t));
                Ok(())
            },
            |t| events.borrow_mut().push(Event::Release(t)),
        )?;
        Ok(events.into_inner())
    }

    /// Checks every invariant of a schedule of `dag`: each task runs once,
    /// after its dependencies; a result is released once, after its last
    /// dependent ran, only if it is not an output, and every non-output is
    /// released by the end.
    fn check(dag: &Dag, events: &[Event]) {
        let n = dag.len();
        let position = |e: Event| events.iter().position(|&x| x == e);
        for task in 0..n {
            let count = |e: Event| events.iter().filter(|&&x| x == e).count();
            assert_eq!(count(Event::Run(task)), 1, "t{task} runs once: {events:?}");
            let ran = position(Event::Run(task)).unwrap();
            for &d in dag.dependencies(task) {
                let dep_ran = position(Event::Run(d)).unwrap();
                assert!(dep_ran < ran, "t{d} before t{task}: {events:?}");
                if let Some(released) = position(Event::Release(d)) {
                    assert!(
                        ran < released,
                        "t{d} released before t{task} ran: {events:?}"
                    );
                }
            }
            let output = dag.outputs().contains(&task);
            assert_eq!(
                count(Event::Release(task)),
                usize::from(!output),
                "t{task} (output: {output}) released once unless an output: {events:?}"
            );
            if let Some(released) = position(Event::Release(task)) {
                assert!(ran < released, "t{task} released before it ran: {events:?}");
            }
        }
    }

    fn runs(events: &[Event]) -> Vec<usize> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Run(t) => Some(*t),
                Event::Release(_) => None,
            })
            .collect()
    }

    #[test]
    fn chains_run_depth_first() {
        // Two chains 0 -> 1 -> 2 and 3 -> 4 -> 5, joined by 6.
        let dag = Dag::new(&[&[], &[0], &[1], &[], &[3], &[4], &[2, 5]], &[6]);
        let events = schedule(&dag).unwrap();
        check(&dag, &events);
        assert_eq!(runs(&events), [0, 1, 2, 3, 4, 5, 6]);
        // Each link is released as soon as the next one ran.
        assert_eq!(
            &events[..4],
            [
                Event::Run(0),
                Event::Run(1),
                Event::Release(0),
                Event::Run(2)
            ]
        );
    }

    #[test]
    fn a_task_made_ready_last_runs_first() {
        // 0 feeds 1 and 2; 3 is independent. Depth first: 1 and 2 (made
        // ready by 0) run before 3, which was ready from the start.
        let dag = Dag::new(&[&[], &[0], &[0], &[]], &[1, 2, 3]);
        let events = schedule(&dag).unwrap();
        check(&dag, &events);
        assert_eq!(runs(&events), [0, 1, 2, 3]);
    }

    #[test]
    fn outputs_are_never_released_even_when_others_need_them() {
        // 1 is an output that 2 also needs.
        let dag = Dag::new(&[&[], &[0], &[1]], &[1, 2]);
        let events = schedule(&dag).unwrap();
        check(&dag, &events);
        assert!(events.contains(&Event::Release(0)));
        assert!(!events.contains(&Event::Release(1)));
        assert!(!events.contains(&Event::Release(2)));
    }

    #[test]
    fn a_result_nobody_needs_is_released_at_once() {
        let dag = Dag::new(&[&[], &[]], &[1]);
        let events = schedule(&dag).unwrap();
        assert_eq!(events, [Event::Run(0), Event::Release(0), Event::Run(1)]);
    }

    #[test]
    fn a_dependency_listed_twice_is_released_once_after_its_dependent() {
        let dag = Dag::new(&[&[], &[0, 0], &[0]], &[1, 2]);
        let events = schedule(&dag).unwrap();
        check(&dag, &events);
        assert_eq!(events.last(), Some(&Event::Release(0)));
    }

    #[test]
    fn an_empty_graph_runs_nothing() {
        assert_eq!(schedule(&Dag::new(&[], &[])).unwrap(), []);
    }

    #[test]
    fn a_cycle_is_an_error_naming_a_stuck_task() {
        // 0 runs; 1 and 2 wait on each other; 3 waits on the cycle.
        let dag = Dag::new(&[&[], &[0, 2], &[1], &[2]], &[3]);
        let err = schedule(&dag).unwrap_err();
        assert!(
            err.message().contains("3 of 4 tasks can never run"),
            "{err}"
        );
        assert!(
            err.message()
                .contains("task 't1' is stuck (it waits on 't2')"),
            "{err}"
        );

        let err = schedule(&Dag::new(&[&[0]], &[0])).unwrap_err();
        assert!(
            err.message()
                .contains("task 't0' is stuck (it waits on 't0')"),
            "{err}"
        );
    }

    #[test]
    fn a_dependency_outside_the_graph_is_an_error_before_anything_runs() {
        let dag = Dag::new(&[&[], &[7]], &[1]);
        let mut ran = Vec::new();
        let err = run_lifo(
            &dag,
            |t| {
                ran.push(t);
                Ok(())
            },
            |_| {},
        )
        .unwrap_err();
        assert!(err.message().contains("'t1' depends on task 7"), "{err}");
        assert!(ran.is_empty());

        let err = schedule(&Dag::new(&[&[]], &[3])).unwrap_err();
        assert!(err.message().contains("output 3"), "{err}");
    }

    #[test]
    fn a_failing_task_stops_the_schedule() {
        let dag = Dag::new(&[&[], &[0], &[1]], &[2]);
        let mut ran = Vec::new();
        let err = run_lifo(
            &dag,
            |t| {
                ran.push(t);
                if t == 1 {
                    Err("task t1 failed".into())
                } else {
                    Ok(())
                }
            },
            |_| {},
        )
        .unwrap_err();
        assert_eq!(err.message(), "task t1 failed");
        assert_eq!(ran, [0, 1]);
    }

    /// A pseudo-random DAG: each task depends on up to 3 earlier tasks
    /// (xorshift, so the test is the same on every run).
    fn random_dag(n: usize, seed: u64) -> Dag {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let dependencies: Vec<Vec<usize>> = (0..n)
            .map(|t| {
                if t == 0 {
                    return Vec::new();
                }
                let k = (next() % 4) as usize;
                (0..k).map(|_| (next() % t as u64) as usize).collect()
            })
            .collect();
        let outputs: Vec<usize> = (0..n).filter(|_| next() % 5 == 0).collect();
        Dag {
            keys: (0..n).map(|i| format!("t{i}")).collect(),
            dependencies,
            outputs,
        }
    }

    #[test]
    fn random_graphs_keep_every_invariant() {
        for seed in 1..200 {
            let dag = random_dag(1 + (seed as usize * 7) % 60, seed);
            let events = schedule(&dag).unwrap();
            check(&dag, &events);
        }
    }

    #[test]
    fn the_plugin_names_its_scheduler_lifo() {
        assert_eq!(PLUGIN.schedulers.len(), 1);
        assert_eq!(PLUGIN.schedulers[0].name, "lifo");
    }

    /// The exported scheduler, through the entry point a host calls: every
    /// task runs after its dependencies, results nobody needs are released,
    /// outputs are kept, and a cycle is an error.
    #[test]
    fn the_exported_scheduler_runs_a_diamond_through_the_host_entry_point() {
        use barrow_plugin::testing;
        let diamond = [vec![], vec![0], vec![0], vec![1, 2]];
        let done = testing::schedule(&PLUGIN, "lifo", &diamond, &[3]).unwrap();
        assert_eq!(done.ran.len(), 4);
        assert_eq!(done.ran.first(), Some(&0));
        assert_eq!(done.ran.last(), Some(&3));
        let mut released = done.released.clone();
        released.sort_unstable();
        assert_eq!(released, [0, 1, 2]);
        let err = testing::schedule(&PLUGIN, "lifo", &[vec![1], vec![0]], &[0]).unwrap_err();
        assert!(err.message().contains("stuck"), "{err}");
    }
}
