//! Every way loading or calling a plugin can fail has its own error.

use barrow_core::function::Input;
use barrow_core::{ErrorKind, Func, Registry, Value};
use barrow_plugin_host::{Error, load, register};

use crate::support::library;

#[test]
fn a_text_file_is_not_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libfake.so");
    std::fs::write(&path, "not a library\n").unwrap();
    let err = load(&path).unwrap_err();
    assert!(matches!(err, Error::NotALibrary { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("libfake.so"), "{text}");
    assert!(text.contains("is not a loadable plugin library"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn a_missing_file_is_not_found() {
    let err = load(std::path::Path::new("/nonexistent/libnothing.so")).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/libnothing.so"),
        "{err}"
    );
}

#[test]
fn a_library_without_the_root_module_is_not_a_plugin() {
    let path = library("barrow-test-no-root");
    let err = load(&path).unwrap_err();
    assert!(matches!(err, Error::NotAPlugin { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("libbarrow_test_no_root"), "{text}");
    assert!(text.contains("export_plugin!"), "{text}");
}

fn call(name: &str, args: Vec<Value>) -> barrow_core::Result<Value> {
    let plugin = load(&library("barrow-test-faulty")).unwrap();
    register(&plugin, Registry::global()).unwrap();
    let inputs: Vec<Input> = args.into_iter().map(Input::Value).collect();
    Registry::global().functions().get(name)?.call(&inputs)
}

#[test]
fn a_panicking_function_fails_its_task_and_the_host_goes_on() {
    let err = call("faulty.panics", vec![]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskPanicked, "{err}");
    assert!(err.to_string().contains("faulty.panics panicked"), "{err}");
    assert!(err.to_string().contains("on purpose"), "{err}");
    // Where it panicked, from the plugin's own panic hook.
    assert!(err.to_string().contains("src/lib.rs:"), "{err}");
    // The same process calls the plugin again.
    let out = call("faulty.identity", vec![Value::new(2.5f64)]).unwrap();
    assert_eq!(*out.downcast_ref::<f64>().unwrap(), 2.5);
}

#[test]
fn a_function_returning_an_error_fails_its_task() {
    let err = call("faulty.fails", vec![]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskFailed, "{err}");
    assert!(err.to_string().contains("faulty.fails failed"), "{err}");
    assert!(err.to_string().contains("failed on purpose"), "{err}");
}

#[test]
fn a_function_without_a_result_is_an_error() {
    let err = call("faulty.no-result", vec![]).unwrap_err();
    assert!(err.to_string().contains("without a result"), "{err}");
}

#[test]
fn an_argument_a_plugin_cannot_take_is_an_error_naming_its_type() {
    let err = call("faulty.identity", vec![Value::new(vec![vec![1u8]])]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType, "{err}");
    assert!(err.to_string().contains("argument 0"), "{err}");
    assert!(
        err.to_string().contains("Vec<alloc::vec::Vec<u8>>"),
        "{err}"
    );
}

#[test]
fn a_name_taken_by_the_program_is_an_error_naming_both() {
    let registry = Registry::new();
    registry
        .functions()
        .register(Func::new("faulty.identity", |x: &f64| *x))
        .unwrap();
    let plugin = load(&library("barrow-test-faulty")).unwrap();
    let err = register(&plugin, &registry).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("'faulty.identity' is registered twice"),
        "{text}"
    );
    assert!(text.contains("plugin 'faulty'"), "{text}");
    // Nothing of the plugin was registered.
    assert!(!registry.functions().contains("faulty.panics"));
}

#[test]
fn a_scheduler_name_taken_by_the_program_is_an_error_naming_both() {
    let registry = Registry::new();
    registry
        .schedulers()
        .register(&["lifo"], |_| {
            Ok(barrow_core::reference::ReferenceScheduler::shared() as _)
        })
        .unwrap();
    let plugin = load(&library("barrow-example-scheduler")).unwrap();
    let err = register(&plugin, &registry).unwrap_err().to_string();
    assert!(
        err.contains("scheduler 'lifo' is registered twice"),
        "{err}"
    );
    assert!(
        err.contains("by this program and by plugin 'lifo-example'"),
        "{err}"
    );
}
