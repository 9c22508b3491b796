//! Parsing a create-intent request into a `NewIntent`, collecting every field error at once.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::{
    Capture, Currency, Money,
    escrow_terms::{self, EscrowTerms},
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
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| errors.push(FieldError::new(field, message));

        for (key, value) in body {
            if ![
                "amount",
                "currency",
                "provider",
                "buyer",
                "payee",
                "commission_bps",
                "commission_fixed_fee",
                "reference",
                "metadata",
                "capture",
            ]
            .contains(&key.as_str())
                && !escrow_terms::FIELDS.contains(&key.as_str())
            {
                fail(key, "is not a known field".to_owned());
            } else if contains_nul(value) {
                fail(
                    key,
                    "must not contain the NUL character (U+0000)".to_owned(),
                );
            }
        }

        let currency = match body.get("currency") {
            Some(Value::String(code)) => code
                .parse::<Currency>()
                .map_err(|e| fail("currency", e.to_string()))
                .ok(),
            Some(_) => {
                fail("currency", "must be a string like \"KES\"".to_owned());
                None
            }
            None => {
                fail("currency", "is required".to_owned());
                None
            }
        };
        let provider = match body.get("provider") {
            Some(Value::String(name)) => ProviderKind::parse(name).or_else(|| {
                fail(
                    "provider",
                    format!(
                        "unknown provider `{name}`; expected paystack, mpesa, lightning or fincra"
                    ),
                );
                None
            }),
            Some(_) => {
                fail("provider", "must be a string".to_owned());
                None
            }
            None => {
                fail("provider", "is required".to_owned());
                None
            }
        };
        let amount = match parse_amount(raw_amount) {
            Ok(amount) if amount <= Decimal::ZERO => {
                fail("amount", "must be greater than zero".to_owned());
                None
            }
            Ok(amount) => currency.and_then(|currency| match Money::new(amount, currency) {
                Ok(money) if storable(&money) => Some(money),
                Ok(_) => {
                    fail("amount", "is too large".to_owned());
                    None
                }
                Err(e) => {
                    fail("amount", e.to_string());
                    None
                }
            }),
            Err(message) => {
                fail("amount", message);
                None
            }
        };

        if let (Some(provider), Some(currency)) = (provider, currency) {
            if !provider.carries(currency) {
                fail(
                    "currency",
                    format!("{currency} is not supported by {provider}"),
                );
            }
            if let (ProviderKind::Mpesa, Some(amount)) = (provider, amount)
                && !amount.is_whole()
            {
                fail("amount", "M-Pesa takes whole shillings".to_owned());
            }
        }

        let buyer = provider.and_then(|provider| {
            parse_buyer(body.get("buyer"), provider)
                .map_err(|(f, m)| fail(f, m))
                .ok()
        });
        // No payee means a collection into the client's balance; `capture` may say so too.
        let capture = match body.get("capture") {
            None | Some(Value::Null) if body.get("payee").is_none() => Some(Capture::Immediate),
            None | Some(Value::Null) => Some(Capture::Escrow),
            Some(Value::String(text)) => Capture::parse(text).or_else(|| {
                fail("capture", "must be `escrow` or `immediate`".to_owned());
                None
            }),
            Some(_) => {
                fail("capture", "must be `escrow` or `immediate`".to_owned());
                None
            }
        };
        let payee = match (capture, body.get("payee")) {
            (Some(Capture::Immediate), None | Some(Value::Null)) => Some(None),
            (Some(Capture::Immediate), Some(_)) => {
                fail(
                    "payee",
                    "an immediate capture settles into your balance and has no payee".to_owned(),
                );
                None
            }
            (_, value) => parse_payee(value)
                .map_err(|(f, m)| fail(f, m))
                .ok()
                .map(Some),
        };
        let payee_destination = payee
            .as_ref()
            .and_then(|p: &Option<Payee>| p.as_ref())
            .and_then(|p| p.payout.destination());
        // (An M-Pesa deposit is already refused above when not whole.)
        if let (Some(payout), Some(amount)) = (payee_destination, amount)
            && payout.provider() == ProviderKind::Mpesa
            && provider != Some(ProviderKind::Mpesa)
            && !amount.is_whole()
        {
            fail(
                "amount",
                "an M-Pesa payee is paid in whole shillings; the amount must be whole".to_owned(),
            );
        }
        if let (Some(payout), Some(currency)) = (payee_destination, currency)
            && !payout.provider().carries(currency)
        {
            fail(
                "payee.payout.provider",
                format!("{} cannot pay out {currency}", payout.provider()),
            );
        }
        if let (Some(Some(payee)), Some(currency)) = (&payee, currency)
            && payee.payout.is_balance()
            && let Err(message) = super::balance_payee::settles(currency)
        {
            fail("currency", message);
        }

        if let (Some(PayoutDestination::Fincra(destination)), Some(currency)) =
            (payee_destination, currency)
            && let Err(message) = super::fincra_destination::pays_out(destination, currency)
        {
            fail("payee.payout.destination", message);
        }

        let commission_bps = match body.get("commission_bps") {
            None | Some(Value::Null) => Some(default_commission_bps),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(bps) if (0..=10_000).contains(&bps) => Some(bps as i32),
                _ => {
                    fail(
                        "commission_bps",
                        "must be an integer from 0 to 10000".to_owned(),
                    );
                    None
                }
            },
            Some(_) => {
                fail(
                    "commission_bps",
                    "must be an integer from 0 to 10000".to_owned(),
                );
                None
            }
        };
        let commission_fixed_fee = match (body.get("commission_fixed_fee"), amount) {
            (None | Some(Value::Null), Some(amount)) => Some(Money::zero(amount.currency())),
            (Some(Value::String(text)), Some(amount)) => {
                match parse_amount(Some(&format!("\"{text}\""))) {
                    Ok(fee) if fee < Decimal::ZERO => {
                        fail("commission_fixed_fee", "must not be negative".to_owned());
                        None
                    }
                    Ok(fee) if fee > amount.amount() => {
                        fail(
                            "commission_fixed_fee",
                            "must not be more than the amount".to_owned(),
                        );
                        None
                    }
                    // Either share of a KES intent may leave by M-Pesa B2C (whole shillings only),
                    // and the commission's destination is the platform's setting, not the
                    // request's: a fractional fee could not be kept exactly as agreed.
                    Ok(fee) if !fee.fract().is_zero() && amount.currency() == Currency::Kes => {
                        fail(
                            "commission_fixed_fee",
                            "must be whole shillings (KES shares may be paid by M-Pesa)".to_owned(),
                        );
                        None
                    }
                    Ok(fee) => Money::new(fee, amount.currency())
                        .map_err(|e| fail("commission_fixed_fee", e.to_string()))
                        .ok(),
                    Err(message) => {
                        fail("commission_fixed_fee", message);
                        None
                    }
                }
            }
            (Some(Value::String(_)) | None | Some(Value::Null), None) => None,
            (Some(_), _) => {
                fail(
                    "commission_fixed_fee",
                    "must be a decimal string in the intent's currency, like \"10.00\"".to_owned(),
                );
                None
            }
        };
        let reference = match body.get("reference") {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(text))
                if !text.is_empty() && text.len() <= 128 && is_safe_identifier(text) =>
            {
                Some(Some(text.clone()))
            }
            Some(_) => {
                fail(
                    "reference",
                    "must be a string of 1–128 printable characters, without control or \
                     bidirectional formatting characters"
                        .to_owned(),
                );
                None
            }
        };
        let metadata = match body.get("metadata") {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(map)) => {
                let size = serde_json::to_vec(map)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX);
                if map.len() > MAX_METADATA_KEYS || size > MAX_METADATA_BYTES {
                    fail(
                        "metadata",
                        format!(
                            "must have at most {MAX_METADATA_KEYS} keys and {MAX_METADATA_BYTES} bytes"
                        ),
                    );
                    None
                } else if !keys_are_identifiers(map) {
                    fail(
                        "metadata",
                        "keys must not contain control or bidirectional formatting characters \
                         (values may)"
                            .to_owned(),
                    );
                    None
                } else {
                    Some(map.clone())
                }
            }
            Some(_) => {
                fail("metadata", "must be an object".to_owned());
                None
            }
        };

        let terms = EscrowTerms::parse(body, amount)
            .map_err(|more| errors.extend(more))
            .ok();
        if let (Some(terms), Some(payee)) = (&terms, &payee) {
            let releasing_terms = [
                ("milestones", !terms.milestones.is_empty()),
                ("auto_release_at", terms.auto_release_at.is_some()),
            ];
            for (field, given) in releasing_terms {
                if given && payee.is_none() {
                    errors.push(FieldError::new(
                        field,
                        "a collection settles into your balance and is never released",
                    ));
                }
            }
            if terms.auto_release_at.is_some()
                && matches!(
                    payee,
                    Some(Payee {
                        payout: PayeePayout::Provider(PayoutDestination::Lightning {
                            bolt11: None
                        }),
                        ..
                    })
                )
            {
                errors.push(FieldError::new(
                    "auto_release_at",
                    "a Lightning payee without an invoice cannot be released automatically",
                ));
            }
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
            ) if errors.is_empty() => Ok(Self {
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
            _ => Err(errors),
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
        && crate::providers::lnbits::bolt11::decode(text).is_ok()
}

/// Whether a Lightning invoice can pay exactly `amount` (in SAT): an amountless invoice can
/// (the payout names the amount); one that carries another amount cannot.
pub fn invoice_pays(bolt11: &str, amount: crate::domain::Money) -> Result<(), String> {
    let invoice = crate::providers::lnbits::bolt11::decode(bolt11)?;
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
