//! `POST /webhooks/fincra`: the `signature` header (HMAC-SHA512 with the webhook secret, raw
//! body first, then the compact re-serialization; PROVIDERS.md §4.3) is checked before
//! anything is parsed or stored. A verified event is stored under `event` + `data.reference`
//! with its `process_webhook` job, which queries the payout — the webhook is only a trigger.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
};

use super::{count, store_event, store_inert};
use crate::{
    db::inbox::InboxStatus,
    http::{ApiError, AppState, extract::RawBody},
    providers::{InboxEndpoint, fincra},
};

/// Verifies, stores, acknowledges with 200.
#[utoipa::path(post, path = "/webhooks/fincra", tag = "webhooks",
    params(("signature" = String, Header, description = "lowercase hex HMAC-SHA512 of the body with FINCRA_WEBHOOK_SECRET")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "Fincra's `{event, data}`: payout.successful, payout.failed, …; a trigger to query the payout, never a verdict"),
    responses((status = 200, description = "stored (or a duplicate of a stored event)"),
        (status = 400, body = crate::http::openapi::Problem), (status = 401, body = crate::http::openapi::Problem),
        (status = 404, description = "Fincra is not configured", body = crate::http::openapi::Problem)))]
#[tracing::instrument(skip_all, fields(provider = "fincra"))]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<StatusCode, ApiError> {
    let Some(secret) = state.webhook_secrets.fincra_secret.as_ref() else {
        return Err(ApiError::NotFound(
            "Fincra is not configured on this server".to_owned(),
        ));
    };
    let signature = headers
        .get("signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !fincra::verify_signature(secret.expose(), &body, signature) {
        count("fincra", "bad_signature");
        return Err(ApiError::Unauthorized("missing or invalid signature"));
    }
    match fincra::parse_webhook(&body) {
        Ok(event) => {
            store_event(
                &state,
                "fincra",
                InboxEndpoint::Fincra,
                &event.dedupe_key,
                &body,
            )
            .await?;
            Ok(StatusCode::OK)
        }
        Err(error) => {
            store_inert(
                &state.pool,
                "fincra",
                InboxEndpoint::Fincra,
                InboxStatus::Rejected,
                &error.to_string(),
                &body,
            )
            .await?;
            Err(ApiError::MalformedBody(format!(
                "signed but unreadable Fincra event: {error}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_openapi_document_lists_the_fincra_webhook() {
        let document = crate::http::openapi::ApiDoc::openapi();
        assert!(document.paths.paths.contains_key("/webhooks/fincra"));
    }
}
