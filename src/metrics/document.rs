//! One invocation's metrics, and how they become EMF documents.
//!
//! A document's metrics share one dimension set, so the invocation's metrics go into as few
//! documents as the limits allow: at most 100 metric definitions per document and 100 values per
//! metric (CloudWatch's EMF limits). Beyond either, the metrics are split across documents that
//! carry the same dimensions and metadata: the first 100 values of each metric, then the next
//! 100, each round in groups of 100 metrics.

use std::fmt::Write;

use super::config::{Config, MAX_DIMENSIONS};
use super::{MetricsError, Unit, names};
use crate::base::json_escape::{escape_into as escape_json_into, quoted_into as quoted_json_into};

/// Metric definitions per document.
pub(crate) const MAX_METRICS: usize = 100;
/// Values per metric per document.
pub(crate) const MAX_VALUES: usize = 100;

/// What one invocation recorded, waiting to be written with its log lines.
#[derive(Default)]
pub(crate) struct Pending {
    metrics: Vec<Metric>,
    dimensions: Vec<(String, String)>,
    /// Keys and their values as JSON text.
    metadata: Vec<(String, String)>,
    singles: Vec<Single>,
}

struct Metric {
    name: String,
    unit: Unit,
    high_resolution: bool,
    values: Vec<f64>,
}

/// A metric in a document of its own, with its own dimensions.
struct Single {
    metric: Metric,
    dimensions: Vec<(String, String)>,
}

impl Pending {
    /// Whether anything would be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.singles.is_empty()
    }

    /// What already uses `name` in the invocation's document, if anything does.
    fn used_by(&self, config: &Config, name: &str) -> Option<&'static str> {
        if self.metrics.iter().any(|m| m.name == name) {
            Some("metric")
        } else if self.dimension_names(config).any(|n| n == name) {
            Some("dimension")
        } else if self.metadata.iter().any(|(k, _)| k == name) {
            Some("metadata key")
        } else {
            None
        }
    }

    fn dimension_names<'a>(&'a self, config: &'a Config) -> impl Iterator<Item = &'a str> {
        self.dimensions(config).map(|(n, _)| n)
    }

    /// The default dimensions the invocation has not overridden, then the invocation's own.
    fn dimensions<'a>(&'a self, config: &'a Config) -> impl Iterator<Item = (&'a str, &'a str)> {
        let overridden = |name: &str| self.dimensions.iter().any(|(n, _)| n == name);
        config
            .dimensions
            .iter()
            .filter(move |(n, _)| !overridden(n))
            .chain(&self.dimensions)
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub(crate) fn add(
        &mut self,
        config: &Config,
        name: &str,
        unit: Unit,
        high_resolution: bool,
        value: f64,
    ) -> Result<(), MetricsError> {
        names::metric(name)?;
        names::value(name, value)?;
        if let Some(metric) = self.metrics.iter_mut().find(|m| m.name == name) {
            if (metric.unit, metric.high_resolution) != (unit, high_resolution) {
                return Err(MetricsError::Conflict {
                    name: name.to_owned(),
                    first: (metric.unit, metric.high_resolution),
                    now: (unit, high_resolution),
                });
            }
            metric.values.push(value);
            return Ok(());
        }
        if let Some(by) = self.used_by(config, name) {
            return Err(MetricsError::NameInUse {
                name: name.to_owned(),
                by,
            });
        }
        self.metrics.push(Metric {
            name: name.to_owned(),
            unit,
            high_resolution,
            values: vec![value],
        });
        Ok(())
    }

    pub(crate) fn add_dimension(
        &mut self,
        config: &Config,
        name: &str,
        value: &str,
    ) -> Result<(), MetricsError> {
        names::dimension(name, value)?;
        if let Some(existing) = self.dimensions.iter_mut().find(|(n, _)| n == name) {
            existing.1 = value.to_owned();
            return Ok(());
        }
        let is_default = config.dimensions.iter().any(|(n, _)| n == name);
        if !is_default {
            if let Some(by) = self.used_by(config, name) {
                return Err(MetricsError::NameInUse {
                    name: name.to_owned(),
                    by,
                });
            }
            if self.dimensions(config).count() == MAX_DIMENSIONS {
                return Err(MetricsError::TooManyDimensions {
                    name: name.to_owned(),
                });
            }
        }
        self.dimensions.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    pub(crate) fn add_metadata(
        &mut self,
        config: &Config,
        key: &str,
        json: String,
    ) -> Result<(), MetricsError> {
        names::metadata_key(key)?;
        if let Some(existing) = self.metadata.iter_mut().find(|(k, _)| k == key) {
            existing.1 = json;
            return Ok(());
        }
        if let Some(by) = self.used_by(config, key) {
            return Err(MetricsError::NameInUse {
                name: key.to_owned(),
                by,
            });
        }
        self.metadata.push((key.to_owned(), json));
        Ok(())
    }

    pub(crate) fn add_single(
        &mut self,
        config: &Config,
        name: &str,
        unit: Unit,
        value: f64,
        dimensions: &[(&str, &str)],
    ) -> Result<(), MetricsError> {
        names::metric(name)?;
        names::value(name, value)?;
        let mut merged: Vec<(String, String)> = config.dimensions.clone();
        for &(dimension, dimension_value) in dimensions {
            names::dimension(dimension, dimension_value)?;
            if dimension == name {
                return Err(MetricsError::NameInUse {
                    name: name.to_owned(),
                    by: "dimension",
                });
            }
            let full = merged.len() == MAX_DIMENSIONS;
            match merged.iter_mut().find(|(n, _)| n == dimension) {
                Some(existing) => existing.1 = dimension_value.to_owned(),
                None if full => {
                    return Err(MetricsError::TooManyDimensions {
                        name: dimension.to_owned(),
                    });
                }
                None => merged.push((dimension.to_owned(), dimension_value.to_owned())),
            }
        }
        if merged.iter().any(|(n, _)| n == name) {
            return Err(MetricsError::NameInUse {
                name: name.to_owned(),
                by: "dimension",
            });
        }
        self.singles.push(Single {
            metric: Metric {
                name: name.to_owned(),
                unit,
                high_resolution: false,
                values: vec![value],
            },
            dimensions: merged,
        });
        Ok(())
    }

    /// Appends the documents, one per line, and empties the invocation's record. Dimensions and
    /// metadata without a metric are not written: a document needs a metric.
    pub(crate) fn render(&mut self, config: &Config, now_ms: u64, out: &mut String) {
        let dimensions: Vec<(&str, &str)> = self.dimensions(config).collect();
        let rounds = self
            .metrics
            .iter()
            .map(|m| m.values.len().div_ceil(MAX_VALUES))
            .max()
            .unwrap_or(0);
        for round in 0..rounds {
            let batch: Vec<(&Metric, &[f64])> = self
                .metrics
                .iter()
                .filter_map(|m| m.values.chunks(MAX_VALUES).nth(round).map(|c| (m, c)))
                .collect();
            for group in batch.chunks(MAX_METRICS) {
                document(out, config, now_ms, &dimensions, group, &self.metadata);
            }
        }
        for single in &self.singles {
            let dimensions: Vec<(&str, &str)> = single
                .dimensions
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let metric = (&single.metric, &single.metric.values[..]);
            document(out, config, now_ms, &dimensions, &[metric], &[]);
        }
        self.metrics.clear();
        self.dimensions.clear();
        self.metadata.clear();
        self.singles.clear();
    }
}

/// The `ColdStart` document Powertools writes: 1 `Count`, the default dimensions and
/// `function_name`.
pub(crate) fn cold_start(config: &Config, now_ms: u64, out: &mut String) {
    let mut dimensions: Vec<(&str, &str)> = config
        .dimensions
        .iter()
        .filter(|(n, _)| n != "function_name")
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if !config.function_name.is_empty() {
        dimensions.push(("function_name", &config.function_name));
    }
    let metric = Metric {
        name: "ColdStart".to_owned(),
        unit: Unit::Count,
        high_resolution: false,
        values: vec![1.0],
    };
    document(out, config, now_ms, &dimensions, &[(&metric, &[1.0])], &[]);
}

fn document(
    out: &mut String,
    config: &Config,
    now_ms: u64,
    dimensions: &[(&str, &str)],
    metrics: &[(&Metric, &[f64])],
    metadata: &[(String, String)],
) {
    let _ = write!(
        out,
        "{{\"_aws\":{{\"Timestamp\":{now_ms},\"CloudWatchMetrics\":[{{\"Namespace\":\""
    );
    escape_json_into(out, &config.namespace);
    out.push_str("\",\"Dimensions\":[[");
    for (i, (name, _)) in dimensions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quoted_json_into(out, name);
    }
    out.push_str("]],\"Metrics\":[");
    for (i, (metric, _)) in metrics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"Name\":");
        quoted_json_into(out, &metric.name);
        out.push_str(",\"Unit\":\"");
        out.push_str(metric.unit.as_str());
        out.push('"');
        if metric.high_resolution {
            out.push_str(",\"StorageResolution\":1");
        }
        out.push('}');
    }
    out.push_str("]}]}");
    for (name, value) in dimensions {
        out.push(',');
        quoted_json_into(out, name);
        out.push(':');
        quoted_json_into(out, value);
    }
    for (key, json) in metadata {
        out.push(',');
        quoted_json_into(out, key);
        out.push(':');
        out.push_str(json);
    }
    for (metric, values) in metrics {
        out.push(',');
        quoted_json_into(out, &metric.name);
        out.push(':');
        match values {
            [one] => number(out, *one),
            many => {
                out.push('[');
                for (i, value) in many.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    number(out, *value);
                }
                out.push(']');
            }
        }
    }
    out.push_str("}\n");
}

/// A finite value (checked when recorded) as a JSON number: Rust's shortest round-trip form.
fn number(out: &mut String, value: f64) {
    let _ = write!(out, "{value}");
}
