//! Workers ride out a PostgreSQL outage: the server stops for 40 s with jobs in flight, starts
//! again, and every job still finishes. Its own test binary, because stopping the shared test
//! cluster would disturb every other test in the process.

use std::time::Duration;

use malipo::{
    queue::{EnqueueOptions, QueueSettings, Runner, enqueue},
    testing::{restart_cluster, test_database},
    worker::{self, WorkerState},
};
use malipo_jobs::Noop;

async fn count(pool: &sqlx::PgPool, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM malipo_jobs WHERE state = $1")
        .bind(state)
        .fetch_one(pool)
        .await
        .unwrap_or(-1)
}

#[tokio::test]
async fn workers_recover_from_a_40_second_outage_without_losing_a_job() {
    if std::env::var("DATABASE_URL").is_ok() {
        eprintln!("skipped: the outage test needs the throwaway cluster (DATABASE_URL is set)");
        return;
    }
    let db = test_database().await.expect("database");
    let settings = QueueSettings {
        queues: vec![malipo_jobs::queues::BENCH.to_owned()],
        concurrency: 8,
        lease: Duration::from_secs(10),
        heartbeat: Duration::from_secs(1),
        poll_interval: Duration::from_millis(200),
        ..QueueSettings::default()
    };
    let runner = Runner::start(
        db.pool.clone(),
        settings,
        worker::handlers(),
        WorkerState::new(db.pool.clone(), Default::default(), Default::default()),
    )
    .await
    .expect("workers");

    let mut ids = Vec::new();
    let mut conn = db.pool.acquire().await.expect("conn");
    for _ in 0..120 {
        ids.push(
            enqueue(
                &mut conn,
                &Noop {
                    tag: "sleep:100".into(),
                },
                EnqueueOptions::default(),
            )
            .await
            .expect("enqueue")
            .id,
        );
    }
    drop(conn);
    // Let some jobs finish and some be in flight when the server goes away.
    tokio::time::sleep(Duration::from_millis(400)).await;
    restart_cluster(Duration::from_secs(40))
        .await
        .expect("restart the cluster");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        if count(&db.pool, "done").await == ids.len() as i64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs did not all finish after the outage"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // New work is still picked up after the outage.
    let mut conn = db.pool.acquire().await.expect("conn after outage");
    let late = enqueue(&mut conn, &Noop::default(), EnqueueOptions::default())
        .await
        .expect("enqueue after outage")
        .id;
    drop(conn);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state: String = sqlx::query_scalar("SELECT state FROM malipo_jobs WHERE id = $1")
            .bind(late)
            .fetch_one(&db.pool)
            .await
            .expect("state");
        if state == "done" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job enqueued after the outage did not run"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    runner.shutdown(Duration::from_secs(5)).await;
    assert_eq!(count(&db.pool, "dead").await, 0);
    assert_eq!(
        count(&db.pool, "pending").await + count(&db.pool, "running").await,
        0
    );
}
