//! Scaling a cluster's workers by hand ([`ScaledWorkers::scale`]) or by the
//! scheduler's demand ([`ScaledWorkers::adapt`], Dask's `adapt`), for any
//! way of starting workers: processes here ([`LocalCluster`]), jobs of a
//! batch system, commands over SSH. The manager says how to start and stop
//! one worker ([`Spawner`]); this module decides how many and which.
//!
//! Going down, workers that have not joined yet are dropped first (they
//! hold nothing), then the idle workers holding the fewest bytes, retired
//! through the scheduler so that their values are copied to the others
//! before they stop.
//!
//! [`LocalCluster`]: crate::LocalCluster

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use barrow_core::config::Snapshot;
use barrow_core::{Error, ErrorKind, Result};

use crate::client::Client;

/// How a cluster manager starts and stops one worker.
pub trait Spawner: Send + Sync + std::fmt::Debug {
    /// Starts a worker (a process, a job, a command on a host) that joins
    /// the scheduler under the name returned.
    fn start_worker(&self) -> Result<String>;
    /// Stops the worker named `name`: it may have left already (after a
    /// retirement), or not have joined yet.
    fn stop_worker(&self, name: &str) -> Result<()>;
}

/// How [`ScaledWorkers::adapt`] follows the scheduler's demand
/// (`distributed.adaptive.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptOptions {
    /// Never fewer workers.
    pub minimum: usize,
    /// Never more workers.
    pub maximum: usize,
    /// How often it asks the scheduler.
    pub interval: Duration,
    /// How long the work in hand should take with the workers it asks
    /// for: shorter asks for more.
    pub target_duration: Duration,
    /// Consecutive answers asking for fewer workers before it closes any
    /// (a short lull between two graphs does not close workers).
    pub wait_count: u32,
}

impl AdaptOptions {
    /// Between `minimum` and `maximum` workers, with the rest from
    /// `config` (`distributed.adaptive.interval`, `target-duration`,
    /// `wait-count`).
    pub fn from_config(minimum: usize, maximum: usize, config: &Snapshot) -> Result<AdaptOptions> {
        let interval = config
            .get::<Duration>("distributed.adaptive.interval")?
            .unwrap_or(Duration::from_secs(1));
        let target_duration = config
            .get::<Duration>("distributed.adaptive.target-duration")?
            .unwrap_or(Duration::from_secs(5));
        let wait_count = config
            .get::<u64>("distributed.adaptive.wait-count")?
            .unwrap_or(3);
        AdaptOptions {
            minimum,
            maximum,
            interval,
            target_duration,
            wait_count: u32::try_from(wait_count).unwrap_or(u32::MAX),
        }
        .checked()
    }

    fn checked(self) -> Result<AdaptOptions> {
        if self.minimum > self.maximum {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "adapt(minimum {}, maximum {}): the minimum is above the maximum",
                    self.minimum, self.maximum
                ),
            ));
        }
        if self.interval.is_zero() || self.target_duration.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "distributed.adaptive.interval and target-duration must be longer than zero",
            ));
        }
        Ok(self)
    }
}

/// The workers a cluster manager started, scaled by hand or adaptively.
/// Dropping it stops adapting; the manager stops its workers itself.
#[derive(Debug)]
pub struct ScaledWorkers {
    shared: Arc<Shared>,
    adaptive: Mutex<Option<AdaptiveLoop>>,
}

#[derive(Debug)]
struct Shared {
    spawner: Arc<dyn Spawner>,
    client: Client,
    /// Names of the workers started and not stopped, oldest first.
    launched: Mutex<Vec<String>>,
    /// Held through a whole scale, so a scale by hand and the adaptive
    /// loop do not interleave.
    scaling: Mutex<()>,
}

#[derive(Debug)]
struct AdaptiveLoop {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    options: AdaptOptions,
}

impl Drop for AdaptiveLoop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl ScaledWorkers {
    /// Workers started by `spawner`, of the scheduler `client` talks to;
    /// `already` names those running now.
    pub fn new(spawner: Arc<dyn Spawner>, client: Client, already: Vec<String>) -> ScaledWorkers {
        ScaledWorkers {
            shared: Arc::new(Shared {
                spawner,
                client,
                launched: Mutex::new(already),
                scaling: Mutex::new(()),
            }),
            adaptive: Mutex::new(None),
        }
    }

    /// The client it asks the scheduler with.
    pub fn client(&self) -> Client {
        self.shared.client.clone()
    }

    /// Names of the workers started and not stopped (joined or not yet),
    /// oldest first.
    pub fn launched(&self) -> Vec<String> {
        self.shared.launched().clone()
    }

    /// Starts or stops workers until `n` are launched: new ones at once;
    /// going down, those not joined yet first, then the idle ones holding
    /// the fewest bytes, retired so their values move to the others first.
    /// Stops adapting.
    pub fn scale(&self, n: usize) -> Result<()> {
        self.stop_adapting();
        self.shared.scale_to(n, None)
    }

    /// Follows the scheduler's demand between `options.minimum` and
    /// `options.maximum` workers, every `options.interval`, until
    /// [`scale`](Self::scale), [`stop_adapting`](Self::stop_adapting) or
    /// the drop; replaces an earlier `adapt`.
    pub fn adapt(&self, options: AdaptOptions) -> Result<()> {
        let options = options.checked()?;
        self.stop_adapting();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = self.shared.clone();
        let thread = std::thread::Builder::new()
            .name("barrow-adaptive".into())
            .spawn({
                let stop = stop.clone();
                let options = options.clone();
                move || shared.adapt_loop(&options, &stop)
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Worker,
                    format!("cannot start the adaptive thread: {e}"),
                )
            })?;
        *self.adaptive.lock().unwrap_or_else(PoisonError::into_inner) = Some(AdaptiveLoop {
            stop,
            thread: Some(thread),
            options,
        });
        Ok(())
    }

    /// What the running `adapt` follows, if one runs.
    pub fn adapting(&self) -> Option<AdaptOptions> {
        self.adaptive
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|a| a.options.clone())
    }

    /// Stops adapting (the workers stay as they are).
    pub fn stop_adapting(&self) {
        let adaptive = self
            .adaptive
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(adaptive);
    }
}

impl Drop for ScaledWorkers {
    fn drop(&mut self) {
        self.stop_adapting();
    }
}

impl Shared {
    fn launched(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.launched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Scales to `n`; going down, closes the workers of `prefer` first
    /// (the scheduler's pick) instead of choosing.
    fn scale_to(&self, n: usize, prefer: Option<&[String]>) -> Result<()> {
        let _scaling = self.scaling.lock().unwrap_or_else(PoisonError::into_inner);
        let have = self.launched().len();
        if n > have {
            for _ in have..n {
                let name = self.spawner.start_worker()?;
                self.launched().push(name);
            }
            return Ok(());
        }
        if n == have {
            return Ok(());
        }
        let surplus = have - n;
        let info = self.client.scheduler_info()?;
        let launched = self.launched().clone();
        let joined = |name: &str| info.workers.iter().any(|w| w.summary.name == name);
        // Not joined yet: nothing to move, newest first.
        let mut closing: Vec<String> = launched
            .iter()
            .rev()
            .filter(|name| !joined(name))
            .take(surplus)
            .cloned()
            .collect();
        let mut retiring = Vec::new();
        if closing.len() < surplus {
            let mut candidates: Vec<_> = info
                .workers
                .iter()
                .filter(|w| launched.contains(&w.summary.name))
                .collect();
            let preferred = |name: &String| prefer.is_some_and(|p| p.contains(name));
            candidates.sort_by_key(|w| {
                (
                    !preferred(&w.summary.name),
                    w.processing > 0,
                    w.managed_bytes,
                )
            });
            retiring = candidates
                .into_iter()
                .take(surplus - closing.len())
                .map(|w| w.summary.name.clone())
                .collect();
        }
        if !retiring.is_empty() {
            let names: Vec<&str> = retiring.iter().map(String::as_str).collect();
            if let Err(error) = self.client.retire_workers(&names) {
                // Going to zero (or below what holds the values) cannot move
                // them anywhere: asked for fewer workers, the user gets
                // fewer, and what is lost is computed again when needed.
                tracing::warn!("closing {names:?} without moving their values: {error}");
            }
            closing.extend(retiring);
        }
        let mut first_error = None;
        for name in &closing {
            if let Err(error) = self.spawner.stop_worker(name) {
                first_error.get_or_insert(error);
            }
            self.launched().retain(|n| n != name);
        }
        first_error.map_or(Ok(()), Err)
    }

    fn adapt_loop(&self, options: &AdaptOptions, stop: &AtomicBool) {
        let mut lower = 0u32;
        while !stop.load(Ordering::Acquire) {
            match self.adapt_once(options, &mut lower) {
                Ok(()) => {}
                Err(error) => tracing::warn!("adaptive scaling: {error}"),
            }
            std::thread::park_timeout(options.interval);
        }
    }

    fn adapt_once(&self, options: &AdaptOptions, lower: &mut u32) -> Result<()> {
        let target = self.client.adaptive_target(options.target_duration)?;
        let wanted = (target.workers as usize).clamp(options.minimum, options.maximum);
        let have = self.launched().len();
        if wanted >= have {
            *lower = 0;
            return self.scale_to(wanted, None);
        }
        *lower += 1;
        if *lower < options.wait_count.max(1) {
            return Ok(());
        }
        *lower = 0;
        self.scale_to(wanted, Some(&target.close))
    }
}
