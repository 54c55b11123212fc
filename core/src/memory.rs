//! What one computation may hold in memory, so that work known to need more
//! is refused at once with both figures instead of ending in an aborted
//! allocation ("memory allocation failed") halfway through.
//!
//! The budget is `local.memory-limit` when set, else what the machine has
//! available when asked: on Linux the smaller of `MemAvailable` in
//! `/proc/meminfo` and the room left under the process's cgroup limit (v2
//! `memory.max`, v1 `memory.limit_in_bytes`); elsewhere it is unknown and
//! nothing is refused unless the key is set.
//!
//! ```
//! use barrow_core::{ErrorKind, memory};
//!
//! let sandbox = barrow_core::config::Sandbox::new()?;
//! let config = sandbox.config().snapshot()?.with_options([("local.memory-limit", "1GiB")])?;
//! let err = memory::check_fits(8 << 40, "an array of shape [1048576, 1048576]", &config).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::TooLarge);
//! assert!(err.to_string().contains("needs 8.0 TiB"), "{err}");
//! assert!(err.to_string().contains("1.0 GiB (local.memory-limit"), "{err}");
//! # Ok::<(), barrow_core::Error>(())
//! ```

use std::fmt;

use barrow_config::{ByteSize, Origin, Snapshot};

use crate::error::{Error, ErrorKind, Result};

/// Below this, work is not weighed against the machine's memory: reading
/// it costs more than such a small need could matter. A configured
/// `local.memory-limit` is always applied.
const SMALL: u64 = 64 << 20;

/// The bytes a computation may use, and where that figure comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBudget {
    bytes: u64,
    source: BudgetSource,
}

/// Where a [`MemoryBudget`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BudgetSource {
    /// `local.memory-limit`, from this layer.
    Config(Origin),
    /// The memory the operating system reports available; the text names
    /// the file it was read from.
    Available(String),
}

impl MemoryBudget {
    /// The bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Where the figure comes from.
    pub fn source(&self) -> &BudgetSource {
        &self.source
    }
}

impl fmt::Display for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            BudgetSource::Config(origin) => write!(
                f,
                "{} (local.memory-limit, from {origin})",
                human_bytes(self.bytes)
            ),
            BudgetSource::Available(from) => {
                write!(f, "{} available ({from})", human_bytes(self.bytes))
            }
        }
    }
}

/// The budget under `config`: `local.memory-limit`, else the memory
/// available now, else `None` (a system that does not say).
///
/// # Errors
/// A `local.memory-limit` that is not a byte size.
pub fn budget(config: &Snapshot) -> Result<Option<MemoryBudget>> {
    if let Some(configured) = configured(config)? {
        return Ok(Some(configured));
    }
    Ok(available())
}

fn configured(config: &Snapshot) -> Result<Option<MemoryBudget>> {
    let (limit, origin) = config.get_with_origin::<ByteSize>("local.memory-limit")?;
    Ok(limit.map(|limit| MemoryBudget {
        bytes: limit.as_u64(),
        source: BudgetSource::Config(origin),
    }))
}

/// Refuses `what`, which needs `need` bytes at once, when that is more than
/// the budget under `config`, with an error of kind
/// [`ErrorKind::TooLarge`] naming both figures and what to do.
///
/// # Errors
/// [`ErrorKind::TooLarge`], or a bad `local.memory-limit`.
pub fn check_fits(need: u64, what: impl fmt::Display, config: &Snapshot) -> Result<()> {
    let budget = match configured(config)? {
        Some(configured) => Some(configured),
        None if need < SMALL => None,
        None => available(),
    };
    match budget {
        Some(budget) if need > budget.bytes => Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{what} needs {} in memory, more than the {budget}: compute it in pieces (a \
                 reduction, a slice, or writing it to a file block by block) instead of into \
                 memory, or raise local.memory-limit if the machine has the room",
                human_bytes(need)
            ),
        )),
        _ => Ok(()),
    }
}

/// The budget a graph builder weighs its tasks against, under the
/// configuration in effect on this thread; `None` when the need is small
/// or the budget unknown.
pub(crate) fn budget_for(need: u64) -> Result<Option<MemoryBudget>> {
    let config = barrow_config::snapshot()?;
    Ok(match configured(&config)? {
        Some(configured) => Some(configured),
        None if need < SMALL => None,
        None => available(),
    })
}

/// `bytes` with a binary unit and one decimal (`7.0 TiB`), or in bytes
/// below 1 KiB.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 6] = [
        ("EiB", 1 << 60),
        ("PiB", 1 << 50),
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            return format!("{:.1} {unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes} B")
}

/// The memory available now, as the operating system reports it.
fn available() -> Option<MemoryBudget> {
    #[cfg(target_os = "linux")]
    {
        linux::available()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::path::{Path, PathBuf};

    use super::{BudgetSource, MemoryBudget};

    /// A cgroup limit this high means "no limit".
    const UNLIMITED: u64 = 1 << 60;

    pub(super) fn available() -> Option<MemoryBudget> {
        let meminfo = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_available(&text))
            .map(|bytes| MemoryBudget {
                bytes,
                source: BudgetSource::Available("MemAvailable in /proc/meminfo".into()),
            });
        let cgroup = cgroup_room();
        match (meminfo, cgroup) {
            (Some(a), Some(b)) => Some(if b.bytes < a.bytes { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// `MemAvailable` of `/proc/meminfo`, in bytes.
    pub(super) fn mem_available(meminfo: &str) -> Option<u64> {
        let line = meminfo
            .lines()
            .find(|line| line.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    }

    /// The room left under this process's cgroup memory limit, if it has
    /// one: v2 (`memory.max` - `memory.current`), else v1.
    fn cgroup_room() -> Option<MemoryBudget> {
        let membership = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let root = Path::new("/sys/fs/cgroup");
        let mut candidates: Vec<(PathBuf, &str, &str)> = Vec::new();
        for line in membership.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let path = path.trim_start_matches('/');
            if controllers.is_empty() {
                candidates.push((root.join(path), "memory.max", "memory.current"));
            } else if controllers.split(',').any(|c| c == "memory") {
                let v1 = root.join("memory");
                candidates.push((
                    v1.join(path),
                    "memory.limit_in_bytes",
                    "memory.usage_in_bytes",
                ));
                // Inside a cgroup namespace the process's own group is the
                // mount's root.
                candidates.push((v1, "memory.limit_in_bytes", "memory.usage_in_bytes"));
            }
        }
        candidates.push((root.to_path_buf(), "memory.max", "memory.current"));
        candidates.into_iter().find_map(|(dir, limit, usage)| {
            let read = |name: &str| -> Option<u64> {
                std::fs::read_to_string(dir.join(name))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            };
            let max = read(limit).filter(|&max| max < UNLIMITED)?;
            let used = read(usage).unwrap_or(0);
            Some(MemoryBudget {
                bytes: max.saturating_sub(used),
                source: BudgetSource::Available(format!(
                    "under the cgroup limit in {}",
                    dir.join(limit).display()
                )),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_bytes(7 << 40), "7.0 TiB");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn mem_available_is_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree: 1 kB\nMemAvailable:   23992300 kB\n";
        assert_eq!(linux::mem_available(text), Some(23_992_300 * 1024));
        assert_eq!(linux::mem_available("MemTotal: 5 kB\n"), None);
    }
}
