//! Drain works a queue in the calling process with no worker running, stops when nothing is
//! runnable (or at its limit) and reports counts, over HTTP and from the CLI.

use std::process::Command;

use serde_json::Value;

use super::support::{OpsApp, problem, spawn_app};

async fn count(app: &OpsApp, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM malipo_jobs WHERE queue = 'bench' AND state = $1")
        .bind(state)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn drain_empties_the_queue_and_reports_counts() {
    let app = spawn_app().await;
    for _ in 0..10 {
        app.enqueue_noop("").await;
    }
    for _ in 0..2 {
        app.enqueue_noop("permanent").await;
    }
    let report = app.post_json("/ops/queues/bench/drain", None).await;
    assert_eq!(report["queue"], "bench");
    assert_eq!(report["done"], 10, "{report}");
    assert_eq!(report["dead"], 2);
    assert_eq!(report["retried"], 0);
    assert_eq!(report["stopped"], "empty");
    assert_eq!(report["remaining_runnable"], 0);
    assert_eq!(report["remaining_pending"], 0);
    assert_eq!(count(&app, "done").await, 10);
    assert_eq!(count(&app, "dead").await, 2);
    assert_eq!(count(&app, "running").await, 0);

    let audit = app.audit().await;
    assert_eq!(audit[0]["action"], "queue.drain");
    assert_eq!(audit[0]["queue"], "bench");
    assert_eq!(audit[0]["affected"], 12);
    assert_eq!(audit[0]["detail"]["done"], 10);

    // An empty queue drains at once.
    let again = app.post_json("/ops/queues/bench/drain", None).await;
    assert_eq!(
        (again["done"].clone(), again["stopped"].clone()),
        (0.into(), "empty".into())
    );
}

#[tokio::test]
async fn drain_stops_at_its_limit_and_refuses_a_paused_queue() {
    let app = spawn_app().await;
    for _ in 0..40 {
        app.enqueue_noop("sleep:10").await;
    }
    let report = app.post_json("/ops/queues/bench/drain?limit=5", None).await;
    assert_eq!(report["stopped"], "limit");
    let done = report["done"].as_i64().expect("done");
    assert_eq!(done, 5, "a drain claims no more than its limit: {report}");
    assert_eq!(
        count(&app, "done").await,
        done,
        "the report matches the rows"
    );
    assert_eq!(report["remaining_runnable"], 40 - done);
    assert_eq!(
        count(&app, "running").await,
        0,
        "claimed but unstarted jobs were released"
    );

    app.post_json("/ops/queues/bench/pause", None).await;
    let refused = problem(app.post("/ops/queues/bench/drain", None).await, 409).await;
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("paused"))
    );
    problem(
        app.post("/ops/queues/bench/drain?limit=-1", None).await,
        400,
    )
    .await;
    problem(app.post("/ops/queues/nope/drain", None).await, 404).await;
}

fn malipo(app: &OpsApp, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(args)
        .env("DATABASE_URL", &app.db_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("malipo runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_drains_lists_retries_and_is_audited_as_the_os_user() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.enqueue_noop("").await;
    }
    let dead = app.enqueue_noop("permanent").await;

    let (ok, out, err) = malipo(&app, &["queues", "drain", "bench", "--json"]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out)
        .unwrap_or_else(|error| panic!("{error}: stdout {out:?}, stderr {err:?}"));
    assert_eq!(
        (report["done"].as_i64(), report["dead"].as_i64()),
        (Some(3), Some(1))
    );

    let (ok, out, err) = malipo(&app, &["jobs", "list", "--state", "dead", "--json"]);
    assert!(ok, "{err}");
    let page: Value = serde_json::from_str(&out).expect("JSON page");
    assert_eq!(page["jobs"][0]["id"], dead);

    let (ok, out, err) = malipo(&app, &["jobs", "show", &dead.to_string()]);
    assert!(ok, "{err}");
    assert!(out.contains("scripted permanent failure"), "{out}");

    let (ok, out, err) = malipo(&app, &["jobs", "retry", "--queue", "bench", "--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("1 dead jobs would be retried"), "{out}");
    let (ok, _, err) = malipo(&app, &["jobs", "discard", &dead.to_string()]);
    assert!(ok, "{err}");
    assert_eq!(app.job(dead).await.0, "discarded");

    let (ok, out, err) = malipo(&app, &["queues", "list"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("QUEUE"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("bench")), "{out}");

    let (ok, _, err) = malipo(&app, &["jobs", "show", "999999"]);
    assert!(!ok);
    assert!(err.contains("no job with id 999999"), "{err}");
    let (ok, _, err) = malipo(&app, &["jobs", "list", "--state", "failed"]);
    assert!(!ok);
    assert!(err.contains("state"), "{err}");

    let (ok, out, err) = malipo(&app, &["audit", "list", "--json"]);
    assert!(ok, "{err}");
    let audit: Value = serde_json::from_str(&out).expect("JSON audit");
    let entries = audit["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["job.discard", "jobs.retry", "queue.drain"]);
    assert!(entries.iter().all(|e| {
        e["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:") && a.len() > 4)
    }));
}
