//! Asking the provider whether an intent's buyer paid, and applying its answer. Callbacks and
//! `confirm_deposit` end here (the Lightning poll and reconciliation's STK Query step ask the
//! provider themselves and apply through the same `escrow::deposit::apply`), so a callback's
//! claim never decides anything by itself.

use chrono::Utc;
use uuid::Uuid;

use super::{WorkerState, calls};
use crate::{
    db::intents::{self, IntentRecord},
    domain::{IntentStatus, ProviderKind},
    escrow::{
        deposit::{self, DepositEffect},
        deposit_reference,
    },
    providers::{DepositCheck, DepositStatus},
    queue::JobError,
};

/// What verification found.
#[derive(Debug)]
pub enum Verified {
    /// The provider answered and its answer was applied (or changed nothing), to the intent as
    /// it stood before the answer: read under its lock, or for a lone hold (one guarded
    /// statement, `deposit::hold_alone`) the record read before the provider was asked.
    Answered(IntentRecord, DepositStatus, DepositEffect),
    /// There is nothing to ask: the intent is already funded (a duplicate or late claim).
    Funded(IntentRecord),
    /// The provider never gave malipo a handle for this deposit (an STK push whose answer was
    /// lost): only a Paybill payment to the intent's account number can fund it.
    NoHandle(IntentRecord),
}

/// Asks the provider where intent `id`'s deposit stands and applies the answer in one
/// transaction. Intents awaiting payment are confirmed, failed or expired by it; closed ones
/// (failed, expired, cancelled) still get asked, so a payment that arrives after all is never
/// dropped but becomes a discrepancy.
pub async fn verify(state: &WorkerState, id: Uuid) -> Result<Verified, JobError> {
    let mut conn = state.pool.acquire().await?;
    let intent = super::job_intent::load(&mut conn, id, false).await?;
    drop(conn);
    verify_loaded(state, intent).await
}

/// [`verify`], for an intent the caller has just loaded (unlocked; a lone hold is one guarded
/// statement, and any other answer is applied to the intent as locked then).
pub async fn verify_loaded(
    state: &WorkerState,
    intent: IntentRecord,
) -> Result<Verified, JobError> {
    let open = intent.status == IntentStatus::AwaitingPayment || intent.status.is_closed_unpaid();
    if !open {
        return Ok(Verified::Funded(intent));
    }
    // Paystack and Fincra checkouts are verified by the reference malipo derived for them even
    // when the answer that would have stored it was lost; an STK push without Daraja's answer
    // has no CheckoutRequestID to query.
    let handle = match (&intent.provider_reference, intent.provider) {
        (Some(handle), _) => handle.clone(),
        (None, ProviderKind::Paystack | ProviderKind::Fincra) => deposit_reference(intent.id),
        (None, _) => return Ok(Verified::NoHandle(intent)),
    };
    let check = DepositCheck {
        // Paystack and Fincra verify by the reference the checkout was opened with.
        reference: handle.clone(),
        provider_handle: Some(handle),
        expected: intent.amount,
        expires_at: intent.deposit_expires_at,
    };
    let mut status = calls::check_deposit(&state.providers, intent.provider, &check)
        .await
        .map_err(calls::ask_again_later)?;
    // A provider may keep an unpaid deposit "pending" forever; past its expiry it is expired.
    if status == DepositStatus::Pending
        && intent
            .deposit_expires_at
            .is_some_and(|expiry| expiry < Utc::now())
    {
        status = DepositStatus::Expired;
    }
    // The usual answer, a full payment whose hold is the only write, is one guarded statement.
    if deposit::is_lone_hold(&intent, &status) {
        let mut conn = state.pool.acquire().await?;
        if let Some(effect) = deposit::hold_alone(&mut conn, &intent, &status).await? {
            return Ok(Verified::Answered(intent, status, effect));
        }
    }
    let mut tx = state.pool.begin().await?;
    let Some(locked) = intents::load(&mut tx, intent.id, true).await? else {
        return Err(JobError::permanent("intent vanished"));
    };
    let effect = deposit::apply(&mut tx, &locked, &status).await?;
    tx.commit().await?;
    Ok(Verified::Answered(locked, status, effect))
}

/// `wait`, cut short so the next check comes just after the intent's deadline: an unpaid
/// intent expires on time (the check past it reads the provider's "pending" as expired).
pub fn capped_at_expiry(intent: &IntentRecord, wait: std::time::Duration) -> std::time::Duration {
    match intent
        .deposit_expires_at
        .map(|deadline| (deadline - Utc::now()).to_std().unwrap_or_default())
    {
        Some(left) => wait.min(left + std::time::Duration::from_secs(1)),
        None => wait,
    }
}
