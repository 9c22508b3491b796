//! Returning a payment that arrived for a closed (cancelled, expired, failed) intent to its
//! payer, where the provider allows it: Paystack refunds the transaction, M-Pesa pays the STK
//! payer back by B2C. Lightning cannot (nobody gave an invoice), so that money waits for an
//! operator. The money sits in suspense under its `late_payment` discrepancy; the `late_refund`
//! payout takes it from there, and its confirmed success resolves the discrepancy.

use sqlx::PgConnection;

use super::deposit_reference;
use crate::{
    db::{
        discrepancies,
        intents::IntentRecord,
        payouts::{self, NewPayout, PayoutTarget},
    },
    domain::{Buyer, Money, PayoutDestination, PayoutKind, ProviderKind},
};

/// Starts the refund of `amount`, paid late for `intent`, whose discrepancy was recorded under
/// `dedupe_key`. Returns false when the provider cannot return it.
pub async fn start(
    conn: &mut PgConnection,
    intent: &IntentRecord,
    amount: Money,
    dedupe_key: &str,
) -> anyhow::Result<bool> {
    let target = match (intent.provider, &intent.buyer) {
        (ProviderKind::Paystack, _) => PayoutTarget::Refund {
            refund_of: intent
                .provider_reference
                .clone()
                .unwrap_or_else(|| deposit_reference(intent.id)),
        },
        (ProviderKind::Mpesa, Buyer::Msisdn { msisdn }) if amount.is_whole() => {
            PayoutTarget::Destination(PayoutDestination::Mpesa {
                msisdn: msisdn.clone(),
            })
        }
        _ => return Ok(false),
    };
    let payout = payouts::insert(
        conn,
        &NewPayout {
            intent: intent.id,
            release_seq: 1,
            kind: PayoutKind::LateRefund,
            amount,
            provider: intent.provider,
            target: &target,
        },
        crate::queue::bell::Wake::Trigger,
    )
    .await?
    .id;
    discrepancies::link_payout(conn, dedupe_key, payout).await?;
    Ok(true)
}
