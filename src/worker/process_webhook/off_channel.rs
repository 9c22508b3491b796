//! An off-channel payment: money paid into malipo's paybill without a push of malipo's. It is
//! recorded, and credited only through the account number malipo issued for exactly one
//! intent (see `reconcile`).

use super::Note;
use crate::{
    domain::{Money, ProviderKind},
    queue::JobError,
    reconcile::c2b::{self, Credit},
    worker::WorkerState,
};

/// Records receipt `receipt` as seen by a confirmation, and credits it when the rule allows.
pub(super) async fn record(
    state: &WorkerState,
    provider: ProviderKind,
    receipt: &str,
    amount: Money,
    account_reference: &str,
) -> Result<Note, JobError> {
    // Reconciliation keeps the M-Pesa paybill's ledger of receipts; no other provider has one.
    if provider != ProviderKind::Mpesa {
        return Ok(Note::Ignored(format!(
            "malipo does not reconcile {provider} off-channel payments"
        )));
    }
    let mut tx = state.pool.begin().await?;
    c2b::record(
        &mut tx,
        receipt,
        Some(amount),
        account_reference,
        "confirmation",
    )
    .await?;
    let credit = c2b::credit(&mut tx, receipt).await?;
    tx.commit().await?;
    Ok(match credit {
        Some(Credit::Credited(_)) => Note::Applied,
        other => Note::Ignored(format!("C2B payment recorded: {other:?}")),
    })
}
