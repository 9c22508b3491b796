//! Bodies the API must refuse before doing anything: too large (declared, streamed, or lied
//! about), nested 10 000 deep, invalid UTF-8, or not JSON by their media type.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    strategies::intent_example,
    support::{App, problem, raw_request, spawn_app, spawn_app_with},
};

const ROUTES: [&str; 3] = [
    "/v1/intents",
    "/v1/intents/0190aa7b-5cbb-7d21-8000-000000000001/release",
    "/v1/intents/0190aa7b-5cbb-7d21-8000-000000000001/refund",
];

/// An intent body of exactly `size` bytes (padded in `metadata`).
fn intent_of_size(size: usize) -> Vec<u8> {
    let mut intent = intent_example();
    intent["metadata"] = json!({"pad": ""});
    let base = intent.to_string().len();
    intent["metadata"]["pad"] = "x".repeat(size - base).into();
    let bytes = intent.to_string().into_bytes();
    assert_eq!(bytes.len(), size);
    bytes
}

async fn post_json(
    app: &App,
    path: &str,
    key: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.post(path)
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body)
        .send()
        .await
        .expect("post")
}

/// POSTs `total` bytes in 16 KiB chunks with no `Content-Length`, so only counting the bytes
/// can stop them; asserts a 413 problem+json.
async fn assert_streamed_refused(app: &App, path: &str, total: usize) {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\n\
         idempotency-key: chunked\r\ntransfer-encoding: chunked\r\n\r\n",
        app.key
    )
    .into_bytes();
    let chunk = 16 * 1024;
    for _ in 0..total.div_ceil(chunk) {
        request.extend_from_slice(format!("{chunk:x}\r\n").as_bytes());
        request.extend(std::iter::repeat_n(b' ', chunk));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_request(app.addr, &request).await.expect("an answer");
    assert_eq!(answer.status, 413, "{path}: {answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{path}"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = spawn_app().await;
    let limit = app.body_limit;
    for route in ROUTES {
        let just_over = post_json(&app, route, "just-over", intent_of_size(limit + 1)).await;
        problem(just_over, 413, &format!("exceeds {limit} bytes")).await;
        let far_over = post_json(&app, route, "far-over", vec![b' '; 8 * 1024 * 1024]).await;
        problem(far_over, 413, "exceeds").await;
        assert_streamed_refused(&app, route, limit + 1).await;
    }
    // At the limit exactly the body is read, and refused for what it says.
    let at_limit = post_json(&app, ROUTES[0], "at-limit", intent_of_size(limit)).await;
    problem(at_limit, 422, "invalid fields").await;
    // Webhooks share the limit, checked before the signature or token is.
    for route in [
        "/webhooks/paystack".to_owned(),
        format!("/webhooks/mpesa/{}/stk", super::support::MPESA_TOKEN),
        format!("/webhooks/lnbits/{}", super::support::LNBITS_TOKEN),
    ] {
        let response = app
            .http
            .post(format!("{}{route}", app.base))
            .body(vec![b'{'; limit + 1])
            .send()
            .await
            .expect("post");
        problem(response, 413, "exceeds").await;
        assert_streamed_refused(&app, &route, 4 * limit).await;
    }
    app.assert_nothing_written("oversized bodies").await;
}

#[tokio::test]
async fn a_lying_content_length_is_refused_without_waiting_for_the_body() {
    // Waiting for bytes that never come would end at the request timeout (a 503 after 8 s);
    // an answer well before it (5 s of headroom for a loaded machine) came from the header.
    let app = spawn_app_with(|config| config.request_timeout = Duration::from_secs(8)).await;
    let head = |length: &str, path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\n\
             idempotency-key: lying\r\ncontent-length: {length}\r\n\r\n",
            app.key
        )
    };
    for path in [ROUTES[0], "/webhooks/paystack"] {
        // Claims ten megabytes, sends twenty bytes and waits.
        let started = Instant::now();
        let mut request = head("10000000", path).into_bytes();
        request.extend_from_slice(br#"{"amount":"1500.00"}"#);
        let answer = raw_request(app.addr, &request).await.expect("an answer");
        assert_eq!(answer.status, 413, "{path}: {answer:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path}: answered only after {:?} (the request timeout is 8 s)",
            started.elapsed()
        );
    }
    // Claims fifty bytes and sends a whole intent: the first fifty are not JSON.
    let mut request = head("50", ROUTES[0]).into_bytes();
    request.extend_from_slice(&intent_of_size(2_000));
    let answer = raw_request(app.addr, &request).await.expect("an answer");
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    assert!(String::from_utf8_lossy(&answer.body).contains("not valid JSON"));
    // Two lengths, or one that is no number: HTTP itself refuses (a smuggling attempt).
    for lengths in [
        "content-length: 20\r\ncontent-length: 2000",
        "content-length: -1",
        "content-length: 1e3",
    ] {
        let request = format!(
            "POST /v1/intents HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\n\
             idempotency-key: lying-2\r\n{lengths}\r\n\r\n{{\"amount\":\"1500.00\"}}",
            app.key
        );
        let answer = raw_request(app.addr, request.as_bytes()).await;
        assert!(
            answer.as_ref().is_none_or(|a| a.status == 400),
            "{lengths}: {answer:?}"
        );
    }
    app.assert_nothing_written("lying lengths").await;
}

#[tokio::test]
async fn json_nested_ten_thousand_deep_is_400() {
    let app = spawn_app().await;
    let arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let mut valid_but_deep = intent_example();
    valid_but_deep["metadata"] = json!({"deep": "PLACEHOLDER"});
    let in_metadata = valid_but_deep
        .to_string()
        .replace(r#""PLACEHOLDER""#, &arrays);
    let in_amount = intent_example()
        .to_string()
        .replace(r#""1500.00""#, &objects);
    for route in ROUTES {
        for (label, body) in [
            ("arrays", &arrays),
            ("objects", &objects),
            ("in metadata", &in_metadata),
            ("in amount", &in_amount),
        ] {
            let response =
                post_json(&app, route, label.replace(' ', "-").as_str(), body.clone()).await;
            let answer = problem(response, 400, "not valid JSON").await;
            assert!(
                answer["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("recursion limit")),
                "{route} {label}: {answer}"
            );
        }
    }
    app.assert_nothing_written("deep JSON").await;
}

#[tokio::test]
async fn invalid_utf8_in_strings_and_keys_is_400() {
    let app = spawn_app().await;
    let valid = intent_example().to_string().into_bytes();
    let splice = |from: &[u8], to: &[u8]| -> Vec<u8> {
        let at = valid
            .windows(from.len())
            .position(|w| w == from)
            .expect("present");
        [&valid[..at], to, &valid[at + from.len()..]].concat()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("0xFF in a value", splice(b"seller-42", b"seller-\xff42")),
        (
            "0xFF in a key",
            splice(b"\"reference\"", b"\"ref\xffrence\""),
        ),
        (
            "bad sequence in a nested key",
            splice(b"\"order\":", b"\"\xc3\x28\":"),
        ),
        ("overlong slash", splice(b"order-981", b"order\xc0\xaf981")),
        (
            "UTF-8-encoded surrogate",
            splice(b"seller-42", b"\xed\xa0\x80"),
        ),
        ("truncated sequence", splice(b"1500.00", b"1500.00\xe2\x82")),
        ("lone surrogate escape", splice(b"seller-42", br"\ud800")),
        (
            "lone surrogate escape in a key",
            splice(b"\"metadata\"", br#""\udfff""#),
        ),
    ];
    for route in ROUTES {
        for (label, body) in &cases {
            let response = post_json(&app, route, "utf8", body.clone()).await;
            let answer = problem(response, 400, "not valid JSON").await;
            assert!(answer["detail"].is_string(), "{label}");
        }
    }
    // Percent-escaped invalid UTF-8 in the path is no intent id either.
    for path in ["/v1/intents/%FF%FE/release", "/v1/intents/%C0%AF/refund"] {
        let response = post_json(&app, path, "utf8-path", "{}").await;
        problem(response, 404, "invalid UTF-8").await;
    }
    app.assert_nothing_written("invalid UTF-8").await;
}

#[tokio::test]
async fn bodies_that_are_not_json_by_type_are_415() {
    let app = spawn_app().await;
    let intent = intent_example().to_string();
    let form = "amount=1500.00&currency=KES&provider=mpesa".to_owned();
    let cases: [(Option<&str>, &String); 7] = [
        (Some("text/plain"), &intent),
        (Some("text/plain; charset=utf-8"), &intent),
        (Some("application/x-www-form-urlencoded"), &form),
        (Some("multipart/form-data; boundary=x"), &intent),
        (Some("application/jsonp"), &intent),
        (Some(""), &intent),
        (None, &intent),
    ];
    for route in ROUTES {
        for (media, body) in &cases {
            let mut request = app
                .post(route)
                .header("idempotency-key", "media")
                .body((*body).clone());
            if let Some(media) = media {
                request = request.header("content-type", *media);
            }
            let response = request.send().await.expect("post");
            problem(response, 415, "Content-Type: application/json").await;
        }
    }
    app.assert_nothing_written("wrong media types").await;
}
