//! Second pass: the walk that hands out priorities.
//!
//! A depth-first descent from the outputs, most expensive dependency first,
//! emits a node as soon as all its dependencies are emitted. After each
//! emission, eager steps queue the tasks that let a result be freed; before
//! each new input is loaded, the work that needs no new input is finished.

use crate::plan::Csr;

use super::prepare::{NONE, Prepared, by_key, by_work};

/// The node was pushed on the descent stack and is not emitted yet.
const PUSHED: u8 = 1;
/// Running the node would free an emitted result: it is the last pending
/// dependent of one of its dependencies.
const FREES: u8 = 2;

/// How many entries of a row [`Walk::cheap_to_finish`] looks at before giving
/// up; keeps the eager step constant-time per candidate on very wide nodes.
const SCAN_LIMIT: usize = 16;

/// A dependent is pulled early, to free an input, when finishing it takes at
/// most this many times the work that produced the input.
const PULL_BUDGET: u32 = 2;

/// An eager step: runnable nodes go to the ready list, the others are pulled
/// by the descent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Run,
    Pull,
}

/// The mutable state of the walk.
#[derive(Debug)]
pub(super) struct Walk<'a, K> {
    keys: &'a [K],
    dependents: &'a Csr,
    offsets: Vec<u32>,
    targets: Vec<u32>,
    cost: Vec<u32>,
    /// Position in each row before which every dependency is emitted.
    cursor: Vec<u32>,
    /// Distinct dependents of each node not emitted yet.
    waiting: Vec<u32>,
    flags: Vec<u8>,
    priority: Vec<u32>,
    next: u32,
    /// The descent: nodes whose dependencies are being emitted.
    stack: Vec<u32>,
    /// Runnable nodes queued by the eager steps; they run before the descent
    /// goes on.
    ready: Vec<u32>,
    /// Eager steps found by one emission or flush: `(step, rank, node)`.
    candidates: Vec<(Step, u32, u32)>,
    /// Runnable nodes that freed nothing when they became runnable.
    deferred: Vec<u32>,
}

impl<'a, K: Ord> Walk<'a, K> {
    /// Sets up the walk over a prepared graph.
    pub(super) fn new(prepared: Prepared, dependents: &'a Csr, keys: &'a [K]) -> Walk<'a, K> {
        let Prepared {
            offsets,
            targets,
            cost,
            spare,
            counters,
            rebuilt_dependents: _,
        } = prepared;
        let n = cost.len();
        let mut waiting = counters;
        waiting.fill(0);
        for &d in &targets {
            if d != NONE {
                waiting[d as usize] += 1;
            }
        }
        Walk {
            keys,
            dependents,
            cursor: offsets[..n].to_vec(),
            offsets,
            targets,
            cost,
            waiting,
            flags: vec![0; n],
            priority: vec![NONE; n],
            next: 0,
            stack: spare,
            ready: Vec::new(),
            candidates: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// Runs the walk and returns the priorities.
    pub(super) fn run(mut self) -> Vec<u32> {
        let n = self.priority.len() as u32;
        let mut outputs: Vec<u32> = (0..n).filter(|&v| self.waiting[v as usize] == 0).collect();
        let (cost, keys) = (&self.cost, self.keys);
        outputs.sort_unstable_by(|&a, &b| by_work(cost, keys, a, b));
        for v in outputs {
            self.complete(v);
        }
        // Every node of a DAG leads to an output; this only guards against
        // inconsistent inputs.
        for v in 0..n {
            self.complete(v);
        }
        self.priority
    }

    /// Whether `v` is a node id; only ids read from the caller's dependents
    /// need the check.
    fn in_range(&self, v: u32) -> bool {
        (v as usize) < self.priority.len()
    }

    fn emitted(&self, v: u32) -> bool {
        self.priority[v as usize] != NONE
    }

    fn is_input(&self, v: u32) -> bool {
        self.offsets[v as usize] == self.offsets[v as usize + 1]
    }

    fn has(&self, v: u32, flag: u8) -> bool {
        self.flags[v as usize] & flag != 0
    }

    fn push(&mut self, v: u32) {
        self.flags[v as usize] |= PUSHED;
        self.stack.push(v);
    }

    /// Emits `target` and everything it needs.
    fn complete(&mut self, target: u32) {
        if self.emitted(target) {
            return;
        }
        self.push(target);
        loop {
            if let Some(y) = self.ready.pop() {
                if !self.emitted(y) && self.next_missing(y).is_none() {
                    self.emit(y);
                }
                continue;
            }
            let Some(&v) = self.stack.last() else {
                break;
            };
            if self.emitted(v) {
                self.stack.pop();
            } else if let Some(d) = self.next_missing(v) {
                self.push(d);
            } else if self.is_input(v) && self.flush() {
                // Work that needs no new input goes first; `v` waits.
            } else {
                self.stack.pop();
                self.emit(v);
            }
        }
    }

    /// The first dependency of `v` (in descent order) not emitted yet,
    /// advancing the cursor past the emitted ones; `None` if `v` is runnable.
    fn next_missing(&mut self, v: u32) -> Option<u32> {
        let end = self.offsets[v as usize + 1];
        let mut c = self.cursor[v as usize];
        while c < end {
            let d = self.targets[c as usize];
            if d != NONE && !self.emitted(d) {
                self.cursor[v as usize] = c;
                return Some(d);
            }
            c += 1;
        }
        self.cursor[v as usize] = end;
        None
    }

    /// Gives `v` the next priority, then queues the eager steps it enables.
    fn emit(&mut self, v: u32) {
        self.priority[v as usize] = self.next;
        self.next += 1;
        self.candidates.clear();

        // Each dependency has one fewer dependent to wait for; when a single
        // one is left, running it frees that dependency.
        let (start, end) = (self.offsets[v as usize], self.offsets[v as usize + 1]);
        for c in start..end {
            let d = self.targets[c as usize];
            if d == NONE {
                break;
            }
            let w = &mut self.waiting[d as usize];
            *w = w.saturating_sub(1);
            if *w == 1 {
                self.last_dependent_of(d);
            }
        }

        // Dependents that just became runnable: run them now if that frees
        // a result, else defer them. With a single dependent left,
        // `last_dependent_of` handles it.
        if self.waiting[v as usize] == 1 {
            self.last_dependent_of(v);
        } else {
            let dependents = self.dependents;
            let mut previous = NONE;
            for &y in dependents.row(v) {
                if y == previous || !self.in_range(y) || self.emitted(y) {
                    continue;
                }
                previous = y;
                if self.next_missing(y).is_some() {
                    continue;
                }
                if self.has(y, FREES) {
                    self.candidates.push((Step::Run, 0, y));
                } else if !self.has(y, PUSHED) {
                    self.deferred.push(y);
                }
            }
        }

        self.schedule_candidates();
    }

    /// `d` is emitted and has exactly one dependent left: mark it, and queue
    /// it if it is runnable or cheap to finish.
    fn last_dependent_of(&mut self, d: u32) {
        let mut last = None;
        for &y in self.dependents.row(d) {
            if (y as usize) < self.priority.len() && self.priority[y as usize] == NONE {
                last = Some(y);
                break;
            }
        }
        let Some(z) = last else {
            return;
        };
        self.flags[z as usize] |= FREES;
        if self.next_missing(z).is_none() {
            self.candidates.push((Step::Run, 0, z));
        } else if !self.has(z, PUSHED) && self.completes_something(z) {
            let budget = self.cost[d as usize].saturating_mul(PULL_BUDGET);
            if let Some(rest) = self.cheap_to_finish(z, budget) {
                self.candidates.push((Step::Pull, rest, z));
            }
        }
    }

    /// Whether `z` is an output, or the last missing dependency of one of
    /// its dependents: its result would not wait long.
    fn completes_something(&self, z: u32) -> bool {
        let dependents = self.dependents;
        let row = dependents.row(z);
        if row.is_empty() {
            return true;
        }
        for &y in row.iter().take(SCAN_LIMIT) {
            if !self.in_range(y) || self.emitted(y) {
                continue;
            }
            let (start, end) = (self.cursor[y as usize], self.offsets[y as usize + 1]);
            let mut only_z = true;
            for (seen, c) in (start..end).enumerate() {
                let d = self.targets[c as usize];
                if d == NONE {
                    break;
                }
                if seen >= SCAN_LIMIT || (d != z && !self.emitted(d)) {
                    only_z = false;
                    break;
                }
            }
            if only_z {
                return true;
            }
        }
        false
    }

    /// The work left to run `z` if it is at most `budget`, nothing under way
    /// is involved, and the row is short enough to check.
    fn cheap_to_finish(&self, z: u32, budget: u32) -> Option<u32> {
        let (start, end) = (self.cursor[z as usize], self.offsets[z as usize + 1]);
        let mut rest = 0u32;
        for (seen, c) in (start..end).enumerate() {
            if seen >= SCAN_LIMIT {
                return None;
            }
            let d = self.targets[c as usize];
            if d == NONE {
                break;
            }
            if self.emitted(d) {
                continue;
            }
            if self.has(d, PUSHED) {
                return None;
            }
            rest = rest.saturating_add(self.cost[d as usize]);
            if rest > budget {
                return None;
            }
        }
        Some(rest)
    }

    /// Before a new input loads: queues the deferred nodes that lead
    /// straight to an output. Returns whether any was queued. The list is
    /// emptied: what is not queued now is reached by the descent.
    fn flush(&mut self) -> bool {
        self.candidates.clear();
        let deferred = std::mem::take(&mut self.deferred);
        for &y in &deferred {
            if !self.emitted(y) && !self.has(y, PUSHED) && self.leads_to_output(y) {
                self.candidates.push((Step::Run, 0, y));
            }
        }
        self.deferred = deferred;
        self.deferred.clear();
        let any = !self.candidates.is_empty();
        self.schedule_candidates();
        any
    }

    /// Whether `y` is an output, or its only dependent has `y` as its only
    /// dependency and leads to an output, and so on: running `y` then
    /// finishes a piece of output without loading anything else.
    fn leads_to_output(&self, mut y: u32) -> bool {
        loop {
            let mut next = self.dependents.row(y).iter().copied();
            let Some(z) = next.next() else {
                return true;
            };
            if !self.in_range(z) || next.any(|w| w != z) || self.waiting[y as usize] != 1 {
                return false;
            }
            let (start, end) = (self.offsets[z as usize], self.offsets[z as usize + 1]);
            if end - start == 0 || self.targets[start as usize] != y {
                return false;
            }
            if end - start > 1 && self.targets[start as usize + 1] != NONE {
                return false;
            }
            y = z;
        }
    }

    /// Queues the candidates: runnable ones on the ready list (smallest key
    /// first), the others on the descent stack (cheapest first).
    fn schedule_candidates(&mut self) {
        let mut candidates = std::mem::take(&mut self.candidates);
        if candidates.len() > 1 {
            let keys = self.keys;
            candidates.sort_unstable_by(|a, b| {
                (a.0, a.1)
                    .cmp(&(b.0, b.1))
                    .then_with(|| by_key(keys, a.2, b.2))
            });
            candidates.dedup_by_key(|c| c.2);
        }
        for &(step, _, v) in candidates.iter().rev() {
            if self.emitted(v) {
                continue;
            }
            match step {
                Step::Run => self.ready.push(v),
                Step::Pull => self.push(v),
            }
        }
        candidates.clear();
        self.candidates = candidates;
    }
}
