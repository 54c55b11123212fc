//! A plugin's hooks on a cluster's events, registered as the process's
//! cluster hooks (`barrow_core::hooks`): each event crosses the boundary
//! as borrowed strings, and a hook's error or panic (caught on the
//! plugin's side) comes back as an error naming the hook.

use abi_stable::std_types::{RErr, ROk};
use barrow_core::hooks::{ClusterEvent, ClusterHook};
use barrow_core::{Error as CoreError, ErrorKind};
use barrow_plugin::Event;
use barrow_plugin::abi::HooksTable;

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
        let event = barrow_plugin::__private::abi_event(&plugin_event(event));
        match (self.table.on_event)(self.index, &event) {
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

/// The same event as the ABI's author side names it (the two enums are
/// one on either side of the boundary: barrow-core cannot depend on
/// barrow-plugin, nor plugins on barrow-core).
fn plugin_event<'a>(event: &ClusterEvent<'a>) -> Event<'a> {
    match *event {
        ClusterEvent::WorkerStarted { worker } => Event::WorkerStarted { worker },
        ClusterEvent::WorkerClosing { worker, reason } => Event::WorkerClosing { worker, reason },
        ClusterEvent::SchedulerStarted { address } => Event::SchedulerStarted { address },
        ClusterEvent::SchedulerClosing => Event::SchedulerClosing,
        ClusterEvent::WorkerAdded { worker } => Event::WorkerAdded { worker },
        ClusterEvent::WorkerRemoved { worker, reason } => Event::WorkerRemoved { worker, reason },
        ClusterEvent::Transition {
            key,
            from,
            to,
            worker,
        } => Event::Transition {
            key,
            from,
            to,
            worker,
        },
    }
}
