//! `/ops/jobs`: list, inspect, retry and discard jobs.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use serde::{Deserialize, Serialize};

use super::{actor, bad_query};
use crate::{
    http::{AppState, auth::Operator, extract::JsonBody, problem::ApiError},
    ops::{
        JobFilter, JobFilterInput, discard,
        inspect::{self, JobDetail},
        list::{self, JobPage},
        page_size,
        retry::{self, BulkOutcome},
    },
};

/// `GET /ops/jobs` query: the filter plus paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Queue name.
    queue: Option<String>,
    /// Job kind.
    kind: Option<String>,
    /// pending, running, done, dead or discarded.
    state: Option<String>,
    /// The intent's id (UUID).
    intent_id: Option<String>,
    /// Created at or after (RFC 3339).
    from: Option<String>,
    /// Created before (RFC 3339).
    to: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Jobs per page, 1–500 (default 50).
    limit: Option<i64>,
}

/// The body of `POST /ops/jobs/retry` and `POST /ops/jobs/discard`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Which jobs.
    #[serde(default)]
    filter: JobFilterInput,
    /// Only count the jobs that would change.
    #[serde(default)]
    dry_run: bool,
}

/// What a single-job action did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobActionResult {
    /// The job, as it is now.
    pub job: JobDetail,
}

/// Lists jobs matching the filter, newest first.
#[utoipa::path(get, path = "/ops/jobs", tag = "ops", params(ListQuery),
    responses((status = 200, body = JobPage), (status = 400, description = "bad filter, cursor or limit")),
    security(("operator_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _operator: Operator,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<JobPage>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let filter = JobFilter::try_from(JobFilterInput {
        queue: query.queue,
        kind: query.kind,
        state: query.state,
        intent_id: query.intent_id,
        from: query.from,
        to: query.to,
    })?;
    let limit = page_size(query.limit)?;
    Ok(Json(
        list::list_jobs(&state.pool, &filter, query.cursor.as_deref(), limit).await?,
    ))
}

/// One job: payload, every attempt with its error, timestamps, intent, operator actions.
#[utoipa::path(get, path = "/ops/jobs/{id}", tag = "ops", params(("id" = i64, Path, description = "job id")),
    responses((status = 200, body = JobDetail), (status = 404, description = "no such job")),
    security(("operator_key" = [])))]
pub async fn show(
    State(state): State<AppState>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>, ApiError> {
    let id = job_id(&id)?;
    Ok(Json(inspect::show_job(&state.pool, id).await?))
}

/// Retries one job (dead, discarded, or pending in backoff): runnable now, attempts reset.
#[utoipa::path(post, path = "/ops/jobs/{id}/retry", tag = "ops", params(("id" = i64, Path, description = "job id")),
    responses((status = 200, body = JobActionResult), (status = 404, description = "no such job"),
        (status = 409, description = "the job is running or done")),
    security(("operator_key" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<JobActionResult>, ApiError> {
    let id = job_id(&id)?;
    retry::retry_job(&state.pool, &actor(&operator), id).await?;
    let job = inspect::show_job(&state.pool, id).await?;
    Ok(Json(JobActionResult { job }))
}

/// Discards one job (pending or dead); the row stays as the record.
#[utoipa::path(post, path = "/ops/jobs/{id}/discard", tag = "ops", params(("id" = i64, Path, description = "job id")),
    responses((status = 200, body = JobActionResult), (status = 404, description = "no such job"),
        (status = 409, description = "the job is running, done or already discarded")),
    security(("operator_key" = [])))]
pub async fn discard(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<JobActionResult>, ApiError> {
    let id = job_id(&id)?;
    discard::discard_job(&state.pool, &actor(&operator), id).await?;
    let job = inspect::show_job(&state.pool, id).await?;
    Ok(Json(JobActionResult { job }))
}

/// Retries every dead job matching the filter, or counts them with `dry_run`.
#[utoipa::path(post, path = "/ops/jobs/retry", tag = "ops", request_body = BulkRequest,
    responses((status = 200, body = BulkOutcome), (status = 400, description = "bad filter")),
    security(("operator_key" = [])))]
pub async fn retry_matching(
    State(state): State<AppState>,
    operator: Operator,
    body: JsonBody,
) -> Result<Json<BulkOutcome>, ApiError> {
    let (filter, dry_run) = bulk_request(body)?;
    Ok(Json(
        retry::retry_dead(&state.pool, &actor(&operator), &filter, dry_run).await?,
    ))
}

/// Discards every pending or dead job matching a non-empty filter, or counts them with `dry_run`.
#[utoipa::path(post, path = "/ops/jobs/discard", tag = "ops", request_body = BulkRequest,
    responses((status = 200, body = BulkOutcome), (status = 400, description = "bad or empty filter")),
    security(("operator_key" = [])))]
pub async fn discard_matching(
    State(state): State<AppState>,
    operator: Operator,
    body: JsonBody,
) -> Result<Json<BulkOutcome>, ApiError> {
    let (filter, dry_run) = bulk_request(body)?;
    Ok(Json(
        discard::discard_matching(&state.pool, &actor(&operator), &filter, dry_run).await?,
    ))
}

fn bulk_request(body: JsonBody) -> Result<(JobFilter, bool), ApiError> {
    let request: BulkRequest = serde_json::from_value(serde_json::Value::Object(body.object))
        .map_err(|error| ApiError::BadRequest(format!("invalid request body: {error}")))?;
    Ok((JobFilter::try_from(request.filter)?, request.dry_run))
}

fn job_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("no job with id `{text}`: job ids are integers")))
}
