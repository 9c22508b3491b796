//! Key management over `/ops/clients` and `malipo clients`: a rotated key keeps working for
//! the grace period, a revoked client stops at once, and every change is audited.

use serde_json::Value;

use super::support::{App, spawn_app};

async fn status_with(app: &App, key: &str) -> u16 {
    app.http
        .get(format!(
            "{}/v1/intents/00000000-0000-0000-0000-000000000000",
            app.base
        ))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn ops(app: &App, path: &str) -> Value {
    let response = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(&app.operator_key)
        .send()
        .await
        .expect("ops request");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("json")
}

async fn audit_actions(app: &App) -> Vec<(String, String)> {
    sqlx::query_as("SELECT actor, action FROM malipo_ops_audit ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .expect("audit")
}

#[tokio::test]
async fn rotation_keeps_the_old_key_for_its_grace_and_revocation_stops_all_at_once() {
    let app = spawn_app().await;
    let old = app.key.clone();
    // 404: authenticated as a client, the intent does not exist.
    assert_eq!(status_with(&app, &old).await, 404);

    let rotated = ops(
        &app,
        &format!("/ops/clients/{}/rotate?grace=1h", app.client_id),
    )
    .await;
    let new = rotated["key"].as_str().expect("new key").to_owned();
    assert!(new.starts_with("mlp_live_") && new != old);
    assert!(rotated["previous_key_expires_at"].is_string());
    assert_eq!(status_with(&app, &new).await, 404, "new key works");
    assert_eq!(
        status_with(&app, &old).await,
        404,
        "old key works during its grace"
    );

    // Without grace, the key being replaced stops at once (and the first one with it).
    let again = ops(
        &app,
        &format!("/ops/clients/{}/rotate?grace=0s", app.client_id),
    )
    .await;
    let newest = again["key"].as_str().expect("newest key").to_owned();
    assert!(again["previous_key_expires_at"].is_null());
    assert_eq!(status_with(&app, &newest).await, 404);
    assert_eq!(
        status_with(&app, &new).await,
        401,
        "no grace: stopped at once"
    );
    assert_eq!(status_with(&app, &old).await, 401);

    let listed: Value = app
        .http
        .get(format!("{}/ops/clients", app.base))
        .bearer_auth(&app.operator_key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let text = listed.to_string();
    assert!(!text.contains(&newest), "listing never shows a key");
    let entry = listed
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == app.client_id.to_string()))
        .expect("client listed");
    assert_eq!(entry["role"], "client");
    assert!(newest.starts_with(entry["key_prefix"].as_str().expect("prefix")));

    let revoked = ops(&app, &format!("/ops/clients/{}/revoke", app.client_id)).await;
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(
        status_with(&app, &newest).await,
        401,
        "revoked: stopped at once"
    );

    let actions = audit_actions(&app).await;
    let names: Vec<&str> = actions.iter().map(|(_, action)| action.as_str()).collect();
    assert_eq!(names, ["client.rotate", "client.rotate", "client.revoke"]);
    assert!(actions.iter().all(|(actor, _)| actor.starts_with("key:")));
}

#[tokio::test]
async fn a_revoked_key_in_its_grace_stops_too() {
    let app = spawn_app().await;
    let old = app.key.clone();
    let rotated = ops(
        &app,
        &format!("/ops/clients/{}/rotate?grace=7d", app.client_id),
    )
    .await;
    let new = rotated["key"].as_str().expect("key").to_owned();
    ops(&app, &format!("/ops/clients/{}/revoke", app.client_id)).await;
    assert_eq!(status_with(&app, &old).await, 401);
    assert_eq!(status_with(&app, &new).await, 401);
}

#[tokio::test]
async fn the_cli_lists_rotates_and_revokes_with_an_audit_trail() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_malipo"))
            .args(args)
            .env("DATABASE_URL", &app.db_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run malipo");
        assert!(
            output.status.success(),
            "malipo {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let id = app.client_id.to_string();
    let listed = run(&["clients", "list"]);
    assert!(listed.contains(&id) && listed.contains("client") && !listed.contains(&app.key));

    let rotated = run(&["clients", "rotate", &id, "--grace", "0s"]);
    let new = rotated
        .lines()
        .find_map(|line| line.strip_prefix("api key:"))
        .map(str::trim)
        .expect("the new key is printed")
        .to_owned();
    assert!(new.starts_with("mlp_live_"));
    assert_eq!(status_with(&app, &new).await, 404);
    assert_eq!(status_with(&app, &app.key).await, 401);

    run(&["clients", "revoke", &id]);
    assert_eq!(status_with(&app, &new).await, 401);
    let json: Value = serde_json::from_str(&run(&["clients", "list", "--json"])).expect("json");
    let entry = json
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == id))
        .expect("listed");
    assert!(entry["revoked_at"].is_string());

    let actions = audit_actions(&app).await;
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.iter().all(|(actor, _)| actor.starts_with("cli:")));
}
