//! `/metrics`: the feed in Prometheus's text exposition format (0.0.4).

use std::fmt::Write as _;

use crate::feed::Snapshot;

/// Renders `snapshot` for Prometheus: tasks by state and by prefix,
/// workers, each worker's memory segments and transfer bytes.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(1024 + 512 * snapshot.workers.len());
    // Writing to a String cannot fail.
    let _ = write_all(&mut out, snapshot);
    out
}

fn write_all(out: &mut String, s: &Snapshot) -> std::fmt::Result {
    writeln!(out, "# HELP barrow_tasks Tasks by state.")?;
    writeln!(out, "# TYPE barrow_tasks gauge")?;
    for (state, n) in &s.states {
        writeln!(out, "barrow_tasks{{state=\"{}\"}} {n}", escape(state))?;
    }
    writeln!(out, "# HELP barrow_prefix_tasks Tasks seen per key prefix.")?;
    writeln!(out, "# TYPE barrow_prefix_tasks gauge")?;
    for p in &s.progress {
        let prefix = escape(&p.prefix);
        for (phase, n) in [
            ("all", p.all),
            ("done", p.done),
            ("memory", p.memory),
            ("processing", p.processing),
            ("waiting", p.waiting),
            ("queued", p.queued),
            ("failed", p.failed),
        ] {
            writeln!(
                out,
                "barrow_prefix_tasks{{prefix=\"{prefix}\",phase=\"{phase}\"}} {n}"
            )?;
        }
    }
    writeln!(out, "# HELP barrow_workers Workers by status.")?;
    writeln!(out, "# TYPE barrow_workers gauge")?;
    let mut statuses: Vec<&str> = s.workers.iter().map(|w| w.row.status.as_str()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let n = s.workers.iter().filter(|w| w.row.status == status).count();
        writeln!(out, "barrow_workers{{status=\"{}\"}} {n}", escape(status))?;
    }
    writeln!(
        out,
        "# HELP barrow_worker_memory_bytes A worker's memory by segment."
    )?;
    writeln!(out, "# TYPE barrow_worker_memory_bytes gauge")?;
    for w in &s.workers {
        let name = escape(&w.row.name);
        let m = &w.row.memory;
        for (kind, n) in [
            ("managed", m.managed),
            ("unmanaged-old", m.unmanaged_old),
            ("unmanaged-recent", m.unmanaged_recent),
            ("spilled", m.spilled),
            ("process", m.process),
            ("limit", m.limit),
        ] {
            writeln!(
                out,
                "barrow_worker_memory_bytes{{worker=\"{name}\",kind=\"{kind}\"}} {n}"
            )?;
        }
    }
    writeln!(
        out,
        "# HELP barrow_worker_transfer_bytes_total Bytes a worker received from or sent to peers."
    )?;
    writeln!(out, "# TYPE barrow_worker_transfer_bytes_total counter")?;
    for w in &s.workers {
        let name = escape(&w.row.name);
        writeln!(
            out,
            "barrow_worker_transfer_bytes_total{{worker=\"{name}\",direction=\"in\"}} {}",
            w.row.transfer_in
        )?;
        writeln!(
            out,
            "barrow_worker_transfer_bytes_total{{worker=\"{name}\",direction=\"out\"}} {}",
            w.row.transfer_out
        )?;
    }
    writeln!(
        out,
        "# HELP barrow_worker_cpu_percent A worker process's processor use lately, percent of one core."
    )?;
    writeln!(out, "# TYPE barrow_worker_cpu_percent gauge")?;
    for w in &s.workers {
        if let Some(cpu) = w.row.cpu {
            writeln!(
                out,
                "barrow_worker_cpu_percent{{worker=\"{}\"}} {cpu:.1}",
                escape(&w.row.name)
            )?;
        }
    }
    writeln!(
        out,
        "# HELP barrow_worker_processing Tasks sent to a worker and not finished."
    )?;
    writeln!(out, "# TYPE barrow_worker_processing gauge")?;
    for w in &s.workers {
        writeln!(
            out,
            "barrow_worker_processing{{worker=\"{}\"}} {}",
            escape(&w.row.name),
            w.row.processing
        )?;
    }
    Ok(())
}

/// A label value with `\`, `"` and newlines escaped, as the format asks.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{Cursor, Feed, FeedOptions, Update, WorkerRow};
    use crate::memory::Memory;
    use crate::progress::PrefixProgress;

    #[test]
    fn every_family_is_typed_and_labels_are_escaped() {
        let feed = Feed::new(FeedOptions::default());
        feed.update(Update {
            workers: Some(vec![WorkerRow {
                name: "w\"0".into(),
                status: "running".into(),
                memory: Memory {
                    managed: 10,
                    spilled: 5,
                    ..Memory::default()
                },
                transfer_in: 7,
                cpu: Some(42.5),
                ..WorkerRow::default()
            }]),
            progress: Some(vec![PrefixProgress {
                prefix: "inc".into(),
                all: 3,
                done: 2,
                ..PrefixProgress::default()
            }]),
            states: Some(vec![("memory".into(), 2), ("processing".into(), 1)]),
            ..Update::default()
        });
        let text = render(&feed.snapshot(Cursor::default()));
        assert!(
            text.contains("barrow_tasks{state=\"memory\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("barrow_prefix_tasks{prefix=\"inc\",phase=\"done\"} 2\n"));
        assert!(
            text.contains("barrow_worker_memory_bytes{worker=\"w\\\"0\",kind=\"spilled\"} 5\n")
        );
        assert!(text.contains(
            "barrow_worker_transfer_bytes_total{worker=\"w\\\"0\",direction=\"in\"} 7\n"
        ));
        assert!(text.contains("barrow_workers{status=\"running\"} 1\n"));
        assert!(text.contains("barrow_worker_cpu_percent{worker=\"w\\\"0\"} 42.5\n"));
        // Every sample line belongs to a family declared with # TYPE.
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            assert!(families.contains(&name), "{line}");
        }
    }
}
