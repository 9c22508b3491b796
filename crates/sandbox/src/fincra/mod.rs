//! Fake Fincra (PROVIDERS.md §4 and §6): `api-key` + `x-business-id` auth, payouts deduped on
//! `customerReference` (422 `DUPLICATE_CUSTOMER_REFERENCE`), `processing` first and then a
//! signed webhook (or none: Fincra's retries are off by default), the query by customer
//! reference (404 `RESOURCE_NOT_FOUND` for a reference it never saw), a wallet that can be
//! underfunded (`NO_ENOUGH_MONEY_IN_WALLET`), account resolution and the bank list; checkout
//! collections (`checkout.rs`). Lost answers, delays, 5xx and lies come from the shared fault
//! knobs.

mod banks;
mod checkout;
mod knobs;
mod payout;
mod settings;
mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::fault_layer::{FaultContext, apply_faults};
use super::script::Script;
use super::shared::{Shared, lock};

pub use payout::FincraPayoutOutcome;
pub use settings::FincraSettings;

pub(crate) struct FincraState {
    pub(crate) shared: Arc<Shared>,
    /// This fake's base URL (checkout links point under it).
    pub(crate) base_url: String,
    pub(crate) settings: FincraSettings,
    pub(crate) webhook_url: Mutex<Option<String>>,
    pub(crate) store: Mutex<Store>,
    /// The next this-many queries answer 404 although the payout exists (Fincra lagging
    /// behind its own initiation).
    pub(crate) query_lag: std::sync::atomic::AtomicU32,
    /// Banks Fincra lists beyond the ones malipo ships (a bank that opened since).
    pub(crate) extra_banks: Mutex<Vec<(String, String)>>,
}

pub(crate) struct Store {
    /// By `customerReference`.
    payouts: HashMap<String, payout::Payout>,
    /// The wallet per currency; a currency without an entry is unlimited.
    pub(crate) balances: HashMap<String, Decimal>,
    pub(crate) script: Script<FincraPayoutOutcome>,
    /// Checkouts by merchant reference (ours).
    checkouts: HashMap<String, checkout::Checkout>,
    /// Fincra's checkout reference → merchant reference.
    checkout_links: HashMap<String, String>,
}

impl FincraState {
    pub(crate) fn new(shared: Arc<Shared>, settings: FincraSettings, base_url: String) -> Self {
        let store = Store {
            payouts: HashMap::new(),
            balances: settings.balances.clone(),
            script: Script::new(settings.outcomes.clone(), FincraPayoutOutcome::Successful),
            checkouts: HashMap::new(),
            checkout_links: HashMap::new(),
        };
        Self {
            shared,
            base_url,
            webhook_url: Mutex::new(settings.webhook_url.clone()),
            settings,
            store: Mutex::new(store),
            query_lag: std::sync::atomic::AtomicU32::new(0),
            extra_banks: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Every bank this Fincra pays to: the shipped list and the extra ones.
    fn banks(&self) -> Vec<(String, String)> {
        let mut banks: Vec<(String, String)> = banks::NGN_BANKS
            .iter()
            .map(|(code, name)| ((*code).to_owned(), (*name).to_owned()))
            .collect();
        banks.extend(lock(&self.extra_banks).iter().cloned());
        banks
    }
}

/// Routes under the Fincra base URL, behind faults and key auth.
pub(crate) fn router(state: Arc<FincraState>, faults: FaultContext) -> Router {
    // Checkout is opened with the public key alone; the hosted page is the buyer's, so no
    // faults or keys stand before it.
    let checkout = Router::new()
        .route("/checkout-core/payments", post(checkout::open))
        .route_layer(from_fn_with_state(
            Arc::clone(&state),
            checkout::require_pub_key,
        ))
        .route_layer(from_fn_with_state(faults.clone(), apply_faults))
        .with_state(Arc::clone(&state));
    let page = Router::new()
        .route(
            "/checkout/pay/{reference}",
            get(checkout::page).post(checkout::pay),
        )
        .with_state(Arc::clone(&state));
    Router::new()
        .route(
            "/checkout/payments/merchant-reference/{reference}",
            get(checkout::verify),
        )
        .route("/disbursements/payouts", post(payout::initiate))
        .route(
            "/disbursements/payouts/customer-reference/{reference}",
            get(payout::query),
        )
        .route("/core/accounts/resolve", post(resolve_account))
        .route("/core/banks", get(banks))
        .route_layer(from_fn_with_state(Arc::clone(&state), require_keys))
        .route_layer(from_fn_with_state(faults, apply_faults))
        .with_state(state)
        .merge(checkout)
        .merge(page)
}

async fn require_keys(
    State(state): State<Arc<FincraState>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let key_matches = headers
        .get("api-key")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|key| key == state.settings.secret_key);
    let has_business = headers.contains_key("x-business-id");
    if !key_matches {
        return error(StatusCode::UNAUTHORIZED, "Invalid API key", "UNAUTHORIZED");
    }
    if !has_business {
        // §4: the auth layer's own shape.
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"message": "x-business-id must be provided in the header",
                "error": "Unauthorized", "statusCode": 401}),
            ),
        )
            .into_response();
    }
    next.run(request).await
}

/// A refusal in Fincra's shape: `{"success":false,"error":…,"errorType":…}`.
pub(crate) fn error(status: StatusCode, message: &str, error_type: &str) -> Response {
    (
        status,
        Json(json!({"success": false, "error": message, "errorType": error_type})),
    )
        .into_response()
}

/// A success envelope.
pub(crate) fn ok(message: &str, data: Value) -> Response {
    (
        StatusCode::OK,
        Json(json!({"success": true, "message": message, "data": data})),
    )
        .into_response()
}

/// Account numbers beginning `99` do not exist at any bank; every other NUBAN at a listed bank
/// resolves to a made-up holder.
async fn resolve_account(State(state): State<Arc<FincraState>>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid JSON body",
            "VALIDATION_FAILED",
        );
    };
    let number = body["accountNumber"].as_str().unwrap_or_default();
    let bank = body["bankCode"].as_str().unwrap_or_default();
    let nuban = number.len() == 10 && number.bytes().all(|b| b.is_ascii_digit());
    if !nuban || number.starts_with("99") || !state.banks().iter().any(|(code, _)| code == bank) {
        return error(
            StatusCode::BAD_REQUEST,
            "Could not resolve account",
            "VALIDATION_FAILED",
        );
    }
    ok(
        "Account resolved successfully",
        json!({"accountNumber": number, "accountName": "SANDBOX ACCOUNT HOLDER"}),
    )
}

async fn banks(State(state): State<Arc<FincraState>>) -> Response {
    let list: Vec<Value> = state
        .banks()
        .iter()
        .map(|(code, name)| json!({"code": code, "name": name, "country": "NG", "currency": "NGN"}))
        .collect();
    ok("Banks fetched successfully", Value::from(list))
}
