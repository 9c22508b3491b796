//! `POST /ops/reconciliations/mpesa` (queue a run) and `GET /ops/reconciliations/{id}` (its
//! report as JSON, or CSV with `?format=csv`).

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use malipo_jobs::ReconcileMpesa;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::actor;
use crate::{
    http::{AppState, auth::Operator, extract::JsonBody, problem::ApiError},
    ops::audit::{self, Action},
    queue::{EnqueueOptions, enqueue},
    reconcile,
};

/// Queues an M-Pesa reconciliation; body `{}` or `{"since": RFC3339, "pending_after_secs": N}`.
pub async fn queue_mpesa(
    State(state): State<AppState>,
    operator: Operator,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let since = match body.object.get("since") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    ApiError::BadRequest(format!("since `{text}` is not an RFC 3339 time"))
                })?
                .with_timezone(&Utc)
                .to_rfc3339(),
        ),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "since must be an RFC 3339 string".to_owned(),
            ));
        }
    };
    let pending_after_secs = match body.object.get("pending_after_secs") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().ok_or_else(|| {
            ApiError::BadRequest("pending_after_secs must be a non-negative integer".to_owned())
        })?),
    };
    if let Some(key) = body
        .object
        .keys()
        .find(|k| !["since", "pending_after_secs"].contains(&k.as_str()))
    {
        return Err(ApiError::BadRequest(format!("unknown field `{key}`")));
    }
    // An on-demand run gets its own slot so it never collides with the periodic one.
    let job = ReconcileMpesa {
        window_start: Utc::now().to_rfc3339(),
        since,
        pending_after_secs,
    };
    let mut tx = state.pool.begin().await?;
    let enqueued = enqueue(&mut tx, &job, EnqueueOptions::default()).await?;
    let actor = actor(&operator);
    audit::record(
        &mut *tx,
        &Action {
            actor: &actor,
            action: "reconciliation.queue",
            job_id: Some(enqueued.id),
            queue: Some(malipo_jobs::queues::RECONCILE),
            filter: json!({"provider": "mpesa"}),
            dry_run: false,
            affected: 1,
            detail: serde_json::to_value(&job).unwrap_or(Value::Null),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job_id": enqueued.id, "queue": malipo_jobs::queues::RECONCILE})),
    )
        .into_response())
}

/// `?format=json|csv`.
#[derive(Deserialize)]
pub struct Format {
    format: Option<String>,
}

/// A stored report.
pub async fn show(
    State(state): State<AppState>,
    _operator: Operator,
    Path(id): Path<String>,
    Query(format): Query<Format>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no reconciliation report `{id}`"));
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let report = reconcile::load(&state.pool, id)
        .await?
        .ok_or_else(not_found)?;
    match format.format.as_deref() {
        None | Some("json") => Ok(Json(report).into_response()),
        Some("csv") => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            reconcile::to_csv(&report),
        )
            .into_response()),
        Some(other) => Err(ApiError::BadRequest(format!(
            "unknown format `{other}`; use json or csv"
        ))),
    }
}
