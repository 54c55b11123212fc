//! Fetching results from the workers that hold them. Locations go
//! stale as workers leave or retire: a value whose holders are gone or no
//! longer have it is located again through the scheduler, and waited for
//! while the scheduler computes it again.

use std::time::Duration;

use barrow_core::{Error, ErrorKind, Key, Result, Value};
use barrow_wire::task::WireKey;
use rustc_hash::{FxHashMap, FxHashSet};

use super::state::Status;
use super::{ClientInner, status_error};
use crate::comm::peer::Fetched;
use crate::protocol::{Answer, KeyLocation, Question, TaskId, WorkerId};

/// Rounds of locating values again before a gather gives up.
const RELOCATIONS: usize = 8;

impl ClientInner {
    /// The values of `keys`, fetched from the workers once computed.
    pub(crate) fn gather_keys(&self, keys: &[Key]) -> Result<Vec<Value>> {
        let mut values: FxHashMap<Key, Value> = FxHashMap::default();
        for round in 0..=RELOCATIONS {
            let missing: Vec<Key> = keys
                .iter()
                .filter(|k| !values.contains_key(*k))
                .cloned()
                .collect();
            if missing.is_empty() {
                break;
            }
            self.wait_done(&missing, None)?;
            let locations = self.locations(&missing)?;
            let (found, stale) = self.fetch(&locations)?;
            for location in &locations {
                if let Some(value) = found.get(&location.id) {
                    values.insert(Key::from(&location.key), value.clone());
                }
            }
            if stale.is_empty() {
                continue;
            }
            if round == RELOCATIONS {
                let key = Key::from(&stale[0].key);
                return Err(Error::new(
                    ErrorKind::Worker,
                    format!(
                        "no worker that held {key} gives it, after {RELOCATIONS} rounds of                          asking the scheduler where it is: its holders keep leaving"
                    ),
                )
                .with_key(key));
            }
            // The scheduler may not have heard yet that a holder left.
            std::thread::sleep(Duration::from_millis(5 << round.min(6)));
            self.relocate(&stale)?;
        }
        keys.iter()
            .map(|k| {
                values
                    .get(k)
                    .cloned()
                    .ok_or_else(|| Error::internal("a fetched value went missing"))
            })
            .collect()
    }

    /// Where the client last heard that each key's value is.
    fn locations(&self, keys: &[Key]) -> Result<Vec<KeyLocation>> {
        let state = self.shared.lock();
        let mut locations = Vec::with_capacity(keys.len());
        for key in keys {
            match state.keys.get(key).map(|e| &e.status) {
                Some(Status::Memory(location)) => locations.push(location.clone()),
                Some(status) => return Err(status_error(key, status)),
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("key {key} is not held by this client"),
                    ));
                }
            }
        }
        Ok(locations)
    }

    /// Asks the scheduler where `stale` values are now; those it holds
    /// nowhere (being computed again) wait for their next result.
    fn relocate(&self, stale: &[KeyLocation]) -> Result<()> {
        let keys: Vec<WireKey> = stale.iter().map(|l| l.key.clone()).collect();
        let located = match self.ask(Question::Locate(keys))? {
            Answer::Keys(located) => located,
            other => return Err(super::unexpected(&other)),
        };
        let mut state = self.shared.lock();
        for location in stale {
            let fresh = located
                .iter()
                .find(|l| l.key == location.key && !l.who_has.is_empty());
            if let Some(entry) = state.keys.get_mut(&Key::from(&location.key))
                && matches!(entry.status, Status::Memory(_))
            {
                entry.status = match fresh {
                    Some(fresh) => Status::Memory(fresh.clone()),
                    // Its result comes again with the scheduler's news.
                    None => Status::Pending,
                };
            }
        }
        Ok(())
    }

    /// Fetches values from the workers holding them, one request per
    /// worker; a value a holder no longer has is asked of the next.
    /// Returns the values, and the locations none of whose holders gave
    /// the value (gone, or without it).
    fn fetch(
        &self,
        locations: &[KeyLocation],
    ) -> Result<(FxHashMap<TaskId, Value>, Vec<KeyLocation>)> {
        let mut values: FxHashMap<TaskId, Value> = FxHashMap::default();
        let mut tries: FxHashMap<TaskId, usize> = FxHashMap::default();
        let mut stale = Vec::new();
        let mut given_up: FxHashSet<TaskId> = FxHashSet::default();
        let mut busy_rounds = 0u32;
        loop {
            let mut by_worker: FxHashMap<WorkerId, Vec<TaskId>> = FxHashMap::default();
            for location in locations {
                if values.contains_key(&location.id) || given_up.contains(&location.id) {
                    continue;
                }
                let attempt = tries.get(&location.id).copied().unwrap_or(0);
                match location.who_has.get(attempt) {
                    Some(&worker) => by_worker.entry(worker).or_default().push(location.id),
                    None => {
                        given_up.insert(location.id);
                        stale.push(location.clone());
                    }
                }
            }
            if by_worker.is_empty() {
                break;
            }
            let mut any_busy = false;
            for (worker, ids) in by_worker {
                let fetched = match self.addresses(&[worker]).pop() {
                    Some(address) => {
                        let pool = self.pool.clone();
                        let asked = ids.clone();
                        self.runtime
                            .run(async move { pool.get_data(&address, asked).await })?
                    }
                    None => Err(crate::error::Error::new(
                        crate::error::ErrorKind::Closed,
                        format!("worker {worker} left the cluster"),
                    )),
                };
                match fetched {
                    Ok(Fetched::Data(found, missing)) => {
                        values.extend(found);
                        for id in missing {
                            *tries.entry(id).or_default() += 1;
                        }
                    }
                    Ok(Fetched::Busy) => any_busy = true,
                    // Gone or unreachable: the next holder, if any.
                    Err(error) => {
                        tracing::debug!("fetching from worker {worker} failed: {error}");
                        for id in ids {
                            *tries.entry(id).or_default() += 1;
                        }
                    }
                }
            }
            if any_busy {
                busy_rounds += 1;
                std::thread::sleep(Duration::from_millis((5 * u64::from(busy_rounds)).min(200)));
            }
        }
        Ok((values, stale))
    }
}
