//! Fusion: merging tasks into the tasks that read them, so a graph runs
//! fewer, larger tasks. [`fuse`] is Dask's width-aware `fuse`;
//! [`fuse_linear`] fuses linear chains only. See `README.md` beside this
//! file for how `fuse` decides.

mod linear;
mod rename;
mod subgraphs;
pub(crate) mod substitute;
mod width;

use std::fmt;
use std::sync::Arc;

pub use linear::{MAX_FUSED_CHAIN, fuse_linear, fuse_linear_with};
pub use rename::{MAX_FUSED_KEY_LENGTH, default_fused_keys_renamer};
pub use subgraphs::{SUBGRAPH_FUNCTION, Subgraph};

use crate::error::{Error, ErrorKind, Result};
use crate::graph::Graph;
use crate::key::{Key, KeySet};
use crate::plan::Dependencies;
use crate::task::Task;

/// Names a fused group of tasks from their keys, in the order fusion met
/// them (the task the others were fused into comes last; for a subgraph,
/// the groups of its chain come top down, as Dask lists them); `None` keeps
/// the group's key (Dask's `rename_keys=func`).
pub type KeyRenamer = dyn Fn(&[Key]) -> Option<Key> + Send + Sync;

/// How [`fuse`] trades parallelism for fewer tasks: Dask's parameters, read
/// from `optimization.fuse.*` by [`FuseOptions::from_config`].
///
/// ```
/// use barrow_core::optimize::FuseOptions;
///
/// let options = FuseOptions::new().ave_width(2.0).rename_keys(true);
/// assert_eq!(options.ave_width, 2.0);
/// assert!(options.renames_keys());
/// // Dask's derived limits when none is given:
/// assert_eq!(options.effective_max_depth_new_edges(), 3.0);
/// assert!((options.effective_max_width() - (1.5 + 2.0 * 3f64.ln())).abs() < 1e-12);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct FuseOptions {
    /// Whether to fuse at all (`optimization.fuse.active`).
    pub active: bool,
    /// Upper limit for `width = tasks / height` of a fused group, a measure
    /// of the parallelism fusion gives up (`optimization.fuse.ave-width`);
    /// 0 fuses nothing, 1 fuses chains (and groups that add no width).
    pub ave_width: f64,
    /// Don't fuse a group wider than this (`optimization.fuse.max-width`);
    /// `None`: `1.5 + ave_width * ln(ave_width + 1)`.
    pub max_width: Option<f64>,
    /// Don't fuse more levels than this (`optimization.fuse.max-height`);
    /// `None`: no limit.
    pub max_height: Option<u32>,
    /// Don't fuse deeper than this where a level adds new dependencies
    /// (`optimization.fuse.max-depth-new-edges`); `None`: `ave_width * 1.5`.
    pub max_depth_new_edges: Option<f64>,
    /// Whether to then fuse linear chains of the fused tasks into subgraph
    /// tasks (`optimization.fuse.subgraphs`; Dask's `fuse_subgraphs`).
    pub subgraphs: bool,
    renamer: Option<Arc<KeyRenamer>>,
}

impl Default for FuseOptions {
    /// The built-in defaults of `optimization.fuse.*`: active, `ave_width`
    /// 1, Dask's derived limits, keys not renamed, no subgraphs.
    fn default() -> FuseOptions {
        FuseOptions {
            active: true,
            ave_width: 1.0,
            max_width: None,
            max_height: None,
            max_depth_new_edges: None,
            subgraphs: false,
            renamer: None,
        }
    }
}

impl fmt::Debug for FuseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuseOptions")
            .field("active", &self.active)
            .field("ave_width", &self.ave_width)
            .field("max_width", &self.max_width)
            .field("max_height", &self.max_height)
            .field("max_depth_new_edges", &self.max_depth_new_edges)
            .field("subgraphs", &self.subgraphs)
            .field("rename_keys", &self.renamer.is_some())
            .finish()
    }
}

impl FuseOptions {
    /// The built-in defaults (see [`FuseOptions::default`]).
    pub fn new() -> FuseOptions {
        FuseOptions::default()
    }

    /// The options `optimization.fuse.*` of `config` set; a bad value is an
    /// error naming the key, the value and where it came from.
    pub fn from_config(config: &barrow_config::Snapshot) -> Result<FuseOptions> {
        let defaults = FuseOptions::default();
        let rename = config
            .get::<bool>("optimization.fuse.rename-keys")?
            .unwrap_or(false);
        let max_height = config
            .get::<u64>("optimization.fuse.max-height")?
            .map(|height| u32::try_from(height).unwrap_or(u32::MAX));
        Ok(FuseOptions {
            active: config
                .get::<bool>("optimization.fuse.active")?
                .unwrap_or(defaults.active),
            ave_width: config
                .get::<f64>("optimization.fuse.ave-width")?
                .unwrap_or(defaults.ave_width),
            max_width: config.get::<f64>("optimization.fuse.max-width")?,
            max_height,
            max_depth_new_edges: config.get::<f64>("optimization.fuse.max-depth-new-edges")?,
            subgraphs: config
                .get::<bool>("optimization.fuse.subgraphs")?
                .unwrap_or(defaults.subgraphs),
            renamer: None,
        }
        .rename_keys(rename))
    }

    /// Turns fusion on or off.
    pub fn active(mut self, active: bool) -> FuseOptions {
        self.active = active;
        self
    }

    /// Sets [`FuseOptions::ave_width`].
    pub fn ave_width(mut self, ave_width: f64) -> FuseOptions {
        self.ave_width = ave_width;
        self
    }

    /// Sets [`FuseOptions::max_width`].
    pub fn max_width(mut self, max_width: Option<f64>) -> FuseOptions {
        self.max_width = max_width;
        self
    }

    /// Sets [`FuseOptions::max_height`].
    pub fn max_height(mut self, max_height: Option<u32>) -> FuseOptions {
        self.max_height = max_height;
        self
    }

    /// Sets [`FuseOptions::max_depth_new_edges`].
    pub fn max_depth_new_edges(mut self, depth: Option<f64>) -> FuseOptions {
        self.max_depth_new_edges = depth;
        self
    }

    /// Sets [`FuseOptions::subgraphs`].
    pub fn subgraphs(mut self, subgraphs: bool) -> FuseOptions {
        self.subgraphs = subgraphs;
        self
    }

    /// With `true`, a fused group takes Dask's joined name
    /// ([`default_fused_keys_renamer`]: `"b1-b2-c"` for `b1` and `b2` fused
    /// into `c`), and its last key becomes an alias of it
    /// (`optimization.fuse.rename-keys`); with `false` it keeps its last
    /// key.
    pub fn rename_keys(mut self, rename: bool) -> FuseOptions {
        self.renamer = rename.then(|| {
            Arc::new(|keys: &[Key]| default_fused_keys_renamer(keys, Some(MAX_FUSED_KEY_LENGTH)))
                as Arc<KeyRenamer>
        });
        self
    }

    /// Names fused groups with `renamer` (Dask's `rename_keys=func`).
    pub fn rename_with(
        mut self,
        renamer: impl Fn(&[Key]) -> Option<Key> + Send + Sync + 'static,
    ) -> FuseOptions {
        self.renamer = Some(Arc::new(renamer));
        self
    }

    /// Whether fused groups are renamed.
    pub fn renames_keys(&self) -> bool {
        self.renamer.is_some()
    }

    /// [`FuseOptions::max_width`], or Dask's default derived from
    /// `ave_width`.
    pub fn effective_max_width(&self) -> f64 {
        self.max_width
            .unwrap_or_else(|| 1.5 + self.ave_width * (self.ave_width + 1.0).ln())
    }

    /// [`FuseOptions::max_depth_new_edges`], or Dask's default derived
    /// from `ave_width`.
    pub fn effective_max_depth_new_edges(&self) -> f64 {
        self.max_depth_new_edges.unwrap_or(self.ave_width * 1.5)
    }

    fn check(&self) -> Result<()> {
        let bad = |what: &str, value: f64| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "fuse: {what} is {value}; it must be a number of at least 0 \
                     (optimization.fuse.{})",
                    what.replace('_', "-")
                ),
            )
        };
        for (what, value) in [
            ("ave_width", Some(self.ave_width)),
            ("max_width", self.max_width),
            ("max_depth_new_edges", self.max_depth_new_edges),
        ] {
            if let Some(value) = value
                && (value.is_nan() || value < 0.0)
            {
                return Err(bad(what, value));
            }
        }
        Ok(())
    }
}

/// Fuses the tasks of `graph` that form reductions — a task read by exactly
/// one other (Dask's `fuse`): each group of tasks feeding one task becomes
/// that task, with the others as nested calls, when the group is narrow
/// enough for `options` (its width, `tasks / height`, at most
/// `ave_width`, and the other limits). With the default `ave_width` of 1
/// this fuses linear chains, and groups whose inputs are all read
/// elsewhere anyway. The keys in `keys` are never fused away; every task
/// of `graph` stays computable (nothing is culled). Tasks with different
/// annotations are not fused together, and no fused task nests calls deeper
/// than [`MAX_FUSED_CHAIN`].
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::{FuseOptions, fuse};
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let f = Func::new("f", |a: &i64, b: &i64| a + b);
/// let g = Func::new("g", |a: &i64| a * 2);
/// // a feeds b1 and b2, which feed c.
/// let graph = Graph::from_tasks([
///     ("a", Task::literal(1i64)),
///     ("b1", Task::call(&g, [key("a")])),
///     ("b2", Task::call(&g, [key("a")])),
///     ("c", Task::call(&f, [key("b1"), key("b2")])),
/// ])?;
/// // Two parallel tasks in two levels: width 1, which ave_width 1 keeps.
/// let kept = fuse(&graph, &[Key::new("c")], &FuseOptions::new())?;
/// assert_eq!(kept.len(), 4);
/// // ave_width 2 allows it: one task, renamed as Dask names it.
/// let options = FuseOptions::new().ave_width(2.0).rename_keys(true);
/// let fused = fuse(&graph, &[Key::new("c")], &options)?;
/// assert_eq!(fused.get(&Key::new("b1-b2-c")).unwrap().to_string(), "f(g(a), g(a))");
/// assert_eq!(fused.get(&Key::new("c")).unwrap().to_string(), "alias of b1-b2-c");
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn fuse(graph: &Graph, keys: &[Key], options: &FuseOptions) -> Result<Graph> {
    if !options.active {
        return Ok(graph.clone());
    }
    let dependencies = Dependencies::of(graph, None)?;
    fuse_with(&dependencies, keys, options)
}

/// [`fuse`] with the dependencies already computed (Dask's
/// `dependencies=`): the graph is `dependencies`' graph restricted to its
/// tasks (culled, when they were lowered for some outputs), and its outputs
/// are kept as well as `keys`.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::{FuseOptions, fuse_with};
/// use barrow_core::plan::Dependencies;
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
///     ("z", Task::call(&inc, [key("y")])),
///     ("unused", Task::call(&inc, [key("x")])),
/// ])?;
/// let dependencies = Dependencies::of(&graph, Some(&[Key::new("z")]))?;
/// let fused = fuse_with(&dependencies, &[], &FuseOptions::new())?;
/// assert_eq!(fused.len(), 1);
/// assert_eq!(fused.get(&Key::new("z")).unwrap().to_string(), "inc(inc(1))");
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn fuse_with(
    dependencies: &Dependencies<'_>,
    keys: &[Key],
    options: &FuseOptions,
) -> Result<Graph> {
    options.check()?;
    let n = dependencies.len();
    let mut protected = vec![false; n];
    for &id in dependencies.outputs() {
        protected[id as usize] = true;
    }
    for key in keys {
        if let Some(id) = dependencies.id_of(key) {
            protected[id as usize] = true;
        }
    }
    let active = options.active
        && options.ave_width > 0.0
        && options.max_height.is_none_or(|height| height > 0);
    let mut outcome = if active {
        width::fuse_ids(dependencies, &protected, options)
    } else {
        width::Outcome::unchanged(dependencies, options.renames_keys())
    };
    if options.subgraphs {
        subgraphs::fuse_subgraphs(dependencies, &protected, &mut outcome);
    }
    outcome.into_graph(dependencies, options.renamer.as_deref())
}

impl width::Outcome {
    /// The fused graph: kept tasks, fused tasks, and renamed groups.
    fn into_graph(
        self,
        dependencies: &Dependencies<'_>,
        renamer: Option<&KeyRenamer>,
    ) -> Result<Graph> {
        let graph = dependencies.graph();
        let n = dependencies.len();
        if !self.changed() {
            if n == graph.len() {
                return Ok(graph.clone());
            }
            return super::cull::keep(graph, &|key| dependencies.id_of(key).is_some());
        }
        let width::Outcome {
            mut replaced,
            removed,
            fused_trees,
            ..
        } = self;
        // New names of the fused groups, by the id of their last task.
        let mut renamed: Vec<Option<Key>> = vec![None; n];
        if let Some(renamer) = renamer {
            let mut taken = KeySet::default();
            // In id order, so that which of two groups given one name keeps
            // it does not depend on a map's order.
            let mut roots: Vec<u32> = fused_trees.keys().copied().collect();
            roots.sort_unstable();
            for root in roots {
                let Some(members) = fused_trees.get(&root) else {
                    continue;
                };
                let names: Vec<Key> = members
                    .iter()
                    .map(|&id| dependencies.key(id).clone())
                    .collect();
                let Some(name) = renamer(&names) else {
                    continue;
                };
                let in_graph = dependencies
                    .id_of(&name)
                    .is_some_and(|id| !removed[id as usize]);
                if !in_graph && taken.insert(name.clone()) {
                    renamed[root as usize] = Some(name);
                }
            }
        }
        let kept = removed.iter().filter(|gone| !**gone).count();
        let mut tasks: Vec<(Key, Task)> = Vec::with_capacity(kept + fused_trees.len());
        for id in 0..n {
            if removed[id] {
                continue;
            }
            let task = replaced
                .remove(&(id as u32))
                .unwrap_or_else(|| dependencies.task(id as u32).clone());
            let key = dependencies.key(id as u32).clone();
            match renamed[id].take() {
                Some(name) => {
                    tasks.push((name.clone(), task));
                    tasks.push((key, Task::alias(name)));
                }
                None => tasks.push((key, task)),
            }
        }
        Graph::from_tasks(tasks)
    }
}
