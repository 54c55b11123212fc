//! Drawing graphs with Graphviz (Dask's `visualize`): the DOT text comes
//! from [`barrow_core::inspect::to_dot`]; this module runs the `dot` program
//! to turn it into SVG, PNG or PDF.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use barrow_core::collection::Collection;
use barrow_core::inspect::to_dot;
use barrow_core::{Graph, Key, KeySet};

use crate::error::{Error, ErrorKind, Result};
use crate::html::write_file;

/// What to write: a picture made by Graphviz, or the DOT text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Scalable vector graphics (hover a node for its tooltip in a browser).
    Svg,
    /// A PNG image.
    Png,
    /// A PDF document.
    Pdf,
    /// The DOT text, written as is (no Graphviz needed).
    Dot,
}

impl Format {
    /// The format named by `path`'s extension (`.svg`, `.png`, `.pdf`,
    /// `.dot` or `.gv`, any case), as Dask's `visualize(filename=...)`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Format> {
        let path = path.as_ref();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            Some("pdf") => Ok(Format::Pdf),
            Some("dot" | "gv") => Ok(Format::Dot),
            _ => Err(Error::new(
                ErrorKind::Format,
                format!(
                    "cannot tell the format of {} from its extension; name it .svg, .png, \
                     .pdf or .dot, or choose a format explicitly",
                    path.display()
                ),
            )
            .with_path(path)),
        }
    }

    /// The name Graphviz gives the format (`dot -T<name>`).
    pub fn graphviz_name(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
            Format::Pdf => "pdf",
            Format::Dot => "dot",
        }
    }
}

/// Renders DOT text to `path` with Graphviz's `dot` program (found on
/// `PATH`); [`Format::Dot`] writes the text as is. Fails with
/// [`ErrorKind::GraphvizMissing`] when `dot` is not installed, and with
/// [`ErrorKind::Graphviz`] (Graphviz's own message included) when it rejects
/// the text. There is no size limit here; [`visualize`] has one.
pub fn render(dot: &str, format: Format, path: impl AsRef<Path>) -> Result<()> {
    render_with(
        Path::new(DOT_PROGRAM).as_os_str(),
        dot,
        format,
        path.as_ref(),
    )
}

const DOT_PROGRAM: &str = "dot";

fn render_with(program: &std::ffi::OsStr, dot: &str, format: Format, path: &Path) -> Result<()> {
    if format == Format::Dot {
        return write_file(path, dot, "graph");
    }
    let shown = Path::new(program).display();
    let mut child = Command::new(program)
        .arg(format!("-T{}", format.graphviz_name()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::new(
                ErrorKind::GraphvizMissing,
                format!(
                    "cannot run `{shown}`, the Graphviz program that draws graphs ({e}), to \
                     write {}: install Graphviz (`apt-get install graphviz`, `dnf install \
                     graphviz`, `brew install graphviz`, or from graphviz.org) and make sure \
                     `dot` is on PATH; or write the DOT text with Format::Dot",
                    path.display()
                ),
            )
            .with_path(path)
            .with_source(e)
        })?;
    let stdin = child.stdin.take();
    // Feed the text from another thread while this one collects the picture,
    // so neither pipe can fill up and block the other.
    let output = std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Some(mut stdin) = stdin {
                // A write error means `dot` stopped reading; its exit status
                // and message say why.
                let _ = stdin.write_all(dot.as_bytes());
            }
        });
        child.wait_with_output()
    })
    .map_err(|e| {
        Error::new(
            ErrorKind::Graphviz,
            format!("`{shown}` failed while drawing {}: {e}", path.display()),
        )
        .with_path(path)
        .with_source(e)
    })?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        return Err(Error::new(
            ErrorKind::Graphviz,
            format!(
                "`{shown} -T{}` could not draw {} ({}): {}",
                format.graphviz_name(),
                path.display(),
                output.status,
                message.trim()
            ),
        )
        .with_path(path));
    }
    std::fs::write(path, &output.stdout).map_err(|e| Error::write(path, "drawing", e))
}

/// Draws the tasks needed for `keys` (every task for none) to `path`, in
/// the format its extension names; refuses graphs of more than
/// [`Visualize::DEFAULT_MAX_TASKS`] tasks (see [`Visualize`] to change that
/// and more).
///
/// ```no_run
/// # use barrow_core::{Graph, Key};
/// # fn main() -> Result<(), barrow_diagnostics::Error> {
/// # let graph = Graph::new();
/// barrow_diagnostics::visualize(&graph, &[Key::new("total")], "graph.svg")?;
/// # Ok(())
/// # }
/// ```
pub fn visualize(graph: &Graph, keys: &[Key], path: impl AsRef<Path>) -> Result<()> {
    Visualize::new(graph).keys(keys).write(path)
}

/// Draws what computing `collection` runs — a delayed value, a bag, a
/// tuple or `Vec` of them (Dask's `dask.visualize(*collections)`) — to
/// `path`, as [`visualize`] does.
///
/// ```no_run
/// use barrow_delayed::delayed;
///
/// let inc = delayed("inc", |x: &i64| x + 1);
/// let two = inc.call(&inc.call(0));
/// barrow_diagnostics::visualize_collection(&two, "two.svg")?;
/// # Ok::<(), barrow_diagnostics::Error>(())
/// ```
pub fn visualize_collection<C: Collection>(collection: &C, path: impl AsRef<Path>) -> Result<()> {
    let graph = collection.graph().map_err(|e| {
        Error::new(ErrorKind::Graph, format!("cannot draw the collection: {e}")).with_source(e)
    })?;
    Visualize::new(&graph)
        .keys(&collection.output_keys())
        .write(path)
}

/// Options for drawing a graph: which keys, which format, how large at
/// most, and which Graphviz program.
///
/// ```
/// use barrow_core::arg::lit;
/// use barrow_core::{Func, Graph, Key, Task};
/// use barrow_diagnostics::{ErrorKind, Format, Visualize};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph: Graph = (0..100u32)
///     .map(|i| (Key::from(("x", i)), Task::call(&inc, [lit(i64::from(i))])))
///     .collect();
/// let dir = std::env::temp_dir();
/// let err = Visualize::new(&graph)
///     .max_tasks(10)
///     .format(Format::Dot)
///     .write(dir.join("too-big.dot"))
///     .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::TooLarge);
/// assert!(err.to_string().contains("100 tasks"));
/// ```
#[derive(Debug, Clone)]
pub struct Visualize<'g> {
    graph: &'g Graph,
    keys: Vec<Key>,
    format: Option<Format>,
    max_tasks: usize,
    program: OsString,
}

impl<'g> Visualize<'g> {
    /// The largest graph drawn unless [`max_tasks`](Visualize::max_tasks)
    /// says otherwise. Graphviz's layout grows faster than the graph: a few
    /// thousand tasks already take it seconds, and the picture is no longer
    /// readable.
    pub const DEFAULT_MAX_TASKS: usize = 2_000;

    /// Draws every task of `graph`, in the format the file name says, with
    /// the `dot` program on `PATH`.
    pub fn new(graph: &'g Graph) -> Visualize<'g> {
        Visualize {
            graph,
            keys: Vec::new(),
            format: None,
            max_tasks: Visualize::DEFAULT_MAX_TASKS,
            program: OsString::from(DOT_PROGRAM),
        }
    }

    /// Draws only the tasks needed for `keys` (drawn in bold).
    pub fn keys(mut self, keys: &[Key]) -> Visualize<'g> {
        self.keys = keys.to_vec();
        self
    }

    /// Writes `format` whatever the file is called.
    pub fn format(mut self, format: Format) -> Visualize<'g> {
        self.format = Some(format);
        self
    }

    /// Refuses graphs of more than `max_tasks` tasks.
    pub fn max_tasks(mut self, max_tasks: usize) -> Visualize<'g> {
        self.max_tasks = max_tasks;
        self
    }

    /// Runs `program` instead of the `dot` found on `PATH`.
    pub fn graphviz(mut self, program: impl Into<PathBuf>) -> Visualize<'g> {
        self.program = program.into().into_os_string();
        self
    }

    /// The DOT text, or [`ErrorKind::TooLarge`] past the limit.
    pub fn to_dot(&self) -> Result<String> {
        let tasks = count_needed(self.graph, &self.keys);
        if tasks > self.max_tasks {
            let which = if self.keys.is_empty() {
                "the graph has".to_string()
            } else {
                format!("the {} keys asked for need", self.keys.len())
            };
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "{which} {tasks} tasks, more than the {} this drawing is limited to: \
                     Graphviz would take very long and the picture would be unreadable; draw \
                     the tasks behind fewer keys, look at `barrow_core::inspect::summarize` \
                     instead, or raise the limit with `max_tasks`",
                    self.max_tasks
                ),
            ));
        }
        Ok(to_dot(self.graph, &self.keys))
    }

    /// Draws the graph to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let format = match self.format {
            Some(format) => format,
            None => Format::from_path(path)?,
        };
        let dot = self.to_dot()?;
        render_with(&self.program, &dot, format, path)
    }
}

/// How many tasks [`to_dot`] draws for `keys`.
fn count_needed(graph: &Graph, keys: &[Key]) -> usize {
    if keys.is_empty() {
        return graph.len();
    }
    let mut needed = KeySet::default();
    let mut queue: VecDeque<Key> = keys.iter().cloned().collect();
    let mut count = 0;
    while let Some(key) = queue.pop_front() {
        if !needed.insert(key.clone()) {
            continue;
        }
        if let Some(task) = graph.get(&key) {
            count += 1;
            task.for_each_dependency(&mut |dep| {
                if !needed.contains(dep) {
                    queue.push_back(dep.clone());
                }
            });
        }
    }
    count
}
