//! Barrow's core model.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod key;
pub mod order;
pub mod plan;

pub use key::{Key, KeyMap, KeySet};
