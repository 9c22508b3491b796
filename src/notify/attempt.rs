//! One delivery attempt over HTTP: POST the signed envelope, never follow a redirect, give up
//! after the timeout, and classify the answer. Only a 2xx succeeds; 410 asks for the endpoint to
//! be disabled; 429/502/503/504 may name a `Retry-After`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};

use super::{
    NotifySettings,
    signature::{WebhookSecret, signature_header},
    ssrf::{GuardedResolver, check_url},
};

/// How much of an answer is kept in the attempt log.
pub const BODY_KEPT: usize = 4096;

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx answer.
    Delivered,
    /// 410 Gone: the receiver wants no more; the endpoint is disabled.
    Gone,
    /// Anything else: a non-2xx answer, a redirect, a timeout, a refused address.
    Failed {
        /// What went wrong.
        error: String,
        /// The receiver's `Retry-After`, when it sent one with 429/502/503/504.
        retry_after: Option<Duration>,
    },
}

/// An attempt's record for the log, and its verdict.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration: Duration,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The first [`BODY_KEPT`] bytes of the answer, lossily as text.
    pub body: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Sends deliveries: one HTTP client per process, whose resolver applies the SSRF guard on
/// every connection.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    /// A sender with `settings`' timeout and address policy.
    pub fn new(settings: &NotifySettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private,
            }))
            .user_agent("malipo-webhooks/1")
            .build()?;
        Ok(Self {
            http,
            allow_private: settings.allow_private,
        })
    }

    /// POSTs `body` to `url` as message `msg_id`, signed with every secret in `secrets`.
    pub async fn send(
        &self,
        url: &str,
        msg_id: &str,
        body: &[u8],
        secrets: &[&WebhookSecret],
    ) -> Outcome {
        let started_at = Utc::now();
        let clock = Instant::now();
        let finish = |status, body, verdict| Outcome {
            started_at,
            duration: clock.elapsed(),
            status,
            body,
            verdict,
        };
        let target = match check_url(url, self.allow_private) {
            Ok(target) => target,
            Err(refused) => {
                return finish(None, None, failed(format!("refused: {refused}"), None));
            }
        };
        let timestamp = started_at.timestamp();
        let request = self
            .http
            .post(target)
            .header("content-type", "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature_header(secrets, msg_id, timestamp, body),
            )
            .body(body.to_vec());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                // The cause chain names a refused address, a timeout or a connection error.
                return finish(None, None, failed(error_chain(&error), None));
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut kept = Vec::new();
        // Read no more than we keep: a receiver cannot make us buffer a huge answer.
        while kept.len() < BODY_KEPT {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        kept.truncate(BODY_KEPT);
        let text = Some(String::from_utf8_lossy(&kept).into_owned());
        let code = status.as_u16();
        let verdict = if status.is_success() {
            Verdict::Delivered
        } else if code == 410 {
            Verdict::Gone
        } else if status.is_redirection() {
            failed(format!("answered {code}: redirects are not followed"), None)
        } else {
            let honoured = matches!(code, 429 | 502 | 503 | 504)
                .then_some(retry_after)
                .flatten();
            failed(format!("answered {code}"), honoured)
        };
        finish(Some(code), text, verdict)
    }
}

fn failed(error: String, retry_after: Option<Duration>) -> Verdict {
    Verdict::Failed { error, retry_after }
}

fn error_chain(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
