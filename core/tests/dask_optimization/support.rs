//! Helpers for the port of Dask's `test_optimization.py`: graphs written as
//! Dask writes them, in a small notation (`f(a, f(b))` is a call of `f`,
//! `a` a key, `1` a literal, `[a, 1]` a list, `(x, 0, 1)` a tuple key; a
//! whole task that is a key is an alias, a whole task that is a list is a
//! call of `list`), and comparisons of whole graphs.
#![allow(dead_code, reason = "each test file uses some of the helpers")]

use barrow_core::arg::lit;
use barrow_core::function::{Function, Input};
use barrow_core::optimize::{FuseOptions, fuse, fuse_linear_with};
use barrow_core::task::{Arg, TaskBody};
use barrow_core::{Func, Graph, Key, Result, Task, Value, reference};

/// The numbers in a task's arguments, lists flattened.
fn numbers(inputs: &[Input]) -> Vec<i64> {
    let mut out = Vec::new();
    fn walk(input: &Input, out: &mut Vec<i64>) {
        match input {
            Input::Value(v) | &Input::Borrowed(v) => {
                if let Ok(x) = v.downcast_ref::<i64>() {
                    out.push(*x);
                } else if let Ok(xs) = v.downcast_ref::<Vec<i64>>() {
                    out.extend(xs);
                }
            }
            Input::List(items) => items.iter().for_each(|i| walk(i, out)),
        }
    }
    inputs.iter().for_each(|i| walk(i, &mut out));
    out
}

/// A function of any number of arguments, as Dask's tests write them.
struct Variadic {
    name: &'static str,
    run: fn(&[Input]) -> Value,
}

impl Function for Variadic {
    fn name(&self) -> &str {
        self.name
    }
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        Ok((self.run)(inputs))
    }
}

/// The functions of Dask's tests: `f(*args)` (here the sum of its
/// numbers), `inc`, `add`, `double`, `sum`, `len`, and `list`.
pub fn func(name: &str) -> Func {
    let (name, run): (&'static str, fn(&[Input]) -> Value) = match name {
        "f" => ("f", |i| Value::new(numbers(i).iter().sum::<i64>())),
        "inc" => ("inc", |i| Value::new(numbers(i).iter().sum::<i64>() + 1)),
        "add" => ("add", |i| Value::new(numbers(i).iter().sum::<i64>())),
        "double" => ("double", |i| Value::new(2 * numbers(i).iter().sum::<i64>())),
        "sum" => ("sum", |i| Value::new(numbers(i).iter().sum::<i64>())),
        "len" => ("len", |i| {
            Value::new(match i.first() {
                Some(Input::List(items)) => items.len() as i64,
                _ => numbers(i).len() as i64,
            })
        }),
        "list" => ("list", |i| Value::new(numbers(i))),
        other => panic!("no test function {other}"),
    };
    Func::from_function(Variadic { name, run })
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    extra: &'a [(&'a str, Func)],
}

impl Parser<'_> {
    fn skip(&mut self) {
        while self.at < self.text.len() && self.text[self.at] == b' ' {
            self.at += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip();
        self.text.get(self.at).copied()
    }
    fn expect(&mut self, c: u8) {
        assert_eq!(
            self.peek(),
            Some(c),
            "at {} of {:?}",
            self.at,
            String::from_utf8_lossy(self.text)
        );
        self.at += 1;
    }
    fn word(&mut self) -> &str {
        self.skip();
        let start = self.at;
        while self.at < self.text.len()
            && (self.text[self.at].is_ascii_alphanumeric() || b"-_".contains(&self.text[self.at]))
        {
            self.at += 1;
        }
        std::str::from_utf8(&self.text[start..self.at]).unwrap()
    }
    fn args(&mut self, close: u8) -> Vec<Arg> {
        let mut args = Vec::new();
        while self.peek() != Some(close) {
            args.push(self.arg());
            if self.peek() == Some(b',') {
                self.at += 1;
            }
        }
        self.expect(close);
        args
    }
    fn function(&self, name: &str) -> Func {
        match self.extra.iter().find(|(n, _)| *n == name) {
            Some((_, f)) => f.clone(),
            None => func(name),
        }
    }
    fn key(&mut self) -> Key {
        if self.peek() == Some(b'(') {
            self.at += 1;
            let name = self.word().to_owned();
            let mut index = Vec::new();
            while self.peek() == Some(b',') {
                self.at += 1;
                index.push(self.word().parse::<u32>().unwrap());
            }
            self.expect(b')');
            Key::with_index(name, index)
        } else {
            Key::new(self.word())
        }
    }
    fn arg(&mut self) -> Arg {
        match self.peek() {
            Some(b'[') => {
                self.at += 1;
                Arg::List(self.args(b']').into())
            }
            Some(b'(') => Arg::Key(self.key()),
            Some(c) if c.is_ascii_digit() => lit(self.word().parse::<i64>().unwrap()),
            _ => {
                let name = self.word().to_owned();
                if self.text.get(self.at) == Some(&b'(') {
                    self.at += 1;
                    let args = self.args(b')');
                    barrow_core::arg::call(&self.function(&name), args)
                } else {
                    Arg::Key(Key::new(name))
                }
            }
        }
    }
}

/// A key written as in the notation: `x` or `(x, 0, 1)`.
pub fn k(text: &str) -> Key {
    Parser {
        text: text.as_bytes(),
        at: 0,
        extra: &[],
    }
    .key()
}

/// A task written in the notation, with extra functions by name.
pub fn t_with(text: &str, extra: &[(&str, Func)]) -> Task {
    let mut parser = Parser {
        text: text.as_bytes(),
        at: 0,
        extra,
    };
    let arg = parser.arg();
    assert_eq!(parser.peek(), None, "trailing text in {text:?}");
    match arg {
        Arg::Literal(value) => Task::value(value),
        Arg::Key(key) => Task::alias(key),
        Arg::List(items) => Task::call(&func("list"), [Arg::List(items)]),
        Arg::Call(call) => Task::from_body(TaskBody::Call(*call)),
        Arg::Fused(_) => unreachable!("the notation has no fused arguments"),
    }
}

/// A task written in the notation.
pub fn t(text: &str) -> Task {
    t_with(text, &[])
}

/// A graph of tasks written in the notation.
pub fn g(tasks: &[(&str, &str)]) -> Graph {
    g_with(tasks, &[])
}

/// A graph of tasks written in the notation, with extra functions.
pub fn g_with(tasks: &[(&str, &str)], extra: &[(&str, Func)]) -> Graph {
    Graph::from_tasks(
        tasks
            .iter()
            .map(|(key, task)| (k(key), t_with(task, extra))),
    )
    .unwrap()
}

/// The keys of a graph, sorted, as text.
pub fn keys_of(graph: &Graph) -> Vec<String> {
    let mut keys: Vec<String> = graph.keys().map(Key::to_string).collect();
    keys.sort();
    keys
}

/// Graphs are equal when they have the same keys, each with the same task
/// (fused arguments equal the calls they hold).
#[track_caller]
pub fn assert_same(actual: &Graph, expected: &Graph) {
    assert_eq!(
        keys_of(actual),
        keys_of(expected),
        "different keys; got {actual:?}"
    );
    for (key, task) in expected.iter() {
        let got = actual.get(key).unwrap();
        assert!(got.same_as(task), "{key}: expected {task}, got {got}");
    }
}

/// The value of every key of `fused` that `original` has too is the same
/// in both: what Dask's `with_deps` consistency stands for here.
#[track_caller]
pub fn assert_computes_the_same(original: &Graph, fused: &Graph) {
    fused.validate().unwrap();
    let keys: Vec<Key> = original
        .keys()
        .filter(|k| fused.contains_key(k))
        .cloned()
        .collect();
    let number = |v: &Value| {
        v.downcast_ref::<i64>()
            .map(|x| vec![*x])
            .or_else(|_| v.downcast_ref::<Vec<i64>>().cloned())
            .unwrap()
    };
    let before: Vec<Vec<i64>> = reference::get(original, &keys)
        .unwrap()
        .iter()
        .map(number)
        .collect();
    let after: Vec<Vec<i64>> = reference::get(fused, &keys)
        .unwrap()
        .iter()
        .map(number)
        .collect();
    assert_eq!(before, after, "fusing changed the values of {keys:?}");
}

/// Dask's `fuse(d, ave_width=..., rename_keys=...) == with_deps(expected)`.
#[track_caller]
pub fn check(d: &Graph, ave_width: f64, rename_keys: bool, expected: &Graph) {
    let options = FuseOptions::new()
        .ave_width(ave_width)
        .rename_keys(rename_keys);
    let fused = fuse(d, &[], &options).unwrap();
    assert_same(&fused, expected);
    assert_computes_the_same(d, &fused);
}

/// Dask's `fuse2`: `fuse_linear`, and with `rename_keys=False` also `fuse`
/// (which must agree), with `keys` protected (`None`: Dask's `keys=None`).
#[track_caller]
pub fn fuse2(d: &Graph, keys: Option<&[&str]>, rename_keys: bool, expected: &Graph) {
    let keys: Option<Vec<Key>> = keys.map(|ks| ks.iter().map(|s| k(s)).collect());
    let linear = fuse_linear_with(d, keys.as_deref(), rename_keys).unwrap();
    assert_same(&linear, expected);
    assert_computes_the_same(d, &linear);
    if !rename_keys {
        let width = fuse(d, keys.as_deref().unwrap_or_default(), &FuseOptions::new()).unwrap();
        assert_same(&width, expected);
    }
}
