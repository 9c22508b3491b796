//! A withdrawal from a client's balance (`POST /v1/payouts`): the money is reserved from the
//! balance in the request's transaction — the database refuses an overdraft there, so two
//! concurrent withdrawals that together exceed the balance cannot both pass — and the `payout`
//! job then sends it at most once, returning it to the balance only on a confirmed failure.

use malipo_jobs::Payout;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::{
        balances,
        ledger::{self, Account, PostingError, TransactionKind},
        payouts::{self, NewWithdrawal},
    },
    queue::{EnqueueOptions, enqueue},
};

/// Why a withdrawal was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawRefusal {
    /// More than the balance holds (the database refused the reservation).
    #[error("the balance does not cover the withdrawal")]
    Overdraft,
    /// The client's reference names another withdrawal.
    #[error("you already have a payout with reference `{0}`; references are unique per client")]
    ReferenceTaken(String),
}

/// Records and reserves `withdrawal`, and enqueues its payout job. On `Ok(Err(_))` the caller
/// must roll back (an overdraft leaves the transaction aborted).
pub async fn request(
    conn: &mut PgConnection,
    withdrawal: &NewWithdrawal,
) -> anyhow::Result<Result<Uuid, WithdrawRefusal>> {
    let currency = withdrawal.amount.currency();
    balances::ensure(conn, withdrawal.client, currency).await?;
    let Some(payout) = payouts::insert_withdrawal(conn, withdrawal).await? else {
        return Ok(Err(WithdrawRefusal::ReferenceTaken(
            withdrawal.reference.clone().unwrap_or_default(),
        )));
    };
    let reserved = ledger::post(
        conn,
        &format!("withdraw:{payout}"),
        TransactionKind::WithdrawalReserved,
        None,
        &format!(
            "withdrawal {} reserved from the balance",
            payouts::reference_for(payout)
        ),
        &[
            (
                Account::client_balance(withdrawal.client, currency),
                withdrawal.amount.amount(),
            ),
            (
                Account::withdrawals_reserved(currency),
                -withdrawal.amount.amount(),
            ),
        ],
    )
    .await;
    match reserved {
        Ok(_) => {}
        Err(PostingError::Database(sqlx::Error::Database(db)))
            if db.constraint() == Some("client_balance_not_negative") =>
        {
            return Ok(Err(WithdrawRefusal::Overdraft));
        }
        Err(other) => return Err(other.into()),
    }
    enqueue(
        conn,
        &Payout {
            payout_id: payout,
            copy: None,
        },
        EnqueueOptions::default(),
    )
    .await?;
    Ok(Ok(payout))
}
