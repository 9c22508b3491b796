//! Rows "already there" for the growth runs of `bench intake` and `bench webhooks`: earlier
//! traffic's intents (with their events, idempotency keys and finished jobs) and webhook inbox
//! rows, written by PostgreSQL itself in batches, so a rate can be compared at 10k and 1M rows.

use malipo_jobs::{InitiateDeposit, Job, ProcessWebhook};
use sqlx::PgPool;
use uuid::Uuid;

/// Rows written per statement.
const BATCH: i64 = 100_000;

/// Adds `rows` settled intents of `client` — each with two events, its idempotency key and a
/// finished job — as the intake endpoint would have left them.
pub async fn intents(pool: &PgPool, client: Uuid, rows: i64) -> anyhow::Result<()> {
    let run = run_tag();
    for start in (0..rows).step_by(BATCH as usize) {
        let end = (start + BATCH).min(rows);
        let mut tx = pool.begin().await?;
        batch_ids(&mut tx, &run, start, end).await?;
        sqlx::query(
            r#"INSERT INTO intents (id, client_id, status, amount, currency, provider, buyer, payee, commission_bps, reference)
               SELECT id, $1, 'settled', 100 + n % 5000, 'KES', 'mpesa', '{"msisdn":"254708374149"}',
                      jsonb_build_object('id', 'seller-' || n, 'payout', '{"provider":"mpesa","msisdn":"254700000001"}'::jsonb),
                      250, tag
                 FROM preload_ids"#,
        )
        .bind(client)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO intent_events (intent_id, type, from_status, to_status)
             SELECT id, t.type, t.from_status, t.to_status FROM preload_ids,
                    (VALUES ('created', NULL, 'initiating'), ('settled', 'releasing', 'settled')) AS t (type, from_status, to_status)",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO idempotency_keys (client_id, key, method, path, request_hash, response_status, response_body, completed_at)
             SELECT $1, tag, 'POST', '/v1/intents', md5(n::text), 201, '\\x7b7d', now() FROM preload_ids",
        )
        .bind(client)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO malipo_jobs (queue, kind, payload, state, max_attempts, dedupe_key, intent_id, finished_at)
             SELECT $1, $2, jsonb_build_object('intent_id', id), 'done', 8, $2 || ':' || id, id, now()
               FROM preload_ids",
        )
        .bind(InitiateDeposit::QUEUE)
        .bind(InitiateDeposit::KIND)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    analyze(pool).await
}

/// Adds `rows` processed Paystack inbox rows (and their finished jobs), as the webhook
/// endpoint would have left them.
pub async fn webhooks(pool: &PgPool, rows: i64) -> anyhow::Result<()> {
    let run = run_tag();
    for start in (0..rows).step_by(BATCH as usize) {
        let end = (start + BATCH).min(rows);
        let mut tx = pool.begin().await?;
        batch_ids(&mut tx, &run, start, end).await?;
        sqlx::query(
            r#"INSERT INTO webhook_inbox (id, provider, endpoint, event_key, body, status, processed_at)
               SELECT id, 'paystack', 'paystack', 'charge.success:' || tag,
                      convert_to('{"event":"charge.success","data":{"reference":"' || tag || '"}}', 'UTF8'),
                      'processed', now()
                 FROM preload_ids"#,
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO malipo_jobs (queue, kind, payload, state, max_attempts, finished_at)
             SELECT $1, $2, jsonb_build_object('inbox_id', id), 'done', 8, now() FROM preload_ids",
        )
        .bind(ProcessWebhook::QUEUE)
        .bind(ProcessWebhook::KIND)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    analyze(pool).await
}

/// `preload_ids` (row number, id, tag) for rows `start..end`, until the transaction commits.
async fn batch_ids(
    tx: &mut sqlx::PgConnection,
    run: &str,
    start: i64,
    end: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TEMP TABLE preload_ids ON COMMIT DROP AS
         SELECT n, gen_random_uuid() AS id, $3 || '-' || n AS tag
           FROM generate_series($1::bigint, $2::bigint - 1) AS n",
    )
    .bind(start)
    .bind(end)
    .bind(run)
    .execute(tx)
    .await?;
    Ok(())
}

/// Keeps one run's references and keys apart from an earlier run's on the same database.
fn run_tag() -> String {
    format!("preload-{}", Uuid::new_v4().simple())
}

/// Fresh planner statistics, as autovacuum would have gathered them by then.
async fn analyze(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("ANALYZE intents, intent_events, idempotency_keys, webhook_inbox, malipo_jobs")
        .execute(pool)
        .await?;
    Ok(())
}
