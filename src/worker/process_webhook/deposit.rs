//! A deposit claim: the deposit the callback names is verified with its provider
//! (`verify_deposit`, the one place that decides), and a claim the answer contradicts becomes a
//! `lying_callback` discrepancy.

use super::Note;
use crate::{
    db::{
        discrepancies::{self, DiscrepancyKind, Moved, NewDiscrepancy},
        intents::IntentRecord,
    },
    domain::ProviderKind,
    escrow::deposit::DepositEffect,
    providers::DepositStatus,
    queue::JobError,
    worker::{
        WorkerState,
        verify_deposit::{self, Verified},
    },
};

/// A deposit callback's claim: the provider is asked, and its answer applied.
pub(super) async fn claim(
    state: &WorkerState,
    provider: ProviderKind,
    handle: &str,
    claim: &DepositStatus,
) -> Result<Note, JobError> {
    let Some(intent) = intent_by_handle(state, provider, handle).await? else {
        return Ok(Note::Ignored(format!(
            "no {provider} intent with reference {handle}"
        )));
    };
    Ok(match verify_deposit::verify_loaded(state, intent).await? {
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
                // A bare "look" (a callback whose body malipo does not read for an outcome)
                // found nothing paid: the deposit's own checks keep watching.
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

async fn intent_by_handle(
    state: &WorkerState,
    provider: ProviderKind,
    handle: &str,
) -> Result<Option<IntentRecord>, JobError> {
    let mut conn = state.pool.acquire().await?;
    Ok(crate::db::intents::load_by_provider_handle(&mut conn, provider, handle).await?)
}

/// A callback whose claim the provider's own answer contradicts moved nothing, but someone sent
/// it with valid credentials: operators see it as a `lying_callback` discrepancy.
async fn record_lie(
    state: &WorkerState,
    intent: &IntentRecord,
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
