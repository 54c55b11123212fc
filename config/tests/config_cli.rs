//! The logic of `barrow config`: list, get, paths and validate.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow_config::{Sandbox, cli};

#[test]
fn get_prints_the_canonical_value_alone() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "processes");
    sandbox.set_env("BARROW_ARRAY__CHUNK_SIZE", "67108864");
    sandbox.set_env("BARROW_PLUGINS__LOAD", "[a, b]");
    let config = sandbox.config();
    let out = cli::get(&config, "scheduler", false);
    assert_eq!(
        (out.stdout(), out.stderr(), out.code()),
        ("processes\n", "", 0)
    );
    assert_eq!(
        cli::get(&config, "array.chunk_size", false).stdout(),
        "64MiB\n"
    );
    assert_eq!(
        cli::get(&config, "plugins.load", false).stdout(),
        "[a, b]\n"
    );
    assert_eq!(
        cli::get(&config, "array.chunk-size-tolerance", false).stdout(),
        "1.25\n"
    );
    // Unset: nothing at all.
    let out = cli::get(&config, "num-workers", false);
    assert_eq!((out.stdout(), out.code()), ("", 0));
}

#[test]
fn get_fails_for_unknown_keys_and_bad_values() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_NUM_WORKERS", "four");
    let config = sandbox.config();
    let out = cli::get(&config, "num-workers", false);
    assert_eq!(out.code(), 1);
    assert_eq!(out.stdout(), "");
    assert_eq!(
        out.stderr(),
        "error: num-workers = \"four\" (from BARROW_NUM_WORKERS): expected an integer >= 1\n"
    );
    let out = cli::get(&config, "schedular", false);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr().contains("did you mean \"scheduler\"?"),
        "{}",
        out.stderr()
    );
}

#[test]
fn get_reports_a_malformed_file() {
    let sandbox = Sandbox::new().unwrap();
    let path = sandbox.user_file("x.yaml", "a: [\n").unwrap();
    let out = cli::get(&sandbox.config(), "scheduler", false);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr().contains(&path.display().to_string()),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("line 2"), "{}", out.stderr());
}

#[test]
fn list_shows_every_key_its_origin_and_what_it_overrides() {
    let mut sandbox = Sandbox::new().unwrap();
    let file = sandbox
        .user_file("site.yaml", "num-workers: 8\ndashbord: {port: 1}\n")
        .unwrap();
    sandbox.set_env("BARROW_NUM_WORKERS", "4");
    let out = cli::list(&sandbox.config(), false);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let text = out.stdout();
    let expected = format!(
        "num-workers = 4  # from BARROW_NUM_WORKERS\n    overrides 8  # from {}\n    overrides (unset)  # from built-in defaults\n",
        file.display()
    );
    assert!(text.contains(&expected), "{text}");
    assert!(
        text.contains("array.chunk-size = 128MiB  # from built-in defaults\n"),
        "{text}"
    );
    assert!(
        text.contains("scheduler = (unset)  # from built-in defaults\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "# Undeclared keys (nothing in Barrow reads them; code may):\ndashbord.port = 1  # from {}\n",
            file.display()
        )),
        "{text}"
    );
    assert!(
        out.stderr()
            .contains("warning: unknown configuration key \"dashbord.port\"")
    );
    // One line per declared key, plus overrides and the unknown section.
    let schema = barrow_config::Schema::builtin().unwrap();
    for declaration in schema.iter() {
        assert!(
            text.contains(&format!("\n{} = ", declaration.key()))
                || text.starts_with(declaration.key())
        );
    }
}

#[test]
fn list_marks_bad_values_and_fails() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_ARRAY__CHUNK_SIZE", "12 lots");
    let out = cli::list(&sandbox.config(), false);
    assert_eq!(out.code(), 1);
    assert!(out.stdout().contains(
        "array.chunk-size = \"12 lots\"  # from BARROW_ARRAY__CHUNK_SIZE  (invalid: expected a byte size such as \"64MiB\")"
    ));
    assert!(
        out.stderr()
            .starts_with("error: array.chunk-size = \"12 lots\" (from BARROW_ARRAY__CHUNK_SIZE)")
    );
}

#[test]
fn list_as_json_has_values_origins_and_overrides() {
    let mut sandbox = Sandbox::new().unwrap();
    let file = sandbox
        .user_file("site.yaml", "scheduler: threads\n")
        .unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "processes");
    let out = cli::list(&sandbox.config(), true);
    assert_eq!(out.code(), 0);
    let json: serde_json::Value = serde_json::from_str(out.stdout()).unwrap();
    let key = |name: &str| {
        json["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"] == name)
            .unwrap()
            .clone()
    };
    let scheduler = key("scheduler");
    assert_eq!(scheduler["value"], "processes");
    assert_eq!(scheduler["from"], "BARROW_SCHEDULER");
    assert_eq!(scheduler["layer"], "environment");
    assert_eq!(
        scheduler["overrides"],
        serde_json::json!([
            {"value": "threads", "from": file.display().to_string(), "layer": "user"},
            {"value": null, "from": "built-in defaults", "layer": "defaults"},
        ])
    );
    assert_eq!(key("plugins.load")["value"], serde_json::json!([]));
    assert_eq!(key("chunksize")["value"], 6);
    // Every entry is a declared key here; the tree holds the same values.
    assert!(
        json["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["declared"] == true)
    );
    assert_eq!(
        json["tree"]["scheduler"],
        serde_json::json!({"value": "processes", "from": "BARROW_SCHEDULER", "layer": "environment", "declared": true})
    );
    assert_eq!(
        json["tree"]["array"]["keys"]["chunk-size"]["value"],
        "128MiB"
    );
    assert_eq!(json["warnings"], serde_json::json!([]));
    assert_eq!(json["errors"], serde_json::json!([]));
}

#[test]
fn paths_lists_the_search_path_lowest_first_marking_what_exists() {
    let mut sandbox = Sandbox::new().unwrap();
    let user_file = sandbox.user_file("me.yaml", "chunksize: 3\n").unwrap();
    let missing = sandbox.root().join("missing.yaml");
    sandbox.set_env("BARROW_CONFIG", missing.to_str().unwrap());
    sandbox.set_env("BARROW_NUM_WORKERS", "2");
    let out = cli::paths(&sandbox.config());
    assert_eq!(out.code(), 0);
    let lines: Vec<&str> = out.stdout().lines().collect();
    let system = format!(
        "system        {}/*.yaml  [exists]",
        sandbox.system_dir().display()
    );
    let user = format!(
        "user          {}/*.yaml  [exists]",
        sandbox.user_dir().display()
    );
    let file = format!("                {}  [exists]", user_file.display());
    let named = format!("BARROW_CONFIG {}  [missing]", missing.display());
    assert_eq!(lines[0], "# Configuration layers, lowest precedence first");
    assert!(lines[1].starts_with("defaults      built into barrow-config"));
    assert_eq!(&lines[2..6], [system, user, file, named]);
    assert_eq!(
        lines[6],
        "environment   BARROW_* variables: BARROW_NUM_WORKERS"
    );
    assert!(lines[7].starts_with("global"));
    assert!(lines[8].starts_with("scoped"));
    assert!(lines[9].starts_with("call"));
    assert!(
        out.stderr().contains("warning: BARROW_CONFIG names"),
        "{}",
        out.stderr()
    );
}

#[test]
fn paths_says_when_there_is_no_home() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.without_home();
    let out = cli::paths(&sandbox.config());
    assert!(
        out.stdout().contains("user          (no home directory"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout()
            .contains("BARROW_CONFIG (BARROW_CONFIG is unset)"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout().contains("BARROW_* variables: none set"),
        "{}",
        out.stdout()
    );
}

#[test]
fn validate_checks_files_and_names_each_problem() {
    let sandbox = Sandbox::new().unwrap();
    let good = sandbox
        .write("good.yaml", "num-workers: 2\narray:\n  chunk_size: 1GB\n")
        .unwrap();
    let bad = sandbox
        .write(
            "bad.yaml",
            "num-workers: 0\nschedular: threads\nprocesses: {context: clone}\n",
        )
        .unwrap();
    let broken = sandbox.write("broken.yaml", "a: b: c\n").unwrap();
    let missing = sandbox.root().join("missing.yaml");
    let out = cli::validate(
        &sandbox.config(),
        &[good.clone(), bad.clone(), broken.clone(), missing.clone()],
    );
    assert_eq!(out.code(), 1);
    assert_eq!(out.stdout(), format!("{}: valid\n", good.display()));
    let problems: Vec<&str> = out.stderr().lines().collect();
    let bad_path = bad.display();
    assert_eq!(
        problems,
        [
            // In the file's order.
            format!("error: num-workers = 0 (from {bad_path}): expected an integer >= 1"),
            format!(
                "error: unknown configuration key \"schedular\" (from {bad_path}); did you mean \"scheduler\"?"
            ),
            format!(
                "error: processes.context = \"clone\" (from {bad_path}): expected one of: spawn, fork"
            ),
            format!(
                "error: malformed configuration file {}, line 1 column 5: mapping values are not allowed in this context",
                broken.display()
            ),
            format!(
                "error: cannot read the configuration file {}: No such file or directory (os error 2); it is ignored",
                missing.display()
            ),
        ]
    );
}

#[test]
fn validate_without_files_checks_every_layer() {
    let mut sandbox = Sandbox::new().unwrap();
    let out = cli::validate(&sandbox.config(), &[]);
    assert_eq!((out.stdout(), out.code()), ("configuration is valid\n", 0));

    sandbox.user_file("a.yaml", "chunksize: lots\n").unwrap();
    sandbox.set_env("BARROW_CHUNKSIZE", "4");
    sandbox.set_env("BARROW_SHEDULER", "sync");
    let out = cli::validate(&sandbox.config(), &[]);
    assert_eq!(out.code(), 1);
    let stderr = out.stderr();
    assert!(
        stderr.contains("unknown configuration key \"sheduler\" (from BARROW_SHEDULER)"),
        "{stderr}"
    );
    assert!(stderr.contains("chunksize = \"lots\" (from "), "{stderr}");
}
