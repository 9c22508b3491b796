//! Fake Safaricom Daraja (PROVIDERS.md §2): single-active OAuth tokens, STK push and query,
//! B2C, Transaction Status, C2B and Pull Transactions, with unsigned async callbacks that may
//! never come.

mod b2c;
mod c2b;
mod oauth;
mod outcomes;
mod pull;
mod result;
mod status;
mod stk;
mod stk_callback;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::{get, post};

use super::fault_layer::{FaultContext, apply_faults};
use super::script::Script;
use super::settings::MpesaSettings;
use super::shared::{Shared, lock};

pub use c2b::{C2bOutcome, C2bPayment};
pub use outcomes::{B2cOutcome, B2cResult, StkMatch, StkOutcome, StkResult};
pub(crate) use wire::error;

pub(crate) struct MpesaState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) settings: MpesaSettings,
    pub(crate) store: Mutex<Store>,
}

pub(crate) struct Store {
    /// The one valid token and when it was issued: a new one replaces it.
    token: Option<(String, Instant)>,
    stk: HashMap<String, stk::StkRecord>,
    pub(crate) stk_script: Script<StkOutcome>,
    /// Standing scripts by MSISDN or amount, consulted after the queue.
    pub(crate) stk_rules: Vec<(StkMatch, StkOutcome)>,
    b2c: HashMap<String, b2c::B2cRecord>,
    pub(crate) b2c_script: Script<B2cOutcome>,
    /// Outcomes for the next B2C payment to an MSISDN, each used once, before the queue.
    pub(crate) b2c_to: Vec<(String, B2cOutcome)>,
    utility_balance: u64,
    /// Completed payments by receipt number (STK, B2C, C2B), for Transaction Status.
    receipts: HashMap<String, status::Receipt>,
    c2b_urls: HashMap<String, c2b::C2bUrls>,
    c2b: Vec<c2b::C2bRecord>,
    org_balances: HashMap<String, u64>,
    /// Pull registrations: shortcode to callback URL.
    pull: HashMap<String, String>,
}

impl MpesaState {
    pub(crate) fn new(shared: Arc<Shared>, settings: MpesaSettings) -> Self {
        let store = Store {
            token: None,
            stk: HashMap::new(),
            stk_script: Script::new(
                settings.stk_outcomes.clone(),
                StkOutcome::new(StkResult::Success),
            ),
            stk_rules: Vec::new(),
            b2c: HashMap::new(),
            b2c_script: Script::new(
                settings.b2c_outcomes.clone(),
                B2cOutcome::new(B2cResult::Success),
            ),
            b2c_to: Vec::new(),
            utility_balance: settings.b2c_utility_balance,
            receipts: HashMap::new(),
            c2b_urls: HashMap::new(),
            c2b: Vec::new(),
            org_balances: HashMap::new(),
            pull: HashMap::new(),
        };
        Self {
            shared,
            settings,
            store: Mutex::new(store),
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The STK `Password` for `timestamp`: base64(shortcode + passkey + timestamp).
    pub(crate) fn stk_password(&self, timestamp: &str) -> String {
        use base64::Engine as _;
        let raw = format!(
            "{}{}{timestamp}",
            self.settings.shortcode, self.settings.passkey
        );
        base64::engine::general_purpose::STANDARD.encode(raw)
    }
}

/// Routes under the Daraja base URL; everything but OAuth wants a valid Bearer token.
pub(crate) fn router(state: Arc<MpesaState>, faults: FaultContext) -> Router {
    let authed = Router::new()
        .route(
            "/mpesa/stkpush/v1/processrequest",
            post(stk::process_request),
        )
        .route("/mpesa/stkpushquery/v1/query", post(stk::query))
        .route("/mpesa/b2c/v3/paymentrequest", post(b2c::payment_request))
        .route("/mpesa/transactionstatus/v1/query", post(status::query))
        .route("/mpesa/c2b/v1/registerurl", post(c2b::register_url))
        .route("/mpesa/c2b/v1/simulate", post(c2b::simulate))
        .route("/pulltransactions/v1/register", post(pull::register))
        .route("/pulltransactions/v1/query", post(pull::query))
        .route_layer(from_fn_with_state(Arc::clone(&state), require_token));
    Router::new()
        .route("/oauth/v1/generate", get(oauth::generate))
        .merge(authed)
        .route_layer(from_fn_with_state(faults, apply_faults))
        .with_state(state)
}

async fn require_token(
    State(state): State<Arc<MpesaState>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|token| state.token_is_current(token)) {
        // Despite the code's 404 prefix, Daraja is reported to answer this one with 401.
        return error(
            &state.shared,
            StatusCode::UNAUTHORIZED,
            "404.001.03",
            "Invalid Access Token",
        );
    }
    next.run(request).await
}
