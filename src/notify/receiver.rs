//! A webhook receiver on loopback: what `malipo webhooks listen` runs, what the sandbox walk
//! shows, and what tests and `bench notifications` deliver to. It verifies each delivery when
//! it knows the secret, remembers every request, and answers as its [`Script`] says (fail the
//! first N tries of each message, always answer a status, or fail/stall a share at random).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::mpsc;

use super::signature::{Received as Headers, VerifyError, WebhookSecret, verify};

/// How the receiver answers.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Answer 500 to the first this-many tries of each `webhook-id`.
    pub fail_first: u32,
    /// Answer this status to everything (410, a 3xx with a `Location`, …).
    pub always: Option<u16>,
    /// Answer 503 to this share of requests, drawn at random.
    pub fail_ratio: f64,
    /// Stall this share of requests for `slow` before answering.
    pub slow_ratio: f64,
    /// How long a stalled request waits.
    pub slow: Duration,
    /// Seed of the random draws (the same seed, the same draws in the same order).
    pub seed: u64,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
    /// The raw body.
    pub body: Bytes,
    /// The verification result, when the receiver knows the secret.
    pub verified: Option<Result<(), VerifyError>>,
    /// The status answered.
    pub answered: u16,
}

struct Inner {
    script: Script,
    secret: Option<WebhookSecret>,
    tries: HashMap<String, u32>,
    log: Vec<Delivery>,
    rng: StdRng,
    feed: Option<mpsc::UnboundedSender<Delivery>>,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    address: SocketAddr,
}

impl Receiver {
    /// Starts on `bind` (use `127.0.0.1:0` for any free port).
    pub async fn start(bind: SocketAddr, script: Script) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let address = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner {
            rng: StdRng::seed_from_u64(script.seed),
            script,
            secret: None,
            tries: HashMap::new(),
            log: Vec::new(),
            feed: None,
        }));
        let app = Router::new()
            .fallback(post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "webhook receiver stopped");
            }
        });
        Ok(Self { inner, address })
    }

    /// The URL to register as an endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/webhooks", self.address)
    }

    /// Verifies what arrives from now on with `secret`.
    pub fn verify_with(&self, secret: WebhookSecret) {
        self.lock().secret = Some(secret);
    }

    /// Replaces the script.
    pub fn set_script(&self, script: Script) {
        self.lock().script = script;
    }

    /// Every request from now on is also sent to the returned channel.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Delivery> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lock().feed = Some(sender);
        receiver
    }

    /// Every request so far, in arrival order.
    pub fn log(&self) -> Vec<Delivery> {
        self.lock().log.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = header_text(&headers, "webhook-id");
    let timestamp = header_text(&headers, "webhook-timestamp");
    let signature = header_text(&headers, "webhook-signature");
    let (answer, stall) = {
        let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
        let verified = inner.secret.as_ref().map(|secret| {
            verify(
                secret,
                Headers {
                    id: id.as_deref(),
                    timestamp: timestamp.as_deref(),
                    signature: signature.as_deref(),
                },
                &body,
                chrono::Utc::now().timestamp(),
            )
        });
        let key = id.clone().unwrap_or_default();
        let tries = inner.tries.entry(key).or_insert(0);
        *tries += 1;
        let tries = *tries;
        let script = inner.script.clone();
        let failed_draw = inner.rng.random_bool(script.fail_ratio.clamp(0.0, 1.0));
        let slow_draw = inner.rng.random_bool(script.slow_ratio.clamp(0.0, 1.0));
        let answer = if let Some(status) = script.always {
            status
        } else if tries <= script.fail_first {
            500
        } else if failed_draw {
            503
        } else if matches!(verified, Some(Err(_))) {
            400
        } else {
            200
        };
        let delivery = Delivery {
            id: id.unwrap_or_default(),
            timestamp: timestamp.unwrap_or_default(),
            signature: signature.unwrap_or_default(),
            body,
            verified,
            answered: answer,
        };
        if let Some(feed) = &inner.feed {
            let _ = feed.send(delivery.clone());
        }
        inner.log.push(delivery);
        (answer, slow_draw.then_some(script.slow))
    };
    if let Some(stall) = stall {
        tokio::time::sleep(stall).await;
    }
    let status = StatusCode::from_u16(answer).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_redirection() {
        return (
            status,
            [(header::LOCATION, "http://127.0.0.1:9/elsewhere")],
            "",
        )
            .into_response();
    }
    (status, "ok").into_response()
}
