//! Releasing escrow: split into payee share and commission, post them, create the payouts.

use std::collections::HashMap;

use malipo_jobs::Payout;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::{
        intents::IntentRecord,
        ledger::{self, Account},
        payouts::{self, PayoutTarget},
        transitions::transition,
    },
    domain::{Currency, IntentMove, IntentStatus, PayoutDestination, PayoutKind, commission},
    queue::{EnqueueOptions, enqueue},
};

/// Where each currency's commission is paid out (`MALIPO_COMMISSION_PAYOUT_<CURRENCY>`); a
/// currency without one keeps its commission in the platform account.
pub type CommissionDestinations = HashMap<Currency, PayoutDestination>;

/// The payee's share of a held intent when no share leaves by M-Pesa (whose whole-shilling
/// rounding depends on the commission's destination): what a Lightning payee's invoice must be for.
pub fn payee_share(
    intent: &IntentRecord,
) -> Result<crate::domain::Money, crate::domain::MoneyError> {
    let fee = Some(intent.commission_fixed_fee).filter(|fee| !fee.is_zero());
    let places = intent.amount.currency().minor_units();
    Ok(commission::split_to(intent.amount, intent.commission_bps, fee, places)?.payee)
}

/// Releases a `releasing` intent (locked by the caller): posts escrow → payable + commission,
/// creates and enqueues the payouts, and moves it to `released` (or straight to `settled` when
/// nothing is left to pay out). Returns false when the intent was not `releasing`.
pub async fn release(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    destinations: &CommissionDestinations,
) -> anyhow::Result<bool> {
    if intent.status != IntentStatus::Releasing {
        return Ok(false);
    }
    let held = intent.amount;
    let currency = held.currency();
    // M-Pesa B2C pays whole shillings only: round the split to whole units when a share leaves
    // that way (the API only accepts whole amounts for M-Pesa payees).
    let via_mpesa = matches!(intent.payee.payout, PayoutDestination::Mpesa { .. })
        || matches!(
            destinations.get(&currency),
            Some(PayoutDestination::Mpesa { .. })
        );
    let places = if via_mpesa { 0 } else { currency.minor_units() };
    let fee = Some(intent.commission_fixed_fee).filter(|fee| !fee.is_zero());
    let split = commission::split_to(held, intent.commission_bps, fee, places)?;
    ledger::post(
        conn,
        &format!("release:{}", intent.id),
        "release",
        Some(intent.id),
        &format!(
            "release: payee {} commission {}",
            split.payee, split.commission
        ),
        &[
            (Account::escrow(intent.id, currency), held.amount()),
            (Account::payable(intent.id, currency), -split.payee.amount()),
            (Account::commission(currency), -split.commission.amount()),
        ],
    )
    .await?;

    let mut created: Vec<Uuid> = Vec::new();
    if split.payee.is_positive() {
        let mut destination = intent.payee.payout.clone();
        if let PayoutDestination::Lightning { bolt11 } = &mut destination
            && bolt11.is_none()
        {
            bolt11.clone_from(&intent.release_bolt11);
        }
        let provider = destination.provider();
        created.push(
            payouts::insert(
                conn,
                intent.id,
                PayoutKind::Payee,
                split.payee,
                provider,
                &PayoutTarget::Destination(destination),
            )
            .await?,
        );
    }
    let commission_kept = match destinations.get(&currency) {
        Some(destination) if split.commission.is_positive() => {
            created.push(
                payouts::insert(
                    conn,
                    intent.id,
                    PayoutKind::Commission,
                    split.commission,
                    destination.provider(),
                    &PayoutTarget::Destination(destination.clone()),
                )
                .await?,
            );
            false
        }
        _ => split.commission.is_positive(),
    };
    for payout in &created {
        enqueue(
            conn,
            &Payout { payout_id: *payout },
            EnqueueOptions {
                intent_id: Some(intent.id),
                ..Default::default()
            },
        )
        .await?;
    }
    let detail = json!({"payee": split.payee.amount().to_string(), "commission": split.commission.amount().to_string(),
                        "commission_kept_in_platform_account": commission_kept});
    transition(conn, intent.id, IntentMove::EscrowReleased, detail).await?;
    if created.is_empty() {
        transition(conn, intent.id, IntentMove::Settled, json!({"payouts": 0})).await?;
    }
    Ok(true)
}
