//! An app on 127.0.0.1:0 with an operator key and a client key, and helpers for the ops tests.

use malipo::{
    clients,
    queue::{EnqueueOptions, enqueue},
};
use malipo_testing::TestApp;

use malipo_jobs::Noop;
pub use malipo_testing::{eventually, problem};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// A running API with its database and keys.
pub struct OpsApp {
    /// Base URL.
    pub base: String,
    /// The app's database.
    pub pool: PgPool,
    /// Its URL, for worker processes.
    pub db_url: String,
    /// An operator-role key.
    pub operator_key: String,
    /// The operator key's client id (the audit actor `key:<id>`).
    pub operator_id: Uuid,
    /// A client-role key.
    pub client_key: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The app itself (kept running while the test holds this).
    pub _app: TestApp,
}

/// Starts the API on its own database, assembled as `malipo serve` assembles it (no provider
/// configured; intents may name any provider: no deposit job runs here).
pub async fn spawn_app() -> OpsApp {
    let app = TestApp::builder()
        .every_provider_allowed()
        .start()
        .await
        .expect("app");
    let operator = clients::create(&app.pool, "ops", "operator", 0)
        .await
        .expect("operator");
    let client = clients::create(&app.pool, "shop", "client", 0)
        .await
        .expect("client");
    OpsApp {
        base: app.base.clone(),
        pool: app.pool.clone(),
        db_url: app.db_url.clone(),
        operator_key: operator.key,
        operator_id: operator.id,
        client_key: client.key,
        http: reqwest::Client::new(),
        _app: app,
    }
}

impl OpsApp {
    /// GET `path` with the operator key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.operator_key)
            .send()
            .await
            .expect("request")
    }

    /// POST `body` as JSON to `path` with the operator key.
    pub async fn post(&self, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.operator_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    /// GET `path` and decode a 200 JSON answer.
    pub async fn get_json(&self, path: &str) -> Value {
        ok_json(self.get(path).await).await
    }

    /// POST and decode a 200 JSON answer.
    pub async fn post_json(&self, path: &str, body: Option<Value>) -> Value {
        ok_json(self.post(path, body).await).await
    }

    /// Audit entries, newest first.
    pub async fn audit(&self) -> Vec<Value> {
        let page = self.get_json("/ops/audit?limit=500").await;
        page["entries"].as_array().cloned().unwrap_or_default()
    }

    /// Enqueues a noop job with `tag` on the bench queue.
    pub async fn enqueue_noop(&self, tag: &str) -> i64 {
        let mut conn = self.pool.acquire().await.expect("conn");
        enqueue(
            &mut conn,
            &Noop {
                tag: tag.to_owned(),
            },
            EnqueueOptions::default(),
        )
        .await
        .expect("enqueue")
        .id
    }

    /// A job's state and attempts.
    pub async fn job(&self, id: i64) -> (String, i32) {
        sqlx::query_as("SELECT state, attempts FROM malipo_jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("job row")
    }

    /// Counts rows in `table`.
    pub async fn rows(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

/// Decodes a 200 JSON answer, showing the body when the status is not 200.
pub async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status.as_u16(), 200, "unexpected answer: {text}");
    serde_json::from_str(&text).expect("JSON body")
}

/// Makes every pending job of the bench queue due now (instead of sleeping through backoff).
pub async fn fast_forward(pool: &PgPool) {
    sqlx::query(
        "UPDATE malipo_jobs SET run_at = now() WHERE state = 'pending' AND queue = 'bench'",
    )
    .execute(pool)
    .await
    .expect("fast-forward");
}

/// Inserts a job row directly (any queue, kind and state), returning its id.
pub async fn insert_job(
    pool: &PgPool,
    queue: &str,
    kind: &str,
    state: &str,
    intent_id: Option<Uuid>,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO malipo_jobs (queue, kind, payload, state, attempts, max_attempts, intent_id, last_error, finished_at)
         VALUES ($1, $2, '{}', $3, CASE WHEN $3 = 'dead' THEN 5 ELSE 0 END, 5, $4,
                 CASE WHEN $3 = 'dead' THEN 'provider said no' END,
                 CASE WHEN $3 IN ('dead', 'done', 'discarded') THEN now() END)
         RETURNING id",
    )
    .bind(queue)
    .bind(kind)
    .bind(state)
    .bind(intent_id)
    .fetch_one(pool)
    .await
    .expect("insert job")
}

/// The ids in a job page.
pub fn ids(page: &Value) -> Vec<i64> {
    page["jobs"]
        .as_array()
        .map(|jobs| jobs.iter().filter_map(|j| j["id"].as_i64()).collect())
        .unwrap_or_default()
}
