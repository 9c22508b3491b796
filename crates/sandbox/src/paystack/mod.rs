//! Fake Paystack (PROVIDERS.md §1): Bearer secret-key auth, the `{status, message, data}`
//! envelope, transactions, transfers, refunds, and webhooks signed over the raw body.

mod charge;
mod recipient;
mod refund;
mod transfer;
mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::fault_layer::{FaultContext, apply_faults};
use super::script::Script;
use super::settings::PaystackSettings;
use super::shared::{Shared, lock};

pub use charge::ChargeOutcome;
pub use refund::{RefundEventShape, RefundOutcome, refund_key};
pub use transfer::{DuplicateTransferPolicy, TransferOutcome};
pub use webhook::paystack_signature;

/// Paystack's integration id in payloads.
const INTEGRATION_ID: u64 = 100_043;

pub(crate) struct PaystackState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) settings: PaystackSettings,
    /// Where this fake is served, for `authorization_url`.
    pub(crate) base_url: String,
    pub(crate) webhook_url: Mutex<Option<String>>,
    pub(crate) store: Mutex<Store>,
    /// `GET /refund/{id}` answers 404 for every refund (Paystack lagging, or a wrong id).
    pub(crate) refund_fetch_lags: std::sync::atomic::AtomicBool,
}

pub(crate) struct Store {
    transactions: HashMap<String, charge::Transaction>,
    access_codes: HashMap<String, String>,
    recipients: HashMap<String, recipient::Recipient>,
    transfers: HashMap<String, transfer::Transfer>,
    refunds: HashMap<u64, refund::Refund>,
    pub(crate) transfer_script: Script<TransferOutcome>,
    pub(crate) refund_script: Script<RefundOutcome>,
}

impl PaystackState {
    pub(crate) fn new(shared: Arc<Shared>, settings: PaystackSettings, base_url: String) -> Self {
        let store = Store {
            transactions: HashMap::new(),
            access_codes: HashMap::new(),
            recipients: HashMap::new(),
            transfers: HashMap::new(),
            refunds: HashMap::new(),
            transfer_script: Script::new(
                settings.transfer_outcomes.clone(),
                TransferOutcome::Success,
            ),
            refund_script: Script::new(Vec::new(), RefundOutcome::Processed),
        };
        Self {
            shared,
            webhook_url: Mutex::new(settings.webhook_url.clone()),
            settings,
            base_url,
            store: Mutex::new(store),
            refund_fetch_lags: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

/// Routes under the Paystack base URL: the API behind faults and key auth, and the fake
/// checkout page a buyer (or curl) uses to pay.
pub(crate) fn router(state: Arc<PaystackState>, faults: FaultContext) -> Router {
    let api = Router::new()
        .route("/transaction/initialize", post(charge::initialize))
        .route("/transaction/verify/{reference}", get(charge::verify))
        .route("/transferrecipient", post(recipient::create_recipient))
        .route("/transferrecipient/{code}", get(recipient::fetch_recipient))
        .route("/transfer", post(transfer::initiate))
        .route("/transfer/verify/{reference}", get(transfer::verify))
        .route("/refund", post(refund::create).get(refund::list))
        .route("/refund/{id}", get(refund::fetch))
        .route_layer(from_fn_with_state(Arc::clone(&state), require_secret_key))
        .route_layer(from_fn_with_state(faults, apply_faults));
    let checkout = Router::new().route(
        "/checkout/{access_code}",
        get(charge::checkout_page).post(charge::checkout_pay),
    );
    api.merge(checkout).with_state(state)
}

async fn require_secret_key(
    State(state): State<Arc<PaystackState>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(state.settings.secret_key.as_str()) {
        return fail(StatusCode::UNAUTHORIZED, "Invalid key");
    }
    next.run(request).await
}

/// A success envelope.
pub(crate) fn ok(status: StatusCode, message: &str, data: Value) -> Response {
    (
        status,
        Json(json!({"status": true, "message": message, "data": data})),
    )
        .into_response()
}

/// An error envelope.
pub(crate) fn fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"status": false, "message": message}))).into_response()
}

/// The request body as JSON.
pub(crate) fn parse_body(body: &Bytes) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

/// Paystack's 400 for a body that is not JSON.
pub(crate) fn invalid_json() -> Response {
    fail(StatusCode::BAD_REQUEST, "Invalid JSON body")
}

/// A positive amount in minor units, given as an integer or a numeric string (the official
/// curl sample sends `"20000"`).
pub(crate) fn minor_amount(value: Option<&Value>) -> Option<i64> {
    let amount = match value? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()?
        }
        _ => return None,
    };
    (amount > 0).then_some(amount)
}

/// A string field, if present and non-empty.
pub(crate) fn text<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Paystack's timestamp format, `2024-08-22T09:15:02.000Z`.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
