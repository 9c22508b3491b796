//! Notification deliveries that have not succeeded (failed, or still being retried), newest
//! first across every client, with *Redeliver* (operators): a new round of the same delivery,
//! under the same `webhook-id`, through the audited `ops::notifications::retry_delivery`.

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
    session::{Action, ConsoleSession},
};
use crate::{
    db::webhook_deliveries,
    http::{AppState, problem::ApiError},
    notify::DeliveryStatus,
    ops::notifications,
};

/// `?status=failed|pending&done=…`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    status: Option<String>,
    done: Option<String>,
}

/// `GET /console/deliveries`.
pub async fn list(
    State(state): State<AppState>,
    session: ConsoleSession,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Markup, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let status = match query.status.as_deref() {
        None | Some("") => DeliveryStatus::Failed,
        Some(text) => match DeliveryStatus::parse(text) {
            Some(status @ (DeliveryStatus::Failed | DeliveryStatus::Pending)) => status,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "status `{text}` is not failed or pending"
                )));
            }
        },
    };
    let rows = webhook_deliveries::unfinished(&state.pool, status, 200).await?;
    let body = html! {
        (layout::notice(query.done.as_deref()))
        p {
            @for (shown, label) in [(DeliveryStatus::Failed, "Failed (every retry spent)"), (DeliveryStatus::Pending, "Being retried")] {
                @if shown == status { strong { (label) } } @else { a href=(link("/console/deliveries", &[("status", shown.as_str())])) { (label) } }
                " "
            }
        }
        div.scroll { table {
            thead { tr {
                th scope="col" { "Made" } th scope="col" { "Event" } th scope="col" { "Intent" }
                th scope="col" { "Endpoint" } th scope="col" { "Status" } th.num scope="col" { "Attempts" }
                th scope="col" { "Last error" } th scope="col" { "Actions" }
            } }
            tbody {
                @for d in &rows {
                    tr {
                        td { (time(d.created_at)) }
                        td { code { "evt_" (d.event_id) } " " (d.event_type) }
                        td { @if let Some(i) = d.intent_id { a href={ "/console/intents/" (i) } { (i.to_string()[..8]) "…" } } }
                        td.wrap { code { (d.url) } }
                        td { (badge(d.status.as_str())) }
                        td.num { (d.attempts) }
                        td.wrap { (d.last_error.as_deref().unwrap_or("")) }
                        td { @if session.can_act() {
                            form.inline method="post" action={ "/console/deliveries/" (d.id) "/retry" } {
                                (csrf(&session)) button type="submit" { "Redeliver" }
                            }
                        } }
                    }
                }
                @if rows.is_empty() { tr { td colspan="8" .muted { "None." } } }
            }
        } }
    };
    Ok(Page {
        session: &session,
        title: "Notification deliveries",
        section: "/console/deliveries",
        refresh_secs: Some(15),
    }
    .render(body))
}

/// `POST /console/deliveries/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("no delivery `{id}`")))?;
    let round = notifications::retry_delivery(&state.pool, &action.actor(), id).await?;
    let done = format!("Delivery {id} is being sent again (round {round}, the same webhook-id).");
    Ok(Redirect::to(&link("/console/deliveries", &[("done", &done)])).into_response())
}
