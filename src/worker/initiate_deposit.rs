//! `initiate_deposit`: starts the provider side of a new intent and stores what the buyer must
//! do next (checkout URL, STK prompt, Lightning invoice).

use chrono::Utc;
use malipo_jobs::{ConfirmDeposit, InitiateDeposit, PollLightningInvoice};
use serde_json::json;

use super::{WorkerState, calls};
use crate::{
    db::{intents::IntentRecord, transitions::transition},
    domain::{Buyer, IntentMove, IntentStatus, ProviderKind},
    escrow::{deposit, deposit_reference},
    providers::{self, DepositInitiation, DepositRequest, NextAction, ProviderError},
    queue::{EnqueueOptions, JobContext, JobError, enqueue},
};

/// How long an M-Pesa intent whose STK push went unanswered waits before Pull is asked for a
/// payment to its account number: an STK prompt lapses on the phone within about a minute (Daraja reports 1037 then).
const IN_DOUBT_WINDOW: chrono::Duration = chrono::Duration::seconds(90);

/// Why a deposit is in doubt when an earlier run claimed the STK push and never recorded
/// Daraja's answer (the run may have died just before sending it, too).
pub const EARLIER_RUN_STOPPED: &str =
    "an earlier run may have sent it and stopped before recording the answer";

/// When a Paystack checkout is first verified without its webhook.
const PAYSTACK_FIRST_CHECK_SECS: f64 = 30.0;

/// Runs while the intent is `initiating`; see the job's idempotency rule in `malipo-jobs`.
#[tracing::instrument(skip_all, fields(intent_id = %job.intent_id))]
pub async fn run(job: InitiateDeposit, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    let Some((intent, may_ask)) = claim_the_request(state, job.intent_id).await? else {
        return Ok(());
    };
    let answer = if may_ask {
        ask_to_start(state, &intent, context.attempt).await
    } else {
        // An earlier run asked and stopped before recording the answer (killed, or its
        // database went away): a prompt may be on the phone, and a second would be paid too.
        Err(ProviderError::in_doubt(EARLIER_RUN_STOPPED))
    };
    let mut tx = state.pool.begin().await?;
    match answer {
        Ok(DepositInitiation::Started { action }) => {
            record_started(&mut tx, &intent, &action).await?;
        }
        Ok(DepositInitiation::AlreadyInitiated { status }) => {
            // A re-run after a lost answer: the deposit exists; let confirmation settle it.
            let moved = transition(
                &mut tx,
                intent.id,
                IntentMove::DepositInitiated,
                json!({"already_initiated": format!("{status:?}")}),
            )
            .await?;
            if moved.is_some() {
                confirm_later(&mut tx, intent.id, 1.0).await?;
            }
        }
        Err(ProviderError::Permanent { reason }) => {
            deposit::fail(
                &mut tx,
                intent.id,
                IntentMove::DepositRejected,
                &format!("{} refused the deposit: {reason}", intent.provider),
            )
            .await?;
        }
        Err(ProviderError::InDoubt { reason }) if intent.provider.prompts_the_buyer() => {
            offer_paybill_after_unanswered_stk(&mut tx, &intent, &reason).await?;
        }
        Err(error) => {
            tx.rollback().await?;
            if intent.provider.prompts_the_buyer() {
                forget_the_request(state, &intent).await;
            }
            return Err(calls::ask_again_later(error));
        }
    }
    context.complete_within(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The intent, while it is still `initiating`, and whether this run may ask the provider to
/// start its deposit. The first run always may: its mark is committed before it asks (one
/// statement that also loads the intent). A later run may unless asking prompts the buyer
/// (M-Pesa): then an earlier run already asked without recording the answer, and a run that
/// dies after the prompt leaves the mark behind.
async fn claim_the_request(
    state: &WorkerState,
    id: uuid::Uuid,
) -> Result<Option<(IntentRecord, bool)>, JobError> {
    let mut conn = state.pool.acquire().await?;
    if let Some(intent) = crate::db::intents::claim_deposit_request(&mut conn, id).await? {
        return Ok(Some((intent, true)));
    }
    drop(conn);
    let intent = super::job_intent::still(state, id, IntentStatus::Initiating).await?;
    Ok(intent.map(|intent| {
        let may_ask = !intent.provider.prompts_the_buyer();
        (intent, may_ask)
    }))
}

/// Takes the request's mark back after a refusal that proves nothing was sent (M-Pesa's
/// in-doubt answers never come here), so the next run may prompt the buyer after all. When that
/// fails, the mark stays and the next run treats the deposit as in doubt: safe, so the
/// provider's error, with its wait, is what the job reports.
async fn forget_the_request(state: &WorkerState, intent: &IntentRecord) {
    let forgotten = match state.pool.acquire().await {
        Ok(mut conn) => crate::db::intents::forget_deposit_request(&mut conn, intent.id).await,
        Err(error) => Err(error),
    };
    if let Err(error) = forgotten {
        tracing::warn!(%error, "could not take the STK push's mark back; the next run will treat the deposit as in doubt");
    }
}

/// What the provider is asked to start for `intent`.
fn deposit_request(intent: &IntentRecord) -> DepositRequest {
    DepositRequest {
        intent_id: intent.id,
        // M-Pesa shows the reference as the STK push's AccountReference: the account number
        // malipo issued, so the payment is matched to this intent by Pull as well.
        reference: intent
            .account_number
            .clone()
            .unwrap_or_else(|| deposit_reference(intent.id)),
        amount: intent.amount,
        buyer: match &intent.buyer {
            Buyer::Email { email } => providers::Buyer::Email(email.clone()),
            Buyer::Msisdn { msisdn } => providers::Buyer::Msisdn(msisdn.as_str().to_owned()),
            Buyer::Anonymous {} => providers::Buyer::None,
        },
        description: intent
            .reference
            .clone()
            .unwrap_or_else(|| format!("payment {}", &intent.id.simple().to_string()[..12])),
    }
}

/// Asks the provider to start the deposit; `attempt` names a fresh checkout when an earlier
/// one's link was lost.
async fn ask_to_start(
    state: &WorkerState,
    intent: &IntentRecord,
    attempt: i32,
) -> Result<DepositInitiation, ProviderError> {
    let request = deposit_request(intent);
    let answer = calls::initiate_deposit(&state.providers, intent.provider, &request).await;
    if let Ok(DepositInitiation::AlreadyInitiated { status }) = &answer
        && intent.provider.opens_checkouts()
        && !matches!(status, crate::providers::DepositStatus::Succeeded { .. })
    {
        // An earlier initialize reached Paystack but its answer — the checkout link — was
        // lost, and nobody can pay a checkout nobody can open: start a fresh one under a new
        // reference (the stale one is never shown to anyone, so it cannot be paid).
        let retry = DepositRequest {
            reference: format!("{}-{attempt}", request.reference),
            ..request
        };
        return calls::initiate_deposit(&state.providers, intent.provider, &retry).await;
    }
    answer
}

/// Stores what the buyer must do next, moves the intent on, and schedules what settles it.
async fn record_started(
    tx: &mut sqlx::PgConnection,
    intent: &IntentRecord,
    action: &NextAction,
) -> Result<(), JobError> {
    let handle = action.provider_handle().to_owned();
    let mut shown = serde_json::to_value(action).map_err(anyhow::Error::from)?;
    if let (Some(number), Some(object)) = (&intent.account_number, shown.as_object_mut()) {
        object.insert("account_number".to_owned(), json!(number));
    }
    // Stored even when the intent was cancelled meanwhile: the deposit exists at the
    // provider, and a payment to it must still find its intent (and become a
    // late_payment discrepancy) instead of an unknown handle.
    crate::db::intents::record_deposit_handle(
        &mut *tx,
        intent.id,
        intent.provider,
        shown,
        &handle,
        action.expires_at(),
    )
    .await?;
    let moved = transition(
        &mut *tx,
        intent.id,
        IntentMove::DepositInitiated,
        json!({"provider_reference": handle}),
    )
    .await?
    .is_some();
    if moved {
        schedule_settlement(tx, intent, &handle).await?;
    }
    Ok(())
}

/// Schedules, per provider, what learns the started deposit's outcome.
async fn schedule_settlement(
    tx: &mut sqlx::PgConnection,
    intent: &IntentRecord,
    handle: &str,
) -> Result<(), sqlx::Error> {
    if intent.provider == ProviderKind::Mpesa {
        requeue_early_callbacks(&mut *tx, handle).await?;
        // The STK callback settles it; a client's deadline is kept by asking Daraja
        // (STK Push Query) once it has passed, callback or not.
        if let Some(wait) = until_deadline(intent) {
            confirm_later(&mut *tx, intent.id, wait).await?;
        }
    }
    if intent.provider == ProviderKind::Lightning {
        let poll = PollLightningInvoice {
            intent_id: intent.id,
            polls: 0,
        };
        enqueue(
            &mut *tx,
            &poll,
            EnqueueOptions {
                intent_id: Some(intent.id),
                delay_secs: Some(2.0),
                ..Default::default()
            },
        )
        .await?;
    }
    if intent.provider.opens_checkouts() {
        // Paystack's `charge.success` (Fincra's `charge.successful`) may never come
        // (webhooks are lost too): a verification is scheduled anyway, asking less often as
        // the checkout ages (`confirm_deposit` snoozes while Paystack calls it pending).
        let first = until_deadline(intent).map_or(PAYSTACK_FIRST_CHECK_SECS, |secs| {
            secs.min(PAYSTACK_FIRST_CHECK_SECS)
        });
        confirm_later(&mut *tx, intent.id, first).await?;
    }
    Ok(())
}

/// M-Pesa's answer to the STK push is unknown: it did not answer, or the run that asked died
/// before recording the answer. A second push would prompt the buyer twice, and without
/// Daraja's answer there is no CheckoutRequestID to query. The push may still have reached the
/// phone and been paid: the intent waits (with the Paybill account number to pay to) until a
/// deadline, reconciliation's Pull matches a payment by that number, and after the deadline a
/// payment is a late-payment discrepancy — never a failure the buyer paid for.
async fn offer_paybill_after_unanswered_stk(
    tx: &mut sqlx::PgConnection,
    intent: &IntentRecord,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let deadline = Utc::now() + IN_DOUBT_WINDOW;
    let shown = json!({"type": "paybill", "account_number": intent.account_number,
                       "note": "the payment prompt may not have reached the phone; pay by Paybill to this account number"});
    crate::db::intents::offer_paybill(
        &mut *tx,
        intent.id,
        shown,
        deadline,
        &format!("M-Pesa's answer to the STK push is unknown ({reason}); a payment is matched by account number until {deadline}"),
    )
    .await?;
    let moved = transition(
        &mut *tx,
        intent.id,
        IntentMove::DepositInDoubt,
        json!({"reason": reason, "deadline": deadline}),
    )
    .await?;
    if moved.is_some() {
        let wait = (deadline - Utc::now()).num_seconds().max(1) as f64 + 1.0;
        confirm_later(&mut *tx, intent.id, wait).await?;
    }
    Ok(())
}

/// Seconds until just after the client's payment deadline, when it has one.
fn until_deadline(intent: &IntentRecord) -> Option<f64> {
    let deadline = intent.deposit_expires_at?;
    let wait = (deadline - Utc::now()).num_milliseconds().max(0);
    #[allow(clippy::cast_precision_loss)] // a wait in ms, far below 2^53
    Some(wait as f64 / 1000.0 + 1.0)
}

/// Schedules the deposit's verification `delay_secs` from now (one per intent: a second is a
/// no-op by the job's dedupe key).
async fn confirm_later(
    tx: &mut sqlx::PgConnection,
    intent: uuid::Uuid,
    delay_secs: f64,
) -> Result<(), sqlx::Error> {
    enqueue(
        tx,
        &ConfirmDeposit { intent_id: intent },
        EnqueueOptions {
            intent_id: Some(intent),
            delay_secs: Some(delay_secs),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// Daraja may deliver the STK callback before this job has committed the CheckoutRequestID it
/// was answered with; the endpoint then kept the callback as `ignored` (an id nobody issued).
/// Now that the id is ours, such a callback is queued for processing after all. The handle's
/// lock, taken when the id was recorded earlier in this transaction and held to commit,
/// closes the gap where the endpoint checked before this commit but stored after this scan
/// (this scan's snapshot is taken after the lock was granted).
async fn requeue_early_callbacks(
    tx: &mut sqlx::PgConnection,
    checkout_request_id: &str,
) -> Result<(), sqlx::Error> {
    let early = crate::db::inbox::requeue_early_stk(&mut *tx, checkout_request_id).await?;
    for inbox_id in early {
        enqueue(
            &mut *tx,
            // The row was put back to `received` just now; its job reads it.
            &malipo_jobs::ProcessWebhook {
                inbox_id,
                delivery: None,
            },
            EnqueueOptions::default(),
        )
        .await?;
    }
    Ok(())
}
