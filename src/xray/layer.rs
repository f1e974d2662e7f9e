//! A `tracing` layer that records chosen spans as X-Ray subsegments.
//!
//! A span becomes a subsegment when it has a field `xray = true`; its name is the span's name,
//! and its other fields become annotations (strings, numbers and booleans; anything else as its
//! `Debug` text). A field `error` recorded on it marks the subsegment as a fault with that
//! message. Spans nest as subsegments do: an `xray` span inside another is its child; the
//! outermost one is a child of the subsegment in progress on the task that created it (or of the
//! function's segment).
//!
//! One limit: a [`Subsegment`](super::Subsegment) started inside such a span nests under the
//! task's subsegment, not under the span, because a span cannot set the task's state. Use
//! spans or subsegments for one nesting chain, not both.

use std::fmt;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::Subsegment;
use super::scalar::{Scalar, ScalarKind};

/// The field that marks a span for X-Ray.
const MARKER: &str = "xray";

/// Records spans with a field `xray = true` as X-Ray subsegments.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(lamina::xray::XrayLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let span = tracing::info_span!("load order", xray = true, order_id = "o-42");
///     let _entered = span.enter();
///     // ... timed as the subsegment "load order", annotated order_id = "o-42"
/// });
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct XrayLayer {
    _private: (),
}

impl XrayLayer {
    /// The layer.
    pub fn new() -> Self {
        XrayLayer { _private: () }
    }
}

/// The subsegment of an `xray` span, kept in the span's extensions until it closes.
struct SpanSubsegment(Subsegment);

impl<S> tracing_subscriber::Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Cheap refusal first: most spans have no `xray` field at all.
        if attrs.metadata().fields().field(MARKER).is_none() {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if !fields.marked {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let parent = span.scope().skip(1).find_map(|ancestor| {
            ancestor
                .extensions()
                .get::<SpanSubsegment>()
                .map(|s| s.0.child(attrs.metadata().name()))
        });
        let subsegment = parent.unwrap_or_else(|| Subsegment::new(attrs.metadata().name()));
        if !subsegment.is_recording() {
            return;
        }
        fields.apply(&subsegment);
        span.extensions_mut().insert(SpanSubsegment(subsegment));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let extensions = span.extensions();
        if let Some(SpanSubsegment(subsegment)) = extensions.get::<SpanSubsegment>() {
            let mut fields = Fields::default();
            values.record(&mut fields);
            fields.apply(subsegment);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            // Dropping the subsegment ends it.
            drop(span.extensions_mut().remove::<SpanSubsegment>());
        }
    }
}

#[derive(Default)]
struct Fields {
    marked: bool,
    annotations: Vec<(&'static str, Scalar)>,
    error: Option<String>,
}

impl Fields {
    fn apply(self, subsegment: &Subsegment) {
        for (key, value) in self.annotations {
            subsegment.annotate(key, value);
        }
        if let Some(message) = self.error {
            subsegment.fault("Error", &message);
        }
    }

    fn add(&mut self, field: &Field, value: Scalar) {
        match field.name() {
            MARKER => self.marked = value == Scalar::from(true),
            "error" => {
                self.error = Some(match value.0 {
                    ScalarKind::Str(s) => s,
                    ScalarKind::Int(v) => v.to_string(),
                    ScalarKind::UInt(v) => v.to_string(),
                    ScalarKind::Float(v) => v.to_string(),
                    ScalarKind::Bool(v) => v.to_string(),
                });
            }
            name => self.annotations.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.add(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.add(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.add(field, format!("{value:?}").into());
    }
}
