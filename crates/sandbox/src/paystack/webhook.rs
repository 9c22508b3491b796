//! Paystack webhooks: the `{event, data}` envelope, signed with HMAC-SHA512 over the exact bytes
//! sent, keyed with the secret key (PROVIDERS.md §1.5).

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha512;

use super::PaystackState;
use crate::delivery::{Outbound, deliver, spawn_delivery};
use crate::faults::Provider;
use crate::shared::lock;

/// The `x-paystack-signature` of `body`: lowercase hex of HMAC-SHA512 keyed with the secret key.
pub fn paystack_signature(secret_key: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this branch is unreachable; an empty signature
    // would fail verification rather than panic.
    let Ok(mut mac) = Hmac::<Sha512>::new_from_slice(secret_key.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Field order as Paystack sends it: `event` first.
#[derive(Serialize)]
struct Envelope<'a> {
    event: &'a str,
    data: &'a Value,
}

/// The signed delivery of one event, or `None` when no webhook URL is configured.
pub(crate) fn outbound(state: &PaystackState, event: &str, data: &Value) -> Option<Outbound> {
    let Some(url) = lock(&state.webhook_url).clone() else {
        tracing::debug!(event, "sandbox: no Paystack webhook URL; event not sent");
        return None;
    };
    let body = match serde_json::to_vec(&Envelope { event, data }) {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(%error, event, "sandbox: cannot serialize a Paystack event");
            return None;
        }
    };
    let mut out = Outbound::json(Provider::Paystack, event, &url, body);
    let signature = paystack_signature(&state.settings.secret_key, &out.body);
    out.headers.push(("x-paystack-signature", signature));
    Some(out)
}

/// Sends an event in the background.
pub(crate) fn send_event(state: &Arc<PaystackState>, event: &str, data: &Value) {
    if let Some(out) = outbound(state, event, data) {
        spawn_delivery(&state.shared, out);
    }
}

/// Sends an event and waits for the delivery (with its faults) to finish.
pub(crate) async fn deliver_event(state: &PaystackState, event: &str, data: &Value) {
    if let Some(out) = outbound(state, event, data) {
        deliver(&state.shared, out).await;
    }
}
