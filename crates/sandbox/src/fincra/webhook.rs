//! Fincra webhooks: `{event, data}` sent as compact JSON, with the `signature` header over
//! exactly those bytes (PROVIDERS.md §4.3). Sent once: Fincra's retries are off by default.

use serde::Serialize;
use serde_json::Value;

use super::FincraState;
use crate::delivery::Outbound;
use crate::faults::Provider;
use crate::shared::lock;

/// Field order as Fincra sends it: `event` first.
#[derive(Serialize)]
struct Envelope<'a> {
    event: &'a str,
    data: &'a Value,
}

/// The signed delivery of one event, or `None` when no webhook URL is configured.
pub(crate) fn outbound(state: &FincraState, event: &str, data: &Value) -> Option<Outbound> {
    let Some(url) = lock(&state.webhook_url).clone() else {
        tracing::debug!(event, "sandbox: no Fincra webhook URL; event not sent");
        return None;
    };
    let body = match serde_json::to_vec(&Envelope { event, data }) {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(%error, event, "sandbox: cannot serialize a Fincra event");
            return None;
        }
    };
    let mut out = Outbound::json(Provider::Fincra, event, &url, body);
    let signature = fincra_signature(&state.settings.webhook_secret, &out.body);
    out.headers.push(("signature", signature));
    Some(out)
}

/// Fincra signs its webhooks as Paystack does (PROVIDERS.md §4): HMAC-SHA512 over the raw body
/// under the webhook secret, hex-encoded.
fn fincra_signature(webhook_secret: &str, body: &[u8]) -> String {
    crate::paystack_signature(webhook_secret, body)
}
