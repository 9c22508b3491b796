//! Outbound webhooks and callbacks, with the fault knobs applied: random delay, duplicate
//! deliveries, dropped M-Pesa callbacks, and Paystack's retries of failed deliveries (the only
//! provider of the three that retries).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use reqwest::StatusCode;

use super::faults::Provider;
use super::shared::Shared;

/// How long an idle connection to a receiver is kept for the next delivery: well inside the
/// receiver's keep-alive timeout (malipo's front closes idle connections after 5 s by default).
/// With reqwest's default of 90 s, a delivery now and then went out on a connection the front
/// was closing and failed with a connection error (in two of 17 runs of `bench e2e
/// --lifecycles 3000`, 15,000 callbacks each; the payout then waited 15 s for its status
/// check): a lost callback nobody asked for, beside the ones the fault knobs drop on purpose.
const IDLE_CONNECTION_KEPT_FOR: Duration = Duration::from_secs(2);

/// The HTTP client and retry policy used for every delivery.
pub(crate) struct Delivery {
    client: reqwest::Client,
    paystack_retries: u32,
    paystack_retry_delay: Duration,
}

impl Delivery {
    pub(crate) fn new(
        timeout: Duration,
        paystack_retries: u32,
        paystack_retry_delay: Duration,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .pool_idle_timeout(IDLE_CONNECTION_KEPT_FOR)
            .build()
            .map_err(|e| anyhow::anyhow!("failed to build the webhook HTTP client: {e}"))?;
        Ok(Self {
            client,
            paystack_retries,
            paystack_retry_delay,
        })
    }
}

/// One webhook or callback to deliver.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub(crate) provider: Provider,
    /// Counter key, e.g. `"paystack charge.success"`.
    pub(crate) kind: String,
    pub(crate) url: String,
    /// The exact bytes to send: Paystack signs them.
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Outbound {
    /// A JSON POST without extra headers.
    pub(crate) fn json(provider: Provider, kind: &str, url: &str, body: Vec<u8>) -> Self {
        Self {
            provider,
            kind: format!("{} {kind}", provider.name()),
            url: url.to_owned(),
            body,
            headers: Vec::new(),
        }
    }
}

/// Delivers in the background; see [`deliver`].
pub(crate) fn spawn_delivery(shared: &Arc<Shared>, out: Outbound) {
    let task_shared = Arc::clone(shared);
    shared.spawn(async move {
        deliver(&task_shared, out).await;
    });
}

/// Delivers `out` with the provider's fault knobs: maybe dropped (M-Pesa), after a random
/// delay, retried on failure (Paystack), maybe twice. Returns the answer's status when an
/// attempt succeeded.
pub(crate) async fn deliver(shared: &Shared, out: Outbound) -> Option<StatusCode> {
    let faults = shared.faults.get(out.provider);
    if out.provider == Provider::Mpesa && shared.chance(faults.callback_drop_probability) {
        shared.counters.bump(|c| c.callbacks_dropped += 1);
        tracing::info!(kind = %out.kind, "sandbox: dropping callback (fault)");
        return None;
    }
    if matches!(out.provider, Provider::Lnbits | Provider::Fincra)
        && shared.chance(faults.webhook_drop_probability)
    {
        shared.counters.bump(|c| c.webhooks_dropped += 1);
        tracing::info!(kind = %out.kind, "sandbox: dropping webhook (fault)");
        return None;
    }
    let (lo, hi) = faults.webhook_delay;
    if !shared.sleep(shared.duration_between(lo, hi)).await {
        return None;
    }
    let status = if shared.chance(faults.concurrent_duplicate_probability) {
        shared
            .counters
            .bump(|c| c.webhooks_duplicated_concurrently += 1);
        let (first, _) = tokio::join!(
            send_with_retries(shared, &out),
            send_with_retries(shared, &out)
        );
        first
    } else {
        send_with_retries(shared, &out).await
    };
    if shared.chance(faults.duplicate_webhook_probability) {
        shared.counters.bump(|c| c.webhooks_duplicated += 1);
        send_with_retries(shared, &out).await;
    }
    status
}

/// Delivers `lie` (a forged callback with valid credentials) and, once it was answered,
/// `truth`, both in the background with the provider's fault knobs. The lie is counted as
/// `"<channel> <kind>"`.
pub(crate) fn spawn_lie_then_truth(
    shared: &Arc<Shared>,
    lie: Outbound,
    lie_kind: (&str, &str),
    truth: Option<Outbound>,
) {
    shared.counters.lie(lie_kind.0, lie_kind.1);
    tracing::info!(kind = %lie.kind, lie = lie_kind.1, "sandbox: lying before the truth (fault)");
    let task_shared = Arc::clone(shared);
    shared.spawn(async move {
        // The lie is never dropped: it is the point of the fault.
        send_with_retries(&task_shared, &lie).await;
        if let Some(truth) = truth {
            deliver(&task_shared, truth).await;
        }
    });
}

/// POSTs `out` once, without faults, and returns the answer: for exchanges whose reply matters
/// (M-Pesa C2B validation).
pub(crate) async fn exchange(shared: &Shared, out: &Outbound) -> Option<(StatusCode, Bytes)> {
    let response = send_once(shared, out).await?;
    let status = response.status();
    match response.bytes().await {
        Ok(body) => Some((status, body)),
        Err(error) => {
            tracing::warn!(kind = %out.kind, %error, "sandbox: failed to read a callback reply");
            None
        }
    }
}

async fn send_with_retries(shared: &Shared, out: &Outbound) -> Option<StatusCode> {
    let retries = match out.provider {
        Provider::Paystack => shared.delivery.paystack_retries,
        Provider::Mpesa | Provider::Lnbits | Provider::Fincra => 0,
    };
    for attempt in 0..=retries {
        if attempt > 0 && !shared.sleep(shared.delivery.paystack_retry_delay).await {
            return None;
        }
        if let Some(response) = send_once(shared, out).await {
            return Some(response.status());
        }
    }
    None
}

/// One POST; counts it, and logs and counts a failure (connection error or non-2xx).
async fn send_once(shared: &Shared, out: &Outbound) -> Option<reqwest::Response> {
    shared.counters.webhook_attempt(&out.kind);
    let mut request = shared
        .delivery
        .client
        .post(&out.url)
        .header("content-type", "application/json")
        .body(out.body.clone());
    for (name, value) in &out.headers {
        request = request.header(*name, value);
    }
    let failure = match request.send().await {
        Ok(response) if response.status().is_success() => {
            shared.counters.bump(|c| {
                *c.webhooks_answered_by_kind
                    .entry(out.kind.clone())
                    .or_default() += 1;
            });
            return Some(response);
        }
        Ok(response) => format!("answered {}", response.status()),
        Err(error) => error.to_string(),
    };
    shared.counters.bump(|c| c.webhook_failures += 1);
    tracing::warn!(kind = %out.kind, url = %out.url, %failure, "sandbox: delivery failed");
    None
}
