//! CloudWatch's rules for namespaces, names and values, checked where a name enters so the
//! document is never one CloudWatch drops.
//!
//! From the CloudWatch API reference: a namespace is 1–255 ASCII characters from
//! `0-9A-Za-z . - _ / # :` and space, not only whitespace, and not starting with `AWS/` (reserved
//! for AWS services); a metric name is 1–255 characters, not only whitespace; a dimension name is
//! 1–255 ASCII characters, not only whitespace, not starting with `:`, without control characters;
//! a dimension value the same at up to 1,024 characters (a leading `:` allowed). Metric values are
//! finite numbers within ±2^360 (`PutMetricData`'s `Value`).

use super::MetricsError;

/// 2^360: CloudWatch refuses values beyond ±2^360 and nonzero magnitudes below 2^-360.
const LIMIT: f64 = f64::from_bits((1023 + 360) << 52);

fn invalid(what: &'static str, name: &str, problem: &'static str) -> MetricsError {
    MetricsError::InvalidName {
        what,
        name: name.to_owned(),
        problem,
    }
}

fn blank(text: &str) -> bool {
    text.chars().all(char::is_whitespace)
}

pub(crate) fn namespace(name: &str) -> Result<(), MetricsError> {
    const WHAT: &str = "namespace";
    if name.is_empty() || name.len() > 255 {
        return Err(invalid(WHAT, name, "it must be 1 to 255 characters long"));
    }
    if blank(name) {
        return Err(invalid(
            WHAT,
            name,
            "it must have a character other than space",
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || " ._-/#:".contains(c);
    if !name.chars().all(allowed) {
        return Err(invalid(
            WHAT,
            name,
            "it may hold only ASCII letters, digits, spaces and . - _ / # :",
        ));
    }
    if name.starts_with("AWS/") {
        return Err(invalid(
            WHAT,
            name,
            "namespaces starting with `AWS/` are reserved for AWS services",
        ));
    }
    Ok(())
}

pub(crate) fn metric(name: &str) -> Result<(), MetricsError> {
    const WHAT: &str = "metric name";
    if name.is_empty() || name.chars().count() > 255 {
        return Err(invalid(WHAT, name, "it must be 1 to 255 characters long"));
    }
    if blank(name) {
        return Err(invalid(
            WHAT,
            name,
            "it must have a character other than whitespace",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(WHAT, name, "it must not hold control characters"));
    }
    reserved(WHAT, name)
}

pub(crate) fn dimension(name: &str, value: &str) -> Result<(), MetricsError> {
    ascii_text("dimension name", name, 255)?;
    if name.starts_with(':') {
        return Err(invalid(
            "dimension name",
            name,
            "it must not start with `:`",
        ));
    }
    reserved("dimension name", name)?;
    ascii_text("dimension value", value, 1024)
}

pub(crate) fn metadata_key(key: &str) -> Result<(), MetricsError> {
    if key.is_empty() {
        return Err(invalid("metadata key", key, "it must not be empty"));
    }
    reserved("metadata key", key)
}

fn ascii_text(what: &'static str, text: &str, max: usize) -> Result<(), MetricsError> {
    if text.is_empty() || text.len() > max {
        return Err(invalid(
            what,
            text,
            if max == 255 {
                "it must be 1 to 255 characters long"
            } else {
                "it must be 1 to 1024 characters long"
            },
        ));
    }
    if !text.is_ascii() {
        return Err(invalid(what, text, "it must be ASCII"));
    }
    if text.chars().any(|c| c.is_ascii_control()) {
        return Err(invalid(what, text, "it must not hold control characters"));
    }
    if blank(text) {
        return Err(invalid(
            what,
            text,
            "it must have a character other than whitespace",
        ));
    }
    Ok(())
}

/// `_aws` is the document's metadata object.
fn reserved(what: &'static str, name: &str) -> Result<(), MetricsError> {
    if name == "_aws" {
        return Err(invalid(
            what,
            name,
            "`_aws` holds the document's own metadata in EMF",
        ));
    }
    Ok(())
}

pub(crate) fn value(name: &str, value: f64) -> Result<(), MetricsError> {
    let magnitude = value.abs();
    if !value.is_finite() || magnitude > LIMIT || (magnitude != 0.0 && magnitude < 1.0 / LIMIT) {
        return Err(MetricsError::InvalidValue {
            name: name.to_owned(),
            value,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_two_to_the_360() {
        assert_eq!(LIMIT, 2f64.powi(360));
    }

    #[test]
    fn namespaces() {
        assert!(namespace("Shop/Orders-1_a.b#c:d e").is_ok());
        for (bad, problem) in [
            ("", "it must be 1 to 255 characters long"),
            ("   ", "it must have a character other than space"),
            (
                "Shop!",
                "it may hold only ASCII letters, digits, spaces and . - _ / # :",
            ),
            (
                "Café",
                "it may hold only ASCII letters, digits, spaces and . - _ / # :",
            ),
            (
                "AWS/Lambda",
                "namespaces starting with `AWS/` are reserved for AWS services",
            ),
        ] {
            let err = namespace(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("the namespace {bad:?} is not valid: {problem}")
            );
        }
        assert!(namespace(&"n".repeat(255)).is_ok());
        assert!(namespace(&"n".repeat(256)).is_err());
    }

    #[test]
    fn metric_names() {
        assert!(metric("Orders placed (€)").is_ok());
        assert!(metric(&"é".repeat(255)).is_ok());
        assert!(metric(&"é".repeat(256)).is_err());
        assert!(metric(" \t").is_err());
        assert!(metric("a\nb").is_err());
        assert_eq!(
            metric("_aws").unwrap_err().to_string(),
            "the metric name \"_aws\" is not valid: `_aws` holds the document's own metadata in EMF"
        );
    }

    #[test]
    fn dimensions() {
        assert!(dimension("Stage", ":prod").is_ok());
        assert_eq!(
            dimension(":Stage", "prod").unwrap_err().to_string(),
            "the dimension name \":Stage\" is not valid: it must not start with `:`"
        );
        assert_eq!(
            dimension("Stage", "prød").unwrap_err().to_string(),
            "the dimension value \"prød\" is not valid: it must be ASCII"
        );
        assert!(dimension("Stage", "").is_err());
        assert!(dimension("Stage", " ").is_err());
        assert!(dimension("Sta\u{7}ge", "x").is_err());
        assert!(dimension("Stage", &"v".repeat(1024)).is_ok());
        assert!(dimension("Stage", &"v".repeat(1025)).is_err());
        assert!(dimension(&"d".repeat(256), "v").is_err());
    }

    #[test]
    fn values() {
        for good in [0.0, -0.0, 1.5, -1e100, 2f64.powi(360), 2f64.powi(-360)] {
            assert!(value("m", good).is_ok(), "{good}");
        }
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e109,
            2f64.powi(-361),
        ] {
            assert!(value("m", bad).is_err(), "{bad}");
        }
        assert_eq!(
            value("Latency", f64::NAN).unwrap_err().to_string(),
            "the metric `Latency` cannot take the value NaN: CloudWatch accepts finite numbers \
             between -2^360 and 2^360 only"
        );
    }
}
