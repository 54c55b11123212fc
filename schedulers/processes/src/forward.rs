//! Worker output, forwarded line by line with the worker's id in front.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Child;

/// Starts threads copying `child`'s stdout and stderr to ours, each line
/// prefixed with `[worker N]`. A worker started through a test entry
/// prints libtest's banner first; `skip_banner` leaves it out.
pub fn forward_output(worker: u32, child: &mut Child, skip_banner: bool) {
    if let Some(out) = child.stdout.take() {
        spawn_copier(worker, out, false, skip_banner);
    }
    if let Some(err) = child.stderr.take() {
        spawn_copier(worker, err, true, false);
    }
}

fn spawn_copier(worker: u32, source: impl Read + Send + 'static, to_stderr: bool, skip: bool) {
    let name = format!(
        "barrow-worker-{worker}-{}",
        if to_stderr { "stderr" } else { "stdout" }
    );
    // Without the thread the output is lost, not the computation.
    let _ = std::thread::Builder::new().name(name).spawn(move || {
        copy_lines(worker, source, skip, &mut |text| {
            // print!/eprint! go through the test harness's capture, so a
            // test shows its workers' output with its own.
            if to_stderr {
                eprint!("{text}");
            } else {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
        });
    });
}

/// Copies `source` line by line into `sink`, with the worker's prefix.
pub fn copy_lines(
    worker: u32,
    source: impl Read,
    mut skip_banner: bool,
    sink: &mut dyn FnMut(&str),
) {
    let mut reader = BufReader::new(source);
    let mut line = Vec::new();
    let prefix = format!("[worker {worker}] ");
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                if skip_banner && (text.is_empty() || text.starts_with("running 1 test")) {
                    continue;
                }
                skip_banner = false;
                sink(&format!("{prefix}{text}\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_get_the_worker_prefix_and_the_test_banner_is_dropped() {
        let output = b"\nrunning 1 test\nhello\n\nbytes \xff here\nno newline";
        let mut lines = Vec::new();
        copy_lines(3, &output[..], true, &mut |l| lines.push(l.to_owned()));
        assert_eq!(
            lines,
            [
                "[worker 3] hello\n",
                "[worker 3] \n",
                "[worker 3] bytes \u{fffd} here\n",
                "[worker 3] no newline\n"
            ]
        );
    }
}
