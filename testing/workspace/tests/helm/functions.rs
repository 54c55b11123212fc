//! The Helm and sprig functions the chart's templates call, with Helm's
//! semantics: Go's types (a number is no string), sprig's idea of empty,
//! Go's quoting. Only these; a template calling another fails to parse.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gtmpl::{Context, Func, FuncError, Value};

use super::{SECRET_KEY, base64, parse_chart};

thread_local! {
    /// The chart's templates (name, text), for `include`: gtmpl's functions
    /// are plain `fn`s, so they cannot hold the template being rendered.
    static SOURCES: RefCell<Rc<Vec<(String, String)>>> = RefCell::default();
    /// The Secrets `lookup` finds, (namespace, name, base64 token). Empty
    /// is a first install, and what `helm template` always sees.
    static CLUSTER_SECRETS: RefCell<Vec<(String, String, String)>> = RefCell::default();
}

/// The templates `include` renders from, until the next call on this thread.
pub(super) fn set_sources(sources: &[(String, String)]) {
    SOURCES.with(|s| *s.borrow_mut() = Rc::new(sources.to_vec()));
}

/// A Secret the chart's `lookup` finds from now on, on this thread: the
/// cluster of an upgrade, not of a first install.
pub fn add_cluster_secret(namespace: &str, name: &str, token_base64: &str) {
    CLUSTER_SECRETS.with(|secrets| {
        secrets.borrow_mut().push((
            namespace.to_owned(),
            name.to_owned(),
            token_base64.to_owned(),
        ));
    });
}

/// The test's stand-in for sprig's `randAlphaNum`, which is random: the
/// same alphanumerics at each render, so that the token can be checked.
pub fn rand_alpha_num_stand_in(count: usize) -> String {
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        .iter()
        .cycle()
        .take(count)
        .map(|&b| char::from(b))
        .collect()
}

pub(super) fn helm_functions() -> Vec<(&'static str, Func)> {
    vec![
        ("include", include as Func),
        ("default", default),
        ("quote", quote),
        ("trunc", trunc),
        ("trimSuffix", trim_suffix),
        ("replace", replace),
        ("contains", contains),
        ("nindent", nindent),
        ("b64enc", b64enc),
        ("randAlphaNum", rand_alpha_num),
        ("lookup", lookup),
    ]
}

fn fail(message: impl Into<String>) -> FuncError {
    FuncError::Generic(message.into())
}

fn arity(function: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(FuncError::ExactlyXArgs(function.to_owned(), n))
    }
}

/// A `string` parameter: as in Go, anything else is an error, not converted.
fn string_arg<'a>(function: &str, args: &'a [Value], i: usize) -> Result<&'a str, FuncError> {
    match &args[i] {
        Value::String(s) => Ok(s),
        other => Err(fail(format!(
            "{function}: argument {i}: wrong type for value; expected string; got {other:?}"
        ))),
    }
}

fn int_arg(function: &str, args: &[Value], i: usize) -> Result<i64, FuncError> {
    match &args[i] {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| fail(format!("{function}: argument {i} is not an integer"))),
        other => Err(fail(format!(
            "{function}: argument {i}: wrong type for value; expected int; got {other:?}"
        ))),
    }
}

/// sprig's `strval` of a scalar (what `%v` prints).
fn scalar_string(function: &str, value: &Value) -> Result<String, FuncError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(value.to_string()),
        other => Err(fail(format!("{function}: not a scalar: {other:?}"))),
    }
}

/// Go's `strconv.Quote`, for the text a chart quotes (it escapes non-printable
/// Unicode too, which no value of this chart holds).
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `quote ARGS...`: each non-nil argument quoted, joined by spaces.
fn quote(args: &[Value]) -> Result<Value, FuncError> {
    let mut quoted = Vec::new();
    for arg in args {
        if !matches!(arg, Value::Nil | Value::NoValue) {
            quoted.push(go_quote(&scalar_string("quote", arg)?));
        }
    }
    Ok(Value::from(quoted.join(" ")))
}

/// sprig's `empty`: nil, zero, false, and zero-length strings, lists, maps.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::NoValue | Value::Nil => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Map(m) | Value::Object(m) => m.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Function(_) => false,
    }
}

/// `default DEFAULT [GIVEN]`: GIVEN unless it is missing or empty.
fn default(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [fallback] => Ok(fallback.clone()),
        [fallback, given, ..] => Ok(if is_empty(given) { fallback } else { given }.clone()),
        [] => Err(FuncError::AtLeastXArgs("default".to_owned(), 1)),
    }
}

/// `trunc N S`: the first N bytes of S (the last -N when N is negative).
fn trunc(args: &[Value]) -> Result<Value, FuncError> {
    arity("trunc", args, 2)?;
    let count = int_arg("trunc", args, 0)?;
    let text = string_arg("trunc", args, 1)?;
    let len = i64::try_from(text.len()).map_err(|_| fail("trunc: string too long"))?;
    let start = if count < 0 && len + count > 0 {
        len + count
    } else {
        0
    };
    let end = if count >= 0 && len > count {
        count
    } else {
        len
    };
    let cut = |at: i64| usize::try_from(at).map_err(|_| fail("trunc: bad bound"));
    text.get(cut(start)?..cut(end)?)
        .map(Value::from)
        .ok_or_else(|| fail("trunc: cuts a character"))
}

fn trim_suffix(args: &[Value]) -> Result<Value, FuncError> {
    arity("trimSuffix", args, 2)?;
    let suffix = string_arg("trimSuffix", args, 0)?;
    let text = string_arg("trimSuffix", args, 1)?;
    Ok(Value::from(text.strip_suffix(suffix).unwrap_or(text)))
}

/// `replace OLD NEW S`: every OLD in S.
fn replace(args: &[Value]) -> Result<Value, FuncError> {
    arity("replace", args, 3)?;
    let old = string_arg("replace", args, 0)?;
    let new = string_arg("replace", args, 1)?;
    Ok(Value::from(
        string_arg("replace", args, 2)?.replace(old, new),
    ))
}

/// `contains SUBSTR S`.
fn contains(args: &[Value]) -> Result<Value, FuncError> {
    arity("contains", args, 2)?;
    let needle = string_arg("contains", args, 0)?;
    Ok(Value::from(
        string_arg("contains", args, 1)?.contains(needle),
    ))
}

/// `nindent N S`: a newline, then S with every line indented by N spaces
/// (blank lines too, as sprig does).
fn nindent(args: &[Value]) -> Result<Value, FuncError> {
    arity("nindent", args, 2)?;
    let spaces = usize::try_from(int_arg("nindent", args, 0)?)
        .map_err(|_| fail("nindent: negative indent"))?;
    let pad = " ".repeat(spaces);
    let text = string_arg("nindent", args, 1)?;
    Ok(Value::from(format!(
        "\n{pad}{}",
        text.replace('\n', &format!("\n{pad}"))
    )))
}

fn b64enc(args: &[Value]) -> Result<Value, FuncError> {
    arity("b64enc", args, 1)?;
    Ok(Value::from(base64::encode(
        string_arg("b64enc", args, 0)?.as_bytes(),
    )))
}

fn rand_alpha_num(args: &[Value]) -> Result<Value, FuncError> {
    arity("randAlphaNum", args, 1)?;
    let count = usize::try_from(int_arg("randAlphaNum", args, 0)?)
        .map_err(|_| fail("randAlphaNum: negative count"))?;
    Ok(Value::from(rand_alpha_num_stand_in(count)))
}

/// `lookup API KIND NAMESPACE NAME`: the object as a map, or an empty map
/// when there is none (which is all `helm template` ever gets).
fn lookup(args: &[Value]) -> Result<Value, FuncError> {
    arity("lookup", args, 4)?;
    let api = string_arg("lookup", args, 0)?;
    let kind = string_arg("lookup", args, 1)?;
    let namespace = string_arg("lookup", args, 2)?;
    let name = string_arg("lookup", args, 3)?;
    let found = CLUSTER_SECRETS.with(|secrets| {
        secrets
            .borrow()
            .iter()
            .find(|(ns, n, _)| (api, kind, namespace, name) == ("v1", "Secret", ns, n))
            .map(|(_, _, token)| token.clone())
    });
    let mut object = HashMap::new();
    if let Some(token) = found {
        let data = HashMap::from([(SECRET_KEY.to_owned(), Value::from(token))]);
        object.insert("apiVersion".to_owned(), Value::from(api));
        object.insert("kind".to_owned(), Value::from(kind));
        object.insert("data".to_owned(), Value::Map(data));
    }
    Ok(Value::Map(object))
}

/// `include NAME DATA`: the named template rendered with DATA as `.`, as a
/// string (so, unlike `template`, it can be piped).
fn include(args: &[Value]) -> Result<Value, FuncError> {
    arity("include", args, 2)?;
    let name = string_arg("include", args, 0)?;
    let sources = SOURCES.with(|s| s.borrow().clone());
    let mut template = parse_chart(&sources).map_err(fail)?;
    template.name = name.to_owned();
    template
        .render(&Context::from(args[1].clone()))
        .map(Value::from)
        .map_err(|e| fail(format!("include \"{name}\": {e}")))
}

#[test]
fn the_helm_functions_behave_as_helms() {
    let call = |f: Func, args: Vec<Value>| f(&args).unwrap().to_string();
    assert_eq!(
        call(quote, vec![Value::from("a \"b\"\n")]),
        r#""a \"b\"\n""#
    );
    assert_eq!(call(quote, vec![Value::from(8786)]), r#""8786""#);
    assert_eq!(call(quote, vec![Value::Nil]), "");
    assert_eq!(call(default, vec!["d".into(), "".into()]), "d");
    assert_eq!(call(default, vec!["d".into(), Value::NoValue]), "d");
    assert_eq!(call(default, vec!["d".into(), "given".into()]), "given");
    assert_eq!(call(default, vec!["d".into()]), "d");
    assert_eq!(call(trunc, vec![3.into(), "abcdef".into()]), "abc");
    assert_eq!(call(trunc, vec![(-2).into(), "abcdef".into()]), "ef");
    assert_eq!(call(trunc, vec![63.into(), "abc".into()]), "abc");
    assert_eq!(call(trim_suffix, vec!["-".into(), "ab-".into()]), "ab");
    assert_eq!(call(nindent, vec![2.into(), "a\nb".into()]), "\n  a\n  b");
    assert_eq!(call(contains, vec!["row".into(), "barrow".into()]), "true");
    assert_eq!(
        call(replace, vec!["+".into(), "_".into(), "1+2+3".into()]),
        "1_2_3"
    );
    for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v")] {
        assert_eq!(call(b64enc, vec![plain.into()]), encoded);
        assert_eq!(base64::decode(encoded), plain.as_bytes());
    }
    // As in Go, a number is no string: Helm fails `b64enc` on one too.
    assert!(b64enc(&[Value::from(1)]).is_err());
}
