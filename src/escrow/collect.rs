//! An immediate capture: the confirmed deposit goes from escrow straight into the client's
//! balance (minus the platform's commission), in the transaction that confirmed it.

use serde_json::json;
use sqlx::PgConnection;

use crate::{
    db::{
        balances,
        intents::IntentRecord,
        ledger::{self, Account, TransactionKind},
        transitions::transition,
    },
    domain::{IntentMove, commission},
};

/// Moves a just-held immediate-capture `intent` into its client's balance and settles it.
pub async fn collect(conn: &mut PgConnection, intent: &IntentRecord) -> anyhow::Result<()> {
    let currency = intent.amount.currency();
    let fee = Some(intent.commission_fixed_fee).filter(|fee| !fee.is_zero());
    let split = commission::split(intent.amount, intent.commission_bps, fee)?;
    balances::ensure(conn, intent.client_id, currency).await?;
    ledger::post(
        conn,
        &format!("collect:{}", intent.id),
        TransactionKind::Collection,
        Some(intent.id),
        &format!(
            "collection: balance {} commission {}",
            split.payee, split.commission
        ),
        &[
            (Account::escrow(intent.id, currency), intent.amount.amount()),
            (
                Account::client_balance(intent.client_id, currency),
                -split.payee.amount(),
            ),
            (Account::commission(currency), -split.commission.amount()),
        ],
    )
    .await?;
    transition(
        conn,
        intent.id,
        IntentMove::Collected,
        json!({"balance": split.payee.amount().to_string(), "commission": split.commission.amount().to_string()}),
    )
    .await?;
    Ok(())
}
