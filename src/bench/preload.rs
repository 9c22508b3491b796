//! Rows "already there" for the growth runs of `bench intake`, `bench webhooks` and `bench e2e`:
//! earlier traffic's intents (with their events, idempotency keys and finished jobs), webhook
//! inbox rows, and whole settled lifecycles, written by PostgreSQL itself in batches, so a rate
//! can be compared at an empty database and at 1M rows.

use malipo_jobs::{InitiateDeposit, Job, Payout, ProcessWebhook, ReleaseEscrow};
use sqlx::PgPool;
use uuid::Uuid;

/// Rows written per statement.
const BATCH: i64 = 100_000;

/// Adds `rows` settled intents of `client` — each with two events, its idempotency key and a
/// finished job — as the intake endpoint would have left them.
pub async fn intents(pool: &PgPool, client: Uuid, rows: i64) -> anyhow::Result<()> {
    intents_in_batches(pool, client, rows, false).await
}

/// Adds `rows` settled M-Pesa escrow lifecycles of `client`, as `bench e2e` leaves them: the
/// intents of [`intents`], plus per lifecycle five processed callbacks in the inbox, two
/// succeeded payouts (payee and commission), the finished jobs that ran them (one
/// `initiate_deposit`, five `process_webhook`, one `release_escrow`, two `payout`), and the
/// ledger: an escrow account and a deposit and a payout posting (four entries), the provider
/// clearing side on the one shared clearing account the live lifecycles post to as well.
pub async fn lifecycles(pool: &PgPool, client: Uuid, rows: i64) -> anyhow::Result<()> {
    intents_in_batches(pool, client, rows, true).await
}

/// Writes `rows` intents in batches of [`BATCH`], each batch with what settling left when
/// `settled_through` is set.
async fn intents_in_batches(
    pool: &PgPool,
    client: Uuid,
    rows: i64,
    settled_through: bool,
) -> anyhow::Result<()> {
    let run = run_tag();
    for start in (0..rows).step_by(BATCH as usize) {
        let end = (start + BATCH).min(rows);
        let mut tx = pool.begin().await?;
        batch_ids(&mut tx, &run, start, end).await?;
        insert_intents(&mut tx, client).await?;
        if settled_through {
            insert_settlements(&mut tx).await?;
        }
        tx.commit().await?;
    }
    analyze(pool).await
}

/// The intents of the batch in `preload_ids`, with their events, keys and first job.
async fn insert_intents(tx: &mut sqlx::PgConnection, client: Uuid) -> Result<(), sqlx::Error> {
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
    Ok(())
}

/// What settling the batch's intents left: callbacks, payouts, finished jobs, ledger.
async fn insert_settlements(tx: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO webhook_inbox (id, provider, endpoint, event_key, body, status, processed_at)
           SELECT gen_random_uuid(), 'mpesa', 'mpesa_' || e.name, e.name || ':' || tag,
                  convert_to('{"preloaded":"' || tag || '"}', 'UTF8'), 'processed', now()
             FROM preload_ids,
                  (VALUES ('stk'), ('b2c_payee'), ('b2c_commission'), ('b2c_payee_again'), ('b2c_commission_again')) AS e (name)"#,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        r#"INSERT INTO payouts (id, intent_id, kind, amount, currency, provider, destination, reference, status, initiated_at)
           SELECT gen_random_uuid(), p.id, k.kind, i.amount * k.share, 'KES', 'mpesa',
                  '{"provider":"mpesa","msisdn":"254700000001"}', k.kind || '-' || p.tag, 'succeeded', now()
             FROM preload_ids p JOIN intents i ON i.id = p.id,
                  (VALUES ('payee', 0.975), ('commission', 0.025)) AS k (kind, share)"#,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, state, max_attempts, intent_id, finished_at)
         SELECT j.queue, j.kind, jsonb_build_object('intent_id', p.id), 'done', 8, p.id, now()
           FROM preload_ids p,
                (VALUES ($1, $2), ($1, $2), ($1, $2), ($1, $2), ($1, $2), ($3, $4), ($5, $6), ($5, $6))
                  AS j (queue, kind)",
    )
    .bind(ProcessWebhook::QUEUE)
    .bind(ProcessWebhook::KIND)
    .bind(ReleaseEscrow::QUEUE)
    .bind(ReleaseEscrow::KIND)
    .bind(Payout::QUEUE)
    .bind(Payout::KIND)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO ledger_accounts (code, kind, currency)
         VALUES ('clearing:mpesa:KES', 'provider_clearing', 'KES') ON CONFLICT (code) DO NOTHING",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO ledger_accounts (code, kind, currency, intent_id)
         SELECT 'escrow:' || id, 'escrow', 'KES', id FROM preload_ids",
    )
    .execute(&mut *tx)
    .await?;
    // Debits positive: a deposit debits clearing and credits escrow; the payout the reverse.
    sqlx::query(
        "WITH posted AS (
             INSERT INTO ledger_transactions (idempotency_key, kind, intent_id)
             SELECT 'preload:' || k.kind || ':' || p.id, k.kind, p.id
               FROM preload_ids p, (VALUES ('deposit'), ('payout_succeeded')) AS k (kind)
             RETURNING id, kind, intent_id)
         INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
         SELECT t.id, a.id, 'KES',
                i.amount * CASE WHEN (t.kind = 'deposit') = side.clearing THEN 1 ELSE -1 END
           FROM posted t
           JOIN intents i ON i.id = t.intent_id
           CROSS JOIN (VALUES (true), (false)) AS side (clearing)
           JOIN ledger_accounts a
             ON a.code = CASE WHEN side.clearing THEN 'clearing:mpesa:KES' ELSE 'escrow:' || t.intent_id END",
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
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
    sqlx::query(
        "ANALYZE intents, intent_events, idempotency_keys, webhook_inbox, malipo_jobs, payouts,
                 ledger_accounts, ledger_transactions, ledger_entries",
    )
    .execute(pool)
    .await?;
    Ok(())
}
