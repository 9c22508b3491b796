//! Starting the real router on 127.0.0.1:0 with its own database.

use std::sync::Arc;

use malipo::{clients, config::Config, http::AllProviders, startup, testing::test_database};
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
}

/// Starts the API with default configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the API after `adjust` edits the configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let db = test_database().await.expect("database");
    let mut config = Config::from_lookup(|_| None).expect("default config");
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = startup::app_state(db.pool.clone(), &config, Arc::new(AllProviders));
    tokio::spawn(startup::serve(listener, state, std::future::pending()));
    let key = clients::create(&db.pool, "test-client", "client", 150)
        .await
        .expect("client")
        .key;
    TestApp {
        base,
        pool: db.pool,
        key,
        http: reqwest::Client::new(),
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

/// Reads a problem+json answer, checking its media type and shape.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(media, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://")),
        "type URI"
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}
