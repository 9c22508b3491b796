//! The router on 127.0.0.1:0 with its own database, a client key and an operator key; raw
//! sockets for what an HTTP client will not send; a lock for the tests that load the machine.

use std::{net::SocketAddr, time::Duration};

use malipo::{clients, config::Config};
use malipo_testing::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};

/// Held by tests that open thousands of sockets or measure latency, so they do not run at once.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running API.
pub struct App {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    /// Its database.
    pub pool: PgPool,
    /// Its database URL (for the CLI).
    pub db_url: String,
    /// A client (tenant) key and its id.
    pub key: String,
    /// The client's id.
    pub client_id: uuid::Uuid,
    /// An operator key.
    pub operator_key: String,
    /// HTTP client.
    pub http: reqwest::Client,
    _app: TestApp,
}

/// Starts the API after `adjust` edits the default configuration (generous per-client rate
/// limits; intents may name any provider: no job runs here).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> App {
    let app = TestApp::builder()
        .every_provider_allowed()
        .config(|config| {
            config.rate_limit_per_sec = 10_000;
            config.rate_limit_burst = 10_000;
            adjust(config);
        })
        .start()
        .await
        .expect("app");
    let client = clients::create(&app.pool, "shop", "client", 150)
        .await
        .expect("client");
    let operator = clients::create(&app.pool, "ops", "operator", 0)
        .await
        .expect("operator");
    App {
        base: app.base.clone(),
        addr: app.address,
        pool: app.pool.clone(),
        db_url: app.db_url.clone(),
        key: client.key,
        client_id: client.id,
        operator_key: operator.key,
        http: reqwest::Client::new(),
        _app: app,
    }
}

/// Starts the API with the default configuration (generous per-client rate limits).
pub async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

impl App {
    /// `method path` with `key`.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
    }

    /// Creates `body` as an intent with the client key under `idempotency_key`.
    pub async fn create(&self, body: &Value, idempotency_key: &str) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/v1/intents", &self.key)
            .header("idempotency-key", idempotency_key)
            .json(body)
            .send()
            .await
            .expect("create")
    }

    /// Creates the example intent and returns its id.
    pub async fn intent(&self) -> String {
        let response = self
            .create(&mpesa_intent(), &uuid::Uuid::new_v4().to_string())
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_owned()
    }

    /// Counts rows in `table`.
    pub async fn rows(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

/// The example body from the API contract.
pub fn mpesa_intent() -> Value {
    json!({"amount":"1500.00","currency":"KES","provider":"mpesa","buyer":{"msisdn":"254708374149"},
           "payee":{"id":"seller-42","payout":{"provider":"mpesa","msisdn":"254700000001"}},
           "commission_bps":1000,"reference":"order-981","metadata":{"order":"981"}})
}

pub use malipo_testing::problem;

/// What came back on a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header lines, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Everything after the blank line.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the answer is a problem+json document with its status, and returns it.
    pub fn problem(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        // Only this answer's body: a pipelined second answer may follow it.
        let length = self
            .header("content-length")
            .and_then(|length| length.parse::<usize>().ok())
            .unwrap_or(self.body.len())
            .min(self.body.len());
        let body: Value = serde_json::from_slice(&self.body[..length]).expect("problem JSON body");
        assert_eq!(body["status"], self.status, "{body}");
        body
    }
}

/// Writes `request` as is, then reads the first answer (bounded: 10 s); `None` if the server
/// only closed the connection.
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> Option<RawResponse> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(request).await;
    read_answer(&mut stream, Duration::from_secs(10)).await
}

/// Reads one answer from `stream` within `within`.
pub async fn read_answer(stream: &mut TcpStream, within: Duration) -> Option<RawResponse> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Err(_) => panic!(
                "no answer within {within:?}; got {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
        if let Some(response) = parse_response(&received)
            && response
                .header("content-length")
                .and_then(|length| length.parse::<usize>().ok())
                .is_some_and(|length| length <= response.body.len())
        {
            return Some(response);
        }
    }
    parse_response(&received)
}

fn parse_response(bytes: &[u8]) -> Option<RawResponse> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(RawResponse {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
    })
}

/// Waits until `stream` is closed by the server (EOF or reset), at most `within`; returns how
/// long that took, or `None` if it stayed open.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(started + within, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            // An answer (a 408, say) before the close is fine; keep reading.
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// Raises this process's open-file limit to its hard limit (thousands of sockets).
pub fn raise_fd_limit(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < needed {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert!(
        soft >= needed,
        "need {needed} open files, the limit is {soft}"
    );
}

/// The p-th percentile (0–100) of `samples`, which it sorts.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}
