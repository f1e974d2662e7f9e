//! lamina's own `tracing` subscriber: a level filter, the fields of open spans, and one line per
//! event.
//!
//! Why not `tracing_subscriber::fmt` on a `Registry`: setting that up cost ~29,000 of the ~70,000
//! instructions lamina spent before the first `/next` (see the README's Performance section), and a
//! Lambda function has few spans, all of them on one or two threads. Here a span is a slot in a
//! vector behind one mutex, holding its fields already rendered as JSON and its parent's id; the
//! spans a thread has entered are a small per-thread stack. Users who want `tracing_subscriber`'s
//! composable layers get the same lines from [`super::LogLayer`].

use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard};

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::{Interest, Subscriber};
use tracing::{Event, Metadata};
use tracing_core::span::Current;

use super::filter::Directives;
use super::line::{Fields, Visitor};
use super::sink;

pub(crate) struct LaminaSubscriber {
    filter: Directives,
    spans: Mutex<Spans>,
}

#[derive(Default)]
struct Spans {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

struct Slot {
    /// Handles to this span: `Span`s, entries on a thread's stack, and children.
    refs: usize,
    parent: Option<Id>,
    metadata: &'static Metadata<'static>,
    fields: Fields,
}

impl Spans {
    fn get(&self, id: &Id) -> Option<&Slot> {
        let slot = self.slots.get(index(id)?)?;
        (slot.refs > 0).then_some(slot)
    }

    fn get_mut(&mut self, id: &Id) -> Option<&mut Slot> {
        let slot = self.slots.get_mut(index(id)?)?;
        (slot.refs > 0).then_some(slot)
    }

    fn insert(&mut self, slot: Slot) -> Id {
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        Id::from_u64(index as u64 + 1)
    }

    fn add_ref(&mut self, id: &Id) {
        if let Some(slot) = self.get_mut(id) {
            slot.refs += 1;
        }
    }

    /// Drops one handle; frees the span when it was the last, which drops a handle to its
    /// parent in turn. Returns whether `id` closed.
    fn release(&mut self, id: &Id) -> bool {
        let mut next = Some(id.clone());
        let mut closed_first = None;
        while let Some(id) = next.take() {
            let Some(slot) = self.get_mut(&id) else {
                break;
            };
            slot.refs -= 1;
            let closed = slot.refs == 0;
            closed_first.get_or_insert(closed);
            if !closed {
                break;
            }
            slot.fields = Fields::default();
            next = slot.parent.take();
            if let Some(index) = index(&id) {
                self.free.push(index);
            }
        }
        closed_first.unwrap_or(false)
    }
}

fn index(id: &Id) -> Option<usize> {
    usize::try_from(id.into_u64()).ok()?.checked_sub(1)
}

thread_local! {
    /// The spans this thread is in, innermost last.
    static STACK: RefCell<Vec<Id>> = const { RefCell::new(Vec::new()) };
    /// An event's fields and message, reused from line to line.
    static SCRATCH: RefCell<(Fields, String)> = RefCell::new(Default::default());
}

fn current() -> Option<Id> {
    STACK
        .try_with(|stack| stack.borrow().last().cloned())
        .ok()
        .flatten()
}

impl LaminaSubscriber {
    pub(crate) fn new(filter: Directives) -> Self {
        LaminaSubscriber {
            filter,
            spans: Mutex::new(Spans::default()),
        }
    }

    fn spans(&self) -> MutexGuard<'_, Spans> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn line(&self, event: &Event<'_>, fields: &mut Fields, message: &mut String) {
        fields.clear();
        message.clear();
        // User code (`Debug` and `Display` impls) runs here, holding no lock of ours: if it
        // logs, that line is written first, without deadlock.
        event.record(&mut Visitor::new(fields, Some(message)));
        let leaf = if event.is_contextual() {
            current()
        } else {
            event.parent().cloned()
        };
        if let Some(leaf) = leaf {
            let spans = self.spans();
            let mut next = Some(&leaf);
            while let Some(slot) = next.and_then(|id| spans.get(id)) {
                fields.extend_missing(&slot.fields);
                next = slot.parent.as_ref();
            }
        }
        sink::emit(*event.metadata().level(), message, fields);
    }
}

impl Subscriber for LaminaSubscriber {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.filter.interest(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.filter.max_level())
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        attrs.record(&mut Visitor::new(&mut fields, None));
        let parent = if attrs.is_contextual() {
            current()
        } else {
            attrs.parent().cloned()
        };
        let mut spans = self.spans();
        if let Some(parent) = &parent {
            spans.add_ref(parent);
        }
        spans.insert(Slot {
            refs: 1,
            parent,
            metadata: attrs.metadata(),
            fields,
        })
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Fields::default();
        values.record(&mut Visitor::new(&mut fields, None));
        if let Some(slot) = self.spans().get_mut(span) {
            slot.fields.append(&fields);
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let done = SCRATCH.try_with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return false;
            };
            let (fields, message) = &mut *scratch;
            self.line(event, fields, message);
            true
        });
        if done != Ok(true) {
            // Logging from inside a field's `Debug`, or during thread teardown.
            self.line(event, &mut Fields::default(), &mut String::new());
        }
    }

    fn enter(&self, span: &Id) {
        self.spans().add_ref(span);
        let _ = STACK.try_with(|stack| stack.borrow_mut().push(span.clone()));
    }

    fn exit(&self, span: &Id) {
        let _ = STACK.try_with(|stack| {
            let mut stack = stack.borrow_mut();
            if let Some(at) = stack.iter().rposition(|id| id == span) {
                stack.remove(at);
            }
        });
        self.spans().release(span);
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.spans().add_ref(id);
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        self.spans().release(&id)
    }

    fn current_span(&self) -> Current {
        match current() {
            Some(id) => match self.spans().get(&id) {
                Some(slot) => Current::new(id, slot.metadata),
                None => Current::none(),
            },
            None => Current::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_free_their_slot_and_their_parents_when_the_last_handle_goes() {
        let subscriber = LaminaSubscriber::new(Directives::parse(None, None));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("outer", a = 1);
            let inner = tracing::info_span!(parent: &outer, "inner", b = 2);
            let outer_id = outer.id().unwrap();
            drop(outer);
            // `inner` holds its parent.
            tracing::dispatcher::get_default(|d| {
                let s = d.downcast_ref::<LaminaSubscriber>().unwrap();
                assert!(s.spans().get(&outer_id).is_some());
            });
            drop(inner);
            tracing::dispatcher::get_default(|d| {
                let s = d.downcast_ref::<LaminaSubscriber>().unwrap();
                let spans = s.spans();
                assert!(spans.get(&outer_id).is_none());
                assert_eq!(spans.free.len(), 2);
            });
            // Freed slots are reused.
            let again = tracing::info_span!("again");
            assert!(index(&again.id().unwrap()).unwrap() < 2);
        });
    }

    #[test]
    fn entered_spans_stay_alive_and_current() {
        let subscriber = LaminaSubscriber::new(Directives::parse(None, None));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("work", order = 7);
            let id = span.id().unwrap();
            let entered = span.entered();
            assert_eq!(tracing::Span::current().id(), Some(id.clone()));
            let span = entered.exit();
            assert_eq!(tracing::Span::current().id(), None);
            drop(span);
            assert_eq!(current(), None);
        });
    }
}
