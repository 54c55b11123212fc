//! Workers whose plugins differ from the client's: the seed's "the same
//! code, ideally with exactly the same versions", told at connection, when
//! a worker joins or loads a plugin, and in `scheduler_info()`.

use crate::protocol::WorkerSummary;

/// What differs between the client's plugins (`name version`) and
/// `worker`'s, in words; `None` when nothing does.
pub(crate) fn difference(mine: &[String], worker: &WorkerSummary) -> Option<String> {
    let split = |p: &str| -> (String, String) {
        match p.rsplit_once(' ') {
            Some((name, version)) => (name.to_owned(), version.to_owned()),
            None => (p.to_owned(), String::new()),
        }
    };
    let mine: Vec<(String, String)> = mine.iter().map(|p| split(p)).collect();
    let theirs: Vec<(String, String)> = worker.plugins.iter().map(|p| split(p)).collect();
    let mut parts = Vec::new();
    for (name, version) in &mine {
        match theirs.iter().find(|(n, _)| n == name) {
            Some((_, other)) if other != version => parts.push(format!(
                "{name} {other} where this client has {name} {version}"
            )),
            Some(_) => {}
            None => parts.push(format!("no {name} (this client has {name} {version})")),
        }
    }
    for (name, version) in &theirs {
        if !mine.iter().any(|(n, _)| n == name) {
            parts.push(format!(
                "{name} {version}, which this client has not loaded"
            ));
        }
    }
    (!parts.is_empty()).then(|| format!("worker '{}' has {}", worker.name, parts.join("; ")))
}

/// Warns about each of `workers` whose plugins differ from this process's.
pub(crate) fn warn_differences<'a>(workers: impl IntoIterator<Item = &'a WorkerSummary>) {
    let mine = barrow_core::hooks::loaded_plugins();
    for worker in workers {
        if let Some(difference) = difference(&mine, worker) {
            tracing::warn!(
                "{difference}: its tasks may fail or compute otherwise; upload the plugins \
                 (client.upload_plugin) or start the workers with the same ones"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(plugins: &[&str]) -> WorkerSummary {
        WorkerSummary {
            id: 1,
            name: "w1".to_owned(),
            address: "tcp://127.0.0.1:1".to_owned(),
            nthreads: 1,
            memory_limit: 0,
            resources: Vec::new(),
            plugins: plugins.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn the_same_plugins_differ_in_nothing() {
        let mine = vec!["stats 1.2.0".to_owned()];
        assert_eq!(difference(&mine, &worker(&["stats 1.2.0"])), None);
        assert_eq!(difference(&[], &worker(&[])), None);
    }

    #[test]
    fn versions_missing_and_extra_plugins_are_named() {
        let mine = vec!["hist 0.1.0".to_owned(), "stats 1.2.0".to_owned()];
        let said = difference(&mine, &worker(&["stats 1.1.0", "extra 3.0.0"])).unwrap();
        assert_eq!(
            said,
            "worker 'w1' has no hist (this client has hist 0.1.0); stats 1.1.0 where this \
             client has stats 1.2.0; extra 3.0.0, which this client has not loaded"
        );
    }
}
