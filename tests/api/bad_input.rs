//! Bad input: the right 4xx problem+json, naming the problem, and nothing written.

use serde_json::{Value, json};

use super::support::{mpesa_intent, problem, spawn_app, spawn_app_with};

fn field_names(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn missing_or_unknown_keys_are_401() {
    let app = spawn_app().await;
    let url = format!("{}/v1/intents", app.base);
    let anonymous = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("idempotency-key", "k")
        .body(mpesa_intent().to_string())
        .send()
        .await
        .expect("post");
    problem(anonymous, 401).await;
    let wrong = app
        .http
        .post(&url)
        .bearer_auth("mlp_live_nope")
        .header("content-type", "application/json")
        .header("idempotency-key", "k")
        .body(mpesa_intent().to_string())
        .send()
        .await
        .expect("post");
    problem(wrong, 401).await;
    let malformed = app
        .http
        .get(format!("{url}/x"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .expect("get");
    problem(malformed, 401).await;
    app.assert_nothing_written().await;
}

#[tokio::test]
async fn malformed_json_wrong_media_type_and_missing_key_are_refused() {
    let app = spawn_app().await;
    let body = problem(app.post_raw("{\"amount\": ", Some("k1")).await, 400).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not valid JSON"))
    );
    problem(app.post_raw("[1,2,3]", Some("k2")).await, 400).await;
    problem(
        app.post_raw(b"{\"amount\":\"\xff\"}".to_vec(), Some("k3"))
            .await,
        400,
    )
    .await;
    let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    problem(
        app.post_raw(format!("{{\"metadata\":{deep}}}"), Some("k4"))
            .await,
        400,
    )
    .await;

    let missing_key = problem(app.post_raw(mpesa_intent().to_string(), None).await, 400).await;
    assert!(
        missing_key["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Idempotency-Key"))
    );
    let injected = app
        .http
        .post(format!("{}/v1/intents", app.base))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .header("idempotency-key", "abc def")
        .body(mpesa_intent().to_string())
        .send()
        .await
        .expect("post");
    problem(injected, 400).await;

    let text = app
        .http
        .post(format!("{}/v1/intents", app.base))
        .bearer_auth(&app.key)
        .header("content-type", "text/plain")
        .header("idempotency-key", "k5")
        .body(mpesa_intent().to_string())
        .send()
        .await
        .expect("post");
    problem(text, 415).await;
    app.assert_nothing_written().await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app_with(|config| config.body_limit_bytes = 8 * 1024).await;
    let mut intent = mpesa_intent();
    intent["metadata"] = json!({"blob": "x".repeat(20 * 1024)});
    problem(app.create(&intent, "big").await, 413).await;
    app.assert_nothing_written().await;
}

#[tokio::test]
async fn invalid_fields_are_422_naming_each_field() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("negative", json!("-1.00"), "amount"),
        ("zero", json!("0"), "amount"),
        ("too precise", json!("10.005"), "amount"),
        ("fractional KES for mpesa", json!("1500.50"), "amount"),
        ("wrong type", json!(true), "amount"),
    ];
    for (label, amount, field) in cases {
        let mut intent = mpesa_intent();
        intent["amount"] = amount;
        let body = problem(app.create(&intent, &label.replace(' ', "-")).await, 422).await;
        assert_eq!(field_names(&body), vec![field.to_owned()], "{label}");
    }
    let exponent = mpesa_intent().to_string().replace("\"1500.00\"", "1.5e3");
    assert_eq!(
        field_names(&problem(app.post_raw(exponent, Some("exponent")).await, 422).await),
        ["amount"]
    );
    let mut unknown_currency = mpesa_intent();
    unknown_currency["currency"] = "EUR".into();
    assert!(
        field_names(&problem(app.create(&unknown_currency, "cur").await, 422).await)
            .contains(&"currency".to_owned())
    );
    let mut unknown_provider = mpesa_intent();
    unknown_provider["provider"] = "bitpesa".into();
    assert_eq!(
        field_names(&problem(app.create(&unknown_provider, "prov").await, 422).await),
        ["provider"]
    );
    let mut wrong_types = mpesa_intent();
    wrong_types["commission_bps"] = "ten".into();
    wrong_types["metadata"] = json!([1]);
    wrong_types["payee"] = json!("seller");
    let mut names = field_names(&problem(app.create(&wrong_types, "types").await, 422).await);
    names.sort();
    assert_eq!(names, ["commission_bps", "metadata", "payee"]);
    app.assert_nothing_written().await;
}

#[tokio::test]
async fn an_exact_json_number_amount_is_accepted() {
    let app = spawn_app().await;
    let mut intent = mpesa_intent();
    intent["amount"] = json!(1500);
    let created = app.create(&intent, "number").await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.expect("json");
    assert_eq!(body["amount"], "1500.00");
}

#[tokio::test]
async fn clients_over_their_rate_are_429_with_retry_after() {
    let app = spawn_app_with(|config| {
        config.rate_limit_per_sec = 1;
        config.rate_limit_burst = 2;
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for n in 0..4 {
        let response = app
            .http
            .get(format!("{}/v1/intents/{}", app.base, uuid::Uuid::new_v4()))
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("get");
        if response.status() == 429 {
            retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            problem(response, 429).await;
        }
        statuses.push(n);
    }
    assert!(
        retry_after.is_some_and(|seconds| seconds.parse::<u64>().is_ok_and(|s| s >= 1)),
        "429 with Retry-After"
    );
}
