//! Reading rendered manifests: parsing them, finding an object or a
//! field, and reading Kubernetes' quantities. Each reader panics with what
//! it was looking for, so that a failing check names the field.

use yaml_rust2::{Yaml, YamlLoader};

/// The `---`-separated documents, less the empty ones a template that
/// renders nothing leaves.
pub fn parse_manifests(text: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("the rendered manifests do not parse: {e}\n{text}"))
        .into_iter()
        .filter(|doc| !doc.is_null())
        .collect()
}

/// A mapping's key as the text Helm and Kubernetes key their maps by.
pub fn scalar_text(yaml: &Yaml) -> String {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

pub fn text<'a>(yaml: &'a Yaml, what: &str) -> &'a str {
    yaml.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {yaml:?}"))
}

pub fn int(yaml: &Yaml, what: &str) -> i64 {
    yaml.as_i64()
        .unwrap_or_else(|| panic!("{what} is not an integer: {yaml:?}"))
}

pub fn list<'a>(yaml: &'a Yaml, what: &str) -> &'a [Yaml] {
    yaml.as_vec()
        .unwrap_or_else(|| panic!("{what} is not a list: {yaml:?}"))
}

pub fn string_map(yaml: &Yaml, what: &str) -> Vec<(String, String)> {
    let map = yaml
        .as_hash()
        .unwrap_or_else(|| panic!("{what} is not a map: {yaml:?}"));
    let mut pairs: Vec<_> = map
        .iter()
        .map(|(k, v)| (text(k, what).to_owned(), text(v, what).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

pub fn find<'a>(docs: &'a [Yaml], kind: &str, name: &str) -> &'a Yaml {
    let found: Vec<_> = docs
        .iter()
        .filter(|d| {
            d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name)
        })
        .collect();
    assert_eq!(found.len(), 1, "one {kind} {name} in {docs:#?}");
    found[0]
}

pub fn by_name<'a>(items: &'a Yaml, name: &str, what: &str) -> &'a Yaml {
    list(items, what)
        .iter()
        .find(|item| item["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in {what}: {items:?}"))
}

pub fn only_container<'a>(deployment: &'a Yaml, what: &str) -> &'a Yaml {
    let containers = list(&deployment["spec"]["template"]["spec"]["containers"], what);
    assert_eq!(containers.len(), 1, "{what}: one container");
    &containers[0]
}

/// A probe's or Service's port: a number, or the name of a container port.
pub fn resolve_port(container: &Yaml, port: &Yaml) -> i64 {
    match port {
        Yaml::Integer(n) => *n,
        Yaml::String(name) => int(
            &by_name(&container["ports"], name, "the ports")["containerPort"],
            "containerPort",
        ),
        other => panic!("not a port: {other:?}"),
    }
}

/// A Kubernetes CPU quantity in millicores: "2", "1.5", "500m".
pub fn millicores(quantity: &str) -> u64 {
    match quantity.strip_suffix('m') {
        Some(milli) => milli.parse().unwrap(),
        None => (quantity.parse::<f64>().unwrap() * 1000.0).round() as u64,
    }
}

/// A Kubernetes memory quantity in bytes: "4Gi", "512Mi", "1G", "1000".
pub fn quantity_bytes(quantity: &str) -> u64 {
    const SUFFIXES: [(&str, u64); 12] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("Pi", 1 << 50),
        ("Ei", 1 << 60),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("E", 1_000_000_000_000_000_000),
    ];
    SUFFIXES
        .iter()
        .find_map(|(suffix, unit)| {
            quantity
                .strip_suffix(suffix)
                .map(|n| n.parse::<u64>().unwrap() * unit)
        })
        .unwrap_or_else(|| quantity.parse().unwrap())
}

/// The value after `flag` in `args`, which holds it once.
pub fn flag<'a>(args: &'a [&'a str], flag: &str) -> &'a str {
    let at: Vec<_> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| **a == flag)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "{flag} once in {args:?}");
    args.get(at[0] + 1)
        .unwrap_or_else(|| panic!("{flag} has no value in {args:?}"))
}

pub fn strings<'a>(yaml: &'a Yaml, what: &str) -> Vec<&'a str> {
    list(yaml, what).iter().map(|a| text(a, what)).collect()
}
