//! One role per key: operator keys are refused under `/v1`, client keys under `/ops` and
//! `/metrics`; keys carry a visible prefix and only their hash is stored.

use malipo::{
    clients::{self, KeyMode, Role},
    http::auth::hash_key,
};
use reqwest::Method;

use super::support::{mpesa_intent, problem, spawn_app};

#[tokio::test]
async fn operator_keys_cannot_act_as_a_tenant() {
    let app = spawn_app().await;
    let id = app.intent().await;
    let create = app
        .request(Method::POST, "/v1/intents", &app.operator_key)
        .header("idempotency-key", "op-create")
        .json(&mpesa_intent())
        .send()
        .await
        .expect("create");
    problem(create, 403).await;
    for (method, path) in [
        (Method::GET, format!("/v1/intents/{id}")),
        (Method::POST, format!("/v1/intents/{id}/release")),
        (Method::POST, format!("/v1/intents/{id}/refund")),
    ] {
        let response = app
            .request(method, &path, &app.operator_key)
            .header("idempotency-key", "op-action")
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("request");
        problem(response, 403).await;
    }
    assert_eq!(app.rows("intents").await, 1, "only the client's intent");
}

#[tokio::test]
async fn client_keys_cannot_operate() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/metrics"),
        (Method::GET, "/ops/queues"),
        (Method::GET, "/ops/clients"),
        (
            Method::POST,
            "/ops/clients/00000000-0000-0000-0000-000000000000/revoke",
        ),
        (
            Method::POST,
            "/ops/clients/00000000-0000-0000-0000-000000000000/rotate",
        ),
    ] {
        let response = app
            .request(method, path, &app.key)
            .send()
            .await
            .expect("request");
        problem(response, 403).await;
    }
    assert_eq!(app.rows("malipo_ops_audit").await, 0);
}

#[tokio::test]
async fn keys_show_their_mode_and_only_their_hash_is_stored() {
    let app = spawn_app().await;
    assert!(app.key.starts_with("mlp_live_"), "{}", app.key);
    let sandbox = clients::create_with(&app.pool, "sandbox", Role::Client, KeyMode::Test, 0)
        .await
        .expect("test key");
    assert!(sandbox.key.starts_with("mlp_test_"), "{}", sandbox.key);
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT key_hash, key_prefix FROM api_clients WHERE id = $1")
            .bind(sandbox.id)
            .fetch_all(&app.pool)
            .await
            .expect("row");
    assert_eq!(stored.len(), 1);
    let (hash, prefix) = &stored[0];
    assert_eq!(hash, &hash_key(&sandbox.key));
    assert!(
        sandbox.key.starts_with(prefix.as_str()) && prefix.len() < 20,
        "{prefix}"
    );
    let anywhere: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM api_clients WHERE position($1 IN row_to_json(api_clients)::text) > 0",
    )
    .bind(&sandbox.key)
    .fetch_one(&app.pool)
    .await
    .expect("search");
    assert_eq!(anywhere, 0, "the key itself is stored nowhere");
    // A test key authenticates like any other.
    let response = app
        .http
        .get(format!(
            "{}/v1/intents/00000000-0000-0000-0000-000000000000",
            app.base
        ))
        .bearer_auth(&sandbox.key)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
}
