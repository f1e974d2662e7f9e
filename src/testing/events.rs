//! Sample events for tests, built rather than copied: "an SQS batch of these three bodies, FIFO".
//!
//! Each builder writes the event as Lambda sends it (the fields AWS documents for the source,
//! with plausible ids, ARNs and times) and decodes it with lamina's own types, so what a test
//! gets is what the handler gets in production. [`build`](Sqs::build) gives the typed event,
//! [`to_json`](Sqs::to_json) the JSON text for [`invoke_json`](super::invoke_json) or a local
//! run.
//!
//! ```
//! use lamina::testing::events;
//!
//! let batch = events::sqs().fifo("orders").body(r#"{"id":1}"#).body(r#"{"id":2}"#).build();
//! assert_eq!(batch.records.len(), 2);
//! assert_eq!(batch.records[1].attributes["MessageGroupId"], "orders");
//! assert!(batch.records[0].event_source_arn.as_deref().unwrap().ends_with(".fifo"));
//! ```

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::events::{alb, kinesis, s3, sqs};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
/// 2026-11-28T12:00:00Z, in milliseconds.
const EPOCH_MS: u64 = 1_796_212_800_000;

fn decode<T: DeserializeOwned>(source: &str, event: &Value) -> T {
    match T::deserialize(event) {
        Ok(event) => event,
        Err(err) => {
            panic!("lamina's {source} sample does not decode ({err}); this is a lamina bug")
        }
    }
}

/// An SQS batch; see [`sqs()`].
#[derive(Debug, Clone, Default)]
#[must_use = "call `build` or `to_json`"]
pub struct Sqs {
    bodies: Vec<String>,
    queue: Option<String>,
    group: Option<String>,
}

/// An SQS batch, from a standard queue named `my-queue` until [`Sqs::queue`] or [`Sqs::fifo`].
pub fn sqs() -> Sqs {
    Sqs::default()
}

impl Sqs {
    /// Adds a message with this body.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.bodies.push(body.into());
        self
    }

    /// Adds a message per body.
    pub fn bodies<B: Into<String>>(mut self, bodies: impl IntoIterator<Item = B>) -> Self {
        self.bodies.extend(bodies.into_iter().map(Into::into));
        self
    }

    /// The queue's name (`.fifo` is added for a FIFO queue).
    pub fn queue(mut self, name: impl Into<String>) -> Self {
        self.queue = Some(name.into());
        self
    }

    /// Makes the queue FIFO, with every message in message group `group`.
    pub fn fifo(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// The event as JSON.
    pub fn to_value(&self) -> Value {
        let mut queue = self.queue.clone().unwrap_or_else(|| "my-queue".to_owned());
        if self.group.is_some() && !queue.ends_with(".fifo") {
            queue.push_str(".fifo");
        }
        let records: Vec<Value> = self
            .bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let sent = (EPOCH_MS + i as u64).to_string();
                let mut attributes = json!({
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": sent,
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": sent,
                });
                if let Some(group) = &self.group {
                    attributes["SequenceNumber"] = json!(format!("188494964604676{:05}", i + 1));
                    attributes["MessageGroupId"] = json!(group);
                    attributes["MessageDeduplicationId"] = json!(format!("dedup-{}", i + 1));
                }
                json!({
                    "messageId": format!("059f36b4-87a3-44ab-83d2-{:012x}", i + 1),
                    "receiptHandle": format!("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{}", i + 1),
                    "body": body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"),
                    "awsRegion": REGION,
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// The event as Lambda's JSON text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The typed event.
    pub fn build(&self) -> sqs::SqsEvent {
        decode("SQS", &self.to_value())
    }
}

/// A Kinesis batch; see [`kinesis()`].
#[derive(Debug, Clone, Default)]
#[must_use = "call `build` or `to_json`"]
pub struct Kinesis {
    records: Vec<(String, Vec<u8>)>,
    stream: Option<String>,
}

/// A Kinesis batch from stream `my-stream`, each record on shard 0 with an increasing sequence
/// number.
pub fn kinesis() -> Kinesis {
    Kinesis::default()
}

impl Kinesis {
    /// Adds a record with this data (base64-encoded in the event, as Kinesis sends it) and
    /// partition key.
    pub fn record(mut self, partition_key: impl Into<String>, data: impl AsRef<[u8]>) -> Self {
        self.records
            .push((partition_key.into(), data.as_ref().to_vec()));
        self
    }

    /// The stream's name.
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = Some(name.into());
        self
    }

    /// The event as JSON.
    pub fn to_value(&self) -> Value {
        use base64::Engine as _;
        let stream = self.stream.as_deref().unwrap_or("my-stream");
        let records: Vec<Value> = self
            .records
            .iter()
            .enumerate()
            .map(|(i, (key, data))| {
                let sequence = format!(
                    "4959033827149025660855969253836157109592157598913658{:04}",
                    i + 1
                );
                json!({
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": key,
                        "sequenceNumber": sequence,
                        "data": base64::engine::general_purpose::STANDARD.encode(data),
                        "approximateArrivalTimestamp": (EPOCH_MS + i as u64) as f64 / 1000.0,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": format!("shardId-000000000000:{sequence}"),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": format!("arn:aws:iam::{ACCOUNT}:role/lambda-kinesis-role"),
                    "awsRegion": REGION,
                    "eventSourceARN": format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}"),
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// The event as Lambda's JSON text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The typed event.
    pub fn build(&self) -> kinesis::KinesisEvent {
        decode("Kinesis", &self.to_value())
    }
}

/// An S3 notification; see [`s3()`].
#[derive(Debug, Clone)]
#[must_use = "call `build` or `to_json`"]
pub struct S3 {
    bucket: String,
    objects: Vec<(String, u64, &'static str)>,
}

/// An S3 notification about objects in `bucket`.
pub fn s3(bucket: impl Into<String>) -> S3 {
    S3 {
        bucket: bucket.into(),
        objects: Vec::new(),
    }
}

impl S3 {
    /// Adds an `ObjectCreated:Put` record for `key` (written URL-encoded, as S3 does) of `size`
    /// bytes.
    pub fn put(self, key: impl Into<String>, size: u64) -> Self {
        self.record("ObjectCreated:Put", key, size)
    }

    /// Adds an `ObjectRemoved:Delete` record for `key`.
    pub fn delete(self, key: impl Into<String>) -> Self {
        self.record("ObjectRemoved:Delete", key, 0)
    }

    /// Adds a record with any event name (`ObjectCreated:Copy`, `ObjectRestore:Completed`, …).
    pub fn record(mut self, event_name: &'static str, key: impl Into<String>, size: u64) -> Self {
        self.objects.push((key.into(), size, event_name));
        self
    }

    /// The event as JSON.
    pub fn to_value(&self) -> Value {
        let records: Vec<Value> = self
            .objects
            .iter()
            .enumerate()
            .map(|(i, (key, size, event_name))| {
                let mut object = json!({
                    "key": s3::encode_key(key),
                    "sequencer": format!("0A1B2C3D4E5F6789{:02X}", i + 1),
                });
                if event_name.starts_with("ObjectCreated") {
                    object["size"] = json!(size);
                    object["eTag"] = json!(format!("d41d8cd98f00b204e9800998ecf8427{i}"));
                }
                json!({
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventTime": format!("2026-11-28T12:00:{:02}.000Z", i % 60),
                    "eventName": event_name,
                    "userIdentity": { "principalId": "AWS:AIDAINPONIXQXHT3IKHL2" },
                    "requestParameters": { "sourceIPAddress": "205.255.255.255" },
                    "responseElements": {
                        "x-amz-request-id": format!("D82B88E5F771F6{:02X}", i + 1),
                        "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=",
                    },
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "lamina-test",
                        "bucket": {
                            "name": self.bucket,
                            "ownerIdentity": { "principalId": "A3I5XTEXAMAI3E" },
                            "arn": format!("arn:aws:s3:::{}", self.bucket),
                        },
                        "object": object,
                    },
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// The event as Lambda's JSON text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The typed event.
    pub fn build(&self) -> s3::S3Event {
        decode("S3", &self.to_value())
    }
}

/// A request from an Application Load Balancer; see [`alb()`].
#[derive(Debug, Clone)]
#[must_use = "call `build` or `to_json`"]
pub struct Alb {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    multi_value: bool,
}

/// A request from an ALB target group in single-value header mode (the default).
pub fn alb(method: impl Into<String>, path: impl Into<String>) -> Alb {
    Alb {
        method: method.into(),
        path: path.into(),
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
        multi_value: false,
    }
}

impl Alb {
    /// Adds a query parameter (written percent-encoded, as the ALB passes it on).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body; not UTF-8 text is sent base64-encoded with `isBase64Encoded`, as the ALB does.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Multi-value header mode (`lambda.multi_value_headers.enabled` on the target group).
    pub fn multi_value(mut self) -> Self {
        self.multi_value = true;
        self
    }

    /// The event as JSON.
    pub fn to_value(&self) -> Value {
        use base64::Engine as _;
        let (body, is_base64) = match &self.body {
            None => (String::new(), false),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => (text.to_owned(), false),
                Err(_) => (
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                    true,
                ),
            },
        };
        let encode = |s: &str| crate::base::percent::encode(s);
        let mut headers: Vec<(String, String)> = vec![
            (
                "host".into(),
                "lambda-alb-123578498.us-east-1.elb.amazonaws.com".into(),
            ),
            (
                "x-amzn-trace-id".into(),
                "Root=1-5c536348-3d683b8b04734faae651f476".into(),
            ),
            ("x-forwarded-for".into(), "72.12.164.125".into()),
            ("x-forwarded-port".into(), "443".into()),
            ("x-forwarded-proto".into(), "https".into()),
        ];
        headers.extend(
            self.headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
        );
        let mut event = json!({
            "requestContext": {
                "elb": {
                    "targetGroupArn": format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/lambda-target/abcdefg123456789"),
                },
            },
            "httpMethod": self.method,
            "path": self.path,
            "body": body,
            "isBase64Encoded": is_base64,
        });
        if self.multi_value {
            let mut query = serde_json::Map::new();
            for (k, v) in &self.query {
                if let Some(values) = query
                    .entry(encode(k))
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    values.push(json!(encode(v)));
                }
            }
            let mut header_map = serde_json::Map::new();
            for (k, v) in &headers {
                if let Some(values) = header_map
                    .entry(k.clone())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    values.push(json!(v));
                }
            }
            event["multiValueQueryStringParameters"] = Value::Object(query);
            event["multiValueHeaders"] = Value::Object(header_map);
        } else {
            let query: serde_json::Map<String, Value> = self
                .query
                .iter()
                .map(|(k, v)| (encode(k), json!(encode(v))))
                .collect();
            let header_map: serde_json::Map<String, Value> =
                headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            event["queryStringParameters"] = Value::Object(query);
            event["headers"] = Value::Object(header_map);
        }
        event
    }

    /// The event as Lambda's JSON text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The typed event.
    pub fn build(&self) -> alb::AlbTargetGroupRequest {
        decode("ALB", &self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::kinesis::KinesisRecordExt as _;

    #[test]
    fn an_sqs_fifo_batch_of_three_bodies() {
        let batch = sqs().fifo("g-1").bodies(["a", "b", "c"]).build();
        assert_eq!(batch.records.len(), 3);
        for (i, record) in batch.records.iter().enumerate() {
            assert_eq!(record.body.as_deref(), Some(["a", "b", "c"][i]));
            assert_eq!(record.attributes["MessageGroupId"], "g-1");
            assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
        }
        let ids: std::collections::HashSet<_> =
            batch.records.iter().map(|r| r.message_id.clone()).collect();
        assert_eq!(ids.len(), 3, "message ids are distinct");
        let standard = sqs().body("x").build();
        assert!(
            !standard.records[0]
                .attributes
                .contains_key("MessageGroupId")
        );
        assert_eq!(
            standard.records[0].event_source_arn.as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:my-queue")
        );
    }

    #[test]
    fn kinesis_records_carry_their_data_decoded() {
        let event = kinesis()
            .record("user-1", br#"{"page":"/"}"#)
            .record("user-2", [0xff, 0])
            .build();
        assert_eq!(event.records.len(), 2);
        let first = event.records[0].decoded().expect("decodes");
        assert_eq!(first.data(), br#"{"page":"/"}"#);
        assert_eq!(first.partition_key(), "user-1");
        assert_eq!(event.records[1].decoded().unwrap().data(), [0xff, 0]);
        assert!(event.records[0].sequence_number() < event.records[1].sequence_number());
    }

    #[test]
    fn s3_keys_are_url_encoded_as_s3_sends_them() {
        let event = s3("photos")
            .put("2026/a b+c.jpg", 1024)
            .delete("old.jpg")
            .build();
        let first = &event.records[0];
        assert_eq!(first.s3.object.key.as_deref(), Some("2026/a+b%2Bc.jpg"));
        assert_eq!(
            s3::decode_key(first.s3.object.key.as_deref().unwrap()).unwrap(),
            "2026/a b+c.jpg"
        );
        assert_eq!(first.s3.object.size, Some(1024));
        assert_eq!(
            event.records[1].event_name.as_deref(),
            Some("ObjectRemoved:Delete")
        );
    }

    #[test]
    fn alb_requests_in_both_header_modes() {
        let single = alb("POST", "/orders")
            .query("q", "a b")
            .header("Content-Type", "application/json")
            .body("{}")
            .build();
        assert_eq!(single.query_string_parameters.first("q"), Some("a+b"));
        assert_eq!(single.headers["content-type"], "application/json");
        assert_eq!(single.body.as_deref(), Some("{}"));
        let multi = alb("GET", "/")
            .query("tag", "x")
            .query("tag", "y")
            .multi_value()
            .body(vec![0xff])
            .build();
        assert_eq!(
            multi.multi_value_query_string_parameters.all("tag"),
            Some(vec!["x", "y"])
        );
        assert!(multi.is_base64_encoded);
    }
}
