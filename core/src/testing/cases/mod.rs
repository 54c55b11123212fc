//! The conformance cases. Each takes the scheduler under test and panics
//! (as tests do) when it misbehaves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::support::{DropCounter, RecordedEvent, Recorder, run, run_with};
use crate::callback::{Callback, RunInfo, TaskEvent};
use crate::error::ErrorKind;
use crate::function::Func;
use crate::graph::{Graph, Layer};
use crate::key::Key;
use crate::options::Options;
use crate::scheduler::Scheduler;
use crate::store::{MemoryStore, Store};
use crate::task::Task;
use crate::task::arg::{call, key, keys, list, lit};
use crate::value::Value;

use crate::testing::functions::{add, inc, sum};

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

mod failures;
mod large;
mod memory;
mod model;

pub use failures::*;
pub use large::*;
pub use memory::*;
pub use model::*;
