//! An external extension, its behaviour picked by `EXTENSION_MODE`; it prints a line per event
//! (`invoke <request id> <arn> <trace>`, `shutdown <reason>`) and per telemetry record
//! (`record <type>`), so the tests can see what reached it.
//!
//! Modes: `plain` (the default), `init-error` (its `init` fails), `handler-error` (the handler
//! fails on every `INVOKE`), `stop-on-error` (the same, with `stop_on_error`), `panic` (the
//! handler panics on `INVOKE`), `slow` (300 ms per `INVOKE`), `slow-shutdown` (the `SHUTDOWN`
//! handler never returns), `telemetry` (subscribes to platform and function records), `logs`
//! (subscribes through the Logs API), `invoke-only` (registers for `INVOKE` alone).

use std::io::Write;
use std::time::Duration;

use lamina::Error;
use lamina::extension::{Event, EventKind, Extension, Record, Stream, Subscription, Telemetry};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn on_event(event: Event, mode: &String) -> Result<(), Error> {
    match event {
        Event::Invoke(invoke) => {
            say(&format!(
                "invoke {} {} {}",
                invoke.request_id(),
                invoke.invoked_function_arn(),
                invoke.trace_id().unwrap_or("-")
            ));
            match mode.as_str() {
                "handler-error" | "stop-on-error" => {
                    return Err(Error::new(
                        "ForwardFailed",
                        "the collector refused the batch",
                    ));
                }
                "panic" => panic!("the forwarder's buffer is corrupt"),
                "slow" => tokio::time::sleep(Duration::from_millis(300)).await,
                _ => {}
            }
        }
        Event::Shutdown(shutdown) => {
            say(&format!("shutdown {}", shutdown.reason()));
            if mode == "slow-shutdown" {
                std::future::pending::<()>().await;
            }
        }
        _ => {}
    }
    Ok(())
}

async fn on_batch(batch: Vec<Telemetry>, _mode: &String) -> Result<(), Error> {
    for item in batch {
        let line = match item.record {
            Record::Report(report) => format!("record report {}", report.request_id),
            Record::Function(line) => format!("record function {}", line.message().unwrap_or("")),
            Record::Unknown { kind, .. } => format!("record unknown {kind}"),
            other => format!("record {other:?}"),
        };
        say(&line);
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mode = std::env::var("EXTENSION_MODE").unwrap_or_else(|_| "plain".to_owned());
    let init_mode = mode.clone();
    let mut extension = Extension::with_init(move |registration| async move {
        say(&format!(
            "registered {} {} {}",
            registration.function_name(),
            registration.account_id().unwrap_or("-"),
            registration.extension_id()
        ));
        if init_mode == "init-error" {
            return Err(Error::new("ConfigMissing", "FORWARD_URL is not set"));
        }
        Ok(init_mode)
    });
    match mode.as_str() {
        "stop-on-error" => extension = extension.stop_on_error(),
        "telemetry" => {
            let subscription = Subscription::telemetry(&[Stream::Platform, Stream::Function])
                .buffering(1000, 262_144, Duration::from_millis(25));
            extension = extension.telemetry(subscription, on_batch);
        }
        "logs" => {
            extension = extension.telemetry(Subscription::logs(&[Stream::Platform]), on_batch)
        }
        "invoke-only" => extension = extension.events(&[EventKind::Invoke]),
        _ => {}
    }
    extension.run(on_event).await
}
