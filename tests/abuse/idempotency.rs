//! Idempotency as Stripe documents it: every answer of a request that started executing is
//! stored (a 409 included), and requests compare by canonical JSON, not by bytes.

use serde_json::Value;

use super::support::{App, mpesa_intent, problem, spawn_app};

async fn set_status(app: &App, id: &str, status: &str) {
    sqlx::query("UPDATE intents SET status = $2 WHERE id = $1::uuid")
        .bind(id)
        .bind(status)
        .execute(&app.pool)
        .await
        .expect("status");
}

async fn release(app: &App, id: &str, key: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/intents/{id}/release", app.base))
        .bearer_auth(&app.key)
        .header("idempotency-key", key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("release")
}

#[tokio::test]
async fn a_409_is_stored_so_the_same_key_never_performs_the_action_later() {
    let app = spawn_app().await;
    let id = app.intent().await;
    set_status(&app, &id, "awaiting_payment").await;
    let first = problem(release(&app, &id, "release-1").await, 409).await;
    assert!(
        first["detail"]
            .as_str()
            .is_some_and(|d| d.contains("can be released")),
        "{first}"
    );
    // The intent is held now; the same key still answers what it answered.
    set_status(&app, &id, "held").await;
    let again = release(&app, &id, "release-1").await;
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again = problem(again, 409).await;
    assert_eq!(again, first);
    let status: String = sqlx::query_scalar("SELECT status FROM intents WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .expect("status");
    assert_eq!(status, "held", "the replayed key released nothing");
    // A new key does release it.
    assert_eq!(release(&app, &id, "release-2").await.status(), 202);
}

#[tokio::test]
async fn the_refund_conflict_message_is_spelled_right() {
    let app = spawn_app().await;
    let id = app.intent().await;
    let response = app
        .http
        .post(format!("{}/v1/intents/{id}/refund", app.base))
        .bearer_auth(&app.key)
        .header("idempotency-key", "refund-1")
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("refund");
    let body = problem(response, 409).await;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("can be refunded") && !detail.contains("refundd"),
        "{detail}"
    );
}

#[tokio::test]
async fn the_same_json_reserialized_is_the_same_request() {
    let app = spawn_app().await;
    let first = app.create(&mpesa_intent(), "same-json").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    // Keys in reverse order, with whitespace: the same object.
    let object = mpesa_intent();
    let fields: Vec<String> = object
        .as_object()
        .expect("object")
        .iter()
        .rev()
        .map(|(key, value)| format!("\n  {} :  {}", Value::from(key.as_str()), value))
        .collect();
    let reserialized = format!("{{{}\n}}", fields.join(" ,"));
    let second = app
        .http
        .post(format!("{}/v1/intents", app.base))
        .bearer_auth(&app.key)
        .header("idempotency-key", "same-json")
        .header("content-type", "application/json")
        .body(reserialized)
        .send()
        .await
        .expect("post");
    assert_eq!(second.status(), 201);
    assert!(second.headers().get("idempotent-replayed").is_some());
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["id"], first["id"]);
    assert_eq!(app.rows("intents").await, 1);
}
