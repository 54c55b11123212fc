//! Which scheduler runs a computation, layer by layer: the call's option >
//! a scoped override > a global override > `BARROW_SCHEDULER` > config
//! files > the collection's default. Each test reads its own sandboxed
//! configuration (installed for its thread only), so tests never see each
//! other's settings or the machine's.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;

use barrow_config::Sandbox;
use barrow_core::collection::{Collection, GraphKeys};
use barrow_core::reference::ReferenceScheduler;
use barrow_core::{
    ErrorKind, Graph, Key, Options, Registry, Result, RunContext, Scheduler, Task, Value,
    compute_with,
};

/// A scheduler that answers with its own name, to see which one ran.
struct Named(&'static str);

impl Scheduler for Named {
    fn get(&self, _graph: &Graph, keys: &[Key], _ctx: &mut RunContext<'_>) -> Result<Vec<Value>> {
        Ok(keys
            .iter()
            .map(|_| Value::new(self.0.to_string()))
            .collect())
    }

    fn name(&self) -> &str {
        self.0
    }
}

fn registry() -> Arc<Registry> {
    let registry = Registry::new();
    for name in [
        "from-default",
        "from-file",
        "from-env",
        "from-global",
        "from-scoped",
        "from-call",
    ] {
        let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
        registry
            .schedulers()
            .register(&[leaked], move |_| Ok(Arc::new(Named(leaked))))
            .unwrap();
    }
    Arc::new(registry)
}

/// A collection whose default scheduler is `from-default`.
struct WithDefault(GraphKeys);

impl Collection for WithDefault {
    type Output = Vec<Value>;
    fn graph(&self) -> Result<Graph> {
        self.0.graph()
    }
    fn output_keys(&self) -> Vec<Key> {
        self.0.output_keys()
    }
    fn finalize(&self, values: Vec<Value>) -> Result<Vec<Value>> {
        Ok(values)
    }
    fn default_scheduler(&self) -> Option<&str> {
        Some("from-default")
    }
}

fn which(options: Options) -> String {
    let graph = Graph::from_tasks([("x", Task::literal(1i64))]).unwrap();
    let out = compute_with(WithDefault(GraphKeys::new(graph, ["x"])), &options).unwrap();
    out[0].downcast_ref::<String>().unwrap().clone()
}

fn options() -> Options {
    Options::new().registry(registry())
}

#[test]
fn every_layer_beats_the_one_below() {
    let mut sandbox = Sandbox::new().unwrap();
    let config = sandbox.config();
    let _default = config.set_default();
    assert_eq!(which(options()), "from-default");

    sandbox
        .user_file("barrow.yaml", "scheduler: from-file\n")
        .unwrap();
    let config = sandbox.config();
    let _default = config.set_default();
    assert_eq!(which(options()), "from-file");

    sandbox.set_env("BARROW_SCHEDULER", "from-env");
    let config = sandbox.config();
    let _default = config.set_default();
    assert_eq!(which(options()), "from-env");

    config.set_global("scheduler", "from-global").unwrap();
    assert_eq!(which(options()), "from-global");

    {
        let _scoped = barrow_config::scoped([("scheduler", "from-scoped")]).unwrap();
        assert_eq!(which(options()), "from-scoped");
        {
            let _object = barrow_core::use_scheduler(Arc::new(Named("scoped-object")));
            assert_eq!(which(options()), "scoped-object");
            assert_eq!(which(options().scheduler("from-call")), "from-call");
        }
        assert_eq!(which(options().set("scheduler", "from-call")), "from-call");
        assert_eq!(
            which(options().scheduler("FROM-CALL")),
            "from-call",
            "names ignore case"
        );
    }
    // The scoped override is gone with its guard.
    assert_eq!(which(options()), "from-global");
}

#[test]
fn a_scoped_override_stays_on_its_thread() {
    let sandbox = Sandbox::new().unwrap();
    let config = sandbox.config();
    let _default = config.set_default();
    let _scoped = barrow_config::scoped([("scheduler", "from-scoped")]).unwrap();
    let other = config.clone();
    let seen = std::thread::spawn(move || {
        let _default = other.set_default();
        which(options())
    })
    .join()
    .unwrap();
    assert_eq!(seen, "from-default");
    assert_eq!(which(options()), "from-scoped");
}

#[test]
fn a_scheduler_object_beats_every_name() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "from-env");
    let config = sandbox.config();
    let _default = config.set_default();
    let options = options().scheduler_object(Arc::new(Named("object")));
    assert_eq!(which(options), "object");
    let options = Options::new().scheduler_object(ReferenceScheduler::shared());
    let graph = Graph::from_tasks([("x", Task::literal(7i64))]).unwrap();
    let out = compute_with(GraphKeys::new(graph, ["x"]), &options).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 7);
}

#[test]
fn an_unknown_scheduler_from_the_environment_names_the_choices() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "gpu");
    let config = sandbox.config();
    let _default = config.set_default();
    let graph = Graph::from_tasks([("x", Task::literal(1i64))]).unwrap();
    let err = compute_with(GraphKeys::new(graph, ["x"]), &options()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownScheduler);
    assert!(err.to_string().contains("'gpu'"), "{err}");
    assert!(err.to_string().contains("from-env"), "{err}");
}

#[test]
fn a_bad_config_value_names_its_variable() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_OPTIMIZATION__FUSE__ACTIVE", "sometimes");
    let config = sandbox.config();
    let _default = config.set_default();
    let graph = Graph::from_tasks([("x", Task::literal(1i64))]).unwrap();
    let collection = WithDefault(GraphKeys::new(graph, ["x"]));
    let err = compute_with(collection, &options()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string()
            .contains("BARROW_OPTIMIZATION__FUSE__ACTIVE"),
        "{err}"
    );
}

#[test]
fn the_run_context_carries_num_workers() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_NUM_WORKERS", "3");
    let config = sandbox.config();
    let _default = config.set_default();
    let registry = Registry::new();
    let options = Options::new();
    assert_eq!(
        RunContext::new(&registry, &options)
            .unwrap()
            .num_workers()
            .unwrap(),
        3
    );
    let options = Options::new().num_workers(5);
    assert_eq!(
        RunContext::new(&registry, &options)
            .unwrap()
            .num_workers()
            .unwrap(),
        5
    );
    let options = Options::new().set("num-workers", 7u64);
    assert_eq!(
        RunContext::new(&registry, &options)
            .unwrap()
            .num_workers()
            .unwrap(),
        7
    );
}
