//! The attribute's arguments: `init = path`, `shutdown = path` and `crate = "path"`.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;

const ACCEPTED: &str = "the accepted options are `init = path_to_async_fn`, `shutdown = path_to_async_fn` and `crate = \"path::to::lamina\"`";

pub(crate) struct Options {
    /// The state initializer, with the span of the `init` key for errors about it.
    pub(crate) init: Option<(syn::Path, Span)>,
    /// The shutdown hook.
    pub(crate) shutdown: Option<syn::Path>,
    /// Where the `lamina` crate is, for crates that re-export it.
    pub(crate) krate: syn::Path,
}

impl Options {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Self> {
        let mut init = None;
        let mut shutdown = None;
        let mut krate: Option<syn::Path> = None;
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("init") {
                if init.is_some() {
                    return Err(meta.error("`init` is set multiple times; give it once"));
                }
                let key_span = meta.path.span();
                let path = function_path(
                    &meta,
                    "init",
                    "build_state",
                    "an `async fn` returning `Result<State, Error>`",
                )?;
                init = Some((path, key_span));
                Ok(())
            } else if meta.path.is_ident("shutdown") {
                if shutdown.is_some() {
                    return Err(meta.error("`shutdown` is set multiple times; give it once"));
                }
                shutdown = Some(function_path(
                    &meta,
                    "shutdown",
                    "on_shutdown",
                    "an `async fn(&State)` (or `async fn()` without state)",
                )?);
                Ok(())
            } else if meta.path.is_ident("crate") {
                if krate.is_some() {
                    return Err(meta.error("`crate` is set multiple times; give it once"));
                }
                let value = meta.value().map_err(|_| {
                    meta.error(
                        "`crate` needs the path to lamina: write `crate = \"my_sdk::lamina\"`",
                    )
                })?;
                if !value.peek(syn::LitStr) {
                    let path: syn::Path = value.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`crate` takes a path in quotes: `crate = \"my_sdk::lamina\"`",
                        )
                    })?;
                    let written = quote::ToTokens::to_token_stream(&path)
                        .to_string()
                        .replace(' ', "");
                    return Err(syn::Error::new_spanned(
                        path,
                        format!("`crate` takes a path in quotes: write `crate = \"{written}\"`"),
                    ));
                }
                let text: syn::LitStr = value.parse()?;
                krate = Some(text.parse().map_err(|_| {
                    syn::Error::new(
                        text.span(),
                        format!(
                            "`{}` is not a path: `crate` takes the path lamina is reachable at, as in `crate = \"my_sdk::lamina\"`",
                            text.value()
                        ),
                    )
                })?);
                Ok(())
            } else {
                let name = meta
                    .path
                    .get_ident()
                    .map_or_else(|| "this".to_owned(), |i| format!("`{i}`"));
                Err(meta.error(format!("unknown option {name}; {ACCEPTED}")))
            }
        });
        syn::parse::Parser::parse2(parser, args)?;
        Ok(Options {
            init,
            shutdown,
            krate: krate.unwrap_or_else(|| syn::parse_quote!(::lamina)),
        })
    }
}

/// The value of `key = path`, with a message that shows `example` when it is anything else.
fn function_path(
    meta: &syn::meta::ParseNestedMeta<'_>,
    key: &str,
    example: &str,
    what: &str,
) -> syn::Result<syn::Path> {
    let value = meta.value().map_err(|_| {
        meta.error(format!(
            "`{key}` needs a function: write `{key} = {example}`"
        ))
    })?;
    if value.peek(syn::LitStr) {
        let text: syn::LitStr = value.parse()?;
        return Err(syn::Error::new(
            text.span(),
            format!(
                "`{key}` takes a path, not a string: write `{key} = {}`, without quotes",
                text.value()
            ),
        ));
    }
    value.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("`{key}` takes the path of {what}: write `{key} = {example}`"),
        )
    })
}
