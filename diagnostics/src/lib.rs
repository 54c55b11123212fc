#![doc = include_str!("../README.md")]
#![deny(missing_docs, missing_debug_implementations)]

mod error;
mod html;
mod process;
mod profiler;
mod progress;
mod resource;
mod visualize;

pub use barrow_core::inspect::{Summary, summarize, to_dot};
pub use error::{Error, ErrorKind, Result};
/// The indicatif crate, for [`ProgressBar::draw_target`].
pub use indicatif;
pub use profiler::{NO_FUNCTION, Profiler, TaskRecord};
pub use progress::{Progress, ProgressBar};
pub use resource::{ResourceProfiler, Sample};
pub use visualize::{Format, Visualize, render, visualize, visualize_collection};
