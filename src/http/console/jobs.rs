//! Jobs by queue, kind, state, intent and time (keyset pages, capped counts), and one job in
//! full: payload (masked until revealed), every attempt's error, and its timeline.

use axum::{
    extract::{Path, Query, State, rejection::QueryRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    layout::{self, Page, badge, csrf, link, maybe_time, time},
    mask,
    session::{Action, ConsoleSession, Posted},
};
use crate::{
    http::{AppState, problem::ApiError},
    ops::{
        JobFilter, JobFilterInput, JobState, OpsError,
        audit::{self, Action as Audited},
        capped, discard, inspect, known_queues, list, retry,
    },
};

/// Counts on the jobs page stop here.
pub const COUNT_CAP: i64 = 1000;
/// Rows per page.
const PAGE: i64 = 50;

/// The jobs page's query: a filter and a cursor.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    queue: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    intent_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

impl JobsQuery {
    fn filter(&self) -> Result<JobFilter, OpsError> {
        JobFilter::try_from(JobFilterInput {
            queue: self.queue.clone(),
            kind: self.kind.clone(),
            state: self.state.clone(),
            intent_id: self.intent_id.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        })
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            ("queue", text(&self.queue)),
            ("kind", text(&self.kind)),
            ("state", text(&self.state)),
            ("intent_id", text(&self.intent_id)),
            ("from", text(&self.from)),
            ("to", text(&self.to)),
        ]
    }
}

/// A query string that does not parse, as a 400 naming the problem.
pub fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(format!("invalid query string: {}", rejection.body_text()))
}

/// The filter form shared by the jobs and dead-letter pages.
pub fn filter_form(action: &str, query: &[(&'static str, String)], states: bool) -> Markup {
    let value = |name: &str| {
        query
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let kinds: Vec<&str> = malipo_jobs::registry()
        .iter()
        .map(|(name, _, _)| *name)
        .collect();
    html! {
        form.filters method="get" action=(action) {
            label { "Queue"
                select name="queue" {
                    option value="" { "any" }
                    @for q in known_queues() {
                        option value=(q) selected[value("queue") == q] { (q) }
                    }
                }
            }
            label { "Kind"
                select name="kind" {
                    option value="" { "any" }
                    @for k in &kinds {
                        option value=(k) selected[value("kind") == *k] { (k) }
                    }
                }
            }
            @if states {
                label { "State"
                    select name="state" {
                        option value="" { "any" }
                        @for s in JobState::ALL {
                            option value=(s.as_str()) selected[value("state") == s.as_str()] { (s.as_str()) }
                        }
                    }
                }
            }
            label { "Intent id" input name="intent_id" value=(value("intent_id")) size="36"; }
            label { "Created from (RFC 3339)" input name="from" value=(value("from")) placeholder="2026-01-31T00:00:00Z"; }
            label { "Created before" input name="to" value=(value("to")); }
            button type="submit" { "Filter" }
        }
    }
}

/// `GET /console/jobs`.
pub async fn list(
    State(state): State<AppState>,
    session: ConsoleSession,
    query: Result<Query<JobsQuery>, QueryRejection>,
) -> Result<Markup, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let filter = query.filter()?;
    let page = list::list_jobs(&state.pool, &filter, query.cursor.as_deref(), PAGE).await?;
    let count = capped::count_matching(&state.pool, &filter, COUNT_CAP).await?;
    let pairs = query.pairs();
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = html! {
        (layout::notice(query.done.as_deref()))
        (filter_form("/console/jobs", &pairs, true))
        p { strong { (capped::shown(count, COUNT_CAP)) } " matching jobs" }
        (table(&page.jobs))
        div.pager {
            @if query.cursor.is_some() { a href=(link("/console/jobs", &borrowed)) { "First page" } }
            @if let Some(next) = &page.next_cursor {
                a href=(layout::with_cursor("/console/jobs", &borrowed, next)) rel="next" { "Older jobs →" }
            }
        }
    };
    Ok(Page {
        session: &session,
        title: "Jobs",
        section: "/console/jobs",
        refresh_secs: query.cursor.is_none().then_some(10),
    }
    .render(body))
}

/// A table of job summaries.
pub fn table(jobs: &[list::JobSummary]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr {
                th scope="col" { "Id" } th scope="col" { "Queue" } th scope="col" { "Kind" }
                th scope="col" { "State" } th.num scope="col" { "Attempts" } th scope="col" { "Intent" }
                th scope="col" { "Created" } th scope="col" { "Last error" }
            } }
            tbody {
                @for j in jobs {
                    tr {
                        td { a href={ "/console/jobs/" (j.id) } { (j.id) } }
                        td { (j.queue) } td { (j.kind) } td { (badge(&j.state)) }
                        td.num { (j.attempts) "/" (j.max_attempts) }
                        td { @if let Some(intent) = j.intent_id {
                            a href={ "/console/intents/" (intent) } { (intent.to_string()[..8]) "…" }
                        } }
                        td { (time(j.created_at)) }
                        td.wrap { (j.last_error.as_deref().unwrap_or("")) }
                    }
                }
                @if jobs.is_empty() { tr { td colspan="8" .muted { "No jobs match." } } }
            }
        } }
    }
}

fn job_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("no job with id `{text}`")))
}

/// `GET /console/jobs/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(id): Path<String>,
    Query(done): Query<super::queues::Done>,
) -> Result<Markup, ApiError> {
    detail(&state, &session, job_id(&id)?, false, done.done()).await
}

/// `POST /console/jobs/{id}/reveal`: the same page with the payload unmasked, once, audited.
pub async fn reveal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Markup, ApiError> {
    let id = job_id(&id)?;
    let actor = posted.session.actor();
    audit::record(
        &state.pool,
        &Audited {
            actor: &actor,
            action: "job.payload.reveal",
            job_id: Some(id),
            queue: None,
            filter: serde_json::Value::Null,
            dry_run: false,
            affected: 1,
            detail: serde_json::json!({"via": "console"}),
        },
    )
    .await?;
    detail(&state, &posted.session, id, true, None).await
}

async fn detail(
    state: &AppState,
    session: &ConsoleSession,
    id: i64,
    revealed: bool,
    done: Option<&str>,
) -> Result<Markup, ApiError> {
    let job = inspect::show_job(&state.pool, id).await?;
    let payload = if revealed {
        job.payload.clone()
    } else {
        mask::json(&job.payload)
    };
    let j = &job.job;
    let title = format!("Job {} · {}", j.id, j.kind);
    let body = html! {
        (layout::notice(done))
        div.cards {
            (summary_card(session, &job))
            (timeline_card(&job))
        }
        h2 { "Payload" }
        @if revealed {
            p.notice role="status" { "Shown unmasked for this view; the reveal is in the audit log." }
        } @else {
            form.inline method="post" action={ "/console/jobs/" (j.id) "/reveal" } {
                (csrf(session)) button type="submit" { "Reveal personal data" }
            }
        }
        pre { (serde_json::to_string_pretty(&payload).unwrap_or_default()) }
        h2 { "Attempts" }
        div.scroll { table {
            thead { tr { th scope="col" { "#" } th scope="col" { "At" } th scope="col" { "Outcome" } th scope="col" { "Error" } } }
            tbody {
                @for a in &job.attempt_log {
                    tr { td { (a.attempt) } td { (time(a.at)) } td { (badge(&a.outcome)) } td.wrap { (a.error) } }
                }
                @if job.attempt_log.is_empty() { tr { td colspan="4" .muted { "No failed attempts." } } }
            }
        } }
        p.muted { "Finished: " (maybe_time(j.finished_at)) }
    };
    Ok(Page {
        session,
        title: &title,
        section: "/console/jobs",
        refresh_secs: (!revealed).then_some(5),
    }
    .render(body))
}

/// The job's facts, and retry/discard where its state allows them (operators only).
fn summary_card(session: &ConsoleSession, job: &inspect::JobDetail) -> Markup {
    let j = &job.job;
    let state = JobState::parse(&j.state);
    html! {
        div.card {
            h2 { "Summary" }
            dl.facts {
                dt { "State" } dd { (badge(&j.state)) }
                dt { "Queue" } dd { a href=(link("/console/jobs", &[("queue", &j.queue)])) { (j.queue) } }
                dt { "Attempts" } dd { (j.attempts) " of " (j.max_attempts) }
                dt { "Run at" } dd { (time(j.run_at)) }
                @if let Some(intent) = j.intent_id {
                    dt { "Intent" } dd { a href={ "/console/intents/" (intent) } { (intent) } }
                }
                @if let Some(key) = &job.dedupe_key { dt { "Dedupe key" } dd { (key) } }
                @if let Some(worker) = &j.locked_by { dt { "Worker" } dd { (worker) } }
            }
            @if session.can_act() { div.actions {
                @if matches!(state, Ok(JobState::Dead | JobState::Discarded | JobState::Pending)) {
                    form.inline method="post" action={ "/console/jobs/" (j.id) "/retry" } {
                        (csrf(session)) button.primary type="submit" { "Retry now" }
                    }
                }
                @if matches!(state, Ok(JobState::Dead | JobState::Pending)) {
                    form.inline method="post" action={ "/console/jobs/" (j.id) "/discard" } {
                        (csrf(session)) button.danger type="submit" { "Discard" }
                    }
                }
            } }
        }
    }
}

/// Enqueued, every attempt, every operator action, finished.
fn timeline_card(job: &inspect::JobDetail) -> Markup {
    let j = &job.job;
    html! {
        div.card {
            h2 { "Timeline" }
            ol.timeline {
                li { (time(j.created_at)) "enqueued" }
                @for a in &job.attempt_log {
                    li { (time(a.at)) "attempt " (a.attempt) " · " (a.outcome)
                        @if let Some(w) = &a.worker { span.muted { " on " (w) } } }
                }
                @for op in &job.operator_actions {
                    li { (time(op.at)) (op.action) " by " (op.actor) }
                }
                @if let Some(at) = j.finished_at { li { (time(at)) "finished " (j.state) } }
            }
        }
    }
}

/// `POST /console/jobs/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    retry::retry_job(&state.pool, &action.actor(), id).await?;
    Ok(to_job(id, "Retried: the job runs now."))
}

/// `POST /console/jobs/{id}/discard`.
pub async fn discard(
    State(state): State<AppState>,
    Path(id): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    discard::discard_job(&state.pool, &action.actor(), id).await?;
    Ok(to_job(id, "Discarded."))
}

fn to_job(id: i64, done: &str) -> Response {
    Redirect::to(&link(&format!("/console/jobs/{id}"), &[("done", done)])).into_response()
}
