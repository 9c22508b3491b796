//! Intents as a payment console shows them: a keyset list, and one intent's summary, event
//! timeline, payouts with provider references, ledger entries, webhook inbox rows,
//! discrepancies and jobs; "ask the provider now" for a payout in doubt.

use axum::{
    extract::{Path, Query, State, rejection::QueryRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    jobs::bad_query,
    layout::{Page, badge, link, time},
    session::{Action, ConsoleSession, Posted},
};
use crate::{
    db::console_intent,
    domain::{IntentStatus, PayoutStatus},
    http::{AppState, problem::ApiError},
    ops::{
        JobFilter, JobState,
        audit::{self, Action as Audited},
        list, retry,
    },
    queue::enqueue,
};

/// The list's query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentsQuery {
    /// An intent id to open.
    q: Option<String>,
    status: Option<String>,
    flagged: Option<String>,
    before: Option<String>,
}

/// `GET /console/intents`.
pub async fn list(
    State(state): State<AppState>,
    session: ConsoleSession,
    query: Result<Query<IntentsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let id = Uuid::parse_str(q)
            .map_err(|_| ApiError::BadRequest(format!("`{q}` is not an intent id (a UUID)")))?;
        return Ok(Redirect::to(&format!("/console/intents/{id}")).into_response());
    }
    let status_text = query.status.as_deref().unwrap_or("");
    let status = match status_text {
        "" => None,
        text => Some(IntentStatus::parse(text).ok_or_else(|| {
            let names: Vec<&str> = IntentStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::BadRequest(format!(
                "status `{text}` is not one of {}",
                names.join(", ")
            ))
        })?),
    };
    let before = query
        .before
        .as_deref()
        .map(|b| {
            Uuid::parse_str(b)
                .map_err(|_| ApiError::BadRequest(format!("before `{b}` is not a UUID")))
        })
        .transpose()?;
    let flagged = query.flagged.as_deref() == Some("yes");
    let rows = console_intent::list(&state.pool, status, flagged, before, 51).await?;
    let more = rows.len() > 50;
    let rows = &rows[..rows.len().min(50)];
    let body = html! {
        (filters(status_text, flagged))
        div.scroll { table {
            thead { tr {
                th scope="col" { "Intent" } th scope="col" { "Status" } th.num scope="col" { "Amount" }
                th scope="col" { "Provider" } th scope="col" { "Reference" } th scope="col" { "Created" }
                th scope="col" { "Attention" }
            } }
            tbody {
                @for i in rows {
                    tr {
                        td { a href={ "/console/intents/" (i.id) } { (i.id) } }
                        td { (badge(i.status.as_str())) }
                        td.num { (i.amount) " " (i.currency) }
                        td { (i.provider) }
                        td { (i.reference.as_deref().unwrap_or("")) }
                        td { (time(i.created_at)) }
                        td.wrap { (i.flagged_reason.as_deref().unwrap_or("")) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="7" .muted { "No intents match." } } }
            }
        } }
        div.pager {
            @if more { @if let Some(last) = rows.last() {
                a rel="next" href=(link("/console/intents", &[("status", status_text),
                    ("flagged", if flagged { "yes" } else { "" }), ("before", &last.id.to_string())])) { "Older →" }
            } }
        }
    };
    Ok(Page {
        session: &session,
        title: "Intents",
        section: "/console/intents",
        refresh_secs: before.is_none().then_some(10),
    }
    .render(body)
    .into_response())
}

/// The open-by-id box and the status and flag filters.
fn filters(status_text: &str, flagged: bool) -> Markup {
    html! {
            form.filters method="get" action="/console/intents" {
                label { "Open intent by id" input name="q" size="36" placeholder="0190…"; }
                button type="submit" { "Open" }
            }
            form.filters method="get" action="/console/intents" {
                label { "Status"
                    select name="status" {
                        option value="" { "any" }
                        @for s in IntentStatus::ALL { option value=(s.as_str()) selected[status_text == s.as_str()] { (s.as_str()) } }
                    }
                }
                label { "Flagged only"
                    select name="flagged" {
                        option value="" { "no" }
                        option value="yes" selected[flagged] { "yes" }
                    }
                }
                button type="submit" { "Filter" }
            }
    }
}

fn intent_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| ApiError::NotFound(format!("no intent `{text}`")))
}

/// `GET /console/intents/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: ConsoleSession,
    Path(id): Path<String>,
    Query(done): Query<super::queues::Done>,
) -> Result<Markup, ApiError> {
    super::intent_page::page(&state, &session, intent_id(&id)?, false, done.done()).await
}

/// `POST /console/intents/{id}/reveal`: the page with parties and webhook bodies unmasked,
/// for this view only, audited.
pub async fn reveal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Markup, ApiError> {
    let id = intent_id(&id)?;
    let actor = posted.session.actor();
    audit::record(
        &state.pool,
        &Audited {
            actor: &actor,
            action: "intent.personal_data.reveal",
            job_id: None,
            queue: None,
            filter: json!({"intent": id}),
            dry_run: false,
            affected: 1,
            detail: json!({"via": "console"}),
        },
    )
    .await?;
    super::intent_page::page(&state, &posted.session, id, true, None).await
}

/// `POST /console/intents/{id}/payouts/{payout_id}/ask`: the payout's job runs now (or again,
/// if it gave up), and asks the provider where the transfer stands. A payout in flight is only
/// ever asked about, never sent again, by that job.
pub async fn ask_provider(
    State(state): State<AppState>,
    Path((id, payout_id)): Path<(String, String)>,
    action: Action,
) -> Result<Response, ApiError> {
    let id = intent_id(&id)?;
    let payout_id = Uuid::parse_str(&payout_id)
        .map_err(|_| ApiError::NotFound(format!("no payout `{payout_id}`")))?;
    let payouts = console_intent::payouts(&state.pool, id).await?;
    let payout = payouts
        .iter()
        .find(|p| p.id == payout_id)
        .ok_or_else(|| ApiError::NotFound(format!("intent {id} has no payout {payout_id}")))?;
    if payout.status != PayoutStatus::InFlight {
        return Err(ApiError::Conflict(format!(
            "payout {payout_id} is {}, not in doubt: there is nothing to ask",
            payout.status
        )));
    }
    let actor = action.actor();
    let mut tx = state.pool.begin().await?;
    let moved = enqueue::run_now_for_intent(&mut tx, id, "payout").await?;
    audit::record(
        &mut *tx,
        &Audited {
            actor: &actor,
            action: "payout.ask_provider",
            job_id: None,
            queue: Some(malipo_jobs::queues::PAYOUTS),
            filter: json!({"intent": id, "payout": payout_id}),
            dry_run: false,
            affected: moved as i64,
            detail: json!({"via": "console"}),
        },
    )
    .await?;
    tx.commit().await?;
    let mut asked = moved;
    if moved == 0 {
        // The job gave up (24 h in flight) and is dead: put it back; its run only asks.
        let dead = JobFilter {
            intent_id: Some(id),
            kind: Some("payout".to_owned()),
            state: Some(JobState::Dead),
            ..JobFilter::default()
        };
        for job in list::list_jobs(&state.pool, &dead, None, 50).await?.jobs {
            retry::retry_job(&state.pool, &actor, job.id).await?;
            asked += 1;
        }
    }
    let done = if asked == 0 {
        "No payout job was waiting: a worker is asking the provider right now.".to_owned()
    } else {
        "Asked: the payout job runs now and queries the provider.".to_owned()
    };
    Ok(Redirect::to(&link(&format!("/console/intents/{id}"), &[("done", &done)])).into_response())
}
