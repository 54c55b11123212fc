//! Asking about and steering the cluster: where values are, the
//! scheduler's view, published datasets, retiring workers, restarting.

use std::time::Duration;

use barrow_core::{Key, Result};
use barrow_wire::task::WireKey;

use super::{Client, Future, unexpected};
use crate::protocol::{AdaptiveTarget, Answer, ClusterInfo, Question};

impl Client {
    /// Which workers (addresses) hold each future's value.
    pub fn who_has<T>(&self, futures: &[Future<T>]) -> Result<Vec<(Key, Vec<String>)>> {
        let keys = futures.iter().map(|f| WireKey::from(f.key())).collect();
        match self.inner.ask(Question::WhoHas(keys))? {
            Answer::WhoHas(entries) => Ok(entries
                .into_iter()
                .map(|(k, ws)| (Key::from(&k), self.inner.addresses(&ws)))
                .collect()),
            other => Err(unexpected(&other)),
        }
    }

    /// Which keys each worker (address) holds.
    pub fn has_what(&self) -> Result<Vec<(String, Vec<Key>)>> {
        match self.inner.ask(Question::HasWhat)? {
            Answer::HasWhat(entries) => Ok(entries
                .into_iter()
                .map(|(w, keys)| {
                    let address = self.inner.addresses(&[w]).pop().unwrap_or_default();
                    (address, keys.iter().map(Key::from).collect())
                })
                .collect()),
            other => Err(unexpected(&other)),
        }
    }

    /// The scheduler's view of the cluster: workers, tasks by state, and
    /// the workers whose plugins differ from this client's
    /// ([`ClusterInfo::plugin_differences`]).
    pub fn scheduler_info(&self) -> Result<ClusterInfo> {
        match self.inner.ask(Question::Info)? {
            Answer::Info(mut info) => {
                let mine = barrow_core::hooks::loaded_plugins();
                info.plugin_differences = info
                    .workers
                    .iter()
                    .filter_map(|w| super::plugins::difference(&mine, &w.summary))
                    .collect();
                Ok(info)
            }
            other => Err(unexpected(&other)),
        }
    }

    /// How many workers the cluster wants for its work in hand to take
    /// `target_duration`, and which idle workers to close first when that
    /// is fewer than it has (what [`ScaledWorkers::adapt`](crate::ScaledWorkers::adapt) follows).
    pub fn adaptive_target(&self, target_duration: Duration) -> Result<AdaptiveTarget> {
        match self.inner.ask(Question::Adaptive {
            target_duration: target_duration.as_secs_f64(),
        })? {
            Answer::Adaptive(target) => Ok(target),
            other => Err(unexpected(&other)),
        }
    }

    /// Keeps `futures`' values on the cluster under `name`, for other
    /// clients ([`Client::get_dataset`]), until unpublished.
    pub fn publish_dataset<T>(&self, name: &str, futures: &[Future<T>]) -> Result<()> {
        let keys = futures.iter().map(|f| WireKey::from(f.key())).collect();
        self.inner
            .ask(Question::Publish {
                name: name.to_owned(),
                keys,
                replace: false,
            })
            .map(drop)
    }

    /// Futures on the values published under `name`.
    pub fn get_dataset<T>(&self, name: &str) -> Result<Vec<Future<T>>> {
        match self.inner.ask(Question::Dataset(name.to_owned()))? {
            Answer::Keys(locations) => {
                let keys: Vec<Key> = locations.iter().map(|l| Key::from(&l.key)).collect();
                self.inner.hold(&keys);
                self.inner.located(&locations);
                Ok(keys
                    .into_iter()
                    .map(|k| Future::new(self.inner.clone(), k))
                    .collect())
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Forgets the dataset `name` (its values go when no one holds them).
    pub fn unpublish_dataset(&self, name: &str) -> Result<()> {
        self.inner
            .ask(Question::Unpublish(name.to_owned()))
            .map(drop)
    }

    /// The names of the datasets published.
    pub fn list_datasets(&self) -> Result<Vec<String>> {
        match self.inner.ask(Question::Datasets)? {
            Answer::Names(names) => Ok(names),
            other => Err(unexpected(&other)),
        }
    }

    /// Closes the workers named (by name or address) gracefully: they
    /// get no new work, what they run goes to the others, the values only
    /// they hold are copied to the others first, and then they stop (their
    /// nannies do not start them again). Returns their names once they
    /// are gone; nothing computed is lost.
    ///
    /// Fails at once, naming the worker, for a name no worker has; and
    /// when retiring every running worker would lose values still needed.
    ///
    /// ```no_run
    /// # use barrow_distributed::LocalCluster;
    /// let cluster = LocalCluster::new().workers(3).start()?;
    /// let client = cluster.client()?;
    /// let retired = client.retire_workers(&["local-2"])?;
    /// assert_eq!(retired, ["local-2"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retire_workers(&self, workers: &[&str]) -> Result<Vec<String>> {
        let names = workers.iter().map(|w| (*w).to_owned()).collect();
        match self.inner.ask(Question::Retire(names))? {
            Answer::Names(names) => Ok(names),
            other => Err(unexpected(&other)),
        }
    }

    /// Forgets every task and value on the cluster (every client's
    /// futures become cancelled) and restarts every worker through its
    /// nanny; returns the names of the workers running again once as many
    /// are back as there were, or fails after 30 s saying how many came
    /// back (workers started with `--no-nanny` are not started again).
    pub fn restart(&self) -> Result<Vec<String>> {
        match self.inner.ask(Question::Restart)? {
            Answer::Names(names) => Ok(names),
            other => Err(unexpected(&other)),
        }
    }
}
