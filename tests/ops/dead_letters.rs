//! A job that exhausts its attempts is dead in list and inspect with every attempt's error;
//! retry puts it back and it completes; discard removes it from the dead list, audited.

use std::time::Duration;

use malipo_jobs::{Job, Noop};

use malipo_testing::bench_runner;

use super::support::{eventually, fast_forward, ids, problem, spawn_app};

#[tokio::test]
async fn an_exhausted_job_is_dead_with_every_error_and_a_retry_completes_it() {
    let app = spawn_app().await;
    let runner = bench_runner(&app.pool, Duration::from_secs(30)).await;
    let id = app.enqueue_noop("fail").await;
    let max = Noop::POLICY.max_attempts as i32;
    let dead = eventually(Duration::from_secs(20), || async {
        fast_forward(&app.pool).await;
        app.job(id).await.0 == "dead"
    })
    .await;
    assert!(dead, "the job died after its attempts");

    let page = app.get_json("/ops/jobs?state=dead&queue=bench").await;
    assert_eq!(ids(&page), vec![id]);
    assert_eq!(page["jobs"][0]["attempts"], max);
    assert!(page["next_cursor"].is_null());

    let detail = app.get_json(&format!("/ops/jobs/{id}")).await;
    assert_eq!(detail["state"], "dead");
    assert_eq!(detail["kind"], "noop");
    assert_eq!(detail["payload"]["tag"], "fail");
    assert!(detail["created_at"].is_string() && detail["finished_at"].is_string());
    assert!(
        detail["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("attempts exhausted"))
    );
    let log = detail["attempt_log"].as_array().expect("attempt log");
    assert_eq!(log.len(), max as usize, "one record per attempt: {log:?}");
    for (n, attempt) in log.iter().enumerate() {
        let number = n as i64 + 1;
        assert_eq!(attempt["attempt"], number);
        assert!(
            attempt["error"]
                .as_str()
                .is_some_and(|e| e.contains(&format!("scripted failure on attempt {number}"))),
            "attempt {number}: {attempt}"
        );
    }

    // Fix the cause, then retry: it runs now with a fresh count and completes.
    sqlx::query("UPDATE malipo_jobs SET payload = '{\"tag\":\"\"}' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .expect("fix payload");
    let retried = app.post_json(&format!("/ops/jobs/{id}/retry"), None).await;
    assert_eq!(retried["job"]["id"], id);
    let done = eventually(Duration::from_secs(10), || async {
        app.job(id).await.0 == "done"
    })
    .await;
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(done, "the retried job completed");
    assert_eq!(app.job(id).await.1, 1, "attempts restarted from 0");

    let detail = app.get_json(&format!("/ops/jobs/{id}")).await;
    assert_eq!(
        detail["attempt_log"].as_array().map(Vec::len),
        Some(max as usize),
        "the failed attempts stay as history"
    );
    let actions = detail["operator_actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["action"], "job.retry");
    assert_eq!(actions[0]["actor"], format!("key:{}", app.operator_id));
    assert_eq!(actions[0]["detail"]["from_state"], "dead");

    // A done job cannot be retried or discarded; unknown ids are 404.
    problem(app.post(&format!("/ops/jobs/{id}/retry"), None).await, 409).await;
    problem(
        app.post(&format!("/ops/jobs/{id}/discard"), None).await,
        409,
    )
    .await;
    problem(app.get("/ops/jobs/999999").await, 404).await;
    problem(app.post("/ops/jobs/999999/retry", None).await, 404).await;
    problem(app.get("/ops/jobs/abc").await, 404).await;
}

#[tokio::test]
async fn discard_removes_a_dead_job_from_the_dead_list_and_is_audited() {
    let app = spawn_app().await;
    let runner = bench_runner(&app.pool, Duration::from_secs(30)).await;
    let id = app.enqueue_noop("permanent").await;
    let other = app.enqueue_noop("permanent").await;
    let dead = eventually(Duration::from_secs(10), || async {
        app.job(id).await.0 == "dead" && app.job(other).await.0 == "dead"
    })
    .await;
    runner.shutdown(Duration::from_secs(5)).await;
    assert!(dead);
    assert_eq!(
        ids(&app.get_json("/ops/jobs?state=dead").await),
        vec![other, id]
    );

    let discarded = app
        .post_json(&format!("/ops/jobs/{id}/discard"), None)
        .await;
    assert_eq!(discarded["job"]["state"], "discarded");
    assert_eq!(
        ids(&app.get_json("/ops/jobs?state=dead").await),
        vec![other]
    );
    assert_eq!(
        ids(&app.get_json("/ops/jobs?state=discarded").await),
        vec![id]
    );

    // The row and its record stay.
    let detail = app.get_json(&format!("/ops/jobs/{id}")).await;
    assert_eq!(detail["attempt_log"].as_array().map(Vec::len), Some(1));
    assert!(
        detail["attempt_log"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("scripted permanent failure"))
    );

    let audit = app.audit().await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "job.discard");
    assert_eq!(audit[0]["job_id"], id);
    assert_eq!(audit[0]["affected"], 1);
    assert_eq!(audit[0]["actor"], format!("key:{}", app.operator_id));

    // Discarding twice is a conflict and writes nothing.
    problem(
        app.post(&format!("/ops/jobs/{id}/discard"), None).await,
        409,
    )
    .await;
    assert_eq!(app.audit().await.len(), 1);
}
