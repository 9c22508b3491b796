//! Pause stops processing across two worker processes (only what they held when it landed
//! finishes); resume restarts it.

use std::{process::Stdio, time::Duration};

use malipo::queue::enqueue_batch;
use malipo_jobs::Noop;

use super::support::{OpsApp, eventually, spawn_app};

/// A `malipo work` process on the bench queue; killed when dropped.
struct WorkerProcess(std::process::Child);

impl WorkerProcess {
    fn spawn(database_url: &str) -> Self {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_malipo"))
            .arg("work")
            .env("DATABASE_URL", database_url)
            .env("MALIPO_QUEUES", malipo_jobs::queues::BENCH)
            .env("MALIPO_WORKER_CONCURRENCY", "8")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("worker process starts");
        Self(child)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn count(app: &OpsApp, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM malipo_jobs WHERE state = $1")
        .bind(state)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn pause_stops_two_worker_processes_and_resume_restarts_them() {
    let app = spawn_app().await;
    let jobs: Vec<Noop> = (0..4000)
        .map(|_| Noop {
            tag: "sleep:20".into(),
        })
        .collect();
    let mut conn = app.pool.acquire().await.expect("conn");
    enqueue_batch(&mut conn, &jobs).await.expect("enqueue");
    drop(conn);

    let workers = [
        WorkerProcess::spawn(&app.db_url),
        WorkerProcess::spawn(&app.db_url),
    ];
    // Both processes are working: jobs held by two different workers at once.
    let both = eventually(Duration::from_secs(30), || async {
        let holders: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT locked_by) FROM malipo_jobs WHERE state = 'running'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("holders");
        holders == 2
    })
    .await;
    assert!(both, "two worker processes are processing the queue");

    let paused = app.post_json("/ops/queues/bench/pause", None).await;
    assert_eq!(paused["paused"], true);
    // What the workers held when the pause landed may still finish; nothing more may start.
    // Counted right after the pause: jobs held (claimed, `running`), and the claims that may
    // have been in flight at that moment (one batch of 50 per process).
    let held_at_pause = count(&app, "running").await;
    let done_at_pause = count(&app, "done").await;
    let stopped = eventually(Duration::from_secs(30), || async {
        count(&app, "running").await == 0
    })
    .await;
    assert!(stopped, "the workers stopped running jobs after the pause");
    let finished_since = count(&app, "done").await - done_at_pause;
    assert!(
        finished_since <= held_at_pause + 2 * 50,
        "{finished_since} jobs finished after the pause, {held_at_pause} were held when it landed"
    );
    let waiting = count(&app, "pending").await;
    assert!(waiting > 0, "the pause left work behind");
    // Two fallback polls (500 ms each) and then some: a worker ignoring the pause would claim.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count(&app, "pending").await,
        waiting,
        "nothing claimed while paused"
    );
    assert_eq!(count(&app, "running").await, 0);

    let overview = app.get_json("/ops/queues").await;
    let bench = overview
        .as_array()
        .and_then(|queues| queues.iter().find(|q| q["queue"] == "bench"))
        .cloned()
        .expect("bench queue");
    assert_eq!(bench["paused"], true);
    assert_eq!(bench["pending"], waiting);
    assert!(
        bench["oldest_pending_age_secs"]
            .as_f64()
            .is_some_and(|age| age > 0.0)
    );

    app.post_json("/ops/queues/bench/resume", None).await;
    let drained = eventually(Duration::from_secs(60), || async {
        count(&app, "done").await == 4000
    })
    .await;
    drop(workers);
    assert!(drained, "resumed workers finished the queue");
    let actions: Vec<String> = app
        .audit()
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(actions, ["queue.resume", "queue.pause"]);
}
