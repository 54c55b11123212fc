//! The scheduler's events for this process's cluster hooks (plugins'
//! hooks, Dask's scheduler plugins): workers added and removed, and every
//! task transition. Without hooks each costs one relaxed load. A hook that
//! fails or panics is logged, shown among the dashboard's events, and the
//! scheduler goes on.

use barrow_core::hooks::{ClusterEvent, cluster_event, has_cluster_hooks};

use super::task::State;
use super::{SchedulerState, TaskId};

impl SchedulerState {
    /// Hands `event` to the hooks.
    pub(crate) fn hook(&mut self, event: &ClusterEvent<'_>) {
        if !has_cluster_hooks() {
            return;
        }
        for (hook, failure) in cluster_event(event) {
            tracing::warn!("cluster hook {hook}: {failure}");
            self.watch_worker("hook-failed", &hook, failure);
        }
    }

    /// Task `id` moved from `from` to `to`.
    pub(crate) fn hook_transition(&mut self, id: TaskId, from: State, to: State) {
        if !has_cluster_hooks() {
            return;
        }
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let key = task.key.to_string();
        let worker = task
            .processing_on
            .or_else(|| task.who_has.first().copied())
            .and_then(|w| self.workers.get(&w))
            .map(|w| w.name.clone())
            .unwrap_or_default();
        self.hook(&ClusterEvent::Transition {
            key: &key,
            from: from.name(),
            to: to.name(),
            worker: &worker,
        });
    }
}
