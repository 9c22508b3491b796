//! Pull Transactions (PROVIDERS.md §2.9): register a shortcode, then query its C2B payments of
//! the last 48 hours. The response envelope and value formats are not in the reference and
//! follow Daraja's published sample (rows nested in a one-element array).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::MpesaState;
use super::c2b::C2bRecord;
use super::wire::{self, eat, invalid, is_url, parse_body, text};

/// How far back Pull sees.
const WINDOW: TimeDelta = TimeDelta::hours(48);
/// Rows per answer; `OffSetValue` pages through the rest.
const PAGE: usize = 1000;

pub(crate) async fn register(State(state): State<Arc<MpesaState>>, body: Bytes) -> Response {
    let shared = &state.shared;
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(rejection) => return rejection.respond(shared),
    };
    let field = |key: &str| text(&body, key).unwrap_or_default();
    let short_code = field("ShortCode");
    if short_code.is_empty() {
        return invalid(shared, "ShortCode");
    }
    if field("RequestType") != "Pull" {
        return invalid(shared, "RequestType");
    }
    if field("NominatedNumber").is_empty() {
        return invalid(shared, "NominatedNumber");
    }
    let callback_url = field("CallBackURL");
    if !is_url(&callback_url) {
        return invalid(shared, "CallBackURL");
    }
    let fresh = state
        .store()
        .pull
        .insert(short_code.clone(), callback_url)
        .is_none();
    let (status, description) = if fresh {
        ("1000", "Shortcode Registered Successfully")
    } else {
        ("1001", "Shortcode already registered")
    };
    Json(json!({
        "ResponseRefID": wire::request_id(shared),
        "ResponseStatus": status,
        "ShortCode": short_code,
        "ResponseDescription": description,
    }))
    .into_response()
}

/// `2020-08-04 8:36:00` in Kenyan time.
fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").ok()?;
    naive
        .and_local_timezone(*eat(Utc::now()).offset())
        .single()
        .map(|t| t.to_utc())
}

fn row(record: &C2bRecord) -> Value {
    let msisdn = record
        .msisdn
        .parse::<u64>()
        .map_or_else(|_| Value::from(record.msisdn.clone()), Value::from);
    json!({
        "transactionId": record.trans_id,
        "trxDate": eat(record.at).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
        "msisdn": msisdn,
        "sender": "UAT2",
        "transactiontype": "c2b-pay-bill-debit",
        "billreference": record.bill_ref_number,
        "amount": format!("{}.00", record.amount),
        "organizationname": "Malipo Sandbox",
    })
}

pub(crate) async fn query(State(state): State<Arc<MpesaState>>, body: Bytes) -> Response {
    let shared = &state.shared;
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(rejection) => return rejection.respond(shared),
    };
    let short_code = text(&body, "ShortCode").unwrap_or_default();
    let Some(start) = text(&body, "StartDate").as_deref().and_then(parse_date) else {
        return invalid(shared, "StartDate");
    };
    let Some(end) = text(&body, "EndDate").as_deref().and_then(parse_date) else {
        return invalid(shared, "EndDate");
    };
    let Ok(offset) = text(&body, "OffSetValue")
        .unwrap_or_else(|| "0".to_owned())
        .parse::<usize>()
    else {
        return invalid(shared, "OffSetValue");
    };
    let store = state.store();
    if !store.pull.contains_key(&short_code) {
        return invalid(shared, "ShortCode");
    }
    let oldest = Utc::now() - WINDOW;
    let mut records: Vec<&C2bRecord> = store
        .c2b
        .iter()
        .filter(|r| r.short_code == short_code && r.at >= start.max(oldest) && r.at <= end)
        .collect();
    records.sort_by_key(|r| r.at);
    let rows: Vec<Value> = records
        .into_iter()
        .skip(offset)
        .take(PAGE)
        .map(row)
        .collect();
    Json(json!({
        "ResponseRefID": wire::request_id(shared),
        "ResponseCode": "1000",
        "ResponseMessage": "Success",
        "Response": [rows],
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_kenyan_time_with_unpadded_hours() {
        let parsed = parse_date("2020-08-04 8:36:00").unwrap();
        assert_eq!(parsed.to_rfc3339(), "2020-08-04T05:36:00+00:00");
        assert!(parse_date("2020-08-04T08:36:00").is_none());
    }
}
