//! After the storm: reconciliation runs (what an operator's `malipo reconcile` does), the
//! client's reaction to a failed refund (it asks again) and to a failed payee share (it sends
//! it again to a new destination), and waiting — bounded — until no job is
//! open. The harness never moves money itself: it pays no deposit, releases nothing and
//! rewrites no job; whatever is left is for the verdict to judge.

use std::time::{Duration, Instant};

use malipo::{reconcile::mpesa, worker::WorkerState};
use rand::SeedableRng;
use sqlx::PgPool;

use super::driver::{self, Ctx};

/// Runs one M-Pesa reconciliation over the whole run: its summary, or the error.
pub async fn reconcile(
    state: &WorkerState,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<malipo::reconcile::Report, String> {
    let options = mpesa::Options {
        since: since - chrono::Duration::minutes(1),
        until: chrono::Utc::now() + chrono::Duration::minutes(5),
        pending_after: Duration::ZERO,
    };
    match mpesa::run(state, options).await {
        Ok(report) => Ok(report),
        Err(error) => Err(format!("{error:#}")),
    }
}

/// Jobs not yet finished (pending or running).
pub async fn open_jobs(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM malipo_jobs WHERE state IN ('pending', 'running')")
        .fetch_one(pool)
        .await
        .unwrap_or(-1)
}

/// Held intents whose last refund failed and that the client may refund again.
async fn refund_failed(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT i.id::text FROM intents i
          WHERE i.status = 'held'
            AND EXISTS (SELECT 1 FROM intent_events e WHERE e.intent_id = i.id AND e.type = 'refund_failed')",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default()
}

/// Payee shares whose payout the provider confirmed failed and that were not sent again:
/// `(intent id, payout id, provider, amount, currency)`.
async fn failed_shares(pool: &PgPool) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as(
        "SELECT intent_id::text, id::text, provider, amount::text, currency FROM payouts
          WHERE kind = 'payee' AND status = 'failed' AND superseded_by IS NULL
            AND intent_id IS NOT NULL AND provider <> 'balance'
          ORDER BY created_at",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default()
}

/// Where the client sends a failed share again: a destination of the same provider (a fresh
/// invoice for exactly the share on Lightning).
fn destination_again(
    provider: &str,
    amount: &str,
    currency: &str,
    recipients: &[String],
) -> serde_json::Value {
    use serde_json::json;
    match (provider, currency) {
        ("mpesa", _) => json!({"provider": "mpesa", "msisdn": "254700000001"}),
        ("paystack", _) => json!({"provider": "paystack", "recipient_code": recipients[0]}),
        ("lightning", _) => {
            let sats = amount
                .split('.')
                .next()
                .and_then(|whole| whole.parse::<u64>().ok())
                .unwrap_or(1);
            json!({"provider": "lightning", "bolt11": malipo_sandbox::payee_invoice(sats)})
        }
        (_, "KES") => {
            json!({"provider": "fincra", "destination": "mobile_money", "msisdn": "254700000002"})
        }
        _ => json!({"provider": "fincra", "destination": "bank_account", "bank_code": "058",
                    "account_number": "0124775489", "account_name": "Chaos Seller"}),
    }
}

/// The client asks again at most twice per intent: the number of this ask, or `None` when
/// it has asked twice already.
fn once_more(asked: &mut std::collections::HashMap<String, u32>, intent: &str) -> Option<u32> {
    let times = asked.entry(intent.to_owned()).or_default();
    if *times >= 2 {
        return None;
    }
    *times += 1;
    Some(*times)
}

/// What the settle phase did.
#[derive(Debug, Default)]
pub struct Settled {
    /// Whether every job finished within the limit.
    pub quiet: bool,
    /// Reconciliation runs and their errors.
    pub reconciliations: u32,
    /// Errors of reconciliation runs.
    pub reconcile_errors: Vec<String>,
    /// The last reconciliation's summary.
    pub last_reconciliation: String,
    /// Refunds the client asked again after a failed one.
    pub refund_retries: u32,
    /// Failed payee shares the client sent again to a new destination.
    pub share_retries: u32,
    /// Intents the client released or refunded after the storm, once they became held.
    pub late_actions: u32,
    /// Unpaid intents the client gave up on and cancelled once everything else was quiet.
    pub cancelled: u32,
    /// The last reconciliation's items that are not plain matches: `(class, subject, detail)`.
    pub last_findings: Vec<(String, String, String)>,
}

/// Waits up to `limit` for quiescence, reconciling M-Pesa every 10 s; the client meanwhile
/// acts as it would on its notifications: an intent its driver gave up on that is now held is
/// released or refunded (once), and, told `refund_failed`, it refunds again (a fresh key, at
/// most twice per intent). Nothing else: a payment nobody made stays unmade, and an intent the
/// client already acted on stays where malipo left it.
pub async fn quiesce(
    ctx: &Ctx<'_>,
    pool: &PgPool,
    state: &WorkerState,
    since: chrono::DateTime<chrono::Utc>,
    limit: Duration,
    settled: &mut Settled,
) {
    let deadline = Instant::now() + limit;
    let mut last_reconcile: Option<Instant> = None;
    let mut asked: std::collections::HashMap<String, u32> = Default::default();
    let mut resent: std::collections::HashMap<String, u32> = Default::default();
    while Instant::now() < deadline {
        if last_reconcile.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
            settled.reconciliations += 1;
            match reconcile(state, since).await {
                Ok(report) => {
                    settled.last_reconciliation = format!("{:?}", report.summary);
                    settled.last_findings = report
                        .items
                        .iter()
                        .filter(|item| !matches!(item.class.as_str(), "matched" | "resolved"))
                        .map(|item| {
                            (
                                item.class.clone(),
                                item.subject.clone(),
                                item.detail.to_string(),
                            )
                        })
                        .collect();
                }
                Err(error) => settled.reconcile_errors.push(error),
            }
            last_reconcile = Some(Instant::now());
        }
        // Counted before the client looks at its intents: with no job open, nothing can move
        // one to `held` behind the look below, so a quiet answer after it is final. (Counted
        // after, a deposit confirmed between the look and the count left a held intent nobody
        // acts on.)
        let idle = open_jobs(pool).await == 0;
        let mut retried = false;
        let late: Vec<String> = std::mem::take(
            &mut ctx
                .tally
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .unfinished_ids,
        );
        let mut still = Vec::new();
        for id in late {
            match ctx.api.get(&id).await {
                Some(intent) if intent["status"] == "held" => {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(ctx.seed ^ 0x005e_771e);
                    driver::act(ctx, &id, &intent, &mut rng).await;
                    settled.late_actions += 1;
                    retried = true;
                }
                Some(intent)
                    if matches!(
                        intent["status"].as_str(),
                        Some("initiating" | "awaiting_payment")
                    ) =>
                {
                    still.push(id);
                }
                Some(_) => {}
                None => still.push(id),
            }
        }
        ctx.tally
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unfinished_ids
            .extend(still);
        for id in refund_failed(pool).await {
            let Some(times) = once_more(&mut asked, &id) else {
                continue;
            };
            let Some(intent) = ctx.api.get(&id).await else {
                continue;
            };
            let answer = ctx
                .api
                .post(
                    &format!("/v1/intents/{id}/refund"),
                    &driver::action_body(&intent),
                    &format!("refund-again-{id}-{times}"),
                )
                .await;
            if answer.status == 202 {
                settled.refund_retries += 1;
                retried = true;
            }
        }
        // Told `payout.failed`, the client sends the payee's share again (at most twice per
        // intent), as a marketplace would with the seller's corrected details.
        for (intent, payout, provider, amount, currency) in failed_shares(pool).await {
            if once_more(&mut resent, &intent).is_none() {
                continue;
            }
            let body = serde_json::json!({
                "payout": destination_again(&provider, &amount, &currency, ctx.recipients)
            });
            let answer = ctx
                .api
                .post(
                    &format!("/v1/intents/{intent}/payouts/{payout}/retry"),
                    &body,
                    &format!("share-again-{payout}"),
                )
                .await;
            if answer.status == 202 {
                settled.share_retries += 1;
                retried = true;
            }
        }
        // What the client gave up on and nobody paid, it cancels (the way out of
        // `awaiting_payment`; a payment that still comes is a late_payment discrepancy); until
        // then a deposit's verification keeps asking the provider, so jobs stay open.
        if !retried && cancel_abandoned(ctx, settled).await {
            continue;
        }
        if !retried && idle {
            settled.quiet = true;
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Cancels the unfinished intents still awaiting payment; whether it cancelled any.
async fn cancel_abandoned(ctx: &Ctx<'_>, settled: &mut Settled) -> bool {
    let ids: Vec<String> = ctx
        .tally
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unfinished_ids
        .clone();
    let mut any = false;
    for id in ids {
        let Some(intent) = ctx.api.get(&id).await else {
            continue;
        };
        // An M-Pesa intent whose STK push went unanswered is left to its own deadline: Pull is
        // asked for a payment to its account number before it expires by itself.
        if intent["status"] != "awaiting_payment" || intent["next_action"]["type"] == "paybill" {
            continue;
        }
        let answer = ctx
            .api
            .post(
                &format!("/v1/intents/{id}/cancel"),
                &serde_json::json!({}),
                &format!("cancel-abandoned-{id}"),
            )
            .await;
        if answer.status == 200 {
            settled.cancelled += 1;
            any = true;
        }
    }
    any
}
