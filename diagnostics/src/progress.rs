//! The progress bar (Dask's `ProgressBar`), drawn by indicatif.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use barrow_core::callback::{Callback, RunInfo, TaskEvent};
use barrow_core::{Error as CoreError, Value};
use indicatif::{ProgressDrawTarget, ProgressState, ProgressStyle};

type TargetFactory = dyn Fn() -> ProgressDrawTarget + Send + Sync;

/// Where a run stands: tasks done out of the total, and time since it
/// started (see [`ProgressBar::progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Progress {
    /// Tasks finished in the current (or last) run.
    pub done: usize,
    /// Tasks in the current (or last) run.
    pub total: usize,
    /// Time since the run started, or its whole length once it ended.
    pub elapsed: Duration,
    /// Whether the bar has been drawn (the run outlasted the minimum).
    pub shown: bool,
}

/// Shows tasks done out of the total and the time elapsed while a
/// computation runs (Dask's `ProgressBar`):
///
/// ```text
/// [########################################] | 100% Completed | 4096/4096 tasks | 2.1s
/// ```
///
/// It appears only once a run has lasted [`minimum`](ProgressBar::minimum)
/// (0.1 s by default: quick computations print nothing), redraws every
/// [`refresh`](ProgressBar::refresh) interval even while one long task runs,
/// and draws on standard error, where indicatif stays quiet when it is not
/// a terminal (a pipe, a file, CI logs). Clones share their state; the
/// builder methods ([`minimum`](ProgressBar::minimum),
/// [`refresh`](ProgressBar::refresh), [`draw_target`](ProgressBar::draw_target))
/// make a new bar, so call them before cloning.
///
/// ```
/// use std::sync::Arc;
/// use barrow_core::arg::key;
/// use barrow_core::collection::GraphKeys;
/// use barrow_core::{Func, Graph, Options, Task, compute_with};
/// use barrow_diagnostics::ProgressBar;
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
/// ])?;
/// let bar = ProgressBar::hidden();
/// let options = Options::new()
///     .scheduler_object(Arc::new(barrow_local::SyncScheduler))
///     .optimize_graph(false) // run x and y as two tasks, not one fused task
///     .callback(Arc::new(bar.clone()));
/// compute_with(GraphKeys::new(graph, ["y"]), &options)?;
/// let progress = bar.progress();
/// assert_eq!((progress.done, progress.total), (2, 2));
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Clone)]
pub struct ProgressBar {
    shared: Arc<Shared>,
}

struct Shared {
    minimum: Duration,
    refresh: Duration,
    target: Arc<TargetFactory>,
    done: AtomicUsize,
    total: AtomicUsize,
    state: Mutex<State>,
    /// Wakes the thread waiting for `minimum` when the run ends first.
    wake: Condvar,
}

#[derive(Default)]
struct State {
    bar: Option<indicatif::ProgressBar>,
    started: Option<Instant>,
    ended: Option<Duration>,
    running: bool,
    shown: bool,
    waiter: Option<JoinHandle<()>>,
}

impl Default for ProgressBar {
    fn default() -> ProgressBar {
        ProgressBar::new()
    }
}

impl ProgressBar {
    /// The default [`minimum`](ProgressBar::minimum) run time before the bar
    /// appears.
    pub const DEFAULT_MINIMUM: Duration = Duration::from_millis(100);
    /// The default [`refresh`](ProgressBar::refresh) interval.
    pub const DEFAULT_REFRESH: Duration = Duration::from_millis(100);

    /// A bar on standard error (quiet when it is not a terminal).
    pub fn new() -> ProgressBar {
        ProgressBar::build(
            ProgressBar::DEFAULT_MINIMUM,
            ProgressBar::DEFAULT_REFRESH,
            Arc::new(ProgressDrawTarget::stderr),
        )
    }

    /// A bar that is never drawn, only counted ([`progress`](Self::progress)).
    pub fn hidden() -> ProgressBar {
        ProgressBar::new().draw_target(ProgressDrawTarget::hidden)
    }

    fn build(minimum: Duration, refresh: Duration, target: Arc<TargetFactory>) -> ProgressBar {
        ProgressBar {
            shared: Arc::new(Shared {
                minimum,
                refresh,
                target,
                done: AtomicUsize::new(0),
                total: AtomicUsize::new(0),
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
            }),
        }
    }

    /// The same bar, appearing only once a run has lasted `minimum` (Dask's
    /// `minimum`; zero draws it from the start).
    pub fn minimum(self, minimum: Duration) -> ProgressBar {
        let refresh = self.shared.refresh;
        ProgressBar::build(minimum, refresh, self.shared.target.clone())
    }

    /// The same bar, redrawn every `refresh` (Dask's `dt`; at least 10 ms).
    pub fn refresh(self, refresh: Duration) -> ProgressBar {
        let minimum = self.shared.minimum;
        let refresh = refresh.max(Duration::from_millis(10));
        ProgressBar::build(minimum, refresh, self.shared.target.clone())
    }

    /// The same bar, drawn where `make` says, called once per run: a file,
    /// stdout, or indicatif's in-memory terminal in tests.
    pub fn draw_target(
        self,
        make: impl Fn() -> ProgressDrawTarget + Send + Sync + 'static,
    ) -> ProgressBar {
        ProgressBar::build(self.shared.minimum, self.shared.refresh, Arc::new(make))
    }

    /// Tasks done out of the total, and time elapsed, in the current or last
    /// run (all zero before the first).
    pub fn progress(&self) -> Progress {
        let state = self.shared.state();
        let elapsed = match (state.ended, state.started) {
            (Some(ended), _) => ended,
            (None, Some(started)) => started.elapsed(),
            (None, None) => Duration::ZERO,
        };
        Progress {
            done: self.shared.done.load(Ordering::Relaxed),
            total: self.shared.total.load(Ordering::Relaxed),
            elapsed,
            shown: state.shown,
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts drawing `bar` on the real target.
    fn show(&self, state: &mut State) {
        if let Some(bar) = &state.bar {
            bar.set_draw_target((self.target)());
            bar.enable_steady_tick(self.refresh);
            bar.tick();
            state.shown = true;
        }
    }
}

fn style() -> ProgressStyle {
    let template = "[{bar:40}] | {percent:>3}% Completed | {pos}/{len} tasks | {seconds}";
    match ProgressStyle::with_template(template) {
        Ok(style) => style.progress_chars("## ").with_key(
            "seconds",
            |state: &ProgressState, w: &mut dyn fmt::Write| {
                let _ = write!(w, "{:.1}s", state.elapsed().as_secs_f64());
            },
        ),
        Err(_) => ProgressStyle::default_bar(),
    }
}

/// Waits for the minimum time, then shows the bar unless the run ended.
fn wait_then_show(shared: Arc<Shared>) {
    let state = shared.state();
    let (mut state, timeout) = shared
        .wake
        .wait_timeout_while(state, shared.minimum, |s| s.running)
        .unwrap_or_else(|e| e.into_inner());
    if timeout.timed_out() && state.running {
        shared.show(&mut state);
    }
}

impl fmt::Debug for ProgressBar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgressBar")
            .field("minimum", &self.shared.minimum)
            .field("refresh", &self.shared.refresh)
            .field("progress", &self.progress())
            .finish()
    }
}

impl Callback for ProgressBar {
    fn start(&self, run: &RunInfo<'_>) {
        let shared = &self.shared;
        let total = run.plan.len();
        shared.done.store(0, Ordering::Relaxed);
        shared.total.store(total, Ordering::Relaxed);
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total as u64),
            ProgressDrawTarget::hidden(),
        )
        .with_style(style());
        let mut state = shared.state();
        *state = State {
            bar: Some(bar),
            started: Some(Instant::now()),
            running: true,
            ..State::default()
        };
        if shared.minimum.is_zero() {
            shared.show(&mut state);
            return;
        }
        let waiter = self.shared.clone();
        // Without a thread, the bar stays hidden; the counts still work.
        state.waiter = std::thread::Builder::new()
            .name("barrow-progress".into())
            .spawn(move || wait_then_show(waiter))
            .ok();
    }

    fn posttask(&self, _task: &TaskEvent<'_>, _value: &Value) {
        self.shared.done.fetch_add(1, Ordering::Relaxed);
        let bar = self.shared.state().bar.clone();
        if let Some(bar) = bar {
            bar.inc(1);
        }
    }

    fn finish(&self, _run: &RunInfo<'_>, error: Option<&CoreError>) {
        let shared = &self.shared;
        let (bar, waiter, shown) = {
            let mut state = shared.state();
            state.running = false;
            state.ended = state.started.map(|s| s.elapsed());
            (state.bar.take(), state.waiter.take(), state.shown)
        };
        shared.wake.notify_all();
        if let Some(waiter) = waiter {
            let _ = waiter.join();
        }
        if let Some(bar) = bar {
            bar.disable_steady_tick();
            match (shown, error) {
                (true, None) => bar.finish(),
                (true, Some(_)) => bar.abandon(),
                (false, _) => bar.finish_and_clear(),
            }
        }
    }
}
