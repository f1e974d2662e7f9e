//! `#[lamina::handler]`. Use it through the `lamina` crate, which documents it.
//!
//! Three stages, as in `thiserror`: parse the attribute and the function ([`options`],
//! [`signature`]), validate while parsing so every mistake is reported on the user's own tokens,
//! then expand ([`expand`]) into glue that calls `lamina::__private` by full path. On any error
//! the function is still emitted unchanged next to the `compile_error!`, so the IDE keeps working
//! and the only error shown is the real one.

mod expand;
mod options;
mod signature;

use proc_macro::TokenStream;

/// Turns an `async fn` into a Lambda function; see `lamina::handler`.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.clone().into();
    let result = options::Options::parse(args.into()).and_then(|options| {
        let function: syn::ItemFn = syn::parse(item).map_err(|e| {
            syn::Error::new(
                e.span(),
                "#[lamina::handler] goes on an `async fn`: `async fn name(event: E, ctx: lamina::Context) -> Result<R, lamina::Error>`",
            )
        })?;
        let handler = signature::HandlerFn::parse(&function, &options)?;
        Ok(expand::expand(&function, &handler, &options))
    });
    match result {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            let mut tokens = item2;
            tokens.extend(err.to_compile_error());
            tokens.into()
        }
    }
}
