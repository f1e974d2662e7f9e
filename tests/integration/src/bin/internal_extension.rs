//! A function with an internal extension: `init` starts it (registered for `INVOKE`), and it
//! prints `internal saw <request id>` for each invocation. With `INTERNAL_FAIL=1` its `init`
//! fails, which fails the function's.

use lamina::extension::{Event, Extension};
use lamina::{Context, Error};

async fn on_event(event: Event, _: &()) -> Result<(), Error> {
    if let Event::Invoke(invoke) = event {
        println!("internal saw {}", invoke.request_id());
    }
    Ok(())
}

/// What the function keeps: the id Lambda gave its internal extension.
struct Audit {
    extension_id: String,
}

async fn init() -> Result<Audit, Error> {
    let extension = if std::env::var_os("INTERNAL_FAIL").is_some() {
        Extension::with_init(|_| async { Err(Error::new("AuditInit", "no audit sink")) })
    } else {
        Extension::new()
    };
    let registration = extension.name("audit").spawn(on_event)?;
    Ok(Audit {
        extension_id: registration.extension_id().to_owned(),
    })
}

#[lamina::handler(init = init)]
async fn handle(_event: serde_json::Value, _ctx: Context, audit: &Audit) -> Result<String, Error> {
    Ok(audit.extension_id.clone())
}
