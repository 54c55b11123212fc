//! Procedural macros for Barrow: `#[barrow::task]` registers a function at
//! compile time under a stable name.
//!
//! Use them through `barrow` (`#[barrow::task]`) or `barrow-core`
//! (`#[barrow_core::task]`); the two entry points differ only in the path
//! the generated code uses to reach Barrow.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, ItemFn, Lit, LitStr, ReturnType, Token, Type, parse_macro_input};

/// Registers a function under `module::path::name` for crates using the
/// `barrow` facade. See `barrow_core::task` for the full description.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, quote!(::barrow::__private))
}

/// Registers a function under `module::path::name`, for crates using
/// `barrow-core` directly (re-exported as `barrow_core::task`).
///
/// The function keeps working as a plain Rust function; next to it, a
/// module of the same name holds `NAME` (the registered name) and `func()`
/// (a `Func` handle to put in tasks). A function returning `Result` fails
/// its task with the error. `#[task(name = "custom.name")]` picks the name.
/// The example lives on `barrow_core::task`, where it runs as a doctest.
#[proc_macro_attribute]
pub fn core_task(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, quote!(::barrow_core::__private))
}

struct Args {
    name: Option<LitStr>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Args> {
        let mut name = None;
        while !input.is_empty() {
            let ident: syn::Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            match (ident.to_string().as_str(), value) {
                (
                    "name",
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }),
                ) => name = Some(s),
                (other, _) => {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("unknown option `{other}`; the only option is name = \"...\""),
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(Args { name })
    }
}

fn expand(attr: TokenStream, item: TokenStream, private: TokenStream2) -> TokenStream {
    let args = parse_macro_input!(attr as Args);
    let function = parse_macro_input!(item as ItemFn);
    match generate(args, function, private) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn generate(args: Args, function: ItemFn, private: TokenStream2) -> syn::Result<TokenStream2> {
    let sig = &function.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "#[barrow::task] functions cannot be generic: register one function per type",
        ));
    }
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            asyncness,
            "#[barrow::task] functions cannot be async",
        ));
    }
    if let Some(receiver) = sig.receiver() {
        return Err(syn::Error::new_spanned(
            receiver,
            "#[barrow::task] goes on free functions, not methods",
        ));
    }
    let ident = &sig.ident;
    let vis = &function.vis;
    let name = match &args.name {
        Some(name) => quote!(#name),
        None => quote!(::core::module_path!()),
    };
    let constructor = if returns_result(&sig.output) {
        quote!(try_new)
    } else {
        quote!(new)
    };
    let make = format_ident!("__barrow_make_{}", ident);
    let doc = format!("The Barrow registration of [`{ident}`](fn@super::{ident}).");
    Ok(quote! {
        #function

        #[doc = #doc]
        #[allow(non_snake_case, reason = "named after the function it registers")]
        #vis mod #ident {
            /// The name this function is registered under.
            pub const NAME: &str = #name;

            /// A handle to the function, to put in tasks.
            pub fn func() -> #private::Func {
                #private::Func::#constructor(NAME, super::#ident)
            }

            #[doc(hidden)]
            fn #make() -> #private::Func {
                func()
            }

            #private::inventory::submit! {
                #private::StaticFunction { name: NAME, make: #make }
            }
        }
    })
}

/// Whether the declared return type is spelled `Result<...>` (any path).
fn returns_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Result"),
            _ => false,
        },
    }
}
