//! [`LogLayer`]: lamina's lines as a `tracing_subscriber` layer, for functions that build their
//! own subscriber.

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::line::{Fields, Visitor};
use super::sink;

/// lamina's log lines as a [`tracing_subscriber::Layer`]: the same JSON or text lines, request
/// ids and per-invocation buffering as lamina's own subscriber, composable with other layers on
/// a [`tracing_subscriber::Registry`]. [`layer`](super::layer) makes one with the level Lambda's
/// settings choose as its own filter, so other layers still see every level.
#[derive(Debug, Clone, Default)]
pub struct LogLayer {
    _private: (),
}

/// A span's fields, kept in the registry's extensions.
struct SpanFields(Fields);

impl<S> tracing_subscriber::Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut Visitor::new(&mut fields, None));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        values.record(&mut Visitor::new(&mut fields, None));
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            match extensions.get_mut::<SpanFields>() {
                Some(existing) => existing.0.append(&fields),
                None => extensions.insert(SpanFields(fields)),
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        let mut message = String::new();
        event.record(&mut Visitor::new(&mut fields, Some(&mut message)));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    fields.extend_missing(&span_fields.0);
                }
            }
        }
        sink::emit(*event.metadata().level(), &message, &fields);
    }
}
