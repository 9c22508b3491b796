//! `POST /console/intents/{id}/payouts/{payout_id}/resend`: the intent page's "Send the
//! commission again" form, for a commission payout the provider confirmed failed — through the
//! same audited `ops::payouts::resend_commission` as `POST /ops/payouts/{id}/resend`, to where
//! the failed payout went.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use super::{layout::link, session::Action};
use crate::{
    db::console_intent,
    http::{AppState, problem::ApiError},
    ops::payouts,
};

/// Sends the failed commission payout again, then shows the intent.
pub async fn resend(
    State(state): State<AppState>,
    Path((id, payout_id)): Path<(String, String)>,
    action: Action,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("no intent `{id}`")))?;
    let payout_id = Uuid::parse_str(&payout_id)
        .map_err(|_| ApiError::NotFound(format!("no payout `{payout_id}`")))?;
    if !console_intent::payouts(&state.pool, id)
        .await?
        .iter()
        .any(|p| p.id == payout_id)
    {
        return Err(ApiError::NotFound(format!(
            "intent {id} has no payout {payout_id}"
        )));
    }
    let note = action.field("note").unwrap_or_default().trim().to_owned();
    payouts::resend_commission(&state.pool, &action.actor(), payout_id, None, &note).await?;
    let done = "The commission goes out again as a new payout.";
    Ok(Redirect::to(&link(&format!("/console/intents/{id}"), &[("done", done)])).into_response())
}
