//! This process's resident memory and the machine's, for a local run's
//! memory bar: plain text from `/proc` on Linux, read in microseconds;
//! 0 (unknown) elsewhere.

/// Resident bytes of this process (0 when unknown).
pub(crate) fn resident_bytes() -> u64 {
    imp::resident_bytes()
}

/// The machine's memory in bytes (0 when unknown): a local run's limit.
pub(crate) fn total_memory_bytes() -> u64 {
    imp::total_memory_bytes()
}

/// Resident pages: the second field of `/proc/self/statm`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn statm_resident_pages(statm: &str) -> Option<u64> {
    statm.split_whitespace().nth(1)?.parse().ok()
}

/// `MemTotal` of `/proc/meminfo`, which is in KiB.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn meminfo_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{meminfo_total_bytes, statm_resident_pages};

    pub(super) fn resident_bytes() -> u64 {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| statm_resident_pages(&s))
            .map_or(0, |pages| {
                pages.saturating_mul(rustix::param::page_size() as u64)
            })
    }

    pub(super) fn total_memory_bytes() -> u64 {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| meminfo_total_bytes(&s))
            .unwrap_or(0)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn resident_bytes() -> u64 {
        0
    }

    pub(super) fn total_memory_bytes() -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        assert_eq!(statm_resident_pages("1000 250 40 10 0 300 0\n"), Some(250));
        assert_eq!(statm_resident_pages(""), None);
        let meminfo = "MemTotal:       24576000 kB\nMemFree:  100 kB\n";
        assert_eq!(meminfo_total_bytes(meminfo), Some(24_576_000 * 1024));
        assert_eq!(meminfo_total_bytes("junk"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_resident_memory() {
        assert!(resident_bytes() > 0);
        assert!(total_memory_bytes() > resident_bytes());
    }
}
