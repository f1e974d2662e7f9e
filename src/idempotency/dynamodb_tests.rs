//! The DynamoDB store against moto's DynamoDB API (`moto_server` on 127.0.0.1). Needs
//! `pip install 'moto[server]'`; runs with the `idempotency-dynamodb` feature:
//! `cargo test -p lamina-lambda --features idempotency-dynamodb --lib idempotency::dynamodb`.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use super::*;
use crate::Error;
use crate::context::Context;
use crate::idempotency::{Idempotency, IdempotencyError};
use crate::testing::moto::Moto;

const T0: u64 = 1_764_400_000_000;
const TABLE: &str = "idempotency";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn table(moto: &Moto) -> DynamoDbStore {
    let store = DynamoDbStore::from_lookup(moto.env("AWS_ENDPOINT_URL_DYNAMODB"), TABLE).unwrap();
    store
        .client()
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the table in moto");
    store
}

fn ctx(now_ms: u64) -> Context {
    crate::testing::context()
        .function_name("charge")
        .deadline_ms(now_ms + 30_000)
        .build()
}

fn with_clock<S: Store>(store: S, clock: &Arc<AtomicU64>) -> Idempotency<S> {
    let clock = Arc::clone(clock);
    Idempotency::new(store)
        .enabled()
        .with_clock(move || clock.load(Ordering::SeqCst))
}

async fn item(store: &DynamoDbStore, key: &str) -> Option<Record> {
    let got = store
        .client()
        .get_item()
        .table_name(TABLE)
        .key("id", AttributeValue::S(key.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    got.item().map(|item| store.record(item).unwrap())
}

#[test]
fn records_follow_the_powertools_lifecycle_in_dynamodb() {
    let moto = Moto::start();
    runtime().block_on(async {
        let store = table(&moto).await;
        let clock = Arc::new(AtomicU64::new(T0));
        let idem = with_clock(store.clone(), &clock).expires_after(Duration::from_secs(60));
        let runs = AtomicUsize::new(0);
        let call = |answer: Result<u32, &'static str>| {
            let now = clock.load(Ordering::SeqCst);
            let runs = &runs;
            let idem = &idem;
            async move {
                idem.key("p-1")
                    .validate("100 cents")
                    .run(&ctx(now), || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        answer.map_err(|m| Error::new("Charge.Declined", m))
                    })
                    .await
            }
        };
        let key = format!("charge#{}", crate::idempotency::key::hash("p-1").unwrap());

        // A failure deletes the record.
        assert_eq!(
            call(Err("declined")).await.unwrap_err().error_type(),
            "Charge.Declined"
        );
        assert_eq!(item(&store, &key).await, None);

        // Success stores the response in Powertools' layout.
        assert_eq!(call(Ok(7)).await.unwrap(), 7);
        let record = item(&store, &key).await.expect("the record");
        assert_eq!(record.status, Status::Completed);
        assert_eq!(record.response.as_deref(), Some("7"));
        assert_eq!(record.expires_at, T0 / 1000 + 60);
        assert_eq!(
            record.validation,
            Some(crate::idempotency::key::hash("100 cents").unwrap())
        );
        let raw = store
            .client()
            .get_item()
            .table_name(TABLE)
            .key("id", AttributeValue::S(key.clone()))
            .send()
            .await
            .unwrap();
        let mut names: Vec<&String> = raw.item().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["data", "expiration", "id", "status", "validation"]);

        // A duplicate gets it without running; another payload under the key is refused.
        assert_eq!(call(Ok(8)).await.unwrap(), 7);
        let mismatch = idem
            .key("p-1")
            .validate("999 cents")
            .run(&ctx(T0), || async { Ok::<u32, Error>(1) })
            .await
            .unwrap_err();
        assert_eq!(mismatch.error_type(), "Idempotency.PayloadMismatch");
        assert_eq!(runs.load(Ordering::SeqCst), 2);

        // Expired, the next call runs again: DynamoDB's condition agrees with `is_live`.
        clock.store(T0 + 60_000, Ordering::SeqCst);
        assert_eq!(call(Ok(9)).await.unwrap(), 9);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn an_attempt_that_never_finished_lapses_at_its_deadline_in_dynamodb() {
    let moto = Moto::start();
    runtime().block_on(async {
        let store = table(&moto).await;
        let in_progress = Record {
            key: "charge#abc".to_owned(),
            status: Status::InProgress,
            expires_at: T0 / 1000 + 3600,
            in_progress_until_ms: Some(T0 + 30_000),
            response: None,
            validation: None,
            attempt: Some("first".to_owned()),
        };
        assert_eq!(store.begin(&in_progress, T0).await.unwrap(), None);
        let retry = Record {
            in_progress_until_ms: Some(T0 + 60_000),
            attempt: Some("retry".to_owned()),
            ..in_progress.clone()
        };
        // Before the deadline the live record comes back; at it, the retry takes over.
        assert_eq!(
            store.begin(&retry, T0 + 29_999).await.unwrap(),
            Some(in_progress)
        );
        assert_eq!(store.begin(&retry, T0 + 30_000).await.unwrap(), None);
        assert_eq!(item(&store, "charge#abc").await, Some(retry));
    });
}

#[test]
fn a_late_attempt_cannot_touch_its_successors_record_in_dynamodb() {
    let moto = Moto::start();
    runtime().block_on(async {
        let store = table(&moto).await;
        crate::idempotency::tests::late_attempts_leave_their_successors_record_alone(store).await;
    });
}

#[test]
fn concurrent_duplicates_from_several_tasks_run_the_work_once() {
    let moto = Moto::start_serialized();
    runtime().block_on(async {
        let store = table(&moto).await;
        let idem = Arc::new(Idempotency::new(store).enabled());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (idem, runs) = (Arc::clone(&idem), Arc::clone(&runs));
            tasks.spawn(async move {
                let now = crate::context::epoch_ms_now();
                idem.key("order-42")
                    .run(&ctx(now), || async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        Ok::<_, Error>("charged".to_owned())
                    })
                    .await
                    .map_err(|e| e.error_type().to_owned())
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = tasks.join_next().await {
            outcomes.push(done.unwrap());
        }
        outcomes.sort();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let mut expected = vec![Err("Idempotency.AlreadyInProgress".to_owned()); 7];
        expected.push(Ok("charged".to_owned()));
        expected.sort();
        assert_eq!(outcomes, expected);
        // Once it completed, a duplicate gets the response.
        let again = idem
            .key("order-42")
            .run(&ctx(crate::context::epoch_ms_now()), || async {
                Ok::<_, Error>("twice".to_owned())
            })
            .await
            .unwrap();
        assert_eq!(again, "charged");
    });
}

/// The child of [`concurrent_duplicates_from_several_processes_run_the_work_once`]: one call
/// against the table at `LAMINA_TEST_DYNAMODB`, printing its outcome.
#[test]
#[ignore = "a child process of the multi-process test, not a test of its own"]
fn child_process_of_the_multi_process_test() {
    let endpoint = std::env::var("LAMINA_TEST_DYNAMODB").expect("run by the parent test");
    let env = |key: &str| {
        Some(match key {
            "AWS_REGION" => "us-east-1".to_owned(),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => "testing".to_owned(),
            "AWS_ENDPOINT_URL_DYNAMODB" => endpoint.clone(),
            _ => return None,
        })
    };
    let idem = Idempotency::new(DynamoDbStore::from_lookup(env, TABLE).unwrap()).enabled();
    let outcome = runtime().block_on(async {
        idem.key("order-7")
            .run(&ctx(crate::context::epoch_ms_now()), || async {
                println!("OUTCOME ran");
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Ok::<_, Error>(7u32)
            })
            .await
    });
    match outcome {
        Ok(value) => println!("OUTCOME ok {value}"),
        Err(err) => println!("OUTCOME err {}", err.error_type()),
    }
}

#[test]
fn concurrent_duplicates_from_several_processes_run_the_work_once() {
    let moto = Moto::start_serialized();
    runtime().block_on(table(&moto));
    // All four start before any is waited for; each holds the record for 1.5 s once it has it.
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--ignored",
                    "--exact",
                    "idempotency::dynamodb::tests::child_process_of_the_multi_process_test",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("LAMINA_TEST_DYNAMODB", moto.url())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a child")
        })
        .collect();
    let mut outcomes: Vec<String> = children
        .into_iter()
        .map(|child| child.wait_with_output().expect("a child's output"))
        .flat_map(|child| {
            assert!(
                child.status.success(),
                "{}",
                String::from_utf8_lossy(&child.stderr)
            );
            String::from_utf8_lossy(&child.stdout)
                .lines()
                // The harness's `test … ` may start the line.
                .filter_map(|l| l.split_once("OUTCOME ").map(|(_, o)| o.trim().to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    outcomes.sort();
    let ran = outcomes.iter().filter(|o| *o == "ran").count();
    assert_eq!(ran, 1, "{outcomes:?}");
    let answered: Vec<&String> = outcomes.iter().filter(|o| *o != "ran").collect();
    assert_eq!(answered.len(), 4, "{outcomes:?}");
    assert!(
        answered
            .iter()
            .all(|o| *o == "ok 7" || *o == "err Idempotency.AlreadyInProgress"),
        "{outcomes:?}"
    );
    // They did overlap: some child met the record in progress.
    assert!(
        answered
            .iter()
            .any(|o| *o == "err Idempotency.AlreadyInProgress"),
        "{outcomes:?}"
    );
}

#[test]
fn a_store_that_is_down_fails_the_call_without_running_the_work() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let env = |key: &str| {
        Some(match key {
            "AWS_REGION" => "us-east-1".to_owned(),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => "testing".to_owned(),
            "AWS_ENDPOINT_URL" => url.clone(),
            _ => return None,
        })
    };
    let idem = Idempotency::new(DynamoDbStore::from_lookup(env, TABLE).unwrap()).enabled();
    let runs = AtomicUsize::new(0);
    let err = runtime()
        .block_on(idem.key("p-1").run(&ctx(T0), || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Error>(1u32)
        }))
        .unwrap_err();
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(err.error_type(), "Idempotency.StoreUnavailable");
    assert!(matches!(
        IdempotencyError::of(&err),
        Some(IdempotencyError::Store(_))
    ));
    let message = err.message();
    assert!(
        message.starts_with(
            "the idempotency store failed, so the work was not run or its result not recorded: \
             DynamoDB PutItem on table `idempotency` failed: "
        ),
        "{message}"
    );
}

#[test]
fn an_item_the_store_did_not_write_is_a_clear_error() {
    let moto = Moto::start();
    runtime().block_on(async {
        let store = table(&moto).await;
        store
            .client()
            .put_item()
            .table_name(TABLE)
            .item("id", AttributeValue::S("charge#x".to_owned()))
            .item("status", AttributeValue::S("PENDING".to_owned()))
            .item(
                "expiration",
                AttributeValue::N((T0 / 1000 + 60).to_string()),
            )
            .send()
            .await
            .unwrap();
        let record = Record {
            key: "charge#x".to_owned(),
            status: Status::InProgress,
            expires_at: T0 / 1000 + 60,
            in_progress_until_ms: Some(T0 + 1000),
            response: None,
            validation: None,
            attempt: Some("mine".to_owned()),
        };
        // PENDING is not INPROGRESS, so the condition refuses the write and returns the item.
        let err = store.begin(&record, T0).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the idempotency item in table `idempotency` has no valid `status`; was it written \
             by something else?"
        );
    });
}

#[test]
fn the_environment_must_name_a_region_and_credentials() {
    let err = DynamoDbStore::from_lookup(|_| None, TABLE).unwrap_err();
    assert_eq!(err, ConfigError::MissingRegion);
    let region_only = |k: &str| (k == "AWS_REGION").then(|| "eu-west-1".to_owned());
    let err = DynamoDbStore::from_lookup(region_only, TABLE).unwrap_err();
    assert_eq!(err, ConfigError::MissingCredentials);
}

/// A container credentials endpoint on 127.0.0.1, as Lambda and ECS serve one: answers each
/// `GET` with fresh keys expiring `expires_in` from now (or `500` when `expires_in` is zero),
/// and counts the fetches and the `Authorization` headers they carried.
struct CredentialsEndpoint {
    url: String,
    fetches: Arc<std::sync::Mutex<Vec<String>>>,
    expires_in: Arc<AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl CredentialsEndpoint {
    fn start() -> CredentialsEndpoint {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!(
            "http://{}/v2/credentials/abc",
            listener.local_addr().unwrap()
        );
        let fetches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let expires_in = Arc::new(AtomicU64::new(3600));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, expiry, stopped) = (fetches.clone(), expires_in.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: the test drops the endpoint, or a minute passes.
            let until = std::time::Instant::now() + Duration::from_secs(60);
            while !stopped.load(Ordering::SeqCst) && std::time::Instant::now() < until {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(stream);
                let mut authorization = String::new();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some(value) = line.strip_prefix("Authorization: ") {
                        authorization = value.trim().to_owned();
                    }
                    line.clear();
                }
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(authorization);
                    seen.len()
                };
                let secs = expiry.load(Ordering::SeqCst);
                let (status, body) = if secs == 0 {
                    ("500 Internal Server Error", "role not found".to_owned())
                } else {
                    let at = std::time::SystemTime::now() + Duration::from_secs(secs);
                    let at = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                    let (days, rest) = (at / 86_400, at % 86_400);
                    let (y, m, d) = civil_from_days(days as i64);
                    let expiration = format!(
                        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                        rest / 3600,
                        rest / 60 % 60,
                        rest % 60
                    );
                    (
                        "200 OK",
                        format!(
                            r#"{{"AccessKeyId":"AKID{n}","SecretAccessKey":"secret{n}","Token":"token{n}","Expiration":"{expiration}","RoleArn":"arn:aws:iam::123456789012:role/fn"}}"#
                        ),
                    )
                };
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        CredentialsEndpoint {
            url,
            fetches,
            expires_in,
            stop,
        }
    }

    fn fetches(&self) -> Vec<String> {
        self.fetches.lock().unwrap().clone()
    }

    /// A store whose client takes its credentials from this endpoint, against `moto`.
    fn store(&self, moto: &Moto) -> DynamoDbStore {
        let env = |key: &str| {
            Some(match key {
                "AWS_REGION" => "us-east-1".to_owned(),
                "AWS_CONTAINER_CREDENTIALS_FULL_URI" => self.url.clone(),
                "AWS_CONTAINER_AUTHORIZATION_TOKEN" => "endpoint-token-7".to_owned(),
                "AWS_ENDPOINT_URL_DYNAMODB" => moto.url().to_owned(),
                _ => return None,
            })
        };
        DynamoDbStore::from_lookup(env, TABLE).unwrap()
    }
}

impl Drop for CredentialsEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[test]
fn container_credentials_are_fetched_and_fetched_again_near_their_expiry() {
    let moto = Moto::start();
    let endpoint = CredentialsEndpoint::start();
    runtime().block_on(async {
        let _ = table(&moto).await;
        let record = |key: &str| Record {
            key: key.to_owned(),
            status: Status::InProgress,
            expires_at: T0 / 1000 + 3600,
            in_progress_until_ms: Some(T0 + 30_000),
            response: None,
            validation: None,
            attempt: Some("a".to_owned()),
        };
        // Keys good for an hour: fetched once, then the SDK's cache serves every call.
        let store = endpoint.store(&moto);
        for key in ["charge#1", "charge#2", "charge#3"] {
            assert_eq!(store.begin(&record(key), T0).await.unwrap(), None);
        }
        assert_eq!(endpoint.fetches().len(), 1);

        // Keys that expire in 5 s are inside the SDK's refresh window: fetched again each call.
        endpoint.expires_in.store(5, Ordering::SeqCst);
        let store = endpoint.store(&moto);
        for key in ["charge#4", "charge#5"] {
            assert_eq!(store.begin(&record(key), T0).await.unwrap(), None);
        }
        assert_eq!(endpoint.fetches().len(), 3, "fetched again near the expiry");
        assert!(
            endpoint.fetches().iter().all(|a| a == "endpoint-token-7"),
            "{:?}",
            endpoint.fetches()
        );

        // An endpoint that fails is a store error that names it.
        endpoint.expires_in.store(0, Ordering::SeqCst);
        let err = store.begin(&record("charge#6"), T0).await.unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(
            chain.contains(&format!(
                "the container credentials endpoint {} answered 500: role not found",
                endpoint.url
            )),
            "{chain}"
        );
    });
}
