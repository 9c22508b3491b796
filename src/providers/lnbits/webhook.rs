//! The LNbits payment webhook: unsigned, sent once, and since v1.1.0 a JSON *string* holding
//! JSON. Only the payment hash is taken from it; the caller re-checks with `GET` and our key.

use serde_json::Value;

use super::bolt11::is_payment_hash;
use crate::{
    domain::ProviderKind,
    providers::{
        DepositStatus, ProviderEvent,
        payload::{PayloadError, json},
    },
};

/// A settled-invoice notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LnbitsWebhook {
    /// The invoice's payment hash (lowercase hex), also the dedupe key.
    pub payment_hash: String,
}

/// Reads the body: parsed once, and again if that gave a string (v1.1.0+).
pub fn parse_webhook(raw_body: &[u8]) -> Result<LnbitsWebhook, PayloadError> {
    let mut body = json(raw_body)?;
    if let Value::String(inner) = &body {
        body = json(inner.as_bytes())?;
    }
    let hash = body
        .get("payment_hash")
        .and_then(Value::as_str)
        .ok_or(PayloadError::Missing("payment_hash"))?;
    if !is_payment_hash(hash) {
        return Err(PayloadError::invalid("payment_hash", "not 64 hex digits"));
    }
    Ok(LnbitsWebhook {
        payment_hash: hash.to_ascii_lowercase(),
    })
}

/// What a verified body means to malipo: only "look at this invoice" — the claim is not read
/// (the body is unsigned), so the invoice is checked with LNbits by its payment hash.
pub fn interpret_webhook(raw_body: &[u8]) -> Result<ProviderEvent, PayloadError> {
    let hook = parse_webhook(raw_body)?;
    Ok(ProviderEvent::DepositClaim {
        provider: ProviderKind::Lightning,
        handle: hook.payment_hash,
        claim: DepositStatus::Pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "e3932f9a3b315ca44c06562d240a1141069fddc059c6486b910b6bbc19a0594a";

    #[test]
    fn string_literal_body() {
        let inner =
            format!(r#"{{"checking_id": "x", "payment_hash": "{HASH}", "amount": 1000000}}"#);
        let body = serde_json::to_string(&inner).expect("encodes");
        assert!(body.starts_with('"'));
        assert_eq!(
            parse_webhook(body.as_bytes()).map(|w| w.payment_hash),
            Ok(HASH.into())
        );
    }

    #[test]
    fn object_body_and_bad_hashes() {
        let object = format!(
            r#"{{"payment_hash": "{}", "amount": 1000000}}"#,
            HASH.to_uppercase()
        );
        assert_eq!(
            parse_webhook(object.as_bytes()).map(|w| w.payment_hash),
            Ok(HASH.into())
        );
        assert_eq!(
            parse_webhook(br#"{"amount":1}"#),
            Err(PayloadError::Missing("payment_hash"))
        );
        assert!(matches!(
            parse_webhook(br#"{"payment_hash":"../../etc"}"#),
            Err(PayloadError::Invalid { .. })
        ));
        assert!(matches!(
            parse_webhook(br#""not json inside""#),
            Err(PayloadError::Json(_))
        ));
    }

    #[test]
    fn a_webhook_is_a_bare_look_at_the_invoice() {
        let body =
            format!(r#"{{"payment_hash": "{HASH}", "amount": 1000000, "status": "success"}}"#);
        assert_eq!(
            interpret_webhook(body.as_bytes()),
            Ok(ProviderEvent::DepositClaim {
                provider: ProviderKind::Lightning,
                handle: HASH.into(),
                claim: DepositStatus::Pending,
            })
        );
        assert_eq!(
            interpret_webhook(br#"{"amount":1}"#),
            Err(PayloadError::Missing("payment_hash"))
        );
    }
}
