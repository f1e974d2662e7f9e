//! Starts a blocking task in `init` that is still running when the process has to exit, as
//! loading a model with `spawn_blocking` would be. `INIT_FAIL=1` makes `init` fail while the task
//! runs, `INIT_PANIC=1` makes it panic. The task sleeps 60 s, not forever, so a run that hangs on it still ends by itself.

use std::sync::mpsc;
use std::time::Duration;

use lamina::{Context, Error};
use serde_json::Value;

async fn start_loading() -> Result<(), Error> {
    let (started, running) = mpsc::channel();
    tokio::task::spawn_blocking(move || {
        let _ = started.send(());
        std::thread::sleep(Duration::from_secs(60));
    });
    // Only a task that has started is one an exit could wait for: one still queued is dropped.
    running
        .recv()
        .map_err(|_| Error::new("Init.TaskLost", "the blocking task never started"))?;
    if std::env::var_os("INIT_PANIC").is_some() {
        panic!("the model is corrupt");
    }
    if std::env::var_os("INIT_FAIL").is_some() {
        return Err(Error::new(
            "Init.ModelMissing",
            "the model is not in the package",
        ));
    }
    Ok(())
}

#[lamina::handler(init = start_loading)]
async fn blocking_task(event: Value, _ctx: Context, _state: &()) -> Result<Value, Error> {
    Ok(event)
}
