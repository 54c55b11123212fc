//! Compressed sparse rows: the adjacency lists of the execution plan.

/// For each node `0..len()`, a list of node ids, stored in two flat vectors
/// (one allocation each instead of one per node).
///
/// ```
/// use barrow_core::plan::Csr;
///
/// let deps = Csr::from_rows([vec![], vec![0], vec![0, 1]]);
/// assert_eq!(deps.row(2), &[0, 1]);
/// let dependents = deps.transpose();
/// assert_eq!(dependents.row(0), &[1, 2]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Csr {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Csr {
    /// Builds from one list of ids per node.
    pub fn from_rows<R, I>(rows: R) -> Csr
    where
        R: IntoIterator<Item = I>,
        I: IntoIterator<Item = u32>,
    {
        let mut csr = Csr::with_capacity(0, 0);
        for row in rows {
            csr.push_row(row);
        }
        csr
    }

    /// An empty structure with room for `nodes` rows and `edges` entries.
    pub fn with_capacity(nodes: usize, edges: usize) -> Csr {
        let mut offsets = Vec::with_capacity(nodes + 1);
        offsets.push(0);
        Csr {
            offsets,
            targets: Vec::with_capacity(edges),
        }
    }

    /// Appends the row of the next node.
    pub fn push_row(&mut self, row: impl IntoIterator<Item = u32>) {
        self.targets.extend(row);
        self.offsets.push(self.targets.len() as u32);
    }

    /// Appends one entry to the row being built; close it with [`Csr::finish_row`].
    pub fn push(&mut self, target: u32) {
        self.targets.push(target);
    }

    /// Closes the row built with [`Csr::push`].
    pub fn finish_row(&mut self) {
        self.offsets.push(self.targets.len() as u32);
    }

    /// Number of nodes (rows).
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of entries over all rows.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The ids listed for `node`.
    pub fn row(&self, node: u32) -> &[u32] {
        let node = node as usize;
        &self.targets[self.offsets[node] as usize..self.offsets[node + 1] as usize]
    }

    /// Iterates over the rows in node order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        self.offsets
            .windows(2)
            .map(|w| &self.targets[w[0] as usize..w[1] as usize])
    }

    /// The reverse relation: row `j` lists every `i` whose row contains `j`
    /// (once per occurrence), in increasing `i`.
    pub fn transpose(&self) -> Csr {
        let n = self.len();
        let mut counts = vec![0u32; n + 1];
        for &t in &self.targets {
            counts[t as usize + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let offsets = counts.clone();
        let mut fill = counts;
        let mut targets = vec![0u32; self.targets.len()];
        for (i, row) in self.rows().enumerate() {
            for &t in row {
                let slot = &mut fill[t as usize];
                targets[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        Csr { offsets, targets }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        (self.offsets.capacity() + self.targets.capacity()) * size_of::<u32>()
    }
}
