//! `POST /webhooks/lnbits/{token}`: unsigned and sent once, so authenticated by the URL token;
//! the body (a JSON string containing JSON since LNbits 1.1) only names the payment hash — the
//! worker re-checks the payment with LNbits before anything moves.

use axum::{extract::State, http::StatusCode};

use super::{count, store_deposit_now, store_inert};
use crate::{
    db::inbox::InboxStatus,
    http::{
        ApiError, AppState,
        extract::{PathParam, RawBody},
    },
    providers::{InboxEndpoint, lnbits, signature::callback_token_matches},
};

/// Verifies the token, stores the event keyed by payment hash, answers 200.
#[tracing::instrument(skip_all, fields(provider = "lnbits"))]
pub async fn receive(
    State(state): State<AppState>,
    PathParam(token): PathParam,
    RawBody(body): RawBody,
) -> Result<StatusCode, ApiError> {
    let Some(expected) = state.webhook_secrets.lnbits_token.as_ref() else {
        return Err(ApiError::NotFound(
            "LNbits is not configured on this server".to_owned(),
        ));
    };
    if !callback_token_matches(expected.expose(), &token) {
        count("lnbits", "bad_token");
        return Err(ApiError::Unauthorized("unknown webhook token"));
    }
    let hook = match lnbits::parse_webhook(&body) {
        Ok(hook) => hook,
        Err(error) => {
            store_inert(
                &state.pool,
                "lnbits",
                InboxEndpoint::Lnbits,
                InboxStatus::Rejected,
                &error.to_string(),
                &body,
            )
            .await?;
            return Err(ApiError::MalformedBody(format!(
                "unreadable LNbits webhook: {error}"
            )));
        }
    };
    let stored = store_deposit_now(
        &state,
        "lnbits",
        InboxEndpoint::Lnbits,
        &format!("paid:{}", hook.payment_hash),
        (crate::domain::ProviderKind::Lightning, &hook.payment_hash),
        &body,
    )
    .await?;
    if stored.is_none() {
        store_inert(
            &state.pool,
            "lnbits",
            InboxEndpoint::Lnbits,
            InboxStatus::Ignored,
            &format!("unknown payment hash {}", hook.payment_hash),
            &body,
        )
        .await?;
    }
    Ok(StatusCode::OK)
}
