//! A check of one log line against CloudWatch's embedded metric format specification, written
//! from the AWS documentation ("Specification: Embedded metric format", CloudWatch User Guide)
//! and the CloudWatch API's limits on names and values. Shared by lamina's unit tests (through
//! `#[path]`) and the end-to-end tests, so both hold every document to the same rules.

use serde_json::{Map, Value};

/// CloudWatch's units (`StandardUnit`).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A log event's largest size, which an EMF document shares.
const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Checks one log line; `Ok` with the parsed document, or the first rule it breaks.
pub fn check(line: &str) -> Result<Value, String> {
    if line.len() > MAX_EVENT_BYTES {
        return Err(format!(
            "{} bytes: over the 256 KB log event limit",
            line.len()
        ));
    }
    // The log event must be one JSON object with nothing before or after it.
    let document: Value =
        serde_json::from_str(line).map_err(|e| format!("not one JSON object: {e}"))?;
    let root = document.as_object().ok_or("the root is not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no `_aws` metadata object")?;
    only(aws, &["Timestamp", "CloudWatchMetrics"], "_aws")?;
    let timestamp = aws.get("Timestamp").ok_or("`_aws.Timestamp` is missing")?;
    if timestamp.as_u64().is_none() {
        return Err(format!(
            "`_aws.Timestamp` must be milliseconds since the epoch, not {timestamp}"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("`_aws.CloudWatchMetrics` is not an array")?;
    if directives.is_empty() {
        return Err("`_aws.CloudWatchMetrics` is empty".into());
    }
    for directive in directives {
        directive_ok(root, directive)?;
    }
    Ok(document)
}

fn directive_ok(root: &Map<String, Value>, directive: &Value) -> Result<(), String> {
    let directive = directive
        .as_object()
        .ok_or("a MetricDirective is not an object")?;
    only(
        directive,
        &["Namespace", "Dimensions", "Metrics"],
        "MetricDirective",
    )?;
    let namespace = directive
        .get("Namespace")
        .and_then(Value::as_str)
        .ok_or("`Namespace` is missing or not a string")?;
    namespace_ok(namespace)?;
    let sets = directive
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or("`Dimensions` is missing or not an array")?;
    let mut dimension_names = Vec::new();
    for set in sets {
        let set = set.as_array().ok_or("a DimensionSet is not an array")?;
        if set.len() > 30 {
            return Err(format!(
                "a DimensionSet has {} dimensions; at most 30",
                set.len()
            ));
        }
        for name in set {
            let name = name.as_str().ok_or("a dimension name is not a string")?;
            ascii_ok("dimension name", name, 255)?;
            if name.starts_with(':') {
                return Err(format!("dimension name {name:?} starts with `:`"));
            }
            let value = root
                .get(name)
                .ok_or_else(|| format!("dimension {name:?} has no member in the root"))?;
            let value = value
                .as_str()
                .ok_or_else(|| format!("dimension {name:?} is not a string: {value}"))?;
            ascii_ok("dimension value", value, 1024)?;
            dimension_names.push(name);
        }
    }
    let metrics = directive
        .get("Metrics")
        .and_then(Value::as_array)
        .ok_or("`Metrics` is missing or not an array")?;
    if metrics.len() > 100 {
        return Err(format!("{} MetricDefinitions; at most 100", metrics.len()));
    }
    for metric in metrics {
        let metric = metric
            .as_object()
            .ok_or("a MetricDefinition is not an object")?;
        only(
            metric,
            &["Name", "Unit", "StorageResolution"],
            "MetricDefinition",
        )?;
        let name = metric
            .get("Name")
            .and_then(Value::as_str)
            .ok_or("a MetricDefinition's `Name` is missing or not a string")?;
        if name.is_empty() || name.chars().count() > 255 || name.trim().is_empty() {
            return Err(format!(
                "metric name {name:?} is not 1-255 non-blank characters"
            ));
        }
        if dimension_names.contains(&name) {
            return Err(format!("{name:?} is both a metric and a dimension"));
        }
        if let Some(unit) = metric.get("Unit") {
            let unit = unit.as_str().ok_or("a `Unit` is not a string")?;
            if !UNITS.contains(&unit) {
                return Err(format!("{unit:?} is not a CloudWatch unit"));
            }
        }
        if let Some(resolution) = metric.get("StorageResolution") {
            if resolution.as_u64() != Some(1) && resolution.as_u64() != Some(60) {
                return Err(format!(
                    "`StorageResolution` {resolution} is neither 1 nor 60"
                ));
            }
        }
        let value = root
            .get(name)
            .ok_or_else(|| format!("metric {name:?} has no member in the root"))?;
        match value {
            Value::Number(_) => {}
            Value::Array(values) => {
                if values.is_empty() || values.len() > 100 {
                    return Err(format!(
                        "metric {name:?} has {} values; 1 to 100",
                        values.len()
                    ));
                }
                if !values.iter().all(Value::is_number) {
                    return Err(format!("metric {name:?} has a value that is not a number"));
                }
            }
            other => return Err(format!("metric {name:?} is not a number: {other}")),
        }
    }
    Ok(())
}

/// Objects of the specification "MUST NOT contain any additional members".
fn only(object: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(format!(
            "{what} has a member the specification does not define: {extra:?}"
        )),
        None => Ok(()),
    }
}

fn namespace_ok(namespace: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || " ._-/#:".contains(c);
    if namespace.is_empty()
        || namespace.len() > 255
        || namespace.trim().is_empty()
        || !namespace.chars().all(allowed)
        || namespace.starts_with("AWS/")
    {
        return Err(format!("namespace {namespace:?} breaks CloudWatch's rules"));
    }
    Ok(())
}

fn ascii_ok(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.is_empty()
        || text.len() > max
        || !text.is_ascii()
        || text.chars().any(|c| c.is_ascii_control())
        || text.trim().is_empty()
    {
        return Err(format!(
            "{what} {text:?} is not 1-{max} printable ASCII characters"
        ));
    }
    Ok(())
}

/// The lines of `output` that are EMF documents (start with `{"_aws"`), each checked.
///
/// # Panics
/// When one breaks the specification.
pub fn documents(output: &str) -> Vec<Value> {
    output
        .lines()
        .filter(|line| line.starts_with("{\"_aws\""))
        .map(|line| check(line).unwrap_or_else(|e| panic!("invalid EMF document: {e}\n{line}")))
        .collect()
}

/// The value(s) a document gives `metric`, as a list.
pub fn values(document: &Value, metric: &str) -> Vec<f64> {
    match &document[metric] {
        Value::Array(values) => values.iter().filter_map(Value::as_f64).collect(),
        value => value.as_f64().into_iter().collect(),
    }
}

/// The names of the metrics a document defines.
pub fn metric_names(document: &Value) -> Vec<String> {
    document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .map(|metrics| {
            metrics
                .iter()
                .filter_map(|m| m["Name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The dimension names of a document's (first) dimension set.
pub fn dimension_names(document: &Value) -> Vec<String> {
    document["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"_aws":{"Timestamp":1764400000000,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["service"]],"Metrics":[{"Name":"Orders","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},"service":"orders","Orders":1,"Latency":[3.5,4]}"#;

    /// The checker itself refuses what the specification forbids.
    #[test]
    fn each_rule_can_fail() {
        assert!(check(GOOD).is_ok());
        for (broken, expected) in [
            (
                GOOD.replace(r#","Orders":1"#, ""),
                "metric \"Orders\" has no member in the root",
            ),
            (
                GOOD.replace(r#""Count""#, r#""Counts""#),
                "\"Counts\" is not a CloudWatch unit",
            ),
            (
                GOOD.replace(r#""StorageResolution":1"#, r#""StorageResolution":30"#),
                "`StorageResolution` 30 is neither 1 nor 60",
            ),
            (
                GOOD.replace(r#""service":"orders""#, r#""service":1"#),
                "dimension \"service\" is not a string: 1",
            ),
            (
                GOOD.replace("1764400000000", "\"now\""),
                "`_aws.Timestamp` must be milliseconds since the epoch, not \"now\"",
            ),
            (
                GOOD.replace(r#""Namespace":"Shop""#, r#""Namespace":"AWS/Shop""#),
                "namespace \"AWS/Shop\" breaks CloudWatch's rules",
            ),
            (
                GOOD.replace(r#""Orders":1"#, r#""Orders":"1""#),
                "metric \"Orders\" is not a number: \"1\"",
            ),
            (
                GOOD.replace(r#""Unit":"Count"}"#, r#""Unit":"Count","Extra":1}"#),
                "MetricDefinition has a member the specification does not define: \"Extra\"",
            ),
            (format!("{GOOD} "), ""),
            (format!("{GOOD}x"), "not one JSON object"),
        ] {
            let result = check(&broken);
            if expected.is_empty() {
                assert!(result.is_ok(), "{broken}");
            } else {
                let err = result.unwrap_err();
                assert!(err.starts_with(expected), "{err}");
            }
        }
        let dims: Vec<String> = (0..31).map(|i| format!("\"d{i}\"")).collect();
        let members: String = (0..31).map(|i| format!(",\"d{i}\":\"v\"")).collect();
        let wide = format!(
            r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{{"Namespace":"N","Dimensions":[[{}]],"Metrics":[{{"Name":"M"}}]}}]}}{members},"M":1}}"#,
            dims.join(",")
        );
        assert_eq!(
            check(&wide).unwrap_err(),
            "a DimensionSet has 31 dimensions; at most 30"
        );
    }
}
