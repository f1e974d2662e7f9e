//! Why a metric, dimension or setting was refused.

use std::fmt;
use std::str::FromStr;

use super::Unit;

/// A metric, dimension, metadata key or setting that CloudWatch would not accept, refused at the
/// call that made it, so nothing reaches the log that CloudWatch would drop without a word.
///
/// New variants may be added in minor releases.
#[derive(Debug)]
#[non_exhaustive]
pub enum MetricsError {
    /// A namespace, metric name, dimension name or value, or metadata key breaks CloudWatch's
    /// rules for it; `what` says which and `problem` what is wrong.
    InvalidName {
        /// `"namespace"`, `"metric name"`, `"dimension name"`, `"dimension value"` or
        /// `"metadata key"`.
        what: &'static str,
        /// The name as given.
        name: String,
        /// What CloudWatch requires that it lacks.
        problem: &'static str,
    },
    /// A metric value that is not a finite number within CloudWatch's range (±2^360).
    InvalidValue {
        /// The metric.
        name: String,
        /// The value given.
        value: f64,
    },
    /// A metric recorded again with another unit or resolution than the first time in the same
    /// document.
    Conflict {
        /// The metric.
        name: String,
        /// The unit and whether high resolution, the first time.
        first: (Unit, bool),
        /// The unit and whether high resolution, this time.
        now: (Unit, bool),
    },
    /// The name is already used in the document by a metric, a dimension or metadata.
    NameInUse {
        /// The name.
        name: String,
        /// What already has it: `"metric"`, `"dimension"` or `"metadata key"`.
        by: &'static str,
    },
    /// A 31st dimension: a document's metrics share one dimension set of at most 30.
    TooManyDimensions {
        /// The dimension that did not fit.
        name: String,
    },
    /// The cold-start metric is on with 30 default dimensions: its document adds
    /// `function_name`, a 31st, and CloudWatch would drop it.
    ColdStartTooWide,
    /// A metadata value that does not serialize as JSON.
    Metadata {
        /// The key.
        key: String,
        /// What serde_json said.
        source: serde_json::Error,
    },
    /// No namespace: neither [`configure`](super::configure) was called nor
    /// `POWERTOOLS_METRICS_NAMESPACE` set.
    NoNamespace,
    /// [`configure`](super::configure) was called a second time.
    AlreadyConfigured,
    /// A unit name that is not one of CloudWatch's.
    UnknownUnit(String),
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsError::InvalidName {
                what,
                name,
                problem,
            } => write!(f, "the {what} {name:?} is not valid: {problem}"),
            MetricsError::InvalidValue { name, value } => write!(
                f,
                "the metric `{name}` cannot take the value {value}: CloudWatch accepts finite \
                 numbers between -2^360 and 2^360 only"
            ),
            MetricsError::Conflict { name, first, now } => write!(
                f,
                "the metric `{name}` was recorded as {} and now as {}; a metric has one unit and \
                 resolution per document, so give the other one its own name",
                describe(*first),
                describe(*now)
            ),
            MetricsError::NameInUse { name, by } => write!(
                f,
                "`{name}` is already a {by} in this invocation's metrics document; metrics, \
                 dimensions and metadata share one JSON object, so each needs its own name"
            ),
            MetricsError::TooManyDimensions { name } => write!(
                f,
                "the dimension `{name}` would be the 31st: CloudWatch allows at most 30 per \
                 metric; use `metrics::single` for a metric that needs other dimensions"
            ),
            MetricsError::ColdStartTooWide => f.write_str(
                "the ColdStart metric carries the default dimensions and `function_name`, and \
                 with 30 default dimensions that is 31, one more than CloudWatch allows: drop a \
                 default dimension, or turn the cold-start metric off",
            ),
            MetricsError::Metadata { key, source } => write!(
                f,
                "the metadata `{key}` does not serialize as JSON: {source}"
            ),
            MetricsError::NoNamespace => f.write_str(
                "metrics have no namespace: call `lamina::metrics::configure` in `init`, or set \
                 POWERTOOLS_METRICS_NAMESPACE",
            ),
            MetricsError::AlreadyConfigured => f.write_str(
                "`lamina::metrics::configure` was already called (or a metric was recorded \
                 before it, which configured metrics from the environment); call it once, in \
                 `init`, before recording",
            ),
            MetricsError::UnknownUnit(unit) => {
                write!(f, "`{unit}` is not a CloudWatch unit; use one of ")?;
                for (i, unit) in Unit::all().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(unit.as_str())?;
                }
                Ok(())
            }
        }
    }
}

fn describe((unit, high_resolution): (Unit, bool)) -> String {
    if high_resolution {
        format!("{unit} at high resolution")
    } else {
        unit.to_string()
    }
}

impl std::error::Error for MetricsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MetricsError::Metadata { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl FromStr for Unit {
    type Err = MetricsError;

    /// Reads CloudWatch's spelling, exactly (`"Count/Second"`, not `"count per second"`).
    fn from_str(s: &str) -> Result<Unit, MetricsError> {
        Unit::all()
            .find(|unit| unit.as_str() == s)
            .ok_or_else(|| MetricsError::UnknownUnit(s.to_owned()))
    }
}
