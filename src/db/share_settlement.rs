//! A payee or commission share that its provider says it delivered, settled with its callback's
//! finish in one call (`malipo_settle_share`, migration 0131): the payout's `succeeded` move and
//! its posting, the intent's `settled` move when this was its last live share, and the
//! callback's outcome with its job's completion, fenced by the run's lease. The statements are
//! the ones [`super::payouts::set_status`], [`super::transitions`] and
//! [`super::inbox::finish_completing`] run, as functions they share.

use malipo_jobs::{DeliverEvent, Job};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    inbox::InboxStatus,
    ledger::{AccountKind, Posting, TransactionKind},
    payouts,
    transitions::SHARE_KINDS,
};
use crate::{
    domain::{IntentMove, IntentStatus, PayoutKind, PayoutStatus},
    queue::Lease,
};

/// A delivered share, ready to settle: what `escrow::payout::delivered_share` decided.
#[derive(Debug)]
pub struct DeliveredShare {
    pub payout: Uuid,
    /// The payout's provider reference, to find it again on the locked way.
    pub reference: String,
    pub intent: Uuid,
    /// The provider's own id of the transfer.
    pub provider_ref: String,
    /// In flight → clearing, keyed `payout:<id>:succeeded`.
    pub posting: Posting,
}

/// What settling a delivered share came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareSettled {
    /// Written, and the callback finished with it.
    Settled,
    /// The payout had left `in_flight` since it was read: nothing written.
    NotMoved,
    /// The run no longer holds its job's lease: nothing written (its successor finishes).
    LeaseLost,
}

/// SQLSTATE `malipo_settle_share` raises when the run's lease was taken over.
const LEASE_LOST: &str = "ML001";

/// Settles `share` and finishes callback `inbox_id` (processed) with the job of `lease`, in
/// one statement that commits by itself (hence a pool, never a caller's transaction, which a
/// lost lease would abort).
pub async fn settle_finishing(
    pool: &PgPool,
    share: &DeliveredShare,
    inbox_id: Uuid,
    lease: Lease,
) -> anyhow::Result<ShareSettled> {
    let posting = &share.posting;
    let settled = IntentMove::Settled;
    let answer = sqlx::query!(
        r#"SELECT moved AS "moved!", inserted, written
             FROM malipo_settle_share($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                                      $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
                                      $27, $28, $29, $30, $31, $32)"#,
        share.payout,
        share.provider_ref,
        crate::domain::event_type::of_payout(PayoutStatus::Succeeded),
        PayoutStatus::InFlight as PayoutStatus,
        PayoutStatus::Succeeded as PayoutStatus,
        posting.key,
        posting.kind as TransactionKind,
        posting.intent,
        posting.memo,
        posting.codes.as_slice(),
        posting.kinds.as_slice() as &[AccountKind],
        posting.currencies.as_slice() as &[&str],
        posting.intents.as_slice() as &[Option<Uuid>],
        posting.amounts.as_slice(),
        DeliverEvent::QUEUE,
        DeliverEvent::KIND,
        DeliverEvent::POLICY.max_attempts as i32,
        <malipo_jobs::Payout as Job>::QUEUE,
        payouts::status_check_key(share.payout, PayoutStatus::Succeeded)?,
        crate::queue::FINISHED_EARLY,
        share.intent,
        settled.from() as &[IntentStatus],
        settled.to() as IntentStatus,
        settled.event(),
        serde_json::json!({"payout": share.payout}),
        crate::domain::event_type::of_intent(settled.to()),
        &SHARE_KINDS as &[PayoutKind],
        inbox_id,
        InboxStatus::Processed as InboxStatus,
        InboxStatus::Received as InboxStatus,
        lease.job_id,
        lease.token,
    )
    .fetch_one(pool)
    .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(LEASE_LOST) => {
            return Ok(ShareSettled::LeaseLost);
        }
        Err(error) => return Err(error.into()),
    };
    if !answer.moved {
        return Ok(ShareSettled::NotMoved);
    }
    // Committed already: a posting made before (which a move that happened now cannot find) is
    // reported, not returned as the job's error. A short one cannot commit:
    // `malipo_post_ledger` refuses it.
    let posted = posting.outcome(answer.inserted.unwrap_or(0), answer.written.unwrap_or(0));
    if !matches!(posted, Ok(true)) {
        tracing::error!(key = %posting.key, ?posted, "a settled share found its posting made before");
    }
    Ok(ShareSettled::Settled)
}
