//! Parsing a create-intent request into a `NewIntent`, collecting every field error at once.

mod fields;

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::{
    Capture, Money,
    escrow_terms::EscrowTerms,
    parties::{
        Buyer, ClientBalance, Msisdn, Payee, PayeePayout, PayoutDestination, ProviderKind,
        plausible_email,
    },
    validation::{FieldError, is_safe_identifier},
};

/// Largest serialized `metadata` object accepted.
pub const MAX_METADATA_BYTES: usize = 4_096;
/// Most keys `metadata` may have.
pub const MAX_METADATA_KEYS: usize = 50;

/// A valid request to create an intent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIntent {
    /// What the buyer pays.
    pub amount: Money,
    /// Through which provider.
    pub provider: ProviderKind,
    /// Who pays.
    pub buyer: Buyer,
    /// Who is paid (none for an immediate capture into the client's balance).
    pub payee: Option<Payee>,
    /// Escrow for the payee, or straight into the client's balance.
    pub capture: Capture,
    /// Platform commission in basis points of the amount.
    pub commission_bps: i32,
    /// A fixed part of the commission, added to the basis points (zero when none).
    pub commission_fixed_fee: Money,
    /// The client's own reference.
    pub reference: Option<String>,
    /// Client metadata, bounded.
    pub metadata: Map<String, Value>,
    /// Milestones, automatic release and payment deadline.
    pub terms: EscrowTerms,
}

/// The `amount` as given: a decimal string, or a JSON number's exact text.
///
/// The number's text comes from the raw body (serde_json would round it through `f64`).
pub fn parse_amount(raw_amount: Option<&str>) -> Result<Decimal, String> {
    let raw = raw_amount.ok_or("is required")?.trim();
    let text = if let Some(inner) = raw.strip_prefix('"') {
        inner.strip_suffix('"').ok_or("is not a valid string")?
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        raw
    } else {
        return Err("must be a decimal string like \"1500.00\"".to_owned());
    };
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (unsigned.contains('.') && !digits(fraction)) {
        return Err(format!(
            "`{text}` is not a plain decimal amount like \"1500.00\""
        ));
    }
    let amount = Decimal::from_str(text).map_err(|_| format!("`{text}` is out of range"))?;
    // `Decimal::from_str` rounds away digits it cannot hold (past 28 places, or past a 96-bit
    // mantissa) instead of failing; an amount must be exactly what the client sent.
    let places = fraction.trim_end_matches('0').len();
    if amount.normalize().scale() as usize != places {
        return Err(format!("`{text}` has more digits than an amount can hold"));
    }
    Ok(amount)
}

/// Whether `money` fits where it is kept: minor units in an `i64`, and the `numeric(20, 2)`
/// amount columns (below 10^18).
fn storable(money: &Money) -> bool {
    money.minor_units().is_some() && money.amount() < Decimal::from(10_i64.pow(18))
}

/// Whether `value` holds U+0000 in any string or key. PostgreSQL's text and jsonb cannot store
/// it, so such a request would fail at the insert. Iterative: no input depth can overflow the
/// stack.
fn contains_nul(value: &Value) -> bool {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) if text.contains('\0') => return true,
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                if map.keys().any(|key| key.contains('\0')) {
                    return true;
                }
                pending.extend(map.values());
            }
            _ => {}
        }
    }
    false
}

impl NewIntent {
    /// Validates `body` (with the amount's raw text, see [`parse_amount`]); `default_commission_bps`
    /// applies when the body has none.
    pub fn parse(
        body: &Map<String, Value>,
        raw_amount: Option<&str>,
        default_commission_bps: i32,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = fields::Errors::default();
        fields::known_and_storable(body, &mut errors);
        let currency = fields::currency(body, &mut errors);
        let provider = fields::provider(body, &mut errors);
        let amount = fields::amount(raw_amount, currency, &mut errors);
        fields::provider_takes(provider, currency, amount, &mut errors);
        let buyer =
            provider.and_then(|provider| errors.keep(parse_buyer(body.get("buyer"), provider)));
        let capture = fields::capture(body, &mut errors);
        let payee = fields::payee(body, capture, &mut errors);
        fields::payee_is_payable(
            payee.as_ref().and_then(Option::as_ref),
            provider,
            amount,
            currency,
            &mut errors,
        );
        let commission_bps = fields::commission_bps(body, default_commission_bps, &mut errors);
        let commission_fixed_fee = fields::commission_fixed_fee(body, amount, &mut errors);
        let reference = fields::reference(body, &mut errors);
        let metadata = fields::metadata(body, &mut errors);
        let terms = EscrowTerms::parse(body, amount)
            .map_err(|more| errors.0.extend(more))
            .ok();
        if let Some(terms) = &terms {
            fields::terms_fit_the_payee(terms, payee.as_ref(), &mut errors);
        }
        match (
            amount,
            provider,
            buyer,
            payee,
            (commission_bps, commission_fixed_fee),
            reference,
            metadata,
        ) {
            (
                Some(amount),
                Some(provider),
                Some(buyer),
                Some(payee),
                (Some(commission_bps), Some(commission_fixed_fee)),
                Some(reference),
                Some(metadata),
            ) if errors.0.is_empty() => Ok(Self {
                terms: terms.unwrap_or_default(),
                capture: capture.unwrap_or_default(),
                amount,
                provider,
                buyer,
                payee,
                commission_bps,
                commission_fixed_fee,
                reference,
                metadata,
            }),
            _ => Err(errors.0),
        }
    }
}

fn parse_buyer(
    value: Option<&Value>,
    provider: ProviderKind,
) -> Result<Buyer, (&'static str, String)> {
    let Some(Value::Object(buyer)) = value else {
        return Err(("buyer", "is required and must be an object".to_owned()));
    };
    match provider {
        ProviderKind::Paystack => match buyer.get("email") {
            Some(Value::String(email)) if plausible_email(email) => Ok(Buyer::Email {
                email: email.clone(),
            }),
            _ => Err((
                "buyer.email",
                "must be the buyer's email address for paystack".to_owned(),
            )),
        },
        ProviderKind::Mpesa => match buyer.get("msisdn") {
            Some(Value::String(msisdn)) => Msisdn::try_from(msisdn.clone())
                .map(|msisdn| Buyer::Msisdn { msisdn })
                .map_err(|m| ("buyer.msisdn", m)),
            _ => Err(("buyer.msisdn", "is required for mpesa".to_owned())),
        },
        // Fincra's hosted checkout asks for the buyer's email (and a name malipo derives).
        ProviderKind::Fincra => match buyer.get("email") {
            Some(Value::String(email)) if plausible_email(email) => Ok(Buyer::Email {
                email: email.clone(),
            }),
            _ => Err((
                "buyer.email",
                "must be the buyer's email address for fincra".to_owned(),
            )),
        },
        ProviderKind::Lightning => {
            if buyer.is_empty() {
                Ok(Buyer::Anonymous {})
            } else {
                Err(("buyer", "must be {} for lightning".to_owned()))
            }
        }
    }
}

/// Whether every key of `map`, at any depth, is a safe identifier.
fn keys_are_identifiers(map: &Map<String, Value>) -> bool {
    map.iter()
        .all(|(key, value)| is_safe_identifier(key) && nested_keys_are_identifiers(value))
}

fn nested_keys_are_identifiers(value: &Value) -> bool {
    match value {
        Value::Object(map) => keys_are_identifiers(map),
        Value::Array(items) => items.iter().all(nested_keys_are_identifiers),
        _ => true,
    }
}

fn parse_payee(value: Option<&Value>) -> Result<Payee, (&'static str, String)> {
    let Some(Value::Object(payee)) = value else {
        return Err(("payee", "is required and must be an object".to_owned()));
    };
    let id = match payee.get("id") {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 128 && is_safe_identifier(id) => {
            id.clone()
        }
        _ => {
            return Err((
                "payee.id",
                "must be a string of 1–128 characters, without control or bidirectional \
                 formatting characters"
                    .to_owned(),
            ));
        }
    };
    let Some(Value::Object(payout)) = payee.get("payout") else {
        return Err((
            "payee.payout",
            "is required and must be an object".to_owned(),
        ));
    };
    let payout = match payout.get("provider").and_then(Value::as_str) {
        Some("balance") => {
            super::balance_payee::parse(payout)?;
            PayeePayout::Balance(ClientBalance::Balance)
        }
        _ => PayeePayout::Provider(parse_payout_destination(payout).map_err(
            |(field, message)| match field {
                "payee.payout.provider" => (
                    field,
                    "must be mpesa, paystack, lightning, fincra or balance".to_owned(),
                ),
                _ => (field, message),
            },
        )?),
    };
    Ok(Payee { id, payout })
}

/// A payout destination as given under `payee.payout` (at creation) or `payout` (when a failed
/// payout is sent again); errors name the field under `payee.payout`.
pub fn parse_payout_destination(
    payout: &serde_json::Map<String, Value>,
) -> Result<PayoutDestination, (&'static str, String)> {
    let text = |field: &str| payout.get(field).and_then(Value::as_str).map(str::to_owned);
    let destination = match text("provider").as_deref() {
        Some("mpesa") => {
            let msisdn = text("msisdn").ok_or((
                "payee.payout.msisdn",
                "is required for mpesa payouts".to_owned(),
            ))?;
            PayoutDestination::Mpesa {
                msisdn: Msisdn::try_from(msisdn).map_err(|m| ("payee.payout.msisdn", m))?,
            }
        }
        Some("paystack") => match text("recipient_code") {
            Some(code) if code.starts_with("RCP_") && code.len() <= 64 => {
                PayoutDestination::Paystack {
                    recipient_code: code,
                }
            }
            _ => {
                return Err((
                    "payee.payout.recipient_code",
                    "must be a Paystack recipient code like RCP_…".to_owned(),
                ));
            }
        },
        Some("fincra") => PayoutDestination::Fincra(super::fincra_destination::parse(payout)?),
        Some("lightning") => match payout.get("bolt11") {
            None | Some(Value::Null) => PayoutDestination::Lightning { bolt11: None },
            Some(Value::String(invoice)) if looks_like_bolt11(invoice) => {
                PayoutDestination::Lightning {
                    bolt11: Some(invoice.clone()),
                }
            }
            Some(_) => {
                return Err((
                    "payee.payout.bolt11",
                    "must be a BOLT 11 invoice (lnbc…)".to_owned(),
                ));
            }
        },
        _ => {
            return Err((
                "payee.payout.provider",
                "must be mpesa, paystack, lightning or fincra".to_owned(),
            ));
        }
    };
    Ok(destination)
}

/// Whether `text` is a BOLT 11 invoice malipo can pay: its shape, checksum and layout.
pub fn looks_like_bolt11(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    (lower.starts_with("lnbc") || lower.starts_with("lntb") || lower.starts_with("lnbcrt"))
        && text.len() <= 2_048
        && text.bytes().all(|b| b.is_ascii_alphanumeric())
        // A string that only looks like one (`lnbc1garbage`) would be accepted here and fail
        // at payout time, stranding the money.
        && crate::domain::bolt11::decode(text).is_ok()
}

/// Whether a Lightning invoice can pay exactly `amount` (in SAT): an amountless invoice can
/// (the payout names the amount); one that carries another amount cannot.
pub fn invoice_pays(bolt11: &str, amount: crate::domain::Money) -> Result<(), String> {
    let invoice = crate::domain::bolt11::decode(bolt11)?;
    let Some(msat) = invoice.amount_msat else {
        return Ok(());
    };
    let wanted = amount
        .minor_units()
        .and_then(|sats| u64::try_from(sats).ok())
        .map(|sats| sats * 1_000);
    if wanted == Some(msat) {
        Ok(())
    } else {
        Err(format!(
            "the invoice is for {} sat but the payment is {amount}",
            msat / 1_000
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(body: Value) -> Result<NewIntent, Vec<FieldError>> {
        let raw = body.get("amount").map(|a| a.to_string());
        NewIntent::parse(body.as_object().expect("object"), raw.as_deref(), 0)
    }

    fn fields(result: Result<NewIntent, Vec<FieldError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    fn mpesa_body() -> Value {
        json!({"amount":"1500.00","currency":"KES","provider":"mpesa","buyer":{"msisdn":"254708374149"},
               "payee":{"id":"seller-42","payout":{"provider":"mpesa","msisdn":"254700000001"}},
               "commission_bps":1000,"reference":"order-981","metadata":{"order":"981"}})
    }

    #[test]
    fn the_documented_example_parses() {
        let intent = parse(mpesa_body()).expect("valid");
        assert_eq!(intent.amount.to_string(), "1500.00 KES");
        assert_eq!(intent.commission_bps, 1000);
    }

    #[test]
    fn amounts_are_exact_positive_and_fit_the_currency() {
        let mut body = mpesa_body();
        body["amount"] = json!("1500.50");
        assert_eq!(fields(parse(body.clone())), ["amount"]);
        body["amount"] = json!("0");
        assert_eq!(fields(parse(body.clone())), ["amount"]);
        body["amount"] = json!("-5");
        assert_eq!(fields(parse(body.clone())), ["amount"]);
        body["amount"] = json!(true);
        assert_eq!(fields(parse(body.clone())), ["amount"]);
        body["currency"] = json!("EUR");
        body["amount"] = json!("10.005");
        assert!(fields(parse(body)).contains(&"currency".to_owned()));
        assert_eq!(
            parse_amount(Some("1500")).ok(),
            Decimal::from_str("1500").ok()
        );
        assert!(parse_amount(Some("1e3")).is_err());
        // rust_decimal would round this to 1; it must be refused instead.
        assert!(parse_amount(Some("1.0000000000000000000000000000001")).is_err());
        assert!(parse_amount(Some("\"1,500\"")).is_err());
    }

    #[test]
    fn a_fixed_fee_is_an_exact_string_within_the_amount() {
        let mut body = mpesa_body();
        assert!(
            parse(body.clone())
                .expect("valid")
                .commission_fixed_fee
                .is_zero()
        );
        body["commission_fixed_fee"] = json!("25");
        assert_eq!(
            parse(body.clone())
                .expect("valid")
                .commission_fixed_fee
                .to_string(),
            "25.00 KES"
        );
        for bad in [
            json!(25),
            json!("-1"),
            json!("1500.01"),
            json!("2.50"),
            json!("1e2"),
        ] {
            body["commission_fixed_fee"] = bad.clone();
            assert_eq!(
                fields(parse(body.clone())),
                ["commission_fixed_fee"],
                "{bad}"
            );
        }
    }

    #[test]
    fn providers_constrain_currency_and_buyer() {
        let mut body = mpesa_body();
        body["provider"] = json!("paystack");
        assert_eq!(fields(parse(body.clone())), ["buyer.email"]);
        body["provider"] = json!("bitpesa");
        assert_eq!(fields(parse(body)), ["provider"]);
        let lightning = json!({"amount":"2100","currency":"SAT","provider":"lightning","buyer":{},
                               "payee":{"id":"p","payout":{"provider":"lightning"}}});
        assert!(parse(lightning).is_ok());
    }

    #[test]
    fn unknown_fields_and_oversized_metadata_are_named() {
        let mut body = mpesa_body();
        body["surprise"] = json!(1);
        body["metadata"] = json!({"blob": "x".repeat(MAX_METADATA_BYTES)});
        let named = fields(parse(body));
        assert!(named.contains(&"surprise".to_owned()) && named.contains(&"metadata".to_owned()));
    }
}
