//! Outcomes through real workers: retries spaced by the policy, dead letters with every
//! attempt's error, permanent failures, panics.

use std::time::Duration;

use malipo::{
    queue::{EnqueueOptions, QueueSettings, Runner, enqueue},
    worker::{self, WorkerState},
};
use malipo_jobs::{Job, Noop};
use malipo_testing::test_database;

use super::support::{bench_runner, eventually, job_state};

async fn enqueue_tag(pool: &sqlx::PgPool, tag: &str) -> i64 {
    let mut conn = pool.acquire().await.expect("conn");
    enqueue(
        &mut conn,
        &Noop {
            tag: tag.to_owned(),
        },
        EnqueueOptions::default(),
    )
    .await
    .expect("enqueue")
    .id
}

/// Seconds between the last write and `run_at`: the backoff the queue chose.
async fn stored_delay(pool: &sqlx::PgPool, id: i64) -> f64 {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM run_at - updated_at)::float8 FROM malipo_jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("delay")
}

#[tokio::test]
async fn retries_are_spaced_by_the_policy_then_the_job_dies_with_every_error() {
    let db = test_database().await.expect("database");
    let runner = bench_runner(&db.pool, Duration::from_secs(30)).await;
    let id = enqueue_tag(&db.pool, "fail").await;
    let policy = Noop::POLICY;

    for attempt in 1..policy.max_attempts {
        let retried = eventually(Duration::from_secs(5), || async {
            let (state, attempts, _) = job_state(&db.pool, id).await;
            state == "pending" && attempts == attempt as i32
        })
        .await;
        assert!(retried, "attempt {attempt} was retried");
        let delay = stored_delay(&db.pool, id).await;
        let ceiling = policy.ceiling(attempt).as_secs_f64();
        assert!(
            (0.0..=ceiling + 0.01).contains(&delay),
            "attempt {attempt}: delay {delay} outside [0, {ceiling}]"
        );
        // Fast-forward instead of sleeping through the backoff.
        sqlx::query("UPDATE malipo_jobs SET run_at = now() WHERE id = $1")
            .bind(id)
            .execute(&db.pool)
            .await
            .expect("fast-forward");
    }
    let dead = eventually(Duration::from_secs(5), || async {
        job_state(&db.pool, id).await.0 == "dead"
    })
    .await;
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(dead, "exhausted job is dead");
    let (_, attempts, error) = job_state(&db.pool, id).await;
    assert_eq!(attempts, policy.max_attempts as i32);
    assert!(
        error.is_some_and(|e| e.contains("attempts exhausted") && e.contains("scripted failure"))
    );
    let errors: Vec<(i32, String)> = sqlx::query_as(
        "SELECT attempt, error FROM malipo_job_attempts WHERE job_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .expect("attempts");
    assert_eq!(
        errors
            .iter()
            .map(|(attempt, _)| *attempt)
            .collect::<Vec<_>>(),
        (1..=policy.max_attempts as i32).collect::<Vec<_>>()
    );
    assert!(
        errors
            .iter()
            .all(|(_, error)| error.contains("scripted failure"))
    );
}

#[tokio::test]
async fn a_permanent_error_is_dead_after_one_attempt_and_a_panic_is_retried() {
    let db = test_database().await.expect("database");
    let runner = bench_runner(&db.pool, Duration::from_secs(30)).await;
    let permanent = enqueue_tag(&db.pool, "permanent").await;
    let panicking = enqueue_tag(&db.pool, "panic").await;
    let fine = enqueue_tag(&db.pool, "").await;
    let settled = eventually(Duration::from_secs(5), || async {
        job_state(&db.pool, permanent).await.0 == "dead"
            && job_state(&db.pool, panicking).await.1 >= 1
            && job_state(&db.pool, fine).await.0 == "done"
    })
    .await;
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(settled);
    let (_, attempts, error) = job_state(&db.pool, permanent).await;
    assert_eq!(attempts, 1);
    assert!(error.is_some_and(|e| e.contains("scripted permanent failure")));
    // Retryable: the first panic's attempt is recorded as a retry, not a dead end, and the
    // job is not dead (a permanent failure would be dead after this one attempt).
    let (state, attempts, error) = job_state(&db.pool, panicking).await;
    let first: String = sqlx::query_scalar(
        "SELECT outcome FROM malipo_job_attempts WHERE job_id = $1 AND attempt = 1",
    )
    .bind(panicking)
    .fetch_one(&db.pool)
    .await
    .expect("the panic's attempt is recorded");
    assert_eq!(first, "retry", "panic is a retryable failure");
    assert!(
        state == "pending" || attempts == Noop::POLICY.max_attempts as i32,
        "a panicking job is dead only once its attempts are exhausted: {state} after {attempts}"
    );
    assert!(error.is_some_and(|e| e.contains("panicked")));
}

#[tokio::test]
async fn workers_pick_up_new_jobs_quickly_when_idle() {
    // The fallback poll is a minute away: only the enqueue's notification can wake the idle
    // workers in time, however busy the machine is.
    let db = test_database().await.expect("database");
    let runner = Runner::start(
        db.pool.clone(),
        QueueSettings {
            queues: vec![malipo_jobs::queues::BENCH.to_owned()],
            poll_interval: Duration::from_secs(60),
            ..QueueSettings::default()
        },
        worker::handlers(),
        WorkerState::new(db.pool.clone(), Default::default(), Default::default()),
    )
    .await
    .expect("workers start");
    // Idle: the first (empty) claim is behind them.
    let registered = eventually(Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM malipo_workers")
            .fetch_one(&db.pool)
            .await
            .expect("workers")
            > 0
    })
    .await;
    assert!(registered, "the workers registered");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let id = enqueue_tag(&db.pool, "").await;
    let done = eventually(Duration::from_secs(20), || async {
        job_state(&db.pool, id).await.0 == "done"
    })
    .await;
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(
        done && started.elapsed() < Duration::from_secs(20),
        "picked up after {:?} (the fallback poll is 60 s away)",
        started.elapsed()
    );
}

#[tokio::test]
async fn graceful_shutdown_releases_claimed_jobs_and_writes_results() {
    // Shut down while jobs are running: each finishes and has its result written within the
    // grace, and none is left `running` under a lease nobody holds any more.
    let db = test_database().await.expect("database");
    let runner = bench_runner(&db.pool, Duration::from_secs(30)).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(enqueue_tag(&db.pool, "sleep:400").await);
    }
    let busy = eventually(Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM malipo_jobs WHERE state = 'running'")
            .fetch_one(&db.pool)
            .await
            .expect("count")
            > 0
    })
    .await;
    assert!(busy, "jobs were running when the shutdown began");
    runner.shutdown(Duration::from_secs(20)).await;
    let states: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT j.id, j.state, (SELECT count(*) FROM malipo_job_attempts a
                                 WHERE a.job_id = j.id AND a.outcome = 'noop_ran')
           FROM malipo_jobs j WHERE j.id = ANY($1) ORDER BY j.id",
    )
    .bind(&ids)
    .fetch_all(&db.pool)
    .await
    .expect("states");
    assert_eq!(states.len(), ids.len());
    for (id, state, ran) in &states {
        match (state.as_str(), ran) {
            // Finished before or during the shutdown, result written.
            ("done", 1) => {}
            // Never started: left for the next worker, not held.
            ("pending", 0) => {}
            _ => panic!("job {id} is {state} after running {ran} times: {states:?}"),
        }
    }
    assert!(
        states.iter().any(|(_, state, _)| state == "done"),
        "{states:?}"
    );
}

#[tokio::test]
async fn a_runner_shut_down_right_after_starting_leaves_no_loop_running() {
    // apalis refuses to stop a loop it has not polled yet; such a loop used to run on after
    // shutdown (which then waited out its whole grace) and kept claiming jobs.
    let db = test_database().await.expect("database");
    let runner = bench_runner(&db.pool, Duration::from_secs(30)).await;
    let started = std::time::Instant::now();
    runner.shutdown(Duration::from_secs(20)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    let id = enqueue_tag(&db.pool, "").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(job_state(&db.pool, id).await.0, "pending");
}

#[tokio::test]
async fn a_worker_process_is_registered_with_every_queue_it_serves() {
    // Each claim loop serves one queue; the process's registration must still name them all
    // (every loop used to register the process with its own queue only, the last one winning).
    let db = test_database().await.expect("database");
    let queues = vec![
        malipo_jobs::queues::BENCH.to_owned(),
        malipo_jobs::queues::PAYOUTS.to_owned(),
    ];
    let runner = Runner::start(
        db.pool.clone(),
        QueueSettings {
            queues: queues.clone(),
            loops_per_queue: 2,
            ..QueueSettings::default()
        },
        worker::handlers(),
        WorkerState::new(db.pool.clone(), Default::default(), Default::default()),
    )
    .await
    .expect("workers start");
    let registered = eventually(Duration::from_secs(5), || async {
        let rows: Vec<Vec<String>> = sqlx::query_scalar("SELECT queues FROM malipo_workers")
            .fetch_all(&db.pool)
            .await
            .expect("workers");
        // Registrations by all four loops have had time to land once each has claimed.
        rows.len() == 1 && {
            let mut names = rows[0].clone();
            names.sort();
            names == queues
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows: Vec<Vec<String>> = sqlx::query_scalar("SELECT queues FROM malipo_workers")
        .fetch_all(&db.pool)
        .await
        .expect("workers");
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(registered, "{rows:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let mut names = rows[0].clone();
    names.sort();
    assert_eq!(names, queues);
}
