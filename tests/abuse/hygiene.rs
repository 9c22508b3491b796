//! Small things at the door: the Bearer scheme in any case, one Authorization header, no
//! serving of other hosts' absolute-form targets, no bidi or control characters in
//! identifiers, amounts at their currency's scale, security headers, CORS off by default.

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{mpesa_intent, problem, raw_request, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let id = app.intent().await;
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let response = app
            .http
            .get(format!("{}/v1/intents/{id}", app.base))
            .header("authorization", format!("{scheme} {}", app.key))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn two_authorization_headers_are_400() {
    let app = spawn_app().await;
    let id = app.intent().await;
    let response = app
        .http
        .get(format!("{}/v1/intents/{id}", app.base))
        .header("authorization", format!("Bearer {}", app.key))
        .header("authorization", "Bearer mlp_live_other")
        .send()
        .await
        .expect("request");
    let body = problem(response, 400).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Authorization"))
    );
}

#[tokio::test]
async fn absolute_form_targets_must_name_the_host_they_are_sent_to() {
    let app = spawn_app().await;
    let foreign = raw_request(
        app.addr,
        b"GET http://evil.example/healthz HTTP/1.1\r\nhost: evil.example.net\r\nconnection: close\r\n\r\n",
    )
    .await
    .expect("answer");
    assert_eq!(foreign.status, 400, "{foreign:?}");
    foreign.problem();
    let own = format!(
        "GET http://{0}/healthz HTTP/1.1\r\nhost: {0}\r\nconnection: close\r\n\r\n",
        app.addr
    );
    let own = raw_request(app.addr, own.as_bytes()).await.expect("answer");
    assert_eq!(own.status, 200, "{own:?}");
}

#[tokio::test]
async fn identifiers_refuse_bidi_and_control_characters_free_text_keeps_them() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("RLO in reference", json!("order\u{202e}189"), "reference"),
        ("LRI in reference", json!("order\u{2066}x"), "reference"),
        ("tab in reference", json!("order\t981"), "reference"),
    ];
    for (label, reference, field) in cases {
        let mut body = mpesa_intent();
        body["reference"] = reference;
        let answer = problem(app.create(&body, &label.replace(' ', "-")).await, 422).await;
        assert!(answer.to_string().contains(field), "{label}: {answer}");
    }
    for (label, metadata) in [
        ("RLO in a metadata key", json!({"ord\u{202e}er": "1"})),
        ("PDI in a nested key", json!({"order": {"i\u{2069}d": "1"}})),
        ("ESC in a metadata key", json!({"a\u{1b}b": "1"})),
    ] {
        let mut body = mpesa_intent();
        body["metadata"] = metadata;
        let answer = problem(app.create(&body, &label.replace(' ', "-")).await, 422).await;
        assert!(answer.to_string().contains("metadata"), "{label}: {answer}");
    }
    let mut payee = mpesa_intent();
    payee["payee"]["id"] = json!("seller\u{202d}42");
    problem(app.create(&payee, "bidi-payee").await, 422).await;
    assert_eq!(app.rows("intents").await, 0);
    // In a metadata value it is content.
    let mut free = mpesa_intent();
    free["metadata"] = json!({"note": "שלום \u{202e} mixed"});
    assert_eq!(app.create(&free, "free-text").await.status(), 201);
}

#[tokio::test]
async fn sat_amounts_show_without_decimals_in_intents_and_payouts() {
    let app = spawn_app().await;
    let body = json!({"amount":"1000","currency":"SAT","provider":"lightning","buyer":{},
        "payee":{"id":"seller-3","payout":{"provider":"lightning"}}});
    let created: Value = app.create(&body, "sats").await.json().await.expect("json");
    assert_eq!(created["amount"], "1000");
    let id = created["id"].as_str().expect("id");
    sqlx::query(
        "INSERT INTO payouts (id, intent_id, kind, amount, currency, provider, destination, reference, status)
         VALUES (gen_random_uuid(), $1::uuid, 'payee', 1000, 'SAT', 'lightning', '{}', 'ref-sats', 'pending')",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .expect("payout");
    let view: Value = app
        .request(Method::GET, &format!("/v1/intents/{id}"), &app.key)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(view["amount"], "1000");
    assert_eq!(view["payouts"][0]["amount"], "1000", "{view}");
}

#[tokio::test]
async fn every_answer_has_security_headers_and_no_server_version() {
    let app = spawn_app().await;
    for (method, path, key, private) in [
        (Method::GET, "/healthz", None, false),
        (Method::GET, "/nowhere", None, false),
        (Method::GET, "/v1/intents/x", None, true),
        (
            Method::GET,
            "/v1/intents/00000000-0000-0000-0000-000000000000",
            Some(&app.key),
            true,
        ),
        (Method::GET, "/ops/queues", Some(&app.operator_key), true),
        (Method::GET, "/metrics", Some(&app.operator_key), true),
    ] {
        let mut request = app.http.request(method, format!("{}{path}", app.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("request");
        let headers = response.headers();
        assert_eq!(
            headers
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{path}"
        );
        assert!(headers.get("server").is_none(), "{path}");
        if private {
            assert_eq!(
                headers.get("cache-control").and_then(|v| v.to_str().ok()),
                Some("no-store"),
                "{path}"
            );
        }
    }
    let bare = raw_request(app.addr, b"GET /healthz HTTP/1.1\r\nbroken\r\n\r\n")
        .await
        .expect("answer");
    assert_eq!(bare.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let preflight = |base: String| async move {
        reqwest::Client::new()
            .request(Method::OPTIONS, format!("{base}/v1/intents"))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .expect("preflight")
    };
    let closed = spawn_app().await;
    let answer = preflight(closed.base.clone()).await;
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let open = spawn_app_with(|config| {
        config.front.cors_origins = vec!["https://shop.example".to_owned()];
    })
    .await;
    let answer = preflight(open.base.clone()).await;
    assert_eq!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
}
