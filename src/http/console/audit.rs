//! The audit log, newest first, a keyset page at a time.

use axum::extract::{Query, State, rejection::QueryRejection};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    jobs::bad_query,
    layout::{Page, link, time},
    session::ConsoleSession,
};
use crate::{
    http::{AppState, problem::ApiError},
    ops::audit,
};

/// `?cursor=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    cursor: Option<String>,
}

/// `GET /console/audit`.
pub async fn list(
    State(state): State<AppState>,
    session: ConsoleSession,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Markup, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let page = audit::list(&state.pool, query.cursor.as_deref(), 50).await?;
    let body = html! {
        div.scroll { table {
            thead { tr {
                th scope="col" { "At (UTC)" } th scope="col" { "Actor" } th scope="col" { "Action" }
                th scope="col" { "Target" } th.num scope="col" { "Affected" } th scope="col" { "Details" }
            } }
            tbody {
                @for e in &page.entries {
                    tr {
                        td { (time(e.at)) } td { (e.actor) } td { (e.action) @if e.dry_run { " (dry run)" } }
                        td {
                            @if let Some(job) = e.job_id { a href={ "/console/jobs/" (job) } { "job " (job) } }
                            @else if let Some(queue) = &e.queue { "queue " (queue) }
                        }
                        td.num { (e.affected) }
                        td.wrap {
                            @if !e.filter.is_null() { code { (e.filter) } " " }
                            @if !e.detail.is_null() { code { (e.detail) } }
                        }
                    }
                }
                @if page.entries.is_empty() { tr { td colspan="6" .muted { "Nothing recorded yet." } } }
            }
        } }
        div.pager {
            @if let Some(next) = &page.next_cursor {
                a href=(link("/console/audit", &[("cursor", next)])) rel="next" { "Older →" }
            }
        }
    };
    Ok(Page {
        session: &session,
        title: "Audit log",
        section: "/console/audit",
        refresh_secs: query.cursor.is_none().then_some(10),
    }
    .render(body))
}
