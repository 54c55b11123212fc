//! What a worker does with an upload: keeps the file under its content's
//! hash (in the temporary directory, shared by the workers of a host, so
//! the same bytes are written once), and loads a plugin into the process,
//! registering its functions and codecs and running its set-up steps.
//! Off the event loop: a set-up step may install software for minutes.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use barrow_core::Registry;

use crate::protocol::{Upload, UploadKind, Uploaded};

/// Files uploaded to this process's workers, by name.
fn files() -> &'static Mutex<BTreeMap<String, PathBuf>> {
    static FILES: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    FILES.get_or_init(Default::default)
}

/// Where the newest file uploaded under `name` (`client.upload_file`) is
/// kept on this worker, for its tasks; `None` outside a worker or before
/// the upload reached it.
///
/// ```
/// assert_eq!(barrow_distributed::uploaded_file("lookup.csv"), None);
/// ```
pub fn uploaded_file(name: &str) -> Option<PathBuf> {
    files()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(name)
        .cloned()
}

/// Called with each upload's id and outcome.
pub(crate) type Done = Arc<dyn Fn(u64, Result<Uploaded, String>) + Send + Sync>;

/// A worker's handling of uploads.
pub(crate) struct Uploads {
    root: PathBuf,
    worker: u32,
    name: String,
    registry: &'static Registry,
    done: Done,
    /// Plugins loaded, by hash: their file name and what loading them said.
    plugins: Arc<Mutex<HashMap<String, (String, String)>>>,
}

impl Uploads {
    /// Uploads kept under `temporary/barrow-uploads`.
    pub(crate) fn new(
        temporary: &Path,
        worker: u32,
        name: String,
        registry: &'static Registry,
        done: Done,
    ) -> Uploads {
        Uploads {
            root: temporary.join("barrow-uploads"),
            worker,
            name,
            registry,
            done,
            plugins: Arc::default(),
        }
    }

    /// Keeps (and loads) `upload` on a thread of its own, then reports.
    pub(crate) fn receive(&self, upload: Upload) {
        let root = self.root.clone();
        let (worker, registry, done) = (self.worker, self.registry, self.done.clone());
        let name = self.name.clone();
        let plugins = self.plugins.clone();
        let id = upload.id;
        let spawned = std::thread::Builder::new()
            .name("barrow-upload".into())
            .spawn(move || {
                let outcome = keep(&root, &upload, (worker, &name), registry, &plugins);
                done(upload.id, outcome);
            });
        if let Err(error) = spawned {
            (self.done)(
                id,
                Err(format!("cannot start a thread for the upload: {error}")),
            );
        }
    }
}

fn keep(
    root: &Path,
    upload: &Upload,
    (worker, name): (u32, &str),
    registry: &Registry,
    plugins: &Mutex<HashMap<String, (String, String)>>,
) -> Result<Uploaded, String> {
    let hash = blake3::hash(&upload.bytes).to_hex().to_string();
    if hash != upload.hash {
        return Err(format!(
            "{} arrived damaged (its bytes hash to {hash}, not {})",
            upload.file_name, upload.hash
        ));
    }
    let path = store(root, upload)?;
    match upload.kind {
        UploadKind::File => {
            files()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(upload.file_name.clone(), path.clone());
            Ok(Uploaded {
                summary: format!("kept at {}", path.display()),
                functions: None,
                plugin: None,
                restart: false,
            })
        }
        UploadKind::Plugin => {
            let mut loaded = plugins.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, before)) = loaded.get(&hash) {
                // The same bytes again: nothing to do.
                return Ok(Uploaded {
                    summary: format!("{before} (loaded before)"),
                    functions: None,
                    plugin: None,
                    restart: false,
                });
            }
            if let Some((_, before)) = loaded.values().find(|(name, _)| *name == upload.file_name) {
                // A library stays loaded for the process's life: the new
                // version loads in the worker's next process, which the
                // scheduler hands only the newest bytes of each name.
                return Ok(Uploaded {
                    summary: format!(
                        "{before} from other bytes of {}: restarting to load the new version",
                        upload.file_name
                    ),
                    functions: None,
                    plugin: None,
                    restart: true,
                });
            }
            let config = barrow_core::config::snapshot().map_err(|e| e.to_string())?;
            let hooks_before = barrow_core::hooks::cluster_hook_names();
            let result = barrow_core::hooks::load_plugin(&path, worker, registry, &config)
                .map_err(|e| one_line(&e.to_string()));
            // Its new hooks hear that this worker runs, as if it had been
            // loaded before the worker joined.
            let new_hooks: Vec<String> = barrow_core::hooks::cluster_hook_names()
                .into_iter()
                .filter(|h| !hooks_before.contains(h))
                .collect();
            if !new_hooks.is_empty() {
                crate::server::report_hooks(barrow_core::hooks::cluster_event_to(
                    &new_hooks,
                    &barrow_core::hooks::ClusterEvent::WorkerStarted { worker: name },
                ));
            }
            // A failure is not kept: the same bytes sent again try again
            // (a set-up step's command may work now).
            let plugin = result?;
            loaded.insert(
                hash,
                (upload.file_name.clone(), format!("loaded {}", plugin.name)),
            );
            let functions = registry.functions();
            Ok(Uploaded {
                summary: format!("loaded {}", plugin.name),
                functions: Some((functions.names(), functions.fingerprint())),
                plugin: Some(plugin.name.clone()),
                restart: plugin.restart,
            })
        }
    }
}

/// Writes the upload to `root/HASH/NAME` unless it is there already
/// (written whole to a temporary file first, then renamed: a worker of the
/// same host reading it never sees half a file).
fn store(root: &Path, upload: &Upload) -> Result<PathBuf, String> {
    let dir = root.join(&upload.hash);
    let path = dir.join(&upload.file_name);
    if path.is_file() {
        return Ok(path);
    }
    let failed = |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", dir.display());
    std::fs::create_dir_all(&dir).map_err(|e| failed("make", e))?;
    let mut file = tempfile::NamedTempFile::new_in(&dir).map_err(|e| failed("write into", e))?;
    file.write_all(&upload.bytes)
        .map_err(|e| failed("write into", e))?;
    file.persist(&path)
        .map_err(|e| failed("write into", e.error))?;
    Ok(path)
}

/// `text` on one line, its lines joined by ` | ` (a set-up step's last
/// output lines stay in).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}
