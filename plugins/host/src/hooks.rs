//! A plugin's hooks on a cluster's events, registered as the process's
//! cluster hooks (`barrow_core::hooks`): each event crosses the boundary
//! as borrowed strings, and a hook's error or panic (caught on the
//! plugin's side) comes back as an error naming the hook.

use abi_stable::std_types::{RErr, ROk, RStr};
use barrow_core::hooks::{ClusterEvent, ClusterHook};
use barrow_core::{Error as CoreError, ErrorKind};
use barrow_plugin::abi::{AbiEvent, AbiEventKind, HooksTable};

/// Hook `index` of a plugin's table, under its full name.
pub(crate) struct PluginHook {
    pub(crate) name: String,
    pub(crate) table: &'static HooksTable,
    pub(crate) index: usize,
}

impl ClusterHook for PluginHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_event(&self, event: &ClusterEvent<'_>) -> barrow_core::Result<()> {
        match (self.table.on_event)(self.index, &abi_event(event)) {
            ROk(()) => Ok(()),
            RErr(e) => Err(CoreError::new(
                ErrorKind::TaskFailed,
                if e.panicked {
                    format!("hook {} panicked: {}", self.name, e.message)
                } else {
                    format!("hook {} failed: {}", self.name, e.message)
                },
            )),
        }
    }
}

fn abi_event<'a>(event: &ClusterEvent<'a>) -> AbiEvent<'a> {
    let empty = RStr::from("");
    let mut out = AbiEvent {
        kind: AbiEventKind::SchedulerClosing,
        worker: empty,
        key: empty,
        from: empty,
        to: empty,
        detail: empty,
    };
    match *event {
        ClusterEvent::WorkerStarted { worker } => {
            out.kind = AbiEventKind::WorkerStarted;
            out.worker = worker.into();
        }
        ClusterEvent::WorkerClosing { worker, reason } => {
            out.kind = AbiEventKind::WorkerClosing;
            out.worker = worker.into();
            out.detail = reason.into();
        }
        ClusterEvent::SchedulerStarted { address } => {
            out.kind = AbiEventKind::SchedulerStarted;
            out.detail = address.into();
        }
        ClusterEvent::SchedulerClosing => {}
        ClusterEvent::WorkerAdded { worker } => {
            out.kind = AbiEventKind::WorkerAdded;
            out.worker = worker.into();
        }
        ClusterEvent::WorkerRemoved { worker, reason } => {
            out.kind = AbiEventKind::WorkerRemoved;
            out.worker = worker.into();
            out.detail = reason.into();
        }
        ClusterEvent::Transition {
            key,
            from,
            to,
            worker,
        } => {
            out.kind = AbiEventKind::Transition;
            out.key = key.into();
            out.from = from.into();
            out.to = to.into();
            out.worker = worker.into();
        }
    }
    out
}
