//! The Extensions API (`/2020-01-01/extension`), blocking, on one keep-alive connection:
//! register, wait for the next event, report an error, subscribe to telemetry or logs.
//!
//! Graceful shutdown's internal extension and [`crate::extension`] both speak through it.

use std::time::Duration;

use crate::base::endpoint::Endpoint;
use crate::base::http1::{HttpClient, text};
use crate::error::{ApiError, ApiErrorKind, Error};
use crate::runtime::api::{excerpt, io_error};

pub(crate) const REGISTER: &str = "/2020-01-01/extension/register";
pub(crate) const EVENT_NEXT: &str = "/2020-01-01/extension/event/next";
pub(crate) const INIT_ERROR: &str = "/2020-01-01/extension/init/error";
pub(crate) const EXIT_ERROR: &str = "/2020-01-01/extension/exit/error";
pub(crate) const TELEMETRY: &str = "/2022-07-01/telemetry";
pub(crate) const LOGS: &str = "/2020-08-15/logs";

const ID_HEADER: &str = "Lambda-Extension-Identifier";
const NAME_HEADER: &str = "Lambda-Extension-Name";
const ACCEPT_FEATURE_HEADER: &str = "Lambda-Extension-Accept-Feature";
const ERROR_TYPE_HEADER: &str = "Lambda-Extension-Function-Error-Type";

/// An extension Lambda has registered: its identifier and the connection it talks on.
pub(crate) struct ExtensionApi {
    client: HttpClient,
    id: String,
}

/// Where an extension reports the error it stops on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
    /// `init/error`: before the extension's first `event/next`.
    Init,
    /// `exit/error`: after it.
    Exit,
}

impl ExtensionApi {
    /// `POST /extension/register` for `events` (`"INVOKE"`, `"SHUTDOWN"`); returns the
    /// registered extension and the answer's body (the function's name, version and handler,
    /// and its account id when `account_id` asked for it).
    ///
    /// `timeout` bounds each read and write of the connection, which later `event/next`
    /// long-polls share: `None` for an extension that waits for events.
    pub(crate) fn register(
        endpoint: Endpoint,
        name: &str,
        events: &[&str],
        account_id: bool,
        timeout: Option<Duration>,
    ) -> Result<(Self, Vec<u8>), Error> {
        let mut client = HttpClient::new(endpoint, timeout);
        let mut body = String::with_capacity(40);
        body.push_str(r#"{"events":["#);
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push('"');
            body.push_str(event);
            body.push('"');
        }
        body.push_str("]}");
        let mut headers = vec![(NAME_HEADER, name)];
        if account_id {
            headers.push((ACCEPT_FEATURE_HEADER, "accountId"));
        }
        let response = client
            .request("POST", REGISTER, &headers, body.as_bytes())
            .map_err(|e| api(io_error(REGISTER, e)))?;
        if response.status != 200 {
            return Err(status(REGISTER, response.status, response.body));
        }
        let id = response
            .headers()
            .find(|(name, _)| name.eq_ignore_ascii_case(ID_HEADER))
            .and_then(|(_, value)| text(value))
            .map(str::to_owned)
            .ok_or_else(|| protocol(REGISTER, format!("the answer has no `{ID_HEADER}`")))?;
        let body = response.body.to_vec();
        Ok((ExtensionApi { client, id }, body))
    }

    /// The same extension on a fresh connection whose reads wait without limit, for
    /// `event/next` after a registration made with a timeout.
    pub(crate) fn without_timeout(self) -> Self {
        let endpoint = self.client.endpoint().clone();
        ExtensionApi {
            client: HttpClient::new(endpoint, None),
            id: self.id,
        }
    }

    /// The identifier Lambda gave the extension (`Lambda-Extension-Identifier`).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// `GET /extension/event/next`: waits for the next event and returns its JSON body.
    /// The first call tells Lambda the extension has finished its init.
    pub(crate) fn next(&mut self) -> Result<Vec<u8>, Error> {
        let response = self
            .client
            .request("GET", EVENT_NEXT, &[(ID_HEADER, &self.id)], b"")
            .map_err(|e| api(io_error(EVENT_NEXT, e)))?;
        if response.status != 200 {
            return Err(status(EVENT_NEXT, response.status, response.body));
        }
        Ok(response.body.to_vec())
    }

    /// Reports the error the extension stops on: `error_type` goes in
    /// `Lambda-Extension-Function-Error-Type` (Lambda's form: `Extension.Reason`), `body` is the
    /// `{"errorMessage", "errorType"}` document.
    pub(crate) fn report(
        &mut self,
        stop: Stop,
        error_type: &str,
        body: &[u8],
    ) -> Result<(), Error> {
        let path = match stop {
            Stop::Init => INIT_ERROR,
            Stop::Exit => EXIT_ERROR,
        };
        let headers = [
            (ID_HEADER, self.id.as_str()),
            (ERROR_TYPE_HEADER, error_type),
        ];
        let response = self
            .client
            .request("POST", path, &headers, body)
            .map_err(|e| api(io_error(path, e)))?;
        match response.status {
            200..=299 => Ok(()),
            code => Err(status(path, code, response.body)),
        }
    }

    /// `PUT` a subscription (`TELEMETRY` or `LOGS`); the status and body of the answer.
    pub(crate) fn subscribe(&mut self, path: &str, body: &[u8]) -> Result<(u16, String), Error> {
        let response = self
            .client
            .request("PUT", path, &[(ID_HEADER, &self.id)], body)
            .map_err(|e| api(io_error(path, e)))?;
        Ok((response.status, excerpt(response.body)))
    }
}

fn api(err: ApiError) -> Error {
    Error::RuntimeApi(err)
}

fn status(path: &str, status: u16, body: &[u8]) -> Error {
    api(ApiError::new(ApiErrorKind::Status {
        path: path.to_owned(),
        status,
        body: excerpt(body),
    }))
}

pub(crate) fn protocol(path: &str, problem: String) -> Error {
    api(ApiError::new(ApiErrorKind::Protocol {
        path: path.to_owned(),
        problem,
    }))
}
