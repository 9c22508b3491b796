//! Enqueue inside transactions, dedupe, claim, fencing and pause.

use std::time::Duration;

use malipo::queue::{
    EnqueueOptions, JobOutcome, claim, complete, enqueue, filter::JobState, outcome::Resolution,
    pause,
};
use malipo_jobs::{ConfirmDeposit, Job, Noop};
use malipo_testing::test_database;
use uuid::Uuid;

#[tokio::test]
async fn a_rolled_back_transaction_leaves_no_job() {
    let db = test_database().await.expect("database");
    let mut tx = db.pool.begin().await.expect("begin");
    enqueue(&mut tx, &Noop::default(), EnqueueOptions::default())
        .await
        .expect("enqueue");
    tx.rollback().await.expect("rollback");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM malipo_jobs")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_duplicate_dedupe_key_returns_the_existing_job_without_aborting_the_transaction() {
    let db = test_database().await.expect("database");
    let job = ConfirmDeposit {
        intent_id: Uuid::new_v4(),
    };
    let mut tx = db.pool.begin().await.expect("begin");
    let first = enqueue(&mut tx, &job, EnqueueOptions::default())
        .await
        .expect("first");
    let second = enqueue(&mut tx, &job, EnqueueOptions::default())
        .await
        .expect("second is not an error");
    assert!(first.created && !second.created);
    assert_eq!(first.id, second.id);
    // The transaction is still usable after the conflict.
    sqlx::query("SELECT 1")
        .execute(&mut *tx)
        .await
        .expect("transaction still usable");
    tx.commit().await.expect("commit");

    // Across transactions too, including a concurrent one.
    let (a, b) = tokio::join!(
        async {
            let mut tx = db.pool.begin().await.expect("begin");
            let id = enqueue(&mut tx, &job, EnqueueOptions::default())
                .await
                .expect("enqueue");
            tx.commit().await.expect("commit");
            id
        },
        async {
            let mut tx = db.pool.begin().await.expect("begin");
            let id = enqueue(&mut tx, &job, EnqueueOptions::default())
                .await
                .expect("enqueue");
            tx.commit().await.expect("commit");
            id
        }
    );
    assert_eq!((a.id, b.id), (first.id, first.id));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM malipo_jobs")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_cannot_complete_the_job() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("conn");
    let enqueued = enqueue(&mut conn, &Noop::default(), EnqueueOptions::default())
        .await
        .expect("enqueue");
    let lease = Duration::from_secs(30);

    let first = claim::claim(&db.pool, Noop::QUEUE, "worker-a", 10, lease)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    // Worker A stalls: its lease runs out and any worker rescues the job.
    sqlx::query("UPDATE malipo_jobs SET locked_until = now() - interval '1 s'")
        .execute(&db.pool)
        .await
        .expect("expire");
    assert_eq!(claim::rescue_expired(&db.pool).await.expect("rescue"), 1);
    let second = claim::claim(&db.pool, Noop::QUEUE, "worker-b", 10, lease)
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    assert!(second[0].lease_token > first[0].lease_token);

    let done = Resolution {
        state: JobState::Done,
        delay: Duration::ZERO,
        error: None,
        attempt_label: None,
        refund_attempt: false,
    };
    let late = complete::Completion {
        id: enqueued.id,
        lease_token: first[0].lease_token,
        resolution: done.clone(),
        worker: "worker-a".into(),
    };
    let stale = complete::write_batch(&db.pool, &[late])
        .await
        .expect("write");
    assert_eq!(stale, vec![enqueued.id], "the late completion is discarded");
    let (state, attempts, _) = super::support::job_state(&db.pool, enqueued.id).await;
    assert_eq!((state.as_str(), attempts), ("running", 2));

    let current = complete::Completion {
        id: enqueued.id,
        lease_token: second[0].lease_token,
        resolution: done,
        worker: "worker-b".into(),
    };
    assert!(
        complete::write_batch(&db.pool, &[current])
            .await
            .expect("write")
            .is_empty()
    );
    assert_eq!(
        super::support::job_state(&db.pool, enqueued.id).await.0,
        "done"
    );
}

#[tokio::test]
async fn expired_leases_on_the_last_attempt_go_dead_with_a_reason() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("conn");
    let enqueued = enqueue(&mut conn, &Noop::default(), EnqueueOptions::default())
        .await
        .expect("enqueue");
    sqlx::query("UPDATE malipo_jobs SET max_attempts = 1")
        .execute(&db.pool)
        .await
        .expect("one attempt");
    claim::claim(
        &db.pool,
        Noop::QUEUE,
        "worker-a",
        10,
        Duration::from_secs(30),
    )
    .await
    .expect("claim");
    sqlx::query("UPDATE malipo_jobs SET locked_until = now() - interval '1 s'")
        .execute(&db.pool)
        .await
        .expect("expire");
    claim::rescue_expired(&db.pool).await.expect("rescue");
    let (state, _, error) = super::support::job_state(&db.pool, enqueued.id).await;
    assert_eq!(state, "dead");
    assert!(error.is_some_and(|e| e.contains("lease expired")));
}

#[tokio::test]
async fn a_paused_queue_is_not_claimed_until_resumed() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("conn");
    enqueue(&mut conn, &Noop::default(), EnqueueOptions::default())
        .await
        .expect("enqueue");
    pause::set_paused(&db.pool, Noop::QUEUE, true)
        .await
        .expect("pause");
    assert!(pause::is_paused(&db.pool, Noop::QUEUE).await.expect("read"));
    let claimed = claim::claim(&db.pool, Noop::QUEUE, "w", 10, Duration::from_secs(30))
        .await
        .expect("claim");
    assert!(claimed.is_empty());
    pause::set_paused(&db.pool, Noop::QUEUE, false)
        .await
        .expect("resume");
    let claimed = claim::claim(&db.pool, Noop::QUEUE, "w", 10, Duration::from_secs(30))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
}

#[tokio::test]
async fn pause_stops_running_workers_within_a_second() {
    let db = test_database().await.expect("database");
    let runner = super::support::bench_runner(&db.pool, Duration::from_secs(30)).await;
    pause::set_paused(&db.pool, Noop::QUEUE, true)
        .await
        .expect("pause");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut conn = db.pool.acquire().await.expect("conn");
    let job = enqueue(&mut conn, &Noop::default(), EnqueueOptions::default())
        .await
        .expect("enqueue");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        super::support::job_state(&db.pool, job.id).await.0,
        "pending",
        "paused queue must not run"
    );
    pause::set_paused(&db.pool, Noop::QUEUE, false)
        .await
        .expect("resume");
    let ran = super::support::eventually(Duration::from_secs(3), || async {
        super::support::job_state(&db.pool, job.id).await.0 == "done"
    })
    .await;
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(ran, "resumed queue runs the job");
}

#[tokio::test]
async fn snooze_returns_the_job_without_spending_an_attempt() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("conn");
    let enqueued = enqueue(&mut conn, &Noop::default(), EnqueueOptions::default())
        .await
        .expect("enqueue");
    let claimed = claim::claim(&db.pool, Noop::QUEUE, "w", 10, Duration::from_secs(30))
        .await
        .expect("claim");
    let resolution = JobOutcome::Snooze {
        after: Duration::from_secs(60),
    }
    .resolve(
        claimed[0].attempts,
        claimed[0].max_attempts,
        &Noop::POLICY,
        0.5,
    );
    let completion = complete::Completion {
        id: enqueued.id,
        lease_token: claimed[0].lease_token,
        resolution,
        worker: "w".into(),
    };
    complete::write_batch(&db.pool, &[completion])
        .await
        .expect("write");
    let (state, attempts, _) = super::support::job_state(&db.pool, enqueued.id).await;
    assert_eq!((state.as_str(), attempts), ("pending", 0));
    let delay: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM run_at - now())::float8 FROM malipo_jobs WHERE id = $1",
    )
    .bind(enqueued.id)
    .fetch_one(&db.pool)
    .await
    .expect("run_at");
    assert!(
        (55.0..=61.0).contains(&delay),
        "snoozed for about 60 s, got {delay}"
    );
}
