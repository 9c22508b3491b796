//! `process_webhook`: applies one verified inbox event. The raw body was verified and stored by
//! the webhook endpoint; here it is parsed again and its effect runs through the same guarded
//! transitions as the polling jobs, so duplicates and late events change nothing.

use chrono::{DateTime, Utc};
use malipo_jobs::{ConfirmDeposit, ProcessWebhook};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{WorkerState, calls};
use crate::{
    db::{intents, payouts},
    domain::ProviderKind,
    escrow::{deposit, payout as effects},
    providers::{
        RefundStatus, TransferRequest, TransferStatus, lnbits,
        mpesa::callbacks,
        paystack::{self, PaystackEventKind},
    },
    queue::{EnqueueOptions, JobContext, JobError, enqueue},
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
}

/// An inbox row as processing reads it: endpoint, status, subject, body, arrival.
type InboxRow = (String, String, Option<String>, Vec<u8>, DateTime<Utc>);

/// Applies the event once; the inbox row's status records what happened.
#[tracing::instrument(skip_all, fields(inbox_id = %job.inbox_id))]
pub async fn run(job: ProcessWebhook, context: JobContext<WorkerState>) -> Result<(), JobError> {
    let state = &context.app;
    let row: Option<InboxRow> = sqlx::query_as(
        "SELECT endpoint, status, subject, body, received_at FROM webhook_inbox WHERE id = $1",
    )
    .bind(job.inbox_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some((endpoint, status, subject, body, received_at)) = row else {
        return Err(JobError::permanent(format!(
            "inbox row {} does not exist",
            job.inbox_id
        )));
    };
    if status != "received" {
        return Ok(());
    }
    let note = match endpoint.as_str() {
        endpoints::PAYSTACK => paystack_event(state, &body).await?,
        endpoints::MPESA_STK => mpesa_stk(state, &body).await?,
        endpoints::MPESA_B2C_RESULT => {
            let result = callbacks::parse_b2c_result(&body)
                .map_err(|e| JobError::permanent(e.to_string()))?;
            apply_transfer_by_reference(state, &result.originator_conversation_id, &result.status())
                .await?
        }
        endpoints::MPESA_STATUS_RESULT => {
            let result = callbacks::parse_transaction_status_result(&body)
                .map_err(|e| JobError::permanent(e.to_string()))?;
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
            let hook =
                lnbits::parse_webhook(&body).map_err(|e| JobError::permanent(e.to_string()))?;
            confirm_by_handle(state, ProviderKind::Lightning, &hook.payment_hash).await?
        }
        other => Note::Ignored(format!("unknown endpoint {other}")),
    };
    let (status, reason) = match note {
        Note::Applied => ("processed", None),
        Note::Ignored(reason) => ("ignored", Some(reason)),
    };
    sqlx::query("UPDATE webhook_inbox SET status = $2, reason = $3, processed_at = now() WHERE id = $1 AND status = 'received'")
        .bind(job.inbox_id)
        .bind(status)
        .bind(reason)
        .execute(&state.pool)
        .await?;
    Ok(())
}

enum Note {
    Applied,
    Ignored(String),
}

async fn paystack_event(state: &WorkerState, body: &[u8]) -> Result<Note, JobError> {
    let event = paystack::parse_webhook(body).map_err(|e| JobError::permanent(e.to_string()))?;
    match event.kind {
        // The webhook only says "look": verify decides (and checks amount and currency).
        PaystackEventKind::ChargeSuccess { reference, .. } => {
            confirm_by_handle(state, ProviderKind::Paystack, &reference).await
        }
        PaystackEventKind::Transfer { reference, .. } => {
            let mut conn = state.pool.acquire().await?;
            let Some(payout) = payouts::by_reference(&mut conn, &reference, false).await? else {
                return Ok(Note::Ignored(format!(
                    "no payout with reference {reference}"
                )));
            };
            drop(conn);
            let crate::db::payouts::PayoutTarget::Destination(destination) = &payout.target else {
                return Ok(Note::Ignored("transfer event for a refund".to_owned()));
            };
            // Events come out of order (a reversal after a success, or before it): re-verify and
            // apply where the transfer stands now.
            let request = TransferRequest {
                reference: payout.reference.clone(),
                amount: payout.amount,
                destination: match destination {
                    crate::domain::PayoutDestination::Paystack { recipient_code } => {
                        crate::providers::Destination::Paystack {
                            recipient_code: recipient_code.clone(),
                        }
                    }
                    _ => {
                        return Ok(Note::Ignored(
                            "paystack event for a non-paystack payout".to_owned(),
                        ));
                    }
                },
                reason: String::new(),
            };
            let status = calls::check_transfer(&state.providers, ProviderKind::Paystack, &request)
                .await
                .map_err(calls::retry)?;
            apply_transfer_by_reference(state, &reference, &status).await
        }
        PaystackEventKind::Refund {
            status,
            transaction_reference,
            refund_id,
        } => {
            let mut conn = state.pool.acquire().await?;
            let payout: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM payouts WHERE kind = 'refund' AND destination->>'refund_of' = $1",
            )
            .bind(&transaction_reference)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(payout) = payout else {
                return Ok(Note::Ignored(format!(
                    "no refund for transaction {transaction_reference}"
                )));
            };
            let provider_ref = refund_id.unwrap_or_default();
            let refund = match status.as_str() {
                "processed" => RefundStatus::Succeeded { provider_ref },
                "failed" => RefundStatus::Failed {
                    reason: "Paystack reported the refund failed".to_owned(),
                },
                _ => RefundStatus::Pending { provider_ref },
            };
            let mut tx = state.pool.begin().await?;
            if let Some(current) = payouts::load(&mut tx, payout, true).await? {
                effects::apply_refund(&mut tx, &current, &refund).await?;
            }
            tx.commit().await?;
            Ok(Note::Applied)
        }
        PaystackEventKind::Other => Ok(Note::Ignored(format!(
            "event {} needs no action",
            event.event
        ))),
    }
}

async fn mpesa_stk(state: &WorkerState, body: &[u8]) -> Result<Note, JobError> {
    let callback =
        callbacks::parse_stk_callback(body).map_err(|e| JobError::permanent(e.to_string()))?;
    let mut tx = state.pool.begin().await?;
    let Some(id) =
        intent_by_handle(&mut tx, ProviderKind::Mpesa, &callback.checkout_request_id).await?
    else {
        return Ok(Note::Ignored(format!(
            "unknown CheckoutRequestID {}",
            callback.checkout_request_id
        )));
    };
    let Some(intent) = intents::load(&mut tx, id, true).await? else {
        return Ok(Note::Ignored("intent vanished".to_owned()));
    };
    // The callback is authenticated by the secret URL token and correlated to a push we made;
    // its amount is the one M-Pesa charged, so a mismatch is caught here.
    let effect = deposit::apply(&mut tx, &intent, &callback.status()).await?;
    tx.commit().await?;
    Ok(match effect {
        deposit::DepositEffect::AlreadySettled => {
            Note::Ignored("intent already settled".to_owned())
        }
        _ => Note::Applied,
    })
}

async fn mpesa_c2b(state: &WorkerState, body: &[u8]) -> Result<Note, JobError> {
    let payment = callbacks::parse_c2b(body).map_err(|e| JobError::permanent(e.to_string()))?;
    // C2B payments are not tied to a push we made: record the receipt, and credit it only when
    // its account reference names an intent awaiting exactly this amount (see `reconcile`).
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
    conn: &mut PgConnection,
    provider: ProviderKind,
    handle: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM intents WHERE provider = $1 AND provider_reference = $2")
        .bind(provider.as_str())
        .bind(handle)
        .fetch_optional(conn)
        .await
}

async fn confirm_by_handle(
    state: &WorkerState,
    provider: ProviderKind,
    handle: &str,
) -> Result<Note, JobError> {
    let mut tx = state.pool.begin().await?;
    let Some(id) = intent_by_handle(&mut tx, provider, handle).await? else {
        return Ok(Note::Ignored(format!(
            "no {provider} intent with reference {handle}"
        )));
    };
    enqueue(
        &mut tx,
        &ConfirmDeposit { intent_id: id },
        EnqueueOptions {
            intent_id: Some(id),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Note::Applied)
}

async fn apply_transfer_by_reference(
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
        effects::PayoutEffect::Unchanged => Note::Ignored("payout already settled".to_owned()),
        _ => Note::Applied,
    })
}
