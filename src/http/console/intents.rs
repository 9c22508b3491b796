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
    jobs::{self, bad_query},
    layout::{self, Page, badge, csrf, link, maybe_time, time},
    mask,
    money::discrepancy_table,
    session::{Action, ConsoleSession, Posted},
};
use crate::{
    db::{console_intent, intents},
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

const STATUSES: [&str; 11] = [
    "initiating",
    "awaiting_payment",
    "held",
    "releasing",
    "released",
    "settled",
    "failed",
    "expired",
    "cancelled",
    "refunding",
    "refunded",
];

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
    let status = query.status.as_deref().filter(|s| !s.is_empty());
    if let Some(status) = status
        && !STATUSES.contains(&status)
    {
        return Err(ApiError::BadRequest(format!(
            "status `{status}` is not one of {}",
            STATUSES.join(", ")
        )));
    }
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
    let status_text = status.unwrap_or("");
    let body = html! {
        form.filters method="get" action="/console/intents" {
            label { "Open intent by id" input name="q" size="36" placeholder="0190…"; }
            button type="submit" { "Open" }
        }
        form.filters method="get" action="/console/intents" {
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[status_text == s] { (s) } }
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
                        td { (badge(&i.status)) }
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
    page(&state, &session, intent_id(&id)?, false, done.done()).await
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
    page(&state, &posted.session, id, true, None).await
}

async fn page(
    state: &AppState,
    session: &ConsoleSession,
    id: Uuid,
    revealed: bool,
    done: Option<&str>,
) -> Result<Markup, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let intent = intents::view(&mut conn, None, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no intent `{id}`")))?;
    drop(conn);
    let provider_reference = console_intent::provider_reference(&state.pool, id).await?;
    let payouts = console_intent::payouts(&state.pool, id).await?;
    let entries = console_intent::ledger_entries(&state.pool, id).await?;
    let mut references: Vec<String> = payouts.iter().map(|p| p.reference.clone()).collect();
    references.extend(payouts.iter().filter_map(|p| p.provider_ref.clone()));
    references.extend(provider_reference.clone());
    let inbox = console_intent::inbox(&state.pool, &references).await?;
    let found = console_intent::discrepancies(&state.pool, id).await?;
    let filter = JobFilter {
        intent_id: Some(id),
        ..JobFilter::default()
    };
    let job_page = list::list_jobs(&state.pool, &filter, None, 50).await?;
    let party = |value: &serde_json::Value| {
        let shown = if revealed {
            value.clone()
        } else {
            mask::json(value)
        };
        serde_json::to_string_pretty(&shown).unwrap_or_default()
    };
    let title = format!("Intent {id}");
    let body = html! {
        (layout::notice(done))
        div.cards {
            div.card {
                h2 { "Summary" }
                dl.facts {
                    dt { "Status" } dd { (badge(intent.status.as_str())) }
                    dt { "Amount" } dd { (intent.amount) " " (intent.currency) }
                    @if !intent.released_amount.is_zero() {
                        dt { "Released" } dd { (intent.released_amount) " " (intent.currency) }
                    }
                    @if matches!(intent.status.as_str(), "held" | "disputed") {
                        dt { "Still held" } dd { (intent.remaining) " " (intent.currency) }
                    }
                    dt { "Provider" } dd { (intent.provider) }
                    dt { "Provider reference" } dd { (provider_reference.as_deref().unwrap_or("—")) }
                    dt { "Commission" } dd { (intent.commission_bps) " bps + " (intent.commission_fixed_fee) }
                    @if let Some(reference) = &intent.reference { dt { "Client reference" } dd { (reference) } }
                    @if let Some(account) = &intent.account_number { dt { "Paybill account" } dd { (account) } }
                    @if let Some(attention) = &intent.attention { dt { "Needs attention" } dd { (attention) } }
                    @if let Some(reason) = &intent.failure_reason { dt { "Failure" } dd { (reason) } }
                    dt { "Created" } dd { (time(intent.created_at)) }
                    dt { "Updated" } dd { (time(intent.updated_at)) }
                }
            }
            (super::disputes::card(session, &intent))
            div.card {
                h2 { "Parties" }
                @if revealed {
                    p.notice role="status" { "Shown unmasked for this view; the reveal is in the audit log." }
                } @else {
                    form.inline method="post" action={ "/console/intents/" (id) "/reveal" } {
                        (csrf(session)) button type="submit" { "Reveal personal data" }
                    }
                }
                h3 { "Buyer" } pre { (party(&intent.buyer)) }
                h3 { "Payee" } pre { (party(&intent.payee)) }
            }
            div.card {
                h2 { "Timeline" }
                ol.timeline id="timeline" {
                    @for e in &intent.events {
                        li { (time(e.at)) strong { (e.kind) }
                            @if let (Some(from), Some(to)) = (&e.from_status, &e.to_status) { " " (from) " → " (to) } }
                    }
                }
            }
        }
        h2 id="payouts" { "Payouts" }
        div.scroll { table {
            thead { tr {
                th scope="col" { "Kind" } th.num scope="col" { "Amount" } th scope="col" { "Status" }
                th scope="col" { "Our reference" } th scope="col" { "Provider reference" }
                th scope="col" { "Sent" } th scope="col" { "Failure" } th scope="col" { "Actions" }
            } }
            tbody {
                @for p in &payouts {
                    tr {
                        td { (p.kind) } td.num { (p.amount) " " (p.currency) } td { (badge(&p.status)) }
                        td { code { (p.reference) } }
                        td { code { (p.provider_ref.as_deref().unwrap_or("—")) } }
                        td { (maybe_time(p.initiated_at)) }
                        td.wrap { (p.failure_reason.as_deref().unwrap_or(""))
                            @if let Some(next) = p.superseded_by { " (superseded by " code { (next) } ")" } }
                        td { @if session.can_act() && p.status == "in_flight" {
                            form.inline method="post" action={ "/console/intents/" (id) "/payouts/" (p.id) "/ask" } {
                                (csrf(session)) button type="submit" { "Ask the provider now" }
                            }
                        } }
                    }
                }
                @if payouts.is_empty() { tr { td colspan="8" .muted { "No payouts yet." } } }
            }
        } }
        h2 id="ledger" { "Ledger entries" }
        div.scroll { table {
            thead { tr { th scope="col" { "Posting" } th scope="col" { "Account" } th.num scope="col" { "Amount" } th scope="col" { "At" } } }
            tbody {
                @for e in &entries {
                    tr { td { code { (e.posting) } } td { code { (e.account) } } td.num { (e.amount) " " (e.currency) } td { (time(e.created_at)) } }
                }
                @if entries.is_empty() { tr { td colspan="4" .muted { "Nothing posted yet." } } }
            }
        } }
        h2 id="inbox" { "Webhook inbox" }
        div.scroll { table {
            thead { tr { th scope="col" { "Received" } th scope="col" { "Provider" } th scope="col" { "Endpoint" } th scope="col" { "Status" } th scope="col" { "Body" } } }
            tbody {
                @for w in &inbox {
                    tr {
                        td { (time(w.received_at)) } td { (w.provider) } td { (w.endpoint) }
                        td { (badge(&w.status)) @if let Some(r) = &w.reason { " " span.muted { (r) } } }
                        td.wrap { details { summary { (w.event_key) }
                            pre { @if revealed { (String::from_utf8_lossy(&w.body)) } @else { (mask::text(&w.body)) } } } }
                    }
                }
                @if inbox.is_empty() { tr { td colspan="5" .muted { "No webhooks about this intent." } } }
            }
        } }
        h2 id="discrepancies" { "Discrepancies" }
        (discrepancy_table(session, &found))
        h2 id="jobs" { "Jobs" }
        (jobs::table(&job_page.jobs))
    };
    Ok(Page {
        session,
        title: &title,
        section: "/console/intents",
        refresh_secs: (!revealed).then_some(5),
    }
    .render(body))
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
    if payout.status != "in_flight" {
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
