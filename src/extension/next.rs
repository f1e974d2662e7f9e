//! The thread that waits in `event/next`, so the runtime's tasks (and the telemetry handler)
//! run meanwhile: one thread for the extension's life, woken for each wait, where a blocking
//! task per event would start a thread of tokio's almost every time.

use std::sync::mpsc as std_mpsc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::error::Error;
use crate::runtime::extension_api::ExtensionApi;

/// The waiting thread, which owns the extension's connection.
pub(crate) struct NextThread {
    asks: std_mpsc::Sender<()>,
    answers: mpsc::Receiver<Result<Vec<u8>, Error>>,
    thread: Option<JoinHandle<ExtensionApi>>,
}

impl NextThread {
    /// Starts the thread; it waits for the first event at once.
    pub(crate) fn start(mut api: ExtensionApi) -> Result<Self, Error> {
        let (asks, asked) = std_mpsc::channel::<()>();
        let (answer, answers) = mpsc::channel(1);
        let thread = std::thread::Builder::new()
            .name("lamina-extension-next".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    if answer.blocking_send(api.next()).is_err() {
                        break;
                    }
                }
                api
            })
            .map_err(|err| Error::with_type("Extension.NoThread", err))?;
        let next = NextThread {
            asks,
            answers,
            thread: Some(thread),
        };
        next.ask();
        Ok(next)
    }

    /// Asks for the next event (after the handler has finished with the last one).
    pub(crate) fn ask(&self) {
        // Sending fails only once the thread has ended, which `poll_answer` then reports.
        let _ = self.asks.send(());
    }

    /// The body of the event asked for, once it has come.
    pub(crate) fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>, Error>> {
        self.answers.poll_recv(cx).map(|answer| {
            answer.unwrap_or_else(|| {
                Err(Error::new(
                    "Extension.EventNext",
                    "the thread waiting for the next event ended",
                ))
            })
        })
    }

    /// The connection back, for an error report; only between an answer and the next ask.
    pub(crate) fn into_api(mut self) -> Option<ExtensionApi> {
        let thread = self.thread.take()?;
        drop(self);
        thread.join().ok()
    }
}
