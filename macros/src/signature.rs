//! Checks the annotated function's signature and picks out the types to check.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{FnArg, ReturnType, Type};

use crate::options::Options;

const FORMS: &str = "`(event: E, ctx: lamina::Context)`, or `(event: E, ctx: lamina::Context, state: &S)` with `init = ...`";

/// The parts of a valid handler the expansion needs.
pub(crate) struct HandlerFn<'a> {
    pub(crate) name: &'a syn::Ident,
    pub(crate) event: &'a Type,
    pub(crate) context: &'a Type,
    /// `S` of the `state: &S` argument, when there is one.
    pub(crate) state: Option<&'a Type>,
    pub(crate) output: &'a Type,
    /// `R` and `E` when the return type is spelled `Result<R, E>`.
    pub(crate) result_parts: Option<(&'a Type, Option<&'a Type>)>,
}

impl<'a> HandlerFn<'a> {
    pub(crate) fn parse(function: &'a syn::ItemFn, options: &Options) -> syn::Result<Self> {
        let sig = &function.sig;
        let name = &sig.ident;
        if sig.asyncness.is_none() {
            return Err(syn::Error::new_spanned(
                sig.fn_token,
                format!("a lamina handler must be `async`: write `async fn {name}`"),
            ));
        }
        if name == "main" {
            return Err(syn::Error::new_spanned(
                name,
                "a lamina handler cannot be called `main`: #[lamina::handler] generates `main` itself; rename the handler (`handle`, say)",
            ));
        }
        if let Some(constness) = &sig.constness {
            return Err(syn::Error::new_spanned(
                constness,
                "a lamina handler cannot be `const`: remove `const`",
            ));
        }
        if let Some(unsafety) = &sig.unsafety {
            return Err(syn::Error::new_spanned(
                unsafety,
                "a lamina handler cannot be `unsafe`: remove `unsafe`, and wrap the code that needs it in an `unsafe` block",
            ));
        }
        if let Some(abi) = &sig.abi {
            return Err(syn::Error::new_spanned(
                abi,
                "a lamina handler cannot have an `extern` ABI: remove it; lamina calls the handler as a Rust `async fn`",
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            return Err(syn::Error::new_spanned(
                &sig.generics,
                "a lamina handler cannot be generic: name its concrete event and response types",
            ));
        }
        if let Some(variadic) = &sig.variadic {
            return Err(syn::Error::new_spanned(
                variadic,
                format!("a lamina handler cannot be variadic: it takes {FORMS}"),
            ));
        }

        let mut types = Vec::with_capacity(3);
        for arg in &sig.inputs {
            match arg {
                FnArg::Receiver(receiver) => {
                    return Err(syn::Error::new_spanned(
                        receiver,
                        "a lamina handler is a free function, not a method: take state with `init = ...` and `state: &S` instead of `self`",
                    ));
                }
                FnArg::Typed(typed) => {
                    // The expansion names each argument's type, and `impl Trait` can't be named.
                    if mentions_impl_trait(&typed.ty) {
                        return Err(syn::Error::new_spanned(
                            &typed.ty,
                            "a lamina handler cannot take `impl Trait`: name a concrete type",
                        ));
                    }
                    types.push(typed);
                }
            }
        }
        let (event, context, state) = match types.as_slice() {
            [] => {
                return Err(syn::Error::new(
                    sig.paren_token.span.join(),
                    format!("a lamina handler takes {FORMS}; this one takes no arguments"),
                ));
            }
            [event] => {
                return Err(syn::Error::new_spanned(
                    event,
                    format!("a lamina handler also takes the invocation's context: write {FORMS}"),
                ));
            }
            [event, context] => {
                if let Some((_, init_key)) = &options.init {
                    return Err(syn::Error::new(
                        *init_key,
                        format!(
                            "`init` builds state, but `{name}` takes no state argument: add `state: &S` as the third argument, or remove `init`"
                        ),
                    ));
                }
                (event, context, None)
            }
            [event, context, state] => {
                if options.init.is_none() {
                    return Err(syn::Error::new_spanned(
                        state,
                        "a state argument needs a function that builds the state once: write `#[lamina::handler(init = build_state)]` with `async fn build_state() -> Result<State, lamina::Error>`",
                    ));
                }
                let state = match &*state.ty {
                    Type::Reference(r) if r.mutability.is_some() => {
                        return Err(syn::Error::new_spanned(
                            r.mutability,
                            "the state is shared by every invocation, so it is borrowed as `&S`, not `&mut S`; put what changes behind a `Mutex` or an atomic",
                        ));
                    }
                    Type::Reference(r) if r.lifetime.is_some() => {
                        return Err(syn::Error::new_spanned(
                            &r.lifetime,
                            "write the state argument as `&S`, without a lifetime",
                        ));
                    }
                    Type::Reference(r) => &*r.elem,
                    other => {
                        return Err(syn::Error::new_spanned(
                            other,
                            "the state argument must be a shared reference, `&S`: the state is built once by `init` and borrowed by every invocation",
                        ));
                    }
                };
                (event, context, Some(state))
            }
            [_, _, _, extra, ..] => {
                return Err(syn::Error::new_spanned(
                    extra,
                    format!("too many arguments: a lamina handler takes {FORMS}"),
                ));
            }
        };

        let output = match &sig.output {
            ReturnType::Type(_, ty) => &**ty,
            ReturnType::Default => {
                return Err(syn::Error::new(
                    sig.paren_token.span.close(),
                    "a lamina handler returns its response or an error: add `-> Result<Response, lamina::Error>`",
                ));
            }
        };

        Ok(HandlerFn {
            name,
            event: &event.ty,
            context: &context.ty,
            state,
            output,
            result_parts: result_parts(output),
        })
    }
}

/// `R` and `E` from a return type written `Result<R, E>` (or `Result<R>` of some alias).
fn result_parts(output: &Type) -> Option<(&Type, Option<&Type>)> {
    let Type::Path(path) = output else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let response = types.next()?;
    Some((response, types.next()))
}

/// Whether `ty` has an `impl Trait` anywhere in it, which no turbofish can name.
pub(crate) fn mentions_impl_trait(ty: &Type) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => ident == "impl",
            TokenTree::Group(group) => scan(group.stream()),
            _ => false,
        })
    }
    scan(ty.to_token_stream())
}
