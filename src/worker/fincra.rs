//! What the jobs need to know about Fincra beyond dispatch: the transfer destination a Fincra
//! payout names, the operator alert when the Fincra wallet is underfunded, and the effect of a
//! stored Fincra webhook — a trigger to query the payout by customer reference, or to verify a
//! checkout payment by merchant reference, never a verdict.

use super::{
    WorkerState, calls,
    process_webhook::{Note, apply_transfer_by_reference, deposit_claim, payout_by_reference},
};
use crate::{
    db::payouts::PayoutRecord,
    domain::{FincraDestination, ProviderKind},
    providers::{
        DepositStatus, Destination, ProviderError,
        fincra::{self, FincraEventKind},
    },
    queue::JobError,
};

/// The adapter's destination for a Fincra payout.
pub(super) fn destination(destination: &FincraDestination) -> Destination {
    match destination {
        FincraDestination::BankAccount {
            bank_code,
            account_number,
            account_name,
        } => Destination::FincraBank {
            bank_code: bank_code.clone(),
            account_number: account_number.clone(),
            account_name: account_name.clone(),
        },
        FincraDestination::MobileMoney { msisdn } => Destination::FincraMobileMoney {
            msisdn: msisdn.as_str().to_owned(),
        },
    }
}

/// Flags the payout's intent for an operator when Fincra refused it for lack of funds: the
/// payout is retried, not failed, and someone must fund the wallet. Shown on the intent, in
/// `/ops` stuck lists and `malipo_intents_needing_attention{reason}`; the adapter also counts
/// `malipo_fincra_wallet_underfunded_total`.
pub(super) async fn alert_if_underfunded(
    state: &WorkerState,
    payout: &PayoutRecord,
    error: &ProviderError,
) {
    if payout.provider != ProviderKind::Fincra || !error.reason().starts_with(fincra::UNDERFUNDED) {
        return;
    }
    let reason = format!(
        "{}: payout {} waits until the Fincra wallet is funded",
        fincra::UNDERFUNDED,
        payout.reference
    );
    // A withdrawal has no intent to flag; the metric still counts it.
    let Some(intent) = payout.intent_id else {
        return;
    };
    if let Err(error) = super::attention::flag(&state.pool, intent, &reason).await {
        tracing::warn!(%error, "could not flag the underfunded Fincra payout");
    }
}

/// A stored Fincra event: the payout it names is queried and only that answer applies (a
/// forged `payout.failed` for a successful payout moves nothing).
pub(super) async fn event(state: &WorkerState, body: &[u8]) -> Result<Note, JobError> {
    let event = fincra::parse_webhook(body).map_err(|e| JobError::permanent(e.to_string()))?;
    let customer_reference = match event.kind {
        FincraEventKind::Payout { customer_reference } => customer_reference,
        // Only a trigger (§4.3): the claim is not read, so it is passed on as a bare "look";
        // verification by merchant reference decides, amounts and currency compared, and a
        // payment it does not find leaves the row ignored with that reason.
        FincraEventKind::Charge { merchant_reference } => {
            return deposit_claim(
                state,
                ProviderKind::Fincra,
                &merchant_reference,
                &DepositStatus::Pending,
            )
            .await;
        }
        FincraEventKind::Other => {
            return Ok(Note::Ignored(format!(
                "event {} needs no action",
                event.event
            )));
        }
    };
    let Some(payout) = payout_by_reference(state, &customer_reference).await? else {
        return Ok(Note::Ignored(format!(
            "no payout with reference {customer_reference}"
        )));
    };
    if payout.provider != ProviderKind::Fincra {
        return Ok(Note::Ignored(
            "fincra event for a non-fincra payout".to_owned(),
        ));
    }
    let status = super::payout::check_transfer(state, &payout)
        .await
        .map_err(calls::ask_again_later)?;
    apply_transfer_by_reference(state, &customer_reference, &status).await
}
