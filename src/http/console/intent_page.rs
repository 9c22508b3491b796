//! One intent as the console shows it: the summary, parties (masked unless revealed), the
//! event timeline, payouts with provider references, ledger entries, webhook inbox rows,
//! discrepancies and jobs — each section its own function over what [`load`] read.

use maud::{Markup, html};
use uuid::Uuid;

use super::{
    jobs,
    layout::{self, Page, badge, csrf, maybe_time, time},
    mask,
    money::discrepancy_table,
    session::ConsoleSession,
};
use crate::{
    db::intents::IntentView,
    db::{console_intent, intents},
    domain::{PayoutKind, PayoutStatus},
    http::{AppState, problem::ApiError},
    ops::{JobFilter, list},
};

/// Everything the page shows, read before any of it is rendered.
struct Loaded {
    intent: IntentView,
    provider_reference: Option<String>,
    payouts: Vec<console_intent::PayoutLine>,
    entries: Vec<console_intent::EntryLine>,
    inbox: Vec<console_intent::InboxLine>,
    discrepancies: Vec<crate::db::discrepancies::DiscrepancyRow>,
    jobs: list::JobPage,
}

async fn load(state: &AppState, id: Uuid) -> Result<Loaded, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let intent = intents::view(&mut conn, None, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no intent `{id}`")))?;
    drop(conn);
    let provider_reference = console_intent::provider_reference(&state.pool, id).await?;
    let payouts = console_intent::payouts(&state.pool, id).await?;
    let entries = console_intent::ledger_entries(&state.pool, id).await?;
    // Webhooks name an intent by the references malipo and the provider gave its money.
    let mut references: Vec<String> = payouts.iter().map(|p| p.reference.clone()).collect();
    references.extend(payouts.iter().filter_map(|p| p.provider_ref.clone()));
    references.extend(provider_reference.clone());
    let inbox = console_intent::inbox(&state.pool, &references).await?;
    let discrepancies = console_intent::discrepancies(&state.pool, id).await?;
    let filter = JobFilter {
        intent_id: Some(id),
        ..JobFilter::default()
    };
    let jobs = list::list_jobs(&state.pool, &filter, None, 50).await?;
    Ok(Loaded {
        intent,
        provider_reference,
        payouts,
        entries,
        inbox,
        discrepancies,
        jobs,
    })
}

/// The intent page; parties and webhook bodies unmasked when `revealed` (audited by the
/// caller), with `done` as the notice of what an action just did.
pub async fn page(
    state: &AppState,
    session: &ConsoleSession,
    id: Uuid,
    revealed: bool,
    done: Option<&str>,
) -> Result<Markup, ApiError> {
    let loaded = load(state, id).await?;
    let title = format!("Intent {id}");
    let body = html! {
        (layout::notice(done))
        div.cards {
            (summary(&loaded))
            (super::disputes::card(session, &loaded.intent))
            (parties(session, &loaded.intent, revealed))
            (timeline(&loaded.intent))
        }
        h2 id="payouts" { "Payouts" }
        (payouts(session, id, &loaded.payouts))
        h2 id="ledger" { "Ledger entries" }
        (ledger(&loaded.entries))
        h2 id="inbox" { "Webhook inbox" }
        (inbox(&loaded.inbox, revealed))
        h2 id="discrepancies" { "Discrepancies" }
        (discrepancy_table(session, &loaded.discrepancies))
        h2 id="jobs" { "Jobs" }
        (jobs::table(&loaded.jobs.jobs))
    };
    Ok(Page {
        session,
        title: &title,
        section: "/console/intents",
        refresh_secs: (!revealed).then_some(5),
    }
    .render(body))
}

fn summary(loaded: &Loaded) -> Markup {
    let intent = &loaded.intent;
    let still_held = matches!(
        intent.status,
        crate::domain::IntentStatus::Held | crate::domain::IntentStatus::Disputed
    );
    html! {
        div.card {
            h2 { "Summary" }
            dl.facts {
                dt { "Status" } dd { (badge(intent.status.as_str())) }
                dt { "Amount" } dd { (intent.amount) " " (intent.currency) }
                @if !intent.released_amount.is_zero() {
                    dt { "Released" } dd { (intent.released_amount) " " (intent.currency) }
                }
                @if still_held {
                    dt { "Still held" } dd { (intent.remaining) " " (intent.currency) }
                }
                dt { "Provider" } dd { (intent.provider) }
                dt { "Provider reference" } dd { (loaded.provider_reference.as_deref().unwrap_or("—")) }
                dt { "Commission" } dd { (intent.commission_bps) " bps + " (intent.commission_fixed_fee) }
                @if let Some(reference) = &intent.reference { dt { "Client reference" } dd { (reference) } }
                @if let Some(account) = &intent.account_number { dt { "Paybill account" } dd { (account) } }
                @if let Some(attention) = &intent.attention { dt { "Needs attention" } dd { (attention) } }
                @if let Some(reason) = &intent.failure_reason { dt { "Failure" } dd { (reason) } }
                dt { "Created" } dd { (time(intent.created_at)) }
                dt { "Updated" } dd { (time(intent.updated_at)) }
            }
        }
    }
}

fn parties(session: &ConsoleSession, intent: &IntentView, revealed: bool) -> Markup {
    let party = |value: &serde_json::Value| {
        let shown = if revealed {
            value.clone()
        } else {
            mask::json(value)
        };
        serde_json::to_string_pretty(&shown).unwrap_or_default()
    };
    html! {
        div.card {
            h2 { "Parties" }
            @if revealed {
                p.notice role="status" { "Shown unmasked for this view; the reveal is in the audit log." }
            } @else {
                form.inline method="post" action={ "/console/intents/" (intent.id) "/reveal" } {
                    (csrf(session)) button type="submit" { "Reveal personal data" }
                }
            }
            h3 { "Buyer" } pre { (party(&intent.buyer)) }
            h3 { "Payee" } pre { (party(&intent.payee)) }
        }
    }
}

fn timeline(intent: &IntentView) -> Markup {
    html! {
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
}

fn payouts(session: &ConsoleSession, id: Uuid, payouts: &[console_intent::PayoutLine]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr {
                th scope="col" { "Kind" } th.num scope="col" { "Amount" } th scope="col" { "Status" }
                th scope="col" { "Our reference" } th scope="col" { "Provider reference" }
                th scope="col" { "Sent" } th scope="col" { "Failure" } th scope="col" { "Actions" }
            } }
            tbody {
                @for p in payouts {
                    tr {
                        td { (p.kind) } td.num { (p.amount) " " (p.currency) } td { (badge(p.status.as_str())) }
                        td { code { (p.reference) } }
                        td { code { (p.provider_ref.as_deref().unwrap_or("—")) } }
                        td { (maybe_time(p.initiated_at)) }
                        td.wrap { (p.failure_reason.as_deref().unwrap_or(""))
                            @if let Some(next) = p.superseded_by { " (superseded by " code { (next) } ")" } }
                        td { @if session.can_act() && p.status == PayoutStatus::InFlight {
                            form.inline method="post" action={ "/console/intents/" (id) "/payouts/" (p.id) "/ask" } {
                                (csrf(session)) button type="submit" { "Ask the provider now" }
                            }
                        }
                        @if session.can_act() && p.kind == PayoutKind::Commission
                            && p.status == PayoutStatus::Failed && p.superseded_by.is_none() {
                            form.inline method="post" action={ "/console/intents/" (id) "/payouts/" (p.id) "/resend" } {
                                (csrf(session))
                                label { "Note (required)" input name="note" required; }
                                button type="submit" { "Send the commission again" }
                            }
                        } }
                    }
                }
                @if payouts.is_empty() { tr { td colspan="8" .muted { "No payouts yet." } } }
            }
        } }
    }
}

fn ledger(entries: &[console_intent::EntryLine]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th scope="col" { "Posting" } th scope="col" { "Account" } th.num scope="col" { "Amount" } th scope="col" { "At" } } }
            tbody {
                @for e in entries {
                    tr { td { code { (e.posting) } } td { code { (e.account) } } td.num { (e.amount) " " (e.currency) } td { (time(e.created_at)) } }
                }
                @if entries.is_empty() { tr { td colspan="4" .muted { "Nothing posted yet." } } }
            }
        } }
    }
}

fn inbox(rows: &[console_intent::InboxLine], revealed: bool) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th scope="col" { "Received" } th scope="col" { "Provider" } th scope="col" { "Endpoint" } th scope="col" { "Status" } th scope="col" { "Body" } } }
            tbody {
                @for w in rows {
                    tr {
                        td { (time(w.received_at)) } td { (w.provider) } td { (w.endpoint) }
                        td { (badge(w.status.as_str())) @if let Some(r) = &w.reason { " " span.muted { (r) } } }
                        td.wrap { details { summary { (w.event_key) }
                            pre { @if revealed { (String::from_utf8_lossy(&w.body)) } @else { (mask::text(&w.body)) } } } }
                    }
                }
                @if rows.is_empty() { tr { td colspan="5" .muted { "No webhooks about this intent." } } }
            }
        } }
    }
}
