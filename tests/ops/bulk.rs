//! Bulk retry and discard by filter change exactly the matching jobs; bad filters change
//! nothing and say what is wrong; pages walk every match once.

use serde_json::json;
use uuid::Uuid;

use super::support::{OpsApp, ids, insert_job, problem, spawn_app};

/// Every job's (id, state, attempts), for before/after comparisons.
async fn snapshot(app: &OpsApp) -> Vec<(i64, String, i32)> {
    sqlx::query_as("SELECT id, state, attempts FROM malipo_jobs ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .expect("snapshot")
}

#[tokio::test]
async fn bulk_retry_retries_exactly_the_matching_dead_jobs() {
    let app = spawn_app().await;
    let intent = Uuid::now_v7();
    let payout_dead = [
        insert_job(&app.pool, "payouts", "payout", "dead", None).await,
        insert_job(&app.pool, "payouts", "payout", "dead", Some(intent)).await,
        insert_job(&app.pool, "payouts", "payout", "dead", None).await,
    ];
    // Same queue, other kind; same kind, other states; other queues.
    let refund_dead = insert_job(&app.pool, "payouts", "refund", "dead", Some(intent)).await;
    insert_job(&app.pool, "payouts", "payout", "pending", None).await;
    insert_job(&app.pool, "payouts", "payout", "discarded", None).await;
    insert_job(&app.pool, "payouts", "payout", "done", None).await;
    let deposit_dead = insert_job(
        &app.pool,
        "deposits",
        "confirm_deposit",
        "dead",
        Some(intent),
    )
    .await;
    insert_job(&app.pool, "webhooks", "process_webhook", "dead", None).await;
    insert_job(&app.pool, "bench", "noop", "dead", None).await;
    let before = snapshot(&app).await;

    let filter = json!({"queue": "payouts", "kind": "payout"});
    let dry = app
        .post_json(
            "/ops/jobs/retry",
            Some(json!({"filter": filter, "dry_run": true})),
        )
        .await;
    assert_eq!(dry, json!({"affected": 3, "dry_run": true}));
    assert_eq!(snapshot(&app).await, before, "a dry run changes nothing");

    let done = app
        .post_json("/ops/jobs/retry", Some(json!({"filter": filter})))
        .await;
    assert_eq!(done, json!({"affected": 3, "dry_run": false}));
    let after = snapshot(&app).await;
    for ((id, state, attempts), (_, old_state, old_attempts)) in after.iter().zip(&before) {
        if payout_dead.contains(id) {
            assert_eq!(
                (state.as_str(), *attempts),
                ("pending", 0),
                "job {id} retried"
            );
        } else {
            assert_eq!(
                (state, attempts),
                (old_state, old_attempts),
                "job {id} untouched"
            );
        }
    }

    // By intent: the remaining dead jobs of that intent, across queues and kinds.
    let by_intent = app
        .post_json(
            "/ops/jobs/retry",
            Some(json!({"filter": {"intent_id": intent.to_string(), "state": "dead"}})),
        )
        .await;
    assert_eq!(by_intent["affected"], 2);
    for id in [refund_dead, deposit_dead] {
        assert_eq!(app.job(id).await.0, "pending");
    }
    // By creation time: nothing was created in the future.
    let future = app
        .post_json(
            "/ops/jobs/retry",
            Some(json!({"filter": {"from": "2999-01-01T00:00:00Z"}, "dry_run": true})),
        )
        .await;
    assert_eq!(future["affected"], 0);

    let audit = app.audit().await;
    let actions: Vec<(&str, i64, bool)> = audit
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["affected"].as_i64().unwrap_or(-1),
                e["dry_run"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("jobs.retry", 0, true),
            ("jobs.retry", 2, false),
            ("jobs.retry", 3, false),
            ("jobs.retry", 3, true)
        ]
    );
    assert_eq!(
        audit[2]["filter"],
        json!({"queue": "payouts", "kind": "payout", "state": "dead"})
    );
}

#[tokio::test]
async fn bulk_discard_needs_a_filter_and_keeps_the_rows() {
    let app = spawn_app().await;
    let pending = insert_job(&app.pool, "reconcile", "reconcile_mpesa", "pending", None).await;
    let dead = insert_job(&app.pool, "reconcile", "reconcile_mpesa", "dead", None).await;
    let done = insert_job(&app.pool, "reconcile", "reconcile_mpesa", "done", None).await;
    let elsewhere = insert_job(&app.pool, "deposits", "initiate_deposit", "pending", None).await;

    problem(app.post("/ops/jobs/discard", Some(json!({}))).await, 400).await;
    problem(
        app.post(
            "/ops/jobs/discard",
            Some(json!({"filter": {"queue": "reconcile", "state": "done"}})),
        )
        .await,
        400,
    )
    .await;
    let outcome = app
        .post_json(
            "/ops/jobs/discard",
            Some(json!({"filter": {"queue": "reconcile"}})),
        )
        .await;
    assert_eq!(outcome["affected"], 2);
    assert_eq!(app.job(pending).await.0, "discarded");
    assert_eq!(app.job(dead).await.0, "discarded");
    assert_eq!(app.job(done).await.0, "done");
    assert_eq!(app.job(elsewhere).await.0, "pending");
    assert_eq!(app.rows("malipo_jobs").await, 4, "rows are kept");
    let audit = app.audit().await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "jobs.discard");
}

#[tokio::test]
async fn bad_filters_are_refused_naming_the_problem_and_change_nothing() {
    let app = spawn_app().await;
    let dead = insert_job(&app.pool, "payouts", "payout", "dead", None).await;
    let cases = [
        ("/ops/jobs?state=failed", "state"),
        ("/ops/jobs?queue=payuots", "payuots"),
        ("/ops/jobs?kind=pay", "kind"),
        ("/ops/jobs?intent_id=42", "intent_id"),
        ("/ops/jobs?from=yesterday", "from"),
        ("/ops/jobs?sate=dead", "sate"),
        ("/ops/jobs?limit=0", "limit"),
        ("/ops/jobs?limit=many", "limit"),
        ("/ops/jobs?cursor=bogus", "cursor"),
        ("/ops/audit?cursor=bogus", "cursor"),
    ];
    for (path, named) in cases {
        let body = problem(app.get(path).await, 400).await;
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(named),
            "{path}: `{detail}` should name {named}"
        );
    }
    let bodies = [
        json!({"filter": {"state": "running"}}),
        json!({"filter": {"queue": "nope"}}),
        json!({"filter": {"state": "dead"}, "dryrun": true}),
        json!({"filter": {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}),
    ];
    for body in bodies {
        problem(app.post("/ops/jobs/retry", Some(body.clone())).await, 400).await;
        problem(app.post("/ops/jobs/discard", Some(body)).await, 400).await;
    }
    problem(app.post("/ops/queues/nope/pause", None).await, 404).await;
    assert_eq!(app.job(dead).await.0, "dead");
    assert_eq!(
        app.rows("malipo_ops_audit").await,
        0,
        "no audit row for refused actions"
    );
    assert_eq!(app.rows("malipo_queues").await, 0);
}

#[tokio::test]
async fn pages_walk_every_match_once_newest_first() {
    let app = spawn_app().await;
    let mut expected = Vec::new();
    for n in 0..7 {
        expected.push(insert_job(&app.pool, "payouts", "payout", "dead", None).await);
        if n % 2 == 0 {
            insert_job(&app.pool, "payouts", "payout", "done", None).await;
        }
    }
    expected.reverse();
    let mut seen = Vec::new();
    let mut path = "/ops/jobs?state=dead&limit=3".to_owned();
    loop {
        let page = app.get_json(&path).await;
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 3);
        seen.extend(page_ids);
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/ops/jobs?state=dead&limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}
