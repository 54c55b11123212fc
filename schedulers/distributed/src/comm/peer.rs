//! Connections to workers for their data: a pool of links, one per worker,
//! used both ways.
//!
//! A worker fetching from a peer connects once and keeps the connection;
//! the peer keeps it too and fetches from the first worker over it, so two
//! workers share one connection whichever asked first (both asking at the
//! same moment may open two; both then work). Clients fetch results the
//! same way. Requests carry ids; answers come back on the connection with
//! the values as frames, encoded from their own buffers.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use barrow_core::{Registry, Value};
use rustc_hash::FxHashMap;
use tokio::io::AsyncRead;
use tokio::sync::oneshot;

use crate::comm::framed::{self, Frame, FrameSlice, Outgoing, Sender};
use crate::comm::{Address, Refused, Stream, connect, greet};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::{Assigned, Role};
use crate::protocol::{PeerMessage, PeerReply, PeerRequest, TaskId};
use crate::settings::CommSettings;

/// What serving a fetch gives: the values held, and the ids not held.
pub(crate) type Served = (Vec<(TaskId, Value)>, Vec<TaskId>);

/// How a worker finds the values peers ask for.
pub(crate) type ServeFn = Arc<dyn Fn(Vec<TaskId>) -> oneshot::Receiver<Served> + Send + Sync>;

/// The answer to a fetch.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// The values it had (decoded), and the ids it had not.
    Data(Vec<(TaskId, Value)>, Vec<TaskId>),
    /// It serves too many peers now; ask again later.
    Busy,
}

/// Fetches waiting for their answers, by request id.
type Waiting = FxHashMap<u64, oneshot::Sender<(PeerReply, FrameSlice)>>;

pub(crate) struct Link {
    sender: Sender<PeerMessage>,
    /// Fetches waiting for their answers; `None` once the connection
    /// closed, so a fetch that found the link just before cannot wait on
    /// it for ever.
    pending: Mutex<Option<Waiting>>,
}

/// The links of one process to the workers it fetches from or serves.
pub(crate) struct PeerPool {
    links: Mutex<FxHashMap<String, Arc<Link>>>,
    /// One connection attempt per address at a time (a peer that does not
    /// answer holds up only the fetches from it).
    connecting: Mutex<FxHashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    comm: Arc<CommSettings>,
    registry: &'static Registry,
    serve: Option<ServeFn>,
    /// Where this process serves, to tell the peers it connects to.
    serves_at: Option<String>,
    serving: AtomicUsize,
    max_serving: usize,
    next_request: AtomicU64,
    /// The links' reading tasks, to end them when the pool closes.
    readers: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl std::fmt::Debug for PeerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerPool")
            .field("serves_at", &self.serves_at)
            .finish()
    }
}

impl PeerPool {
    /// A pool fetching only (a client).
    pub(crate) fn client(comm: Arc<CommSettings>, registry: &'static Registry) -> Arc<PeerPool> {
        Arc::new(PeerPool::new(comm, registry, None, None, 0))
    }

    /// A worker's pool: it serves at `address` with `serve`, at most
    /// `max_serving` requests at once.
    pub(crate) fn worker(
        comm: Arc<CommSettings>,
        registry: &'static Registry,
        address: String,
        serve: ServeFn,
        max_serving: usize,
    ) -> Arc<PeerPool> {
        Arc::new(PeerPool::new(
            comm,
            registry,
            Some(serve),
            Some(address),
            max_serving.max(1),
        ))
    }

    fn new(
        comm: Arc<CommSettings>,
        registry: &'static Registry,
        serve: Option<ServeFn>,
        serves_at: Option<String>,
        max_serving: usize,
    ) -> PeerPool {
        PeerPool {
            links: Mutex::new(FxHashMap::default()),
            connecting: Mutex::new(FxHashMap::default()),
            comm,
            registry,
            serve,
            serves_at,
            serving: AtomicUsize::new(0),
            max_serving,
            next_request: AtomicU64::new(1),
            readers: Mutex::new(Vec::new()),
        }
    }

    fn existing(&self, address: &str) -> Option<Arc<Link>> {
        self.links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(address)
            .cloned()
    }

    /// The link to `address`, connected on first use.
    async fn link(self: &Arc<Self>, address: &str) -> Result<Arc<Link>> {
        if let Some(link) = self.existing(address) {
            return Ok(link);
        }
        let gate = self
            .connecting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(address.to_owned())
            .or_default()
            .clone();
        let connected = {
            let _one = gate.lock().await;
            match self.existing(address) {
                Some(link) => Ok(link),
                None => self.open_link(address).await,
            }
        };
        let mut gates = self.connecting.lock().unwrap_or_else(|e| e.into_inner());
        // The last one through forgets the gate, so dead peers' addresses
        // do not pile up.
        if Arc::strong_count(&gate) == 2
            && gates.get(address).is_some_and(|g| Arc::ptr_eq(g, &gate))
        {
            gates.remove(address);
        }
        connected
    }

    async fn open_link(self: &Arc<Self>, address: &str) -> Result<Arc<Link>> {
        let parsed: Address = address.parse()?;
        let mut stream = connect(
            &parsed,
            self.comm.connect_timeout,
            Refused::Final,
            &self.comm.security,
        )
        .await?;
        let label = format!("the worker at {address}");
        let assigned = greet::join(
            &mut stream,
            &self.comm.secret,
            Role::Peer,
            None,
            self.serves_at.clone(),
            self.comm.connect_timeout,
            &label,
        )
        .await?;
        if !matches!(assigned, Assigned::Peer) {
            return Err(Error::new(
                ErrorKind::Handshake,
                format!("{label} did not accept a data connection"),
            ));
        }
        Ok(self.adopt(stream, address.to_owned(), label))
    }

    /// Keeps a connection (made or accepted) as the link to `address`,
    /// serving and fetching over it until it closes.
    pub(crate) fn adopt(
        self: &Arc<Self>,
        stream: Stream,
        address: String,
        label: String,
    ) -> Arc<Link> {
        let (reader, writer) = stream.into_split();
        let (sender, queue) = framed::queue();
        framed::spawn_writer(writer, queue, self.registry, self.comm.wire, label.clone());
        let link = Arc::new(Link {
            sender,
            pending: Mutex::new(Some(FxHashMap::default())),
        });
        {
            let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
            links.entry(address.clone()).or_insert_with(|| link.clone());
        }
        let pool = self.clone();
        let reading = link.clone();
        let reader = tokio::spawn(async move {
            pool.read_loop(reader, &reading, &label).await;
            let mut links = pool.links.lock().unwrap_or_else(|e| e.into_inner());
            if links
                .get(&address)
                .is_some_and(|l| Arc::ptr_eq(l, &reading))
            {
                links.remove(&address);
            }
            // Dropping the senders tells every waiting fetch it failed.
            reading
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
        });
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        readers.retain(|r| !r.is_finished());
        readers.push(reader.abort_handle());
        link
    }

    /// Closes every data connection (the worker stops): their reading
    /// tasks end, and their writers with the last handle on each link.
    pub(crate) fn close(&self) {
        for reader in self
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            reader.abort();
        }
        let links = std::mem::take(&mut *self.links.lock().unwrap_or_else(|e| e.into_inner()));
        for link in links.values() {
            // Fetches waiting on them fail now.
            link.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
        }
    }

    async fn read_loop<R: AsyncRead + Unpin>(
        self: &Arc<Self>,
        mut reader: R,
        link: &Arc<Link>,
        label: &str,
    ) {
        loop {
            let batch =
                match framed::read_batch::<PeerMessage, _>(&mut reader, self.comm.max_message_size)
                    .await
                {
                    Ok(Some(batch)) => batch,
                    Ok(None) => return,
                    Err(error) => {
                        tracing::warn!("closed the data connection with {label}: {error}");
                        return;
                    }
                };
            for received in batch {
                let (message, frames) = received.into_parts();
                match message {
                    PeerMessage::Reply(reply) => {
                        let request = match &reply {
                            PeerReply::Data { request, .. } | PeerReply::Busy { request } => {
                                *request
                            }
                        };
                        let waiter = link
                            .pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .as_mut()
                            .and_then(|pending| pending.remove(&request));
                        if let Some(waiter) = waiter {
                            let _ = waiter.send((reply, frames));
                        }
                    }
                    PeerMessage::Request(PeerRequest::GetData { request, ids }) => {
                        self.serve_request(link, request, ids);
                    }
                }
            }
        }
    }

    /// Answers a fetch from a peer, or says it is busy.
    fn serve_request(self: &Arc<Self>, link: &Arc<Link>, request: u64, ids: Vec<TaskId>) {
        let Some(serve) = &self.serve else {
            let reply = PeerReply::Data {
                request,
                ids: Vec::new(),
                missing: ids,
            };
            let _ = link.sender.send(Outgoing::plain(PeerMessage::Reply(reply)));
            return;
        };
        if self.serving.fetch_add(1, Ordering::AcqRel) >= self.max_serving {
            self.serving.fetch_sub(1, Ordering::AcqRel);
            let _ = link
                .sender
                .send(Outgoing::plain(PeerMessage::Reply(PeerReply::Busy {
                    request,
                })));
            return;
        }
        let answer = serve(ids.clone());
        let link = link.clone();
        let pool = self.clone();
        tokio::spawn(async move {
            let (found, missing) = answer.await.unwrap_or((Vec::new(), ids));
            let (ids, frames): (Vec<TaskId>, Vec<Frame>) = found
                .into_iter()
                .map(|(id, value)| (id, Frame::Value(value)))
                .unzip();
            let reply = PeerReply::Data {
                request,
                ids,
                missing,
            };
            let _ = link.sender.send(Outgoing {
                message: PeerMessage::Reply(reply),
                frames,
            });
            pool.serving.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Asks the worker at `address` for the values of `ids`.
    pub(crate) async fn get_data(
        self: &Arc<Self>,
        address: &str,
        ids: Vec<TaskId>,
    ) -> Result<Fetched> {
        let link = self.link(address).await?;
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (waiter, answer) = oneshot::channel();
        match link
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(pending) => pending.insert(request, waiter),
            None => return Err(closed(address)),
        };
        let sent = link.sender.send(Outgoing::plain(PeerMessage::Request(
            PeerRequest::GetData { request, ids },
        )));
        if sent.is_err() {
            return Err(closed(address));
        }
        let (reply, frames) = answer.await.map_err(|_| closed(address))?;
        match reply {
            PeerReply::Busy { .. } => Ok(Fetched::Busy),
            PeerReply::Data { ids, missing, .. } => {
                if ids.len() != frames.len() {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "the worker at {address} sent {} values for {} keys",
                            frames.len(),
                            ids.len()
                        ),
                    ));
                }
                let registry = self.registry;
                let from = address.to_owned();
                let bytes: usize = (0..frames.len())
                    .filter_map(|i| frames.frame(i as u32).ok().map(<[u8]>::len))
                    .sum();
                let decode = move || -> Result<Vec<(TaskId, Value)>> {
                    let mut values = Vec::with_capacity(ids.len());
                    for (i, id) in ids.into_iter().enumerate() {
                        let frame = frames.frame(i as u32)?;
                        let value = barrow_wire::decode(frame, registry.codecs()).map_err(|e| {
                            Error::new(
                                ErrorKind::Protocol,
                                format!("a value sent by the worker at {from} cannot be read: {e}"),
                            )
                            .with_source(e)
                        })?;
                        values.push((id, value));
                    }
                    Ok(values)
                };
                // Large values decode off the connections' thread.
                let values = if bytes > (1 << 20) {
                    tokio::task::spawn_blocking(decode).await.map_err(|_| {
                        Error::new(ErrorKind::Protocol, "decoding values panicked")
                    })??
                } else {
                    decode()?
                };
                Ok(Fetched::Data(values, missing))
            }
        }
    }
}

fn closed(address: &str) -> Error {
    Error::new(
        ErrorKind::Closed,
        format!("the data connection with the worker at {address} closed"),
    )
}
