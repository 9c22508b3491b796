//! `/v1/webhook_endpoints`: create (the secret shown once), list, read, change, delete, rotate
//! the secret with a grace period, and send a `webhook.test` event.
//!
//! Creation takes no `Idempotency-Key`: its answer holds the endpoint's secret, and stored
//! answers are kept in plain text, so it is not stored. A repeated create makes a second
//! endpoint, which the client can delete.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    db::{
        events,
        webhook_endpoints::{self, EndpointChange, EndpointRow, NewEndpoint},
    },
    http::{
        AppState,
        auth::Caller,
        extract::{JsonBody, PathParam},
        problem::{ApiError, FieldError},
    },
    notify::{SecretsKey, WebhookSecret, ssrf::check_url},
};

/// The longest rotation grace (a week).
const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;

/// An endpoint as its owner sees it (never its secret, except once in `secret`).
fn view(row: &EndpointRow, secret: Option<&WebhookSecret>) -> Value {
    let mut view = json!({
        "id": row.id,
        "url": row.url,
        "event_types": row.event_types,
        "description": row.description,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "failing_since": row.failing_since,
        "previous_secret_until": row.previous_secret_until,
        "created_at": row.created_at,
    });
    if let (Some(secret), Some(object)) = (secret, view.as_object_mut()) {
        object.insert("secret".to_owned(), json!(secret.reveal()));
    }
    view
}

fn sealing_key(state: &AppState) -> Result<&SecretsKey, ApiError> {
    state.notify.secrets_key.as_ref().ok_or_else(|| {
        ApiError::Unprocessable(
            "webhook endpoints are not available on this server: set MALIPO_SECRETS_KEY".to_owned(),
        )
    })
}

fn endpoint_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::NotFound(format!("no webhook endpoint `{text}`")))
}

/// The fields create and `PATCH` share; `None` where absent.
struct Fields {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    description: Option<String>,
}

/// Reads `url`, `event_types` and `description` from a body; `required` makes `url` mandatory.
fn parse_fields(
    state: &AppState,
    object: &Map<String, Value>,
    required: bool,
) -> Result<Fields, ApiError> {
    let mut errors = Vec::new();
    let url = match object.get("url") {
        None if required => {
            errors.push(FieldError::new("url", "is required"));
            None
        }
        None => None,
        Some(Value::String(url)) => match check_url(url, state.notify.allow_private) {
            Ok(_) if url.len() <= 2048 => Some(url.clone()),
            Ok(_) => {
                errors.push(FieldError::new("url", "must be at most 2048 characters"));
                None
            }
            Err(refused) => {
                errors.push(FieldError::new("url", refused.to_string()));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new("url", "must be a string"));
            None
        }
    };
    let event_types = match object.get("event_types") {
        None => None,
        Some(Value::Array(items)) => {
            let mut types = Vec::new();
            for (index, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(name) if is_event_type(name) => types.push(name.to_owned()),
                    _ => errors.push(FieldError::new(
                        format!("event_types[{index}]"),
                        "must be an event type such as `intent.held` or `payout.failed`",
                    )),
                }
            }
            types.sort();
            types.dedup();
            Some(types)
        }
        Some(_) => {
            errors.push(FieldError::new(
                "event_types",
                "must be an array of event types",
            ));
            None
        }
    };
    let description = match object.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() <= 500 => Some(text.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                "description",
                "must be a string of at most 500 characters",
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(Fields {
            url,
            event_types,
            description,
        })
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `<object>.<status>` in lowercase and underscores: the shape every type has, known or added
/// by a later status (types are derived from the status enums).
fn is_event_type(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    name.len() <= 64
        && parts.len() == 2
        && parts.iter().all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
}

/// Creates an endpoint; the answer carries its secret, shown this once.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "notifications",
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "url (https; loopback/private refused unless allowed), event_types[] (empty = all), description"),
    responses((status = 201, description = "the endpoint, with `secret` (whsec_…) shown once", body = serde_json::Value),
        (status = 422, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let key = sealing_key(&state)?;
    let fields = parse_fields(&state, &body.object, true)?;
    let new = NewEndpoint {
        url: fields.url.unwrap_or_default(),
        event_types: fields.event_types.unwrap_or_default(),
        description: fields.description,
    };
    let secret = WebhookSecret::generate();
    let mut conn = state.pool.acquire().await?;
    let row = webhook_endpoints::insert(&mut conn, caller.id, &new, &key.seal(&secret)).await?;
    tracing::info!(endpoint_id = %row.id, "webhook endpoint created");
    Ok((StatusCode::CREATED, Json(view(&row, Some(&secret)))))
}

/// Lists the caller's endpoints.
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "notifications",
    responses((status = 200, description = "{data: [endpoint]}", body = serde_json::Value)),
    security(("client_key" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let rows = webhook_endpoints::list(&mut conn, caller.id).await?;
    let data: Vec<Value> = rows.iter().map(|row| view(row, None)).collect();
    Ok(Json(json!({ "data": data })))
}

/// One of the caller's endpoints.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "notifications",
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 200, body = serde_json::Value), (status = 404, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let row = owned(&state, &caller, &id).await?;
    Ok(Json(view(&row, None)))
}

pub(super) async fn owned(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<EndpointRow, ApiError> {
    let parsed = endpoint_id(id)?;
    let mut conn = state.pool.acquire().await?;
    webhook_endpoints::get(&mut conn, caller.id, parsed)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook endpoint `{id}`")))
}

/// Changes `url`, `event_types`, `enabled` or `description`.
#[utoipa::path(patch, path = "/v1/webhook_endpoints/{id}", tag = "notifications",
    params(("id" = String, Path, description = "endpoint id")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "any of url, event_types, enabled, description"),
    responses((status = 200, body = serde_json::Value), (status = 404, body = crate::http::openapi::Problem),
        (status = 422, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let parsed = endpoint_id(&id)?;
    let fields = parse_fields(&state, &body.object, false)?;
    let enabled = match body.object.get("enabled") {
        None => None,
        Some(Value::Bool(flag)) => Some(*flag),
        Some(_) => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "enabled",
                "must be true or false",
            )]));
        }
    };
    let change = EndpointChange {
        url: fields.url,
        event_types: fields.event_types,
        enabled,
        description: fields.description,
    };
    let mut conn = state.pool.acquire().await?;
    let row = webhook_endpoints::update(&mut conn, caller.id, parsed, &change)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook endpoint `{id}`")))?;
    Ok(Json(view(&row, None)))
}

/// Deletes an endpoint: nothing more is sent to it; its deliveries stay readable to operators.
#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "notifications",
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 204), (status = 404, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<StatusCode, ApiError> {
    let parsed = endpoint_id(&id)?;
    let mut conn = state.pool.acquire().await?;
    if webhook_endpoints::delete(&mut conn, caller.id, parsed).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no webhook endpoint `{id}`")))
    }
}

/// A new secret; the old one keeps signing (both signatures sent) for `grace_seconds`.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/rotate_secret", tag = "notifications",
    params(("id" = String, Path, description = "endpoint id")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "grace_seconds (default 86400, at most 604800)"),
    responses((status = 200, description = "the endpoint with its new `secret`, shown once", body = serde_json::Value),
        (status = 404, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let key = sealing_key(&state)?;
    let parsed = endpoint_id(&id)?;
    let grace = match body.object.get("grace_seconds") {
        None => 86_400,
        Some(value) => value
            .as_i64()
            .filter(|secs| (0..=MAX_GRACE_SECS).contains(secs))
            .ok_or_else(|| {
                ApiError::Validation(vec![FieldError::new(
                    "grace_seconds",
                    format!("must be a whole number of seconds from 0 to {MAX_GRACE_SECS}"),
                )])
            })?,
    };
    let secret = WebhookSecret::generate();
    let mut conn = state.pool.acquire().await?;
    let row = webhook_endpoints::rotate(&mut conn, caller.id, parsed, &key.seal(&secret), grace)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook endpoint `{id}`")))?;
    tracing::info!(endpoint_id = %row.id, grace, "webhook endpoint secret rotated");
    Ok(Json(view(&row, Some(&secret))))
}

/// Sends a `webhook.test` event to this endpoint only.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/test", tag = "notifications",
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 202, description = "{event_id, delivery_id}", body = serde_json::Value),
        (status = 404, body = crate::http::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<impl IntoResponse, ApiError> {
    let row = owned(&state, &caller, &id).await?;
    let mut tx = state.pool.begin().await?;
    let (event, delivery) = events::record_test(
        &mut tx,
        caller.id,
        row.id,
        json!({ "object": "webhook_endpoint", "id": row.id, "url": row.url }),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "event_id": crate::notify::envelope::public_id(event),
            "delivery_id": delivery,
        })),
    ))
}

#[cfg(test)]
mod tests {
    use super::is_event_type;

    #[test]
    fn event_type_shapes() {
        for good in [
            "intent.held",
            "payout.in_flight",
            "webhook.test",
            "intent.disputed",
        ] {
            assert!(is_event_type(good), "{good}");
        }
        for bad in [
            "",
            "intent",
            "intent.",
            ".held",
            "Intent.held",
            "intent.held.x",
            "intent.he ld",
        ] {
            assert!(!is_event_type(bad), "{bad}");
        }
    }
}
