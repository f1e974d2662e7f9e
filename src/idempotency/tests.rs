use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::*;

const T0: u64 = 1_764_400_000_000;

/// A clock the test moves.
#[derive(Clone)]
struct Clock(Arc<AtomicU64>);

impl Clock {
    fn new() -> Clock {
        Clock(Arc::new(AtomicU64::new(T0)))
    }
    fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn idempotency<S: Store>(store: S, clock: &Clock) -> Idempotency<S> {
    let clock = clock.clone();
    Idempotency::new(store)
        .enabled()
        .with_clock(move || clock.now())
}

/// A context whose deadline is 30 s after `clock`'s now.
fn ctx(clock: &Clock) -> Context {
    crate::testing::context()
        .function_name("charge")
        .deadline_ms(clock.now() + 30_000)
        .build()
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(future)
}

/// Runs a call keyed by `key` whose work counts itself in `runs` and answers `answer`.
async fn charge<S: Store>(
    idempotency: &Idempotency<S>,
    ctx: &Context,
    key: &str,
    runs: &Cell<u32>,
    answer: Result<u32, &str>,
) -> Result<u32, Error> {
    idempotency
        .key(key)
        .run(ctx, || async {
            runs.set(runs.get() + 1);
            answer.map_err(|m| Error::new("Charge.Declined", m))
        })
        .await
}

fn error_type(result: Result<u32, Error>) -> String {
    result.unwrap_err().error_type().to_owned()
}

#[test]
fn a_duplicate_of_a_completed_call_gets_its_response_without_running() {
    let clock = Clock::new();
    let idem = idempotency(MemoryStore::default(), &clock);
    let runs = Cell::new(0);
    let ctx = ctx(&clock);
    assert_eq!(
        block_on(charge(&idem, &ctx, "p-1", &runs, Ok(7))).unwrap(),
        7
    );
    assert_eq!(
        block_on(charge(&idem, &ctx, "p-1", &runs, Ok(8))).unwrap(),
        7
    );
    assert_eq!(runs.get(), 1);
    assert_eq!(
        block_on(charge(&idem, &ctx, "p-2", &runs, Ok(9))).unwrap(),
        9
    );
    assert_eq!(runs.get(), 2);
    let key = format!("charge#{}", key::hash("p-1").unwrap());
    let record = idem.store().get(&key).expect("the record");
    assert_eq!(record.status, Status::Completed);
    assert_eq!(record.response.as_deref(), Some("7"));
    assert_eq!(record.expires_at, T0 / 1000 + 3600);
    assert_eq!(record.in_progress_until_ms, None);
}

#[test]
fn a_duplicate_while_the_first_runs_fails_as_in_progress_and_retryable() {
    let clock = Clock::new();
    let idem = idempotency(MemoryStore::default(), &clock);
    let ctx = ctx(&clock);
    let first_started = AtomicBool::new(false);
    let (first, second) = block_on(async {
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        let first = idem.key("p-1").run(&ctx, || async {
            first_started.store(true, Ordering::SeqCst);
            hold.await.ok();
            Ok::<_, Error>(1)
        });
        let second = async {
            tokio::task::yield_now().await;
            assert!(first_started.load(Ordering::SeqCst));
            let second = idem
                .key("p-1")
                .run(&ctx, || async { Ok::<_, Error>(2) })
                .await;
            release.send(()).unwrap();
            second
        };
        tokio::join!(first, second)
    });
    assert_eq!(first.unwrap(), 1);
    let err = second.unwrap_err();
    assert_eq!(err.error_type(), "Idempotency.AlreadyInProgress");
    assert!(matches!(
        IdempotencyError::of(&err),
        Some(IdempotencyError::AlreadyInProgress { retry_in, .. }) if *retry_in == Duration::from_secs(30)
    ));
    assert_eq!(
        err.message(),
        format!(
            "another attempt with idempotency key charge#{} is in progress; retry after it ends \
             (at the latest in 30000 ms, its deadline)",
            key::hash("p-1").unwrap()
        )
    );
}

#[test]
fn an_attempt_that_never_finished_lapses_at_its_deadline() {
    let clock = Clock::new();
    let idem = idempotency(MemoryStore::default(), &clock);
    let ctx = ctx(&clock);
    // The first attempt is dropped mid-work, as the deadline guard or a crash would end it.
    block_on(async {
        let attempt = idem
            .key("p-1")
            .run(&ctx, std::future::pending::<Result<u32, Error>>);
        tokio::select! {
            _ = attempt => unreachable!(),
            () = tokio::task::yield_now() => {}
        }
    });
    let runs = Cell::new(0);
    clock.advance(Duration::from_secs(29));
    let retry_ctx = ctx.clone();
    assert_eq!(
        error_type(block_on(charge(&idem, &retry_ctx, "p-1", &runs, Ok(3)))),
        "Idempotency.AlreadyInProgress"
    );
    clock.advance(Duration::from_secs(2));
    let later = self::ctx(&clock);
    assert_eq!(
        block_on(charge(&idem, &later, "p-1", &runs, Ok(3))).unwrap(),
        3
    );
    assert_eq!(runs.get(), 1);
}

#[test]
fn a_failed_attempt_deletes_its_record_so_the_retry_runs() {
    let clock = Clock::new();
    let idem = idempotency(MemoryStore::default(), &clock);
    let ctx = ctx(&clock);
    let runs = Cell::new(0);
    let err = block_on(charge(&idem, &ctx, "p-1", &runs, Err("card declined"))).unwrap_err();
    assert_eq!(err.error_type(), "Charge.Declined");
    assert!(idem.store().is_empty());
    assert_eq!(
        block_on(charge(&idem, &ctx, "p-1", &runs, Ok(5))).unwrap(),
        5
    );
    assert_eq!(runs.get(), 2);
}

#[test]
fn a_completed_record_expires() {
    let clock = Clock::new();
    let idem = idempotency(MemoryStore::default(), &clock).expires_after(Duration::from_secs(60));
    let runs = Cell::new(0);
    assert_eq!(
        block_on(charge(&idem, &ctx(&clock), "p-1", &runs, Ok(1))).unwrap(),
        1
    );
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        block_on(charge(&idem, &ctx(&clock), "p-1", &runs, Ok(2))).unwrap(),
        1
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        block_on(charge(&idem, &ctx(&clock), "p-1", &runs, Ok(2))).unwrap(),
        2
    );
    assert_eq!(runs.get(), 2);
}

#[test]
fn a_reused_key_with_another_payload_is_refused_when_validated() {
    let clock = Clock::new();
    let idem = idempotency(MemoryStore::default(), &clock);
    let ctx = ctx(&clock);
    let run = |cents: u64| {
        block_on(
            idem.key("p-1")
                .validate(&cents)
                .run(&ctx, || async move { Ok::<_, Error>(cents) }),
        )
    };
    assert_eq!(run(100).unwrap(), 100);
    assert_eq!(run(100).unwrap(), 100);
    let err = run(250).unwrap_err();
    assert_eq!(err.error_type(), "Idempotency.PayloadMismatch");
    assert!(
        err.message()
            .contains("was used before for a different payload"),
        "{}",
        err.message()
    );
}

/// A store whose every operation can be made to fail, and which counts `begin` calls.
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    down: AtomicBool,
    complete_down: AtomicBool,
    begins: AtomicUsize,
}

impl Store for Flaky {
    async fn begin(&self, record: &Record, now_ms: u64) -> Result<Option<Record>, StoreError> {
        self.begins.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::with_source(
                "DynamoDB PutItem failed",
                std::io::Error::other("connection refused"),
            ));
        }
        self.inner.begin(record, now_ms).await
    }
    async fn complete(&self, in_progress: &Record, done: &Record) -> Result<Written, StoreError> {
        if self.complete_down.load(Ordering::SeqCst) {
            return Err(StoreError::new("DynamoDB PutItem failed: throttled"));
        }
        self.inner.complete(in_progress, done).await
    }
    async fn delete(&self, in_progress: &Record) -> Result<Written, StoreError> {
        self.inner.delete(in_progress).await
    }
}

#[test]
fn a_store_that_is_down_fails_the_call_without_running_the_work() {
    let clock = Clock::new();
    let idem = idempotency(Flaky::default(), &clock);
    idem.store().down.store(true, Ordering::SeqCst);
    let runs = Cell::new(0);
    let err = block_on(charge(&idem, &ctx(&clock), "p-1", &runs, Ok(1))).unwrap_err();
    assert_eq!(runs.get(), 0);
    assert_eq!(err.error_type(), "Idempotency.StoreUnavailable");
    assert_eq!(
        err.message(),
        "the idempotency store failed, so the work was not run or its result not recorded: \
         DynamoDB PutItem failed: connection refused"
    );

    // Up for `begin`, down for `complete`: the work ran, the call fails, nothing is completed,
    // and retries wait for the attempt's deadline.
    idem.store().down.store(false, Ordering::SeqCst);
    idem.store().complete_down.store(true, Ordering::SeqCst);
    let err = block_on(charge(&idem, &ctx(&clock), "p-1", &runs, Ok(1))).unwrap_err();
    assert_eq!(runs.get(), 1);
    assert_eq!(err.error_type(), "Idempotency.StoreUnavailable");
    let key = format!("charge#{}", key::hash("p-1").unwrap());
    assert_eq!(
        idem.store().inner.get(&key).unwrap().status,
        Status::InProgress
    );
}

#[test]
fn the_local_cache_answers_a_warm_duplicate_without_the_store() {
    let clock = Clock::new();
    let idem = idempotency(Flaky::default(), &clock).local_cache(2);
    let runs = Cell::new(0);
    let ctx = ctx(&clock);
    for key in ["a", "a", "a", "b", "c", "a"] {
        block_on(charge(&idem, &ctx, key, &runs, Ok(1))).unwrap();
    }
    // a (store), a, a (cache), b, c (store; a evicted), a (store: a completed record).
    assert_eq!(idem.store().begins.load(Ordering::SeqCst), 4);
    assert_eq!(runs.get(), 3);
}

#[test]
fn disabled_runs_every_call() {
    let clock = Clock::new();
    let mut idem = idempotency(MemoryStore::default(), &clock);
    idem.disabled = true;
    let runs = Cell::new(0);
    for _ in 0..3 {
        block_on(charge(&idem, &ctx(&clock), "p-1", &runs, Ok(1))).unwrap();
    }
    assert_eq!(runs.get(), 3);
    assert!(idem.store().is_empty());
}

#[test]
fn scopes_and_response_types() {
    let clock = Clock::new();
    let store = MemoryStore::default();
    let idem = idempotency(store, &clock).scope("payments");
    let ctx = ctx(&clock);
    let first: Vec<String> = block_on(
        idem.key(&serde_json::json!({"id": 1}))
            .run(&ctx, || async { Ok::<_, Error>(vec!["a".to_owned()]) }),
    )
    .unwrap();
    assert_eq!(first, ["a"]);
    assert!(
        idem.store()
            .get(&format!(
                "payments#{}",
                key::hash(&serde_json::json!({"id": 1})).unwrap()
            ))
            .is_some()
    );
    // The same key read back as another type: a clear error, not a wrong value.
    let err = block_on(
        idem.key(&serde_json::json!({"id": 1}))
            .run(&ctx, || async { Ok::<_, Error>(5u32) }),
    )
    .unwrap_err();
    assert_eq!(err.error_type(), "Idempotency.InvalidResponse");

    // Review finding: serde's message quoted the stored response, so a card number stored as
    // the response appeared in the caller's error and the logs.
    let card: String = block_on(idem.key(&serde_json::json!({"id": 2})).run(&ctx, || async {
        Ok::<_, Error>("4111111111111111".to_owned())
    }))
    .unwrap();
    assert_eq!(card, "4111111111111111");
    let err = block_on(
        idem.key(&serde_json::json!({"id": 2}))
            .run(&ctx, || async { Ok::<_, Error>(5u32) }),
    )
    .unwrap_err();
    assert_eq!(err.error_type(), "Idempotency.InvalidResponse");
    let key = format!(
        "payments#{}",
        key::hash(&serde_json::json!({"id": 2})).unwrap()
    );
    assert_eq!(
        err.message(),
        format!(
            "the stored response of idempotency key {key} does not decode into `u32` (line 1, \
             column 18); if the response type changed, the stored responses expire with their \
             records"
        )
    );
}

#[cfg(feature = "events")]
#[test]
fn in_an_sqs_batch_a_duplicate_message_is_skipped_not_the_batch() {
    use crate::events::sqs::{self, SqsEvent};

    let clock = Clock::new();
    let idem = idempotency(MemoryStore::default(), &clock);
    let ctx = ctx(&clock);
    let message = |id: &str, order: &str| serde_json::json!({"messageId": id, "body": format!("{{\"order\":\"{order}\"}}"), "eventSource": "aws:sqs"});
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
        message("m1", "o-1"), message("m2", "o-2"), message("m3", "o-1"), message("m4", "o-3")
    ]}))
    .unwrap();
    let charged = std::cell::RefCell::new(Vec::new());
    #[derive(serde::Deserialize)]
    struct Order {
        order: String,
    }
    let response = block_on(sqs::process_json(event, |order: Order, _message| {
        let (idem, ctx, charged) = (&idem, &ctx, &charged);
        async move {
            idem.key(&order.order)
                .run(ctx, || async {
                    charged.borrow_mut().push(order.order.clone());
                    Ok::<_, Error>(())
                })
                .await
        }
    }))
    .unwrap();
    assert_eq!(*charged.borrow(), ["o-1", "o-2", "o-3"]);
    assert!(response.batch_item_failures.is_empty());
}

/// Attempt A's record lapses at its deadline while its work still runs (Managed Instances do not
/// stop a timed-out invocation), and attempt B takes the key over: A's late `complete`, and
/// A's late `delete` when it fails, must leave B's record alone. Run against each store.
pub(super) async fn late_attempts_leave_their_successors_record_alone<S: Store>(store: S) {
    let clock = Clock::new();
    let idem = idempotency(store, &clock);
    let runs = Cell::new(0);
    let key = format!("charge#{}", key::hash("p-1").unwrap());
    // B's attempt, begun once A's record has lapsed; it returns the record B saved.
    let takes_over = |attempt: &'static str| {
        let (idem, clock, key) = (&idem, &clock, &key);
        async move {
            clock.advance(Duration::from_secs(31));
            let record = Record {
                key: key.clone(),
                status: Status::InProgress,
                expires_at: (clock.now() + 3_600_000) / 1000,
                in_progress_until_ms: Some(clock.now() + 30_000),
                response: None,
                validation: None,
                attempt: Some(attempt.to_owned()),
            };
            let took = idem.store().begin(&record, clock.now()).await.unwrap();
            assert_eq!(took, None, "B takes over the lapsed record");
            record
        }
    };

    // A completes late: it answers its own caller, and B's record is untouched.
    let b = Cell::new(None);
    let a = idem
        .key("p-1")
        .run(&ctx(&clock), || async {
            runs.set(runs.get() + 1);
            b.set(Some(takes_over("attempt-b").await));
            Ok::<u32, Error>(1)
        })
        .await;
    let b = b.take().unwrap();
    assert_eq!(a.unwrap(), 1);
    let c = charge(&idem, &ctx(&clock), "p-1", &runs, Ok(3)).await;
    assert_eq!(
        error_type(c),
        "Idempotency.AlreadyInProgress",
        "A's late completion replaced B's record"
    );
    let b_done = Record {
        status: Status::Completed,
        in_progress_until_ms: None,
        response: Some("2".to_owned()),
        attempt: None,
        ..b.clone()
    };
    assert_eq!(
        idem.store().complete(&b, &b_done).await.unwrap(),
        Written::Done
    );
    assert_eq!(
        charge(&idem, &ctx(&clock), "p-1", &runs, Ok(3))
            .await
            .unwrap(),
        2
    );

    // A fails late: B's record stays, so a third attempt does not run beside B.
    clock.advance(Duration::from_secs(3_600));
    let b = Cell::new(None);
    let a = idem
        .key("p-1")
        .run(&ctx(&clock), || async {
            runs.set(runs.get() + 1);
            b.set(Some(takes_over("attempt-b2").await));
            Err::<u32, Error>(Error::new("Charge.Declined", "late"))
        })
        .await;
    let b = b.take().unwrap();
    assert_eq!(a.unwrap_err().error_type(), "Charge.Declined");
    let c = charge(&idem, &ctx(&clock), "p-1", &runs, Ok(3)).await;
    assert_eq!(
        error_type(c),
        "Idempotency.AlreadyInProgress",
        "A's late failure deleted B's record"
    );
    assert_eq!(runs.get(), 2, "only the two A attempts ran their work");
    assert_eq!(idem.store().delete(&b).await.unwrap(), Written::Done);
}

#[test]
fn a_late_attempt_cannot_touch_its_successors_record_in_memory() {
    block_on(late_attempts_leave_their_successors_record_alone(
        MemoryStore::default(),
    ));
}
