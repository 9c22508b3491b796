//! Creating and reading intents.

use serde_json::Value;

use super::support::{mpesa_intent, problem, spawn_app};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn an_intent_is_created_with_its_event_and_first_job_and_read_back() {
    let app = spawn_app().await;
    let created = app.create(&mpesa_intent(), "create-1").await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.expect("json");
    assert_eq!(body["status"], "initiating");
    assert_eq!(body["amount"], "1500.00");
    assert_eq!(body["currency"], "KES");
    assert_eq!(body["commission_bps"], 1000);
    assert_eq!(body["next_action"], Value::Null);
    assert_eq!(body["payouts"], serde_json::json!([]));
    assert_eq!(body["events"][0]["type"], "created");
    assert_eq!(body["events"][0]["to"], "initiating");
    let id = body["id"].as_str().expect("id");

    let jobs: Vec<(String, Option<uuid::Uuid>)> =
        sqlx::query_as("SELECT kind, intent_id FROM malipo_jobs")
            .fetch_all(&app.pool)
            .await
            .expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].0, "initiate_deposit");
    assert_eq!(jobs[0].1.map(|u| u.to_string()).as_deref(), Some(id));

    let read = app
        .http
        .get(format!("{}/v1/intents/{id}", app.base))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("get");
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.expect("json");
    assert_eq!(read["id"], body["id"]);
    assert_eq!(read["payee"]["payout"]["msisdn"], "254700000001");
}

#[tokio::test]
async fn the_client_default_commission_applies_when_none_is_given() {
    let app = spawn_app().await;
    let mut intent = mpesa_intent();
    intent
        .as_object_mut()
        .expect("object")
        .remove("commission_bps");
    let body: Value = app
        .create(&intent, "default-commission")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["commission_bps"], 150);
}

#[tokio::test]
async fn unknown_and_foreign_intents_are_not_found() {
    let app = spawn_app().await;
    let missing = app
        .http
        .get(format!("{}/v1/intents/{}", app.base, uuid::Uuid::new_v4()))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("get");
    problem(missing, 404).await;
    let garbage = app
        .http
        .get(format!("{}/v1/intents/not-a-uuid", app.base))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("get");
    problem(garbage, 404).await;

    let created: Value = app
        .create(&mpesa_intent(), "mine")
        .await
        .json()
        .await
        .expect("json");
    let other = malipo::clients::create(&app.pool, "other", "client", 0)
        .await
        .expect("other client")
        .key;
    let foreign = app
        .http
        .get(format!(
            "{}/v1/intents/{}",
            app.base,
            created["id"].as_str().expect("id")
        ))
        .bearer_auth(other)
        .send()
        .await
        .expect("get");
    problem(foreign, 404).await;
}
