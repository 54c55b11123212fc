#![doc = include_str!("../README.md")]

mod feed;
mod memory;
pub mod metrics;
mod progress;
mod stream;

pub use feed::{
    Cursor, Event, Feed, FeedOptions, Snapshot, StateCounts, Update, WorkerRow, WorkerView,
};
pub use memory::{Memory, MemoryColour, SEGMENT_ALPHA, Thresholds};
pub use progress::{Overall, Phase, PrefixProgress, ProgressTable};
pub use stream::{Activity, Rect, StreamDelta, TaskStream, prefix_colour};
