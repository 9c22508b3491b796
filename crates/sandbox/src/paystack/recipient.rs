//! Paystack transfer recipients (PROVIDERS.md §1.3): `POST /transferrecipient` returns the
//! `RCP_…` code a transfer names.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{INTEGRATION_ID, PaystackState, fail, invalid_json, ok, parse_body, text, timestamp};

const RECIPIENT_TYPES: [&str; 5] = ["nuban", "ghipss", "mobile_money", "basa", "authorization"];

#[derive(Debug, Clone)]
pub(crate) struct Recipient {
    pub(crate) id: u64,
    pub(crate) code: String,
    pub(crate) kind: String,
    name: String,
    account_number: Option<String>,
    bank_code: Option<String>,
    pub(crate) currency: String,
    created_at: DateTime<Utc>,
}

impl Recipient {
    pub(crate) fn details(&self) -> Value {
        json!({
            "authorization_code": null,
            "account_number": self.account_number,
            "account_name": self.name,
            "bank_code": self.bank_code,
            "bank_name": "Sandbox Bank",
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "active": true,
            "createdAt": timestamp(self.created_at),
            "currency": self.currency,
            "domain": "test",
            "id": self.id,
            "integration": INTEGRATION_ID,
            "name": self.name,
            "recipient_code": self.code,
            "type": self.kind,
            "updatedAt": timestamp(self.created_at),
            "is_deleted": false,
            "details": self.details(),
        })
    }
}

pub(crate) async fn create_recipient(
    State(state): State<Arc<PaystackState>>,
    body: Bytes,
) -> Response {
    let Some(body) = parse_body(&body) else {
        return invalid_json();
    };
    let Some(kind) = text(&body, "type").filter(|t| RECIPIENT_TYPES.contains(t)) else {
        return fail(StatusCode::BAD_REQUEST, "Invalid recipient type");
    };
    let Some(name) = text(&body, "name") else {
        return fail(StatusCode::BAD_REQUEST, "Name is required");
    };
    let account_number = text(&body, "account_number").map(str::to_owned);
    let bank_code = text(&body, "bank_code").map(str::to_owned);
    if kind != "authorization" && (account_number.is_none() || bank_code.is_none()) {
        return fail(
            StatusCode::BAD_REQUEST,
            "Account number and bank code are required",
        );
    }
    let shared = &state.shared;
    let recipient = Recipient {
        id: shared.numeric_id(),
        code: format!("RCP_{}", shared.lower_alnum(15)),
        kind: kind.to_owned(),
        name: name.to_owned(),
        account_number,
        bank_code,
        currency: text(&body, "currency").unwrap_or("NGN").to_owned(),
        created_at: Utc::now(),
    };
    let data = recipient.to_json();
    state
        .store()
        .recipients
        .insert(recipient.code.clone(), recipient);
    ok(
        StatusCode::CREATED,
        "Transfer recipient created successfully",
        data,
    )
}

/// `GET /transferrecipient/{id_or_code}` (§1.3): the recipient, or 404 "Transfer recipient not
/// found".
pub(crate) async fn fetch_recipient(
    State(state): State<Arc<PaystackState>>,
    axum::extract::Path(code): axum::extract::Path<String>,
) -> Response {
    let store = state.store();
    let found = store
        .recipients
        .values()
        .find(|r| r.code == code || r.id.to_string() == code)
        .map(Recipient::to_json);
    match found {
        Some(data) => ok(StatusCode::OK, "Recipient retrieved", data),
        None => fail(StatusCode::NOT_FOUND, "Transfer recipient not found"),
    }
}
