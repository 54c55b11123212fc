#![doc = include_str!("../README.md")]

mod auth;
mod error;
mod feed;
mod memory;
pub mod metrics;
mod progress;
mod server;
mod stream;
mod wire;

pub use error::{Error, Result};
pub use feed::{
    Cursor, Event, Feed, FeedOptions, Snapshot, StateCounts, Update, WorkerRow, WorkerView,
};
pub use memory::{Memory, MemoryColour, SEGMENT_ALPHA, Thresholds};
pub use progress::{Overall, Phase, PrefixProgress, ProgressTable};
pub use server::{DashboardServer, ServeOptions};
pub use stream::{Activity, Rect, StreamDelta, TaskStream, prefix_colour};
