//! `/ops` over client notifications (operator keys, audited): send a delivery again, recover
//! an endpoint's deliveries of a window — for any client.

use axum::{Json, extract::State};
use serde_json::{Value, json};
use uuid::Uuid;

use super::actor;
use crate::{
    http::{
        AppState,
        auth::Operator,
        extract::{JsonBody, PathParam},
        problem::ApiError,
    },
    ops::notifications,
};

fn id(text: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::NotFound(format!("no {what} `{text}`")))
}

/// Sends one delivery again (a new round, the same `webhook-id`).
#[utoipa::path(post, path = "/ops/webhook_deliveries/{id}/retry", tag = "ops",
    params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, description = "{delivery_id, round}", body = serde_json::Value),
        (status = 404, description = "no such delivery")),
    security(("operator_key" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    operator: Operator,
    PathParam(delivery): PathParam,
) -> Result<Json<Value>, ApiError> {
    let delivery = id(&delivery, "webhook delivery")?;
    let round = notifications::retry_delivery(&state.pool, &actor(&operator), delivery).await?;
    Ok(Json(json!({ "delivery_id": delivery, "round": round })))
}

/// Sends again every delivery of the endpoint whose event is in `[since, until)`.
#[utoipa::path(post, path = "/ops/webhook_endpoints/{id}/recover", tag = "ops",
    params(("id" = String, Path, description = "endpoint id")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "since (RFC 3339), until (optional)"),
    responses((status = 200, description = "{deliveries}", body = serde_json::Value),
        (status = 400, description = "bad since/until"), (status = 404, description = "no such endpoint")),
    security(("operator_key" = [])))]
pub async fn recover(
    State(state): State<AppState>,
    operator: Operator,
    PathParam(endpoint): PathParam,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let endpoint = id(&endpoint, "webhook endpoint")?;
    let time = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        match body.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_str()
                .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
                .map(|t| Some(t.with_timezone(&chrono::Utc)))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("`{name}` must be an RFC 3339 timestamp"))
                }),
        }
    };
    let since =
        time("since")?.ok_or_else(|| ApiError::BadRequest("`since` is required".to_owned()))?;
    let until = time("until")?;
    let count =
        notifications::recover_endpoint(&state.pool, &actor(&operator), endpoint, since, until)
            .await?;
    Ok(Json(json!({ "deliveries": count })))
}
