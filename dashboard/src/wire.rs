//! The JSON a page receives: a [`Snapshot`] with the colours it needs, so
//! the palette and Dask's colour rules live in Rust only.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::feed::Snapshot;
use crate::memory::{MemoryColour, SEGMENT_ALPHA};
use crate::stream::{Activity, prefix_colour};

/// What a snapshot is drawn with: a colour per prefix it names, and the
/// fixed colours of the other activities and of the memory bars.
#[derive(Debug, Serialize)]
struct Palette {
    prefixes: BTreeMap<String, &'static str>,
    transfer: &'static str,
    disk: &'static str,
    failed: &'static str,
    memory: BTreeMap<&'static str, &'static str>,
    alpha: BTreeMap<&'static str, f64>,
}

#[derive(Debug, Serialize)]
struct Wire<'a> {
    #[serde(flatten)]
    snapshot: &'a Snapshot,
    /// Rectangles the ring keeps: a page keeps no more.
    stream_capacity: usize,
    palette: Palette,
}

/// `snapshot` as the JSON pages read.
pub(crate) fn to_json(snapshot: &Snapshot, stream_capacity: usize) -> String {
    let mut prefixes = BTreeMap::new();
    let named = snapshot
        .stream
        .rects
        .iter()
        .map(|r| &*r.prefix)
        .chain(snapshot.progress.iter().map(|p| p.prefix.as_str()));
    for prefix in named {
        if !prefixes.contains_key(prefix) {
            prefixes.insert(prefix.to_owned(), prefix_colour(prefix));
        }
    }
    let memory = [
        MemoryColour::Normal,
        MemoryColour::Spilling,
        MemoryColour::Critical,
    ]
    .into_iter()
    .map(|c| (colour_name(c), c.css()))
    .collect();
    let wire = Wire {
        snapshot,
        stream_capacity,
        palette: Palette {
            prefixes,
            transfer: Activity::Transfer.colour().unwrap_or("#d62728"),
            disk: Activity::DiskWrite.colour().unwrap_or("#ff7f0e"),
            failed: "#000000",
            memory,
            alpha: SEGMENT_ALPHA.into_iter().collect(),
        },
    };
    // Every field is a plain string, number or map with string keys, which
    // serde_json always writes; an empty object is a safe fallback anyway.
    serde_json::to_string(&wire).unwrap_or_else(|_| "{}".to_owned())
}

/// The name a colour serializes as (`normal`, `spilling`, `critical`).
fn colour_name(colour: MemoryColour) -> &'static str {
    match colour {
        MemoryColour::Normal => "normal",
        MemoryColour::Spilling => "spilling",
        MemoryColour::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{Cursor, Feed, FeedOptions, Update};
    use crate::stream::tests::rect;

    #[test]
    fn the_json_names_the_colours_of_its_prefixes() {
        let feed = Feed::new(FeedOptions::default());
        feed.update(Update {
            rects: (0..5).map(rect).collect(),
            ..Update::default()
        });
        let snapshot = feed.snapshot_at_most(Cursor::default(), 2);
        assert_eq!(snapshot.stream.rects.len(), 2);
        assert_eq!(snapshot.stream.dropped, 3);
        assert_eq!(snapshot.stream.rects[0].key.name(), "inc-3");
        let json: serde_json::Value = serde_json::from_str(&to_json(&snapshot, 100)).unwrap();
        assert_eq!(json["palette"]["prefixes"]["inc"], prefix_colour("inc"));
        assert_eq!(json["palette"]["memory"]["spilling"], "#ff7f0e");
        assert_eq!(json["palette"]["alpha"]["unmanaged-recent"], 0.4);
        assert_eq!(json["stream"]["next"], 5);
        assert_eq!(json["cursor"]["stream"], 5);
        assert_eq!(json["stream_capacity"], 100);
    }
}
