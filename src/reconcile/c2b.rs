//! C2B payments: recording each receipt once and crediting it to an intent when the rule is
//! unambiguous (see the module above).

use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::intents,
    domain::Money,
    escrow::deposit::{self, DepositEffect},
    providers::DepositStatus,
};

/// A recorded payment: amount, currency, account reference, resolution.
type RecordedPayment = (
    Option<Decimal>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// What became of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credit {
    /// Credited to this intent (now held).
    Credited(Uuid),
    /// It names an intent, but not one awaiting exactly this amount.
    Mismatch(String),
    /// It names no intent.
    Unknown,
}

/// Records receipt `receipt` (first sight wins; returns false if it was known) with `source`.
pub async fn record(
    conn: &mut PgConnection,
    receipt: &str,
    amount: Option<Money>,
    account_ref: &str,
    source: &str,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO unmatched_payments (provider, receipt, amount, currency, account_ref, source) VALUES ('mpesa', $1, $2, $3, $4, $5)
         ON CONFLICT (provider, receipt) DO NOTHING",
    )
    .bind(receipt)
    .bind(amount.map(|a| a.amount()))
    .bind(amount.map(|a| a.currency().code()))
    .bind(account_ref)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Credits an unresolved recorded payment to the intent it references, when the rule allows;
/// stores the resolution so a second pass does nothing.
pub async fn credit(conn: &mut PgConnection, receipt: &str) -> anyhow::Result<Option<Credit>> {
    let row: Option<RecordedPayment> = sqlx::query_as(
        "SELECT amount, currency, account_ref, resolution FROM unmatched_payments WHERE provider = 'mpesa' AND receipt = $1 FOR UPDATE",
    )
    .bind(receipt)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((amount, currency, account_ref, resolution)) = row else {
        return Ok(None);
    };
    if resolution.is_some() {
        return Ok(None);
    }
    let account_ref = account_ref.unwrap_or_default();
    let intent: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM intents WHERE provider = 'mpesa' AND reference = $1")
            .bind(&account_ref)
            .fetch_optional(&mut *conn)
            .await?;
    let paid = match (amount, currency.as_deref().map(str::parse)) {
        (Some(amount), Some(Ok(currency))) => Money::new(amount, currency).ok(),
        _ => None,
    };
    let outcome = match (intent, paid) {
        (None, _) => Credit::Unknown,
        (Some(id), None) => Credit::Mismatch(format!(
            "payment {receipt} for intent {id} has no readable amount"
        )),
        (Some(id), Some(paid)) => {
            let Some(record) = intents::load(conn, id, true).await? else {
                return Ok(Some(Credit::Unknown));
            };
            if record.status != "awaiting_payment" {
                Credit::Mismatch(format!(
                    "intent {id} is {} (not awaiting payment); payment {receipt} of {paid} needs an operator",
                    record.status
                ))
            } else if paid != record.amount {
                Credit::Mismatch(format!(
                    "payment {receipt} of {paid} does not match intent {id} amount {}",
                    record.amount
                ))
            } else {
                let status = DepositStatus::Succeeded {
                    amount: paid,
                    provider_ref: receipt.to_owned(),
                };
                match deposit::apply(conn, &record, &status).await? {
                    DepositEffect::Held => Credit::Credited(id),
                    other => {
                        Credit::Mismatch(format!("intent {id} could not be credited: {other:?}"))
                    }
                }
            }
        }
    };
    let (resolution, intent_id) = match &outcome {
        Credit::Credited(id) => ("credited", Some(*id)),
        Credit::Mismatch(_) => ("flagged", intent),
        Credit::Unknown => ("unknown", None),
    };
    sqlx::query("UPDATE unmatched_payments SET resolution = $2, intent_id = $3, detail = detail || $4 WHERE provider = 'mpesa' AND receipt = $1")
        .bind(receipt)
        .bind(resolution)
        .bind(intent_id)
        .bind(json!({"resolution": format!("{outcome:?}")}))
        .execute(&mut *conn)
        .await?;
    Ok(Some(outcome))
}
