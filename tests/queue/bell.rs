//! Waking workers after a commit (migration 0125, `queue::bell`): a statement whose writer
//! rings the bell itself issues no NOTIFY from inside its transaction — a transaction that
//! notifies commits under one cluster-wide lock held through its WAL flush — while every other
//! statement, in the same transaction too, is notified as before.

use std::time::Duration;

use malipo::queue::{
    EnqueueOptions,
    bell::{JobBell, Wake},
    enqueue,
    wake::CHANNEL,
};
use malipo_jobs::{Job, Noop};
use malipo_testing::test_database;
use sqlx::postgres::{PgListener, PgNotification};

const LIMIT: Duration = Duration::from_secs(20);

async fn next(listener: &mut PgListener) -> PgNotification {
    tokio::time::timeout(LIMIT, listener.recv())
        .await
        .expect("a notification in time")
        .expect("the listener's connection")
}

#[tokio::test]
async fn a_statement_that_rings_itself_sends_no_notify_and_the_next_statement_does() {
    let db = test_database().await.expect("database");
    let mut listener = PgListener::connect_with(&db.pool).await.expect("listener");
    listener.listen(CHANNEL).await.expect("listen");
    let mut tx = db.pool.begin().await.expect("begin");
    let quiet = EnqueueOptions {
        wake: Wake::CallerRings,
        ..Default::default()
    };
    enqueue(
        &mut tx,
        &Noop {
            tag: "quiet".into(),
        },
        quiet,
    )
    .await
    .expect("enqueue");
    // Notifications arrive in the order the transaction sent them: the marker is first only
    // when the quiet statement sent none.
    sqlx::query("SELECT pg_notify($1, 'marker')")
        .bind(CHANNEL)
        .execute(&mut *tx)
        .await
        .expect("marker");
    enqueue(
        &mut tx,
        &Noop { tag: "loud".into() },
        EnqueueOptions::default(),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    assert_eq!(next(&mut listener).await.payload(), "marker");
    assert_eq!(
        next(&mut listener).await.payload(),
        Noop::QUEUE,
        "the statement after the quiet one is notified by the trigger"
    );
}

#[tokio::test]
async fn rings_go_out_as_notifications_for_their_queues() {
    let db = test_database().await.expect("database");
    let mut listener = PgListener::connect_with(&db.pool).await.expect("listener");
    listener.listen(CHANNEL).await.expect("listen");
    let bell = JobBell::new(db.pool.clone());
    bell.ring("webhooks");
    bell.ring("payouts");
    let mut heard = vec![
        next(&mut listener).await.payload().to_owned(),
        next(&mut listener).await.payload().to_owned(),
    ];
    heard.sort();
    assert_eq!(heard, ["payouts", "webhooks"]);
}

#[tokio::test]
async fn the_trigger_stays_quiet_only_about_the_queue_named_and_only_for_one_statement() {
    let db = test_database().await.expect("database");
    let mut listener = PgListener::connect_with(&db.pool).await.expect("listener");
    listener.listen(CHANNEL).await.expect("listen");
    let mut tx = db.pool.begin().await.expect("begin");
    sqlx::query(
        "WITH quiet AS (SELECT set_config('malipo.rings_itself', 'bench', true))
         INSERT INTO malipo_jobs (queue, kind, payload, max_attempts)
         SELECT q, 'noop', '{}', 1 FROM quiet, unnest(ARRAY['bench', 'webhooks']) AS q",
    )
    .execute(&mut *tx)
    .await
    .expect("two queues in one statement");
    sqlx::query("SELECT pg_notify($1, 'marker')")
        .bind(CHANNEL)
        .execute(&mut *tx)
        .await
        .expect("marker");
    sqlx::query("INSERT INTO malipo_jobs (queue, kind, payload, max_attempts) VALUES ('bench', 'noop', '{}', 1)")
        .execute(&mut *tx)
        .await
        .expect("the next statement");
    tx.commit().await.expect("commit");
    assert_eq!(
        next(&mut listener).await.payload(),
        "webhooks",
        "the other queue of the quiet statement is notified, and only it"
    );
    assert_eq!(next(&mut listener).await.payload(), "marker");
    assert_eq!(
        next(&mut listener).await.payload(),
        "bench",
        "the setting lasted one statement"
    );
}

#[tokio::test]
async fn a_callbacks_admission_leaves_its_wake_up_to_the_ring() {
    use malipo::{
        db::inbox::{self, Admission, Received, Reception},
        providers::InboxEndpoint,
    };
    let db = test_database().await.expect("database");
    let mut listener = PgListener::connect_with(&db.pool).await.expect("listener");
    listener.listen(CHANNEL).await.expect("listen");
    let mut tx = db.pool.begin().await.expect("begin");
    let delivery = Received {
        provider: "paystack",
        endpoint: InboxEndpoint::Paystack,
        event_key: "charge.success:bell",
        subject: None,
        body: b"{}",
        admit: Admission::Any,
    };
    let reception = inbox::insert_received(&mut *tx, &delivery)
        .await
        .expect("stored");
    assert_eq!(reception, Reception::Queued);
    sqlx::query("SELECT pg_notify($1, 'marker')")
        .bind(CHANNEL)
        .execute(&mut *tx)
        .await
        .expect("marker");
    tx.commit().await.expect("commit");
    assert_eq!(next(&mut listener).await.payload(), "marker");
}

/// Migration 0126: the update trigger passes only a row that becomes pending and due, so a
/// claim, a completion or a snooze into the future runs no trigger function and sends nothing,
/// while a job made due again (a retry, an operator's retry) still wakes the workers.
#[tokio::test]
async fn only_a_job_that_becomes_due_is_notified() {
    let db = test_database().await.expect("database");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts) VALUES ('bench', 'noop', '{}', 3) RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("job");
    let mut listener = PgListener::connect_with(&db.pool).await.expect("listener");
    listener.listen(CHANNEL).await.expect("listen");
    let mut tx = db.pool.begin().await.expect("begin");
    // Counts the transaction's plpgsql calls (a superuser setting: the test cluster's own user
    // is one; a `DATABASE_URL` whose role is not fails here, saying so).
    sqlx::query("SET LOCAL track_functions = 'pl'")
        .execute(&mut *tx)
        .await
        .expect("track functions");
    let moves = [
        "UPDATE malipo_jobs SET state = 'running', locked_until = now() + interval '1 minute' WHERE id = $1",
        "UPDATE malipo_jobs SET state = 'pending', run_at = now() + interval '1 hour' WHERE id = $1",
        "UPDATE malipo_jobs SET state = 'done', finished_at = now() WHERE id = $1",
    ];
    for statement in moves {
        sqlx::query(statement)
            .bind(id)
            .execute(&mut *tx)
            .await
            .expect(statement);
    }
    let calls: Vec<(String, i64)> =
        sqlx::query_as("SELECT funcname::text, calls FROM pg_stat_xact_user_functions")
            .fetch_all(&mut *tx)
            .await
            .expect("function calls");
    assert!(
        calls.is_empty(),
        "a claim, a snooze and a completion call no trigger function: {calls:?}"
    );
    sqlx::query("SELECT pg_notify($1, 'marker')")
        .bind(CHANNEL)
        .execute(&mut *tx)
        .await
        .expect("marker");
    sqlx::query("UPDATE malipo_jobs SET state = 'pending', run_at = now(), finished_at = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("due again");
    tx.commit().await.expect("commit");
    assert_eq!(
        next(&mut listener).await.payload(),
        "marker",
        "a claim, a snooze into the future and a completion send nothing"
    );
    assert_eq!(
        next(&mut listener).await.payload(),
        "bench",
        "a job made due again wakes the workers"
    );
}

/// A lease given back (`release`, `release_all`: running → pending with `run_at` already past
/// and unchanged) makes the job due again without moving `run_at`: still notified.
#[tokio::test]
async fn a_lease_given_back_is_notified() {
    let db = test_database().await.expect("database");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, state, locked_until)
         VALUES ('bench', 'noop', '{}', 3, 'running', now() + interval '1 minute') RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a running job");
    let mut listener = PgListener::connect_with(&db.pool).await.expect("listener");
    listener.listen(CHANNEL).await.expect("listen");
    sqlx::query("UPDATE malipo_jobs SET state = 'pending', locked_until = NULL WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .expect("give the lease back");
    assert_eq!(next(&mut listener).await.payload(), "bench");
}
