//! The DynamoDB [`Store`]: one item per key, written with conditional writes, expiring through a
//! TTL attribute. The item layout is Powertools', so functions in other languages can share the
//! table.
//!
//! The table needs a string partition key named `id` (or [`DynamoDbStore::key_attribute`]), and
//! TTL enabled on `expiration` so old records are removed (a record past its expiry already no
//! longer counts; TTL only cleans up). The function's role needs `dynamodb:PutItem`,
//! `dynamodb:GetItem` and `dynamodb:DeleteItem` on the table.
//!
//! | attribute | type | holds |
//! |---|---|---|
//! | `id` | S | the key (`scope#sha256`) |
//! | `status` | S | `INPROGRESS` or `COMPLETED` |
//! | `expiration` | N | seconds since the epoch (the TTL attribute) |
//! | `in_progress_expiration` | N | milliseconds since the epoch, while in progress |
//! | `data` | S | the response as JSON, once completed |
//! | `validation` | S | the payload validation hash, when there is one |
//! | `attempt` | S | while in progress, the token of the attempt that wrote it (lamina's own: completing and deleting are conditional on it; Powertools ignores it) |
//!
//! ```no_run
//! use lamina::idempotency::Idempotency;
//! use lamina::idempotency::dynamodb::DynamoDbStore;
//!
//! async fn init() -> Result<Idempotency<DynamoDbStore>, lamina::Error> {
//!     let table = std::env::var("IDEMPOTENCY_TABLE")?;
//!     Ok(Idempotency::new(DynamoDbStore::from_env(table)?))
//! }
//! ```

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

pub use crate::base::aws_env::ConfigError;

use super::store::{Record, Status, Store, StoreError, Written};

/// The bound on one DynamoDB call, retries included, so a store that hangs fails the call
/// instead of the invocation's whole time.
const TIMEOUT: Duration = Duration::from_secs(5);

/// How often `begin` tries again when the record it collided with vanished before it was read.
const BEGIN_ATTEMPTS: usize = 3;

const STATUS: &str = "status";
const EXPIRATION: &str = "expiration";
const IN_PROGRESS_EXPIRATION: &str = "in_progress_expiration";
const DATA: &str = "data";
const VALIDATION: &str = "validation";
const ATTEMPT: &str = "attempt";

/// The condition of `complete` and `delete`: the stored record is still the attempt's own.
const HELD_BY_THE_ATTEMPT: &str = "#status = :in_progress AND #attempt = :attempt";

/// Idempotency records in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    key_attribute: String,
}

impl DynamoDbStore {
    /// Records in `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDbStore {
        DynamoDbStore {
            client,
            table: table.into(),
            key_attribute: "id".to_owned(),
        }
    }

    /// Records in `table`, with a client configured from the environment as Lambda sets it: the
    /// region (`AWS_REGION`), the credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`; without them, the container credentials endpoint in
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN`, fetched again
    /// before they expire), and an endpoint override from `AWS_ENDPOINT_URL_DYNAMODB` or
    /// `AWS_ENDPOINT_URL`. Each call is bounded by 5 seconds.
    ///
    /// # Errors
    /// [`ConfigError`] when the region or the credentials are missing.
    pub fn from_env(table: impl Into<String>) -> Result<DynamoDbStore, ConfigError> {
        Self::from_lookup(crate::base::aws_env::process_var, table)
    }

    pub(crate) fn from_lookup(
        var: impl Fn(&str) -> Option<String>,
        table: impl Into<String>,
    ) -> Result<DynamoDbStore, ConfigError> {
        let env = crate::base::aws_env::read(var, "AWS_ENDPOINT_URL_DYNAMODB")?;
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(env.region))
            .credentials_provider(crate::base::aws_credentials::provider(env.credentials))
            .timeout_config(TimeoutConfig::builder().operation_timeout(TIMEOUT).build());
        if let Some(url) = env.endpoint {
            config = config.endpoint_url(url);
        }
        Ok(DynamoDbStore::new(Client::from_conf(config.build()), table))
    }

    /// Names the table's partition key attribute (default `id`).
    pub fn key_attribute(mut self, name: impl Into<String>) -> DynamoDbStore {
        self.key_attribute = name.into();
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn item(&self, record: &Record) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            (
                self.key_attribute.clone(),
                AttributeValue::S(record.key.clone()),
            ),
            (
                STATUS.to_owned(),
                AttributeValue::S(record.status.as_str().to_owned()),
            ),
            (
                EXPIRATION.to_owned(),
                AttributeValue::N(record.expires_at.to_string()),
            ),
        ]);
        if let Some(until) = record.in_progress_until_ms {
            item.insert(
                IN_PROGRESS_EXPIRATION.to_owned(),
                AttributeValue::N(until.to_string()),
            );
        }
        if let Some(data) = &record.response {
            item.insert(DATA.to_owned(), AttributeValue::S(data.clone()));
        }
        if let Some(validation) = &record.validation {
            item.insert(VALIDATION.to_owned(), AttributeValue::S(validation.clone()));
        }
        if let Some(attempt) = &record.attempt {
            item.insert(ATTEMPT.to_owned(), AttributeValue::S(attempt.clone()));
        }
        item
    }

    fn record(&self, item: &HashMap<String, AttributeValue>) -> Result<Record, StoreError> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
        };
        let malformed = |what: &str| {
            StoreError::new(format!(
                "the idempotency item in table `{}` has no valid `{what}`; was it written by \
                 something else?",
                self.table
            ))
        };
        Ok(Record {
            key: text(&self.key_attribute).ok_or_else(|| malformed(&self.key_attribute))?,
            status: text(STATUS)
                .as_deref()
                .and_then(Status::parse)
                .ok_or_else(|| malformed(STATUS))?,
            expires_at: number(EXPIRATION).ok_or_else(|| malformed(EXPIRATION))?,
            in_progress_until_ms: number(IN_PROGRESS_EXPIRATION),
            response: text(DATA),
            validation: text(VALIDATION),
            attempt: text(ATTEMPT),
        })
    }

    /// What a write conditional on the attempt's token did: done, refused by the condition
    /// (the record is another attempt's), or failed.
    fn written<O, E, R>(
        &self,
        operation: &str,
        sent: Result<O, SdkError<E, R>>,
        refused: fn(&E) -> bool,
    ) -> Result<Written, StoreError>
    where
        SdkError<E, R>: std::error::Error + Send + Sync + 'static,
    {
        match sent {
            Ok(_) => Ok(Written::Done),
            Err(err) if err.as_service_error().is_some_and(refused) => Ok(Written::Superseded),
            Err(err) => Err(self.failed(operation, err)),
        }
    }

    fn failed(
        &self,
        operation: &str,
        err: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::with_source(
            format!("DynamoDB {operation} on table `{}` failed", self.table),
            aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
        )
    }
}

impl Store for DynamoDbStore {
    async fn begin(&self, record: &Record, now_ms: u64) -> Result<Option<Record>, StoreError> {
        for _ in 0..BEGIN_ATTEMPTS {
            // Written unless a live record has the key: one that has not expired and, in
            // progress, has not passed its attempt's deadline (`Record::is_live`).
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(self.item(record)))
                .condition_expression(
                    "attribute_not_exists(#id) OR #expiration <= :now \
                     OR (#status = :in_progress AND #in_progress_expiration <= :now_ms)",
                )
                .expression_attribute_names("#id", &self.key_attribute)
                .expression_attribute_names("#expiration", EXPIRATION)
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#in_progress_expiration", IN_PROGRESS_EXPIRATION)
                .expression_attribute_values(":now", AttributeValue::N((now_ms / 1000).to_string()))
                .expression_attribute_values(":now_ms", AttributeValue::N(now_ms.to_string()))
                .expression_attribute_values(
                    ":in_progress",
                    AttributeValue::S(Status::InProgress.as_str().to_owned()),
                )
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match put {
                Ok(_) => return Ok(None),
                Err(err) => err,
            };
            let Some(service) = err
                .as_service_error()
                .filter(|e| e.is_conditional_check_failed_exception())
            else {
                return Err(self.failed("PutItem", err));
            };
            // Not a let chain: those need Rust 1.88, and the crate's rust-version is 1.85.
            let winner = match service {
                PutItemError::ConditionalCheckFailedException(failed) => failed.item(),
                _ => None,
            };
            if let Some(item) = winner {
                return self.record(item).map(Some);
            }
            // No item in the refusal: read the record that won.
            let got = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(&self.key_attribute, AttributeValue::S(record.key.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.failed("GetItem", e))?;
            if let Some(item) = got.item() {
                return self.record(item).map(Some);
            }
            // Deleted in between (its attempt failed): try to write ours again.
        }
        Err(StoreError::new(format!(
            "DynamoDB PutItem on table `{}` kept colliding with a record that vanished before it \
             could be read",
            self.table
        )))
    }

    async fn complete(
        &self,
        in_progress: &Record,
        completed: &Record,
    ) -> Result<Written, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(completed)))
            .condition_expression(HELD_BY_THE_ATTEMPT)
            .set_expression_attribute_names(Some(held_names()))
            .set_expression_attribute_values(Some(held_values(in_progress)))
            .send()
            .await;
        self.written(
            "PutItem",
            put,
            PutItemError::is_conditional_check_failed_exception,
        )
    }

    async fn delete(&self, in_progress: &Record) -> Result<Written, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(
                &self.key_attribute,
                AttributeValue::S(in_progress.key.clone()),
            )
            .condition_expression(HELD_BY_THE_ATTEMPT)
            .set_expression_attribute_names(Some(held_names()))
            .set_expression_attribute_values(Some(held_values(in_progress)))
            .send()
            .await;
        self.written(
            "DeleteItem",
            deleted,
            DeleteItemError::is_conditional_check_failed_exception,
        )
    }
}

fn held_names() -> HashMap<String, String> {
    HashMap::from([
        ("#status".to_owned(), STATUS.to_owned()),
        ("#attempt".to_owned(), ATTEMPT.to_owned()),
    ])
}

fn held_values(in_progress: &Record) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            ":in_progress".to_owned(),
            AttributeValue::S(Status::InProgress.as_str().to_owned()),
        ),
        (
            ":attempt".to_owned(),
            AttributeValue::S(in_progress.attempt.clone().unwrap_or_default()),
        ),
    ])
}

#[cfg(test)]
#[path = "dynamodb_tests.rs"]
mod tests;
