//! Recipes: serializable descriptions of partition pipelines.
//!
//! A bag runs its partitions through a chain of closures (the [feed](crate::feed)),
//! which cannot leave the process. Next to it, a bag made only of
//! registered operations keeps a *recipe*: where the elements come from
//! (stored partitions, a range, blocks of text files) and the steps applied
//! since (built-in string steps, `flatten`, `random_sample`, and functions
//! registered by name, on elements or on whole partitions). The recipe is
//! encoded into the parameters of the bag's partition tasks when the graph
//! is built; a worker process decodes it and rebuilds the same feed from
//! the same builders ([`crate::steps`]), so the two cannot drift apart.
//! Locally the recipe is never read: the closures run as they always did.

use std::any::{Any, TypeId};
use std::sync::Arc;

use barrow_core::{Error, ErrorKind, Func, Registry, Result};
use serde::{Deserialize, Serialize};

use crate::feed::{Element, Feed, Lent, stored_feed, stored_lent};
use crate::io::compression::Compression;
use crate::io::text::TextBlock;
use crate::registered::Shippable;
use crate::steps;

/// The element types a recipe can carry: the closed set a worker process
/// knows how to rebuild pipelines for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum ElemType {
    /// `String`.
    Str,
    /// `i64`.
    I64,
    /// `u64`.
    U64,
    /// `f64`.
    F64,
    /// `bool`.
    Bool,
    /// `Vec<String>` (split strings, before `flatten`).
    Strings,
    /// `(String, u64)`: counted strings, from `frequencies`.
    StrCount,
    /// `(i64, u64)`: counted integers.
    I64Count,
    /// `(u64, u64)`: counted unsigned integers.
    U64Count,
}

/// Runs `$body` with `$T` the Rust type of element type `$elem`.
macro_rules! with_elem {
    ($elem:expr, $T:ident => $body:expr) => {
        match $elem {
            $crate::recipe::ElemType::Str => {
                type $T = String;
                $body
            }
            $crate::recipe::ElemType::I64 => {
                type $T = i64;
                $body
            }
            $crate::recipe::ElemType::U64 => {
                type $T = u64;
                $body
            }
            $crate::recipe::ElemType::F64 => {
                type $T = f64;
                $body
            }
            $crate::recipe::ElemType::Bool => {
                type $T = bool;
                $body
            }
            $crate::recipe::ElemType::Strings => {
                type $T = Vec<String>;
                $body
            }
            $crate::recipe::ElemType::StrCount => {
                type $T = (String, u64);
                $body
            }
            $crate::recipe::ElemType::I64Count => {
                type $T = (i64, u64);
                $body
            }
            $crate::recipe::ElemType::U64Count => {
                type $T = (u64, u64);
                $body
            }
        }
    };
}
pub(crate) use with_elem;

impl ElemType {
    /// Every element type.
    pub(crate) const ALL: [ElemType; 9] = [
        ElemType::Str,
        ElemType::I64,
        ElemType::U64,
        ElemType::F64,
        ElemType::Bool,
        ElemType::Strings,
        ElemType::StrCount,
        ElemType::I64Count,
        ElemType::U64Count,
    ];

    /// The element type of `T`, if it is one of the set.
    pub(crate) fn of<T: 'static>() -> Option<ElemType> {
        let id = TypeId::of::<T>();
        ElemType::ALL
            .into_iter()
            .find(|elem| with_elem!(*elem, U => TypeId::of::<U>() == id))
    }

    /// The Rust name of the type, for messages.
    pub(crate) fn rust_name(self) -> &'static str {
        with_elem!(self, T => std::any::type_name::<T>())
    }
}

/// A function registered by name (with its parameters), applied to
/// elements: rebuilt in a worker with [`Registry::global`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FuncRef {
    name: String,
    params: Option<Vec<u8>>,
}

impl FuncRef {
    /// A reference to `func`, when the process-wide registry can rebuild it
    /// in another process (registered by name, with parameters exactly when
    /// its registration takes them); `None` for a closure.
    pub(crate) fn to_registered(func: &Func) -> Option<FuncRef> {
        Registry::global().functions().can_ship(func).ok()?;
        Some(FuncRef {
            name: func.name().to_owned(),
            params: func.params().map(<[u8]>::to_vec),
        })
    }

    /// The function, rebuilt from the process-wide registry.
    fn resolve(&self) -> Result<Func> {
        Registry::global()
            .functions()
            .resolve(&self.name, self.params.as_deref())
    }
}

/// One element-wise step of a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Step {
    /// `split_whitespace`: strings to their words.
    SplitWhitespace,
    /// `to_lowercase` of strings.
    Lowercase,
    /// `to_uppercase` of strings.
    Uppercase,
    /// `trim` of strings.
    Trim,
    /// `split(separator)`: strings to lists of strings.
    Split(String),
    /// `flatten` of lists of strings.
    Flatten,
    /// `random_sample(prob, seed)`, on any element type.
    Sample {
        /// The probability of keeping an element.
        prob: f64,
        /// The seed.
        seed: u64,
    },
    /// `map_func`: a registered function from elements to `out`s.
    Map {
        /// The function.
        func: FuncRef,
        /// The type it returns.
        out: ElemType,
    },
    /// `filter_func`: a registered predicate.
    Filter(FuncRef),
    /// `flat_map_func`: a registered function from elements to lists of
    /// `out`s.
    FlatMap {
        /// The function.
        func: FuncRef,
        /// The type of the elements of the lists it returns.
        out: ElemType,
    },
    /// `map_partitions_func`: a registered function from a whole partition
    /// (a `Vec` of the elements) to the new partition, a list of `out`s.
    /// Last, so the encodings of the steps before it are unchanged.
    MapPartitions {
        /// The function.
        func: FuncRef,
        /// The type of the elements of the list it returns.
        out: ElemType,
    },
}

/// One block of a text file, as a recipe carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockSpec {
    path: String,
    compression: String,
    start: u64,
    end: Option<u64>,
    max_line_length: u64,
}

impl BlockSpec {
    /// The blocks, or `None` if a path is not UTF-8 (a recipe carries
    /// paths as strings).
    pub(crate) fn describe(blocks: &[TextBlock]) -> Option<Vec<BlockSpec>> {
        blocks
            .iter()
            .map(|block| {
                Some(BlockSpec {
                    path: block.path.to_str()?.to_owned(),
                    compression: block.compression.name().to_owned(),
                    start: block.start,
                    end: block.end,
                    max_line_length: block.max_line_length,
                })
            })
            .collect()
    }

    fn block(&self) -> Result<TextBlock> {
        Ok(TextBlock {
            path: self.path.clone().into(),
            compression: self.compression.parse::<Compression>()?,
            start: self.start,
            end: self.end,
            max_line_length: self.max_line_length,
        })
    }
}

/// Where a recipe's elements come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum SourceSpec {
    /// The partition task's first input is a stored `Vec` of this type.
    Stored(ElemType),
    /// `range(n, partitions)`.
    Range {
        /// The numbers `0..n`.
        n: u64,
        /// In this many partitions.
        partitions: u64,
    },
    /// The lines of these blocks, one per partition.
    Text(Vec<BlockSpec>),
}

/// A serializable description of a bag's feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Recipe {
    source: SourceSpec,
    steps: Vec<Step>,
}

impl Recipe {
    /// A recipe reading `source`, with no step yet.
    pub(crate) fn new(source: SourceSpec) -> Arc<Recipe> {
        Arc::new(Recipe {
            source,
            steps: Vec::new(),
        })
    }

    /// The recipe of a bag of stored partitions of `T`s, if `T` is one of
    /// the registered element types.
    pub(crate) fn stored<T: 'static>() -> Option<Arc<Recipe>> {
        ElemType::of::<T>().map(|elem| Recipe::new(SourceSpec::Stored(elem)))
    }

    /// This recipe followed by `step`.
    pub(crate) fn then(&self, step: Step) -> Arc<Recipe> {
        let mut steps = Vec::with_capacity(self.steps.len() + 1);
        steps.extend(self.steps.iter().cloned());
        steps.push(step);
        Arc::new(Recipe {
            source: self.source.clone(),
            steps,
        })
    }

    /// Rebuilds the feed the recipe describes, with the builders the bag
    /// used when it made the original.
    pub(crate) fn build(&self) -> Result<AnyFeed> {
        let mut feed = match &self.source {
            SourceSpec::Stored(elem) => with_elem!(*elem, T => {
                AnyFeed::new(stored_feed::<T>(0)).lending(stored_lent::<T>(0))
            }),
            SourceSpec::Range { n, partitions } => {
                if *partitions == 0 {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "bag recipe: a range in 0 partitions",
                    ));
                }
                AnyFeed::new(steps::range(*n, *partitions))
            }
            SourceSpec::Text(specs) => {
                let blocks = specs
                    .iter()
                    .map(BlockSpec::block)
                    .collect::<Result<Vec<TextBlock>>>()?;
                let blocks: Arc<[TextBlock]> = blocks.into();
                AnyFeed::new(steps::text(blocks.clone())).lending(Some(steps::text_lent(blocks)))
            }
        };
        for step in &self.steps {
            feed = step.apply(feed)?;
        }
        Ok(feed)
    }
}

impl Step {
    fn apply(&self, feed: AnyFeed) -> Result<AnyFeed> {
        Ok(match self {
            Step::SplitWhitespace => {
                let lent = feed.lent.clone().map(steps::split_whitespace_lent);
                AnyFeed::new(steps::split_whitespace(feed.typed()?)).lending(lent)
            }
            Step::Lowercase => AnyFeed::new(steps::lowercase(feed.typed()?)),
            Step::Uppercase => AnyFeed::new(steps::uppercase(feed.typed()?)),
            Step::Trim => AnyFeed::new(steps::trim(feed.typed()?)),
            Step::Split(separator) => AnyFeed::new(steps::split(feed.typed()?, separator)),
            Step::Flatten => AnyFeed::new::<String>(steps::flatten::<Vec<String>>(feed.typed()?)),
            Step::Sample { prob, seed } => with_elem!(feed.elem, T => {
                AnyFeed::new(steps::sample::<T>(feed.typed()?, *prob, *seed))
            }),
            Step::Map { func, out } => {
                let func = func.resolve()?;
                with_elem!(feed.elem, T => with_elem!(*out, U => {
                    AnyFeed::new(steps::map_func::<T, U>(feed.typed()?, func))
                }))
            }
            Step::Filter(func) => {
                let func = func.resolve()?;
                with_elem!(feed.elem, T => {
                    AnyFeed::new(steps::filter_func::<T>(feed.typed()?, func))
                })
            }
            Step::FlatMap { func, out } => {
                let func = func.resolve()?;
                with_elem!(feed.elem, T => with_elem!(*out, U => {
                    AnyFeed::new(steps::flat_map_func::<T, U>(feed.typed()?, func))
                }))
            }
            Step::MapPartitions { func, out } => {
                let func = func.resolve()?;
                with_elem!(feed.elem, T => with_elem!(*out, U => {
                    AnyFeed::new(steps::map_partitions_func::<T, U>(feed.typed()?, func))
                }))
            }
        })
    }
}

/// A feed of one of the registered element types, its type known at run
/// time.
pub(crate) struct AnyFeed {
    elem: ElemType,
    feed: Box<dyn Any + Send + Sync>,
    /// The same elements lent, where the bag's own feed had them lent.
    lent: Option<Lent>,
}

impl AnyFeed {
    fn new<T: Shippable>(feed: Feed<T>) -> AnyFeed {
        AnyFeed {
            elem: T::TYPE,
            feed: Box::new(feed),
            lent: None,
        }
    }

    /// The same feed with its elements also lent by `lent`.
    fn lending(self, lent: Option<Lent>) -> AnyFeed {
        AnyFeed { lent, ..self }
    }

    /// The elements lent, where they can be (see [`Lent`]).
    pub(crate) fn lent(&self) -> Option<Lent> {
        self.lent.clone()
    }

    /// The type of the elements.
    pub(crate) fn elem(&self) -> ElemType {
        self.elem
    }

    /// The feed, as a feed of `T`s; an error if its elements are not `T`s
    /// (a recipe whose steps do not fit together: damaged or forged).
    pub(crate) fn typed<T: Element>(self) -> Result<Feed<T>> {
        let elem = self.elem;
        self.feed
            .downcast::<Feed<T>>()
            .map(|feed| *feed)
            .map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "bag recipe: a step expecting elements of type {} follows one giving {}",
                        std::any::type_name::<T>(),
                        elem.rust_name()
                    ),
                )
            })
    }
}

/// What a partition task does with its elements: store them, or start a
/// registered reduction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum End {
    /// Collect them into the stored partition (`compute`, and what
    /// whole-partition operations read).
    Store,
    /// `count`.
    Count,
    /// `sum`.
    Sum,
    /// `min`.
    Min,
    /// `max`.
    Max,
    /// `mean`.
    Mean,
    /// `var(ddof)`.
    Var(u32),
    /// `std(ddof)`.
    Std(u32),
    /// `any`.
    Any,
    /// `all`.
    All,
    /// `frequencies`.
    Frequencies,
    /// `topk(k)` (and `nlargest`).
    TopK(u64),
    /// `most_common(k)`.
    MostCommon(u64),
    /// `distinct`.
    Distinct,
}

impl End {
    /// Every end, with sample parameters: for tests that walk them all.
    #[cfg(test)]
    pub(crate) const ALL: [End; 14] = [
        End::Store,
        End::Count,
        End::Sum,
        End::Min,
        End::Max,
        End::Mean,
        End::Var(1),
        End::Std(0),
        End::Any,
        End::All,
        End::Frequencies,
        End::TopK(3),
        End::MostCommon(2),
        End::Distinct,
    ];
}
