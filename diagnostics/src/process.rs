//! CPU time and resident memory of this process, read from `/proc` on Linux.
//!
//! `/proc/self/stat` gives the CPU time of every thread of the process, in
//! clock ticks (fields 14 and 15, `utime` and `stime`); `/proc/self/statm`
//! gives the resident set size in pages (field 2). Both are plain text read
//! in a few microseconds, so sampling needs no heavy crate. Elsewhere (macOS,
//! Windows, BSDs) there is no `/proc`: [`read`] returns `None` and the
//! resource profiler records samples without CPU and RSS (the store's bytes
//! are still recorded).

/// One reading of the process's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcessStats {
    /// CPU time used so far by every thread, user and system, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
}

/// Reads the counters now; `None` where `/proc` is not available.
pub(crate) fn read() -> Option<ProcessStats> {
    imp::read()
}

/// CPU ticks (`utime + stime`) from the text of `/proc/<pid>/stat`. The
/// command name (field 2) is in parentheses and may hold spaces or
/// parentheses itself, so fields are counted from the last `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: field 3 (state) is the first; utime is field 14.
    let utime: u64 = fields.nth(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident pages from the text of `/proc/<pid>/statm` (its second field).
fn parse_statm_resident(statm: &str) -> Option<u64> {
    statm.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
mod imp {
    use std::sync::OnceLock;

    use super::{ProcessStats, parse_stat_ticks, parse_statm_resident};

    /// Clock ticks per second and bytes per page, asked of the system once.
    fn units() -> (f64, u64) {
        static UNITS: OnceLock<(f64, u64)> = OnceLock::new();
        *UNITS.get_or_init(|| {
            // SAFETY: `sysconf` only reads a system constant; it takes no
            // pointer and has no precondition.
            let (ticks, page) = unsafe {
                (
                    libc::sysconf(libc::_SC_CLK_TCK),
                    libc::sysconf(libc::_SC_PAGESIZE),
                )
            };
            // -1 means unknown: fall back to Linux's usual USER_HZ and page.
            let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
            let page = u64::try_from(page).ok().filter(|&p| p > 0).unwrap_or(4096);
            (ticks, page)
        })
    }

    pub(super) fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let (ticks_per_second, page_bytes) = units();
        Some(ProcessStats {
            cpu_seconds: parse_stat_ticks(&stat)? as f64 / ticks_per_second,
            rss_bytes: parse_statm_resident(&statm)?.saturating_mul(page_bytes),
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::ProcessStats;

    pub(super) fn read() -> Option<ProcessStats> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let stat = "4242 (odd) name) (x) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    123 45 0 0 20 0 3 0 100 1000 50 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(168));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn statm_resident_is_the_second_field() {
        assert_eq!(parse_statm_resident("1000 250 40 10 0 300 0\n"), Some(250));
        assert_eq!(parse_statm_resident(""), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let stats = read().unwrap();
        assert!(stats.rss_bytes > 0);
        assert!(stats.cpu_seconds >= 0.0);
    }
}
