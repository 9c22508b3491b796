//! Operator actions on money problems — discrepancies (list, resolve) and intents that need a
//! person (stuck in a non-terminal state, or flagged) — shared by `/ops` and the CLI. Resolving
//! writes its audit row in the same transaction.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Actor, OpsError,
    audit::{self, Action},
};
use crate::db::discrepancies::{self, DiscrepancyRow, Resolution, ResolveError};
pub use crate::db::intents::StuckIntent;

/// Open discrepancies (every one with `all`), newest first.
pub async fn discrepancies(
    pool: &PgPool,
    all: bool,
    limit: Option<i64>,
) -> Result<Vec<DiscrepancyRow>, OpsError> {
    let limit = super::page_size(limit)?;
    Ok(discrepancies::list(pool, all, limit).await?)
}

/// Resolves discrepancy `id` as `resolution`, with the operator's `note` (required: the next
/// person must know why).
pub async fn resolve(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    resolution: Resolution,
    note: &str,
) -> Result<DiscrepancyRow, OpsError> {
    if note.trim().is_empty() {
        return Err(OpsError::Invalid(
            "a note saying how the money was settled is required".to_owned(),
        ));
    }
    let mut tx = pool.begin().await?;
    let resolved = discrepancies::resolve(&mut tx, id, resolution, &actor.label(), note)
        .await
        .map_err(|error| match error {
            ResolveError::NotFound(_) => OpsError::NotFound(error.to_string()),
            ResolveError::AlreadyResolved(_)
            | ResolveError::MoneyInSuspense(_)
            | ResolveError::RefundUnderWay(_) => OpsError::Conflict(error.to_string()),
            ResolveError::Database(error) => OpsError::Internal(error),
        })?;
    audit::record(
        &mut *tx,
        &Action {
            actor,
            action: "discrepancy.resolve",
            job_id: None,
            queue: None,
            filter: json!({"discrepancy": id}),
            dry_run: false,
            affected: 1,
            detail: json!({"resolution": resolution, "note": note, "kind": resolved.kind,
                           "intent": resolved.intent_id}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(resolved)
}

/// Intents in `releasing` or `refunding` longer than `older_than`, with a payout in flight that
/// long, or flagged for an operator — every non-terminal state's way out starts here.
pub async fn stuck_intents(
    pool: &PgPool,
    older_than: std::time::Duration,
    limit: Option<i64>,
) -> Result<Vec<StuckIntent>, OpsError> {
    let limit = super::page_size(limit)?;
    Ok(crate::db::intents::needing_a_person(pool, older_than.as_secs_f64(), limit).await?)
}

/// How many intents `stuck_intents` would list, per reason (for `/metrics`).
pub async fn stuck_counts(
    pool: &PgPool,
    older_than: std::time::Duration,
) -> Result<Vec<(String, i64)>, OpsError> {
    let stuck = stuck_intents(pool, older_than, Some(super::MAX_PAGE)).await?;
    let mut counts: Vec<(String, i64)> = ["stuck_in_status", "payout_in_doubt", "flagged"]
        .into_iter()
        .map(|reason| (reason.to_owned(), 0))
        .collect();
    for intent in stuck {
        if let Some(slot) = counts.iter_mut().find(|(r, _)| *r == intent.reason) {
            slot.1 += 1;
        }
    }
    Ok(counts)
}
