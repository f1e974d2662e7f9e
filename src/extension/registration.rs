//! What Lambda answers a registration with: the function the extension is attached to.

use serde::Deserialize;

/// The function an extension is registered with, from the answer to `register`.
///
/// ```no_run
/// # async fn example() -> Result<(), lamina::Error> {
/// use lamina::extension::{Event, Extension, Registration};
///
/// struct Forwarder { function: String }
///
/// async fn init(registration: Registration) -> Result<Forwarder, lamina::Error> {
///     Ok(Forwarder { function: registration.function_name().to_owned() })
/// }
///
/// async fn on_event(_event: Event, forwarder: &Forwarder) -> Result<(), lamina::Error> {
///     println!("an event for {}", forwarder.function);
///     Ok(())
/// }
///
/// Extension::with_init(init).run(on_event).await
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    #[serde(default)]
    function_name: String,
    #[serde(default)]
    function_version: String,
    #[serde(default)]
    handler: String,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(skip)]
    extension_id: String,
}

impl Registration {
    /// The function's name.
    pub fn function_name(&self) -> &str {
        &self.function_name
    }

    /// The function's version (`$LATEST` or a number).
    pub fn function_version(&self) -> &str {
        &self.function_version
    }

    /// The function's handler setting.
    pub fn handler(&self) -> &str {
        &self.handler
    }

    /// The AWS account the function belongs to (lamina asks for it with
    /// `Lambda-Extension-Accept-Feature: accountId`); `None` where the API does not give it.
    pub fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    /// The identifier Lambda gave the extension (`Lambda-Extension-Identifier`).
    pub fn extension_id(&self) -> &str {
        &self.extension_id
    }

    /// Reads the answer's body; an unreadable one leaves the fields empty, which is no reason
    /// to stop an extension Lambda has registered.
    pub(crate) fn parse(body: &[u8], extension_id: &str) -> Self {
        let mut registration: Registration = serde_json::from_slice(body).unwrap_or_else(|err| {
            tracing::warn!(%err, "the Extensions API's answer to register is unreadable");
            Registration::default()
        });
        registration.extension_id = extension_id.to_owned();
        registration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_names_the_function_and_its_account() {
        let body = br#"{"functionName":"orders","functionVersion":"7","handler":"bootstrap","accountId":"123456789012"}"#;
        let registration = Registration::parse(body, "ext-1");
        assert_eq!(registration.function_name(), "orders");
        assert_eq!(registration.function_version(), "7");
        assert_eq!(registration.handler(), "bootstrap");
        assert_eq!(registration.account_id(), Some("123456789012"));
        assert_eq!(registration.extension_id(), "ext-1");
    }

    #[test]
    fn an_unreadable_answer_leaves_the_fields_empty() {
        let registration = Registration::parse(b"<html>", "ext-2");
        assert_eq!(registration.function_name(), "");
        assert_eq!(registration.account_id(), None);
        assert_eq!(registration.extension_id(), "ext-2");
    }
}
