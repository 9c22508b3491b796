//! `Idempotency-Key` injection: control characters, NUL, non-ASCII and overlong keys are
//! refused, none of it is echoed into a response header, and nothing is written.

use reqwest::header::HeaderValue;

use super::{
    strategies::intent_example,
    support::{problem, raw_request, spawn_app},
};

#[tokio::test]
async fn keys_that_reach_the_app_are_checked() {
    let app = spawn_app().await;
    let body = intent_example().to_string();
    let long = "k".repeat(256);
    let huge = "k".repeat(8 * 1024);
    let cases: Vec<(&str, HeaderValue)> = vec![
        ("empty", HeaderValue::from_static("")),
        ("space inside", HeaderValue::from_static("order 981")),
        ("tab inside", HeaderValue::from_static("order\t981")),
        (
            "UTF-8",
            HeaderValue::from_bytes("clé-981".as_bytes()).expect("obs-text"),
        ),
        (
            "Latin-1",
            HeaderValue::from_bytes(b"cl\xe9-981").expect("obs-text"),
        ),
        (
            "right-to-left override",
            HeaderValue::from_bytes("a\u{202e}b".as_bytes()).expect("obs-text"),
        ),
        (
            "256 characters",
            HeaderValue::from_str(&long).expect("ascii"),
        ),
        ("8 KiB", HeaderValue::from_str(&huge).expect("ascii")),
    ];
    for (label, value) in cases {
        let response = app
            .post("/v1/intents")
            .header("content-type", "application/json")
            .header("idempotency-key", value)
            .body(body.clone())
            .send()
            .await
            .expect("post");
        let echoed = response
            .headers()
            .values()
            .any(|v| v.as_bytes().windows(3).any(|w| w == b"981" || w == b"kkk"));
        assert!(!echoed, "{label}: the key came back in a header");
        problem(response, 400, "Idempotency-Key").await;
    }
    // 255 visible characters is the longest key, and it works.
    app.assert_nothing_written("refused keys").await;
    let longest = app
        .post("/v1/intents")
        .header("content-type", "application/json")
        .header("idempotency-key", "k".repeat(255))
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(longest.status(), 201);
}

#[tokio::test]
async fn keys_with_cr_lf_or_nul_never_reach_the_app() {
    // reqwest refuses to send these, so they go over a raw socket. HTTP parsing refuses them
    // before routing; the connection layer still answers with a 400 problem document.
    let app = spawn_app().await;
    let body = intent_example().to_string();
    for (label, key) in [
        ("bare CR", &b"order\r981"[..]),
        ("NUL", &b"order\x00981"[..]),
        ("obsolete line folding", &b"order\r\n 981"[..]),
        (
            "CR LF then a header",
            &b"order\r\nSet-Cookie: injected=1\r\n981"[..],
        ),
        (
            "CR LF CR LF then a request",
            &b"x\r\n\r\nGET /healthz HTTP/1.1\r\n"[..],
        ),
        ("vertical tab and form feed", &b"order\x0b\x0c981"[..]),
        ("DEL", &b"order\x7f981"[..]),
    ] {
        let mut request = format!(
            "POST /v1/intents HTTP/1.1\r\nhost: test\r\nconnection: close\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\nidempotency-key: ",
            app.key,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(key);
        request.extend_from_slice(b"\r\n\r\n");
        request.extend_from_slice(body.as_bytes());
        let answer = raw_request(app.addr, &request)
            .await
            .unwrap_or_else(|| panic!("{label}: no answer"));
        assert_eq!(answer.status, 400, "{label}: {answer:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json"),
            "{label}: {answer:?}"
        );
        assert!(
            !answer
                .headers
                .iter()
                .any(|(n, v)| n == "set-cookie" || v.contains("injected")),
            "{label}: injected into the response: {answer:?}"
        );
    }
    app.assert_nothing_written("control characters in keys")
        .await;
}
