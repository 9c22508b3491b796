//! M-Pesa reconciliation: queue a run, see the latest reports and their items, download one
//! as CSV (the same CSV as `GET /ops/reconciliations/{id}?format=csv`).

use axum::{
    extract::{Path, Query, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use malipo_jobs::ReconcileMpesa;
use maud::{Markup, html};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    jobs::table,
    layout::{self, Page, csrf, link, time},
    mask,
    queues::Done,
    session::{Action, ConsoleSession},
};
use crate::{
    http::{AppState, problem::ApiError},
    ops::{JobFilter, JobState, audit, list},
    queue::{EnqueueOptions, enqueue},
    reconcile::{self, recent},
};

/// `GET /console/reconciliations`.
pub async fn list(
    State(state): State<AppState>,
    session: ConsoleSession,
    Query(done): Query<Done>,
) -> Result<Markup, ApiError> {
    let reports = recent::latest(&state.pool, 30).await?;
    // Waiting, running and dead runs only: each state has a partial index, where "every
    // reconcile job" would walk a million finished jobs of other queues.
    let mut jobs = Vec::new();
    for job_state in [JobState::Running, JobState::Pending, JobState::Dead] {
        let runs = JobFilter {
            queue: Some(malipo_jobs::queues::RECONCILE.to_owned()),
            state: Some(job_state),
            ..JobFilter::default()
        };
        jobs.extend(list::list_jobs(&state.pool, &runs, None, 5).await?.jobs);
    }
    let body = html! {
        (layout::notice(done.done()))
        @if session.can_act() {
            form.inline method="post" action="/console/reconciliations/run" {
                (csrf(&session))
                button.primary type="submit" { "Run an M-Pesa reconciliation now" }
            }
        }
        h2 { "Reports" }
        div.scroll { table {
            thead { tr { th scope="col" { "Stored" } th scope="col" { "Provider" } th scope="col" { "Window" }
                         th scope="col" { "Summary" } th scope="col" { "CSV" } } }
            tbody {
                @for r in &reports {
                    tr {
                        td { a href={ "/console/reconciliations/" (r.id) } { (time(r.created_at)) } }
                        td { (r.provider) }
                        td { (time(r.window_start)) " – " (time(r.window_end)) }
                        td.wrap { (summary(&r.summary)) }
                        td { a href={ "/console/reconciliations/" (r.id) "/csv" } download { "CSV" } }
                    }
                }
                @if reports.is_empty() { tr { td colspan="5" .muted { "No reports yet." } } }
            }
        } }
        h2 { "Runs waiting, running or dead" }
        (table(&jobs))
    };
    Ok(Page {
        session: &session,
        title: "Reconciliation",
        section: "/console/reconciliations",
        refresh_secs: Some(5),
    }
    .render(body))
}

fn summary(summary: &Value) -> String {
    summary
        .as_object()
        .map(|map| {
            map.iter()
                .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                .map(|(class, n)| format!("{class}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "nothing found".to_owned())
}

/// `POST /console/reconciliations/run`: queues a run, as `POST /ops/reconciliations/mpesa`.
pub async fn run(State(state): State<AppState>, action: Action) -> Result<Response, ApiError> {
    // An on-demand run gets its own slot so it never collides with the periodic one.
    let job = ReconcileMpesa {
        window_start: Utc::now().to_rfc3339(),
        since: None,
        pending_after_secs: None,
    };
    let actor = action.actor();
    let mut tx = state.pool.begin().await?;
    let enqueued = enqueue(&mut tx, &job, EnqueueOptions::default()).await?;
    audit::record(
        &mut *tx,
        &audit::Action {
            actor: &actor,
            action: "reconciliation.queue",
            job_id: Some(enqueued.id),
            queue: Some(malipo_jobs::queues::RECONCILE),
            filter: json!({"provider": "mpesa"}),
            dry_run: false,
            affected: 1,
            detail: json!({"via": "console"}),
        },
    )
    .await?;
    tx.commit().await?;
    let done = format!(
        "Queued reconciliation job {}; its report appears here when it has run.",
        enqueued.id
    );
    Ok(Redirect::to(&link("/console/reconciliations", &[("done", &done)])).into_response())
}

fn report_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text)
        .map_err(|_| ApiError::NotFound(format!("no reconciliation report `{text}`")))
}

async fn load(state: &AppState, id: &str) -> Result<reconcile::Report, ApiError> {
    let id = report_id(id)?;
    reconcile::load(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no reconciliation report `{id}`")))
}

/// `GET /console/reconciliations/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(id): Path<String>,
) -> Result<Markup, ApiError> {
    let report = load(&state, &id).await?;
    let title = format!("Reconciliation {}", report.id);
    let body = html! {
        dl.facts {
            dt { "Provider" } dd { (report.provider) }
            dt { "Window" } dd { (time(report.window_start)) " – " (time(report.window_end)) }
            dt { "Summary" } dd { @for (class, n) in &report.summary { (class) ": " (n) " · " } }
        }
        p { a href={ "/console/reconciliations/" (report.id) "/csv" } download id="csv" { "Download CSV" } }
        div.scroll { table {
            thead { tr { th scope="col" { "Class" } th scope="col" { "Kind" } th scope="col" { "Subject" } th scope="col" { "Detail" } } }
            tbody {
                @for item in &report.items {
                    tr { td { (item.class) } td { (item.kind) } td { code { (item.subject) } }
                         td.wrap { code { (mask::json(&item.detail)) } } }
                }
                @if report.items.is_empty() { tr { td colspan="4" .muted { "Nothing to reconcile in this window." } } }
            }
        } }
    };
    Ok(Page {
        session: &session,
        title: &title,
        section: "/console/reconciliations",
        refresh_secs: None,
    }
    .render(body))
}

/// `GET /console/reconciliations/{id}/csv`: the report's items as a CSV download.
pub async fn csv(
    State(state): State<AppState>,
    _session: ConsoleSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let report = load(&state, &id).await?;
    let disposition = format!("attachment; filename=\"reconciliation-{}.csv\"", report.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        reconcile::to_csv(&report),
    )
        .into_response())
}
