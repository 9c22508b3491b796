//! Starting the real router on 127.0.0.1:0 with its own database.

use malipo::{clients, config::Config};
use serde_json::{Value, json};
use sqlx::PgPool;

/// A running API with one client key and one operator key.
pub struct TestApp {
    /// Base URL.
    pub base: String,
    /// The app's database.
    pub pool: PgPool,
    /// A client API key.
    pub key: String,
    /// HTTP client.
    pub http: reqwest::Client,
    _app: malipo_testing::TestApp,
}

/// Starts the API with default configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the API after `adjust` edits the configuration. Intents may name any provider: no
/// job runs here, only the front is under test.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let app = malipo_testing::TestApp::builder()
        .every_provider_allowed()
        .config(adjust)
        .start()
        .await
        .expect("app");
    let key = clients::create(&app.pool, "test-client", "client", 150)
        .await
        .expect("client")
        .key;
    TestApp {
        base: app.base.clone(),
        pool: app.pool.clone(),
        key,
        http: reqwest::Client::new(),
        _app: app,
    }
}

impl TestApp {
    /// POSTs `body` (raw) to `/v1/intents` with the client key and `idempotency_key`.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/v1/intents", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json");
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        request.body(body).send().await.expect("request")
    }

    /// POSTs a JSON intent.
    pub async fn create(&self, body: &Value, idempotency_key: &str) -> reqwest::Response {
        self.post_raw(body.to_string(), Some(idempotency_key)).await
    }

    /// Counts rows in `table`.
    pub async fn rows(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// Asserts nothing was written by a rejected request.
    pub async fn assert_nothing_written(&self) {
        assert_eq!(self.rows("intents").await, 0, "no intent written");
        assert_eq!(self.rows("malipo_jobs").await, 0, "no job written");
        assert_eq!(self.rows("intent_events").await, 0, "no event written");
        assert_eq!(
            self.rows("idempotency_keys").await,
            0,
            "no idempotency key kept"
        );
    }
}

/// The example body from the API contract.
pub fn mpesa_intent() -> Value {
    json!({"amount":"1500.00","currency":"KES","provider":"mpesa","buyer":{"msisdn":"254708374149"},
           "payee":{"id":"seller-42","payout":{"provider":"mpesa","msisdn":"254700000001"}},
           "commission_bps":1000,"reference":"order-981","metadata":{"order":"981"}})
}

pub use malipo_testing::problem;
