//! `POST /webhooks/mpesa/{token}/…`: Daraja callbacks are unsigned, so they are authenticated by
//! an unguessable token in the URL (constant-time compare), an optional IP allow-list, and
//! correlation to ids malipo issued. Daraja always gets its expected acknowledgement quickly.

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, State},
};
use serde_json::{Value, json};

use super::{
    committed, count, ring_for_callback, store_deposit_event, store_event, store_inert,
    store_inert_about, store_payout_event,
};
use crate::{
    db::inbox::InboxStatus,
    domain::ProviderKind,
    http::{
        ApiError, AppState,
        extract::{PathParam, RawBody},
    },
    providers::{InboxEndpoint, ip_allowed, mpesa::callbacks, signature::callback_token_matches},
};

/// Admits a callback whose path token is ours and, when `MPESA_ALLOWED_IPS` is set, whose peer
/// address is in the allow-list.
fn authenticate(
    secrets: &crate::http::WebhookSecrets,
    token: &str,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    let Some(expected) = secrets.mpesa_token.as_ref() else {
        return Err(ApiError::NotFound(
            "M-Pesa is not configured on this server".to_owned(),
        ));
    };
    if !callback_token_matches(expected.expose(), token) {
        count("mpesa", "bad_token");
        return Err(ApiError::Unauthorized("unknown callback token"));
    }
    if let Some(allowed) = &secrets.mpesa_allowed_ips
        && !ip_allowed(allowed, peer.ip())
    {
        count("mpesa", "ip_refused");
        return Err(ApiError::Forbidden(
            "callback from an address outside MPESA_ALLOWED_IPS",
        ));
    }
    Ok(())
}

fn accepted() -> Json<Value> {
    Json(json!({"ResultCode": 0, "ResultDesc": "Accepted"}))
}

/// STK callback: stored when it names a CheckoutRequestID malipo issued.
#[tracing::instrument(skip_all, fields(provider = "mpesa"))]
pub async fn stk(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam(token): PathParam,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state.webhook_secrets, &token, peer)?;
    let callback = parsed(
        &state,
        InboxEndpoint::MpesaStk,
        &body,
        callbacks::parse_stk_callback,
    )
    .await?;
    let checkout = &callback.checkout_request_id;
    let ring = ring_for_callback(&state);
    let endpoint = InboxEndpoint::MpesaStk;
    // A buyer answers the prompt seconds after the job recorded this CheckoutRequestID, so the
    // callback usually finds it issued: one statement stores it with its job. Finding the id
    // issued needs no lock — the job committed it, and nothing takes it back.
    if let Some(stored) = store_if_issued(&state.pool, &callback, &body).await? {
        committed("mpesa", stored, ring);
        return Ok(accepted());
    }
    // Not issued yet: the callback may have overtaken the job that records the id. Decided
    // again under the id's lock, so either this sees it issued or the job (which records the
    // id under the same lock, `intents::record_deposit_handle`) sees the callback kept as
    // ignored and queues it.
    let mut tx = state.pool.begin().await?;
    crate::db::intents::lock_provider_handle(&mut tx, ProviderKind::Mpesa, checkout).await?;
    if let Some(stored) = store_if_issued(&mut *tx, &callback, &body).await? {
        tx.commit().await?;
        committed("mpesa", stored, ring);
    } else {
        ring.disarm();
        // Kept with the id as its subject: the job recording the id finds it by that.
        let reason = format!("unknown CheckoutRequestID {checkout}");
        let outcome = (InboxStatus::Ignored, reason.as_str());
        store_inert_about(&mut *tx, "mpesa", endpoint, outcome, Some(checkout), &body).await?;
        tx.commit().await?;
    }
    Ok(accepted())
}

/// Stores an STK callback with its `process_webhook` job when its CheckoutRequestID is one
/// malipo issued; `None` (nothing stored) when it is not, or not yet.
async fn store_if_issued(
    conn: impl sqlx::PgExecutor<'_>,
    callback: &callbacks::StkCallback,
    body: &[u8],
) -> Result<Option<super::Stored>, sqlx::Error> {
    let handle = (ProviderKind::Mpesa, callback.checkout_request_id.as_str());
    let endpoint = InboxEndpoint::MpesaStk;
    store_deposit_event(conn, "mpesa", endpoint, &callback.dedupe_key, handle, body).await
}

/// B2C result: stored when it names a payout reference malipo issued.
#[tracing::instrument(skip_all, fields(provider = "mpesa"))]
pub async fn b2c_result(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam(token): PathParam,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state.webhook_secrets, &token, peer)?;
    let result = parsed(
        &state,
        InboxEndpoint::MpesaB2cResult,
        &body,
        callbacks::parse_b2c_result,
    )
    .await?;
    payout_event(
        &state,
        InboxEndpoint::MpesaB2cResult,
        &result.originator_conversation_id,
        &result.dedupe_key,
        &body,
    )
    .await
}

/// B2C queue timeout: kept for the record with no job to run — it changes nothing, since the
/// payout job keeps checking the transfer's status until it is conclusive.
#[tracing::instrument(skip_all, fields(provider = "mpesa"))]
pub async fn b2c_timeout(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam(token): PathParam,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state.webhook_secrets, &token, peer)?;
    let endpoint = InboxEndpoint::MpesaB2cTimeout;
    let timeout = parsed(&state, endpoint, &body, callbacks::parse_b2c_timeout).await?;
    let reason = format!(
        "queue timeout for {}: the payout job keeps checking the transfer's status",
        timeout.originator_conversation_id
    );
    store_inert(
        &state.pool,
        "mpesa",
        endpoint,
        InboxStatus::Ignored,
        &reason,
        &body,
    )
    .await?;
    Ok(accepted())
}

/// Transaction Status result at the URL of a query about one payout (asked by the payout job
/// or reconciliation): the URL names the payout, since the result names only the query.
#[tracing::instrument(skip_all, fields(provider = "mpesa"))]
pub async fn status_result_about(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam((token, reference)): PathParam<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state.webhook_secrets, &token, peer)?;
    status_event(&state, Some(&reference), &body).await
}

/// Transaction Status result at the bare URL: usable only if it echoes the payout reference
/// in its `Occasion`.
#[tracing::instrument(skip_all, fields(provider = "mpesa"))]
pub async fn status_result(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam(token): PathParam,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state.webhook_secrets, &token, peer)?;
    status_event(&state, None, &body).await
}

async fn status_event(
    state: &AppState,
    about: Option<&str>,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let endpoint = InboxEndpoint::MpesaStatusResult;
    let result = parsed(
        state,
        endpoint,
        body,
        callbacks::parse_transaction_status_result,
    )
    .await?;
    let Some(reference) = about.or(result.occasion.as_deref()) else {
        let reason =
            "transaction status result names no payout (no reference in its URL or Occasion)";
        store_inert(
            &state.pool,
            "mpesa",
            endpoint,
            InboxStatus::Ignored,
            reason,
            body,
        )
        .await?;
        return Ok(accepted());
    };
    payout_event(state, endpoint, reference, &result.dedupe_key, body).await
}

/// Transaction Status queue timeout: nothing to do; the payout job asks again.
pub async fn status_timeout(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam(token): PathParam,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state.webhook_secrets, &token, peer)?;
    Ok(accepted())
}

/// C2B validation: must answer within ~8 s; malipo accepts and reconciles on confirmation.
pub async fn c2b_validation(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam(token): PathParam,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state.webhook_secrets, &token, peer)?;
    if callbacks::parse_c2b(&body).is_err() {
        return Ok(Json(
            json!({"ResultCode": "C2B00016", "ResultDesc": "Rejected"}),
        ));
    }
    Ok(Json(json!({"ResultCode": "0", "ResultDesc": "Accepted"})))
}

/// C2B confirmation: stored, deduped on the receipt (`TransID`).
#[tracing::instrument(skip_all, fields(provider = "mpesa"))]
pub async fn c2b_confirmation(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam(token): PathParam,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state.webhook_secrets, &token, peer)?;
    match callbacks::parse_c2b(&body) {
        Ok(payment) => {
            store_event(
                &state,
                "mpesa",
                InboxEndpoint::MpesaC2bConfirmation,
                &payment.dedupe_key,
                &body,
            )
            .await?;
            Ok(Json(json!({"ResultCode": 0, "ResultDesc": "Success"})))
        }
        Err(error) => Err(rejected(
            &state,
            InboxEndpoint::MpesaC2bConfirmation,
            &error.to_string(),
            &body,
        )
        .await),
    }
}

async fn payout_event(
    state: &AppState,
    endpoint: InboxEndpoint,
    reference: &str,
    dedupe_key: &str,
    body: &[u8],
) -> Result<Json<Value>, ApiError> {
    let stored = store_payout_event(state, "mpesa", endpoint, dedupe_key, reference, body).await?;
    if stored.is_none() {
        store_inert(
            &state.pool,
            "mpesa",
            endpoint,
            InboxStatus::Ignored,
            &format!("unknown payout reference {reference}"),
            body,
        )
        .await?;
    }
    Ok(accepted())
}

/// Parses an authenticated callback; an unreadable one is stored as `rejected` and answered 400.
async fn parsed<T, E: std::fmt::Display>(
    state: &AppState,
    endpoint: InboxEndpoint,
    body: &[u8],
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, ApiError> {
    match parse(body) {
        Ok(value) => Ok(value),
        Err(error) => Err(rejected(state, endpoint, &error.to_string(), body).await),
    }
}

/// Stores an unreadable callback as `rejected` and gives the 400 to answer with.
async fn rejected(
    state: &AppState,
    endpoint: InboxEndpoint,
    reason: &str,
    body: &[u8],
) -> ApiError {
    match store_inert(
        &state.pool,
        "mpesa",
        endpoint,
        InboxStatus::Rejected,
        reason,
        body,
    )
    .await
    {
        Ok(_) => ApiError::MalformedBody(format!("unreadable M-Pesa callback: {reason}")),
        Err(error) => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        http::WebhookSecrets,
        providers::{Cidr, Secret},
    };

    const TOKEN: &str = "cbtok_0123456789abcdef";

    fn secrets(allowed: Option<&str>) -> WebhookSecrets {
        WebhookSecrets {
            mpesa_token: Some(Secret::new(TOKEN)),
            mpesa_allowed_ips: allowed.map(|list| Cidr::parse_list(list).expect("list")),
            ..WebhookSecrets::default()
        }
    }

    #[test]
    fn callbacks_are_admitted_by_token_and_address() {
        let safaricom: SocketAddr = "196.201.214.200:443".parse().expect("address");
        let elsewhere: SocketAddr = "203.0.113.9:443".parse().expect("address");
        let open = secrets(None);
        assert!(authenticate(&open, TOKEN, elsewhere).is_ok());
        assert!(matches!(
            authenticate(&open, "cbtok_0123456789abcdeX", safaricom),
            Err(ApiError::Unauthorized(_))
        ));
        let listed = secrets(Some("196.201.214.0/24"));
        assert!(authenticate(&listed, TOKEN, safaricom).is_ok());
        assert!(matches!(
            authenticate(&listed, TOKEN, elsewhere),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            authenticate(&WebhookSecrets::default(), TOKEN, safaricom),
            Err(ApiError::NotFound(_))
        ));
    }
}
