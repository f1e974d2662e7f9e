//! The deadline guard: with `LAMINA_DEADLINE_MARGIN_MS=N`, a handler still running `N` ms before
//! the invocation's deadline is cancelled and the invocation fails with
//! [`Error::Timeout`](crate::Error::Timeout).
//!
//! Without it, a handler that runs out of time is stopped by Lambda ("Task timed out"), and the
//! lines and X-Ray subsegments it had not yet written go with it. With it, lamina drops the
//! handler's future at the margin, so its scope ends as after any error: the invocation's log
//! lines are written, its subsegments sent, and the caller gets an error saying how long the
//! handler ran. The margin is the time lamina needs to do that; 200 to 500 ms is plenty.
//!
//! Cancelling means dropping the future at its next `.await`: a handler that computes for seconds
//! without awaiting is not interrupted (nothing safe can stop a thread), and work it started
//! elsewhere (a spawned task, a request already sent) goes on. Unset, the guard costs nothing: no
//! timer is armed.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::error::{ConfigError, Error, TimeoutError};

/// The variable that turns the guard on.
pub(crate) const MARGIN_VAR: &str = "LAMINA_DEADLINE_MARGIN_MS";

/// The guard's setting, read once in INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeadlineGuard {
    margin: Option<Duration>,
}

impl DeadlineGuard {
    /// Reads `LAMINA_DEADLINE_MARGIN_MS`: unset or empty is off; anything but a whole number of
    /// milliseconds is an init error.
    pub(crate) fn from_env() -> Result<Self, Error> {
        Self::from_var(|k| std::env::var(k).ok())
    }

    fn from_var(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let Some(value) = var(MARGIN_VAR).filter(|v| !v.trim().is_empty()) else {
            return Ok(DeadlineGuard { margin: None });
        };
        let ms = value.trim().parse::<u64>().map_err(|_| {
            Error::Config(ConfigError::malformed(
                MARGIN_VAR,
                &value,
                "a whole number of milliseconds (e.g. 300)",
            ))
        })?;
        Ok(DeadlineGuard {
            margin: Some(Duration::from_millis(ms)),
        })
    }

    /// Whether the guard is on (see `TaskRuntime::run_invocation`).
    pub(crate) fn is_on(self) -> bool {
        self.margin.is_some()
    }

    /// Runs `invocation`, cancelling it `margin` before `context`'s deadline when the guard is on.
    pub(crate) async fn run<F: Future>(
        self,
        context: &Context,
        invocation: F,
    ) -> Result<F::Output, Error> {
        let Some(margin) = self.margin else {
            return Ok(invocation.await);
        };
        let started = Instant::now();
        let budget = context.remaining().saturating_sub(margin);
        match tokio::time::timeout(budget, invocation).await {
            Ok(output) => Ok(output),
            Err(_) => Err(Error::Timeout(TimeoutError::new(margin, started.elapsed()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<DeadlineGuard, Error> {
        let value = value.to_owned();
        DeadlineGuard::from_var(move |k| (k == MARGIN_VAR).then(|| value.clone()))
    }

    #[test]
    fn the_margin_is_off_unless_set_and_must_be_milliseconds() {
        assert_eq!(parse("").unwrap().margin, None);
        assert_eq!(
            parse(" 300 ").unwrap().margin,
            Some(Duration::from_millis(300))
        );
        for bad in ["-1", "0.5s", "soon"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.error_type(), "Runtime.InvalidConfig");
            assert!(err.message().contains(MARGIN_VAR), "{}", err.message());
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_handler_past_the_margin_is_cancelled_with_a_timeout_error() {
        let context = crate::testing::context()
            .timeout(Duration::from_millis(400))
            .build();
        let guard = parse("300").unwrap();
        let slow = guard.run(&context, async {
            tokio::time::sleep(Duration::from_secs(5)).await
        });
        let err = block_on(slow).unwrap_err();
        let Error::Timeout(timeout) = &err else {
            panic!("not a timeout: {err:?}")
        };
        assert_eq!(timeout.margin(), Duration::from_millis(300));
        assert!(
            timeout.ran() < Duration::from_secs(2),
            "{:?}",
            timeout.ran()
        );
        assert_eq!(err.error_type(), "Runtime.HandlerTimeout");
        assert!(
            err.message().contains("LAMINA_DEADLINE_MARGIN_MS=300"),
            "{}",
            err.message()
        );

        let quick = guard.run(&context, async { 7 });
        assert_eq!(block_on(quick).unwrap(), 7);
        let off = parse("").unwrap();
        assert_eq!(block_on(off.run(&context, async { 8 })).unwrap(), 8);
    }
}
