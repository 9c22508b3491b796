//! A refund claim: malipo's refund of the named deposit is fetched by the id malipo holds (or
//! found by its transaction when the initiation answer was lost), and only that answer is
//! applied, through `escrow::payout::apply_refund`.

use super::{Effect, Note, Outcome};
use crate::{
    db::payouts,
    domain::ProviderKind,
    escrow::payout::{self as effects, PayoutEffect},
    queue::JobError,
    worker::{WorkerState, calls, payout},
};

/// A refund callback's claim about the deposit `transaction_reference`.
pub(super) async fn claim(
    state: &WorkerState,
    provider: ProviderKind,
    transaction_reference: &str,
    refund_id: Option<&str>,
) -> Result<Outcome, JobError> {
    let mut conn = state.pool.acquire().await?;
    let refund = payouts::latest_refund_of(&mut conn, transaction_reference).await?;
    drop(conn);
    let Some(refund) = refund.filter(|refund| refund.provider == provider) else {
        return Ok(
            Note::Ignored(format!("no refund for transaction {transaction_reference}")).into(),
        );
    };
    if let (Some(ours), Some(theirs)) = (&refund.provider_ref, refund_id)
        && ours != theirs
    {
        return Ok(Note::Ignored(format!(
            "event names refund {theirs}; malipo's refund is {ours}"
        ))
        .into());
    }
    let status = payout::check_refund(state, &refund)
        .await
        .map_err(calls::ask_again_later)?;
    let mut tx = state.pool.begin().await?;
    let Some(current) = payouts::lock(&mut tx, refund.id).await? else {
        return Err(JobError::permanent("payout vanished"));
    };
    let effect = effects::apply_refund(&mut tx, &current, &status).await?;
    // Left open: the callback's outcome and completion commit with the effect.
    let note = match effect {
        PayoutEffect::Settled => Note::Applied,
        PayoutEffect::Pending => Note::Ignored(format!(
            "{provider} still calls the refund pending; the payout job checks again"
        )),
        PayoutEffect::Unchanged | PayoutEffect::Contradicted => {
            Note::Ignored(format!("refund already {}", current.status))
        }
    };
    Ok(Outcome {
        note,
        effect: Some(Effect::Open(tx)),
    })
}
