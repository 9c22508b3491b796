//! Discrepancies (open first; resolve with a note) and intents that need a person.

use axum::{
    extract::{Path, Query, State, rejection::QueryRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    jobs::bad_query,
    layout::{self, Page, badge, csrf, link, time},
    mask,
    session::{Action, ConsoleSession},
};
use crate::{
    db::{
        console_intent,
        discrepancies::{DiscrepancyRow, Resolution},
    },
    http::{AppState, problem::ApiError},
    ops::money,
};

const RESOLUTIONS: [Resolution; 4] = [
    Resolution::RefundedToPayer,
    Resolution::AppliedToIntent,
    Resolution::WrittenOff,
    Resolution::Acknowledged,
];

/// `?all=yes&done=…`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyQuery {
    all: Option<String>,
    done: Option<String>,
}

/// `GET /console/discrepancies`.
pub async fn list(
    State(state): State<AppState>,
    session: ConsoleSession,
    query: Result<Query<MoneyQuery>, QueryRejection>,
) -> Result<Markup, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let all = query.all.as_deref() == Some("yes");
    let rows = money::discrepancies(&state.pool, all, Some(200)).await?;
    let mut stuck =
        console_intent::needs_person(&state.pool, state.config.stuck_after.as_secs_f64(), 100)
            .await?;
    stuck.sort_by_key(|s| s.since);
    let body = html! {
        (layout::notice(query.done.as_deref()))
        p { @if all { a href="/console/discrepancies" { "Show open only" } }
            @else { a href=(link("/console/discrepancies", &[("all", "yes")])) { "Show resolved too" } } }
        (discrepancy_table(&session, &rows))
        h2 { "Intents that need a person" }
        div.scroll { table {
            thead { tr { th scope="col" { "Intent" } th scope="col" { "Status" } th scope="col" { "Provider" }
                         th scope="col" { "Why" } th scope="col" { "Since" } } }
            tbody {
                @for s in &stuck {
                    tr { td { a href={ "/console/intents/" (s.id) } { (s.id) } } td { (badge(&s.status)) }
                         td { (s.provider) } td.wrap { (s.reason) @if let Some(d) = &s.detail { ": " (d) } }
                         td { (time(s.since)) } }
                }
                @if stuck.is_empty() { tr { td colspan="5" .muted { "None." } } }
            }
        } }
    };
    Ok(Page {
        session: &session,
        title: "Discrepancies",
        section: "/console/discrepancies",
        refresh_secs: Some(15),
    }
    .render(body))
}

/// Discrepancies with a resolve form on each open one (operators only).
pub fn discrepancy_table(session: &ConsoleSession, rows: &[DiscrepancyRow]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr {
                th scope="col" { "Seen" } th scope="col" { "Kind" } th scope="col" { "Intent" }
                th.num scope="col" { "Amount" } th scope="col" { "Status" } th scope="col" { "Evidence" }
                th scope="col" { "Resolve" }
            } }
            tbody {
                @for d in rows {
                    tr {
                        td { (time(d.created_at)) } td { (d.kind) }
                        td { @if let Some(i) = d.intent_id { a href={ "/console/intents/" (i) } { (i.to_string()[..8]) "…" } } }
                        td.num { @if let Some(a) = d.amount { (a) " " (d.currency.as_deref().unwrap_or("")) } }
                        td { (badge(&d.status))
                             @if let Some(r) = &d.resolution { " " (r) } }
                        td.wrap { details { summary { "evidence" } pre { (serde_json::to_string_pretty(&mask::json(&d.evidence)).unwrap_or_default()) } }
                                  @if let Some(n) = &d.note { p.muted { (n) } } }
                        td { @if d.status == "open" && session.can_act() {
                            form.filters method="post" action={ "/console/discrepancies/" (d.id) "/resolve" } {
                                (csrf(session))
                                label { "Resolution"
                                    select name="resolution" {
                                        @for r in RESOLUTIONS { option value=(r.as_str()) { (r.as_str()) } }
                                    }
                                }
                                label { "Note (required)" input name="note" required; }
                                button type="submit" { "Resolve" }
                            }
                        } }
                    }
                }
                @if rows.is_empty() { tr { td colspan="7" .muted { "No discrepancies." } } }
            }
        } }
    }
}

/// `POST /console/discrepancies/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("no discrepancy `{id}`")))?;
    let named = action.field("resolution").unwrap_or_default();
    let resolution = RESOLUTIONS
        .into_iter()
        .find(|r| r.as_str() == named)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "resolution `{named}` is not one of refunded_to_payer, applied_to_intent, written_off, acknowledged"
            ))
        })?;
    let note = action.field("note").unwrap_or_default();
    money::resolve(&state.pool, &action.actor(), id, resolution, note).await?;
    Ok(Redirect::to(&link(
        "/console/discrepancies",
        &[(
            "done",
            &format!("Resolved {id} as {}.", resolution.as_str()),
        )],
    ))
    .into_response())
}
