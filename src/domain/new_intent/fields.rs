//! One function per field (or per rule across fields) of a create-intent request. Each records
//! its errors and returns the value when it is valid, so the request's every problem is named
//! in one answer.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::{
    MAX_METADATA_BYTES, MAX_METADATA_KEYS, contains_nul, keys_are_identifiers, parse_amount,
    parse_payee, storable,
};
use crate::domain::{
    Capture, Currency, Money,
    escrow_terms::{self, EscrowTerms},
    parties::{Payee, PayeePayout, PayoutDestination, ProviderKind},
    validation::{FieldError, is_safe_identifier},
};

/// The field errors found so far.
#[derive(Default)]
pub(super) struct Errors(pub(super) Vec<FieldError>);

impl Errors {
    pub(super) fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message.into()));
    }

    /// `result`'s value, or `None` with its error recorded.
    pub(super) fn keep<T>(&mut self, result: Result<T, (&'static str, String)>) -> Option<T> {
        result
            .map_err(|(field, message)| self.fail(field, message))
            .ok()
    }
}

const TOP_LEVEL: [&str; 10] = [
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
];

/// Unknown fields, and values PostgreSQL could not store (U+0000).
pub(super) fn known_and_storable(body: &Map<String, Value>, errors: &mut Errors) {
    for (key, value) in body {
        if !TOP_LEVEL.contains(&key.as_str()) && !escrow_terms::FIELDS.contains(&key.as_str()) {
            errors.fail(key, "is not a known field");
        } else if contains_nul(value) {
            errors.fail(key, "must not contain the NUL character (U+0000)");
        }
    }
}

pub(super) fn currency(body: &Map<String, Value>, errors: &mut Errors) -> Option<Currency> {
    match body.get("currency") {
        Some(Value::String(code)) => code
            .parse::<Currency>()
            .map_err(|e| errors.fail("currency", e.to_string()))
            .ok(),
        Some(_) => {
            errors.fail("currency", "must be a string like \"KES\"");
            None
        }
        None => {
            errors.fail("currency", "is required");
            None
        }
    }
}

pub(super) fn provider(body: &Map<String, Value>, errors: &mut Errors) -> Option<ProviderKind> {
    match body.get("provider") {
        Some(Value::String(name)) => ProviderKind::parse(name).or_else(|| {
            errors.fail(
                "provider",
                format!("unknown provider `{name}`; expected paystack, mpesa, lightning or fincra"),
            );
            None
        }),
        Some(_) => {
            errors.fail("provider", "must be a string");
            None
        }
        None => {
            errors.fail("provider", "is required");
            None
        }
    }
}

/// The amount in `currency`, positive and storable.
pub(super) fn amount(
    raw_amount: Option<&str>,
    currency: Option<Currency>,
    errors: &mut Errors,
) -> Option<Money> {
    match parse_amount(raw_amount) {
        Ok(amount) if amount <= Decimal::ZERO => {
            errors.fail("amount", "must be greater than zero");
            None
        }
        Ok(amount) => currency.and_then(|currency| match Money::new(amount, currency) {
            Ok(money) if storable(&money) => Some(money),
            Ok(_) => {
                errors.fail("amount", "is too large");
                None
            }
            Err(e) => {
                errors.fail("amount", e.to_string());
                None
            }
        }),
        Err(message) => {
            errors.fail("amount", message);
            None
        }
    }
}

/// The provider takes the currency, and M-Pesa whole shillings.
pub(super) fn provider_takes(
    provider: Option<ProviderKind>,
    currency: Option<Currency>,
    amount: Option<Money>,
    errors: &mut Errors,
) {
    let (Some(provider), Some(currency)) = (provider, currency) else {
        return;
    };
    if !provider.carries(currency) {
        errors.fail(
            "currency",
            format!("{currency} is not supported by {provider}"),
        );
    }
    if let (ProviderKind::Mpesa, Some(amount)) = (provider, amount)
        && !amount.is_whole()
    {
        errors.fail("amount", "M-Pesa takes whole shillings");
    }
}

/// Escrow, or straight into the balance; no payee means a collection.
pub(super) fn capture(body: &Map<String, Value>, errors: &mut Errors) -> Option<Capture> {
    match body.get("capture") {
        None | Some(Value::Null) if body.get("payee").is_none() => Some(Capture::Immediate),
        None | Some(Value::Null) => Some(Capture::Escrow),
        Some(Value::String(text)) => Capture::parse(text).or_else(|| {
            errors.fail("capture", "must be `escrow` or `immediate`");
            None
        }),
        Some(_) => {
            errors.fail("capture", "must be `escrow` or `immediate`");
            None
        }
    }
}

/// The payee (none for an immediate capture).
pub(super) fn payee(
    body: &Map<String, Value>,
    capture: Option<Capture>,
    errors: &mut Errors,
) -> Option<Option<Payee>> {
    match (capture, body.get("payee")) {
        (Some(Capture::Immediate), None | Some(Value::Null)) => Some(None),
        (Some(Capture::Immediate), Some(_)) => {
            errors.fail(
                "payee",
                "an immediate capture settles into your balance and has no payee",
            );
            None
        }
        (_, value) => errors.keep(parse_payee(value)).map(Some),
    }
}

/// The payee can be paid what this intent would give it, in its currency.
pub(super) fn payee_is_payable(
    payee: Option<&Payee>,
    provider: Option<ProviderKind>,
    amount: Option<Money>,
    currency: Option<Currency>,
    errors: &mut Errors,
) {
    let Some(payee) = payee else {
        return;
    };
    if let (true, Some(currency)) = (payee.payout.is_balance(), currency)
        && let Err(message) = crate::domain::balance_payee::settles(currency)
    {
        errors.fail("currency", message);
    }
    let Some(payout) = payee.payout.destination() else {
        return;
    };
    // (An M-Pesa deposit is already refused when not whole.)
    if let Some(amount) = amount
        && payout.provider() == ProviderKind::Mpesa
        && provider != Some(ProviderKind::Mpesa)
        && !amount.is_whole()
    {
        errors.fail(
            "amount",
            "an M-Pesa payee is paid in whole shillings; the amount must be whole",
        );
    }
    let Some(currency) = currency else {
        return;
    };
    if !payout.provider().carries(currency) {
        errors.fail(
            "payee.payout.provider",
            format!("{} cannot pay out {currency}", payout.provider()),
        );
    }
    if let PayoutDestination::Fincra(destination) = payout
        && let Err(message) = crate::domain::fincra_destination::pays_out(destination, currency)
    {
        errors.fail("payee.payout.destination", message);
    }
}

pub(super) fn commission_bps(
    body: &Map<String, Value>,
    default_commission_bps: i32,
    errors: &mut Errors,
) -> Option<i32> {
    match body.get("commission_bps") {
        None | Some(Value::Null) => Some(default_commission_bps),
        Some(Value::Number(n)) => match n.as_i64().and_then(|bps| i32::try_from(bps).ok()) {
            Some(bps) if (0..=10_000).contains(&bps) => Some(bps),
            _ => {
                errors.fail("commission_bps", "must be an integer from 0 to 10000");
                None
            }
        },
        Some(_) => {
            errors.fail("commission_bps", "must be an integer from 0 to 10000");
            None
        }
    }
}

/// The fixed part of the commission: in the intent's currency, within its amount.
pub(super) fn commission_fixed_fee(
    body: &Map<String, Value>,
    amount: Option<Money>,
    errors: &mut Errors,
) -> Option<Money> {
    const FIELD: &str = "commission_fixed_fee";
    match (body.get(FIELD), amount) {
        (None | Some(Value::Null), Some(amount)) => Some(Money::zero(amount.currency())),
        (Some(Value::String(text)), Some(amount)) => {
            match parse_amount(Some(&format!("\"{text}\""))) {
                Ok(fee) if fee < Decimal::ZERO => {
                    errors.fail(FIELD, "must not be negative");
                    None
                }
                Ok(fee) if fee > amount.amount() => {
                    errors.fail(FIELD, "must not be more than the amount");
                    None
                }
                // Either share of a KES intent may leave by M-Pesa B2C (whole shillings only),
                // and the commission's destination is the platform's setting, not the
                // request's: a fractional fee could not be kept exactly as agreed.
                Ok(fee) if !fee.fract().is_zero() && amount.currency() == Currency::Kes => {
                    errors.fail(
                        FIELD,
                        "must be whole shillings (KES shares may be paid by M-Pesa)",
                    );
                    None
                }
                Ok(fee) => Money::new(fee, amount.currency())
                    .map_err(|e| errors.fail(FIELD, e.to_string()))
                    .ok(),
                Err(message) => {
                    errors.fail(FIELD, message);
                    None
                }
            }
        }
        (Some(Value::String(_)) | None | Some(Value::Null), None) => None,
        (Some(_), _) => {
            errors.fail(
                FIELD,
                "must be a decimal string in the intent's currency, like \"10.00\"",
            );
            None
        }
    }
}

pub(super) fn reference(body: &Map<String, Value>, errors: &mut Errors) -> Option<Option<String>> {
    match body.get("reference") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(text))
            if !text.is_empty() && text.len() <= 128 && is_safe_identifier(text) =>
        {
            Some(Some(text.clone()))
        }
        Some(_) => {
            errors.fail(
                "reference",
                "must be a string of 1–128 printable characters, without control or \
                 bidirectional formatting characters",
            );
            None
        }
    }
}

pub(super) fn metadata(
    body: &Map<String, Value>,
    errors: &mut Errors,
) -> Option<Map<String, Value>> {
    match body.get("metadata") {
        None | Some(Value::Null) => Some(Map::new()),
        Some(Value::Object(map)) => {
            let size = serde_json::to_vec(map)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if map.len() > MAX_METADATA_KEYS || size > MAX_METADATA_BYTES {
                errors.fail(
                    "metadata",
                    format!(
                        "must have at most {MAX_METADATA_KEYS} keys and {MAX_METADATA_BYTES} bytes"
                    ),
                );
                None
            } else if !keys_are_identifiers(map) {
                errors.fail(
                    "metadata",
                    "keys must not contain control or bidirectional formatting characters \
                     (values may)",
                );
                None
            } else {
                Some(map.clone())
            }
        }
        Some(_) => {
            errors.fail("metadata", "must be an object");
            None
        }
    }
}

/// Release terms only where something can be released, and automatically only where the
/// payee's destination is already known.
pub(super) fn terms_fit_the_payee(
    terms: &EscrowTerms,
    payee: Option<&Option<Payee>>,
    errors: &mut Errors,
) {
    let Some(payee) = payee else {
        return;
    };
    let releasing_terms = [
        ("milestones", !terms.milestones.is_empty()),
        ("auto_release_at", terms.auto_release_at.is_some()),
    ];
    for (field, given) in releasing_terms {
        if given && payee.is_none() {
            errors.fail(
                field,
                "a collection settles into your balance and is never released",
            );
        }
    }
    if terms.auto_release_at.is_some()
        && matches!(
            payee,
            Some(Payee {
                payout: PayeePayout::Provider(PayoutDestination::Lightning { bolt11: None }),
                ..
            })
        )
    {
        errors.fail(
            "auto_release_at",
            "a Lightning payee without an invoice cannot be released automatically",
        );
    }
}
