//! An external extension that turns every invocation's `platform.report` into CloudWatch
//! metrics: `Duration`, `BilledDuration`, `MaxMemoryUsed` (and `InitDuration` after a cold
//! start), written to stdout as embedded metric format documents, which CloudWatch Logs makes
//! metrics of, with no API call and no SDK.
//!
//! Build it as an extension and ship it in a layer (`extensions/report-forwarder` in the zip):
//!
//! ```text
//! cargo lambda build --release --extension --example report-forwarder
//! ```

use lamina::Error;
use lamina::extension::{
    Event, Extension, Record, Registration, Report, Stream, Subscription, Telemetry,
};
use lamina::metrics::{self, Config, Unit};

/// What every handler call borrows: the function the reports are about.
struct Forwarder {
    function: String,
}

/// Runs once, after Lambda has registered the extension.
async fn init(registration: Registration) -> Result<Forwarder, Error> {
    let namespace =
        std::env::var("REPORT_NAMESPACE").unwrap_or_else(|_| "LambdaReports".to_owned());
    metrics::configure(Config::new(&namespace)?)?;
    Ok(Forwarder {
        function: registration.function_name().to_owned(),
    })
}

async fn on_event(event: Event, forwarder: &Forwarder) -> Result<(), Error> {
    if let Event::Shutdown(shutdown) = event {
        tracing::info!(
            function = forwarder.function,
            "report forwarder shutting down: {}",
            shutdown.reason()
        );
    }
    Ok(())
}

async fn on_batch(batch: Vec<Telemetry>, forwarder: &Forwarder) -> Result<(), Error> {
    for item in batch {
        if let Record::Report(report) = item.record {
            forward(&report, &forwarder.function)?;
        }
    }
    Ok(())
}

/// One metric document per measurement, each with the function's name as its dimension.
fn forward(report: &Report, function: &str) -> Result<(), Error> {
    let dimensions = [("FunctionName", function)];
    let metrics = &report.metrics;
    metrics::single(
        "Duration",
        Unit::Milliseconds,
        metrics.duration_ms,
        &dimensions,
    )?;
    if let Some(billed) = metrics.billed_duration_ms {
        metrics::single(
            "BilledDuration",
            Unit::Milliseconds,
            billed as f64,
            &dimensions,
        )?;
    }
    if let Some(used) = metrics.max_memory_used_mb {
        metrics::single("MaxMemoryUsed", Unit::Megabytes, used as f64, &dimensions)?;
    }
    if let Some(init) = metrics.init_duration_ms {
        metrics::single("InitDuration", Unit::Milliseconds, init, &dimensions)?;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    Extension::with_init(init)
        .telemetry(Subscription::telemetry(&[Stream::Platform]), on_batch)
        .run(on_event)
        .await
}
