//! The exporter against moto's X-Ray API: `moto_server` on 127.0.0.1, started and stopped by
//! the test. Needs `pip install 'moto[server]'`; runs only with the `xray-sdk` feature:
//! `cargo test -p lamina-lambda --features xray-sdk --lib xray::sdk`.

use serde_json::Value;

use super::*;
use crate::testing::moto::Moto;
use crate::xray::{Subsegment, TraceId, invocation_to};

const FUNCTION_SEGMENT: &str = "53995c3f42cd8ad8";

#[test]
fn the_environment_must_name_a_region_and_credentials() {
    let none = |_: &str| None;
    assert_eq!(
        SdkExporter::from_lookup(none).unwrap_err(),
        ConfigError::MissingRegion
    );
    let region_only = |k: &str| (k == "AWS_DEFAULT_REGION").then(|| "eu-west-1".to_owned());
    let err = SdkExporter::from_lookup(region_only).unwrap_err();
    assert_eq!(err, ConfigError::MissingCredentials);
    assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
}

#[test]
fn sampled_invocations_are_exported_with_put_trace_segments() {
    let moto = Moto::start();
    let exporter = SdkExporter::from_lookup(moto.env("AWS_ENDPOINT_URL_XRAY")).unwrap();
    let reader = exporter.client.clone();
    exporter.install().unwrap();
    assert_eq!(
        SdkExporter::from_lookup(moto.env("AWS_ENDPOINT_URL_XRAY"))
            .unwrap()
            .install(),
        Err(AlreadyInstalled)
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let traced = TraceId::new().to_string();
    let header: std::sync::Arc<str> =
        format!("Root={traced};Parent={FUNCTION_SEGMENT};Sampled=1").into();
    let ids = runtime.block_on(invocation_to(Some(&header), None, None, async {
        let outer = Subsegment::new("outer");
        outer
            .run(async {
                let _inner = Subsegment::new("inner");
            })
            .await;
        // 80 KB of metadata: split in two documents, the child naming its parent.
        let big = Subsegment::new("big");
        big.metadata("blob", "x".repeat(40_000));
        let child = big.child("big child");
        child.metadata("blob", "y".repeat(40_000));
        (big.id().unwrap(), child.id().unwrap())
    }));
    let untraced = TraceId::new().to_string();
    let header: std::sync::Arc<str> =
        format!("Root={untraced};Parent={FUNCTION_SEGMENT};Sampled=0").into();
    runtime.block_on(invocation_to(Some(&header), None, None, async {
        let _s = Subsegment::new("not sampled");
    }));

    let output = runtime
        .block_on(
            reader
                .batch_get_traces()
                .trace_ids(&traced)
                .trace_ids(&untraced)
                .send(),
        )
        .expect("BatchGetTraces");
    assert_eq!(
        output.unprocessed_trace_ids(),
        [untraced.as_str()],
        "nothing for Sampled=0"
    );
    let [trace] = output.traces() else {
        panic!("one trace: {output:?}");
    };
    let mut documents: Vec<Value> = trace
        .segments()
        .iter()
        .map(|s| serde_json::from_str(s.document().unwrap()).unwrap())
        .collect();
    documents.sort_by_key(|d| d["name"].as_str().unwrap().to_owned());
    let names: Vec<&str> = documents
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["big", "big child", "outer"]);
    for d in &documents {
        assert_eq!(d["type"], "subsegment");
        assert_eq!(d["trace_id"], traced.as_str());
        assert!(d["start_time"].as_f64() <= d["end_time"].as_f64());
    }
    let (big, child, outer) = (&documents[0], &documents[1], &documents[2]);
    assert_eq!(big["parent_id"], FUNCTION_SEGMENT);
    assert_eq!(big["id"], ids.0.to_string());
    assert_eq!(child["parent_id"], ids.0.to_string());
    assert_eq!(child["id"], ids.1.to_string());
    assert_eq!(outer["parent_id"], FUNCTION_SEGMENT);
    assert_eq!(outer["subsegments"][0]["name"], "inner");
}
