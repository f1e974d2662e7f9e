//! `#[lamina::handler]`. Use it through the `lamina` crate, which documents it.
//!
//! Three stages, as in `thiserror`: parse the attribute and the function ([`options`],
//! [`signature`]), validate while parsing so every mistake is reported on the user's own tokens,
//! then expand ([`expand`]) into glue that calls `lamina::__private` by full path. On any error
//! the function is still emitted next to the `compile_error!`, with a stand-in `main`, so the IDE
//! keeps working and the only error shown is the real one.

mod expand;
mod options;
mod signature;

use proc_macro::TokenStream;
use quote::quote;

/// Turns an `async fn` into a Lambda function; see `lamina::handler`.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match try_expand(args.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        Err(err) => fallback(item, &err).into(),
    }
}

fn try_expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let options = options::Options::parse(args)?;
    let function: syn::ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[lamina::handler] goes on an `async fn`: `async fn name(event: E, ctx: lamina::Context) -> Result<R, lamina::Error>`",
        )
    })?;
    let handler = signature::HandlerFn::parse(&function, &options)?;
    Ok(expand::expand(&function, &handler, &options))
}

/// What to emit instead of the expansion when the attribute or the function is wrong.
///
/// The function stays, so its body is still checked and the IDE still knows it. The `main` the
/// expansion would have generated is stood in for by an empty one; without it rustc would add
/// "`main` function not found" to every mistake. (The attribute owns `main` either way: a crate
/// that also wrote one would fail on the expansion too.)
fn fallback(item: proc_macro2::TokenStream, err: &syn::Error) -> proc_macro2::TokenStream {
    let error = err.to_compile_error();
    let stand_in_main = quote!(
        fn main() {}
    );
    let Ok(mut function) = syn::parse2::<syn::ItemFn>(item.clone()) else {
        return quote!(#item #error #stand_in_main);
    };
    if function.sig.receiver().is_some() {
        // A method: the attribute sits in an `impl`, where a `main` would be one more mistake.
        return quote!(#item #error);
    }
    // What the handler may not be, and rustc would reject too, is dropped rather than reported
    // twice: as `main`, rustc rejects an `async fn` with arguments; it rejects `const async fn`
    // and C-variadic arguments on an `async fn` anyway.
    if function.sig.ident == "main" {
        function.sig.ident =
            syn::Ident::new("__lamina_handler_named_main", function.sig.ident.span());
    }
    function.sig.constness = None;
    function.sig.variadic = None;
    quote! {
        #function
        #error
        #stand_in_main
    }
}
