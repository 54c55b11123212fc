//! Scoped overrides (per thread, nested, restored on drop), the per-thread
//! default configuration, and per-call options.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::{Arc, Barrier};

use barrow_config::{Config, ErrorKind, Layer, Origin, Sandbox};

fn workers(config: &Config) -> Option<u64> {
    config
        .snapshot()
        .unwrap()
        .get::<u64>("num-workers")
        .unwrap()
}

#[test]
fn scoped_guards_nest_and_restore_on_drop() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_NUM_WORKERS", "16");
    let config = sandbox.config();
    assert_eq!(workers(&config), Some(16));
    {
        let _outer = barrow_config::scoped([("num-workers", 2)]).unwrap();
        assert_eq!(workers(&config), Some(2));
        {
            let _inner = barrow_config::scoped([("num-workers", 3), ("chunksize", 9)]).unwrap();
            assert_eq!(workers(&config), Some(3));
            let snapshot = config.snapshot().unwrap();
            let lookup = snapshot.lookup("num-workers").unwrap();
            assert_eq!(lookup.origin(), &Origin::Scoped);
            let hidden: Vec<_> = lookup
                .overridden()
                .map(|e| e.origin().to_string())
                .collect();
            assert_eq!(
                hidden,
                ["scoped override", "BARROW_NUM_WORKERS", "built-in defaults"]
            );
        }
        assert_eq!(workers(&config), Some(2));
        assert_eq!(
            config.snapshot().unwrap().get::<u64>("chunksize").unwrap(),
            Some(6)
        );
    }
    assert_eq!(workers(&config), Some(16));
}

#[test]
fn guards_dropped_out_of_order_remove_only_their_own_values() {
    let config = Sandbox::new().unwrap().config();
    let outer = barrow_config::scoped([("num-workers", 2)]).unwrap();
    let inner = barrow_config::scoped([("num-workers", 3)]).unwrap();
    drop(outer);
    assert_eq!(workers(&config), Some(3));
    drop(inner);
    assert_eq!(workers(&config), None);
}

#[test]
fn scoped_overrides_are_invisible_to_other_threads() {
    let config = Sandbox::new().unwrap().config();
    let ready = Arc::new(Barrier::new(2));
    let checked = Arc::new(Barrier::new(2));
    let other = {
        let (config, ready, checked) = (config.clone(), ready.clone(), checked.clone());
        std::thread::spawn(move || {
            let _mine = barrow_config::scoped([("num-workers", 5)]).unwrap();
            ready.wait();
            let seen = workers(&config);
            checked.wait();
            seen
        })
    };
    let _here = barrow_config::scoped([("num-workers", 7)]).unwrap();
    ready.wait();
    // Both guards are alive now; each thread sees only its own.
    let seen_here = workers(&config);
    checked.wait();
    assert_eq!(seen_here, Some(7));
    assert_eq!(other.join().unwrap(), Some(5));
    // A thread without guards sees neither.
    let fresh = std::thread::spawn(move || workers(&config)).join().unwrap();
    assert_eq!(fresh, None);
}

#[test]
fn a_snapshot_carries_scoped_values_to_worker_threads() {
    let config = Sandbox::new().unwrap().config();
    let snapshot = {
        let _guard = barrow_config::scoped([("scheduler", "threads")]).unwrap();
        config.snapshot().unwrap()
    };
    let seen = std::thread::spawn(move || snapshot.get::<String>("scheduler").unwrap())
        .join()
        .unwrap();
    assert_eq!(seen.as_deref(), Some("threads"));
}

#[test]
fn with_scoped_runs_a_closure_under_overrides() {
    let config = Sandbox::new().unwrap().config();
    let inside = barrow_config::with_scoped([("chunksize", 2)], || {
        config.snapshot().unwrap().get::<u64>("chunksize").unwrap()
    })
    .unwrap();
    assert_eq!(inside, Some(2));
    assert_eq!(
        config.snapshot().unwrap().get::<u64>("chunksize").unwrap(),
        Some(6)
    );
}

#[test]
fn bad_scoped_overrides_are_refused_whole() {
    let config = Sandbox::new().unwrap().config();
    let err = barrow_config::scoped([("num-workers", 0)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadValue);
    assert_eq!(
        err.to_string(),
        "num-workers = 0 (from scoped override): expected an integer >= 1"
    );
    let err = barrow_config::scoped([("chunksize", 3), ("num-workers", 0)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadValue);
    // Nothing of the refused call stays.
    assert_eq!(
        config.snapshot().unwrap().get::<u64>("chunksize").unwrap(),
        Some(6)
    );
}

#[test]
fn scoped_overrides_beat_global_ones() {
    let config = Sandbox::new().unwrap().config();
    config.set_global("num-workers", 4).unwrap();
    let guard = barrow_config::scoped([("num-workers", 1)]).unwrap();
    assert_eq!(workers(&config), Some(1));
    drop(guard);
    assert_eq!(workers(&config), Some(4));
}

#[test]
fn set_default_installs_a_configuration_for_this_thread() {
    let first = Sandbox::new().unwrap();
    let mut second = Sandbox::new().unwrap();
    second.set_env("BARROW_NUM_WORKERS", "2");
    let _a = first.config().set_default();
    assert_eq!(barrow_config::get::<u64>("num-workers").unwrap(), None);
    {
        let _b = second.config().set_default();
        assert_eq!(barrow_config::get::<u64>("num-workers").unwrap(), Some(2));
        barrow_config::set_global("chunksize", 3).unwrap();
        assert_eq!(barrow_config::get::<u64>("chunksize").unwrap(), Some(3));
        // Another thread reads the process's configuration, not ours.
        let elsewhere = std::thread::spawn(|| {
            std::ptr::eq(
                Config::current().sources() as *const _,
                Config::process().sources() as *const _,
            )
        })
        .join()
        .unwrap();
        assert!(elsewhere);
    }
    // The global override went to the second sandbox's configuration only.
    assert_eq!(barrow_config::get::<u64>("chunksize").unwrap(), Some(6));
}

#[test]
fn call_options_sit_on_top_and_are_checked() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "processes");
    let config = sandbox.config();
    let _guard = barrow_config::scoped([("scheduler", "threads")]).unwrap();
    let snapshot = config.snapshot().unwrap();
    let call = snapshot
        .with_options([("scheduler", "sync"), ("optimization.fuse.active", "false")])
        .unwrap();
    assert_eq!(
        call.get::<String>("scheduler").unwrap().as_deref(),
        Some("sync")
    );
    assert_eq!(
        call.get::<bool>("optimization.fuse.active").unwrap(),
        Some(false)
    );
    assert_eq!(
        call.lookup("scheduler").unwrap().origin().layer(),
        Layer::Call
    );
    // The snapshot the options were added to is unchanged.
    assert_eq!(
        snapshot.get::<String>("scheduler").unwrap().as_deref(),
        Some("threads")
    );

    let err = snapshot
        .with_options([("processes.context", "clone")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"processes.context = "clone" (from call option): expected one of: spawn, fork"#
    );
    // A key nobody declared is kept; one like a declared key warns.
    let call = snapshot.with_options([("sheduler", "sync")]).unwrap();
    assert_eq!(call.get_value("sheduler"), Some("sync".into()));
    assert_eq!(
        call.warnings().last().unwrap().message(),
        r#"unknown configuration key "sheduler" (from call option); did you mean "scheduler"?"#
    );
    assert_eq!(
        call.get::<String>("scheduler").unwrap().as_deref(),
        Some("threads")
    );
}
