//! The console's security over plain HTTP (no browser needed): login and roles, the cookie's
//! flags, CSRF and same-origin checks on every post, the CSP, session expiry and logout, and
//! that console sessions and API keys never cross over.

use std::time::Duration;

use crate::support::{ConsoleUser, Stack, set_cookie};

const CSP_PARTS: [&str; 3] = [
    "default-src 'self'",
    "script-src 'self'",
    "frame-ancestors 'none'",
];

async fn session_rows(stack: &Stack) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM console_sessions")
        .fetch_one(&stack.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn an_operator_logs_in_to_a_host_only_http_only_strict_session() {
    let stack = Stack::start().await;
    let mut user = ConsoleUser::new(&stack);
    assert_eq!(
        user.get("/console").await.headers()["location"],
        "/console/login",
        "no session: sent to the login page"
    );
    let login = user.login(&stack.operator_key).await;
    assert_eq!(login.status(), 303);
    let cookie = set_cookie(&login).expect("a session cookie");
    for flag in [
        "__Host-malipo_session=",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=",
    ] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Domain"), "__Host- cookies name no domain");
    let page = user.get("/console").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    for part in CSP_PARTS {
        assert!(csp.contains(part), "{csp} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.expect("html");
    assert!(html.contains("night-ops") && html.contains("operator"));
    assert!(
        !html.contains("style=") && !html.contains("<script>"),
        "no inline style or script"
    );
    // Only the token's hash is stored.
    let token = user.token.clone().expect("token");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM console_sessions WHERE token_hash = $1")
            .bind(&token)
            .fetch_one(&stack.pool)
            .await
            .expect("count");
    assert_eq!(stored, 0, "the raw token is not stored");
    assert_eq!(session_rows(&stack).await, 1);
}

#[tokio::test]
async fn client_keys_and_unknown_keys_cannot_log_in() {
    let stack = Stack::start().await;
    let mut user = ConsoleUser::new(&stack);
    let refused = user.login(&stack.client_key).await;
    assert_eq!(refused.status(), 403);
    assert!(set_cookie(&refused).is_none());
    assert!(
        refused
            .text()
            .await
            .expect("html")
            .contains("Client keys cannot log in")
    );
    let unknown = user.login("mlp_live_not-a-key").await;
    assert_eq!(unknown.status(), 401);
    assert!(set_cookie(&unknown).is_none());
    assert_eq!(session_rows(&stack).await, 0);
    // A cross-site login post is refused before the key is looked at.
    let cross = user
        .http
        .post(format!("{}/console/login", stack.base))
        .header("sec-fetch-site", "cross-site")
        .form(&[("key", stack.operator_key.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(cross.status(), 403);
    // A login that is not a form is a problem naming it.
    let json = user
        .http
        .post(format!("{}/console/login", stack.base))
        .header("sec-fetch-site", "same-origin")
        .json(&serde_json::json!({"key": stack.operator_key}))
        .send()
        .await
        .expect("post");
    assert_eq!(json.status(), 400);
    assert_eq!(json.headers()["content-type"], "application/problem+json");
    assert_eq!(session_rows(&stack).await, 0);
}

#[tokio::test]
async fn the_session_cookie_is_refused_on_ops_and_keys_are_refused_on_the_console() {
    let stack = Stack::start().await;
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let token = user.token.clone().expect("token");
    let ops = user
        .http
        .get(format!("{}/ops/queues", stack.base))
        .header("cookie", format!("__Host-malipo_session={token}"))
        .send()
        .await
        .expect("ops");
    assert_eq!(ops.status(), 401, "/ops takes API keys only");
    let console = user
        .http
        .get(format!("{}/console", stack.base))
        .bearer_auth(&stack.operator_key)
        .send()
        .await
        .expect("console");
    assert_eq!(console.status(), 303, "the console takes sessions only");
    assert_eq!(console.headers()["location"], "/console/login");
}

#[tokio::test]
async fn a_post_without_the_csrf_token_or_from_another_site_is_403_and_changes_nothing() {
    let stack = Stack::start().await;
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let csrf = user.csrf("/console").await;
    let pause = "/console/queues/bench/pause";
    let same = Some("same-origin");
    for (fields, site, why) in [
        (vec![], same, "no CSRF token"),
        (vec![("csrf", "0".repeat(64))], same, "a wrong CSRF token"),
        (
            vec![("csrf", csrf.clone())],
            Some("cross-site"),
            "Sec-Fetch-Site: cross-site",
        ),
        (
            vec![("csrf", csrf.clone())],
            Some("same-site"),
            "Sec-Fetch-Site: same-site",
        ),
        (
            vec![("csrf", csrf.clone())],
            None,
            "no Sec-Fetch-Site and no Origin",
        ),
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = user.post(pause, &fields, site).await;
        assert_eq!(answer.status(), 403, "{why}");
        assert!(!stack.paused("bench").await, "{why} paused the queue");
    }
    // An old browser: no Sec-Fetch-Site, but an Origin naming the host it posts to.
    let host = stack.base.trim_start_matches("http://");
    let foreign = user
        .http
        .post(format!("{}{pause}", stack.base))
        .header(
            "cookie",
            format!(
                "__Host-malipo_session={}",
                user.token.clone().expect("token")
            ),
        )
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(foreign.status(), 403);
    let own = user
        .http
        .post(format!("{}{pause}", stack.base))
        .header(
            "cookie",
            format!(
                "__Host-malipo_session={}",
                user.token.clone().expect("token")
            ),
        )
        .header("origin", format!("http://{host}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(own.status(), 303);
    assert!(stack.paused("bench").await);
    assert_eq!(
        stack.audit_actions().await.first().map(String::as_str),
        Some("queue.pause")
    );
}

#[tokio::test]
async fn a_viewer_sees_everything_and_can_change_nothing() {
    let stack = Stack::start().await;
    let mut user = ConsoleUser::new(&stack);
    assert_eq!(user.login(&stack.viewer_key).await.status(), 303);
    let html = user.page("/console").await;
    assert!(html.contains("view only") && !html.contains(">Pause<"));
    let csrf = user.csrf("/console").await;
    let answer = user
        .post(
            "/console/queues/bench/pause",
            &[("csrf", &csrf)],
            Some("same-origin"),
        )
        .await;
    assert_eq!(answer.status(), 403);
    assert!(!stack.paused("bench").await);
    let ops = reqwest::Client::new()
        .get(format!("{}/ops/queues", stack.base))
        .bearer_auth(&stack.viewer_key)
        .send()
        .await
        .expect("ops");
    assert_eq!(ops.status(), 403, "a viewer key has no /ops access");
}

#[tokio::test]
async fn sessions_end_at_logout_when_idle_and_at_their_absolute_expiry() {
    let stack = Stack::start().await;
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let csrf = user.csrf("/console").await;
    let logout = user
        .post("/console/logout", &[("csrf", &csrf)], Some("same-origin"))
        .await;
    assert_eq!(logout.status(), 303);
    assert!(set_cookie(&logout).is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(
        user.get("/console").await.status(),
        303,
        "the old cookie is dead"
    );

    for (column, back) in [("last_seen_at", "31 minutes"), ("expires_at", "1 second")] {
        user.login(&stack.operator_key).await;
        assert_eq!(user.get("/console").await.status(), 200);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE console_sessions SET {column} = now() - interval '{back}' WHERE ended_at IS NULL"
        )))
        .execute(&stack.pool)
        .await
        .expect("age the session");
        assert_eq!(
            user.get("/console").await.status(),
            303,
            "{column} in the past"
        );
    }

    // Sessions long over are pruned at the next login.
    sqlx::query(
        "UPDATE console_sessions SET expires_at = now() - interval '2 days' WHERE ended_at IS NULL",
    )
    .execute(&stack.pool)
    .await
    .expect("age");
    let before_login = session_rows(&stack).await;
    user.login(&stack.operator_key).await;
    assert!(
        session_rows(&stack).await < before_login + 1,
        "old sessions were pruned"
    );

    // The page's refresh polls do not keep a session alive (the session from the login above).
    let seen = || async {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
            "SELECT last_seen_at FROM console_sessions WHERE ended_at IS NULL AND expires_at > now()",
        )
        .fetch_one(&stack.pool)
        .await
        .expect("session")
    };
    let before = seen().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let poll = user
        .http
        .get(format!("{}/console", stack.base))
        .header(
            "cookie",
            format!(
                "__Host-malipo_session={}",
                user.token.clone().expect("token")
            ),
        )
        .header("x-console-poll", "1")
        .send()
        .await
        .expect("poll");
    assert_eq!(poll.status(), 200);
    assert_eq!(seen().await, before, "a poll is not activity");
    user.get("/console").await;
    assert!(seen().await > before, "a page view is");
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_it() {
    let stack = Stack::start().await;
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    for (path, status, named) in [
        ("/console/jobs?state=failed", 400, "state"),
        ("/console/jobs?queue=nope", 400, "nope"),
        ("/console/jobs?evil=1", 400, "evil"),
        ("/console/jobs?cursor=zzz", 400, "cursor"),
        ("/console/jobs/abc", 404, "abc"),
        ("/console/jobs/999999", 404, "999999"),
        ("/console/intents/not-a-uuid", 404, "not-a-uuid"),
        ("/console/intents?status=lost", 400, "lost"),
        (
            "/console/reconciliations/00000000-0000-0000-0000-000000000000",
            404,
            "reconciliation",
        ),
    ] {
        let answer = user.get(path).await;
        assert_eq!(answer.status(), status, "{path}");
        assert_eq!(
            answer.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body = answer.text().await.expect("body");
        assert!(body.contains(named), "{path}: {body}");
    }
}

#[tokio::test]
async fn payloads_are_masked_until_revealed_and_the_reveal_is_audited() {
    let stack = Stack::start().await;
    let job = stack.dead_job("254708374149").await;
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.viewer_key).await;
    let path = format!("/console/jobs/{job}");
    let masked = user.page(&path).await;
    assert!(!masked.contains("254708374149") && masked.contains("•••••••••149"));
    let csrf = user.csrf(&path).await;
    let revealed = user
        .post(
            &format!("{path}/reveal"),
            &[("csrf", &csrf)],
            Some("same-origin"),
        )
        .await;
    assert_eq!(revealed.status(), 200);
    assert!(
        revealed
            .text()
            .await
            .expect("html")
            .contains("254708374149")
    );
    assert_eq!(
        stack.audit_actions().await.first().map(String::as_str),
        Some("job.payload.reveal")
    );
    assert!(
        !user.page(&path).await.contains("254708374149"),
        "one view only"
    );
}

#[tokio::test]
async fn bulk_retry_needs_its_confirmation_step() {
    let stack = Stack::start().await;
    // Paused, so the retried job stays visible as pending.
    sqlx::query("INSERT INTO malipo_queues (name, paused) VALUES ('bench', true) ON CONFLICT (name) DO UPDATE SET paused = true")
        .execute(&stack.pool)
        .await
        .expect("pause");
    let job = stack.dead_job("").await;
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let csrf = user.csrf("/console/dead").await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("action", "retry"),
        ("queue", "bench"),
    ];
    let unconfirmed = user
        .post("/console/dead/apply", &fields, Some("same-origin"))
        .await;
    assert_eq!(unconfirmed.status(), 400);
    assert_eq!(stack.job_state(job).await, "dead");
    let preview = user
        .post("/console/dead/preview", &fields, Some("same-origin"))
        .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.expect("html");
    assert!(html.contains("Confirm: retry 1 jobs"), "{html}");
    let confirmed = [
        ("csrf", csrf.as_str()),
        ("action", "retry"),
        ("queue", "bench"),
        ("confirm", "yes"),
    ];
    let applied = user
        .post("/console/dead/apply", &confirmed, Some("same-origin"))
        .await;
    assert_eq!(applied.status(), 303);
    assert_eq!(stack.job_state(job).await, "pending");
    assert_eq!(
        stack.audit_actions().await.first().map(String::as_str),
        Some("jobs.retry")
    );
}
