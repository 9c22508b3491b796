//! Stripe-style idempotency keys, including 50 identical requests at once.

use serde_json::Value;

use super::support::{mpesa_intent, problem, spawn_app};

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_response() {
    let app = spawn_app().await;
    let first = app.create(&mpesa_intent(), "replay-me").await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");
    let second = app.create(&mpesa_intent(), "replay-me").await;
    assert_eq!(second.status(), 201);
    assert_eq!(
        second
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let second: Value = second.json().await.expect("json");
    assert_eq!(first, second);
    assert_eq!(app.rows("intents").await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = spawn_app().await;
    assert_eq!(app.create(&mpesa_intent(), "key-a").await.status(), 201);
    let mut other = mpesa_intent();
    other["amount"] = "2000.00".into();
    let body = problem(app.create(&other, "key-a").await, 422).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Idempotency-Key"))
    );
    assert_eq!(app.rows("intents").await, 1);
}

#[tokio::test]
async fn fifty_identical_requests_at_once_create_exactly_one_intent() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let response = app.create(&mpesa_intent(), "race").await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            (status, body)
        }));
    }
    let mut created_ids = std::collections::HashSet::new();
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            201 => {
                created_ids.insert(body["id"].as_str().expect("id").to_owned());
            }
            409 => assert_eq!(body["status"], 409),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(created_ids.len(), 1, "every 201 names the same intent");
    assert_eq!(app.rows("intents").await, 1);
    assert_eq!(app.rows("malipo_jobs").await, 1);
}

#[tokio::test]
async fn a_rejected_request_frees_its_key() {
    let app = spawn_app().await;
    let mut bad = mpesa_intent();
    bad["currency"] = "XXX".into();
    problem(app.create(&bad, "fix-and-retry").await, 422).await;
    assert_eq!(
        app.create(&mpesa_intent(), "fix-and-retry").await.status(),
        201
    );
}
