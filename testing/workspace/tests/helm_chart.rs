//! The Kubernetes pieces: the Helm chart in deploy/helm/barrow and the
//! image recipe it runs, deploy/docker/Dockerfile.
//!
//! `helm` cannot be installed here (it is not in Debian, and there is no Go
//! toolchain to build it), so the test renders the chart itself (helm/):
//! gtmpl is Go's text/template, which Helm renders with, and the few Helm
//! functions the chart keeps to are implemented with Helm's semantics. When
//! `helm` is on PATH, `helm template` renders the same releases and its
//! output passes the same checks. With `kubectl` on PATH, Go's own YAML
//! decoding (YAML 1.1, unlike the test's YAML 1.2 parser) must read every
//! manifest as the test does. Nothing is deployed on a cluster, and the
//! image is not built here (no Docker engine): its recipe is checked for
//! what the chart relies on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod helm;

use std::path::{Path, PathBuf};

use barrow::config::ByteSize;
use barrow::distributed::{Address, Scheme};
use yaml_rust2::Yaml;

use helm::manifests::{
    by_name, find, flag, int, millicores, only_container, quantity_bytes, resolve_port, string_map,
    strings, text,
};
use helm::{CHART_NAME, Release, Rendered, SECRET_KEY, render};

const TOKEN_VAR: &str = "BARROW_DISTRIBUTED__SECURITY__TOKEN";
/// The uid of the image's user, which the chart's runAsUser names.
const IMAGE_UID: i64 = 10001;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------
// What a rendered release must hold.
// ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Renderer {
    Gtmpl,
    Helm,
}

#[derive(Debug, Clone, Copy)]
enum Token {
    /// `token` in the values.
    Given(&'static str),
    /// Generated at install: random with Helm, the stand-in with gtmpl.
    Generated,
    /// Read back from the Secret already in the cluster (base64).
    Kept(&'static str),
    /// `existingSecret`: no Secret of the chart's, this one instead.
    External(&'static str),
}

#[derive(Debug, Clone, Copy)]
struct Expected {
    namespace: &'static str,
    /// The prefix of every resource's name.
    prefix: &'static str,
    image: &'static str,
    service_type: &'static str,
    pull_secrets: &'static [&'static str],
    worker_replicas: i64,
    threads: usize,
    memory_limit: &'static str,
    /// The worker's requests and limits, (cpu, memory) as rendered.
    worker_requests: (&'static str, &'static str),
    worker_limits: (&'static str, &'static str),
    token: Token,
}

/// A Service's name is a DNS label (RFC 1035): the host workers dial.
fn assert_dns_label(name: &str) {
    assert!(
        name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && !name.ends_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "{name:?} is not a DNS label"
    );
}

/// The container's token variable comes from the Secret `secret`.
fn assert_token_env(container: &Yaml, secret: &str, what: &str) {
    let env = by_name(&container["env"], TOKEN_VAR, what);
    assert!(
        env["value"].is_badvalue(),
        "{what}: the token is not inline"
    );
    let key = &env["valueFrom"]["secretKeyRef"];
    assert_eq!(text(&key["name"], what), secret, "{what}");
    assert_eq!(text(&key["key"], what), SECRET_KEY, "{what}");
}

fn assert_pod(deployment: &Yaml, expected: &Expected, what: &str) {
    let pod = &deployment["spec"]["template"]["spec"];
    let pull_secrets: Vec<&str> = pod["imagePullSecrets"].as_vec().map_or_else(Vec::new, |v| {
        v.iter().map(|s| text(&s["name"], what)).collect()
    });
    assert_eq!(pull_secrets, expected.pull_secrets, "{what}");
    assert_eq!(
        pod["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true),
        "{what}"
    );
    assert_eq!(
        int(&pod["securityContext"]["runAsUser"], what),
        IMAGE_UID,
        "{what}"
    );
    // Service links would give the pods BARROW_*_PORT variables for a
    // release named barrow, which Barrow reads as configuration.
    assert_eq!(pod["enableServiceLinks"].as_bool(), Some(false), "{what}");
    let container = only_container(deployment, what);
    // A read-only root needs the writable /tmp where spill files go.
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true),
        "{what}"
    );
    let mount = by_name(&container["volumeMounts"], "tmp", what);
    assert_eq!(text(&mount["mountPath"], what), "/tmp", "{what}");
    assert!(
        by_name(&pod["volumes"], "tmp", what)["emptyDir"].is_hash(),
        "{what}"
    );
}

fn check_release(docs: &[Yaml], expected: &Expected, renderer: Renderer) {
    let scheduler_name = format!("{}-scheduler", expected.prefix);
    let worker_name = format!("{}-worker", expected.prefix);
    let secret_name = match expected.token {
        Token::External(name) => name.to_owned(),
        _ => format!("{}-token", expected.prefix),
    };

    // Kinds and names: nothing more, nothing less.
    let mut kinds: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| {
            (
                text(&d["kind"], "kind"),
                text(&d["metadata"]["name"], "name"),
            )
        })
        .collect();
    kinds.sort_unstable();
    let mut want = vec![
        ("Deployment", scheduler_name.as_str()),
        ("Deployment", worker_name.as_str()),
        ("Service", scheduler_name.as_str()),
    ];
    if !matches!(expected.token, Token::External(_)) {
        want.push(("Secret", secret_name.as_str()));
    }
    want.sort_unstable();
    assert_eq!(kinds, want);
    for doc in docs {
        let labels = &doc["metadata"]["labels"];
        assert_eq!(text(&labels["app.kubernetes.io/name"], "name"), CHART_NAME);
        assert!(labels["app.kubernetes.io/instance"].as_str().is_some());
        // Helm adds its own namespace: the chart must not pin one.
        assert!(doc["metadata"]["namespace"].is_badvalue());
    }
    assert_dns_label(&scheduler_name);

    // The scheduler.
    let scheduler = find(docs, "Deployment", &scheduler_name);
    assert_eq!(text(&scheduler["apiVersion"], "apiVersion"), "apps/v1");
    assert_eq!(int(&scheduler["spec"]["replicas"], "replicas"), 1);
    let scheduler_labels = string_map(
        &scheduler["spec"]["template"]["metadata"]["labels"],
        "labels",
    );
    assert!(scheduler_labels.contains(&(
        "app.kubernetes.io/component".to_owned(),
        "scheduler".to_owned()
    )));
    let container = only_container(scheduler, "the scheduler");
    assert_eq!(text(&container["image"], "image"), expected.image);
    // No command: the image's ENTRYPOINT ["barrow"] runs the arguments.
    assert!(container["command"].is_badvalue());
    assert_eq!(
        strings(&container["args"], "the scheduler's args"),
        ["scheduler", "--host", "0.0.0.0", "--port", "8786"]
    );
    let scheduler_port = resolve_port(container, &Yaml::String("scheduler".into()));
    let dashboard_port = resolve_port(container, &Yaml::String("dashboard".into()));
    assert_eq!((scheduler_port, dashboard_port), (8786, 8787));
    let dashboard = by_name(
        &container["env"],
        "BARROW_DISTRIBUTED__DASHBOARD__ADDRESS",
        "env",
    );
    assert_eq!(
        text(&dashboard["value"], "dashboard address"),
        "0.0.0.0:8787"
    );
    assert_token_env(container, &secret_name, "the scheduler");
    let ready = &container["readinessProbe"];
    assert_eq!(resolve_port(container, &ready["tcpSocket"]["port"]), 8786);
    let alive = &container["livenessProbe"]["httpGet"];
    assert_eq!(text(&alive["path"], "liveness path"), "/health");
    assert_eq!(resolve_port(container, &alive["port"]), 8787);
    assert_pod(scheduler, expected, "the scheduler");

    // Its Service reaches the scheduler's pod and no worker's.
    let service = find(docs, "Service", &scheduler_name);
    assert_eq!(
        text(&service["spec"]["type"], "type"),
        expected.service_type
    );
    let selector = string_map(&service["spec"]["selector"], "the Service's selector");
    assert!(!selector.is_empty());
    assert!(selector.iter().all(|pair| scheduler_labels.contains(pair)));
    for (name, target) in [("scheduler", 8786), ("dashboard", 8787)] {
        let port = by_name(&service["spec"]["ports"], name, "the Service's ports");
        assert_eq!(int(&port["port"], "port"), target, "{name}");
        assert_eq!(
            resolve_port(container, &port["targetPort"]),
            target,
            "{name}"
        );
    }

    // The workers.
    let workers = find(docs, "Deployment", &worker_name);
    assert_eq!(
        int(&workers["spec"]["replicas"], "replicas"),
        expected.worker_replicas
    );
    let worker_labels = string_map(&workers["spec"]["template"]["metadata"]["labels"], "labels");
    assert!(
        !selector.iter().all(|pair| worker_labels.contains(pair)),
        "the Service must not send clients to workers"
    );
    for (deployment, labels) in [(scheduler, &scheduler_labels), (workers, &worker_labels)] {
        let matched = string_map(&deployment["spec"]["selector"]["matchLabels"], "selector");
        assert!(matched.iter().all(|pair| labels.contains(pair)));
        // Each Deployment's selector must miss the other's pods.
        let other = if labels == &scheduler_labels {
            &worker_labels
        } else {
            &scheduler_labels
        };
        assert!(!matched.iter().all(|pair| other.contains(pair)));
    }
    let container = only_container(workers, "the worker");
    assert_eq!(text(&container["image"], "image"), expected.image);
    assert!(container["command"].is_badvalue());
    let args = strings(&container["args"], "the worker's args");
    assert_eq!(args[0], "worker");
    // The address: the Service's DNS name in the release's namespace, and
    // its scheduler port, as barrow itself parses it.
    let address: Address = args[1].parse().unwrap();
    assert_eq!(address.scheme(), Scheme::Tcp);
    assert_eq!(
        address.host(),
        format!("{scheduler_name}.{}.svc", expected.namespace)
    );
    let service_port = by_name(&service["spec"]["ports"], "scheduler", "ports");
    assert_eq!(
        i64::from(address.port()),
        int(&service_port["port"], "port")
    );
    // Kubernetes expands $(POD_NAME) from the container's variable.
    assert_eq!(flag(&args, "--name"), "$(POD_NAME)");
    let pod_name = by_name(&container["env"], "POD_NAME", "the worker's env");
    assert_eq!(
        text(&pod_name["valueFrom"]["fieldRef"]["fieldPath"], "fieldPath"),
        "metadata.name"
    );
    assert_token_env(container, &secret_name, "the worker");

    // Threads and memory limit agree with the values and the container's
    // limits: one thread per CPU, and a memory limit at which the worker
    // spills and its nanny acts before the kernel kills the container.
    let threads: usize = flag(&args, "--nthreads").parse().unwrap();
    assert_eq!(threads, expected.threads);
    let memory_limit = flag(&args, "--memory-limit");
    assert_eq!(memory_limit, expected.memory_limit);
    let bytes = u64::from(memory_limit.parse::<ByteSize>().unwrap());
    let resources = &container["resources"];
    let field = |kind: &str, name: &str| text(&resources[kind][name], name).to_owned();
    assert_eq!(
        (field("requests", "cpu"), field("requests", "memory")),
        (
            expected.worker_requests.0.to_owned(),
            expected.worker_requests.1.to_owned()
        )
    );
    assert_eq!(
        (field("limits", "cpu"), field("limits", "memory")),
        (
            expected.worker_limits.0.to_owned(),
            expected.worker_limits.1.to_owned()
        )
    );
    assert_eq!(millicores(&field("limits", "cpu")), threads as u64 * 1000);
    assert_eq!(quantity_bytes(&field("limits", "memory")), bytes);
    assert_pod(workers, expected, "the worker");

    // The Secret holds the token.
    if matches!(expected.token, Token::External(_)) {
        return;
    }
    let secret = find(docs, "Secret", &secret_name);
    assert_eq!(text(&secret["type"], "type"), "Opaque");
    let data = text(&secret["data"][SECRET_KEY], "the token");
    let token = String::from_utf8(helm::base64::decode(data)).unwrap();
    match expected.token {
        Token::Given(given) => assert_eq!(token, given),
        Token::Kept(b64) => assert_eq!(data, b64),
        Token::Generated => {
            assert_eq!(token.len(), 32);
            assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
            if renderer == Renderer::Gtmpl {
                assert_eq!(token, helm::rand_alpha_num_stand_in(32));
            }
        }
        Token::External(_) => unreachable!(),
    }
}

// ---------------------------------------------------------------------
// The releases.
// ---------------------------------------------------------------------

const DEFAULTS: Release = Release {
    name: "demo",
    namespace: "default",
    values: "",
};

const DEFAULTS_EXPECTED: Expected = Expected {
    namespace: "default",
    prefix: "demo-barrow",
    image: "barrow:0.1.0",
    service_type: "ClusterIP",
    worker_replicas: 2,
    threads: 2,
    memory_limit: "4GiB",
    worker_requests: ("2", "4Gi"),
    worker_limits: ("2", "4Gi"),
    pull_secrets: &[],
    token: Token::Generated,
};

/// A release named after the chart: its name alone prefixes the resources.
const OVERRIDES: Release = Release {
    name: "barrow",
    namespace: "analytics",
    values: r#"
token: "s3cret-token for tests"
imagePullSecrets:
  - name: registry-login
image:
  repository: registry.example.com/team/barrow
  tag: "0.1.0-rc1"
scheduler:
  service:
    type: LoadBalancer
worker:
  replicas: 5
  threads: 8
  memoryLimit: 30GiB
  resources:
    requests:
      cpu: 7500m
      memory: 24Gi
    limits:
      cpu: "8"
      memory: 30Gi
"#,
};

const OVERRIDES_EXPECTED: Expected = Expected {
    namespace: "analytics",
    prefix: "barrow",
    image: "registry.example.com/team/barrow:0.1.0-rc1",
    service_type: "LoadBalancer",
    worker_replicas: 5,
    threads: 8,
    memory_limit: "30GiB",
    worker_requests: ("7500m", "24Gi"),
    worker_limits: ("8", "30Gi"),
    pull_secrets: &["registry-login"],
    token: Token::Given("s3cret-token for tests"),
};

const EXTERNAL_SECRET: Release = Release {
    name: "demo",
    namespace: "default",
    values: "existingSecret: team-cluster-token\n",
};

fn check(release: &Release, expected: &Expected) -> Rendered {
    let rendered = render(release);
    check_release(&rendered.manifests, expected, Renderer::Gtmpl);
    if let Some(manifests) = helm::render_with_helm(release) {
        check_release(&manifests, expected, Renderer::Helm);
    }
    helm::check_with_kubectl(&rendered);
    rendered
}

#[test]
fn default_values() {
    let rendered = check(&DEFAULTS, &DEFAULTS_EXPECTED);
    let address = "tcp://demo-barrow-scheduler.default.svc:8786";
    assert!(rendered.notes.contains(address), "{}", rendered.notes);
    assert!(
        rendered.notes.contains("demo-barrow-token"),
        "{}",
        rendered.notes
    );
}

#[test]
fn overridden_values() {
    let rendered = check(&OVERRIDES, &OVERRIDES_EXPECTED);
    assert!(
        rendered
            .notes
            .contains("tcp://barrow-scheduler.analytics.svc:8786"),
        "{}",
        rendered.notes
    );
}

#[test]
fn an_existing_secret_replaces_the_charts() {
    let expected = Expected {
        token: Token::External("team-cluster-token"),
        ..DEFAULTS_EXPECTED
    };
    let rendered = check(&EXTERNAL_SECRET, &expected);
    assert!(rendered.notes.contains("team-cluster-token"));
}

/// On an upgrade the generated token stays: pods still running prove it.
#[test]
fn an_upgrade_keeps_the_generated_token() {
    // base64 of "the token generated at install".
    const KEPT: &str = "dGhlIHRva2VuIGdlbmVyYXRlZCBhdCBpbnN0YWxs";
    helm::add_cluster_secret(DEFAULTS.namespace, "demo-barrow-token", KEPT);
    let expected = Expected {
        token: Token::Kept(KEPT),
        ..DEFAULTS_EXPECTED
    };
    // Not with helm: `helm template` never sees a cluster's Secret.
    check_release(&render(&DEFAULTS).manifests, &expected, Renderer::Gtmpl);
}

#[test]
fn long_release_names_still_make_dns_labels() {
    // Helm's longest release name: 53 characters.
    let release = Release {
        name: "a-release-name-at-helms-limit-of-fifty-three-chars-xy",
        ..DEFAULTS
    };
    assert_eq!(release.name.len(), 53);
    let docs = render(&release).manifests;
    for doc in &docs {
        assert_dns_label(text(&doc["metadata"]["name"], "name"));
    }
    // Cut short, the Service's name is still the host workers dial.
    let service = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("Service"))
        .unwrap();
    let name = text(&service["metadata"]["name"], "name");
    assert_eq!(name.len(), 63);
    let workers = docs
        .iter()
        .find(|d| d["metadata"]["labels"]["app.kubernetes.io/component"].as_str() == Some("worker"))
        .unwrap();
    let args = strings(&only_container(workers, "the worker")["args"], "args");
    let address: Address = args[1].parse().unwrap();
    assert_eq!(address.host(), format!("{name}.default.svc"));
}

// ---------------------------------------------------------------------
// The image recipe (not built here: no Docker engine).
// ---------------------------------------------------------------------

#[test]
fn the_dockerfile_builds_what_the_chart_runs() {
    let root = workspace_root();
    let recipe = std::fs::read_to_string(root.join("deploy/docker/Dockerfile")).unwrap();
    // Instructions, with continuation lines joined.
    let joined = recipe.replace("\\\n", " ");
    let instructions: Vec<(&str, &str)> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once(char::is_whitespace).unwrap_or((l, "")))
        .collect();
    let all = |name: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(i, _)| i.eq_ignore_ascii_case(name))
            .map(|(_, rest)| rest.trim())
            .collect()
    };
    let stages = all("FROM");
    assert_eq!(stages.len(), 2, "a builder stage and a runtime stage");
    assert!(stages[0].starts_with("rust:1-bookworm"), "{}", stages[0]);
    assert_eq!(stages[1], "debian:bookworm-slim");

    let install = all("RUN")
        .into_iter()
        .find(|r| r.contains("cargo install"))
        .expect("a RUN with cargo install");
    let words: Vec<&str> = install.split_whitespace().collect();
    // `full`: the `scheduler` and `worker` subcommands the chart runs.
    for pair in [["--features", "full"], ["--path", "."], ["--root", "/out"]] {
        assert!(words.windows(2).any(|w| w == pair), "{pair:?} in {install}");
    }
    assert!(words.contains(&"--locked"), "{install}");
    assert!(
        all("COPY")
            .iter()
            .any(|c| c.starts_with("--from=builder /out/bin/barrow ")),
        "the binary is copied from the builder"
    );

    // The chart gives no command, only arguments to the ENTRYPOINT.
    assert_eq!(all("ENTRYPOINT"), [r#"["barrow"]"#]);
    let user = all("USER");
    assert_eq!(user.len(), 1);
    assert_eq!(
        user[0],
        format!("{IMAGE_UID}:{IMAGE_UID}"),
        "the chart's runAsUser"
    );
    let mut exposed: Vec<&str> = all("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .collect();
    exposed.sort_unstable();
    assert_eq!(exposed, ["8786", "8787"]);
    assert!(all("RUN").iter().any(|r| r.contains("ca-certificates")));

    // The context is the workspace root: without its build output and history.
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore.lines().map(str::trim).collect();
    assert!(
        ignored.contains(&"target") && ignored.contains(&".git"),
        "{ignore}"
    );
}
