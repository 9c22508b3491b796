//! Jobs listed by kind (the console's and `/ops/jobs`'s `?kind=`) are found through the bloom
//! ranges of `malipo_jobs_kind_ranges` (migration 0133), which a job's claims and completions
//! do not add entries to: a rare kind among many jobs reads the ranges that may hold it, not
//! the table.

use malipo::queue::{admin, filter::JobFilter};
use malipo_testing::test_database;

use super::table_activity;

/// Jobs of a common kind before the rare ones.
const COMMON: i64 = 60_000;

#[tokio::test]
async fn a_rare_kind_is_listed_from_the_ranges_that_hold_it() {
    let db = test_database().await.expect("database");
    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, state, finished_at)
         SELECT 'webhooks', 'process_webhook', '{}', 3, 'done', now() FROM generate_series(1, $1)",
    )
    .bind(COMMON)
    .execute(&db.pool)
    .await
    .expect("common jobs");
    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts)
         SELECT 'reconcile', 'reconcile_mpesa', '{}', 3 FROM generate_series(1, 5)",
    )
    .execute(&db.pool)
    .await
    .expect("rare jobs");
    // What autovacuum does as ranges fill (`autosummarize`), and its statistics.
    sqlx::query("SELECT brin_summarize_new_values('malipo_jobs_kind_ranges')")
        .execute(&db.pool)
        .await
        .expect("summarize");
    sqlx::query("ANALYZE malipo_jobs")
        .execute(&db.pool)
        .await
        .expect("analyze");

    let mut tx = db.pool.begin().await.expect("begin");
    // The connection's counts not yet flushed (the set-up's scans) come along: what the
    // listing read is the difference.
    let before = table_activity::of(&mut tx, "malipo_jobs").await;
    let filter = JobFilter {
        kind: Some("reconcile_mpesa".to_owned()),
        ..JobFilter::default()
    };
    let listed = admin::list(&mut *tx, &filter, None, 50)
        .await
        .expect("list");
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|job| job.kind == "reconcile_mpesa"));
    let after = table_activity::of(&mut tx, "malipo_jobs").await;
    assert_eq!(after.seq_scans, before.seq_scans, "no sequential scan");
    // Walking the table backwards by id would fetch every common job first.
    let fetched = after.fetched_by_index - before.fetched_by_index;
    assert!(fetched < COMMON / 10, "{fetched} rows fetched for 5 jobs");
}
