//! Giving the tasks a plan needs their integer ids.
//!
//! A task's place in the graph (its layer's start plus its position there)
//! is already a dense integer, so the ids given so far live in one array
//! indexed by place, not in a hash map of their own: each dependency costs
//! one probe of its layer's index, and nothing is hashed twice (lowering
//! is bound by these lookups).

use std::sync::Arc;

use super::{Csr, missing_key};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Graph, Layer};
use crate::key::Key;
use crate::task::Task;

/// Lowered tasks: keys and tasks by id, the way back from a key to its id,
/// the dependency lists and the requested ids.
#[derive(Debug)]
pub(super) struct Lowered<'g> {
    pub(super) graph: &'g Graph,
    places: Places<'g>,
    /// One more than the id of the task at each place; 0 for none.
    ids: Vec<u32>,
    pub(super) keys: Vec<&'g Key>,
    pub(super) tasks: Vec<&'g Task>,
    pub(super) dependencies: Csr,
    pub(super) outputs: Vec<u32>,
}

impl<'g> Lowered<'g> {
    /// Lowers the tasks needed for `outputs` (in the order a breadth-first
    /// walk from them meets them), or every task for `None`.
    pub(super) fn new(graph: &'g Graph, outputs: Option<&[Key]>) -> Result<Lowered<'g>> {
        let places = Places::new(graph);
        // Zeroed memory comes from the system untouched: a graph of which
        // few tasks are needed only pays for the pages it writes.
        let mut lowering = Lowering {
            ids: vec![0; places.len()],
            keys: Vec::with_capacity(places.len()),
            tasks: Vec::with_capacity(places.len()),
        };
        let mut output_ids = Vec::new();
        let dependencies = match outputs {
            None => {
                let shadowing = graph.layers().len() > 1;
                for (place, key, task) in places.iter() {
                    // A key in several layers is the newest layer's task
                    // (as `Graph::get` has it); skip the older ones.
                    if shadowing && places.find(key).map(|(p, ..)| p) != Some(place) {
                        continue;
                    }
                    lowering.add(place, key, task);
                }
                lowering.link(&places, false)?
            }
            Some(outputs) => {
                output_ids.reserve(outputs.len());
                for key in outputs {
                    let Some((place, key, task)) = places.find(key) else {
                        return Err(missing_key(graph, key));
                    };
                    output_ids.push(lowering.id_or_add(place, key, task));
                }
                lowering.link(&places, true)?
            }
        };
        let Lowering { ids, keys, tasks } = lowering;
        Ok(Lowered {
            graph,
            places,
            ids,
            keys,
            tasks,
            dependencies,
            outputs: output_ids,
        })
    }

    /// The id of `key`, if it was lowered.
    pub(super) fn id_of(&self, key: &Key) -> Option<u32> {
        let (place, ..) = self.places.find(key)?;
        self.ids[place as usize].checked_sub(1)
    }
}

/// Where each task of a graph sits: its layer's first place plus its
/// position in the layer.
#[derive(Debug)]
struct Places<'g> {
    layers: &'g [Arc<Layer>],
    starts: Vec<u32>,
    len: usize,
}

impl<'g> Places<'g> {
    fn new(graph: &'g Graph) -> Places<'g> {
        let layers = graph.layers();
        let mut starts = Vec::with_capacity(layers.len());
        let mut len = 0usize;
        for layer in layers {
            starts.push(len as u32);
            len += layer.len();
        }
        Places {
            layers,
            starts,
            len,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The place, key and task of `key`, from the newest layer that has it.
    fn find(&self, key: &Key) -> Option<(u32, &'g Key, &'g Task)> {
        // Later layers usually depend on earlier ones, and lookups come from
        // the newest tasks, so search from the end (as `Graph::get` does).
        self.layers
            .iter()
            .zip(&self.starts)
            .rev()
            .find_map(|(layer, &start)| {
                let position = layer.position(key)?;
                let (key, task) = layer.at(position);
                Some((start + position as u32, key, task))
            })
    }

    /// Every task with its place, layer by layer.
    fn iter(&self) -> impl Iterator<Item = (u32, &'g Key, &'g Task)> + '_ {
        self.layers
            .iter()
            .zip(&self.starts)
            .flat_map(|(layer, &start)| {
                (start..)
                    .zip(layer.iter())
                    .map(|(place, (k, t))| (place, k, t))
            })
    }
}

/// The ids given so far: keys and tasks by id, and ids by place.
struct Lowering<'g> {
    ids: Vec<u32>,
    keys: Vec<&'g Key>,
    tasks: Vec<&'g Task>,
}

impl<'g> Lowering<'g> {
    fn add(&mut self, place: u32, key: &'g Key, task: &'g Task) -> u32 {
        let id = self.keys.len() as u32;
        // A reference, not a clone: a new handle would write the key's
        // shared count (a cache miss per task, and another when dropped).
        self.keys.push(key);
        self.tasks.push(task);
        self.ids[place as usize] = id + 1;
        id
    }

    fn id_or_add(&mut self, place: u32, key: &'g Key, task: &'g Task) -> u32 {
        match self.ids[place as usize].checked_sub(1) {
            Some(id) => id,
            None => self.add(place, key, task),
        }
    }

    /// Builds the dependency lists of every task added so far and, when
    /// `discover`, adds the tasks they need as they are found.
    fn link(&mut self, places: &Places<'g>, discover: bool) -> Result<Csr> {
        let mut dependencies = Csr::with_capacity(self.keys.len(), self.keys.len());
        let mut id = 0;
        while id < self.tasks.len() {
            let task = self.tasks[id];
            let mut missing = None;
            task.for_each_dependency(&mut |dep| {
                if missing.is_some() {
                    return;
                }
                let found = places.find(dep).and_then(|(place, key, task)| {
                    match self.ids[place as usize].checked_sub(1) {
                        Some(dep_id) => Some(dep_id),
                        None => discover.then(|| self.add(place, key, task)),
                    }
                });
                match found {
                    Some(dep_id) => dependencies.push(dep_id),
                    None => missing = Some(dep.clone()),
                }
            });
            if let Some(dep) = missing {
                return Err(Error::new(
                    ErrorKind::MissingDependency,
                    format!(
                        "depends on {dep}, which is not in the graph; add a task for {dep} \
                         or fix the reference"
                    ),
                )
                .with_key((*self.keys[id]).clone()));
            }
            dependencies.finish_row();
            id += 1;
        }
        Ok(dependencies)
    }
}
