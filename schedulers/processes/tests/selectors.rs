//! Tasks whose function is a selector (it picks a part out of its input,
//! as a shuffle's piece) run in the program itself, where their input
//! already is, instead of in a worker that would be sent the whole input;
//! other tasks still run in the workers.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow_core::arg::{key, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::function::{Function, Input, StaticFactory};
use barrow_core::{Func, Graph, Options, Result, Task, Value, compute_with};

barrow_processes::worker_entry!();

/// The process a task ran in.
#[barrow_core::task]
fn pid_of_worker(_x: &i64) -> u32 {
    std::process::id()
}

/// The process it ran in, as a selector.
struct PidSelector;

impl Function for PidSelector {
    fn name(&self) -> &str {
        "test.pid-selector"
    }

    fn call(&self, _inputs: &[Input]) -> Result<Value> {
        Ok(Value::new(std::process::id()))
    }

    fn is_selector(&self) -> bool {
        true
    }

    fn params(&self) -> Option<&[u8]> {
        Some(&[])
    }
}

inventory::submit! {
    StaticFactory { name: "test.pid-selector", make: |_| Ok(Func::from_function(PidSelector)) }
}

#[test]
fn selectors_run_in_the_program_and_other_tasks_in_workers() {
    let selector = Func::from_function(PidSelector);
    assert!(selector.is_selector());
    assert!(!pid_of_worker::func().is_selector());
    let graph = Graph::from_tasks([
        ("x", Task::call(&pid_of_worker::func(), [lit(1i64)])),
        ("y", Task::call(&selector, [key("x")])),
    ])
    .unwrap();
    let options = Options::new().scheduler("processes").num_workers(2);
    let out = compute_with(GraphKeys::new(graph, ["x", "y"]), &options).unwrap();
    let here = std::process::id();
    assert_ne!(
        *out[0].downcast_ref::<u32>().unwrap(),
        here,
        "x ran in a worker"
    );
    assert_eq!(*out[1].downcast_ref::<u32>().unwrap(), here, "y ran here");
}
