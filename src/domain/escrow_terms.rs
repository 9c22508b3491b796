//! The optional escrow terms of a new intent: named milestones that split its amount, an
//! automatic release time, and a payment deadline.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::{Money, validation::FieldError};

/// Most milestones an intent may have.
pub const MAX_MILESTONES: usize = 50;
/// The furthest ahead an automatic release may be set.
pub const MAX_AUTO_RELEASE_AHEAD: Duration = Duration::days(366);
/// The furthest ahead a payment deadline may be set.
pub const MAX_EXPIRES_AHEAD: Duration = Duration::days(30);

/// A named part of an intent's amount, released once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Milestone {
    /// The client's name for it (`m1`, `design`, …).
    pub id: String,
    /// Its amount.
    pub amount: Money,
}

/// Milestones, automatic release and deadline, as given at creation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EscrowTerms {
    /// Empty, or parts summing exactly to the amount.
    pub milestones: Vec<Milestone>,
    /// When a held, undisputed intent is released by itself.
    pub auto_release_at: Option<DateTime<Utc>>,
    /// When an unpaid intent expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The fields this module reads from a create-intent body.
pub const FIELDS: [&str; 3] = ["milestones", "auto_release_at", "expires_at"];

/// Whether `id` can name a milestone (the database's CHECK says the same).
pub fn is_milestone_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

/// A future time within `ahead` of now, given as RFC 3339.
pub fn parse_future_time(value: &Value, ahead: Duration) -> Result<DateTime<Utc>, String> {
    let Value::String(text) = value else {
        return Err("must be an RFC 3339 time like \"2026-12-31T12:00:00Z\"".to_owned());
    };
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("`{text}` is not an RFC 3339 time like \"2026-12-31T12:00:00Z\""))?
        .with_timezone(&Utc);
    let now = Utc::now();
    if at <= now {
        return Err("must be in the future".to_owned());
    }
    if at > now + ahead {
        return Err(format!("must be at most {} days ahead", ahead.num_days()));
    }
    Ok(at)
}

impl EscrowTerms {
    /// Reads the terms from `body` for an intent of `amount` (`None` while the amount itself is
    /// invalid: milestones are then only checked for shape).
    pub fn parse(
        body: &Map<String, Value>,
        amount: Option<Money>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let milestones = match body.get("milestones") {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => parse_milestones(value, amount, &mut errors),
        };
        let mut time = |field: &str, ahead| match body.get(field) {
            None | Some(Value::Null) => None,
            Some(value) => parse_future_time(value, ahead)
                .map_err(|why| errors.push(FieldError::new(field, why)))
                .ok(),
        };
        let auto_release_at = time("auto_release_at", MAX_AUTO_RELEASE_AHEAD);
        let expires_at = time("expires_at", MAX_EXPIRES_AHEAD);
        if errors.is_empty() {
            Ok(Self {
                milestones,
                auto_release_at,
                expires_at,
            })
        } else {
            Err(errors)
        }
    }
}

fn parse_milestones(
    value: &Value,
    amount: Option<Money>,
    errors: &mut Vec<FieldError>,
) -> Vec<Milestone> {
    let mut fail = |message: String| errors.push(FieldError::new("milestones", message));
    let Value::Array(items) = value else {
        fail("must be an array of {\"id\", \"amount\"}".to_owned());
        return Vec::new();
    };
    if items.is_empty() || items.len() > MAX_MILESTONES {
        fail(format!("must have 1 to {MAX_MILESTONES} milestones"));
        return Vec::new();
    }
    let mut milestones = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let id = item.get("id").and_then(Value::as_str);
        let text = item.get("amount").and_then(Value::as_str);
        let extra = item
            .as_object()
            .is_some_and(|o| o.keys().any(|k| k != "id" && k != "amount"));
        let (Some(id), Some(text), false) = (id, text, extra) else {
            fail(format!(
                "[{i}] must be {{\"id\": \"m1\", \"amount\": \"400.00\"}} and nothing else"
            ));
            continue;
        };
        if !is_milestone_id(id) {
            fail(format!(
                "[{i}].id must be 1 to 64 letters, digits or `_.:-`"
            ));
            continue;
        }
        if milestones.iter().any(|m: &Milestone| m.id == id) {
            fail(format!("[{i}].id `{id}` is given twice"));
            continue;
        }
        let Some(amount) = amount else { continue };
        let parsed = Decimal::from_str(text)
            .ok()
            .filter(|d| d.is_sign_positive() && !d.is_zero())
            .and_then(|d| Money::new(d, amount.currency()).ok());
        match parsed {
            Some(part) => milestones.push(Milestone {
                id: id.to_owned(),
                amount: part,
            }),
            None => fail(format!(
                "[{i}].amount `{text}` must be a positive decimal string in {}",
                amount.currency()
            )),
        }
    }
    if let Some(amount) = amount
        && errors.is_empty()
    {
        let sum = milestones
            .iter()
            .try_fold(Money::zero(amount.currency()), |sum, m| {
                sum.checked_add(m.amount)
            });
        if sum.ok() != Some(amount) {
            errors.push(FieldError::new(
                "milestones",
                format!("amounts must sum to the intent's amount ({amount})"),
            ));
        }
    }
    milestones
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::Currency;

    fn parse(body: Value) -> Result<EscrowTerms, Vec<String>> {
        let Value::Object(body) = body else {
            unreachable!()
        };
        EscrowTerms::parse(&body, Some(Money::from_minor(100_000, Currency::Kes)))
            .map_err(|errors| errors.iter().map(|e| e.message.clone()).collect())
    }

    #[test]
    fn milestones_must_sum_to_the_amount_with_unique_ids() {
        let ok = parse(json!({"milestones": [{"id": "m1", "amount": "400.00"}, {"id": "m2", "amount": "600"}]}))
            .expect("valid");
        assert_eq!(ok.milestones.len(), 2);
        assert!(parse(json!({"milestones": [{"id": "m1", "amount": "400.00"}]})).is_err());
        assert!(
            parse(json!({"milestones": [{"id": "m1", "amount": "500"}, {"id": "m1", "amount": "500"}]}))
                .is_err()
        );
        assert!(parse(json!({"milestones": [{"id": "m 1", "amount": "1000"}]})).is_err());
        assert!(parse(json!({"milestones": [{"id": "m1", "amount": 1000}]})).is_err());
        assert!(parse(json!({"milestones": [{"id": "m1", "amount": "-1000"}]})).is_err());
        assert!(parse(json!({"milestones": []})).is_err());
    }

    #[test]
    fn times_must_be_future_rfc3339_within_bounds() {
        let soon = (Utc::now() + Duration::hours(1)).to_rfc3339();
        let ok = parse(json!({"auto_release_at": soon, "expires_at": soon})).expect("valid");
        assert!(ok.auto_release_at.is_some() && ok.expires_at.is_some());
        assert!(parse(json!({"auto_release_at": "2020-01-01T00:00:00Z"})).is_err());
        assert!(
            parse(json!({"expires_at": (Utc::now() + Duration::days(31)).to_rfc3339()})).is_err()
        );
        assert!(parse(json!({"expires_at": "tomorrow"})).is_err());
    }
}
