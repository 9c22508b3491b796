//! `process_webhook`: applies one verified inbox event. The raw body was verified and stored by
//! the webhook endpoint; here it is parsed again — and, since a callback is a claim and not a
//! fact, the provider is asked (STK Push Query, Transaction Status, Paystack verify / fetch
//! transfer / fetch refund, LNbits GET payment) and only its answer is applied, through the same
//! guarded transitions as the polling jobs. The inbox row records `processed` only when the
//! answer changed something, `ignored` with the reason otherwise.

use chrono::Utc;
use malipo_jobs::ProcessWebhook;
use uuid::Uuid;

use super::{
    WorkerState, calls,
    verify_deposit::{self, Verified},
};
use crate::{
    db::{
        discrepancies::{self, DiscrepancyKind, Moved, NewDiscrepancy},
        payouts::{self, PayoutRecord, PayoutTarget},
    },
    domain::ProviderKind,
    escrow::{deposit::DepositEffect, payout as effects},
    providers::{
        DepositStatus, TransferStatus, lnbits,
        mpesa::callbacks,
        paystack::{self, PaystackEventKind},
    },
    queue::{JobContext, JobError},
};

/// The inbox endpoints, as stored in `webhook_inbox.endpoint`.
pub mod endpoints {
    /// Paystack's single webhook.
    pub const PAYSTACK: &str = "paystack";
    /// Daraja STK callback.
    pub const MPESA_STK: &str = "mpesa/stk";
    /// Daraja C2B confirmation.
    pub const MPESA_C2B_CONFIRMATION: &str = "mpesa/c2b/confirmation";
    /// Daraja B2C result.
    pub const MPESA_B2C_RESULT: &str = "mpesa/b2c/result";
    /// Daraja B2C queue timeout (stored for the record only).
    pub const MPESA_B2C_TIMEOUT: &str = "mpesa/b2c/timeout";
    /// Daraja Transaction Status result.
    pub const MPESA_STATUS_RESULT: &str = "mpesa/status/result";
    /// LNbits settlement webhook.
    pub const LNBITS: &str = "lnbits";
    /// Fincra's single webhook.
    pub const FINCRA: &str = "fincra";
}

/// How long a callback whose provider still calls the matter pending keeps being re-asked
/// before the row is closed (the polling jobs and reconciliation keep asking after that).
const ASK_AGAIN_FOR: chrono::Duration = chrono::Duration::minutes(10);

/// Applies the event once; the inbox row's status records what happened.
#[tracing::instrument(skip_all, fields(inbox_id = %job.inbox_id))]
pub async fn run(job: ProcessWebhook, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    let row = crate::db::inbox::load(&state.pool, job.inbox_id).await?;
    let Some(crate::db::inbox::InboxRow {
        endpoint,
        status,
        subject,
        body,
        received_at,
    }) = row
    else {
        return Err(JobError::permanent(format!(
            "inbox row {} does not exist",
            job.inbox_id
        )));
    };
    if status != "received" {
        return Ok(());
    }
    let parse_error = |e: &dyn std::fmt::Display| JobError::permanent(e.to_string());
    let note = match endpoint.as_str() {
        endpoints::PAYSTACK => paystack_event(state, &body).await?,
        endpoints::MPESA_STK => {
            let callback = callbacks::parse_stk_callback(&body).map_err(|e| parse_error(&e))?;
            let claim = callback.status();
            deposit_claim(
                state,
                ProviderKind::Mpesa,
                &callback.checkout_request_id,
                &claim,
            )
            .await?
        }
        endpoints::MPESA_B2C_RESULT => {
            let result = callbacks::parse_b2c_result(&body).map_err(|e| parse_error(&e))?;
            b2c_claim(state, &result.originator_conversation_id, &result.status()).await?
        }
        endpoints::MPESA_STATUS_RESULT => {
            let result =
                callbacks::parse_transaction_status_result(&body).map_err(|e| parse_error(&e))?;
            // The endpoint stores a result only with the payout it is about (from its URL).
            let Some(reference) = subject.or(result.occasion.clone()) else {
                return Err(JobError::permanent("status result names no payout"));
            };
            match result.transfer_status() {
                Some(TransferStatus::NotFound) => {
                    match super::payout::resend_unseen(state, &reference, received_at).await? {
                        Some(status) => {
                            apply_transfer_by_reference(state, &reference, &status).await?
                        }
                        None => Note::Ignored(
                            "Daraja does not know the payout yet; too early to send it again"
                                .to_owned(),
                        ),
                    }
                }
                Some(status) => apply_transfer_by_reference(state, &reference, &status).await?,
                None => Note::Ignored("transaction status result is not conclusive".to_owned()),
            }
        }
        endpoints::MPESA_C2B_CONFIRMATION => mpesa_c2b(state, &body).await?,
        endpoints::LNBITS => {
            let hook = lnbits::parse_webhook(&body).map_err(|e| parse_error(&e))?;
            let claim = DepositStatus::Pending;
            deposit_claim(state, ProviderKind::Lightning, &hook.payment_hash, &claim).await?
        }
        endpoints::FINCRA => super::fincra::event(state, &body).await?,
        other => Note::Ignored(format!("unknown endpoint {other}")),
    };
    let (status, reason) = match note {
        Note::Applied => ("processed", None),
        Note::Ignored(reason) => ("ignored", Some(reason)),
        Note::AskAgain(reason) => {
            if Utc::now() - received_at < ASK_AGAIN_FOR {
                return Err(JobError::Snooze(std::time::Duration::from_secs(5)));
            }
            (
                "ignored",
                Some(format!(
                    "{reason}; stopped asking after 10 minutes (polls and reconciliation go on)"
                )),
            )
        }
    };
    crate::db::inbox::finish(&state.pool, job.inbox_id, status, reason.as_deref()).await?;
    Ok(())
}

/// What an event came to.
pub(super) enum Note {
    /// The provider's answer changed something.
    Applied,
    /// Nothing changed, and why.
    Ignored(String),
    /// The provider's answer is not conclusive yet: ask again shortly (bounded).
    AskAgain(String),
}

async fn paystack_event(state: &WorkerState, body: &[u8]) -> Result<Note, JobError> {
    let event = paystack::parse_webhook(body).map_err(|e| JobError::permanent(e.to_string()))?;
    match event.kind {
        // The webhook only says "look": verify decides (and checks amount and currency).
        PaystackEventKind::ChargeSuccess { reference, amount } => {
            let claim = amount.map_or(DepositStatus::Pending, |amount| DepositStatus::Succeeded {
                amount,
                provider_ref: reference.clone(),
            });
            deposit_claim(state, ProviderKind::Paystack, &reference, &claim).await
        }
        PaystackEventKind::Transfer { reference, .. } => {
            let Some(payout) = payout_by_reference(state, &reference).await? else {
                return Ok(Note::Ignored(format!(
                    "no payout with reference {reference}"
                )));
            };
            if payout.provider != ProviderKind::Paystack {
                return Ok(Note::Ignored(
                    "paystack event for a non-paystack payout".to_owned(),
                ));
            }
            // Events come out of order (a reversal after a success, or before it), and may lie:
            // re-verify and apply where the transfer stands now.
            let status = super::payout::check_transfer(state, &payout)
                .await
                .map_err(calls::ask_again_later)?;
            apply_transfer_by_reference(state, &reference, &status).await
        }
        PaystackEventKind::Refund {
            transaction_reference,
            refund_id,
            ..
        } => paystack_refund(state, &transaction_reference, refund_id).await,
        PaystackEventKind::Other => Ok(Note::Ignored(format!(
            "event {} needs no action",
            event.event
        ))),
    }
}

/// A Paystack refund event: the refund is fetched by the id malipo holds (or found by its
/// transaction when the initiation answer was lost), and only that answer applies.
async fn paystack_refund(
    state: &WorkerState,
    transaction_reference: &str,
    refund_id: Option<String>,
) -> Result<Note, JobError> {
    let mut conn = state.pool.acquire().await?;
    let payout = payouts::latest_refund_of(&mut conn, transaction_reference).await?;
    drop(conn);
    let Some(payout) = payout else {
        return Ok(Note::Ignored(format!(
            "no refund for transaction {transaction_reference}"
        )));
    };
    if let (Some(ours), Some(theirs)) = (&payout.provider_ref, &refund_id)
        && ours != theirs
    {
        return Ok(Note::Ignored(format!(
            "event names refund {theirs}; malipo's refund is {ours}"
        )));
    }
    let status = super::payout::check_refund(state, &payout)
        .await
        .map_err(calls::ask_again_later)?;
    let mut tx = state.pool.begin().await?;
    let Some(current) = payouts::load(&mut tx, payout.id, true).await? else {
        return Err(JobError::permanent("payout vanished"));
    };
    let effect = effects::apply_refund(&mut tx, &current, &status).await?;
    tx.commit().await?;
    Ok(match effect {
        effects::PayoutEffect::Settled => Note::Applied,
        effects::PayoutEffect::Pending => Note::Ignored(
            "Paystack still calls the refund pending; the payout job checks again".to_owned(),
        ),
        effects::PayoutEffect::Unchanged | effects::PayoutEffect::Contradicted => {
            Note::Ignored(format!("refund already {}", current.status))
        }
    })
}

/// A deposit callback's claim: the provider is asked, and its answer applied.
pub(super) async fn deposit_claim(
    state: &WorkerState,
    provider: ProviderKind,
    handle: &str,
    claim: &DepositStatus,
) -> Result<Note, JobError> {
    let mut conn = state.pool.acquire().await?;
    let id = intent_by_handle(&mut conn, provider, handle).await?;
    drop(conn);
    let Some(id) = id else {
        return Ok(Note::Ignored(format!(
            "no {provider} intent with reference {handle}"
        )));
    };
    Ok(match verify_deposit::verify(state, id).await? {
        Verified::Funded(intent) => Note::Ignored(format!(
            "intent already {}; nothing to verify",
            intent.status
        )),
        Verified::NoHandle(_) => Note::Ignored("the deposit has no provider handle".to_owned()),
        Verified::Answered(intent, truth, effect) => {
            let contradicted = claim_contradicts(claim, &truth);
            if let Some(why) = &contradicted {
                record_lie(state, &intent, provider, handle, why).await?;
            }
            match effect {
                DepositEffect::Held
                | DepositEffect::Closed
                | DepositEffect::Mismatch(_)
                | DepositEffect::LatePayment => Note::Applied,
                // A claim of an outcome the provider does not confirm yet: ask again shortly.
                // A bare "look" (LNbits, whose body malipo ignores) found nothing paid: the
                // invoice's poll job keeps watching.
                DepositEffect::Pending if *claim == DepositStatus::Pending => {
                    Note::Ignored(format!("{provider} says the deposit is not paid"))
                }
                DepositEffect::Pending => {
                    Note::AskAgain(format!("{provider} does not confirm the claim yet"))
                }
                DepositEffect::AlreadySettled => Note::Ignored(match contradicted {
                    Some(why) => format!("claim contradicted by {provider}: {why}"),
                    None => format!("intent already {}", intent.status),
                }),
            }
        }
    })
}

/// A callback whose claim the provider's own answer contradicts moved nothing, but someone sent
/// it with valid credentials: operators see it as a `lying_callback` discrepancy.
async fn record_lie(
    state: &WorkerState,
    intent: &crate::db::intents::IntentRecord,
    provider: ProviderKind,
    handle: &str,
    why: &str,
) -> Result<(), JobError> {
    let mut tx = state.pool.begin().await?;
    discrepancies::record(
        &mut tx,
        &NewDiscrepancy {
            kind: DiscrepancyKind::LyingCallback,
            dedupe_key: format!("lying_callback:{provider}:{handle}:{why}"),
            intent_id: Some(intent.id),
            payout_id: None,
            provider,
            moved: Moved::Nothing,
            evidence: serde_json::json!({"handle": handle, "contradiction": why}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Why a callback's claim and the provider's answer disagree on the outcome, when they do.
fn claim_contradicts(claim: &DepositStatus, truth: &DepositStatus) -> Option<String> {
    match (claim, truth) {
        (DepositStatus::Succeeded { .. }, DepositStatus::Succeeded { .. })
        | (DepositStatus::Pending, _)
        | (_, DepositStatus::Pending) => None,
        (DepositStatus::Succeeded { .. }, other) => {
            Some(format!("callback said paid, the provider says {other:?}"))
        }
        (_, DepositStatus::Succeeded { .. }) => {
            Some(format!("callback said {claim:?}, the provider says paid"))
        }
        _ => None,
    }
}

/// A B2C result is a claim: Transaction Status is asked, and its answer (which arrives at the
/// status result URL naming the payout) settles the payout.
async fn b2c_claim(
    state: &WorkerState,
    reference: &str,
    claim: &TransferStatus,
) -> Result<Note, JobError> {
    let Some(payout) = payout_by_reference(state, reference).await? else {
        return Ok(Note::Ignored(format!(
            "no payout with reference {reference}"
        )));
    };
    if payout.provider != ProviderKind::Mpesa {
        return Ok(Note::Ignored(
            "M-Pesa result for a payout of another provider".to_owned(),
        ));
    }
    calls::query_mpesa_transfer(&state.providers, reference)
        .await
        .map_err(calls::ask_again_later)?;
    Ok(Note::Ignored(format!(
        "claimed {claim:?} while malipo has it {}; asked Transaction Status, whose answer decides",
        payout.status
    )))
}

pub(super) async fn payout_by_reference(
    state: &WorkerState,
    reference: &str,
) -> Result<Option<PayoutRecord>, JobError> {
    let mut conn = state.pool.acquire().await?;
    let payout = payouts::by_reference(&mut conn, reference, false).await?;
    Ok(payout.filter(|p| matches!(p.target, PayoutTarget::Destination(_))))
}

async fn mpesa_c2b(state: &WorkerState, body: &[u8]) -> Result<Note, JobError> {
    let payment = callbacks::parse_c2b(body).map_err(|e| JobError::permanent(e.to_string()))?;
    // C2B payments are not tied to a push we made: record the receipt, and credit it only
    // through the account number malipo issued for exactly one intent (see `reconcile`).
    let mut tx = state.pool.begin().await?;
    crate::reconcile::c2b::record(
        &mut tx,
        &payment.trans_id,
        Some(payment.amount),
        &payment.bill_ref_number,
        "confirmation",
    )
    .await?;
    let credit = crate::reconcile::c2b::credit(&mut tx, &payment.trans_id).await?;
    tx.commit().await?;
    Ok(match credit {
        Some(crate::reconcile::c2b::Credit::Credited(_)) => Note::Applied,
        other => Note::Ignored(format!("C2B payment recorded: {other:?}")),
    })
}

async fn intent_by_handle(
    conn: &mut sqlx::PgConnection,
    provider: ProviderKind,
    handle: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    crate::db::intents::by_provider_handle(conn, provider, handle).await
}

pub(super) async fn apply_transfer_by_reference(
    state: &WorkerState,
    reference: &str,
    status: &TransferStatus,
) -> Result<Note, JobError> {
    let mut tx = state.pool.begin().await?;
    let Some(payout) = payouts::by_reference(&mut tx, reference, true).await? else {
        return Ok(Note::Ignored(format!(
            "no payout with reference {reference}"
        )));
    };
    let effect = effects::apply_transfer(&mut tx, &payout, status).await?;
    tx.commit().await?;
    Ok(match effect {
        effects::PayoutEffect::Settled => Note::Applied,
        effects::PayoutEffect::Contradicted => Note::Ignored(format!(
            "the provider's answer contradicts the payout's recorded `{}`: discrepancy recorded",
            payout.status
        )),
        effects::PayoutEffect::Pending => Note::Ignored("transfer not conclusive yet".to_owned()),
        effects::PayoutEffect::Unchanged => {
            Note::Ignored(format!("payout already {}", payout.status))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Money};

    #[test]
    fn a_claimed_success_the_provider_denies_is_a_contradiction() {
        let paid = DepositStatus::Succeeded {
            amount: Money::from_minor(10_000, Currency::Kes),
            provider_ref: "R1".into(),
        };
        let failed = DepositStatus::Failed {
            code: "1032".into(),
            reason: "cancelled".into(),
        };
        assert!(claim_contradicts(&paid, &failed).is_some());
        assert!(claim_contradicts(&failed, &paid).is_some());
        assert!(claim_contradicts(&paid, &paid).is_none());
        assert!(claim_contradicts(&DepositStatus::Pending, &failed).is_none());
        assert!(claim_contradicts(&paid, &DepositStatus::Pending).is_none());
    }
}
