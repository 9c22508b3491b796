//! Paystack webhook bodies, read after [`verify_paystack`](crate::providers::signature::verify_paystack)
//! accepted the raw bytes. The event only says what to re-verify: money moves on the answer of
//! verify, never on the webhook's claims.

use serde_json::Value;

use crate::{
    domain::{Currency, Money, ProviderKind},
    providers::{
        DepositStatus, ProviderEvent, TransferCheck, TransferStatus,
        payload::{PayloadError, json, required_text, text},
    },
};

/// A webhook, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaystackEvent {
    /// The event type as sent (`charge.success`, `transfer.reversed`, …).
    pub event: String,
    /// Unique per delivery-worthy event: `{event}:{data.id}`, else `{event}:{data.reference}`.
    /// Paystack retries deliveries, so the inbox dedupes on it.
    pub dedupe_key: String,
    /// What it is about.
    pub kind: PaystackEventKind,
}

/// What a webhook is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaystackEventKind {
    /// `charge.success`: a deposit may be paid; verify its reference.
    ChargeSuccess {
        /// Our transaction reference.
        reference: String,
        /// What the webhook claims was paid (informational; verify decides).
        amount: Option<Money>,
    },
    /// `transfer.success|failed|reversed`: a payout moved; verify its reference.
    Transfer {
        /// Which of the three.
        outcome: TransferOutcome,
        /// Our transfer reference.
        reference: String,
        /// Paystack's `TRF_…` code, when sent.
        transfer_code: Option<String>,
        /// `created_at` (or `createdAt`), as sent.
        created_at: Option<String>,
    },
    /// `refund.pending|processed|failed`: fetch the refund to learn more.
    Refund {
        /// The status word after `refund.`.
        status: String,
        /// The refunded transaction's reference (`data.transaction_reference` or
        /// `data.transaction.reference`).
        transaction_reference: String,
        /// Paystack's refund id, when sent.
        refund_id: Option<String>,
    },
    /// Any other event: acknowledged and ignored.
    Other,
}

/// The three transfer webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// `transfer.success`.
    Success,
    /// `transfer.failed`.
    Failed,
    /// `transfer.reversed` (may follow a success).
    Reversed,
}

/// Reads a verified webhook body `{event, data}`.
pub fn parse_webhook(raw_body: &[u8]) -> Result<PaystackEvent, PayloadError> {
    let body = json(raw_body)?;
    let event = required_text(&body, "event")?;
    let data = body
        .get("data")
        .filter(|data| data.is_object())
        .ok_or(PayloadError::Missing("data"))?;
    let id = data.get("id").and_then(text).filter(|id| !id.is_empty());
    let reference = data
        .get("reference")
        .and_then(text)
        .filter(|r| !r.is_empty());
    let dedupe_key = match (&id, &reference) {
        (Some(id), _) => format!("{event}:{id}"),
        (None, Some(reference)) => format!("{event}:{reference}"),
        (None, None) => return Err(PayloadError::Missing("data.id")),
    };
    let kind = match event.as_str() {
        "charge.success" => PaystackEventKind::ChargeSuccess {
            reference: reference.ok_or(PayloadError::Missing("data.reference"))?,
            amount: claimed_amount(data),
        },
        "transfer.success" | "transfer.failed" | "transfer.reversed" => {
            let outcome = match event.as_str() {
                "transfer.success" => TransferOutcome::Success,
                "transfer.failed" => TransferOutcome::Failed,
                _ => TransferOutcome::Reversed,
            };
            PaystackEventKind::Transfer {
                outcome,
                reference: reference.ok_or(PayloadError::Missing("data.reference"))?,
                transfer_code: data.get("transfer_code").and_then(text),
                created_at: data
                    .get("created_at")
                    .or_else(|| data.get("createdAt"))
                    .and_then(text),
            }
        }
        refund if refund.starts_with("refund.") => PaystackEventKind::Refund {
            status: refund.trim_start_matches("refund.").to_owned(),
            transaction_reference: refund_transaction_reference(data)?,
            refund_id: id,
        },
        _ => PaystackEventKind::Other,
    };
    Ok(PaystackEvent {
        event,
        dedupe_key,
        kind,
    })
}

/// What a verified webhook body means to malipo. A charge is a deposit claim (verify decides,
/// amount and currency compared); a transfer event is checked at once, since events come out
/// of order (a reversal after a success, or before it) and may lie; a refund event makes the
/// refund be fetched.
pub fn interpret_webhook(raw_body: &[u8]) -> Result<ProviderEvent, PayloadError> {
    let event = parse_webhook(raw_body)?;
    Ok(match event.kind {
        PaystackEventKind::ChargeSuccess { reference, amount } => ProviderEvent::DepositClaim {
            provider: ProviderKind::Paystack,
            claim: amount.map_or(DepositStatus::Pending, |amount| DepositStatus::Succeeded {
                amount,
                provider_ref: reference.clone(),
            }),
            handle: reference,
        },
        PaystackEventKind::Transfer {
            outcome,
            reference,
            transfer_code,
            ..
        } => ProviderEvent::TransferClaim {
            provider: ProviderKind::Paystack,
            claim: Some(outcome.claim(transfer_code.unwrap_or_else(|| reference.clone()))),
            reference,
            next: TransferCheck::CheckNow,
        },
        PaystackEventKind::Refund {
            transaction_reference,
            refund_id,
            ..
        } => ProviderEvent::RefundClaim {
            provider: ProviderKind::Paystack,
            transaction_reference,
            refund_id,
        },
        PaystackEventKind::Other => {
            ProviderEvent::NoAction(format!("event {} needs no action", event.event))
        }
    })
}

impl TransferOutcome {
    /// The transfer status this event claims, in malipo's terms.
    fn claim(self, transfer_code: String) -> TransferStatus {
        match self {
            Self::Success => TransferStatus::Succeeded {
                provider_ref: transfer_code,
            },
            Self::Failed => TransferStatus::Failed {
                reason: "transfer.failed".to_owned(),
            },
            Self::Reversed => TransferStatus::Reversed {
                reason: "transfer.reversed".to_owned(),
            },
        }
    }
}

fn claimed_amount(data: &Value) -> Option<Money> {
    let currency: Currency = data.get("currency").and_then(text)?.parse().ok()?;
    let amount = data.get("amount").and_then(text)?.parse::<i64>().ok()?;
    Some(Money::from_minor(amount, currency))
}

/// The refund payload's shape is not pinned down: the reference may sit at the top or inside
/// the embedded transaction.
fn refund_transaction_reference(data: &Value) -> Result<String, PayloadError> {
    data.get("transaction_reference")
        .and_then(text)
        .or_else(|| {
            data.get("transaction")
                .and_then(|transaction| transaction.get("reference"))
                .and_then(text)
        })
        .filter(|reference| !reference.is_empty())
        .ok_or(PayloadError::Missing("data.transaction_reference"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_success_vector_body() {
        let body = br#"{"event":"charge.success","data":{"reference":"ref_123","amount":10000,"currency":"NGN","status":"success"}}"#;
        let event = parse_webhook(body).expect("parses");
        assert_eq!(event.dedupe_key, "charge.success:ref_123");
        assert_eq!(
            event.kind,
            PaystackEventKind::ChargeSuccess {
                reference: "ref_123".into(),
                amount: Some(Money::from_minor(10000, Currency::Ngn)),
            }
        );
    }

    #[test]
    fn charge_success_with_id_dedupes_on_it() {
        let body = br#"{"event":"charge.success","data":{"id":4099260516,"reference":"re4lyvq3s3","amount":"40333","currency":"NGN","status":"success"}}"#;
        let event = parse_webhook(body).expect("parses");
        assert_eq!(event.dedupe_key, "charge.success:4099260516");
    }

    #[test]
    fn transfer_events_tolerate_both_date_spellings() {
        let snake = br#"{"event":"transfer.failed","data":{"amount":200000,"currency":"NGN","domain":"test","failures":null,"id":69123462,
 "integration":{"id":100043,"is_live":true,"business_name":"Paystack"},"reason":"Enjoy",
 "reference":"1976435206","source":"balance","status":"failed","transfer_code":"TRF_chs98y5rykjb47w",
 "transferred_at":null,"recipient":{"recipient_code":"RCP_cjcua8itre45gs","type":"nuban","details":{}},
 "session":{"provider":"nip","id":"74849400998877667"},"created_at":"2024-01-01T00:00:00.000Z","updated_at":"..."}}"#;
        let event = parse_webhook(snake).expect("parses");
        assert_eq!(event.dedupe_key, "transfer.failed:69123462");
        assert_eq!(
            event.kind,
            PaystackEventKind::Transfer {
                outcome: TransferOutcome::Failed,
                reference: "1976435206".into(),
                transfer_code: Some("TRF_chs98y5rykjb47w".into()),
                created_at: Some("2024-01-01T00:00:00.000Z".into()),
            }
        );
        let camel = br#"{"event":"transfer.reversed","data":{"id":69123462,"reference":"1976435206","createdAt":"2024-01-02T00:00:00.000Z"}}"#;
        let event = parse_webhook(camel).expect("parses");
        assert_eq!(event.dedupe_key, "transfer.reversed:69123462");
        assert!(matches!(
            event.kind,
            PaystackEventKind::Transfer {
                outcome: TransferOutcome::Reversed,
                created_at: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn refund_events_correlate_either_way() {
        let flat = br#"{"event":"refund.processed","data":{"id":3018284,"status":"processed","transaction_reference":"T685312322670591","amount":10000}}"#;
        let event = parse_webhook(flat).expect("parses");
        assert_eq!(event.dedupe_key, "refund.processed:3018284");
        assert_eq!(
            event.kind,
            PaystackEventKind::Refund {
                status: "processed".into(),
                transaction_reference: "T685312322670591".into(),
                refund_id: Some("3018284".into()),
            }
        );
        let nested = br#"{"event":"refund.failed","data":{"id":"9","transaction":{"id":1004723697,"reference":"T685312322670591"}}}"#;
        let event = parse_webhook(nested).expect("parses");
        assert!(matches!(
            event.kind,
            PaystackEventKind::Refund { ref transaction_reference, .. } if transaction_reference == "T685312322670591"
        ));
        let lost = br#"{"event":"refund.failed","data":{"id":"9"}}"#;
        assert_eq!(
            parse_webhook(lost),
            Err(PayloadError::Missing("data.transaction_reference"))
        );
    }

    #[test]
    fn odd_bodies() {
        assert!(matches!(
            parse_webhook(b"not json"),
            Err(PayloadError::Json(_))
        ));
        assert_eq!(
            parse_webhook(br#"{"data":{"id":1}}"#),
            Err(PayloadError::Missing("event"))
        );
        assert_eq!(
            parse_webhook(br#"{"event":"x","data":"y"}"#),
            Err(PayloadError::Missing("data"))
        );
        let other =
            parse_webhook(br#"{"event":"subscription.create","data":{"id":5}}"#).expect("parses");
        assert_eq!(other.kind, PaystackEventKind::Other);
    }

    #[test]
    fn webhooks_mean_provider_events() {
        let charge = br#"{"event":"charge.success","data":{"reference":"ref_123","amount":10000,"currency":"NGN"}}"#;
        assert_eq!(
            interpret_webhook(charge),
            Ok(ProviderEvent::DepositClaim {
                provider: ProviderKind::Paystack,
                handle: "ref_123".into(),
                claim: DepositStatus::Succeeded {
                    amount: Money::from_minor(10000, Currency::Ngn),
                    provider_ref: "ref_123".into(),
                },
            })
        );
        let no_amount = br#"{"event":"charge.success","data":{"reference":"ref_124"}}"#;
        assert!(matches!(
            interpret_webhook(no_amount),
            Ok(ProviderEvent::DepositClaim {
                claim: DepositStatus::Pending,
                ..
            })
        ));
        let transfer = br#"{"event":"transfer.reversed","data":{"id":1,"reference":"po_1","transfer_code":"TRF_1"}}"#;
        assert_eq!(
            interpret_webhook(transfer),
            Ok(ProviderEvent::TransferClaim {
                provider: ProviderKind::Paystack,
                reference: "po_1".into(),
                claim: Some(TransferStatus::Reversed {
                    reason: "transfer.reversed".into()
                }),
                next: TransferCheck::CheckNow,
            })
        );
        let refund =
            br#"{"event":"refund.processed","data":{"id":3018284,"transaction_reference":"T6"}}"#;
        assert_eq!(
            interpret_webhook(refund),
            Ok(ProviderEvent::RefundClaim {
                provider: ProviderKind::Paystack,
                transaction_reference: "T6".into(),
                refund_id: Some("3018284".into()),
            })
        );
        let other = br#"{"event":"subscription.create","data":{"id":5}}"#;
        assert_eq!(
            interpret_webhook(other),
            Ok(ProviderEvent::NoAction(
                "event subscription.create needs no action".into()
            ))
        );
        assert_eq!(
            interpret_webhook(br#"{"data":{"id":1}}"#),
            Err(PayloadError::Missing("event"))
        );
    }
}
