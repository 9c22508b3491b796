//! Reading inbound provider payloads (webhooks, callbacks) whose field types drift: numbers sent
//! as strings and strings as numbers, fields missing or present without a value.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

/// Why an inbound payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    Json(String),
    /// A field we need is absent (or null).
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field is present but unusable.
    #[error("invalid field `{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl PayloadError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// Parses JSON, naming the failure.
pub(crate) fn json(raw_body: &[u8]) -> Result<Value, PayloadError> {
    serde_json::from_slice(raw_body).map_err(|error| PayloadError::Json(error.to_string()))
}

/// Longest text read from a provider field. Real ids and descriptions are far shorter, and ids
/// become keys of the inbox's unique index, whose entries hold about 2.7 kB at most.
const MAX_TEXT_BYTES: usize = 512;

/// A string, or a number written as text; `None` for null, booleans, arrays and objects, and
/// for text that cannot be stored: longer than [`MAX_TEXT_BYTES`] or holding U+0000, which
/// PostgreSQL's text refuses (storing it would fail the insert and answer the provider 500).
pub(crate) fn text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (text.len() <= MAX_TEXT_BYTES && !text.contains('\0')).then_some(text)
}

/// A decimal from a number or numeric string (`1`, `1.00`, `"5.00"`), read from its decimal
/// text so no float rounding enters.
pub(crate) fn decimal(value: &Value) -> Option<Decimal> {
    let text = text(value)?;
    let text = text.trim();
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

/// A required text field of an object.
pub(crate) fn required_text(object: &Value, field: &'static str) -> Result<String, PayloadError> {
    object
        .get(field)
        .and_then(text)
        .filter(|text| !text.is_empty())
        .ok_or(PayloadError::Missing(field))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_drifting_types() {
        assert_eq!(text(&json!("abc")), Some("abc".into()));
        assert_eq!(text(&json!(254708374149_u64)), Some("254708374149".into()));
        assert_eq!(text(&json!(null)), None);
        assert_eq!(decimal(&json!(1)), Some(Decimal::ONE));
        assert_eq!(decimal(&json!(1.00)), Some(Decimal::ONE));
        assert_eq!(decimal(&json!("5.00")), Decimal::from_str("5.00").ok());
        assert_eq!(decimal(&json!(10.5)), Decimal::from_str("10.5").ok());
        assert_eq!(decimal(&json!("abc")), None);
        assert_eq!(text(&json!("ws_CO_\u{0}1")), None);
        assert_eq!(text(&json!("x".repeat(MAX_TEXT_BYTES + 1))), None);
    }
}
