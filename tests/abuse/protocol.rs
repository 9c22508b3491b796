//! Errors the HTTP layer answers by itself are problem+json too: 431 header floods, 414 long
//! targets, 400 unparseable requests; an HTTP/2 preface on this HTTP/1.1 port gets a 505.

use super::support::{raw_request, spawn_app};

#[tokio::test]
async fn header_floods_are_431_problems() {
    let app = spawn_app().await;
    // More fields than the parser takes (hyper answers), and fewer but larger (the app does).
    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for i in 0..150 {
        many.push_str(&format!("x-flood-{i}: y\r\n"));
    }
    many.push_str("\r\n");
    let large = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-big: {}\r\n\r\n",
        "y".repeat(20 * 1024)
    );
    for (label, request) in [("150 fields", many), ("20 KiB field", large)] {
        let answer = raw_request(app.addr, request.as_bytes())
            .await
            .unwrap_or_else(|| panic!("{label}: no answer"));
        assert_eq!(answer.status, 431, "{label}: {answer:?}");
        answer.problem();
    }
}

#[tokio::test]
async fn long_targets_are_414_problems() {
    let app = spawn_app().await;
    for length in [10 * 1024, 70 * 1024] {
        let request = format!(
            "GET /healthz?{} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            "q".repeat(length)
        );
        let answer = raw_request(app.addr, request.as_bytes())
            .await
            .unwrap_or_else(|| panic!("{length}: no answer"));
        assert_eq!(answer.status, 414, "{length}: {answer:?}");
        answer.problem();
    }
}

#[tokio::test]
async fn unparseable_requests_are_400_problems() {
    let app = spawn_app().await;
    for (label, request) in [
        (
            "header without colon",
            &b"GET /healthz HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n"[..],
        ),
        (
            "NUL in a header",
            &b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: a\x00b\r\n\r\n"[..],
        ),
        (
            "bad method",
            &b"G(T /healthz HTTP/1.1\r\nhost: x\r\n\r\n"[..],
        ),
    ] {
        let answer = raw_request(app.addr, request)
            .await
            .unwrap_or_else(|| panic!("{label}: no answer"));
        assert_eq!(answer.status, 400, "{label}: {answer:?}");
        answer.problem();
    }
}

#[tokio::test]
async fn an_http2_preface_is_answered_505() {
    let app = spawn_app().await;
    let answer = raw_request(app.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("an answer, not a silent close");
    assert_eq!(answer.status, 505, "{answer:?}");
    let problem = answer.problem();
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("HTTP/1.1"))
    );
}

#[tokio::test]
async fn a_good_request_after_a_keep_alive_answer_is_not_mistaken_for_an_error() {
    // The answer-rewriting layer must leave the application's own answers alone, including
    // a second request on the same connection.
    let app = spawn_app().await;
    let answer = raw_request(
        app.addr,
        b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\nGET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await
    .expect("answer");
    assert_eq!(answer.status, 404);
    let first = answer.problem();
    assert_eq!(first["status"], 404);
    let rest = String::from_utf8_lossy(&answer.body);
    assert!(
        rest.contains("HTTP/1.1 200 OK"),
        "the second answer is the app's own: {rest}"
    );
}
