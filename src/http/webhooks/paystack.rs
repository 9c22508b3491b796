//! `POST /webhooks/paystack`: HMAC-SHA512 of the raw body with the secret key, constant time.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
};

use super::{count, store_event, store_inert};
use crate::{
    db::inbox::InboxStatus,
    http::{ApiError, AppState, extract::RawBody},
    providers::{InboxEndpoint, paystack, signature::verify_paystack},
};

/// Verifies, stores, acknowledges with 200.
#[tracing::instrument(skip_all, fields(provider = "paystack"))]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<StatusCode, ApiError> {
    let Some(secret) = state.webhook_secrets.paystack_secret.as_ref() else {
        return Err(ApiError::NotFound(
            "Paystack is not configured on this server".to_owned(),
        ));
    };
    let signature = headers
        .get("x-paystack-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    // Verify the bytes as received, before any parsing.
    if !verify_paystack(secret.expose(), &body, signature) {
        count("paystack", "bad_signature");
        return Err(ApiError::Unauthorized(
            "missing or invalid x-paystack-signature",
        ));
    }
    match paystack::parse_webhook(&body) {
        Ok(event) => {
            store_event(
                &state,
                "paystack",
                InboxEndpoint::Paystack,
                &event.dedupe_key,
                &body,
            )
            .await?;
            Ok(StatusCode::OK)
        }
        Err(error) => {
            store_inert(
                &state.pool,
                "paystack",
                InboxEndpoint::Paystack,
                InboxStatus::Rejected,
                &error.to_string(),
                &body,
            )
            .await?;
            Err(ApiError::MalformedBody(format!(
                "signed but unreadable Paystack event: {error}"
            )))
        }
    }
}
