//! The runtime thread each cluster component's connections run on: a
//! single-threaded tokio runtime on a thread of its own, so heartbeats and
//! messages are never delayed by the threads that run tasks or the user's
//! code, and the component's state needs no lock.

use std::sync::mpsc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::{Error, ErrorKind, Result};

/// A runtime on its own thread; dropping it stops the runtime (and every
/// connection on it) and waits for the thread.
#[derive(Debug)]
pub(crate) struct RuntimeThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RuntimeThread {
    /// Starts a runtime on a thread named `name`.
    pub(crate) fn start(name: &str) -> Result<RuntimeThread> {
        let (handles, handle) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = handles.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = handles.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| thread_error(name, &e.to_string()))?;
        let handle = handle
            .recv()
            .map_err(|_| thread_error(name, "it ended at once"))?
            .map_err(|e| thread_error(name, &e))?;
        Ok(RuntimeThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The runtime's handle, to spawn on it.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `work` on the runtime and waits for its output on this thread
    /// (which must not be the runtime's own).
    pub(crate) fn run<F>(&self, work: F) -> Result<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (send, receive) = mpsc::channel();
        self.handle.spawn(async move {
            let _ = send.send(work.await);
        });
        receive.recv().map_err(|_| {
            Error::new(
                ErrorKind::Closed,
                "the cluster connection's runtime stopped while work was under way",
            )
        })
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

fn thread_error(name: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::Limit,
        format!("cannot start the runtime thread '{name}': {why}"),
    )
}
