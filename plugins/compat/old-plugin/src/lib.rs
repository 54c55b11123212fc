//! A plugin built against the frozen `barrow-plugin` 1.0, which predates
//! schedulers: a newer host loads it, runs its function, and reports its
//! schedulers as absent.

use barrow_plugin::{Call, Function, Out, Plugin, Result, export_plugin};

/// Doubles every element of a block or vector of f64.
fn double(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let x = call.numbers::<f64>(0)?;
    let y = match x.kind {
        barrow_plugin::Shape::Array => out.array::<f64>(x.shape)?,
        barrow_plugin::Shape::Vec => out.vec::<f64>(x.data.len())?,
    };
    for (y, x) in y.iter_mut().zip(x.data) {
        *y = 2.0 * x;
    }
    Ok(())
}

static PLUGIN: Plugin = Plugin {
    name: "old-stats",
    version: env!("CARGO_PKG_VERSION"),
    description: "Built against barrow-plugin 1.0.",
    functions: &[Function::new("double", "Doubles every element.", double)],
    ..Plugin::EMPTY
};

export_plugin!(PLUGIN);
