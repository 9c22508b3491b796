//! Daraja wire helpers shared by the M-Pesa endpoints: the gateway error body, lenient field
//! readers (Daraja clients send numbers and strings interchangeably), Kenyan time and ids.

use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Offset, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::shared::Shared;

/// `{"requestId","errorCode","errorMessage"}`, Daraja's gateway error.
pub(crate) fn error(shared: &Shared, status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"requestId": request_id(shared), "errorCode": code, "errorMessage": message});
    (status, Json(body)).into_response()
}

/// `400.002.02 Bad Request - Invalid <what>`.
pub(crate) fn invalid(shared: &Shared, what: &str) -> Response {
    error(
        shared,
        StatusCode::BAD_REQUEST,
        "400.002.02",
        &format!("Bad Request - Invalid {what}"),
    )
}

/// Why Daraja refuses a request body; [`Rejection::respond`] makes it the error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// `400.002.02 Bad Request - Invalid <field>`.
    Invalid(&'static str),
    /// `500.001.1001 Wrong credentials`: the STK password does not match.
    WrongCredentials,
}

impl Rejection {
    pub(crate) fn respond(self, shared: &Shared) -> Response {
        match self {
            Rejection::Invalid(what) => invalid(shared, what),
            Rejection::WrongCredentials => error(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "500.001.1001",
                "Wrong credentials",
            ),
        }
    }
}

/// The request body as JSON.
pub(crate) fn parse_body(body: &Bytes) -> Result<Value, Rejection> {
    serde_json::from_slice(body).map_err(|_| Rejection::Invalid("JSON"))
}

/// A field as text, whether sent as a string or a number; `None` when absent or empty.
pub(crate) fn text(body: &Value, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A whole, positive amount of KES, sent as `1`, `"1"` or `"1.00"`.
pub(crate) fn whole_amount(body: &Value, key: &str) -> Option<u64> {
    let amount: Decimal = text(body, key)?.parse().ok()?;
    if !amount.fract().is_zero() || amount <= Decimal::ZERO {
        return None;
    }
    amount.trunc().to_string().parse().ok()
}

/// A Kenyan MSISDN in international form: `2547XXXXXXXX` or `2541XXXXXXXX`.
pub(crate) fn is_msisdn(value: &str) -> bool {
    value.len() == 12
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value.starts_with("2547") || value.starts_with("2541"))
}

/// An absolute http(s) URL with a host.
pub(crate) fn is_url(value: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .filter_map(|scheme| value.strip_prefix(scheme))
        .any(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

/// Kenyan time (EAT, UTC+3), in which Daraja writes its timestamps.
pub(crate) fn eat(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| Utc.fix());
    at.with_timezone(&offset)
}

/// `YYYYMMDDHHmmss` in EAT.
pub(crate) fn compact_time(at: DateTime<Utc>) -> String {
    eat(at).format("%Y%m%d%H%M%S").to_string()
}

/// An id like `29115-34620561-1` (`MerchantRequestID`, `OriginatorConversationID`, requestId).
pub(crate) fn request_id(shared: &Shared) -> String {
    format!("{}-{}-1", shared.digits(5), shared.digits(8))
}

/// A `ConversationID` like `AG_20210709_1234409f86436c583e3f`.
pub(crate) fn conversation_id(shared: &Shared) -> String {
    format!(
        "AG_{}_{}",
        eat(Utc::now()).format("%Y%m%d"),
        shared.hex_bytes(10)
    )
}

/// An M-Pesa receipt number like `NLJ7RT61SV`: a letter, then nine letters or digits.
pub(crate) fn receipt(shared: &Shared) -> String {
    format!(
        "{}{}",
        shared.random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1),
        shared.upper_alnum(9)
    )
}

/// The MSISDN as C2B payloads mask it: `2547 ***** 126`.
pub(crate) fn mask_msisdn(msisdn: &str) -> String {
    let head = msisdn.get(..4).unwrap_or(msisdn);
    let tail = msisdn.get(msisdn.len().saturating_sub(3)..).unwrap_or("");
    format!("{head} ***** {tail}")
}
