//! Tests of the YAML reader.

use super::*;

fn value(text: &str) -> Value {
    parse(text)
        .map(|node| node.map_or(Value::Null, Node::into_value))
        .unwrap_or_else(|f| panic!("{text}: {f:?}"))
}

fn map(text: &str) -> Vec<Keyed> {
    match parse(text) {
        Ok(Some(Node::Map(map))) => map,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn scalars_read_as_yaml_1_2() {
    for null in ["~", "null", "Null", "NULL"] {
        assert_eq!(value(&format!("[{null}]")), Value::List(vec![Value::Null]));
    }
    assert_eq!(value("a:"), Value::Map([("a".into(), Value::Null)].into()));
    assert_eq!(
        value("[True, FALSE, true]"),
        Value::from(vec![true, false, true])
    );
    assert_eq!(
        value("[0x1f, 0o17, +5, -3]"),
        Value::from(vec![31, 15, 5, -3])
    );
    assert_eq!(value("2.5e3"), Value::Float(2500.0));
    assert_eq!(value("-.inf"), Value::Float(f64::NEG_INFINITY));
    for text in ["inf", "NaN", "nULL", "yes", "64MiB", "'true'", "\"1\""] {
        let expected = text.trim_matches(|c| c == '\'' || c == '"');
        assert_eq!(value(text), Value::from(expected), "{text}");
    }
    assert_eq!(value("!!str 12"), Value::from("12"));
    assert_eq!(value("!!float 12"), Value::Float(12.0));
    assert_eq!(value("!!int twelve"), Value::from("twelve"));
    assert_eq!(value("# only a comment\n"), Value::Null);
}

#[test]
fn keys_keep_their_spelling_and_position() {
    let entries = map("a: 1\nb:\n  c_d: x\n'1': y\n");
    let keys: Vec<(&str, usize, usize)> = entries
        .iter()
        .map(|k| (k.key.as_str(), k.at.line, k.at.column))
        .collect();
    assert_eq!(keys, [("a", 1, 1), ("b", 2, 1), ("1", 4, 1)]);
    let Node::Map(inner) = &entries[1].node else {
        panic!("b is a mapping");
    };
    assert_eq!(
        (inner[0].key.as_str(), inner[0].at.line, inner[0].at.column),
        ("c_d", 3, 3)
    );
    // Both spellings of one key are kept, for the loader to refuse.
    assert_eq!(map("a_b: 1\na-b: 2\n").len(), 2);
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let text = "base: &base {workers: 2, chunk_size: 1MiB}\n\
                job:\n  <<: *base\n  chunk-size: 2MiB\n  name: &n x\n  again: *n\n";
    let Value::Map(root) = value(text) else {
        panic!("a mapping");
    };
    let Value::Map(job) = &root["job"] else {
        panic!("job is a mapping");
    };
    assert_eq!(job["chunk-size"], Value::from("2MiB"));
    assert!(
        !job.contains_key("chunk_size"),
        "the explicit key wins: {job:?}"
    );
    assert_eq!(job["workers"], Value::Integer(2));
    assert_eq!(job["again"], Value::from("x"));
    let lists = "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc: {<<: [*a, *b]}\n";
    let Value::Map(root) = value(lists) else {
        panic!("a mapping");
    };
    assert_eq!(
        root["c"],
        Value::Map([("x".into(), 1.into()), ("y".into(), 2.into())].into())
    );
    assert!(matches!(parse("a: {<<: 3}"), Err(Failure::Syntax { .. })));
}

#[test]
fn nested_aliases_that_expand_exponentially_are_refused() {
    let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let previous = format!("*l{}", level - 1);
        let items = [previous.as_str(); 10].join(", ");
        text.push_str(&format!("l{level}: &l{level} [{items}]\n"));
    }
    match parse(&text) {
        Err(Failure::TooLarge { what }) => {
            assert!(
                what.contains("aliases expand it past 200000 values"),
                "{what}"
            );
            assert!(what.contains("line 6"), "the alias that went past: {what}");
        }
        other => panic!("{other:?}"),
    }
    // A few aliases are fine.
    assert!(parse("a: &a [1, 2]\nb: [*a, *a]\n").is_ok());
}

#[test]
fn deep_nesting_and_large_texts_are_refused() {
    let deep = format!("{}1{}", "[".repeat(65), "]".repeat(65));
    assert!(
        matches!(parse(&deep), Err(Failure::TooLarge { what }) if what.contains("deeper than 64"))
    );
    let fine = format!("{}1{}", "[".repeat(60), "]".repeat(60));
    assert!(parse(&fine).is_ok());
    let many = format!("[{}]", vec!["1"; MAX_VALUES].join(","));
    assert!(
        matches!(parse(&many), Err(Failure::TooLarge { what }) if what.contains("more than 200000"))
    );
    let big = " ".repeat(MAX_BYTES + 1);
    assert!(matches!(parse(&big), Err(Failure::TooLarge { .. })));
}

#[test]
fn syntax_errors_have_a_position() {
    match parse("a: [1, 2\n") {
        Err(Failure::Syntax { at: Some(at), .. }) => assert_eq!(at.line, 2),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(parse("a: 1\n---\nb: 2\n"), Err(Failure::Syntax { what, .. }) if what.contains("several YAML documents"))
    );
    assert!(
        matches!(parse("? [a, b]\n: 1\n"), Err(Failure::Syntax { what, .. }) if what.contains("key must be text"))
    );
    assert!(matches!(
        parse("a: *nothing\n"),
        Err(Failure::Syntax { .. })
    ));
}
