use super::config::Config;
use super::document::{self, Pending};
use super::{MetricsError, Unit};

#[path = "../../tests/integration/src/emf.rs"]
mod emf;

const NOW: u64 = 1_764_400_000_000;

fn config() -> Config {
    let mut config = Config::new("Shop").unwrap().service("orders").unwrap();
    config.function_name = "place-order".to_owned();
    config
}

fn render(pending: &mut Pending, config: &Config) -> Vec<serde_json::Value> {
    let mut out = String::new();
    pending.render(config, NOW, &mut out);
    assert!(pending.is_empty(), "rendering empties the record");
    assert!(out.is_empty() || out.ends_with('\n'));
    emf::documents(&out)
}

#[test]
fn one_document_holds_the_invocations_metrics_dimensions_and_metadata() {
    let config = config();
    let mut pending = Pending::default();
    pending
        .add(&config, "Orders", Unit::Count, false, 1.0)
        .unwrap();
    pending
        .add(&config, "Latency", Unit::Milliseconds, true, 3.5)
        .unwrap();
    pending
        .add(&config, "Latency", Unit::Milliseconds, true, 4.0)
        .unwrap();
    pending
        .add_dimension(&config, "Channel", "web \"beta\"")
        .unwrap();
    pending
        .add_metadata(&config, "orderId", r#""o-42""#.to_owned())
        .unwrap();
    let mut out = String::new();
    pending.render(&config, NOW, &mut out);
    assert_eq!(
        out,
        concat!(
            r#"{"_aws":{"Timestamp":1764400000000,"CloudWatchMetrics":[{"Namespace":"Shop","#,
            r#""Dimensions":[["service","Channel"]],"Metrics":[{"Name":"Orders","Unit":"Count"},"#,
            r#"{"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},"#,
            r#""service":"orders","Channel":"web \"beta\"","orderId":"o-42","Orders":1,"#,
            r#""Latency":[3.5,4]}"#,
            "\n"
        )
    );
    emf::documents(&out);
}

#[test]
fn nothing_is_written_without_a_metric() {
    let config = config();
    let mut pending = Pending::default();
    pending.add_dimension(&config, "Channel", "web").unwrap();
    pending
        .add_metadata(&config, "orderId", "1".to_owned())
        .unwrap();
    assert!(pending.is_empty());
    assert!(render(&mut pending, &config).is_empty());
}

#[test]
fn more_than_a_hundred_metrics_split_into_documents_with_the_same_dimensions() {
    let config = config();
    let mut pending = Pending::default();
    for i in 0..250 {
        pending
            .add(&config, &format!("m{i}"), Unit::Count, false, f64::from(i))
            .unwrap();
    }
    pending.add_dimension(&config, "Channel", "web").unwrap();
    pending
        .add_metadata(&config, "batch", "7".to_owned())
        .unwrap();
    let documents = render(&mut pending, &config);
    let sizes: Vec<usize> = documents
        .iter()
        .map(|d| emf::metric_names(d).len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    let mut seen = Vec::new();
    for document in &documents {
        assert_eq!(emf::dimension_names(document), ["service", "Channel"]);
        assert_eq!(document["Channel"], "web");
        assert_eq!(document["batch"], 7);
        for name in emf::metric_names(document) {
            seen.push((name.clone(), emf::values(document, &name)));
        }
    }
    let expected: Vec<(String, Vec<f64>)> = (0..250)
        .map(|i| (format!("m{i}"), vec![f64::from(i)]))
        .collect();
    assert_eq!(seen, expected, "every metric once, in order");
}

#[test]
fn more_than_a_hundred_values_of_a_metric_split_too() {
    let config = config();
    let mut pending = Pending::default();
    for i in 0..230 {
        pending
            .add(&config, "Latency", Unit::Milliseconds, false, f64::from(i))
            .unwrap();
    }
    pending
        .add(&config, "Orders", Unit::Count, false, 1.0)
        .unwrap();
    let documents = render(&mut pending, &config);
    let counts: Vec<(usize, usize)> = documents
        .iter()
        .map(|d| {
            (
                emf::values(d, "Latency").len(),
                emf::values(d, "Orders").len(),
            )
        })
        .collect();
    assert_eq!(counts, [(100, 1), (100, 0), (30, 0)]);
    let all: Vec<f64> = documents
        .iter()
        .flat_map(|d| emf::values(d, "Latency"))
        .collect();
    assert_eq!(all, (0..230).map(f64::from).collect::<Vec<_>>());
}

#[test]
fn thirty_dimensions_at_most_counting_the_defaults() {
    let config = config();
    let mut pending = Pending::default();
    for i in 0..29 {
        pending
            .add_dimension(&config, &format!("d{i}"), "v")
            .unwrap();
    }
    // Overriding a default or an own dimension adds none.
    pending
        .add_dimension(&config, "service", "payments")
        .unwrap();
    pending.add_dimension(&config, "d0", "w").unwrap();
    let err = pending.add_dimension(&config, "d29", "v").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the dimension `d29` would be the 31st: CloudWatch allows at most 30 per metric; use \
         `metrics::single` for a metric that needs other dimensions"
    );
    pending
        .add(&config, "Orders", Unit::Count, false, 1.0)
        .unwrap();
    let documents = render(&mut pending, &config);
    assert_eq!(emf::dimension_names(&documents[0]).len(), 30);
    assert_eq!(documents[0]["service"], "payments");
    assert_eq!(documents[0]["d0"], "w");
}

#[test]
fn names_are_shared_by_metrics_dimensions_and_metadata() {
    let config = config();
    let mut pending = Pending::default();
    pending
        .add(&config, "Orders", Unit::Count, false, 1.0)
        .unwrap();
    let err = pending.add_dimension(&config, "Orders", "x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`Orders` is already a metric in this invocation's metrics document; metrics, \
         dimensions and metadata share one JSON object, so each needs its own name"
    );
    assert!(matches!(
        pending.add(&config, "service", Unit::Count, false, 1.0),
        Err(MetricsError::NameInUse {
            by: "dimension",
            ..
        })
    ));
    pending
        .add_metadata(&config, "note", "1".to_owned())
        .unwrap();
    assert!(matches!(
        pending.add(&config, "note", Unit::Count, false, 1.0),
        Err(MetricsError::NameInUse {
            by: "metadata key",
            ..
        })
    ));
    assert!(matches!(
        pending.add_metadata(&config, "Orders", "1".to_owned()),
        Err(MetricsError::NameInUse { by: "metric", .. })
    ));
}

#[test]
fn a_metric_keeps_its_unit_and_resolution() {
    let config = config();
    let mut pending = Pending::default();
    pending
        .add(&config, "Latency", Unit::Milliseconds, false, 1.0)
        .unwrap();
    let err = pending
        .add(&config, "Latency", Unit::Seconds, false, 1.0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the metric `Latency` was recorded as Milliseconds and now as Seconds; a metric has one \
         unit and resolution per document, so give the other one its own name"
    );
    let err = pending
        .add(&config, "Latency", Unit::Milliseconds, true, 1.0)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("now as Milliseconds at high resolution"),
        "{err}"
    );
}

#[test]
fn invalid_input_is_refused_and_leaves_the_record_as_it_was() {
    let config = config();
    let mut pending = Pending::default();
    assert!(pending.add(&config, "", Unit::Count, false, 1.0).is_err());
    assert!(
        pending
            .add(&config, "Orders", Unit::Count, false, f64::NAN)
            .is_err()
    );
    assert!(
        pending
            .add(&config, "Orders", Unit::Count, false, f64::INFINITY)
            .is_err()
    );
    assert!(pending.add_dimension(&config, "Channel", "").is_err());
    assert!(pending.add_dimension(&config, "Chännel", "web").is_err());
    assert!(
        pending
            .add_metadata(&config, "_aws", "1".to_owned())
            .is_err()
    );
    assert!(pending.is_empty());
    assert!(render(&mut pending, &config).is_empty());
}

#[test]
fn a_single_metric_has_a_document_of_its_own() {
    let config = config();
    let mut pending = Pending::default();
    pending.add_dimension(&config, "Channel", "web").unwrap();
    pending
        .add(&config, "Orders", Unit::Count, false, 1.0)
        .unwrap();
    pending
        .add_single(
            &config,
            "Declined",
            Unit::Count,
            1.0,
            &[("Provider", "acme")],
        )
        .unwrap();
    let documents = render(&mut pending, &config);
    assert_eq!(documents.len(), 2);
    assert_eq!(emf::dimension_names(&documents[1]), ["service", "Provider"]);
    assert_eq!(emf::metric_names(&documents[1]), ["Declined"]);
    assert!(documents[1].get("Channel").is_none());
    assert!(matches!(
        pending.add_single(&config, "x", Unit::Count, 1.0, &[("x", "y")]),
        Err(MetricsError::NameInUse { .. })
    ));
    let many: Vec<(String, &str)> = (0..30).map(|i| (format!("d{i}"), "v")).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert!(matches!(
        pending.add_single(&config, "Wide", Unit::Count, 1.0, &many),
        Err(MetricsError::TooManyDimensions { .. })
    ));
}

#[test]
fn the_cold_start_document_is_powertools_shape() {
    let mut out = String::new();
    document::cold_start(&config(), NOW, &mut out);
    let documents = emf::documents(&out);
    assert_eq!(documents.len(), 1);
    let document = &documents[0];
    assert_eq!(emf::metric_names(document), ["ColdStart"]);
    assert_eq!(emf::dimension_names(document), ["service", "function_name"]);
    assert_eq!(document["function_name"], "place-order");
    assert_eq!(document["ColdStart"], 1);
    assert_eq!(
        document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
        "Count"
    );
}

#[test]
fn extreme_values_are_valid_json_numbers() {
    let config = Config::new("Shop").unwrap();
    let mut pending = Pending::default();
    for value in [2f64.powi(360), -2f64.powi(-360), 0.1 + 0.2, -0.0, 1e-7] {
        pending
            .add(&config, "Edge", Unit::None, false, value)
            .unwrap();
    }
    let documents = render(&mut pending, &config);
    assert_eq!(emf::dimension_names(&documents[0]), Vec::<String>::new());
    assert_eq!(
        emf::values(&documents[0], "Edge"),
        [2f64.powi(360), -2f64.powi(-360), 0.1 + 0.2, -0.0, 1e-7]
    );
}
