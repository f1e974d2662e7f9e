//! The generated code: the user's function unchanged; a hidden type implementing
//! `lamina::__private::Function` whose `with` hands the function to `lamina::__private::handler`
//! with every type spelled out in the user's own tokens; and the two ways in: `main` (bin mode)
//! and the `lamina_handler_abi` symbol (layer mode, when the crate is built as a cdylib).
//!
//! `handler` carries all the requirements on a handler as bounds on its type parameters, and
//! rustc reports an unmet bound on the turbofish argument for that parameter. Each argument here
//! is either the user's type, re-emitted with its span, or a `_` given the span of the part of
//! the signature it stands for, so every "not `Deserialize`", "not a `Result`" or "not
//! `lamina::Context`" lands on the user's own token, once.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

use crate::options::Options;
use crate::signature::{HandlerFn, mentions_impl_trait};

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
    let output = handler.output;
    // Where to blame an unmet bound on a part of the return type that is not written out, as in
    // `-> Out` or `-> io::Result<Out>`: on the type's name.
    let output_span = match output {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map_or(output.span(), |s| s.ident.span()),
        _ => output.span(),
    };
    let (response, error) = match handler.result_parts {
        Some((response, Some(error))) => (named(response), named(error)),
        Some((response, None)) => (named(response), infer(output_span)),
        None => (infer(output_span), infer(output_span)),
    };
    let output = named(output);

    // Whether the handler is an HTTP one is told by its event type; see `__private::Pick`.
    let form = quote! {
        {
            #[allow(unused_imports)]
            use #private::{PickHttp as _, PickJson as _};
            (&&#private::Pick::<#event>::NEW).form()
        }
    };
    let shutdown = match (&options.shutdown, handler.state) {
        (Some(hook), Some(_)) => quote!(#private::Hook(#hook)),
        (Some(hook), None) => quote!(#private::Hook(|_: &'static ()| #hook())),
        (None, _) => quote!(#private::NoShutdown),
    };
    // A hook that breaks a bound is blamed on `shutdown = path`.
    let shutdown_type = match &options.shutdown {
        Some(hook) => infer(hook.segments.last().map_or(hook.span(), |s| s.ident.span())),
        None => quote!(_),
    };
    let build = match (&options.init, handler.state) {
        (Some((init, _)), Some(state)) => {
            // The initializer's type can't be named: blame it on `init = path`.
            let init_type = infer(init.segments.last().map_or(init.span(), |s| s.ident.span()));
            // Whether worker threads may share the state; see `__private::ShareProbe`.
            let share = quote! {
                {
                    #[allow(unused_imports)]
                    use #private::{ProbeNotSync as _, ProbeSync as _};
                    (&&#private::ShareProbe::<#state>::NEW).share()
                }
            };
            quote! {
                #form.handler_with_state::<
                    #state, #init_type, #event, #context, #output, #response, #error, _, _, _, #shutdown_type
                >(#init, #name, #share, #shutdown, sink)
            }
        }
        _ => quote! {
            #form.handler::<#event, #context, #output, #response, #error, _, _, _, #shutdown_type>(
                #name, #shutdown, sink
            )
        },
    };

    quote! {
        #function

        #[doc(hidden)]
        struct __LaminaFunction;

        impl #private::Function for __LaminaFunction {
            fn with<K: #private::Sink>(sink: K) -> K::Output {
                #build
            }
        }

        // Unused when the crate is built as a handler library.
        #[allow(dead_code)]
        fn main() -> ::std::process::ExitCode {
            #private::serve::<__LaminaFunction>()
        }

        /// The entry point the lamina runtime layer looks up in a handler library.
        #[unsafe(no_mangle)]
        pub extern "C" fn lamina_handler_abi() -> *const #krate::abi::FunctionTable {
            #private::export::<__LaminaFunction>()
        }
    }
}

/// `ty` as written, or `_` where it holds an `impl Trait` (legal in an `async fn`'s return type,
/// but not in a turbofish).
fn named(ty: &Type) -> TokenStream {
    if mentions_impl_trait(ty) {
        infer(ty.span())
    } else {
        ty.to_token_stream()
    }
}

/// A `_` for rustc to infer, blamed on `span` if what it infers breaks a bound.
fn infer(span: Span) -> TokenStream {
    quote_spanned!(span=> _)
}
