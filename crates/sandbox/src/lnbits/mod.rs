//! Fake LNbits v1 (PROVIDERS.md §3): one wallet with an invoice key and an admin key;
//! invoices in sat with msat amounts out, key-dependent payment checks, outgoing payments,
//! and the once-only, unsigned webhook whose body is a JSON string literal.

pub mod bolt11;
mod invoice;
mod pay;
mod payment;
mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::fault_layer::{FaultContext, apply_faults};
use super::script::Script;
use super::settings::LnbitsSettings;
use super::shared::{Shared, lock};

/// The webhook body's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LnbitsWebhookBody {
    /// LNbits >= v1.1.0: a JSON string literal whose content is the Payment JSON.
    StringLiteral,
    /// Before v1.1.0: the Payment JSON object.
    Object,
}

/// What `GET /api/v1/payments/{hash}` reports for an unpaid invoice past its expiry (real
/// behaviour unconfirmed; `paid` is false either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiredInvoiceStatus {
    /// `status: pending`.
    Pending,
    /// `status: failed`.
    Failed,
}

/// How an outgoing payment ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingOutcome {
    /// 201 `status: success`.
    Success,
    /// 201 `status: pending`, then success after `outgoing_settle_delay`.
    Pending,
    /// 201 `status: pending`, then failed.
    PendingThenFailed,
    /// 520 `Payment failed: …`, recorded as failed.
    Failed,
}

/// Which of the wallet's keys a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Admin,
    Invoice,
}

pub(crate) struct LnbitsState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) settings: LnbitsSettings,
    pub(crate) store: Mutex<Store>,
}

pub(crate) struct Store {
    /// Invoices and outgoing payments by payment hash, unique as in LNbits.
    payments: HashMap<String, payment::Payment>,
    pub(crate) outgoing_script: Script<OutgoingOutcome>,
}

impl LnbitsState {
    pub(crate) fn new(shared: Arc<Shared>, settings: LnbitsSettings) -> Self {
        let store = Store {
            payments: HashMap::new(),
            outgoing_script: Script::new(
                settings.outgoing_outcomes.clone(),
                OutgoingOutcome::Success,
            ),
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

    /// The key in `X-API-KEY` or `?api-key=`, if it is one of the wallet's.
    pub(crate) fn key_type(&self, headers: &HeaderMap, query_key: Option<&str>) -> Option<KeyType> {
        let key = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or(query_key)?;
        if key == self.settings.admin_key {
            Some(KeyType::Admin)
        } else if key == self.settings.invoice_key {
            Some(KeyType::Invoice)
        } else {
            None
        }
    }
}

/// FastAPI's error body, `{"detail": …}`.
pub(crate) fn detail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"detail": message}))).into_response()
}

/// Routes under the LNbits base URL, plus `POST /_sandbox/pay/{payment_hash}` so a person
/// with curl can play the payer.
pub(crate) fn router(state: Arc<LnbitsState>, faults: FaultContext) -> Router {
    Router::new()
        .route("/api/v1/payments", post(invoice::create_or_pay))
        .route("/api/v1/payments/{payment_hash}", get(invoice::check))
        .route_layer(from_fn_with_state(faults, apply_faults))
        .route("/_sandbox/pay/{payment_hash}", post(invoice::sandbox_pay))
        .with_state(state)
}
