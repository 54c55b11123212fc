//! Helm's renderer, minus what the chart does not use, for a test that
//! cannot install `helm`: gtmpl is Go's text/template, which Helm renders
//! with, and Helm's own part (the merge of values, the `.Chart` and
//! `.Release` objects, the functions in `functions.rs`) is redone here with
//! Helm's semantics. Where the real `helm` and `kubectl` are on PATH,
//! `cross_check.rs` has them read the same releases.

pub mod base64;
mod cross_check;
mod functions;
pub mod manifests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gtmpl::{Context, Template, Value};
use yaml_rust2::{Yaml, YamlLoader};

pub use cross_check::{check_with_kubectl, render_with_helm};
pub use functions::{add_cluster_secret, rand_alpha_num_stand_in};
use manifests::{parse_manifests, scalar_text};

pub const CHART_NAME: &str = "barrow";
/// The key of the token in the chart's Secret, which `lookup` hands back
/// for a Secret already in the cluster.
pub const SECRET_KEY: &str = "token";

pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/helm")
        .join(CHART_NAME)
}

/// One release of the chart, as `helm template NAME CHART --namespace
/// NAMESPACE -f VALUES` would render it.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    pub name: &'static str,
    pub namespace: &'static str,
    /// A values file over the chart's values.yaml.
    pub values: &'static str,
}

#[derive(Debug)]
pub struct Rendered {
    pub manifests: Vec<Yaml>,
    /// Every manifest template's output, joined as `helm template` does.
    pub text: String,
    pub notes: String,
}

pub fn render(release: &Release) -> Rendered {
    let dir = chart_dir();
    let read = |path: &Path| {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let chart = load_one(&read(&dir.join("Chart.yaml")), "Chart.yaml");
    let mut values = load_one(&read(&dir.join("values.yaml")), "values.yaml");
    if !release.values.trim().is_empty() {
        merge_values(
            &mut values,
            &load_one(release.values, "the release's values"),
        );
    }

    let mut sources = Vec::new();
    for entry in std::fs::read_dir(dir.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        sources.push((format!("{CHART_NAME}/templates/{file}"), read(&path)));
    }
    sources.sort();
    functions::set_sources(&sources);
    let mut template = parse_chart(&sources).unwrap_or_else(|e| panic!("parsing {e}"));

    // .Chart and .Release are Go structs in Helm: a misspelt field is an
    // error, hence objects; .Values is a map.
    let field = |key: &str| Value::from(chart[key].as_str().unwrap_or_else(|| panic!("{key}")));
    let chart_object = HashMap::from([
        ("Name".to_owned(), field("name")),
        ("Version".to_owned(), field("version")),
        ("AppVersion".to_owned(), field("appVersion")),
        ("Description".to_owned(), field("description")),
        ("Type".to_owned(), field("type")),
    ]);
    let release_object = HashMap::from([
        ("Name".to_owned(), Value::from(release.name)),
        ("Namespace".to_owned(), Value::from(release.namespace)),
        ("Service".to_owned(), Value::from("Helm")),
        ("IsInstall".to_owned(), Value::from(true)),
        ("IsUpgrade".to_owned(), Value::from(false)),
        ("Revision".to_owned(), Value::from(1)),
    ]);
    let top = HashMap::from([
        ("Values".to_owned(), to_value(&values)),
        ("Chart".to_owned(), Value::Object(chart_object)),
        ("Release".to_owned(), Value::Object(release_object)),
    ]);
    let context = Context::from(Value::Object(top));

    let mut text = String::new();
    let mut notes = String::new();
    for (name, _) in &sources {
        let file = name.rsplit('/').next().unwrap();
        if file.starts_with('_') {
            continue;
        }
        template.name = name.clone();
        let output = template
            .render(&context)
            .unwrap_or_else(|e| panic!("rendering {name}: {e}"));
        // Helm would print nothing for it: a missing value is a bug here.
        assert!(!output.contains("<no value>"), "{name}:\n{output}");
        if file == "NOTES.txt" {
            notes = output;
        } else if !output.trim().is_empty() {
            text.push_str(&format!("---\n# Source: {name}\n{output}\n"));
        }
    }
    Rendered {
        manifests: parse_manifests(&text),
        text,
        notes,
    }
}

fn parse_chart(sources: &[(String, String)]) -> Result<Template, String> {
    let mut template = Template::default();
    template.add_funcs(&functions::helm_functions());
    for (name, text) in sources {
        template
            .add_template(name.as_str(), text.as_str())
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(template)
}

/// Values as Helm reads them: mappings are Go maps (a missing key is no
/// value, not an error).
fn to_value(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::String(s) => Value::from(s.as_str()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => Value::from(r.parse::<f64>().unwrap()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Null => Value::Nil,
        Yaml::Array(items) => Value::Array(items.iter().map(to_value).collect()),
        Yaml::Hash(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (scalar_text(k), to_value(v)))
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML node {yaml:?}"),
    }
}

/// Helm's merge of a values file over the chart's: maps merge key by key,
/// anything else replaces, and null deletes the key.
fn merge_values(base: &mut Yaml, over: &Yaml) {
    match (base, over) {
        (Yaml::Hash(base), Yaml::Hash(over)) => {
            for (key, value) in over {
                if value.is_null() {
                    base.remove(key);
                } else if let Some(existing) = base.get_mut(key) {
                    merge_values(existing, value);
                } else {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

fn load_one(text: &str, what: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(docs.len(), 1, "{what}: one YAML document");
    docs.remove(0)
}
