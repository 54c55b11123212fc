//! The scheduler's dashboard: a [`Feed`] the core writes a batch into every
//! `distributed.dashboard.interval`, through a thread of its own (so a
//! page reading a large snapshot never holds up the core), and the
//! dashboard's HTTP server on another.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use barrow_core::config::Snapshot;
use barrow_dashboard::{DashboardServer, Feed, FeedOptions, ServeOptions, Thresholds, Update};

use crate::error::{Error, ErrorKind, Result};

/// `distributed.dashboard.*`, and the thresholds the memory bars mark.
#[derive(Debug, Clone)]
pub(crate) struct DashboardSettings {
    pub(crate) enabled: bool,
    pub(crate) address: String,
    pub(crate) interval: Duration,
    pub(crate) thresholds: Thresholds,
    /// Rectangles kept for pages (`task-stream-length`).
    pub(crate) stream_length: usize,
}

impl DashboardSettings {
    pub(crate) fn from_config(config: &Snapshot) -> Result<DashboardSettings> {
        let share = |name: &str, default: f64| -> Result<f64> {
            Ok(config
                .get::<f64>(&format!("distributed.worker.memory.{name}"))?
                .unwrap_or(default))
        };
        let defaults = Thresholds::default();
        let interval = config
            .get::<Duration>("distributed.dashboard.interval")?
            .unwrap_or(Duration::from_millis(100));
        if interval.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "distributed.dashboard.interval is 0: give a duration such as 100ms",
            ));
        }
        Ok(DashboardSettings {
            enabled: config
                .get::<bool>("distributed.dashboard.enabled")?
                .unwrap_or(true),
            address: config
                .get::<String>("distributed.dashboard.address")?
                .unwrap_or_else(|| "127.0.0.1:8787".to_owned()),
            interval,
            stream_length: config
                .get::<u64>("distributed.dashboard.task-stream-length")?
                .map_or(10_000, |n| usize::try_from(n).unwrap_or(usize::MAX))
                .max(1),
            thresholds: Thresholds {
                target: share("target", defaults.target)?,
                spill: share("spill", defaults.spill)?,
                pause: share("pause", defaults.pause)?,
                terminate: share("terminate", defaults.terminate)?,
            },
        })
    }
}

/// What the scheduler's core needs to feed a dashboard.
#[derive(Debug)]
pub(crate) struct Watcher {
    /// When the feed began.
    pub(crate) epoch: Instant,
    pub(crate) interval: Duration,
    pub(crate) thresholds: Thresholds,
    /// To the feed's writer thread.
    pub(crate) updates: mpsc::Sender<Update>,
}

/// A running dashboard: its server and the thread writing into its feed.
#[derive(Debug)]
pub(crate) struct ClusterDashboard {
    server: DashboardServer,
    feed: Arc<Feed>,
}

impl ClusterDashboard {
    /// Serves a dashboard for the scheduler at `title`; pages off
    /// loopback must show `token`. A taken port is replaced by a free one,
    /// with a warning.
    pub(crate) fn start(
        settings: &DashboardSettings,
        title: &str,
        token: &str,
    ) -> Result<(ClusterDashboard, Watcher)> {
        let feed = Feed::new(FeedOptions {
            title: format!("cluster {title}"),
            stream_capacity: settings.stream_length,
            ..FeedOptions::default()
        });
        let options = |address: String| ServeOptions::at(address).with_token(token);
        let server = match DashboardServer::start(feed.clone(), options(settings.address.clone())) {
            Ok(server) => server,
            Err(first) => {
                let Some((host, _)) = settings.address.rsplit_once(':') else {
                    return Err(dashboard_error(&settings.address, &first));
                };
                let server = DashboardServer::start(feed.clone(), options(format!("{host}:0")))
                    .map_err(|e| dashboard_error(&settings.address, &e))?;
                tracing::warn!(
                    "the dashboard cannot use {} ({first}): it is at {} instead",
                    settings.address,
                    server.address()
                );
                server
            }
        };
        let (updates, received) = mpsc::channel::<Update>();
        let writer = feed.clone();
        std::thread::Builder::new()
            .name("barrow-dashboard-feed".to_owned())
            .spawn(move || {
                // Ends when the core drops its sender.
                while let Ok(update) = received.recv() {
                    writer.update(update);
                }
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Limit,
                    format!("cannot start the dashboard's feed thread: {e}"),
                )
            })?;
        let watcher = Watcher {
            epoch: feed.started(),
            interval: settings.interval,
            thresholds: settings.thresholds,
            updates,
        };
        Ok((ClusterDashboard { server, feed }, watcher))
    }

    /// The page's address, with the token when one is needed.
    pub(crate) fn url(&self) -> String {
        self.server.url()
    }

    /// The feed (tests compare it with the scheduler's figures).
    pub(crate) fn feed(&self) -> &Arc<Feed> {
        &self.feed
    }
}

fn dashboard_error(address: &str, error: &barrow_dashboard::Error) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "cannot serve the dashboard at {address}: {error}; set \
             distributed.dashboard.address to another HOST:PORT, or \
             distributed.dashboard.enabled to false"
        ),
    )
}
