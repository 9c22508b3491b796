//! `reconcile_mpesa`: STK pushes without callbacks, C2B payments via Pull Transactions, and
//! B2C payouts without results, in one run that stores a report.

use std::{collections::HashSet, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    Item, Reach, Report,
    c2b::{self, Credit},
};
use crate::{
    db::{discrepancies::DiscrepancyKind, intents},
    domain::PayoutStatus,
    escrow::deposit::{self, DepositEffect},
    providers::MpesaClient,
};

/// What to reconcile.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// From.
    pub since: DateTime<Utc>,
    /// Until.
    pub until: DateTime<Utc>,
    /// A push or payout older than this without its callback counts as missing it.
    pub pending_after: Duration,
}

/// The number Safaricom notifies about Pull registration (any valid MSISDN of the business).
const NOMINATED_NUMBER: &str = "254700000000";

/// Daraja's Pull keeps 48 hours.
const PULL_WINDOW: chrono::Duration = chrono::Duration::hours(48);

/// Runs one reconciliation and stores its report.
pub async fn run(state: &impl Reach, options: Options) -> anyhow::Result<Report> {
    let Some(client) = state.providers().mpesa() else {
        anyhow::bail!("M-Pesa is not configured (MPESA_CONSUMER_KEY …): nothing to reconcile");
    };
    let pending_after = chrono::Duration::from_std(options.pending_after).unwrap_or_default();
    let cutoff = Utc::now() - pending_after;
    let mut items = Vec::new();
    items.extend(stk(state, client, &options, cutoff).await?);
    items.extend(deposit_mismatches(state, &options).await?);
    items.extend(c2b_payments(state, client, &options).await?);
    items.extend(b2c(state, client, &options, cutoff).await?);
    let report = Report::new("mpesa", options.since, options.until, items);
    report.store(state.pool()).await?;
    tracing::info!(report = %report.id, summary = ?report.summary, "M-Pesa reconciliation stored");
    Ok(report)
}

/// Looks for Paybill payments to one intent's account number (an STK push Daraja never
/// answered may still have been paid) and places them: the intent is funded when one matches.
/// Returns whether the intent is now funded.
pub async fn pull_for_intent(
    state: &impl Reach,
    intent: &intents::IntentRecord,
) -> anyhow::Result<bool> {
    let (Some(client), Some(account)) = (state.providers().mpesa(), &intent.account_number) else {
        return Ok(false);
    };
    let from = intent.created_at - chrono::Duration::minutes(1);
    let pulled = pull(client, from, Utc::now() + chrono::Duration::minutes(1))
        .await
        .map_err(|error| anyhow::anyhow!("Pull Transactions failed: {error}"))?;
    let mut funded = false;
    for payment in pulled.iter().filter(|p| p.bill_reference.trim() == account) {
        let (_, credit) = place_pulled(state, payment).await?;
        funded |= matches!(credit, Some(Credit::Credited(id)) if id == intent.id);
    }
    Ok(funded)
}

/// Pull Transactions between `from` and `until`, registering the shortcode first (once is
/// enough; "already registered" is success).
async fn pull(
    client: &MpesaClient,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<crate::providers::mpesa::PulledPayment>, crate::providers::ProviderError> {
    if let Err(error) = client.pull_register(NOMINATED_NUMBER).await {
        tracing::warn!(%error, "Pull Transactions registration failed; trying the query anyway");
    }
    client.pull_transactions(from, until).await
}

/// Records one pulled payment (first sight wins) and places it; whether it was new, and where
/// it went.
async fn place_pulled(
    state: &impl Reach,
    payment: &crate::providers::mpesa::PulledPayment,
) -> anyhow::Result<(bool, Option<Credit>)> {
    let mut tx = state.pool().begin().await?;
    let new = c2b::record(
        &mut tx,
        &payment.receipt,
        payment.amount,
        &payment.bill_reference,
        "pull",
    )
    .await?;
    let credit = c2b::credit(&mut tx, &payment.receipt).await?;
    tx.commit().await?;
    Ok((new, credit))
}

async fn stk(
    state: &impl Reach,
    client: &MpesaClient,
    options: &Options,
    cutoff: DateTime<Utc>,
) -> anyhow::Result<Vec<Item>> {
    let waiting =
        intents::mpesa_awaiting_payment(state.pool(), options.since, options.until, cutoff).await?;
    let mut items = Vec::new();
    for id in waiting {
        let mut conn = state.pool().acquire().await?;
        let Some(intent) = intents::load(&mut conn, id, false).await? else {
            continue;
        };
        drop(conn);
        let Some(checkout) = intent.provider_reference.clone() else {
            continue;
        };
        let status = match client.stk_query(&checkout, intent.amount).await {
            Ok(status) => status,
            Err(error) => {
                items.push(Item::new(
                    "status_mismatch",
                    "stk",
                    id.to_string(),
                    json!({"checkout_request_id": checkout, "query_failed": error.to_string()}),
                ));
                continue;
            }
        };
        let mut tx = state.pool().begin().await?;
        let Some(locked) = intents::load(&mut tx, id, true).await? else {
            continue;
        };
        let effect = deposit::apply(&mut tx, &locked, &status).await?;
        tx.commit().await?;
        let detail =
            json!({"checkout_request_id": checkout, "provider_status": format!("{status:?}")});
        items.push(match effect {
            DepositEffect::Pending => Item::new(
                "matched",
                "stk",
                id.to_string(),
                json!({"checkout_request_id": checkout, "note": "still in progress at M-Pesa"}),
            ),
            DepositEffect::Held | DepositEffect::Closed => {
                Item::new("resolved", "stk", id.to_string(), detail)
            }
            DepositEffect::Mismatch(reason) => Item::new(
                "amount_mismatch",
                "stk",
                id.to_string(),
                json!({"reason": reason}),
            ),
            DepositEffect::AlreadySettled => Item::new("matched", "stk", id.to_string(), detail),
            DepositEffect::LatePayment => Item::new(
                "status_mismatch",
                "stk",
                id.to_string(),
                json!({"checkout_request_id": checkout, "note": "paid after the intent closed: late_payment discrepancy"}),
            ),
        });
    }
    Ok(items)
}

async fn deposit_mismatches(state: &impl Reach, options: &Options) -> anyhow::Result<Vec<Item>> {
    let rows =
        intents::mpesa_deposit_mismatches(state.pool(), options.since, options.until).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            Item::new(
                "amount_mismatch",
                "deposit",
                row.intent_id.to_string(),
                row.detail,
            )
        })
        .collect())
}

async fn c2b_payments(
    state: &impl Reach,
    client: &MpesaClient,
    options: &Options,
) -> anyhow::Result<Vec<Item>> {
    let from = options.since.max(Utc::now() - PULL_WINDOW);
    let pulled = match pull(client, from, options.until).await {
        Ok(pulled) => pulled,
        Err(error) => {
            return Ok(vec![Item::new(
                "status_mismatch",
                "c2b",
                "pull",
                json!({"pull_failed": error.to_string()}),
            )]);
        }
    };
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    for payment in &pulled {
        seen.insert(payment.receipt.clone());
        let (new, credit) = place_pulled(state, payment).await?;
        let detail = json!({"amount": payment.amount.map(|a| a.to_string()), "account_reference": payment.bill_reference});
        items.push(match (new, credit) {
            (_, Some(Credit::Credited(intent))) => Item::new(
                "resolved",
                "c2b",
                &payment.receipt,
                json!({"credited_to": intent, "payment": detail}),
            ),
            (_, Some(Credit::NotYet(intent))) => Item::new(
                "matched",
                "c2b",
                &payment.receipt,
                json!({"paid_while_starting": intent, "note": "placed by a later pass, once the intent awaits payment", "payment": detail}),
            ),
            (_, Some(Credit::OwnPayment(intent))) => Item::new(
                "matched",
                "c2b",
                &payment.receipt,
                json!({"own_payment_of": intent, "payment": detail}),
            ),
            (_, Some(Credit::LateOwnPayment { intent, first_sighting: true })) => Item::new(
                "status_mismatch",
                "c2b",
                &payment.receipt,
                json!({"discrepancy": DiscrepancyKind::LatePayment.as_str(), "intent": intent, "payment": detail}),
            ),
            // STK Query found this payment first: its discrepancy already holds the money.
            (_, Some(Credit::LateOwnPayment { intent, first_sighting: false })) => Item::new(
                "matched",
                "c2b",
                &payment.receipt,
                json!({"late_own_payment_of": intent, "payment": detail}),
            ),
            (_, Some(Credit::Discrepancy(kind, intent))) => Item::new(
                match kind {
                    DiscrepancyKind::AmountMismatch => "amount_mismatch",
                    DiscrepancyKind::UnmatchedPayment => "missing_internal",
                    _ => "status_mismatch",
                },
                "c2b",
                &payment.receipt,
                json!({"discrepancy": kind.as_str(), "intent": intent, "payment": detail}),
            ),
            (_, Some(Credit::Unreadable(reason))) => Item::new(
                "amount_mismatch",
                "c2b",
                &payment.receipt,
                json!({"reason": reason, "payment": detail}),
            ),
            (true, _) => Item::new(
                "missing_internal",
                "c2b",
                &payment.receipt,
                json!({"note": "payment never confirmed to malipo; recorded", "payment": detail}),
            ),
            (false, _) => Item::new("matched", "c2b", &payment.receipt, detail),
        });
    }
    let confirmed =
        crate::db::reconciliation::confirmed_mpesa_receipts(state.pool(), from, options.until)
            .await?;
    for receipt in confirmed.into_iter().filter(|r| !seen.contains(r)) {
        items.push(Item::new(
            "missing_at_provider",
            "c2b",
            receipt,
            json!({"note": "confirmed to malipo but absent from Pull Transactions"}),
        ));
    }
    Ok(items)
}

async fn b2c(
    state: &impl Reach,
    client: &MpesaClient,
    options: &Options,
    cutoff: DateTime<Utc>,
) -> anyhow::Result<Vec<Item>> {
    // Payouts still without a result, and payouts recorded failed in the window: a failure is
    // asked about again, so a provider that delivered after all (or a record changed by hand)
    // surfaces as a payout_contradiction discrepancy when the answer arrives.
    let stuck =
        crate::db::payouts::mpesa_to_check(state.pool(), cutoff, options.since, options.until)
            .await?;
    let mut items = Vec::new();
    for crate::db::payouts::PayoutToCheck {
        id,
        reference,
        status,
    } in stuck
    {
        // Transaction Status answers asynchronously: its result completes an in-flight payout
        // through the normal callback path, or turns a recorded failure the provider contradicts
        // into a payout_contradiction discrepancy.
        let queried = client.transaction_status(&reference, None).await;
        let recorded_failed = status == PayoutStatus::Failed;
        items.push(match (queried, recorded_failed) {
            (Err(error), _) => Item::new(
                "status_mismatch",
                "b2c",
                id.to_string(),
                json!({"reference": reference, "query_failed": error.to_string()}),
            ),
            (Ok(_), false) => Item::new(
                "status_mismatch",
                "b2c",
                id.to_string(),
                json!({"reference": reference, "action": "no result yet: transaction status queried; the result completes the payout"}),
            ),
            (Ok(_), true) => Item::new(
                "matched",
                "b2c",
                id.to_string(),
                json!({"reference": reference, "action": "failure re-checked with transaction status; a delivery would become a payout_contradiction"}),
            ),
        });
    }
    Ok(items)
}
