//! The HTTP server: the page, its assets, the JSON API, the event stream
//! and `/metrics`, on a thread and a tokio runtime of its own, so that
//! however many pages watch, the scheduler's and the tasks' threads never
//! wait for them.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::feed::{Cursor, Feed};
use crate::{metrics, wire};

/// How often the event stream looks for a new version of the feed (Dask's
/// `/status` plots refresh every 100 ms).
const TICK: Duration = Duration::from_millis(100);
/// New rectangles one pushed update carries at most, unless the page asks
/// (`rects=`): 20,000 a second, past what a page can draw; in a faster
/// burst the older ones are skipped (counted in `dropped`), so a page
/// never costs the computation more than this much encoding.
const EVENT_RECTS: usize = 2_000;
/// Ticks without news before the stream sends a comment, so proxies and
/// browsers keep an idle connection open.
const IDLE_TICKS: u32 = 150;

const STATUS_HTML: &str = include_str!("../assets/status.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// Where and how a dashboard listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// `host:port` (default `127.0.0.1:8787`, Dask's port); port 0 takes
    /// any free port ([`DashboardServer::address`] tells which).
    pub address: String,
    /// The token asked for when the address is not a loopback one (the
    /// cluster's token); ignored on loopback.
    pub token: Option<String>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            address: "127.0.0.1:8787".to_owned(),
            token: None,
        }
    }
}

impl ServeOptions {
    /// Listening on `address`, without a token.
    pub fn at(address: impl Into<String>) -> ServeOptions {
        ServeOptions {
            address: address.into(),
            token: None,
        }
    }

    /// The same, asking for `token` off loopback.
    pub fn with_token(mut self, token: impl Into<String>) -> ServeOptions {
        self.token = Some(token.into());
        self
    }
}

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) feed: Arc<Feed>,
    /// The token requests must show; `None` on loopback.
    pub(crate) token: Option<String>,
}

/// A running dashboard server. Dropping it stops the server and joins its
/// thread (open pages see their event stream end and retry).
#[derive(Debug)]
pub struct DashboardServer {
    address: SocketAddr,
    token: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DashboardServer {
    /// Serves `feed` as `options` say, from a thread of its own.
    ///
    /// # Errors
    ///
    /// [`Error::Address`] for an address that does not resolve,
    /// [`Error::TokenRequired`] for an address off loopback without a
    /// token, [`Error::Bind`] when the port is taken (or otherwise cannot
    /// be listened on), [`Error::Start`] when the thread or runtime cannot
    /// be made.
    pub fn start(feed: Arc<Feed>, options: ServeOptions) -> Result<DashboardServer> {
        let given = options.address.as_str();
        let candidates: Vec<SocketAddr> = given
            .to_socket_addrs()
            .map_err(|e| Error::Address {
                address: given.to_owned(),
                reason: e.to_string(),
            })?
            .collect();
        if candidates.is_empty() {
            return Err(Error::Address {
                address: given.to_owned(),
                reason: "it resolves to no address".to_owned(),
            });
        }
        let token = options.token.filter(|t| !t.is_empty());
        let off_loopback = candidates.iter().any(|a| !a.ip().is_loopback());
        if off_loopback && token.is_none() {
            return Err(Error::TokenRequired {
                address: given.to_owned(),
            });
        }
        let listener = TcpListener::bind(&candidates[..]).map_err(|e| Error::bind(given, e))?;
        let address = listener.local_addr().map_err(|e| Error::bind(given, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::bind(given, e))?;
        let token = if address.ip().is_loopback() {
            None
        } else {
            token
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(Error::Start)?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(Error::Start)?
        };
        let app = Arc::new(App {
            feed,
            token: token.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("barrow-dashboard".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let serve = axum::serve(listener, router(app)).into_future();
                    tokio::select! {
                        _ = serve => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here ends every connection's task,
                // open event streams included: nothing outlives the handle.
                drop(runtime);
            })
            .map_err(Error::Start)?;
        Ok(DashboardServer {
            address,
            token,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on (with the real port when 0 was asked).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The status page's URL, with `?token=…` when the server needs one.
    pub fn url(&self) -> String {
        let host = match self.address {
            SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
            SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
            a => a.to_string(),
        };
        match &self.token {
            Some(token) => format!("http://{host}/status?token={}", percent_encode(token)),
            None => format!("http://{host}/status"),
        }
    }

    /// Whether requests must show the token.
    pub fn needs_token(&self) -> bool {
        self.token.is_some()
    }
}

impl Drop for DashboardServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // An error means the thread is already gone: nothing to stop.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/status") }))
        .route("/status", get(status))
        .route("/assets/{name}", get(asset))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/stream", get(event_stream))
        .route("/metrics", get(metrics_text))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404: no such page\n") })
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::auth::require_token,
        ))
        // After the layer: a health check needs no token.
        .route("/health", get(|| async { "ok" }))
        .with_state(app)
}

/// The page and its assets load nothing from elsewhere; the policy makes
/// the browser hold them to it.
const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

async fn status() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STATUS_HTML,
    )
        .into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "404: no such asset\n").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `?stream=N&events=M` (the cursor) and `rects=K` (at most the newest K
/// rectangles).
#[derive(Debug, Deserialize)]
struct SnapshotQuery {
    stream: Option<u64>,
    events: Option<u64>,
    rects: Option<usize>,
}

impl SnapshotQuery {
    fn cursor(&self) -> Cursor {
        Cursor {
            stream: self.stream.unwrap_or(0),
            events: self.events.unwrap_or(0),
        }
    }
}

fn json(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn snapshot(State(app): State<Arc<App>>, Query(query): Query<SnapshotQuery>) -> Response {
    let snapshot = app
        .feed
        .snapshot_at_most(query.cursor(), query.rects.unwrap_or(usize::MAX));
    json(wire::to_json(&snapshot, app.feed.stream_capacity()))
}

async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    // A cursor past the end: no rectangle or event is copied for nothing.
    let snapshot = app.feed.snapshot(Cursor {
        stream: u64::MAX,
        events: u64::MAX,
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&snapshot),
    )
        .into_response()
}

/// A reconnecting `EventSource` sends the id of the last event it got,
/// which is the cursor it had: it resumes where it was.
fn last_event_cursor(headers: &HeaderMap) -> Option<Cursor> {
    let id = headers.get("last-event-id")?.to_str().ok()?;
    let (stream, events) = id.split_once(',')?;
    Some(Cursor {
        stream: stream.trim().parse().ok()?,
        events: events.trim().parse().ok()?,
    })
}

struct Watch {
    app: Arc<App>,
    cursor: Cursor,
    version: Option<u64>,
    limit: Option<usize>,
    ticks: tokio::time::Interval,
}

async fn event_stream(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<SnapshotQuery>,
) -> Response {
    let cursor = last_event_cursor(&headers).unwrap_or_else(|| query.cursor());
    let mut ticks = tokio::time::interval(TICK);
    // A page that fell behind gets one event with everything, not a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let watch = Watch {
        app,
        cursor,
        version: None,
        limit: query.rects,
        ticks,
    };
    let mut response = Sse::new(deltas(watch)).into_response();
    // Proxies that buffer would hold the deltas back (nginx reads this).
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One event per tick at most, and only when the feed has a new version.
fn deltas(watch: Watch) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(watch, |mut watch| async move {
        let mut idle = 0;
        loop {
            watch.ticks.tick().await;
            let version = watch.app.feed.version();
            if watch.version != Some(version) {
                let limit = watch.limit.unwrap_or(EVENT_RECTS);
                let snapshot = watch.app.feed.snapshot_at_most(watch.cursor, limit);
                watch.cursor = snapshot.cursor;
                watch.version = Some(snapshot.version);
                let data = wire::to_json(&snapshot, watch.app.feed.stream_capacity());
                let event = SseEvent::default()
                    .id(format!("{},{}", watch.cursor.stream, watch.cursor.events))
                    .data(data);
                return Some((Ok(event), watch));
            }
            idle += 1;
            if idle >= IDLE_TICKS {
                return Some((Ok(SseEvent::default().comment("idle")), watch));
            }
        }
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for
/// the token in a URL.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconnecting_page_resumes_from_its_last_event_id() {
        let mut headers = HeaderMap::new();
        headers.insert("last-event-id", HeaderValue::from_static("12, 3"));
        assert_eq!(
            last_event_cursor(&headers),
            Some(Cursor {
                stream: 12,
                events: 3
            })
        );
        headers.insert("last-event-id", HeaderValue::from_static("junk"));
        assert_eq!(last_event_cursor(&headers), None);
    }

    #[test]
    fn tokens_are_escaped_in_the_url() {
        assert_eq!(percent_encode("a b&c~"), "a%20b%26c~");
    }
}
