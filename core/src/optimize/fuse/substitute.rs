//! Replacing the reads of keys in a task by other tasks' bodies (Dask's
//! `subs`), the step every fusion and inlining makes.

use crate::key::{Key, KeyMap};
use crate::task::{Arg, Call, Task, TaskBody};

/// `task` with every read of `key` replaced by `body` (a literal, an alias
/// target, or a nested call).
pub(crate) fn substitute(task: &Task, key: &Key, body: &TaskBody) -> Task {
    substitute_all(task, &[(key, body)])
}

/// Above this many replacements, they are looked up in a map rather than a
/// list.
const LINEAR_LOOKUP: usize = 8;

/// The replacements of one substitution, by key.
enum Lookup<'a> {
    Few(&'a [(&'a Key, &'a TaskBody)]),
    Many(KeyMap<&'a TaskBody>),
}

impl<'a> Lookup<'a> {
    fn new(replacements: &'a [(&'a Key, &'a TaskBody)]) -> Lookup<'a> {
        if replacements.len() <= LINEAR_LOOKUP {
            Lookup::Few(replacements)
        } else {
            Lookup::Many(
                replacements
                    .iter()
                    .map(|&(key, body)| (key.clone(), body))
                    .collect(),
            )
        }
    }

    fn get(&self, key: &Key) -> Option<&'a TaskBody> {
        match self {
            Lookup::Few(list) => list.iter().find(|(k, _)| *k == key).map(|&(_, body)| body),
            Lookup::Many(map) => map.get(key).copied(),
        }
    }
}

/// `task` with every read of each key of `replacements` replaced by its
/// body, in one pass over the task. A replaced call becomes a fused
/// argument that keeps its key, so an error inside it names that task.
pub(crate) fn substitute_all(task: &Task, replacements: &[(&Key, &TaskBody)]) -> Task {
    if replacements.is_empty() {
        return task.clone();
    }
    let lookup = Lookup::new(replacements);
    let new_body = match task.body() {
        TaskBody::Literal(_) => return task.clone(),
        TaskBody::Alias(target) => match lookup.get(target) {
            Some(body) => body.clone(),
            None => return task.clone(),
        },
        TaskBody::Call(call) => TaskBody::Call(substitute_call(call, &lookup)),
    };
    let out = Task::from_body(new_body);
    match task.shared_annotations() {
        Some(annotations) => out.with_annotations(annotations.clone()),
        None => out,
    }
}

fn substitute_call(call: &Call, lookup: &Lookup<'_>) -> Call {
    Call::new(
        call.function(),
        call.args().iter().map(|arg| substitute_arg(arg, lookup)),
    )
}

fn substitute_arg(arg: &Arg, lookup: &Lookup<'_>) -> Arg {
    match arg {
        Arg::Key(k) => match lookup.get(k) {
            Some(TaskBody::Literal(value)) => Arg::Literal(value.clone()),
            Some(TaskBody::Alias(target)) => Arg::Key(target.clone()),
            Some(TaskBody::Call(call)) => Arg::Fused(Box::new((k.clone(), call.clone()))),
            None => arg.clone(),
        },
        Arg::Literal(_) => arg.clone(),
        Arg::List(items) => Arg::List(items.iter().map(|a| substitute_arg(a, lookup)).collect()),
        Arg::Call(call) => Arg::Call(Box::new(substitute_call(call, lookup))),
        Arg::Fused(fused) => Arg::Fused(Box::new((
            fused.0.clone(),
            substitute_call(&fused.1, lookup),
        ))),
    }
}

/// `task` with the read of each key of `replacements` replaced by its body,
/// moved rather than copied: fusing a chain step by step then costs the
/// size of each step, not of everything fused below it. Each key must be
/// read once (a second read of one is left as it is, which the lowering
/// that follows reports as a missing dependency rather than computing
/// anything wrong).
pub(crate) fn substitute_moving(task: &Task, replacements: Vec<(&Key, TaskBody)>) -> Task {
    if replacements.is_empty() {
        return task.clone();
    }
    let index: Option<KeyMap<usize>> = (replacements.len() > LINEAR_LOOKUP).then(|| {
        replacements
            .iter()
            .enumerate()
            .map(|(i, (key, _))| ((*key).clone(), i))
            .collect()
    });
    let mut moving = Moving {
        keys: replacements.iter().map(|(key, _)| *key).collect(),
        bodies: replacements
            .into_iter()
            .map(|(_, body)| Some(body))
            .collect(),
        index,
    };
    let new_body = match task.body() {
        TaskBody::Literal(_) => return task.clone(),
        TaskBody::Alias(target) => match moving.take(target) {
            Some(body) => body,
            None => return task.clone(),
        },
        TaskBody::Call(call) => TaskBody::Call(moving.call(call)),
    };
    let out = Task::from_body(new_body);
    match task.shared_annotations() {
        Some(annotations) => out.with_annotations(annotations.clone()),
        None => out,
    }
}

struct Moving<'a> {
    keys: Vec<&'a Key>,
    bodies: Vec<Option<TaskBody>>,
    index: Option<KeyMap<usize>>,
}

impl Moving<'_> {
    fn take(&mut self, key: &Key) -> Option<TaskBody> {
        let at = match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.keys.iter().position(|k| *k == key),
        }?;
        self.bodies[at].take()
    }

    fn call(&mut self, call: &Call) -> Call {
        let args: Vec<Arg> = call.args().iter().map(|arg| self.arg(arg)).collect();
        Call::new(call.function(), args)
    }

    fn arg(&mut self, arg: &Arg) -> Arg {
        match arg {
            Arg::Key(k) => match self.take(k) {
                Some(TaskBody::Literal(value)) => Arg::Literal(value),
                Some(TaskBody::Alias(target)) => Arg::Key(target),
                Some(TaskBody::Call(call)) => Arg::Fused(Box::new((k.clone(), call))),
                None => arg.clone(),
            },
            Arg::Literal(_) => arg.clone(),
            Arg::List(items) => Arg::List(items.iter().map(|a| self.arg(a)).collect()),
            Arg::Call(call) => Arg::Call(Box::new(self.call(call))),
            Arg::Fused(fused) => Arg::Fused(Box::new((fused.0.clone(), self.call(&fused.1)))),
        }
    }
}

/// How deeply `task` nests calls: 0 for a literal or an alias, 1 for a
/// call of plain arguments, one more per level of nested calls. Running a
/// task recurses this deep.
pub(crate) fn call_depth(task: &Task) -> u32 {
    fn call(c: &Call) -> u32 {
        1 + c.args().iter().map(arg).max().unwrap_or(0)
    }
    fn arg(a: &Arg) -> u32 {
        match a {
            Arg::Literal(_) | Arg::Key(_) => 0,
            Arg::List(items) => items.iter().map(arg).max().unwrap_or(0),
            Arg::Call(c) => call(c),
            Arg::Fused(f) => call(&f.1),
        }
    }
    match task.body() {
        TaskBody::Call(c) => call(c),
        _ => 0,
    }
}
