//! What the scheduler does for its clients: their arrival and departure,
//! their requests (graphs, releases, cancels), their questions (who has
//! what, the cluster, datasets) and where their results live.

use std::sync::Arc;

use barrow_core::Key;
use barrow_wire::task::WireKey;
use rustc_hash::FxHashSet;

use super::{Client, DATASETS, SchedulerState, State, summary, transitions};
use crate::comm::framed::Outgoing;
use crate::protocol::{
    Answer, ClientId, FromClient, KeyLocation, Question, TaskId, ToClient, WorkerSummary,
};

impl SchedulerState {
    /// A client connects; returns its id and the workers.
    pub fn add_client(&mut self, name: String) -> (ClientId, Vec<WorkerSummary>) {
        self.begin("add-client");
        let id = self.next_client;
        self.next_client += 1;
        self.clients.insert(
            id,
            Client {
                name,
                wants: FxHashSet::default(),
            },
        );
        let workers = self
            .running
            .iter()
            .filter_map(|w| self.workers.get(w))
            .map(summary)
            .collect();
        self.end();
        (id, workers)
    }

    /// A client disconnected: it no longer wants anything.
    pub fn remove_client(&mut self, id: ClientId) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        self.begin("remove-client");
        tracing::debug!("client {} ({id}) left", client.name);
        let mut wants: Vec<TaskId> = client.wants.into_iter().collect();
        wants.sort_unstable();
        self.release_wants(id, &wants);
        self.scatters.retain(|_, pending| pending.client != id);
        for task in self.tasks.iter_mut() {
            task.watchers.retain(|&mut c| c != id);
        }
        self.end();
    }

    /// Handles one message from client `client`, with the frames that
    /// came with it.
    pub fn handle_client(
        &mut self,
        client: ClientId,
        message: FromClient,
        frames: &dyn Fn(usize) -> Option<Arc<[u8]>>,
    ) {
        if !self.clients.contains_key(&client) {
            return;
        }
        match message {
            FromClient::UpdateGraph(update) => {
                self.begin("update-graph");
                self.update_graph(client, *update, frames);
            }
            FromClient::Release { keys } => {
                self.begin("client-releases-keys");
                let ids = self.ids_of(&keys);
                self.release_wants(client, &ids);
            }
            FromClient::Cancel { keys } => {
                self.begin("cancel");
                self.cancel(client, &keys);
            }
            FromClient::Scatter {
                request,
                values,
                broadcast,
                workers,
            } => {
                self.begin("scatter");
                self.scatter(client, request, values, broadcast, &workers, frames);
            }
            FromClient::Ask {
                request,
                question: Question::Retire(names),
            } => {
                self.begin("retire-workers");
                self.retire_workers(client, request, &names);
            }
            FromClient::Ask {
                request,
                question: Question::Restart,
            } => {
                self.begin("restart");
                self.restart(client, request);
            }
            FromClient::Ask {
                request,
                question: Question::Upload(upload),
            } => {
                self.begin("upload");
                self.upload(client, request, upload);
            }
            FromClient::Ask { request, question } => {
                self.begin("ask");
                let answer = self.answer(client, question);
                self.outbox
                    .clients
                    .push((client, Outgoing::plain(ToClient::Reply { request, answer })));
            }
        }
        self.end();
    }

    /// Ids of the known keys among `keys`.
    fn ids_of(&self, keys: &[WireKey]) -> Vec<TaskId> {
        keys.iter()
            .filter_map(|k| self.keys.get(&Key::from(k)).copied())
            .collect()
    }

    /// Client `client` no longer wants `ids`.
    pub(crate) fn release_wants(&mut self, client: ClientId, ids: &[TaskId]) {
        let mut recommendations = Vec::new();
        for &id in ids {
            if let Some(c) = self.clients.get_mut(&client) {
                c.wants.remove(&id);
            }
            let Some(task) = self.tasks.get_mut(id) else {
                continue;
            };
            task.who_wants.retain(|&mut c| c != client);
            task.watchers.retain(|&mut c| c != client);
            if task.who_wants.is_empty() && task.waiters == 0 {
                match task.state {
                    State::Released => {
                        if task.live_dependents == 0 {
                            recommendations.push((id, transitions::Target::Forgotten));
                        }
                    }
                    _ => recommendations.push((id, transitions::Target::Released)),
                }
            }
        }
        self.transitions(recommendations);
    }

    fn cancel(&mut self, client: ClientId, keys: &[WireKey]) {
        let ids = self.ids_of(keys);
        for &id in &ids {
            if let Some(task) = self.tasks.get(id)
                && task.who_wants.contains(&client)
                && task.state != State::Memory
                && task.state != State::Erred
            {
                self.outbox.clients.push((
                    client,
                    Outgoing::plain(ToClient::Lost {
                        key: WireKey::from(&task.key),
                        reason: "cancelled".to_owned(),
                        cancelled: true,
                    }),
                ));
            }
        }
        self.release_wants(client, &ids);
    }

    fn answer(&mut self, client: ClientId, question: Question) -> Result<Answer, String> {
        match question {
            Question::Retire(_) | Question::Restart | Question::Upload(_) => {
                Err("retire, restart and upload are answered when they are done".to_owned())
            }
            Question::Info => Ok(Answer::Info(self.info())),
            Question::Adaptive { target_duration } => {
                Ok(Answer::Adaptive(self.adaptive_target(target_duration)))
            }
            Question::WhoHas(keys) => Ok(Answer::WhoHas(
                keys.into_iter()
                    .filter_map(|k| {
                        let id = *self.keys.get(&Key::from(&k))?;
                        let task = self.tasks.get(id)?;
                        Some((k, task.who_has.to_vec()))
                    })
                    .collect(),
            )),
            Question::HasWhat => {
                let mut out = Vec::new();
                for &w in &self.running {
                    let Some(worker) = self.workers.get(&w) else {
                        continue;
                    };
                    let mut keys: Vec<WireKey> = worker
                        .has_what
                        .iter()
                        .filter_map(|&id| self.tasks.get(id).map(|t| WireKey::from(&t.key)))
                        .collect();
                    keys.sort_by(|a, b| (&a.name, &a.index).cmp(&(&b.name, &b.index)));
                    out.push((w, keys));
                }
                Ok(Answer::HasWhat(out))
            }
            Question::Publish {
                name,
                keys,
                replace,
            } => self.publish(name, &keys, replace),
            Question::Dataset(name) => {
                let ids =
                    self.datasets.get(&name).cloned().ok_or_else(|| {
                        format!("no dataset is published under the name '{name}'")
                    })?;
                let locations = self.want_and_locate(client, &ids);
                Ok(Answer::Keys(locations))
            }
            Question::Unpublish(name) => {
                let ids = self
                    .datasets
                    .remove(&name)
                    .ok_or_else(|| format!("no dataset is published under the name '{name}'"))?;
                self.release_wants(DATASETS, &ids);
                Ok(Answer::Done)
            }
            Question::Datasets => {
                let mut names: Vec<String> = self.datasets.keys().cloned().collect();
                names.sort();
                Ok(Answer::Names(names))
            }
            Question::Locate(keys) => {
                let ids = self.ids_of(&keys);
                Ok(Answer::Keys(
                    ids.iter().filter_map(|&id| self.location(id)).collect(),
                ))
            }
        }
    }

    fn publish(&mut self, name: String, keys: &[WireKey], replace: bool) -> Result<Answer, String> {
        if self.datasets.contains_key(&name) && !replace {
            return Err(format!(
                "a dataset is already published under the name '{name}': unpublish it first, \
                 or publish with replace"
            ));
        }
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            let id = self
                .keys
                .get(&Key::from(key))
                .copied()
                .ok_or_else(|| format!("key {} is not on the cluster", Key::from(key)))?;
            ids.push(id);
        }
        for &id in &ids {
            if let Some(task) = self.tasks.get_mut(id)
                && !task.who_wants.contains(&DATASETS)
            {
                task.who_wants.push(DATASETS);
            }
        }
        if let Some(old) = self.datasets.insert(name, ids) {
            self.release_wants(DATASETS, &old);
        }
        Ok(Answer::Done)
    }

    /// Makes `client` want `ids` and returns where those in memory are
    /// (the others are reported when they get there).
    fn want_and_locate(&mut self, client: ClientId, ids: &[TaskId]) -> Vec<KeyLocation> {
        for &id in ids {
            if let Some(task) = self.tasks.get_mut(id)
                && !task.who_wants.contains(&client)
            {
                task.who_wants.push(client);
            }
            if let Some(c) = self.clients.get_mut(&client) {
                c.wants.insert(id);
            }
        }
        ids.iter().filter_map(|&id| self.location(id)).collect()
    }

    /// Where the value of `id` is, if it is in memory.
    pub(crate) fn location(&self, id: TaskId) -> Option<KeyLocation> {
        let task = self.tasks.get(id)?;
        (task.state == State::Memory).then(|| KeyLocation {
            key: WireKey::from(&task.key),
            id,
            nbytes: task.nbytes,
            type_name: task.type_name.to_string(),
            who_has: task.who_has.to_vec(),
        })
    }
}
