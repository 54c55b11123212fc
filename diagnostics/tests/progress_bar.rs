#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
//! The progress bar: counts on both schedulers, drawing after the minimum.

mod support;

use std::sync::Arc;
use std::time::Duration;

use barrow_diagnostics::ProgressBar;
use barrow_diagnostics::indicatif::{InMemoryTerm, ProgressDrawTarget};
use support::*;

fn in_memory(bar: ProgressBar) -> (ProgressBar, InMemoryTerm) {
    let term = InMemoryTerm::new(4, 120);
    let target = term.clone();
    let bar = bar.draw_target(move || ProgressDrawTarget::term_like(Box::new(target.clone())));
    (bar, term)
}

#[test]
fn counts_reach_the_total_on_both_schedulers() {
    let graph = map_reduce(20, 0, 8);
    for options in [sync(), threads(2)] {
        let bar = ProgressBar::hidden();
        run(&graph, "total", &options.callback(Arc::new(bar.clone())));
        let progress = bar.progress();
        assert_eq!(progress.total, graph.len());
        assert_eq!(progress.done, graph.len());
        assert!(!progress.shown);
        // The run is over: elapsed stays put.
        let elapsed = progress.elapsed;
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(bar.progress().elapsed, elapsed);
    }
}

#[test]
fn draws_done_out_of_total_and_completes() {
    let graph = map_reduce(10, 0, 8);
    let (bar, term) = in_memory(ProgressBar::new().minimum(Duration::ZERO));
    run(&graph, "total", &threads(2).callback(Arc::new(bar.clone())));
    assert!(bar.progress().shown);
    let screen = term.contents();
    assert!(screen.contains("100% Completed"), "{screen}");
    assert!(screen.contains("21/21 tasks"), "{screen}");
    assert!(
        screen.contains("[########################################]"),
        "{screen}"
    );
}

#[test]
fn quick_runs_stay_quiet_until_the_minimum() {
    let graph = map_reduce(5, 0, 8);
    let (bar, term) = in_memory(ProgressBar::new().minimum(Duration::from_millis(500)));
    run(&graph, "total", &sync().callback(Arc::new(bar.clone())));
    assert!(!bar.progress().shown);
    assert_eq!(term.contents().trim(), "");
    assert_eq!(bar.progress().done, 11);
}

#[test]
fn a_long_task_shows_the_bar_while_it_runs() {
    // One 200 ms task on the synchronous scheduler: nothing finishes before
    // the 30 ms minimum, so only the waiting thread can show the bar.
    let graph = map_reduce(1, 200, 8);
    let (bar, term) = in_memory(
        ProgressBar::new()
            .minimum(Duration::from_millis(30))
            .refresh(Duration::from_millis(20)),
    );
    run(&graph, "total", &sync().callback(Arc::new(bar.clone())));
    assert!(bar.progress().shown);
    let screen = term.contents();
    assert!(screen.contains("3/3 tasks"), "{screen}");
    assert!(bar.progress().elapsed >= Duration::from_millis(200));
}
