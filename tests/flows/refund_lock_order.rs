//! A refund asked again links the failed refund it follows. The job used to lock the intent and
//! then the failed payout, the reverse of every path applying a provider's answer (payout, then
//! intent): a late answer about the failed refund, arriving while the job ran, deadlocked with
//! it, and PostgreSQL aborted one of the two.

use serde_json::json;
use uuid::Uuid;

use super::{
    money_truth::{
        LIMIT, assert_second_refund_follows_the_failed_one, held_after_a_failed_refund, refund,
    },
    support::Harness,
};

#[tokio::test]
async fn a_refund_asked_again_waits_for_a_late_answer_about_the_failed_one_without_deadlock() {
    let harness = Harness::start().await;
    let id = held_after_a_failed_refund(&harness).await;
    let intent = Uuid::parse_str(&id).expect("uuid");
    let failed: Uuid = sqlx::query_scalar(
        "SELECT id FROM payouts WHERE intent_id = $1 AND kind = 'refund' AND status = 'failed'",
    )
    .bind(intent)
    .fetch_one(&harness.pool)
    .await
    .expect("the failed refund");

    // A late answer about the failed refund takes the locks the answer path takes: the payout
    // first, then (below) its intent.
    let mut late = harness.pool.begin().await.expect("begin");
    let late_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *late)
        .await
        .expect("pid");
    sqlx::query("SELECT 1 FROM payouts WHERE id = $1 FOR UPDATE")
        .bind(failed)
        .execute(&mut *late)
        .await
        .expect("lock the failed refund");

    // The refund asked again: its job reaches the failed payout and waits for the late answer.
    // Counted by the job's statement (the lock taken now, or the link it used to wait in), as
    // the processing of the failed refund's own late webhook may wait on the same lock.
    assert_eq!(refund(&harness, &id, json!({})).await.status(), 202);
    let job_waits = malipo_testing::eventually(LIMIT, || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE $1 = ANY (pg_blocking_pids(pid)) AND query LIKE '%superseded_by IS NULL%'",
        )
        .bind(late_pid)
        .fetch_one(&harness.pool)
        .await
        .expect("activity");
        waiting >= 1
    })
    .await;
    assert!(job_waits, "the refund job never reached the failed payout");

    // The late answer's intent lock: free, because the job waits before taking it. Before the
    // fix the job held it, and one of the two was aborted as a deadlock a second later.
    sqlx::query("SET LOCAL lock_timeout = '20s'")
        .execute(&mut *late)
        .await
        .expect("lock timeout");
    sqlx::query("SELECT 1 FROM intents WHERE id = $1 FOR UPDATE")
        .bind(intent)
        .execute(&mut *late)
        .await
        .expect("the late answer locks the intent: the waiting refund job does not hold it");
    late.commit().await.expect("commit the late answer");

    let refunded = harness.wait_for(&id, "refunded", LIMIT).await;
    let (attempts, last_error): (i32, Option<String>) = sqlx::query_as(
        "SELECT attempts, last_error FROM malipo_jobs
          WHERE kind = 'refund' AND intent_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(intent)
    .fetch_one(&harness.pool)
    .await
    .expect("the second refund's job");
    assert_eq!(
        (attempts, last_error),
        (1, None),
        "the refund asked again ran once, without a deadlock"
    );
    assert_second_refund_follows_the_failed_one(&refunded);
    harness.assert_ledger_sound().await;
}
