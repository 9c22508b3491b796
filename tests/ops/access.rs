//! Only operator keys reach /ops (client keys 403, no key 401); `/openapi.json` describes the API.

use reqwest::Method;

use super::support::{problem, spawn_app};

const OPS_ROUTES: [(&str, &str); 12] = [
    ("GET", "/ops/queues"),
    ("POST", "/ops/queues/bench/pause"),
    ("POST", "/ops/queues/bench/resume"),
    ("POST", "/ops/queues/bench/drain"),
    ("GET", "/ops/jobs"),
    ("GET", "/ops/jobs/1"),
    ("POST", "/ops/jobs/1/retry"),
    ("POST", "/ops/jobs/1/discard"),
    ("POST", "/ops/jobs/retry"),
    ("POST", "/ops/jobs/discard"),
    ("GET", "/ops/audit"),
    ("POST", "/ops/fincra/banks/refresh"),
];

#[tokio::test]
async fn client_keys_get_403_and_missing_keys_401_on_every_ops_route() {
    let app = spawn_app().await;
    for (method, path) in OPS_ROUTES {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let url = format!("{}{path}", app.base);
        let anonymous = app
            .http
            .request(method.clone(), &url)
            .json(&serde_json::json!({"filter": {"queue": "bench"}}))
            .send()
            .await
            .expect("request");
        problem(anonymous, 401).await;
        let client = app
            .http
            .request(method, &url)
            .bearer_auth(&app.client_key)
            .json(&serde_json::json!({"filter": {"queue": "bench"}}))
            .send()
            .await
            .expect("request");
        problem(client, 403).await;
    }
    assert_eq!(app.rows("malipo_ops_audit").await, 0);
    assert_eq!(
        app.rows("malipo_queues").await,
        0,
        "no pause slipped through"
    );
}

#[tokio::test]
async fn openapi_json_is_a_3_1_document_listing_the_routes() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let doc: serde_json::Value = response.json().await.expect("JSON document");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let expected = [
        "/ops/queues",
        "/ops/queues/{queue}/pause",
        "/ops/queues/{queue}/resume",
        "/ops/queues/{queue}/drain",
        "/ops/jobs",
        "/ops/jobs/{id}",
        "/ops/jobs/{id}/retry",
        "/ops/jobs/{id}/discard",
        "/ops/jobs/retry",
        "/ops/jobs/discard",
        "/ops/audit",
        "/v1/intents",
        "/v1/intents/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ];
    for path in expected {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(paths["/ops/jobs/{id}/retry"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["operator_key"].is_object());
    assert!(doc["components"]["schemas"]["JobDetail"].is_object());
}
