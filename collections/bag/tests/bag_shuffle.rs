//! groupby's shuffle within a memory budget: its pieces spill through the
//! store and come back, and the groups are right.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use barrow_bag::{Bag, register_codecs};
use barrow_core::{Options, Registry, compute_with};
use barrow_local::SpillStore;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Visit {
    user: u32,
    page: String,
}

#[test]
fn a_shuffle_larger_than_its_budget_spills_its_pieces_and_groups_right() {
    barrow_local::link();
    let registry = Arc::new(Registry::with_static());
    register_codecs::<Visit>(&registry, "test.visits").unwrap();
    let visits: Vec<Visit> = (0..20_000u32)
        .map(|i| Visit {
            user: i * 7 % 97,
            page: format!("/page/{}", i % 13),
        })
        .collect();
    let mut expected: BTreeMap<u32, Vec<Visit>> = BTreeMap::new();
    for v in &visits {
        expected.entry(v.user).or_default().push(v.clone());
    }

    for scheduler in ["sync", "threads"] {
        let folder = tempfile::tempdir().unwrap();
        let stats = Arc::new(Mutex::new(None));
        let (seen, parent, codecs) = (
            stats.clone(),
            folder.path().to_path_buf(),
            registry.shared_codecs(),
        );
        // 20,000 visits of ~40 bytes (~800 kB) through a 64 kB budget.
        let options = Options::new()
            .scheduler(scheduler)
            .num_workers(2)
            .registry(registry.clone())
            .store(move || {
                Box::new(
                    SpillStore::new(64 * 1024, &parent, codecs.clone())
                        .report_stats_to(seen.clone()),
                )
            });
        let groups = Bag::from_sequence(visits.clone(), 16)
            .unwrap()
            .groupby(|v| v.user);
        let mut got: BTreeMap<u32, Vec<Visit>> = BTreeMap::new();
        for (user, members) in compute_with(&groups, &options).unwrap() {
            assert!(
                got.insert(user, members).is_none(),
                "user {user} in two groups"
            );
        }
        assert_eq!(got, expected, "{scheduler}");
        let stats = stats.lock().unwrap().take().unwrap();
        assert!(stats.spilled_count > 50, "{scheduler}: {stats:?}");
        assert_eq!(
            stats.no_codec_count, 0,
            "{scheduler}: every piece has a codec: {stats:?}"
        );
    }
}
