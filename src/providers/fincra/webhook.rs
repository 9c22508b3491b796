//! Fincra webhooks (PROVIDERS.md §4.3): the `signature` header is lowercase hex
//! HMAC-SHA512 keyed with the webhook secret over the compact JSON of `{event, data}`.
//!
//! **UNCERTAIN:** whether Fincra signs the bytes it sends or a re-serialization of them. The
//! raw body is tried first; only if that fails, the compact re-serialization of the same
//! `event` and `data` (whitespace outside strings removed, key order kept as received). Both
//! comparisons are constant time. No id, no timestamp, no documented retries: an event is only
//! a reason to query the payout (§4.2), deduped on `event` + `data.reference`.

use hmac::{Hmac, Mac};
use sha2::Sha512;

use super::wire::{WebhookData, WebhookEnvelope};
use crate::{
    domain::ProviderKind,
    providers::{DepositStatus, ProviderEvent, TransferCheck},
};

/// Why a signed body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Fincra event: {0}")]
pub struct FincraEventError(String);

/// What a Fincra event says, as malipo uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FincraEvent {
    /// `payout.successful`, `payout.failed`, `charge.successful`, …
    pub event: String,
    /// The inbox dedupe key: `event` + `data.reference` (§4.3).
    pub dedupe_key: String,
    /// What it is about.
    pub kind: FincraEventKind,
}

/// The events malipo acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FincraEventKind {
    /// `payout.*` about malipo's payout `customer_reference`; the claimed status is not used.
    Payout {
        /// Ours: the payout reference.
        customer_reference: String,
    },
    /// `charge.successful` about the checkout malipo opened under `merchant_reference`; the
    /// claim is only a reason to verify the payment.
    Charge {
        /// Ours: the deposit reference.
        merchant_reference: String,
    },
    /// Anything else: stored, answered, no effect.
    Other,
}

/// Lowercase hex HMAC-SHA512 of `message` under `secret` (what the fake signs with).
pub fn fincra_signature(secret: &str, message: &[u8]) -> String {
    mac(secret, message).map_or_else(String::new, |mac| hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header_hex` signs `raw_body` under `secret`: the raw bytes first, then the compact
/// re-serialization of `{event, data}`.
pub fn verify_signature(secret: &str, raw_body: &[u8], header_hex: &str) -> bool {
    let Ok(claimed) = hex::decode(header_hex.trim()) else {
        return false;
    };
    if claimed.is_empty() || secret.is_empty() {
        return false;
    }
    let matches =
        |message: &[u8]| mac(secret, message).is_some_and(|mac| mac.verify_slice(&claimed).is_ok());
    matches(raw_body)
        || compact_envelope(raw_body).is_some_and(|compact| matches(compact.as_bytes()))
}

/// Parses a verified body.
pub fn parse_webhook(raw_body: &[u8]) -> Result<FincraEvent, FincraEventError> {
    let envelope: WebhookEnvelope<'_> =
        serde_json::from_slice(raw_body).map_err(|e| FincraEventError(e.to_string()))?;
    let event: String = serde_json::from_str(envelope.event.get())
        .map_err(|_| FincraEventError("`event` is not a string".to_owned()))?;
    let data: WebhookData = serde_json::from_str(envelope.data.get())
        .map_err(|e| FincraEventError(format!("`data`: {e}")))?;
    let Some(reference) = data.reference.filter(|r| !r.is_empty()) else {
        return Err(FincraEventError("`data.reference` is missing".to_owned()));
    };
    let kind = match (event.strip_prefix("payout."), data.customer_reference) {
        (Some(_), Some(customer_reference)) if !customer_reference.is_empty() => {
            FincraEventKind::Payout { customer_reference }
        }
        (Some(_), _) => {
            return Err(FincraEventError(
                "a payout event without `data.customerReference`".to_owned(),
            ));
        }
        // A charge event that names no merchant reference (UNCERTAIN: `wire::WebhookData`)
        // is kept without effect: the checkout's scheduled verification still finds it.
        (None, _) if event == "charge.successful" => match data.merchant_reference {
            Some(merchant_reference) if !merchant_reference.is_empty() => {
                FincraEventKind::Charge { merchant_reference }
            }
            _ => FincraEventKind::Other,
        },
        (None, _) => FincraEventKind::Other,
    };
    Ok(FincraEvent {
        dedupe_key: format!("{event}:{reference}"),
        event,
        kind,
    })
}

/// What a verified event means to malipo: only ever a trigger (§4.2, §4.3). A payout event's
/// claimed status is not read, so the payout is queried by customer reference and only that
/// answer applies (a forged `payout.failed` for a successful payout moves nothing); a charge
/// is a bare "look", verified by merchant reference, amounts and currency compared.
pub fn interpret_webhook(raw_body: &[u8]) -> Result<ProviderEvent, FincraEventError> {
    let event = parse_webhook(raw_body)?;
    Ok(match event.kind {
        FincraEventKind::Payout { customer_reference } => ProviderEvent::TransferClaim {
            provider: ProviderKind::Fincra,
            reference: customer_reference,
            claim: None,
            next: TransferCheck::CheckNow,
        },
        FincraEventKind::Charge { merchant_reference } => ProviderEvent::DepositClaim {
            provider: ProviderKind::Fincra,
            handle: merchant_reference,
            claim: DepositStatus::Pending,
        },
        FincraEventKind::Other => {
            ProviderEvent::NoAction(format!("event {} needs no action", event.event))
        }
    })
}

type HmacSha512 = Hmac<Sha512>;

/// HMAC takes keys of any length, so this is `None` only in theory.
fn mac(secret: &str, message: &[u8]) -> Option<HmacSha512> {
    let mut mac = HmacSha512::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(message);
    Some(mac)
}

/// `{"event":…,"data":…}` with the received values minified, key order kept.
fn compact_envelope(raw_body: &[u8]) -> Option<String> {
    let envelope: WebhookEnvelope<'_> = serde_json::from_slice(raw_body).ok()?;
    Some(format!(
        "{{\"event\":{},\"data\":{}}}",
        minify(envelope.event.get()),
        minify(envelope.data.get())
    ))
}

/// Removes whitespace outside strings from valid JSON text (what `JSON.stringify` writes).
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_triggers_to_ask_fincra() {
        let payout = br#"{"event":"payout.failed","data":{"reference":"fcr-1","customerReference":"po_1","status":"failed"}}"#;
        assert_eq!(
            interpret_webhook(payout),
            Ok(ProviderEvent::TransferClaim {
                provider: ProviderKind::Fincra,
                reference: "po_1".into(),
                claim: None,
                next: TransferCheck::CheckNow,
            })
        );
        let charge = br#"{"event":"charge.successful","data":{"reference":"fcr-2","merchantReference":"dep_1","amount":7000}}"#;
        assert_eq!(
            interpret_webhook(charge),
            Ok(ProviderEvent::DepositClaim {
                provider: ProviderKind::Fincra,
                handle: "dep_1".into(),
                claim: DepositStatus::Pending,
            })
        );
        let other = br#"{"event":"collection.successful","data":{"reference":"fcr-3"}}"#;
        assert_eq!(
            interpret_webhook(other),
            Ok(ProviderEvent::NoAction(
                "event collection.successful needs no action".into()
            ))
        );
        assert!(interpret_webhook(br#"{"event":"payout.failed","data":{}}"#).is_err());
    }
}
