//! Progress per task prefix (Dask's `TaskProgress`): how many tasks of each
//! kind there are and where they stand, kept by counting moves, so a
//! producer pays a few additions per task and nothing per look.

use serde::Serialize;

/// Where a task stands, as progress counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Known, not started, not needed now (or computed and its value
    /// released).
    Released,
    /// Waiting for its inputs.
    Waiting,
    /// Ready, held back until a worker has room (or no worker can run it).
    Queued,
    /// Running, or sent to a worker to run.
    Processing,
    /// Its value is held.
    Memory,
    /// It failed, or an input did.
    Failed,
}

impl Phase {
    const COUNT: usize = 6;

    fn index(self) -> usize {
        self as usize
    }
}

/// One prefix's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrefixProgress {
    /// The key prefix (`inc` for `inc-5f3a…`).
    pub prefix: String,
    /// Tasks of this prefix seen, forgotten ones included.
    pub all: u64,
    /// Computations that finished (a value recomputed counts again only
    /// after it was lost: see [`ProgressTable::lost`]).
    pub done: u64,
    /// Values held now.
    pub memory: u64,
    /// Running or sent to run.
    pub processing: u64,
    /// Waiting for inputs.
    pub waiting: u64,
    /// Ready and held back.
    pub queued: u64,
    /// Failed.
    pub failed: u64,
}

impl PrefixProgress {
    /// The share of its tasks that are done or failed, in 0..=1.
    pub fn fraction(&self) -> f64 {
        if self.all == 0 {
            return 1.0;
        }
        ((self.done + self.failed) as f64 / self.all as f64).min(1.0)
    }
}

#[derive(Debug, Clone, Default)]
struct Counts {
    all: u64,
    done: u64,
    phases: [u64; Phase::COUNT],
}

/// Counts per prefix, addressed by a small id the producer keeps per task.
#[derive(Debug, Clone, Default)]
pub struct ProgressTable {
    names: Vec<String>,
    ids: std::collections::HashMap<String, u32>,
    counts: Vec<Counts>,
}

impl ProgressTable {
    /// An empty table.
    pub fn new() -> ProgressTable {
        ProgressTable::default()
    }

    /// The id of `prefix`, added on first sight.
    pub fn prefix(&mut self, prefix: &str) -> u32 {
        if let Some(&id) = self.ids.get(prefix) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(prefix.to_owned());
        self.ids.insert(prefix.to_owned(), id);
        self.counts.push(Counts::default());
        id
    }

    /// A new task of prefix `id`, in `phase`.
    pub fn added(&mut self, id: u32, phase: Phase) {
        if let Some(c) = self.counts.get_mut(id as usize) {
            c.all += 1;
            c.phases[phase.index()] += 1;
        }
    }

    /// A task of prefix `id` moved. Moving from processing to memory is a
    /// computation done.
    pub fn moved(&mut self, id: u32, from: Phase, to: Phase) {
        let Some(c) = self.counts.get_mut(id as usize) else {
            return;
        };
        let slot = &mut c.phases[from.index()];
        *slot = slot.saturating_sub(1);
        c.phases[to.index()] += 1;
        if from == Phase::Processing && to == Phase::Memory {
            c.done += 1;
        }
    }

    /// A task of prefix `id` that was done lost its value and must be
    /// computed again.
    pub fn lost(&mut self, id: u32) {
        if let Some(c) = self.counts.get_mut(id as usize) {
            c.done = c.done.saturating_sub(1);
        }
    }

    /// A task of prefix `id` in `phase` was forgotten: it leaves its phase
    /// but still counts in `all` (and in `done` if it was).
    pub fn forgotten(&mut self, id: u32, phase: Phase) {
        if let Some(c) = self.counts.get_mut(id as usize) {
            let slot = &mut c.phases[phase.index()];
            *slot = slot.saturating_sub(1);
            if phase != Phase::Memory && phase != Phase::Failed && phase != Phase::Released {
                // Forgotten before it ran (cancelled): it will not be done.
                c.all = c.all.saturating_sub(1);
            }
        }
    }

    /// Forgets everything (a cluster restart).
    pub fn clear(&mut self) {
        self.names.clear();
        self.ids.clear();
        self.counts.clear();
    }

    /// The counts, by prefix in order of first sight.
    pub fn rows(&self) -> Vec<PrefixProgress> {
        self.names
            .iter()
            .zip(&self.counts)
            .map(|(name, c)| PrefixProgress {
                prefix: name.clone(),
                all: c.all,
                done: c.done,
                memory: c.phases[Phase::Memory.index()],
                processing: c.phases[Phase::Processing.index()],
                waiting: c.phases[Phase::Waiting.index()],
                queued: c.phases[Phase::Queued.index()],
                failed: c.phases[Phase::Failed.index()],
            })
            .collect()
    }
}

/// The kind of task a key's name says, as Dask's `key_split`: the name up
/// to the first word (`-`-separated) that is a number or a hex token of 8
/// digits or more: `"inc-5f3a9c0d…"` → `"inc"`, `"sum-aggregate-3"` →
/// `"sum-aggregate"`, `"x"` → `"x"`. Tasks of one prefix share a colour in
/// the task stream and a row in the progress table. (The distributed scheduler
/// uses it too, so a local run and a cluster group alike.)
pub fn key_prefix(name: &str) -> &str {
    let mut end = 0;
    for (i, word) in name.split('-').enumerate() {
        let token = word.len() >= 8 && word.bytes().all(|b| b.is_ascii_hexdigit());
        let number = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
        if i > 0 && (token || number) {
            break;
        }
        end = if i == 0 {
            word.len()
        } else {
            end + 1 + word.len()
        };
    }
    if end == 0 { name } else { &name[..end] }
}

/// The totals over prefixes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Overall {
    /// Tasks seen.
    pub all: u64,
    /// Done.
    pub done: u64,
    /// Failed.
    pub failed: u64,
    /// Running or sent to run.
    pub processing: u64,
}

impl Overall {
    /// Sums `rows`.
    pub fn of(rows: &[PrefixProgress]) -> Overall {
        rows.iter().fold(Overall::default(), |mut o, r| {
            o.all += r.all;
            o.done += r.done;
            o.failed += r.failed;
            o.processing += r.processing;
            o
        })
    }

    /// The share done or failed, in 0..=1.
    pub fn fraction(&self) -> f64 {
        if self.all == 0 {
            return 1.0;
        }
        ((self.done + self.failed) as f64 / self.all as f64).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_walks_to_done() {
        let mut table = ProgressTable::new();
        let inc = table.prefix("inc");
        assert_eq!(table.prefix("inc"), inc);
        for _ in 0..4 {
            table.added(inc, Phase::Waiting);
        }
        table.moved(inc, Phase::Waiting, Phase::Processing);
        table.moved(inc, Phase::Processing, Phase::Memory);
        table.moved(inc, Phase::Waiting, Phase::Queued);
        table.moved(inc, Phase::Waiting, Phase::Failed);
        let row = &table.rows()[0];
        assert_eq!(
            (
                row.all,
                row.done,
                row.memory,
                row.waiting,
                row.queued,
                row.failed
            ),
            (4, 1, 1, 1, 1, 1)
        );
        assert!((row.fraction() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn forgotten_results_stay_done_and_cancelled_tasks_leave() {
        let mut table = ProgressTable::new();
        let x = table.prefix("x");
        table.added(x, Phase::Waiting);
        table.added(x, Phase::Waiting);
        table.moved(x, Phase::Waiting, Phase::Processing);
        table.moved(x, Phase::Processing, Phase::Memory);
        table.forgotten(x, Phase::Memory);
        table.forgotten(x, Phase::Waiting);
        let row = &table.rows()[0];
        assert_eq!((row.all, row.done, row.memory, row.waiting), (1, 1, 0, 0));
        assert!((Overall::of(&table.rows()).fraction() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_lost_value_is_not_done_until_computed_again() {
        let mut table = ProgressTable::new();
        let x = table.prefix("x");
        table.added(x, Phase::Processing);
        table.moved(x, Phase::Processing, Phase::Memory);
        table.lost(x);
        table.moved(x, Phase::Memory, Phase::Processing);
        assert_eq!(table.rows()[0].done, 0);
        table.moved(x, Phase::Processing, Phase::Memory);
        assert_eq!(table.rows()[0].done, 1);
    }

    #[test]
    fn prefixes_drop_tokens_and_numbers() {
        let cases = [
            ("inc-5f3a9c0d11aa", "inc"),
            ("sum-aggregate-3", "sum-aggregate"),
            (
                "from-sequence-0f1e2d3c4b5a69788796a5b4c3d2e1f0-2",
                "from-sequence",
            ),
            ("x-1-2-3", "x"),
            ("x", "x"),
            ("hello-world", "hello-world"),
            ("b1", "b1"),
            ("deadbeef", "deadbeef"),
            ("map-beef", "map-beef"),
            ("-1", "-1"),
            ("", ""),
        ];
        for (name, prefix) in cases {
            assert_eq!(key_prefix(name), prefix, "{name}");
        }
    }

    #[test]
    fn an_empty_table_is_complete() {
        assert!((Overall::of(&[]).fraction() - 1.0).abs() < 1e-9);
    }
}
