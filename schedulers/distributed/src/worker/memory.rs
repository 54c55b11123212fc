//! How much memory a worker uses, and what it does about it: the
//! thresholds of `distributed.worker.memory.*` as shares of its memory
//! limit (Dask's `target`, `spill`, `pause`; `terminate` is the nanny's).
//!
//! - **target** (0.6), against managed bytes (each value's exact
//!   `nbytes`): past it, the least recently used values go to disk.
//! - **spill** (0.7), against the process's resident memory: past it,
//!   values go to disk until the estimate of what is left falls under
//!   target (hysteresis, so it does not flap).
//! - **pause** (0.8), against resident memory: no new task starts and no
//!   new fetch, and the scheduler gives the worker no new work, until it
//!   falls back under pause.
//!
//! Resident memory comes from a [`MemoryReader`], which tests replace.

use barrow_core::config::Snapshot;
use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};

/// Where a worker reads how much memory its process uses.
pub trait MemoryReader: Send + Sync + std::fmt::Debug {
    /// The resident bytes of the worker's process, if known.
    fn process_bytes(&self) -> Option<u64>;
}

/// The resident set of this process, from `/proc/self/statm` (Linux;
/// elsewhere unknown, and the process-based thresholds stay idle).
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessMemory;

impl MemoryReader for ProcessMemory {
    fn process_bytes(&self) -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * rustix::param::page_size() as u64)
    }
}

/// This process's processor use between two readings, in percent of one
/// core (Dask's `cpu` of a worker), from `/proc/self/stat` (Linux).
#[derive(Debug, Default)]
pub(crate) struct CpuMeter {
    last: Option<(Instant, f64)>,
}

impl CpuMeter {
    /// The use since the last call (`None` at the first, or off Linux).
    pub(crate) fn sample(&mut self) -> Option<f32> {
        let now = Instant::now();
        let seconds = process_cpu_seconds()?;
        let previous = self.last.replace((now, seconds));
        let (then, before) = previous?;
        let wall = now.saturating_duration_since(then).as_secs_f64();
        (wall > 0.0).then(|| ((seconds - before).max(0.0) / wall * 100.0) as f32)
    }
}

/// User plus system time of this process, in seconds.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: the fields start after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// The thresholds, as shares of the memory limit (`None`: off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Thresholds {
    pub(crate) target: Option<f64>,
    pub(crate) spill: Option<f64>,
    pub(crate) pause: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            target: Some(0.6),
            spill: Some(0.7),
            pause: Some(0.8),
        }
    }
}

impl Thresholds {
    /// The thresholds `config` sets; 0 turns one off.
    pub(crate) fn from_config(config: &Snapshot) -> Result<Thresholds> {
        let defaults = Thresholds::default();
        let share = |name: &str, default: Option<f64>| -> Result<Option<f64>> {
            let key = format!("distributed.worker.memory.{name}");
            match config.get::<f64>(&key)? {
                None => Ok(default),
                Some(0.0) => Ok(None),
                Some(v) if v > 0.0 && v <= 1.0 => Ok(Some(v)),
                Some(v) => Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{key} is {v}: give a share of the memory limit above 0 and at most 1 \
                         (such as 0.7), or 0 to turn it off"
                    ),
                )),
            }
        };
        Ok(Thresholds {
            target: share("target", defaults.target)?,
            spill: share("spill", defaults.spill)?,
            pause: share("pause", defaults.pause)?,
        })
    }
}

/// A worker's memory settings: its limit (0: none, and nothing here
/// applies) and the thresholds.
#[derive(Debug, Clone)]
pub(crate) struct MemorySettings {
    pub(crate) limit: u64,
    pub(crate) thresholds: Thresholds,
}

/// What the memory check decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MemoryPlan {
    /// Bytes (by `nbytes`) to move to disk now.
    pub(crate) spill_bytes: u64,
    /// Whether the worker should be paused.
    pub(crate) paused: bool,
}

impl MemorySettings {
    /// What to do with `managed` bytes in memory (of which `leaving` are
    /// being written to disk already) and `process` resident bytes, if
    /// known. Paused while over pause, as in Dask: the spilling brings it
    /// down.
    pub(crate) fn plan(&self, managed: u64, leaving: u64, process: Option<u64>) -> MemoryPlan {
        if self.limit == 0 {
            return MemoryPlan::default();
        }
        let limit = self.limit as f64;
        let staying = managed.saturating_sub(leaving);
        let target = self.thresholds.target.map(|t| (t * limit) as u64);
        let mut spill_bytes = 0;
        if let Some(target) = target
            && staying > target
        {
            spill_bytes = staying - target;
        }
        if let (Some(spill), Some(process)) = (self.thresholds.spill, process) {
            let after = process.saturating_sub(leaving);
            if after as f64 > spill * limit {
                // Down to target (or, without one, to spill).
                let floor = target.unwrap_or((spill * limit) as u64);
                spill_bytes = spill_bytes.max(after.saturating_sub(floor));
            }
        }
        let paused = match (self.thresholds.pause, process) {
            (Some(pause), Some(process)) => process as f64 > pause * limit,
            _ => false,
        };
        MemoryPlan {
            spill_bytes: spill_bytes.min(staying),
            paused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processor_use_is_measured_between_two_readings() {
        let mut meter = CpuMeter::default();
        let first = meter.sample();
        if process_cpu_seconds().is_none() {
            assert_eq!(first, None); // not Linux
            return;
        }
        assert_eq!(first, None, "the first reading has nothing to compare with");
        // Spin until the kernel has counted processor time for it (a few
        // clock ticks), however busy the machine is.
        let before = process_cpu_seconds().unwrap();
        let mut spin = 0u64;
        while process_cpu_seconds().unwrap() < before + 0.03 {
            for _ in 0..10_000 {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
        }
        let busy = meter.sample().unwrap();
        assert!(busy > 0.0, "{busy}% after using processor time");
    }

    fn settings(limit: u64) -> MemorySettings {
        MemorySettings {
            limit,
            thresholds: Thresholds::default(),
        }
    }

    #[test]
    fn managed_bytes_past_target_go_to_disk_down_to_target() {
        let s = settings(1000);
        assert_eq!(s.plan(600, 0, None), MemoryPlan::default());
        assert_eq!(s.plan(750, 0, None).spill_bytes, 150);
        // What is already leaving counts as gone.
        assert_eq!(s.plan(750, 150, None).spill_bytes, 0);
    }

    #[test]
    fn resident_memory_past_spill_goes_down_to_target_and_past_pause_pauses() {
        let s = settings(1000);
        // Process at 0.69 of the limit: under spill, nothing.
        assert_eq!(s.plan(100, 0, Some(690)), MemoryPlan::default());
        // At 0.75: spill until 0.6 (the managed bytes bound what can go).
        assert_eq!(s.plan(500, 0, Some(750)).spill_bytes, 150);
        assert_eq!(s.plan(100, 0, Some(750)).spill_bytes, 100);
        // At 0.85: paused, until back under 0.8.
        assert!(s.plan(0, 0, Some(850)).paused);
        assert!(s.plan(0, 0, Some(810)).paused);
        assert!(!s.plan(0, 0, Some(790)).paused);
    }

    #[test]
    fn no_limit_or_no_reading_leaves_process_thresholds_idle() {
        assert_eq!(
            settings(0).plan(1 << 40, 0, Some(1 << 40)),
            MemoryPlan::default()
        );
        assert!(!settings(1000).plan(0, 0, None).paused);
    }

    #[test]
    fn the_thresholds_come_from_the_configuration_and_bad_ones_are_named() {
        let config = barrow_core::config::snapshot()
            .unwrap()
            .with_options([("distributed.worker.memory.target", "0")])
            .unwrap()
            .with_options([("distributed.worker.memory.pause", "0.9")])
            .unwrap();
        let t = Thresholds::from_config(&config).unwrap();
        assert_eq!(t.target, None);
        assert_eq!(t.pause, Some(0.9));
        assert_eq!(t.spill, Some(0.7));
        // The configuration refuses a share past 1, naming the key.
        let err = barrow_core::config::snapshot()
            .unwrap()
            .with_options([("distributed.worker.memory.spill", "1.5")])
            .unwrap_err();
        assert!(
            err.to_string().contains("distributed.worker.memory.spill"),
            "{err}"
        );
    }
}
