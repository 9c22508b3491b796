//! The router on 127.0.0.1:0 with its own database and known webhook secrets (no fakes, no
//! workers: a rejected request must leave every table exactly as it was).

use malipo::{clients, config::Config, http::WebhookSecrets, providers::Secret};
use malipo_testing::TestApp;
use serde_json::Value;
use sqlx::PgPool;

/// Paystack secret key the app verifies webhook signatures with.
pub const PAYSTACK_SECRET: &str = "sk_test_bad_input_0123456789";
/// Token in M-Pesa callback URLs.
pub const MPESA_TOKEN: &str = "mpesa-token-6f1c2d9e8a7b4c3d";
/// Token in LNbits webhook URLs.
pub const LNBITS_TOKEN: &str = "lnbits-token-0a9b8c7d6e5f4a3b";

/// Tables a rejected request must not touch.
pub const TABLES: [&str; 5] = [
    "intents",
    "malipo_jobs",
    "intent_events",
    "idempotency_keys",
    "webhook_inbox",
];

/// A running API.
pub struct App {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `127.0.0.1:<port>`, for raw sockets.
    pub addr: std::net::SocketAddr,
    /// Its database.
    pub pool: PgPool,
    /// A client API key.
    pub key: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The body limit in force.
    pub body_limit: usize,
    _app: TestApp,
}

/// Starts the API with default configuration.
pub async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

/// Starts the API after `adjust` edits the configuration (generous rate limits for the fuzz
/// loop; intents may name any provider: no job runs here; webhooks verified with this
/// file's secrets).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> App {
    let secrets = WebhookSecrets {
        paystack_secret: Some(Secret::new(PAYSTACK_SECRET)),
        mpesa_token: Some(Secret::new(MPESA_TOKEN)),
        mpesa_allowed_ips: None,
        lnbits_token: Some(Secret::new(LNBITS_TOKEN)),
        fincra_secret: None,
    };
    let app = TestApp::builder()
        .every_provider_allowed()
        .webhook_secrets(secrets)
        .config(|config| {
            // The fuzz loop sends hundreds of requests from one client.
            config.rate_limit_per_sec = 10_000;
            config.rate_limit_burst = 10_000;
            adjust(config);
        })
        .start()
        .await
        .expect("app");
    let key = clients::create(&app.pool, "bad-input", "client", 150)
        .await
        .expect("client")
        .key;
    App {
        base: app.base.clone(),
        addr: app.address,
        pool: app.pool.clone(),
        key,
        http: reqwest::Client::new(),
        body_limit: app.settings.app.body_limit_bytes,
        _app: app,
    }
}

impl App {
    /// A POST to `path` with the client key.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    /// Counts rows in `table`.
    pub async fn rows(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// Asserts no table a request could write to has a row.
    pub async fn assert_nothing_written(&self, context: &str) {
        for table in TABLES {
            assert_eq!(self.rows(table).await, 0, "{context}: a row in {table}");
        }
    }
}

/// Reads a problem+json answer: `status`, the media type, and a `detail` containing `names`
/// (case-insensitive), so the answer names the problem.
pub async fn problem(response: reqwest::Response, status: u16, names: &str) -> Value {
    let body = malipo_testing::problem(response, status).await;
    let detail = body["detail"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        detail.contains(&names.to_lowercase()),
        "detail should name `{names}`: {body}"
    );
    body
}

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
}

/// Writes `request` as is (for what `reqwest` refuses to send: bare CR, NUL, lying lengths),
/// then reads the first response; `None` if the server only closed the connection.
pub async fn raw_request(addr: std::net::SocketAddr, request: &[u8]) -> Option<RawResponse> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(request).await;
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Err(_) => panic!(
                "no answer within 10 s; got {:?}",
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
