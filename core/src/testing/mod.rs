//! The scheduler conformance suite: the cases every scheduler must pass
//! (after Dask's `GetFunctionTestMixin` and `test_local.py`), runnable by any
//! scheduler crate, built-in or third-party, with one line:
//!
//! ```
//! # use std::sync::Arc;
//! # use barrow_core::reference::ReferenceScheduler;
//! # macro_rules! check { () => {
//! barrow_core::scheduler_conformance!(Arc::new(ReferenceScheduler));
//! # } }
//! ```
//!
//! which expands to one `#[test]` per case in [`cases`] (`small:` before the
//! expression leaves out the three 100,000-task graphs). Enable the
//! `testing` feature of `barrow-core` in `[dev-dependencies]`.
#![allow(
    clippy::expect_used,
    reason = "the cases are tests: a failed expectation is a failed test"
)]

pub mod cases;
pub mod child;
pub mod functions;
mod support;

pub use support::{DropCounter, RecordedEvent, Recorder, run, run_with};

/// Expands to one `#[test]` function per conformance case, each running the
/// case against the scheduler the expression makes (an
/// `Arc<dyn Scheduler>`, evaluated once per test). Some cases build 100,000
/// task graphs; they take well under a second on a real scheduler in an
/// optimized build.
///
/// - `scheduler_conformance!(make)`: every case.
/// - `scheduler_conformance!(small: make)`: every case but the three graphs
///   of 100,000 tasks, for schedulers wrapped in something slower (a spilling
///   store, say) whose plain form already runs the large cases.
/// - `scheduler_conformance!(shipped: make)`: the small cases whose tasks
///   call only functions registered by name ([`functions`]) and observe the
///   run through callbacks, for schedulers that run tasks in other processes.
///   It leaves out the cases that watch values from inside the caller's
///   process (drop counters, an error's original type).
/// - `scheduler_conformance!(cluster: make)`: the shipped cases but the one
///   about the run's store, for schedulers that keep intermediate results
///   on other machines rather than in the caller's store.
#[macro_export]
macro_rules! scheduler_conformance {
    ($make:expr) => {
        $crate::scheduler_conformance!(small: $make);
        $crate::scheduler_conformance!(@cases $make; independent_100k, chain_100k, tree_100k);
    };
    (small: $make:expr) => {
        $crate::scheduler_conformance!(shipped: $make);
        $crate::scheduler_conformance!(@cases $make;
            failing_task_keeps_its_error, intermediates_freed_early,
            reduction_streams_through_memory
        );
    };
    (shipped: $make:expr) => {
        $crate::scheduler_conformance!(cluster: $make);
        $crate::scheduler_conformance!(@cases $make; store_from_the_context);
    };
    (cluster: $make:expr) => {
        $crate::scheduler_conformance!(@cases $make;
            seed_example, get_single_and_many, literal_arguments, nested_calls, lists_of_arguments,
            aliases, tuple_keys, literal_requested_directly, repeated_requests, same_key_read_twice,
            missing_key, missing_dependency, cycle, empty_graph, failing_task, panicking_task,
            wrong_type_in_task, failure_among_many_branches, callbacks_in_order,
            callbacks_bracket_running_tasks,
            callbacks_see_failure, outputs_kept_until_the_end, unrequested_tasks_do_not_run,
            scheduler_is_reusable, layered_graph_shares_work
        );
        $crate::scheduler_conformance!(@shared $make; cycle_as_written);
    };
    (@shared $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let scheduler: ::std::sync::Arc<dyn $crate::Scheduler> = $make;
                $crate::testing::cases::$case(scheduler);
            }
        )*
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let scheduler: ::std::sync::Arc<dyn $crate::Scheduler> = $make;
                $crate::testing::cases::$case(&*scheduler);
            }
        )*
    };
}
