//! After the storm: reconciliation, finishing what the drivers left (paying deposits, releasing
//! held intents), and waiting — bounded — until no job is open and no intent needs anyone.

use std::time::{Duration, Instant};

use malipo::{reconcile::mpesa, worker::WorkerState};
use sqlx::PgPool;

use super::driver::{self, Ctx};

/// Runs one M-Pesa reconciliation over the whole run.
pub async fn reconcile(state: &WorkerState, since: chrono::DateTime<chrono::Utc>) -> String {
    let options = mpesa::Options {
        since: since - chrono::Duration::minutes(1),
        until: chrono::Utc::now() + chrono::Duration::minutes(5),
        pending_after: Duration::ZERO,
    };
    match mpesa::run(state, options).await {
        Ok(report) => format!("{:?}", report.summary),
        Err(error) => format!("failed: {error:#}"),
    }
}

/// Jobs not yet finished (pending or running).
pub async fn open_jobs(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM malipo_jobs WHERE state IN ('pending', 'running')")
        .fetch_one(pool)
        .await
        .unwrap_or(-1)
}

/// Intents some actor still has to move: unconfirmed, held, or mid-action.
async fn unsettled(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT id::text, status FROM intents
          WHERE status IN ('initiating', 'awaiting_payment', 'held', 'releasing', 'refunding')",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default()
}

/// Waits up to `limit` for quiescence, paying and releasing what is left on the way, and
/// reconciling M-Pesa every 10 s. Backoff waits are cut short (`run_at = now()`): faults are
/// off, so waiting out a 5-minute backoff proves nothing. Returns whether it got there.
pub async fn quiesce(
    ctx: &Ctx<'_>,
    pool: &PgPool,
    state: &WorkerState,
    since: chrono::DateTime<chrono::Utc>,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    let mut last_reconcile = Instant::now();
    while Instant::now() < deadline {
        let _ = sqlx::query(
            "UPDATE malipo_jobs SET run_at = now() WHERE state = 'pending' AND run_at > now()",
        )
        .execute(pool)
        .await;
        let waiting = unsettled(pool).await;
        for (id, status) in &waiting {
            if status != "awaiting_payment" && status != "held" {
                continue;
            }
            let Some(intent) = ctx.api.get(id).await else {
                continue;
            };
            match intent["status"].as_str() {
                Some("awaiting_payment") => {
                    driver::pay(ctx, &intent);
                }
                Some("held") => {
                    let answer = ctx
                        .api
                        .post(
                            &format!("/v1/intents/{id}/release"),
                            &driver::action_body(&intent),
                            &format!("finish-release-{id}"),
                        )
                        .await;
                    if answer.status == 202 {
                        ctx.tally.lock().unwrap_or_else(|e| e.into_inner()).releases += 1;
                    }
                }
                _ => {}
            }
        }
        if waiting.is_empty() && open_jobs(pool).await == 0 {
            return true;
        }
        if last_reconcile.elapsed() > Duration::from_secs(10) {
            reconcile(state, since).await;
            last_reconcile = Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    false
}
