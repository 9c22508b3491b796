//! A disputed intent on its console page: the client's reason, what is held, and (operators
//! only) the form that resolves it — release part to the payee, refund the rest — through the
//! same audited `ops::disputes::resolve` as `POST /ops/intents/{id}/resolve`.

use std::str::FromStr;

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{
    layout::{csrf, link},
    session::{Action, ConsoleSession},
};
use crate::{
    db::intents::IntentView,
    http::{AppState, problem::ApiError},
    ops::disputes::{self, ResolutionAsk},
};

/// The dispute card, shown while the intent is disputed.
pub fn card(session: &ConsoleSession, intent: &IntentView) -> Markup {
    html! {
        @if intent.status == crate::domain::IntentStatus::Disputed {
            div.card {
                h2 { "Dispute" }
                dl.facts {
                    dt { "Reason" } dd { (intent.dispute_reason.as_deref().unwrap_or("—")) }
                    dt { "Held" } dd { (intent.remaining) " " (intent.currency) }
                }
                @if session.can_act() {
                    form.filters method="post" action={ "/console/intents/" (intent.id) "/resolve" } {
                        (csrf(session))
                        label { "Release to the payee" input name="release" inputmode="decimal" required value="0"; }
                        label { "Refund to the buyer" input name="refund" inputmode="decimal" required value=(intent.remaining); }
                        @if intent.provider == "lightning" {
                            label { "Payee invoice (for a release)" input name="release_bolt11"; }
                            label { "Buyer invoice (for a refund)" input name="refund_bolt11"; }
                        }
                        label { "Note (required)" input name="note" required; }
                        button type="submit" { "Resolve the dispute" }
                    }
                }
            }
        }
    }
}

/// `POST /console/intents/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    action: Action,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("no intent `{id}`")))?;
    let amount = |field: &str| {
        let text = action.field(field).unwrap_or("0").trim();
        Decimal::from_str(if text.is_empty() { "0" } else { text })
            .ok()
            .filter(|amount| !amount.is_sign_negative())
            .ok_or_else(|| {
                ApiError::BadRequest(format!("{field} `{text}` is not an amount like 400.00"))
            })
    };
    let invoice = |field: &str| {
        action
            .field(field)
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let note = action.field("note").unwrap_or_default().trim().to_owned();
    if note.is_empty() || note.len() > crate::escrow::dispute::MAX_TEXT {
        return Err(ApiError::BadRequest(
            "a note of 1–1000 characters saying why the money goes where it goes is required"
                .to_owned(),
        ));
    }
    let ask = ResolutionAsk {
        release: amount("release")?,
        refund: amount("refund")?,
        release_bolt11: invoice("release_bolt11"),
        refund_bolt11: invoice("refund_bolt11"),
        note,
    };
    let done = format!(
        "Dispute resolved: {} released, {} refunded.",
        ask.release, ask.refund
    );
    disputes::resolve(&state.pool, &action.actor(), id, ask).await?;
    Ok(Redirect::to(&link(&format!("/console/intents/{id}"), &[("done", &done)])).into_response())
}
