//! `reconcile_fincra`: every Fincra payout in the window is queried by customer reference
//! (PROVIDERS.md §4.2) and compared with malipo's record. Fincra documents no reversal event,
//! so successful payouts are re-queried for a window (`MALIPO_FINCRA_RECHECK_WINDOW`); a later
//! `failed` for a payout malipo recorded delivered, or a delivery it recorded failed, goes
//! through `escrow::payout::apply_transfer`, which records a payout_contradiction discrepancy
//! with its suspense posting (as a contradicting M-Pesa result does). An in-flight payout is
//! completed by the answer through the same path. The report never edits money itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Item, Reach, Report};
use crate::{
    db::{fincra_payouts, payouts},
    domain::PayoutStatus,
    escrow::payout::{self as effects, PayoutEffect},
    providers::TransferStatus,
};

/// What to reconcile.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Payouts concluded (succeeded or failed) since this time are asked about again.
    pub since: DateTime<Utc>,
    /// Until.
    pub until: DateTime<Utc>,
    /// An in-flight payout older than this is asked about too.
    pub pending_after: Duration,
}

/// Runs one reconciliation and stores its report.
pub async fn run(state: &impl Reach, options: Options) -> anyhow::Result<Report> {
    let cutoff =
        options.until - chrono::Duration::from_std(options.pending_after).unwrap_or_default();
    let mut conn = state.pool().acquire().await?;
    let ids = fincra_payouts::to_recheck(&mut conn, options.since, cutoff).await?;
    drop(conn);
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(item) = recheck(state, id).await? {
            items.push(item);
        }
    }
    let report = Report::new("fincra", options.since, options.until, items);
    report.store(state.pool()).await?;
    tracing::info!(report = %report.id, summary = ?report.summary, "Fincra reconciliation stored");
    Ok(report)
}

async fn recheck(state: &impl Reach, id: uuid::Uuid) -> anyhow::Result<Option<Item>> {
    let mut conn = state.pool().acquire().await?;
    let Some(payout) = payouts::load(&mut conn, id).await? else {
        return Ok(None);
    };
    drop(conn);
    let subject = payout.id.to_string();
    let recorded = payout.status;
    let answer = match state.check_transfer(&payout).await {
        Ok(answer) => answer,
        Err(error) => {
            return Ok(Some(Item::new(
                "status_mismatch",
                "payout",
                subject,
                json!({"reference": payout.reference, "recorded": recorded.as_str(),
                       "query_failed": error.to_string()}),
            )));
        }
    };
    let theirs = match &answer {
        TransferStatus::Succeeded { .. } => "successful",
        TransferStatus::Failed { .. } => "failed",
        TransferStatus::Reversed { .. } => "reversed",
        TransferStatus::Pending => "processing",
        TransferStatus::NotFound => "not_found",
    };
    let detail =
        json!({"reference": payout.reference, "recorded": recorded.as_str(), "fincra": theirs});
    if answer == TransferStatus::NotFound {
        // Fincra never saw a payout malipo sent (or concluded): nothing to apply; an operator
        // looks.
        return Ok(Some(Item::new(
            "missing_at_provider",
            "payout",
            subject,
            detail,
        )));
    }
    let mut tx = state.pool().begin().await?;
    let Some(current) = payouts::lock(&mut tx, payout.id).await? else {
        return Ok(None);
    };
    let effect = effects::apply_transfer(&mut tx, &current, &answer).await?;
    tx.commit().await?;
    let class = match (effect, recorded) {
        (PayoutEffect::Settled, PayoutStatus::InFlight) => "resolved",
        (PayoutEffect::Contradicted, _) => "status_mismatch",
        (PayoutEffect::Pending, PayoutStatus::InFlight) => "status_mismatch",
        (PayoutEffect::Unchanged, _) => "matched",
        (PayoutEffect::Pending | PayoutEffect::Settled, _) => "status_mismatch",
    };
    Ok(Some(Item::new(class, "payout", subject, detail)))
}
