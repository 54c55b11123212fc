//! Getting elements out: `take`, `repartition`, a streaming iterator, and
//! the codecs partitions need to leave memory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use barrow_core::arg::{key, lit};
use barrow_core::codec::SerdeCodec;
use barrow_core::collection::GraphKeys;
use barrow_core::{Arg, Error, ErrorKind, Options, Registry, Result, compute_with};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Bag;
use crate::error::BagError;
use crate::feed::{Element, Elements, Feed, Part, Sink, name_of, unique_name};

impl<T: Element> Bag<T> {
    /// The first `n` elements, computing only the partitions it needs
    /// (Dask's `take`): the first partition, then, while more elements are
    /// needed, twice as many partitions as the time before. A bag shorter
    /// than `n` gives all its elements and a warning (through `tracing`),
    /// as Dask does. Uses the default options; see [`Bag::take_with`].
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// # barrow_local::link();
    ///
    /// let squares = Bag::range(1_000_000, 100)?.map(|x| x * x);
    /// assert_eq!(squares.take(4)?, [0, 1, 4, 9]);
    /// assert_eq!(Bag::range(3, 2)?.take(10)?, [0, 1, 2]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn take(&self, n: usize) -> Result<Vec<T>> {
        self.take_with(n, &Options::new())
    }

    /// [`Bag::take`] with options (scheduler, callbacks, …).
    pub fn take_with(&self, n: usize, options: &Options) -> Result<Vec<T>> {
        let graph = self.stored_graph()?;
        let keys = self.keys();
        let mut out = Vec::with_capacity(n.min(1 << 16));
        let mut next = 0;
        let mut batch = 1;
        while out.len() < n && next < keys.len() {
            let end = (next + batch).min(keys.len());
            let values = compute_with(
                GraphKeys::new(graph.clone(), keys[next..end].iter().cloned()),
                options,
            )?;
            for value in values {
                let part = value.take_or_clone::<Vec<T>>()?;
                let wanted = n - out.len();
                out.extend(part.into_iter().take(wanted));
            }
            next = end;
            batch *= 2;
        }
        if out.len() < n {
            tracing::warn!(
                bag = %self.name,
                requested = n,
                found = out.len(),
                "take: the bag has {} elements, fewer than the {n} requested; returning them all",
                out.len()
            );
        }
        Ok(out)
    }

    /// The same elements in `npartitions` partitions (Dask's
    /// `repartition`): fewer partitions concatenate neighbours, more split
    /// each partition into nearly equal pieces. Order is kept.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let options = Options::new().scheduler("sync");
    /// let bag = Bag::range(10, 4)?;
    /// let fewer = bag.repartition(2)?;
    /// let more = bag.repartition(7)?;
    /// assert_eq!((fewer.npartitions(), more.npartitions()), (2, 7));
    /// assert_eq!(compute_with(&more, &options)?, compute_with(&bag, &options)?);
    /// assert!(bag.repartition(0).is_err());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn repartition(&self, npartitions: usize) -> Result<Bag<T>> {
        if npartitions == 0 {
            return Err(BagError::ZeroPartitions {
                what: "npartitions",
            }
            .into());
        }
        let old = self.npartitions();
        if npartitions == old {
            return Ok(self.clone());
        }
        let stored = self.to_stored();
        let old_keys = stored.keys();
        let name = name_of("repartition", &(&*self.name, npartitions as u64));
        let (parts, feed): (Vec<Vec<Arg>>, Feed<T>) = if npartitions < old {
            // New partition j concatenates old [j·old/n, (j+1)·old/n).
            let parts = (0..npartitions)
                .map(|j| {
                    let (start, end) = (j * old / npartitions, (j + 1) * old / npartitions);
                    old_keys[start..end].iter().cloned().map(key).collect()
                })
                .collect();
            let feed: Feed<T> = Arc::new(|part: &Part<'_>, sink: Sink<'_, T>| {
                for at in 0..part.inputs.len() {
                    for x in part.stored::<T>(at)? {
                        sink(x.clone())?;
                    }
                }
                Ok(())
            });
            (parts, feed)
        } else {
            // Old partition i is cut into the pieces of the new partitions
            // j with j·old/n = i.
            let mut parts = Vec::with_capacity(npartitions);
            for (i, old_key) in old_keys.iter().enumerate() {
                let pieces: Vec<usize> = (0..npartitions)
                    .filter(|j| j * old / npartitions == i)
                    .collect();
                for (p, _) in pieces.iter().enumerate() {
                    parts.push(vec![
                        key(old_key.clone()),
                        lit((p as u64, pieces.len() as u64)),
                    ]);
                }
            }
            let feed: Feed<T> = Arc::new(|part: &Part<'_>, sink: Sink<'_, T>| {
                let data = part.stored::<T>(0)?;
                let piece = part
                    .inputs
                    .get(1)
                    .ok_or_else(|| Error::internal("repartition piece has no position"))?;
                let &(p, count) = piece.as_value()?.downcast_ref::<(u64, u64)>()?;
                let (p, count) = (p as usize, count as usize);
                let (start, end) = (p * data.len() / count, (p + 1) * data.len() / count);
                for x in &data[start..end] {
                    sink(x.clone())?;
                }
                Ok(())
            });
            (parts, feed)
        };
        Ok(Bag {
            split_every: self.split_every,
            ..Bag::fed(
                stored.graph.clone(),
                stored.problem.clone(),
                name,
                "repartition",
                parts,
                (feed, None),
            )
        })
    }

    /// Computes the bag in the background and gives its elements as they
    /// are ready, in order, without holding them all in memory: a partition
    /// is handed over as soon as it and those before it are done, and the
    /// workers wait while `2 × workers` partitions are waiting to be read.
    /// Dropping the iterator stops the computation at its next partition.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::Options;
    /// # barrow_local::link();
    ///
    /// let lines = Bag::range(1000, 10)?.map(|i| format!("line {i}"));
    /// let mut n = 0;
    /// for line in lines.stream(&Options::new())? {
    ///     let line = line?;
    ///     assert_eq!(line, format!("line {n}"));
    ///     n += 1;
    /// }
    /// assert_eq!(n, 1000);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn stream(&self, options: &Options) -> Result<BagIter<T>> {
        if let Some(error) = self.problem_error() {
            return Err(error);
        }
        // The computation runs on another thread: it gets this thread's
        // configuration and scheduler choice now.
        let mut options = options.clone().config(options.resolve_config()?);
        if options.scheduler_choice().is_none()
            && let Some(scheduler) = barrow_core::scoped_scheduler()
        {
            options = options.scheduler_object(scheduler);
        }
        let workers = options.num_workers_option().unwrap_or(2).max(1);
        let (sender, receiver) = sync_channel::<Message<T>>(2 * workers);
        let name = unique_name("stream");
        let parts_sender = sender.clone();
        let layer = self.partition_layer(
            &name,
            "stream",
            Arc::new(move |elements: &Elements<'_, T>| {
                let part = elements.collect()?;
                parts_sender
                    .send(Message::Part(elements.index(), part))
                    .map_err(|_| {
                        Error::new(
                            ErrorKind::Cancelled,
                            "the iterator reading this bag was dropped; computation stopped",
                        )
                    })
            }),
        );
        let keys: Vec<barrow_core::Key> = layer.iter().map(|(k, _)| k.clone()).collect();
        let mut graph = self.graph.clone();
        graph.add_layer(Arc::new(layer))?;
        std::thread::Builder::new()
            .name(format!("barrow-stream-{}", self.name))
            .spawn(move || {
                let result = compute_with(GraphKeys::new(graph, keys), &options).map(|_| ());
                // The reader may be gone; then nobody needs the outcome.
                let _ = sender.send(Message::Done(result));
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start the bag stream's thread: {e}"),
                )
            })?;
        Ok(BagIter {
            receiver,
            waiting: BTreeMap::new(),
            current: Vec::new().into_iter(),
            next: 0,
            total: self.npartitions(),
            outcome: None,
            finished: false,
        })
    }
}

enum Message<T> {
    Part(usize, Vec<T>),
    Done(Result<()>),
}

/// The elements of a bag as they are computed, in order: see
/// [`Bag::stream`]. Yields `Err` once, and then nothing, if the
/// computation fails.
pub struct BagIter<T> {
    receiver: Receiver<Message<T>>,
    /// Partitions done before those ahead of them.
    waiting: BTreeMap<usize, Vec<T>>,
    current: std::vec::IntoIter<T>,
    next: usize,
    total: usize,
    outcome: Option<Result<()>>,
    finished: bool,
}

impl<T> Iterator for BagIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(x) = self.current.next() {
                return Some(Ok(x));
            }
            if self.finished {
                return None;
            }
            if let Some(part) = self.waiting.remove(&self.next) {
                self.next += 1;
                self.current = part.into_iter();
                continue;
            }
            if self.next == self.total {
                // Every partition is read; the outcome says whether the run
                // ended well (it has, if all partitions arrived).
                self.finished = true;
                return match self.outcome.take().or_else(|| self.receive_outcome()) {
                    Some(Err(error)) => Some(Err(error)),
                    _ => None,
                };
            }
            if let Some(Err(error)) = self.outcome.take() {
                self.finished = true;
                return Some(Err(error));
            }
            match self.receiver.recv() {
                Ok(Message::Part(i, part)) => {
                    self.waiting.insert(i, part);
                }
                Ok(Message::Done(result)) => {
                    if result.is_ok() && self.next < self.total && self.waiting.is_empty() {
                        self.finished = true;
                        return Some(Err(Error::internal(
                            "the bag stream ended before all partitions arrived",
                        )));
                    }
                    self.outcome = Some(result);
                }
                Err(_) => {
                    self.finished = true;
                    return Some(Err(Error::internal(
                        "the bag stream's computation stopped without a result",
                    )));
                }
            }
        }
    }
}

impl<T> BagIter<T> {
    fn receive_outcome(&mut self) -> Option<Result<()>> {
        loop {
            match self.receiver.recv() {
                Ok(Message::Done(result)) => return Some(result),
                Ok(Message::Part(..)) => continue,
                Err(_) => return None,
            }
        }
    }
}

impl<T> std::fmt::Debug for BagIter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BagIter")
            .field("next_partition", &self.next)
            .field("partitions", &self.total)
            .field("waiting", &self.waiting.len())
            .finish()
    }
}

/// Registers the codec partitions of `T` need to be spilled to disk (and
/// to travel to worker processes): `Vec<T>` in postcard, under `tag`.
/// Bags of numbers and strings need none: the built-in codecs cover `Vec`
/// of every primitive and of `String`, and this crate adds (to every
/// registry with the static registrations, such as the global one) those
/// of `Vec<String>` and of the pairs `frequencies` gives (`(String, u64)`,
/// `(i64, u64)`, `(u64, u64)`).
///
/// ```
/// use barrow_core::Registry;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Visit {
///     page: String,
///     ms: u32,
/// }
///
/// let registry = Registry::new();
/// barrow_bag::register_codecs::<Visit>(&registry, "example.visits")?;
/// assert!(registry.codecs().tags().contains(&"example.visits".to_string()));
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn register_codecs<T>(registry: &Registry, tag: &str) -> Result<()>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    registry
        .codecs()
        .register(Arc::new(SerdeCodec::<Vec<T>>::new(tag)))
}
