//! What the jobs need to know about Fincra beyond dispatch: the transfer destination a Fincra
//! payout names, and the operator alert when the Fincra wallet is underfunded. (What a Fincra
//! webhook means is the adapter's to say: `providers::fincra::interpret_webhook`.)

use super::WorkerState;
use crate::{
    db::payouts::PayoutRecord,
    domain::{FincraDestination, ProviderKind},
    providers::{Destination, ProviderError, fincra},
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
