//! The process's metrics settings: namespace, default dimensions, the cold-start metric.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{MetricsError, names};

/// `POWERTOOLS_METRICS_NAMESPACE`: the namespace when [`configure`](super::configure) is not
/// called, as Powertools reads it.
pub const NAMESPACE_VAR: &str = "POWERTOOLS_METRICS_NAMESPACE";
/// `POWERTOOLS_SERVICE_NAME`: when set, a `service` dimension on every metric, as Powertools adds.
pub const SERVICE_VAR: &str = "POWERTOOLS_SERVICE_NAME";

/// The dimension Powertools names the service by.
const SERVICE_DIMENSION: &str = "service";

pub(crate) const MAX_DIMENSIONS: usize = 30;

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Whether the `ColdStart` metric is still to be written, with the first invocation's metrics.
static COLD_START_DUE: AtomicBool = AtomicBool::new(false);

/// How this function's metrics are written: the CloudWatch namespace, the dimensions every
/// metric carries, and whether the first invocation records `ColdStart`.
///
/// ```
/// use lamina::metrics::Config;
///
/// # fn main() -> Result<(), lamina::metrics::MetricsError> {
/// let config = Config::new("Shop")?
///     .service("orders")?
///     .default_dimension("Stage", "prod")?
///     .cold_start_metric(true);
/// # let _ = config;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) namespace: String,
    pub(crate) dimensions: Vec<(String, String)>,
    pub(crate) cold_start: bool,
    pub(crate) function_name: String,
}

impl Config {
    /// Metrics in `namespace`, with no default dimensions and no cold-start metric.
    ///
    /// # Errors
    /// [`MetricsError::InvalidName`] for a namespace CloudWatch refuses (empty, over 255
    /// characters, characters outside `0-9A-Za-z . - _ / # :` and space, or `AWS/…`).
    pub fn new(namespace: &str) -> Result<Config, MetricsError> {
        names::namespace(namespace)?;
        Ok(Config {
            namespace: namespace.to_owned(),
            dimensions: Vec::new(),
            cold_start: false,
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        })
    }

    /// The settings Powertools reads: the namespace from `POWERTOOLS_METRICS_NAMESPACE` and, when
    /// `POWERTOOLS_SERVICE_NAME` is set, a `service` dimension.
    ///
    /// # Errors
    /// [`MetricsError::NoNamespace`] when the namespace variable is unset or empty; otherwise
    /// as [`Config::new`] and [`Config::service`].
    pub fn from_env() -> Result<Config, MetricsError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    pub(crate) fn from_lookup(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, MetricsError> {
        let namespace = var(NAMESPACE_VAR).ok_or(MetricsError::NoNamespace)?;
        let config = Config::new(&namespace)?;
        match var(SERVICE_VAR) {
            Some(service) => config.service(&service),
            None => Ok(config),
        }
    }

    /// Adds the `service` dimension Powertools uses to tell functions' metrics apart.
    ///
    /// # Errors
    /// As for [`Config::default_dimension`].
    pub fn service(self, name: &str) -> Result<Config, MetricsError> {
        self.default_dimension(SERVICE_DIMENSION, name)
    }

    /// A dimension every metric of this function carries (an invocation can override its value
    /// with [`add_dimension`](super::add_dimension)). Setting a name again replaces its value.
    ///
    /// # Errors
    /// [`MetricsError::InvalidName`] for a name or value CloudWatch refuses;
    /// [`MetricsError::TooManyDimensions`] for a 31st.
    pub fn default_dimension(mut self, name: &str, value: &str) -> Result<Config, MetricsError> {
        names::dimension(name, value)?;
        if let Some(existing) = self.dimensions.iter_mut().find(|(n, _)| n == name) {
            existing.1 = value.to_owned();
        } else if self.dimensions.len() == MAX_DIMENSIONS {
            return Err(MetricsError::TooManyDimensions {
                name: name.to_owned(),
            });
        } else {
            self.dimensions.push((name.to_owned(), value.to_owned()));
        }
        Ok(self)
    }

    /// Records `ColdStart` (1, `Count`) with the first invocation of each execution environment,
    /// in a document of its own with the default dimensions and `function_name`, as Powertools
    /// does.
    pub fn cold_start_metric(mut self, record: bool) -> Config {
        self.cold_start = record;
        self
    }

    /// How many dimensions the `ColdStart` document has: the defaults and `function_name`.
    pub(crate) fn cold_start_dimensions(&self) -> usize {
        let named = self.dimensions.iter().any(|(n, _)| n == "function_name");
        self.dimensions.len() + usize::from(!named && !self.function_name.is_empty())
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// Makes `config` the process's metrics settings. Call it once, in `init`.
///
/// Without it, the first metric recorded configures metrics from the environment
/// ([`Config::from_env`]).
///
/// ```no_run
/// use lamina::metrics::{self, Config};
/// use lamina::Error;
///
/// async fn init() -> Result<(), Error> {
///     metrics::configure(Config::new("Shop")?.service("orders")?.cold_start_metric(true))?;
///     Ok(())
/// }
/// ```
///
/// # Errors
/// [`MetricsError::AlreadyConfigured`] when metrics were configured before;
/// [`MetricsError::ColdStartTooWide`] when the cold-start metric is on and its document would
/// have more dimensions than CloudWatch takes.
pub fn configure(config: Config) -> Result<(), MetricsError> {
    let cold_start = config.cold_start;
    if cold_start && config.cold_start_dimensions() > MAX_DIMENSIONS {
        return Err(MetricsError::ColdStartTooWide);
    }
    CONFIG
        .set(config)
        .map_err(|_| MetricsError::AlreadyConfigured)?;
    super::enable();
    if cold_start {
        COLD_START_DUE.store(true, Ordering::Release);
        super::set_due();
    }
    Ok(())
}

/// The settings in force, configured from the environment on first use.
pub(crate) fn current() -> Result<&'static Config, MetricsError> {
    if let Some(config) = CONFIG.get() {
        return Ok(config);
    }
    let config = Config::from_env()?;
    // Another thread may have configured in between: its settings win.
    let _ = CONFIG.set(config);
    CONFIG.get().ok_or(MetricsError::NoNamespace)
}

/// The settings, if any were made.
pub(crate) fn get() -> Option<&'static Config> {
    CONFIG.get()
}

/// Whether this is the first time the cold-start metric is asked for.
pub(crate) fn take_cold_start() -> bool {
    COLD_START_DUE.load(Ordering::Acquire) && COLD_START_DUE.swap(false, Ordering::AcqRel)
}

pub(crate) fn cold_start_due() -> bool {
    COLD_START_DUE.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cold_start_metric_with_thirty_default_dimensions_is_refused() {
        let mut config = Config::new("Shop").unwrap().cold_start_metric(true);
        config.function_name = "orders".to_owned();
        for i in 0..29 {
            config = config.default_dimension(&format!("d{i}"), "v").unwrap();
        }
        assert_eq!(config.cold_start_dimensions(), 30);
        let full = config.clone().default_dimension("d29", "v").unwrap();
        let err = configure(full.clone()).unwrap_err();
        assert!(matches!(err, MetricsError::ColdStartTooWide), "{err}");
        assert!(
            err.to_string().contains("drop a default dimension"),
            "{err}"
        );
        // `function_name` among the defaults is not counted twice; without the metric, 30 fit.
        let named = config.default_dimension("function_name", "orders").unwrap();
        assert_eq!(named.cold_start_dimensions(), 30);
        assert_eq!(full.cold_start_metric(false).dimensions.len(), 30);
    }

    #[test]
    fn from_the_environment_as_powertools_reads_it() {
        let config = Config::from_lookup(|k| match k {
            NAMESPACE_VAR => Some("Shop".to_owned()),
            SERVICE_VAR => Some("orders".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.namespace(), "Shop");
        assert_eq!(
            config.dimensions,
            [("service".to_owned(), "orders".to_owned())]
        );
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metrics have no namespace: call `lamina::metrics::configure` in `init`, or set \
             POWERTOOLS_METRICS_NAMESPACE"
        );
    }

    #[test]
    fn at_most_thirty_default_dimensions() {
        let mut config = Config::new("Shop").unwrap();
        for i in 0..30 {
            config = config.default_dimension(&format!("d{i}"), "v").unwrap();
        }
        config = config.default_dimension("d3", "again").unwrap();
        assert_eq!(config.dimensions[3].1, "again");
        let err = config.default_dimension("d30", "v").unwrap_err();
        assert!(matches!(err, MetricsError::TooManyDimensions { ref name } if name == "d30"));
    }
}
