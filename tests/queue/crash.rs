//! A worker process killed with SIGKILL mid-job: the job runs again after its lease expires,
//! exactly once more, under a new worker id.

use std::{process::Stdio, time::Duration};

use malipo::queue::{EnqueueOptions, JobOutcome, enqueue};
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

/// Enqueues a `noop` job scripted by `tag`, due after `delay_secs` (now when `None`).
async fn enqueue_noop(conn: &mut sqlx::PgConnection, tag: &str, delay_secs: Option<f64>) -> i64 {
    let options = EnqueueOptions {
        delay_secs,
        ..Default::default()
    };
    enqueue(conn, &Noop { tag: tag.into() }, options)
        .await
        .expect("enqueue")
        .id
}

#[tokio::test]
async fn a_killed_worker_s_job_runs_again_exactly_once_after_its_lease_expires() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("conn");
    let id = enqueue_noop(&mut conn, "sleep:1500", None).await;

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
    assert_eq!(
        effects_of(&db.pool, id).await,
        1,
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

/// Runs of job `id` whose effect (the `noop_ran` record) committed.
async fn effects_of(pool: &sqlx::PgPool, id: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM malipo_job_attempts WHERE job_id = $1 AND outcome = 'noop_ran'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("effects")
}

/// Transactional completion (issue #21): the effect and the job's own completion commit
/// together, so a worker SIGKILLed right after that commit — before its batched completion
/// writer ran — leaves a finished job that nothing runs again. Under the batch alone the job
/// stayed `running` until its lease expired, and the rescue ran the effect a second time.
#[tokio::test]
async fn a_worker_killed_after_its_effect_committed_leaves_the_job_done_and_never_reruns_it() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("conn");
    // Long enough that only the SIGKILL ends the run.
    let id = enqueue_noop(&mut conn, "effect-then-sleep:120000", None).await;

    let mut victim = spawn_worker(&db.url);
    let committed = eventually(Duration::from_secs(20), || async {
        effects_of(&db.pool, id).await == 1
    })
    .await;
    assert!(committed, "the worker process committed the job's effect");
    victim.kill().expect("SIGKILL");
    let _ = victim.wait();

    let (state, attempts, _) = job_state(&db.pool, id).await;
    assert_eq!(
        (state.as_str(), attempts),
        ("done", 1),
        "the completion committed with the effect, before the kill"
    );
    // A fresh worker, past the dead one's whole lease: a done job is never claimed or rescued.
    let runner = bench_runner(&db.pool, Duration::from_secs(3)).await;
    let sentinel = enqueue_noop(&mut conn, "sleep:0", Some(4.0)).await;
    let later = eventually(Duration::from_secs(30), || async {
        job_state(&db.pool, sentinel).await.0 == "done"
    })
    .await;
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(
        later,
        "the fresh worker ran a job due after the old lease ran out"
    );
    assert_eq!(job_state(&db.pool, id).await.0, "done");
    assert_eq!(
        effects_of(&db.pool, id).await,
        1,
        "the effect was applied once"
    );
}

/// The other half of the fence: a run whose lease was taken over (it outlived the lease and
/// the job was rescued and claimed again) cannot commit its effect; the holder of the new
/// lease applies it, once.
#[tokio::test]
async fn a_run_that_lost_its_lease_rolls_its_effect_back() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("conn");
    let id = enqueue_noop(&mut conn, "effect-then-sleep:0", None).await;
    let claimed = malipo::queue::claim::claim(
        &db.pool,
        malipo_jobs::queues::BENCH,
        "old-worker",
        10,
        Duration::from_secs(30),
    )
    .await
    .expect("claim");
    let old = claimed.into_iter().find(|j| j.id == id).expect("claimed");
    // Another worker's claim of the same row: a new token.
    sqlx::query("UPDATE malipo_jobs SET lease_token = lease_token + 1, locked_by = 'new-worker' WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .expect("take the lease over");
    let settings = malipo::settings::Settings::from_lookup(|_| None).expect("settings");
    let state = malipo::worker::WorkerState::build(db.pool.clone(), &settings).expect("state");
    let handlers = malipo::worker::handlers();

    let stale = handlers.run(old.clone(), state.clone()).await;
    assert!(
        matches!(&stale, JobOutcome::Retry { error, .. } if error.contains("no longer holds its lease")),
        "the stale run is refused: {stale:?}"
    );
    assert_eq!(effects_of(&db.pool, id).await, 0, "its effect rolled back");
    assert_eq!(job_state(&db.pool, id).await.0, "running");

    let current = malipo::queue::claim::ClaimedJob {
        lease_token: old.lease_token + 1,
        ..old
    };
    let fresh = handlers.run(current, state).await;
    assert_eq!(fresh, JobOutcome::DoneWithEffect);
    assert_eq!(effects_of(&db.pool, id).await, 1);
    assert_eq!(job_state(&db.pool, id).await.0, "done");
}
