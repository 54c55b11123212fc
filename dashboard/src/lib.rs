#![doc = include_str!("../README.md")]

mod auth;
mod collect;
mod error;
mod feed;
mod local;
mod memory;
pub mod metrics;
mod process;
mod progress;
mod server;
mod stream;
mod wire;

pub use error::{Error, Result};
pub use feed::{
    Cursor, Event, Feed, FeedOptions, Snapshot, StateCounts, Update, WorkerRow, WorkerView,
};
pub use local::Dashboard;
pub use memory::{Memory, MemoryColour, SEGMENT_ALPHA, Thresholds};
pub use progress::{Overall, Phase, PrefixProgress, ProgressTable, key_prefix};
pub use server::{DashboardServer, ServeOptions};
pub use stream::{Activity, Rect, StreamDelta, TaskStream, prefix_colour};
