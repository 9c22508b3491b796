//! The notification API's management side: rotation with a grace, manual retry and recovery
//! with the same `webhook-id`, disabling after days of failures, bad input refused whole,
//! tenancy, and intent listing by reference with keyset pages.

use std::time::Duration;

use malipo::notify::{
    WebhookSecret,
    receiver::{Delivery, Script},
    signature::{Received, verify},
};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    notify::{LIMIT, receiver},
    support::{Harness, mpesa_intent},
};

fn verifies(secret: &WebhookSecret, delivery: &Delivery) -> bool {
    verify(
        secret,
        Received {
            id: Some(&delivery.id),
            timestamp: Some(&delivery.timestamp),
            signature: Some(&delivery.signature),
        },
        &delivery.body,
        chrono::Utc::now().timestamp(),
    )
    .is_ok()
}

#[tokio::test]
async fn a_rotated_secret_signs_alongside_the_old_one_during_the_grace_only() {
    let harness = Harness::start().await;
    let receiver = receiver(Script::default()).await;
    let (endpoint, old) = harness.endpoint(&receiver.url()).await;
    let rotated: Value = harness
        .api(
            Method::POST,
            &format!("/v1/webhook_endpoints/{endpoint}/rotate_secret"),
            Some(json!({"grace_seconds": 3600})),
        )
        .await
        .json()
        .await
        .expect("json");
    let new = WebhookSecret::parse(rotated["secret"].as_str().expect("new secret")).expect("parse");
    assert_ne!(new, old);
    harness.send_test_event(&endpoint).await;
    harness.deliveries_settled(&endpoint).await;
    let during = receiver.log().pop().expect("delivered");
    assert_eq!(
        during.signature.split(' ').count(),
        2,
        "{}",
        during.signature
    );
    assert!(verifies(&new, &during) && verifies(&old, &during));

    // With no grace, only the new secret signs.
    let body: Value = harness
        .api(
            Method::POST,
            &format!("/v1/webhook_endpoints/{endpoint}/rotate_secret"),
            Some(json!({"grace_seconds": 0})),
        )
        .await
        .json()
        .await
        .expect("json");
    let newest = WebhookSecret::parse(body["secret"].as_str().expect("secret")).expect("parse");
    harness.send_test_event(&endpoint).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    while receiver.log().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "second test event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = receiver.log().pop().expect("delivered");
    assert_eq!(after.signature.split(' ').count(), 1);
    assert!(verifies(&newest, &after));
    assert!(!verifies(&new, &after) && !verifies(&old, &after));
}

#[tokio::test]
async fn manual_retry_and_recovery_resend_with_the_same_webhook_id() {
    let harness = Harness::start().await;
    let receiver = receiver(Script::default()).await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let sent = harness.send_test_event(&endpoint).await;
    let delivery = sent["delivery_id"].as_str().expect("delivery").to_owned();
    harness.deliveries_settled(&endpoint).await;

    let retried = harness
        .api(
            Method::POST,
            &format!("/v1/webhook_endpoints/{endpoint}/deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(retried.status(), 202);
    let wait_for = |n: usize| {
        let receiver = receiver.clone();
        async move {
            let deadline = tokio::time::Instant::now() + LIMIT;
            while receiver.log().len() < n {
                assert!(tokio::time::Instant::now() < deadline, "{n} arrivals");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(2).await;
    let recovered: Value = harness
        .api(
            Method::POST,
            &format!("/v1/webhook_endpoints/{endpoint}/recover"),
            Some(json!({"since": since.to_rfc3339()})),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(recovered["deliveries"], 1);
    wait_for(3).await;
    let ids: Vec<String> = receiver.log().into_iter().map(|d| d.id).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let delivery_row = harness.delivery(&delivery).await;
    assert_eq!(delivery_row.round, 2);
    // The receiver sees a request before its attempt is recorded: wait for the record.
    let attempts = harness.wait_attempts(&delivery, 3).await;
    assert_eq!(attempts.len(), 3, "each attempt logged, none twice");
    assert!(attempts.iter().all(|a| a.response_status == Some(200)));
}

#[tokio::test]
async fn an_endpoint_failing_every_attempt_for_the_window_is_disabled_with_a_reason() {
    let harness = Harness::start().await;
    let receiver = receiver(Script {
        always: Some(500),
        ..Script::default()
    })
    .await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    // Five days, compressed like the schedule: 432 s; the streak is made to have begun earlier.
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = now() - interval '10 minutes' WHERE id = $1::uuid",
    )
    .bind(&endpoint)
    .execute(&harness.pool)
    .await
    .expect("backdate");
    harness.send_test_event(&endpoint).await;
    let deliveries = harness.deliveries_settled(&endpoint).await;
    assert_eq!(deliveries[0]["status"], "failed");
    let shown: Value = harness
        .api(
            Method::GET,
            &format!("/v1/webhook_endpoints/{endpoint}"),
            None,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["enabled"], false);
    assert!(
        shown["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("every attempt failed")),
        "{shown}"
    );
    // The client can enable it again, which clears the streak.
    let enabled: Value = harness
        .api(
            Method::PATCH,
            &format!("/v1/webhook_endpoints/{endpoint}"),
            Some(json!({"enabled": true})),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(enabled["enabled"], true);
    assert_eq!(enabled["disabled_reason"], Value::Null);
    assert_eq!(enabled["failing_since"], Value::Null);
}

#[tokio::test]
async fn bad_endpoint_input_is_a_problem_naming_the_field_and_writes_nothing() {
    let harness = Harness::start().await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM webhook_endpoints")
            .fetch_one(&harness.pool)
            .await
            .expect("count")
    };
    for (body, field) in [
        (json!({}), "url"),
        (json!({"url": 5}), "url"),
        (json!({"url": "ftp://example.com/x"}), "url"),
        (json!({"url": "https://user:pw@example.com/x"}), "url"),
        (
            json!({"url": "https://example.com/x", "event_types": ["Intent.Held"]}),
            "event_types[0]",
        ),
        (
            json!({"url": "https://example.com/x", "event_types": "intent.held"}),
            "event_types",
        ),
        (
            json!({"url": "https://example.com/x", "description": "x".repeat(501)}),
            "description",
        ),
    ] {
        let response = harness
            .api(Method::POST, "/v1/webhook_endpoints", Some(body.clone()))
            .await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.expect("json");
        assert!(problem.to_string().contains(field), "{body}: {problem}");
    }
    let not_json = harness
        .http
        .post(format!("{}/v1/webhook_endpoints", harness.base))
        .bearer_auth(&harness.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(not_json.status(), 400);
    assert_eq!(count().await, 0);

    let bad_rotation = harness
        .api(
            Method::POST,
            "/v1/webhook_endpoints/not-a-uuid/rotate_secret",
            Some(json!({})),
        )
        .await;
    assert_eq!(bad_rotation.status(), 404);
    for query in [
        "limit=0",
        "cursor=pi_1",
        "since=yesterday",
        "order=sideways",
        "intent_id=x",
    ] {
        let response = harness
            .api(Method::GET, &format!("/v1/events?{query}"), None)
            .await;
        assert_eq!(response.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn another_clients_endpoints_deliveries_and_events_are_404() {
    let harness = Harness::start().await;
    let receiver = receiver(Script::default()).await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    let sent = harness.send_test_event(&endpoint).await;
    harness.deliveries_settled(&endpoint).await;
    let other = malipo::clients::create(&harness.pool, "other", "client", 0)
        .await
        .expect("client")
        .key;
    let event = sent["event_id"].as_str().expect("event id");
    let delivery = sent["delivery_id"].as_str().expect("delivery id");
    for (method, path) in [
        (Method::GET, format!("/v1/webhook_endpoints/{endpoint}")),
        (Method::PATCH, format!("/v1/webhook_endpoints/{endpoint}")),
        (Method::DELETE, format!("/v1/webhook_endpoints/{endpoint}")),
        (
            Method::GET,
            format!("/v1/webhook_endpoints/{endpoint}/deliveries"),
        ),
        (
            Method::POST,
            format!("/v1/webhook_endpoints/{endpoint}/deliveries/{delivery}/retry"),
        ),
        (
            Method::POST,
            format!("/v1/webhook_endpoints/{endpoint}/test"),
        ),
        (Method::GET, format!("/v1/events/{event}")),
    ] {
        let mut request = harness
            .http
            .request(method.clone(), format!("{}{path}", harness.base))
            .bearer_auth(&other);
        if method == Method::PATCH {
            request = request
                .header("content-type", "application/json")
                .body("{}");
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let theirs: Value = harness
        .http
        .get(format!("{}/v1/events", harness.base))
        .bearer_auth(&other)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(theirs["data"].as_array().map(Vec::len), Some(0));
    // Deleting stops deliveries for good; the owner sees it gone.
    let deleted = harness
        .api(
            Method::DELETE,
            &format!("/v1/webhook_endpoints/{endpoint}"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let listed: Value = harness
        .api(Method::GET, "/v1/webhook_endpoints", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn intents_are_listed_newest_first_by_filter_and_found_by_reference() {
    let harness = Harness::start().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let mut body = mpesa_intent("100");
        body["reference"] = json!(format!("order-{n}"));
        ids.push(
            harness.create(body).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let found: Value = harness
        .api(Method::GET, "/v1/intents?reference=order-3", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(found["data"][0]["id"], ids[3].as_str());
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1));

    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/intents?provider=mpesa&limit=2&cursor={c}"),
            None => "/v1/intents?provider=mpesa&limit=2".to_owned(),
        };
        let page: Value = harness
            .api(Method::GET, &path, None)
            .await
            .json()
            .await
            .expect("json");
        for intent in page["data"].as_array().expect("data") {
            walked.push(intent["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(walked, newest_first);
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let none: Value = harness
        .http
        .get(format!("{}/v1/intents", harness.base))
        .query(&[("created_gte", future.as_str())])
        .bearer_auth(&harness.key)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(none["data"].as_array().map(Vec::len), Some(0));
    let other = malipo::clients::create(&harness.pool, "other", "client", 0)
        .await
        .expect("client")
        .key;
    let theirs: Value = harness
        .http
        .get(format!("{}/v1/intents", harness.base))
        .bearer_auth(&other)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        theirs["data"].as_array().map(Vec::len),
        Some(0),
        "only the caller's own"
    );
    for query in [
        "status=paid",
        "provider=visa",
        "limit=101",
        "cursor=x",
        "created_lt=soon",
    ] {
        let response = harness
            .api(Method::GET, &format!("/v1/intents?{query}"), None)
            .await;
        assert_eq!(response.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn operators_retry_and_recover_any_clients_deliveries_audited() {
    let harness = Harness::start().await;
    let receiver = receiver(Script::default()).await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    let sent = harness.send_test_event(&endpoint).await;
    let delivery = sent["delivery_id"].as_str().expect("delivery").to_owned();
    harness.deliveries_settled(&endpoint).await;
    let operator = malipo::clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let ops = |path: String, body: Option<Value>| {
        let mut request = harness
            .http
            .post(format!("{}{path}", harness.base))
            .bearer_auth(&operator);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request.send()
    };
    let retried = ops(format!("/ops/webhook_deliveries/{delivery}/retry"), None)
        .await
        .expect("retry");
    assert_eq!(retried.status(), 200);
    harness.wait_attempts(&delivery, 2).await;
    let recovered: Value = ops(
        format!("/ops/webhook_endpoints/{endpoint}/recover"),
        Some(json!({"since": since.to_rfc3339()})),
    )
    .await
    .expect("recover")
    .json()
    .await
    .expect("json");
    assert_eq!(recovered["deliveries"], 1);
    harness.wait_attempts(&delivery, 3).await;
    let ids: Vec<String> = receiver.log().into_iter().map(|d| d.id).collect();
    assert!(
        ids.len() == 3 && ids.iter().all(|id| *id == ids[0]),
        "{ids:?}"
    );
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM malipo_ops_audit WHERE action IN ('delivery.retry', 'endpoint.recover') ORDER BY id",
    )
    .fetch_all(&harness.pool)
    .await
    .expect("audit");
    assert_eq!(audited, ["delivery.retry", "endpoint.recover"]);
    // Unknown ids are 404; a bad window is 400; a client key cannot use /ops.
    let missing = ops(
        format!("/ops/webhook_deliveries/{}/retry", uuid::Uuid::new_v4()),
        None,
    )
    .await
    .expect("retry");
    assert_eq!(missing.status(), 404);
    let bad = ops(
        format!("/ops/webhook_endpoints/{endpoint}/recover"),
        Some(json!({"since": "last week"})),
    )
    .await
    .expect("recover");
    assert_eq!(bad.status(), 400);
    let as_client = harness
        .api(
            Method::POST,
            &format!("/ops/webhook_deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(as_client.status(), 403);
}

#[tokio::test]
async fn the_openapi_document_describes_the_notification_surface() {
    let harness = Harness::start().await;
    let doc: Value = harness
        .http
        .get(format!("{}/openapi.json", harness.base))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let paths = &doc["paths"];
    for (path, method) in [
        ("/v1/intents", "get"),
        ("/v1/intents", "post"),
        ("/v1/webhook_endpoints", "post"),
        ("/v1/webhook_endpoints", "get"),
        ("/v1/webhook_endpoints/{id}", "patch"),
        ("/v1/webhook_endpoints/{id}", "delete"),
        ("/v1/webhook_endpoints/{id}/rotate_secret", "post"),
        ("/v1/webhook_endpoints/{id}/test", "post"),
        ("/v1/webhook_endpoints/{id}/deliveries", "get"),
        (
            "/v1/webhook_endpoints/{id}/deliveries/{delivery_id}/retry",
            "post",
        ),
        ("/v1/webhook_endpoints/{id}/recover", "post"),
        ("/v1/events", "get"),
        ("/v1/events/{id}", "get"),
        ("/ops/webhook_deliveries/{id}/retry", "post"),
        ("/ops/webhook_endpoints/{id}/recover", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
}

#[tokio::test]
async fn metrics_count_deliveries_and_the_oldest_undelivered_event() {
    let harness = Harness::start().await;
    let receiver = receiver(Script::default()).await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    harness.send_test_event(&endpoint).await;
    harness.deliveries_settled(&endpoint).await;
    let operator = malipo::clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let text = harness
        .http
        .get(format!("{}/metrics", harness.base))
        .bearer_auth(&operator)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    for series in [
        "malipo_notification_attempts_total{outcome=\"delivered\"}",
        "malipo_notification_deliveries{status=\"pending\"} 0",
        "malipo_notification_oldest_undelivered_age_seconds 0",
        "malipo_webhook_endpoints{state=\"enabled\"} 1",
    ] {
        assert!(text.contains(series), "{series} missing");
    }
}
