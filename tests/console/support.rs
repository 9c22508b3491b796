//! A whole malipo (API, console, workers on every queue, provider fakes) with an operator, a
//! viewer and a client key, and a cookie-carrying HTTP helper for the console.

use malipo::clients;
use malipo_sandbox::SandboxSettings;
use malipo_testing::TestApp;

pub use malipo_testing::eventually;
use serde_json::{Value, json};
use sqlx::PgPool;

/// The running stack.
pub struct Stack {
    /// Base URL (`http://127.0.0.1:<port>`).
    pub base: String,
    /// The database.
    pub pool: PgPool,
    /// An operator key.
    pub operator_key: String,
    /// A read-only viewer key.
    pub viewer_key: String,
    /// A client (tenant) key.
    pub client_key: String,
    /// The app with its fakes and workers (kept running while the test holds this).
    _app: TestApp,
}

impl Stack {
    /// Starts everything on fresh ports and a fresh database.
    pub async fn start() -> Self {
        let app = TestApp::builder()
            .fakes(SandboxSettings::default())
            .config(|config| config.queues.push(malipo_jobs::queues::BENCH.to_owned()))
            .workers()
            .start()
            .await
            .expect("app");
        let key = |name: &'static str, role: &'static str| {
            let pool = app.pool.clone();
            async move {
                clients::create(&pool, name, role, 0)
                    .await
                    .expect("key")
                    .key
            }
        };
        Self {
            operator_key: key("night-ops", "operator").await,
            viewer_key: key("auditor", "viewer").await,
            client_key: key("shop", "client").await,
            base: app.base.clone(),
            pool: app.pool.clone(),
            _app: app,
        }
    }

    /// Creates an M-Pesa intent through `/v1` with the client key; returns its id.
    pub async fn create_intent(&self) -> String {
        let body = json!({"amount": "1500", "currency": "KES", "provider": "mpesa",
            "buyer": {"msisdn": "254708374149"},
            "payee": {"id": "seller-1", "payout": {"provider": "mpesa", "msisdn": "254700000001"}},
            "commission_bps": 1000});
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/v1/intents", self.base))
            .bearer_auth(&self.client_key)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        answer["id"].as_str().expect("intent id").to_owned()
    }

    /// Releases a held intent through `/v1` with the client key.
    pub async fn release_intent(&self, id: &str) {
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/intents/{id}/release", self.base))
            .bearer_auth(&self.client_key)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&json!({}))
            .send()
            .await
            .expect("release");
        assert_eq!(answer.status(), 202, "release");
    }

    /// An intent's status.
    pub async fn intent_status(&self, id: &str) -> String {
        sqlx::query_scalar("SELECT status FROM intents WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("status")
    }

    /// Inserts a dead noop job on the bench queue (a job that succeeds when retried).
    pub async fn dead_job(&self, phone: &str) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO malipo_jobs (queue, kind, payload, state, attempts, max_attempts, last_error, finished_at)
             VALUES ('bench', 'noop', jsonb_build_object('tag', '', 'note', $1::text), 'dead', 5, 5,
                     'provider said no', now())
             RETURNING id",
        )
        .bind(phone)
        .fetch_one(&self.pool)
        .await
        .expect("dead job")
    }

    /// A job's state.
    pub async fn job_state(&self, id: i64) -> String {
        sqlx::query_scalar("SELECT state FROM malipo_jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("job")
    }

    /// Pauses `queue` behind the stack's workers' back (its jobs are then seen waiting).
    pub async fn pause(&self, queue: &str) {
        sqlx::query(
            "INSERT INTO malipo_queues (name, paused) VALUES ($1, true)
             ON CONFLICT (name) DO UPDATE SET paused = true",
        )
        .bind(queue)
        .execute(&self.pool)
        .await
        .expect("pause");
    }

    /// Whether `queue` is paused.
    pub async fn paused(&self, queue: &str) -> bool {
        sqlx::query_scalar(
            "SELECT coalesce((SELECT paused FROM malipo_queues WHERE name = $1), false)",
        )
        .bind(queue)
        .fetch_one(&self.pool)
        .await
        .expect("paused")
    }

    /// Audit actions recorded, newest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM malipo_ops_audit ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await
            .expect("audit")
    }
}

/// A console user over plain HTTP: no redirects followed, the session cookie kept by hand.
pub struct ConsoleUser {
    /// Base URL.
    pub base: String,
    /// The cookie's value, once logged in.
    pub token: Option<String>,
    /// HTTP client.
    pub http: reqwest::Client,
}

impl ConsoleUser {
    /// A user of `stack` who is not logged in.
    pub fn new(stack: &Stack) -> Self {
        Self {
            base: stack.base.clone(),
            token: None,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// Posts the login form with `key`; keeps the cookie when one is set.
    pub async fn login(&mut self, key: &str) -> reqwest::Response {
        let response = self
            .http
            .post(format!("{}/console/login", self.base))
            .header("sec-fetch-site", "same-origin")
            .form(&[("key", key)])
            .send()
            .await
            .expect("login");
        if let Some(token) = set_cookie(&response).and_then(|c| {
            c.split(';')
                .next()
                .and_then(|pair| pair.split_once('='))
                .map(|(_, v)| v.to_owned())
        }) {
            self.token = Some(token);
        }
        response
    }

    /// GET `path` with the session cookie.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("cookie", format!("__Host-malipo_session={token}"));
        }
        request.send().await.expect("get")
    }

    /// GET `path` and return the page's HTML, asserting a 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, 200, "GET {path}: {text}");
        text
    }

    /// The CSRF token in the page at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        let html = self.page(path).await;
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).expect("a csrf field") + marker.len();
        html[start..start + 64].to_owned()
    }

    /// POSTs `fields` to `path` with the cookie and `fetch_site` (None: no such header).
    pub async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        fetch_site: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(fields);
        if let Some(token) = &self.token {
            request = request.header("cookie", format!("__Host-malipo_session={token}"));
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send().await.expect("post")
    }
}

/// The response's `Set-Cookie`, if any.
pub fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
