//! The generated code: the user's function unchanged, plus a `main` that type-checks its parts
//! at their own spans and hands it to `lamina::__private`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::options::Options;
use crate::signature::HandlerFn;

pub(crate) fn expand(
    function: &syn::ItemFn,
    handler: &HandlerFn<'_>,
    options: &Options,
) -> TokenStream {
    let krate = &options.krate;
    let name = handler.name;
    let private = quote!(#krate::__private);

    let event = handler.event;
    let context = handler.context;
    let mut checks = vec![
        quote_spanned!(event.span()=> #private::assert_event::<#event>();),
        quote_spanned!(context.span()=> #private::assert_context::<#context>();),
    ];
    match handler.result_parts {
        Some((response, error)) => {
            checks
                .push(quote_spanned!(response.span()=> #private::assert_response::<#response>();));
            if let Some(error) = error {
                checks.push(quote_spanned!(error.span()=> #private::assert_error::<#error>();));
            }
        }
        None => {
            let output = handler.output;
            checks.push(quote_spanned!(output.span()=> #private::assert_outcome::<#output>();));
        }
    }

    let run = match &options.init {
        Some((init, _)) => quote_spanned!(name.span()=> #private::run_with_state(#init, #name)),
        None => quote_spanned!(name.span()=> #private::run(#name)),
    };

    quote! {
        #function

        fn main() -> ::std::process::ExitCode {
            #(#checks)*
            #run
        }
    }
}
