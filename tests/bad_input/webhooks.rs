//! Webhooks under attack: replayed and re-serialized Paystack bodies, unknown M-Pesa and LNbits
//! tokens, and signed bodies that are garbage or carry ids PostgreSQL cannot store.

use malipo_sandbox::paystack_signature;
use serde_json::{Value, json};

use super::support::{App, LNBITS_TOKEN, MPESA_TOKEN, PAYSTACK_SECRET, problem, spawn_app};

/// The seven Daraja callback routes, for a given token.
fn mpesa_routes(token: &str) -> Vec<String> {
    [
        "stk",
        "c2b/validation",
        "c2b/confirmation",
        "b2c/result",
        "b2c/timeout",
        "status/result",
        "status/timeout",
    ]
    .iter()
    .map(|route| format!("/webhooks/mpesa/{token}/{route}"))
    .collect()
}

/// Tokens that are not ours: near misses, encodings, traversal, and junk.
fn wrong_tokens(real: &str) -> Vec<String> {
    vec![
        "not-the-token".to_owned(),
        real[..real.len() - 1].to_owned(),
        format!("{real}x"),
        real.to_uppercase(),
        format!("{real}%00"),
        "%00".to_owned(),
        "%FF%FE".to_owned(),
        "..%2F..%2Fpaystack".to_owned(),
        "%20".to_owned(),
        "t".repeat(4_096),
    ]
}

async fn post_signed(app: &App, body: &[u8], signature: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/webhooks/paystack", app.base))
        .header("content-type", "application/json")
        .header("x-paystack-signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .expect("post")
}

async fn inbox(app: &App, status: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM webhook_inbox WHERE status = $1")
        .bind(status)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn paystack_replays_are_deduped_and_reserialized_bodies_refused() {
    let app = spawn_app().await;
    // An old event (2019), as an attacker who captured it would replay it.
    let stale = br#"{"event":"charge.success","data":{"id":302961,"domain":"live","status":"success","reference":"qTPrJoy9Bx","amount":10000,"currency":"NGN","paid_at":"2019-05-02T09:06:06.000Z","created_at":"2019-05-02T09:05:10.000Z"}}"#;
    let signature = paystack_signature(PAYSTACK_SECRET, stale);
    let parsed: Value = serde_json::from_slice(stale).expect("json");
    let refused: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "pretty-printed",
            serde_json::to_vec_pretty(&parsed).expect("json"),
            signature.clone(),
        ),
        (
            "re-serialized",
            serde_json::to_vec(&parsed).expect("json"),
            signature.clone(),
        ),
        (
            "trailing newline",
            [&stale[..], b"\n"].concat(),
            signature.clone(),
        ),
        (
            "amount changed",
            String::from_utf8_lossy(stale)
                .replace("10000", "99999")
                .into_bytes(),
            signature.clone(),
        ),
        (
            "signed with another key",
            stale.to_vec(),
            paystack_signature("sk_test_other", stale),
        ),
        (
            "signature truncated",
            stale.to_vec(),
            signature[..64].to_owned(),
        ),
        ("no signature", stale.to_vec(), String::new()),
    ];
    for (label, body, signature) in &refused {
        if *label == "re-serialized" {
            // serde_json sorts keys, so even compact output differs from what was signed.
            assert_ne!(body.as_slice(), &stale[..]);
        }
        let response = post_signed(&app, body, signature).await;
        problem(response, 401, "x-paystack-signature").await;
    }
    app.assert_nothing_written("refused signatures").await;

    // The exact bytes, replayed: acknowledged every time, stored and queued once.
    for _ in 0..3 {
        let response = post_signed(&app, stale, &signature).await;
        assert_eq!(response.status(), 200);
    }
    // The same event re-sent later with a changed body (a retry, or a forgery by someone holding
    // the key): same `event` and `data.id`, so the same event.
    let resent = String::from_utf8_lossy(stale).replace("\"domain\":\"live\",", "");
    let response = post_signed(
        &app,
        resent.as_bytes(),
        &paystack_signature(PAYSTACK_SECRET, resent.as_bytes()),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.rows("webhook_inbox").await, 1, "one inbox row");
    assert_eq!(app.rows("malipo_jobs").await, 1, "one processing job");
    assert_eq!(app.rows("intents").await, 0);
    assert_eq!(app.rows("idempotency_keys").await, 0);
}

#[tokio::test]
async fn unknown_mpesa_tokens_are_401_and_store_nothing() {
    let app = spawn_app().await;
    let stk = json!({"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925",
        "ResultCode":1032,"ResultDesc":"Request cancelled by user"}}});
    for token in wrong_tokens(MPESA_TOKEN) {
        for route in mpesa_routes(&token) {
            let response = app
                .http
                .post(format!("{}{route}", app.base))
                .json(&stk)
                .send()
                .await
                .expect("post");
            let short: String = route.chars().take(60).collect();
            let status = response.status().as_u16();
            assert!(status == 401 || status == 404, "{short}: {status}");
            // A token that cannot be a path segment is no route at all; any other is refused.
            let names = if status == 401 {
                "token"
            } else {
                "no such route"
            };
            problem(response, status, names).await;
        }
    }
    app.assert_nothing_written("unknown M-Pesa tokens").await;
}

#[tokio::test]
async fn unknown_lnbits_tokens_are_401_and_store_nothing() {
    let app = spawn_app().await;
    let body = serde_json::to_string(
        r#"{"checking_id":"x","payment_hash":"e3932f9a3b315ca44c06562d240a1141069fddc059c6486b910b6bbc19a0594a","amount":1000000}"#,
    )
    .expect("json");
    for token in wrong_tokens(LNBITS_TOKEN) {
        let response = app
            .http
            .post(format!("{}/webhooks/lnbits/{token}", app.base))
            .body(body.clone())
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        assert!(status == 401 || status == 404, "{token:.60}: {status}");
        let names = if status == 401 {
            "token"
        } else {
            "no such route"
        };
        problem(response, status, names).await;
    }
    app.assert_nothing_written("unknown LNbits tokens").await;
}

#[tokio::test]
async fn signed_garbage_is_refused_recorded_once_and_never_queued() {
    // By design an authenticated but unreadable delivery is kept as `rejected` (one row per
    // distinct body, no job) so operators can see what a provider sent; nothing else is written.
    let app = spawn_app().await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("deep", deep.clone().into_bytes()),
        (
            "invalid UTF-8",
            b"{\"event\":\"charge.success\",\"data\":{\"id\":\"\xff\"}}".to_vec(),
        ),
        (
            "lone surrogate",
            br#"{"event":"charge.success","data":{"id":"\udc00"}}"#.to_vec(),
        ),
        ("not an object", b"[1,2,3]".to_vec()),
        ("empty", Vec::new()),
    ];
    for (label, body) in &garbage {
        for _ in 0..2 {
            let signature = paystack_signature(PAYSTACK_SECRET, body);
            let response = post_signed(&app, body, &signature).await;
            let answer = problem(response, 400, "unreadable").await;
            assert!(answer["detail"].is_string(), "{label}");
            for route in mpesa_routes(MPESA_TOKEN)
                .into_iter()
                .filter(|r| !r.ends_with("status/timeout") && !r.ends_with("validation"))
            {
                let response = app
                    .http
                    .post(format!("{}{route}", app.base))
                    .body(body.clone())
                    .send()
                    .await
                    .expect("post");
                problem(response, 400, "unreadable").await;
            }
            let response = app
                .http
                .post(format!("{}/webhooks/lnbits/{LNBITS_TOKEN}", app.base))
                .body(serde_json::to_vec(&String::from_utf8_lossy(body)).expect("json"))
                .send()
                .await
                .expect("post");
            problem(response, 400, "unreadable").await;
        }
    }
    assert_eq!(app.rows("malipo_jobs").await, 0, "nothing queued");
    assert_eq!(
        app.rows("webhook_inbox").await,
        inbox(&app, "rejected").await,
        "only rejected rows"
    );
    // Exactly one row per provider and distinct body, however often and on however many of
    // the provider's routes it is re-sent: each provider kept each of the five bodies once.
    let per_provider: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT provider, count(*), count(DISTINCT body) FROM webhook_inbox GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .expect("inbox rows");
    let n = garbage.len() as i64;
    assert_eq!(
        per_provider,
        [
            ("lnbits".to_owned(), n, n),
            ("mpesa".to_owned(), n, n),
            ("paystack".to_owned(), n, n)
        ],
        "one rejected row per provider and body"
    );
    for table in ["intents", "intent_events", "idempotency_keys"] {
        assert_eq!(app.rows(table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn signed_events_with_unstorable_ids_are_refused_not_500() {
    // PostgreSQL text cannot hold U+0000 and a unique index entry holds about 2.7 kB: an event
    // whose key breaks either must be refused as unreadable, not crash the insert.
    let app = spawn_app().await;
    let long: String = (0..4_000)
        .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
        .collect();
    let noisy: String = (0..4_000u32)
        .map(|i| char::from_digit((i.wrapping_mul(2_654_435_761) >> 7) % 36, 36).unwrap_or('z'))
        .collect();
    for id in ["ref\u{0}123".to_owned(), long, noisy] {
        let paystack = json!({"event":"charge.success","data":{"reference": id,"amount":10000,"currency":"NGN"}}).to_string();
        let response = post_signed(
            &app,
            paystack.as_bytes(),
            &paystack_signature(PAYSTACK_SECRET, paystack.as_bytes()),
        )
        .await;
        problem(response, 400, "unreadable").await;
        let stk = json!({"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID": id,"ResultCode":1032,"ResultDesc":"cancelled"}}});
        let c2b = json!({"TransID": id,"TransAmount":"5.00","BusinessShortCode":"600966"});
        let b2c =
            json!({"Result":{"ResultCode":0,"ResultDesc":"ok","OriginatorConversationID": id}});
        for (route, body) in [
            ("stk", &stk),
            ("c2b/confirmation", &c2b),
            ("b2c/result", &b2c),
            ("b2c/timeout", &b2c),
            ("status/result", &b2c),
        ] {
            let response = app
                .http
                .post(format!("{}/webhooks/mpesa/{MPESA_TOKEN}/{route}", app.base))
                .json(body)
                .send()
                .await
                .expect("post");
            problem(response, 400, "unreadable").await;
        }
    }
    assert_eq!(app.rows("malipo_jobs").await, 0, "nothing queued");
    assert_eq!(
        app.rows("webhook_inbox").await,
        inbox(&app, "rejected").await
    );
}
