//! `/ops/queues`: overview, pause, resume and drain.

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use serde::{Deserialize, Serialize};

use super::{actor, bad_query};
use crate::{
    http::{AppState, auth::Operator, problem::ApiError},
    ops::{
        drain::{self, DrainOptions, DrainReport},
        queues::{self, QueueOverview},
    },
    worker,
};

/// Every queue: counts per state, runnable jobs, oldest waiting job, paused flag.
#[utoipa::path(get, path = "/ops/queues", tag = "ops",
    responses((status = 200, body = [QueueOverview])), security(("operator_key" = [])))]
pub async fn overview(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<Vec<QueueOverview>>, ApiError> {
    Ok(Json(queues::overview(&state.pool).await?))
}

/// A queue's pause flag after a pause or resume.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PauseState {
    /// The queue.
    pub queue: String,
    /// Whether it is paused now.
    pub paused: bool,
}

/// Stops every worker claiming from the queue (on its next claim).
#[utoipa::path(post, path = "/ops/queues/{queue}/pause", tag = "ops",
    params(("queue" = String, Path, description = "queue name")),
    responses((status = 200, body = PauseState), (status = 404, description = "no such queue")),
    security(("operator_key" = [])))]
pub async fn pause(
    State(state): State<AppState>,
    operator: Operator,
    Path(queue): Path<String>,
) -> Result<Json<PauseState>, ApiError> {
    set(state, operator, queue, true).await
}

/// Lets workers claim from the queue again.
#[utoipa::path(post, path = "/ops/queues/{queue}/resume", tag = "ops",
    params(("queue" = String, Path, description = "queue name")),
    responses((status = 200, body = PauseState), (status = 404, description = "no such queue")),
    security(("operator_key" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    operator: Operator,
    Path(queue): Path<String>,
) -> Result<Json<PauseState>, ApiError> {
    set(state, operator, queue, false).await
}

async fn set(
    state: AppState,
    operator: Operator,
    queue: String,
    paused: bool,
) -> Result<Json<PauseState>, ApiError> {
    queues::set_paused(&state.pool, &actor(&operator), &queue, paused).await?;
    Ok(Json(PauseState { queue, paused }))
}

/// How far a drain over HTTP may go.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DrainQuery {
    /// Stop claiming after this many runs.
    limit: Option<u64>,
    /// Stop claiming after this many seconds (capped below the request timeout).
    timeout_secs: Option<f64>,
}

/// Runs the queue's jobs in this server process until none is runnable, `limit` runs, or the
/// timeout; answers with the counts. Works with every worker stopped.
#[utoipa::path(post, path = "/ops/queues/{queue}/drain", tag = "ops",
    params(("queue" = String, Path, description = "queue name"), DrainQuery),
    responses((status = 200, body = DrainReport), (status = 404, description = "no such queue"),
        (status = 409, description = "the queue is paused")),
    security(("operator_key" = [])))]
pub async fn drain(
    State(state): State<AppState>,
    operator: Operator,
    Path(queue): Path<String>,
    query: Result<Query<DrainQuery>, QueryRejection>,
) -> Result<Json<DrainReport>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    // The drain must end (and report) before the request timeout answers 503 in its place.
    let cap = state
        .config
        .request_timeout
        .saturating_sub(Duration::from_secs(3))
        .max(Duration::from_secs(1));
    let timeout = match query.timeout_secs {
        Some(secs) if !(secs.is_finite() && secs > 0.0) => {
            return Err(ApiError::BadRequest(format!(
                "timeout_secs must be a positive number of seconds, got {secs}"
            )));
        }
        Some(secs) => Duration::from_secs_f64(secs).min(cap),
        None => cap,
    };
    let options = DrainOptions {
        limit: query.limit,
        timeout,
    };
    let actor = actor(&operator);
    let settings = state.config.queue_settings();
    let app = state.workers_for_drain()?;
    // Its own task: a client that hangs up must not drop the drain halfway, with its workers
    // still running and no report or audit row written.
    let report = tokio::spawn(async move {
        drain::drain(
            &state.pool,
            &actor,
            &queue,
            options,
            settings,
            worker::handlers(),
            app,
        )
        .await
    })
    .await
    .map_err(|error| anyhow::anyhow!("drain task failed: {error}"))??;
    Ok(Json(report))
}
