//! A worker process killed with SIGKILL mid-job: the job runs again after its lease expires,
//! exactly once more, under a new worker id.

use std::{process::Stdio, time::Duration};

use malipo::queue::{EnqueueOptions, enqueue};
use malipo_jobs::Noop;
use malipo_testing::test_database;

use super::support::{bench_runner, eventually, job_state};

fn spawn_worker(database_url: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_malipo"))
        .arg("work")
        .env("DATABASE_URL", database_url)
        .env("MALIPO_QUEUES", malipo_jobs::queues::BENCH)
        .env("MALIPO_JOB_LEASE", "3s")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker process starts")
}

#[tokio::test]
async fn a_killed_worker_s_job_runs_again_exactly_once_after_its_lease_expires() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("conn");
    let id = enqueue(
        &mut conn,
        &Noop {
            tag: "sleep:1500".into(),
        },
        EnqueueOptions::default(),
    )
    .await
    .expect("enqueue")
    .id;

    let mut victim = spawn_worker(&db.url);
    let claimed = eventually(Duration::from_secs(20), || async {
        job_state(&db.pool, id).await.0 == "running"
    })
    .await;
    assert!(claimed, "the worker process claimed the job");
    let victim_id: String = sqlx::query_scalar("SELECT locked_by FROM malipo_jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("owner");
    victim.kill().expect("SIGKILL");
    let _ = victim.wait();

    // A fresh worker (another id) rescues the job once the 3 s lease has run out.
    let runner = bench_runner(&db.pool, Duration::from_secs(3)).await;
    let rerun = eventually(Duration::from_secs(20), || async {
        job_state(&db.pool, id).await.0 == "done"
    })
    .await;
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(rerun, "the job ran again and finished");

    let (_, attempts, _) = job_state(&db.pool, id).await;
    assert_eq!(attempts, 2, "one killed run, one completed run");
    let completed_runs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM malipo_job_attempts WHERE job_id = $1 AND outcome = 'noop_ran'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("runs");
    assert_eq!(
        completed_runs, 1,
        "the killed run never completed; the rescue ran exactly once"
    );
    let rescued: i64 = sqlx::query_scalar("SELECT count(*) FROM malipo_job_attempts WHERE job_id = $1 AND outcome = 'lease_expired' AND error LIKE '%' || $2 || '%'")
        .bind(id)
        .bind(&victim_id)
        .fetch_one(&db.pool)
        .await
        .expect("rescue record");
    assert_eq!(rescued, 1);
}
