//! A worker's memory bar: Dask's four segments and the colour rule of its
//! `MemoryColor` (distributed/dashboard/components/scheduler.py).

use serde::Serialize;

/// The shares of the memory limit that change what a worker does
/// (`distributed.worker.memory.*`; 0 turns one off).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Values beyond it go to disk (0.6).
    pub target: f64,
    /// Resident memory beyond it spills (0.7).
    pub spill: f64,
    /// Resident memory beyond it pauses the worker (0.8).
    pub pause: f64,
    /// Resident memory beyond it gets the worker restarted (0.95).
    pub terminate: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            target: 0.6,
            spill: 0.7,
            pause: 0.8,
            terminate: 0.95,
        }
    }
}

/// One worker's memory, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// Its values in memory (exact, from their `nbytes`).
    pub managed: u64,
    /// Unmanaged memory present for a while.
    pub unmanaged_old: u64,
    /// Unmanaged memory that appeared lately.
    pub unmanaged_recent: u64,
    /// Its values on disk.
    pub spilled: u64,
    /// Its process's resident bytes (0: unknown).
    pub process: u64,
    /// Its memory limit (0: none).
    pub limit: u64,
}

impl Memory {
    /// Adds another worker's figures (for the cluster's bar).
    pub fn add(&mut self, other: &Memory) {
        self.managed += other.managed;
        self.unmanaged_old += other.unmanaged_old;
        self.unmanaged_recent += other.unmanaged_recent;
        self.spilled += other.spilled;
        self.process += other.process;
        self.limit += other.limit;
    }

    /// The resident bytes the colour is judged by: the process's when
    /// known, else the values' (a worker inside another program).
    pub fn resident(&self) -> u64 {
        if self.process > 0 {
            self.process
        } else {
            self.managed + self.unmanaged_old + self.unmanaged_recent
        }
    }
}

/// The colour of a memory bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryColour {
    /// Below the thresholds.
    Normal,
    /// At or past `min(target, spill)`: values may be going to disk.
    Spilling,
    /// At or past `min(terminate, 1)`, or the worker is not running
    /// (paused, retiring).
    Critical,
}

impl MemoryColour {
    /// Dask's rule. A threshold at 0 is off; with no limit the bar is
    /// normal unless the worker is not running.
    pub fn of(memory: &Memory, thresholds: &Thresholds, running: bool) -> MemoryColour {
        if !running {
            return MemoryColour::Critical;
        }
        if memory.limit == 0 {
            return MemoryColour::Normal;
        }
        let limit = memory.limit as f64;
        let resident = memory.resident() as f64;
        let terminate = match thresholds.terminate {
            t if t > 0.0 => t.min(1.0),
            _ => 1.0,
        };
        if resident >= limit * terminate {
            return MemoryColour::Critical;
        }
        let spilling = [thresholds.target, thresholds.spill]
            .into_iter()
            .filter(|t| *t > 0.0)
            .reduce(f64::min);
        match spilling {
            Some(share) if resident >= limit * share => MemoryColour::Spilling,
            _ => MemoryColour::Normal,
        }
    }

    /// The CSS colour Dask draws it in.
    pub fn css(self) -> &'static str {
        match self {
            MemoryColour::Normal => "#1f77b4",
            MemoryColour::Spilling => "#ff7f0e",
            MemoryColour::Critical => "#d62728",
        }
    }
}

/// How opaque each segment is drawn (Dask's alphas); spilled bytes are
/// grey.
pub const SEGMENT_ALPHA: [(&str, f64); 4] = [
    ("managed", 1.0),
    ("unmanaged-old", 0.7),
    ("unmanaged-recent", 0.4),
    ("spilled", 1.0),
];

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1 << 30;

    fn memory(process: u64, limit: u64) -> Memory {
        Memory {
            managed: process / 2,
            unmanaged_old: process / 4,
            unmanaged_recent: process / 4,
            spilled: 0,
            process,
            limit,
        }
    }

    /// Table-driven from Dask's `MemoryColor`: (resident, limit, running,
    /// colour) with the default thresholds.
    #[test]
    fn colours_follow_dasks_rule() {
        let t = Thresholds::default();
        let cases = [
            (0, 10 * GB, true, MemoryColour::Normal),
            (5 * GB, 10 * GB, true, MemoryColour::Normal),
            (6 * GB, 10 * GB, true, MemoryColour::Spilling), // target 0.6
            (9 * GB, 10 * GB, true, MemoryColour::Spilling), // past pause: still orange
            (96 * GB / 10, 10 * GB, true, MemoryColour::Critical), // terminate 0.95
            (1, 10 * GB, false, MemoryColour::Critical),     // paused or retiring
            (50 * GB, 0, true, MemoryColour::Normal),        // no limit
        ];
        for (resident, limit, running, colour) in cases {
            assert_eq!(
                MemoryColour::of(&memory(resident, limit), &t, running),
                colour,
                "resident {resident}, limit {limit}, running {running}"
            );
        }
    }

    #[test]
    fn thresholds_turned_off_are_ignored() {
        let off = Thresholds {
            target: 0.0,
            spill: 0.7,
            pause: 0.0,
            terminate: 0.0,
        };
        let m = |gb| memory(gb * GB, 10 * GB);
        assert_eq!(MemoryColour::of(&m(6), &off, true), MemoryColour::Normal);
        assert_eq!(MemoryColour::of(&m(7), &off, true), MemoryColour::Spilling);
        // Terminate off: red only at the limit itself.
        assert_eq!(MemoryColour::of(&m(9), &off, true), MemoryColour::Spilling);
        assert_eq!(MemoryColour::of(&m(10), &off, true), MemoryColour::Critical);
        let none = Thresholds {
            target: 0.0,
            spill: 0.0,
            pause: 0.0,
            terminate: 0.0,
        };
        assert_eq!(MemoryColour::of(&m(9), &none, true), MemoryColour::Normal);
    }

    #[test]
    fn without_a_process_reading_the_values_count() {
        let m = Memory {
            managed: 7 * GB,
            limit: 10 * GB,
            ..Memory::default()
        };
        assert_eq!(m.resident(), 7 * GB);
        assert_eq!(
            MemoryColour::of(&m, &Thresholds::default(), true),
            MemoryColour::Spilling
        );
    }

    #[test]
    fn the_cluster_bar_sums_its_workers() {
        let mut total = Memory::default();
        total.add(&memory(4 * GB, 10 * GB));
        total.add(&memory(2 * GB, 10 * GB));
        assert_eq!(total.process, 6 * GB);
        assert_eq!(total.managed, 3 * GB);
        assert_eq!(total.limit, 20 * GB);
    }
}
