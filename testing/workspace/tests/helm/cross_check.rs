//! The same releases through the real helm and kubectl, where they are on
//! PATH: `helm template`'s output goes through the test's checks too, and
//! Go's YAML decoding must read the manifests as the test's parser does.
//! Without them these checks are skipped, which is said once on stderr.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

use barrow_test_support::find_program;
use yaml_rust2::Yaml;

use super::manifests::{parse_manifests, scalar_text};
use super::{Release, Rendered, chart_dir};

fn on_path(program: &str) -> Option<PathBuf> {
    find_program(program, std::env::var_os("PATH").as_deref())
}

/// One line, once for all the tests, past the harness's capture so that it
/// shows (as barrow-test-support's skips do).
fn say_once(once: &'static Once, line: &str) {
    once.call_once(|| {
        let _ = std::io::stderr().write_all(format!("helm_chart: {line}\n").as_bytes());
    });
}

static NO_HELM: Once = Once::new();
static NO_KUBECTL: Once = Once::new();
static NO_CLUSTER: Once = Once::new();

/// The release as `helm template` renders it, or `None` without `helm`.
pub fn render_with_helm(release: &Release) -> Option<Vec<Yaml>> {
    let Some(helm) = on_path("helm") else {
        say_once(
            &NO_HELM,
            "helm not found; rendering with the test's gtmpl renderer only",
        );
        return None;
    };
    let values = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(values.path(), release.values).unwrap();
    let output = Command::new(helm)
        .arg("template")
        .arg(release.name)
        .arg(chart_dir())
        .args(["--namespace", release.namespace, "-f"])
        .arg(values.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(parse_manifests(&stdout))
}

/// Go's decoding of the manifests (sigs.k8s.io/yaml, YAML 1.1: `yes`, `on`
/// or `0777` mean other things there than to the test's YAML 1.2 parser)
/// must give what the test checked; then, if a cluster is reachable, its
/// client-side dry run must take them.
pub fn check_with_kubectl(rendered: &Rendered) {
    let Some(kubectl) = on_path("kubectl") else {
        say_once(
            &NO_KUBECTL,
            "kubectl not found; skipping its decoding of the manifests",
        );
        return;
    };
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(file.path(), &rendered.text).unwrap();

    // `label --local` decodes offline and prints what it read, plus the
    // label.
    const LABEL: &str = "helm-chart-test";
    let output = Command::new(&kubectl)
        .args(["label", "--local", "--dry-run=client", "-o", "json", "-f"])
        .arg(file.path())
        .arg(format!("{LABEL}=decoded"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kubectl cannot decode the manifests: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        rendered.text
    );
    let decoded: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter()
        .map(Result::unwrap)
        .map(|mut object: serde_json::Value| {
            let labels = object["metadata"]["labels"].as_object_mut().unwrap();
            assert_eq!(labels.remove(LABEL), Some("decoded".into()));
            object
        })
        .collect();
    let ours: Vec<serde_json::Value> = rendered.manifests.iter().map(to_json).collect();
    if let Some(difference) = first_difference(
        &serde_json::Value::Array(decoded),
        &serde_json::Value::Array(ours.clone()),
        "",
    ) {
        panic!("Go reads the manifests otherwise: {difference}");
    }

    let output = Command::new(&kubectl)
        .args([
            "create",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "json",
        ])
        .args(["--request-timeout=5s", "-f"])
        .arg(file.path())
        .output()
        .unwrap();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let unreachable = [
            "couldn't get current server API group list",
            "connection refused",
            "dial tcp",
            "no such host",
            "i/o timeout",
        ];
        assert!(
            unreachable.iter().any(|s| stderr.contains(s)),
            "kubectl create --dry-run=client: {stderr}"
        );
        say_once(
            &NO_CLUSTER,
            "no Kubernetes cluster reachable; skipping kubectl create --dry-run=client",
        );
        return;
    }
    let created: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let names = |objects: &[serde_json::Value]| {
        let mut names: Vec<String> = objects
            .iter()
            .map(|o| format!("{} {}", o["kind"], o["metadata"]["name"]))
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&created), names(&ours));
}

/// Where Go's reading (`go`) and the test's (`ours`) part, if they do.
fn first_difference(go: &serde_json::Value, ours: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value as Json;
    match (go, ours) {
        (Json::Array(g), Json::Array(o)) if g.len() == o.len() => g
            .iter()
            .zip(o)
            .enumerate()
            .find_map(|(i, (g, o))| first_difference(g, o, &format!("{at}[{i}]"))),
        (Json::Object(g), Json::Object(o)) if g.len() == o.len() => o.iter().find_map(|(k, o)| {
            let path = format!("{at}.{k}");
            match g.get(k) {
                Some(g) => first_difference(g, o, &path),
                None => Some(format!("{path} is missing in Go's")),
            }
        }),
        (g, o) if g == o => None,
        (g, o) => Some(format!("at {at}, Go reads {g} where the test reads {o}")),
    }
}

fn to_json(yaml: &Yaml) -> serde_json::Value {
    use serde_json::Value as Json;
    match yaml {
        Yaml::String(s) => Json::from(s.as_str()),
        Yaml::Integer(i) => Json::from(*i),
        Yaml::Real(r) => Json::from(r.parse::<f64>().unwrap()),
        Yaml::Boolean(b) => Json::from(*b),
        Yaml::Null => Json::Null,
        Yaml::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (scalar_text(k), to_json(v)))
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML node {yaml:?}"),
    }
}
