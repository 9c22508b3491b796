//! The hot statements find their rows by key whatever the size of their tables when they were
//! planned (migration 0128): a connection keeps a function's generic plan until an ANALYZE
//! invalidates it, and a plan made while `malipo_jobs` or `ledger_accounts` was a few pages
//! long scanned the whole table on every call once it had grown. Each test plans on a young
//! table, grows it with autovacuum held off (so no ANALYZE replans behind the test's back),
//! and reads what the next call scanned from the transaction's own statistics
//! (`pg_stat_xact_user_tables`, exact and immediate).

use malipo_testing::{TestDatabase, test_database};
use sqlx::{Connection, PgConnection};

use super::table_activity;

/// Rows added before the call that is checked: past the size where an index probe wins.
const GROWN_TO: i64 = 20_000;

/// Sequential scans and index-fetched rows of `table` in the current transaction so far.
async fn scans(conn: &mut PgConnection, table: &str) -> (i64, i64) {
    let activity = table_activity::of(conn, table).await;
    (activity.seq_scans, activity.fetched_by_index)
}

/// A connection of its own (plans are cached per connection), after `hold_off` turned
/// autovacuum off for the table under test.
async fn planner_connection(db: &TestDatabase, hold_off: &'static str) -> PgConnection {
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    sqlx::query(hold_off)
        .execute(&mut conn)
        .await
        .expect("hold off autovacuum");
    conn
}

/// A running job holding lease token 1, as a claim leaves it.
async fn running_job(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, state, locked_by,
                                  locked_until, lease_token)
         VALUES ('plans', 'noop', '{}', 3, 'running', 'test', now() + interval '1 hour', 1)
         RETURNING id",
    )
    .fetch_one(conn)
    .await
    .expect("a running job")
}

async fn complete(conn: &mut PgConnection, job: i64) {
    let done: Vec<i64> =
        sqlx::query_scalar("SELECT malipo_complete_done(ARRAY[$1::int8], ARRAY[1::int8])")
            .bind(job)
            .fetch_all(conn)
            .await
            .expect("complete");
    assert_eq!(done, vec![job], "the job is completed");
}

#[tokio::test]
async fn a_completion_planned_on_a_young_job_table_still_finds_its_job_by_key() {
    let db = test_database().await.expect("test database");
    let mut conn = planner_connection(
        &db,
        "ALTER TABLE malipo_jobs SET (autovacuum_enabled = false)",
    )
    .await;
    let first = running_job(&mut conn).await;
    complete(&mut conn, first).await;

    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, state, finished_at)
         SELECT 'plans', 'noop', '{}', 3, 'done', now() FROM generate_series(1, $1)",
    )
    .bind(GROWN_TO)
    .execute(&mut conn)
    .await
    .expect("grow the table");
    let second = running_job(&mut conn).await;

    let mut tx = conn.begin().await.expect("begin");
    complete(&mut tx, second).await;
    let (seq_scans, fetched) = scans(&mut tx, "malipo_jobs").await;
    assert_eq!(
        seq_scans, 0,
        "the completion read the whole job table ({fetched} rows fetched by index)"
    );
    assert!(fetched <= 2, "{fetched} jobs fetched to complete one");
}

#[tokio::test]
async fn a_posting_planned_on_a_young_ledger_still_finds_its_accounts_by_code() {
    let db = test_database().await.expect("test database");
    let mut conn = planner_connection(
        &db,
        "ALTER TABLE ledger_accounts SET (autovacuum_enabled = false)",
    )
    .await;
    let post = |key: &'static str| {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT inserted, written FROM malipo_post_ledger(
               $1, 'payout_sent', NULL, 'test',
               ARRAY['commission:TST', 'payouts_in_flight:TST'],
               ARRAY['platform_commission', 'payouts_in_flight'], ARRAY['KES', 'KES'],
               ARRAY[NULL, NULL]::uuid[], ARRAY[5, -5]::numeric[])",
        )
        .bind(key)
    };
    assert_eq!(
        post("plans:first")
            .fetch_one(&mut conn)
            .await
            .expect("post"),
        (1, 2)
    );

    sqlx::query(
        "INSERT INTO ledger_accounts (code, kind, currency)
         SELECT 'suspense:plans:' || n, 'suspense', 'KES' FROM generate_series(1, $1) AS n",
    )
    .bind(GROWN_TO)
    .execute(&mut conn)
    .await
    .expect("grow the ledger");

    let mut tx = conn.begin().await.expect("begin");
    assert_eq!(
        post("plans:second")
            .fetch_one(&mut *tx)
            .await
            .expect("post"),
        (1, 2)
    );
    let (seq_scans, fetched) = scans(&mut tx, "ledger_accounts").await;
    assert_eq!(
        seq_scans, 0,
        "the posting read every account ({fetched} rows fetched by index)"
    );
    tx.commit().await.expect("commit");
}

/// A connection whose statistics last saw the payouts queue with nothing waiting (2,000
/// finished jobs, then ANALYZE, as after a quiet spell), and 3,000 jobs of other payouts and
/// intents waiting since, which the statistics do not know of.
async fn waiting_jobs_the_statistics_missed(db: &TestDatabase) -> PgConnection {
    let mut conn = planner_connection(
        db,
        "ALTER TABLE malipo_jobs SET (autovacuum_enabled = false)",
    )
    .await;
    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, state, finished_at, intent_id)
         SELECT 'payouts', 'payout', '{}', 3, 'done', now(), gen_random_uuid()
           FROM generate_series(1, 2000)",
    )
    .execute(&mut conn)
    .await
    .expect("finished jobs");
    sqlx::query("ANALYZE malipo_jobs")
        .execute(&mut conn)
        .await
        .expect("statistics with nothing waiting");
    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, dedupe_key, intent_id, run_at)
         SELECT 'payouts', 'payout', '{}', 3, 'other:' || n, gen_random_uuid(),
                now() + interval '1 hour'
           FROM generate_series(1, 3000) AS n",
    )
    .execute(&mut conn)
    .await
    .expect("other payouts' waiting jobs");
    conn
}

/// A settled payout ends its waiting status check by the check's key (`queue::finish_waiting`,
/// and the same clause in `payouts::set_status`). Written with `state = 'pending'` beside the
/// key, the planner — whose statistics last saw the queue with nothing waiting, as after a
/// quiet spell — took the claim index and filtered every waiting job of the queue.
#[tokio::test]
async fn ending_a_waiting_job_reads_that_job_not_its_queue() {
    let db = test_database().await.expect("test database");
    let mut conn = waiting_jobs_the_statistics_missed(&db).await;
    let check = malipo_jobs::Payout {
        payout_id: uuid::Uuid::new_v4(),
        copy: None,
    };
    malipo::queue::enqueue(&mut conn, &check, Default::default())
        .await
        .expect("this payout's waiting check");

    let mut tx = conn.begin().await.expect("begin");
    let ended = malipo::queue::finish_waiting(&mut tx, &check)
        .await
        .expect("finish");
    assert!(ended, "the waiting check is ended");
    let (_, fetched) = scans(&mut tx, "malipo_jobs").await;
    assert!(
        fetched <= 2,
        "{fetched} jobs fetched to end one waiting check"
    );
}

/// Bringing an intent's waiting jobs forward (a cancel, the console's "retry payouts now") reads
/// that intent's jobs, not every waiting job, whatever the statistics last saw.
#[tokio::test]
async fn bringing_an_intents_jobs_forward_reads_that_intents_jobs() {
    let db = test_database().await.expect("test database");
    let mut conn = waiting_jobs_the_statistics_missed(&db).await;
    let intent = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, intent_id, run_at)
         VALUES ('payouts', 'payout', '{}', 3, $1, now() + interval '1 hour')",
    )
    .bind(intent)
    .execute(&mut conn)
    .await
    .expect("this intent's waiting job");

    let mut tx = conn.begin().await.expect("begin");
    let moved = malipo::queue::enqueue::run_now_for_intent(&mut tx, intent, "payout")
        .await
        .expect("bring forward");
    assert_eq!(moved, 1, "the intent's waiting job runs now");
    let (_, fetched) = scans(&mut tx, "malipo_jobs").await;
    assert!(
        fetched <= 2,
        "{fetched} jobs fetched to bring one intent's job forward"
    );
}
