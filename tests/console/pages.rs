//! What the console's pages show, checked over plain HTTP against the same data `/ops` reads.

use std::{collections::BTreeSet, time::Duration};

use malipo::{db::console_intent, ops::money};
use uuid::Uuid;

use crate::support::{ConsoleUser, Stack};

#[tokio::test]
async fn needs_a_person_lists_exactly_what_ops_stuck_intents_lists() {
    let stack = Stack::start().await;
    let flagged = stack.create_intent().await;
    let releasing = stack.create_intent().await;
    let in_doubt = stack.create_intent().await;
    let fine = stack.create_intent().await;
    let run = |sql: &'static str, id: &str| {
        let pool = stack.pool.clone();
        let id = id.to_owned();
        async move {
            sqlx::query(sql)
                .bind(Uuid::parse_str(&id).expect("uuid"))
                .execute(&pool)
                .await
                .expect("setup");
        }
    };
    run("UPDATE intents SET flagged_reason = 'payout failed; retry to a new destination' WHERE id = $1", &flagged).await;
    run("UPDATE intents SET status = 'releasing', updated_at = now() - interval '2 hours' WHERE id = $1", &releasing).await;
    run(
        "INSERT INTO payouts (id, intent_id, kind, amount, currency, provider, destination, reference, status, initiated_at, created_at)
         VALUES (gen_random_uuid(), $1, 'payee', 100, 'KES', 'mpesa', '{}', 'po_test_' || $1::text, 'in_flight',
                 now() - interval '2 hours', now() - interval '2 hours')",
        &in_doubt,
    )
    .await;
    let older_than = Duration::from_secs(3600);
    let ops: BTreeSet<(Uuid, String)> = money::stuck_intents(&stack.pool, older_than, Some(500))
        .await
        .expect("ops")
        .into_iter()
        .map(|s| (s.id, s.reason))
        .collect();
    let console: BTreeSet<(Uuid, String)> =
        console_intent::needs_person(&stack.pool, older_than.as_secs_f64(), 500)
            .await
            .expect("console")
            .into_iter()
            .map(|s| (s.id, s.reason))
            .collect();
    assert_eq!(console, ops);
    assert_eq!(console.len(), 3, "{console:?}");
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.viewer_key).await;
    let html = user.page("/console/discrepancies").await;
    for (id, why) in [
        (&flagged, "flagged"),
        (&releasing, "stuck_in_status"),
        (&in_doubt, "payout_in_doubt"),
    ] {
        assert!(html.contains(id.as_str()), "{why} intent missing");
        assert!(html.contains(why), "{why} missing");
    }
    assert!(!html.contains(fine.as_str()));
    // The in-doubt payout offers "ask the provider now" to operators only.
    let path = format!("/console/intents/{in_doubt}");
    assert!(!user.page(&path).await.contains("Ask the provider now"));
    let mut operator = ConsoleUser::new(&stack);
    operator.login(&stack.operator_key).await;
    assert!(operator.page(&path).await.contains("Ask the provider now"));
}

#[tokio::test]
async fn counts_are_capped_and_pages_are_keyset() {
    let stack = Stack::start().await;
    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, state, attempts, max_attempts, last_error, finished_at)
         SELECT 'bench', 'noop', '{\"tag\": \"\"}', 'dead', 5, 5, 'boom ' || n, now() FROM generate_series(1, 1100) n",
    )
    .execute(&stack.pool)
    .await
    .expect("dead jobs");
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let first = user.page("/console/dead?queue=bench").await;
    assert!(first.contains("1000+"), "the count stops at the cap");
    assert!(first.contains("boom 1100") && !first.contains("boom 1050<"));
    let marker = "rel=\"next\"";
    let at = first.find(marker).expect("a next page link");
    let href_start = first[..at].rfind("href=\"").expect("href") + 6;
    let href_end = first[href_start..].find('"').expect("end") + href_start;
    let next = first[href_start..href_end].replace("&amp;", "&");
    let second = user.page(&next).await;
    assert!(
        second.contains("boom 1050") && !second.contains("boom 1100<"),
        "{next}"
    );
    let overview = user.page("/console").await;
    assert!(
        overview.contains(">1100<"),
        "the queues page counts up to 10,000"
    );
}

#[tokio::test]
async fn asking_the_provider_makes_the_payout_job_run_now_and_is_audited() {
    let stack = Stack::start().await;
    let intent = stack.create_intent().await;
    let intent_id = Uuid::parse_str(&intent).expect("uuid");
    // Paused, so the job is seen waiting rather than run by the stack's workers.
    stack.pause("payouts").await;
    let payout: Uuid = sqlx::query_scalar(
        "INSERT INTO payouts (id, intent_id, kind, amount, currency, provider, destination, reference, status, initiated_at)
         VALUES (gen_random_uuid(), $1, 'payee', 100, 'KES', 'mpesa', '{}', 'po_ask_' || $1::text, 'in_flight', now())
         RETURNING id",
    )
    .bind(intent_id)
    .fetch_one(&stack.pool)
    .await
    .expect("payout");
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO malipo_jobs (queue, kind, payload, max_attempts, intent_id, run_at)
         VALUES ('payouts', 'payout', jsonb_build_object('payout_id', $1::uuid), 8, $2, now() + interval '15 minutes')
         RETURNING id",
    )
    .bind(payout)
    .bind(intent_id)
    .fetch_one(&stack.pool)
    .await
    .expect("snoozed payout job");
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let path = format!("/console/intents/{intent}");
    let csrf = user.csrf(&path).await;
    let asked = user
        .post(
            &format!("{path}/payouts/{payout}/ask"),
            &[("csrf", &csrf)],
            Some("same-origin"),
        )
        .await;
    assert_eq!(asked.status(), 303);
    let due: bool = sqlx::query_scalar("SELECT run_at <= now() FROM malipo_jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&stack.pool)
        .await
        .expect("job");
    assert!(due, "the payout job runs now");
    assert_eq!(
        stack.audit_actions().await.first().map(String::as_str),
        Some("payout.ask_provider")
    );
    // A payout that is not in doubt has nothing to ask.
    sqlx::query("UPDATE payouts SET status = 'succeeded' WHERE id = $1")
        .bind(payout)
        .execute(&stack.pool)
        .await
        .expect("settle");
    let refused = user
        .post(
            &format!("{path}/payouts/{payout}/ask"),
            &[("csrf", &csrf)],
            Some("same-origin"),
        )
        .await;
    assert_eq!(refused.status(), 409);
}

#[tokio::test]
async fn revoking_the_key_ends_its_console_sessions_and_intent_reveals_are_audited() {
    let stack = Stack::start().await;
    let intent = stack.create_intent().await;
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let path = format!("/console/intents/{intent}");
    assert!(!user.page(&path).await.contains("254708374149"));
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
        Some("intent.personal_data.reveal")
    );
    sqlx::query("UPDATE api_clients SET revoked_at = now() WHERE role = 'operator'")
        .execute(&stack.pool)
        .await
        .expect("revoke");
    assert_eq!(
        user.get("/console").await.status(),
        303,
        "a revoked key's session is over"
    );
}

#[tokio::test]
async fn an_operator_resolves_a_dispute_from_the_intent_page_and_it_is_audited() {
    let stack = Stack::start().await;
    let intent = stack.create_intent().await;
    assert!(
        crate::support::eventually(Duration::from_secs(30), || async {
            stack.intent_status(&intent).await == "held"
        })
        .await,
        "the intent was never held"
    );
    let disputed = reqwest::Client::new()
        .post(format!("{}/v1/intents/{intent}/dispute", stack.base))
        .bearer_auth(&stack.client_key)
        .header("idempotency-key", Uuid::new_v4().to_string())
        .json(&serde_json::json!({"reason": "the goods never came"}))
        .send()
        .await
        .expect("dispute");
    assert_eq!(disputed.status(), 200);

    let path = format!("/console/intents/{intent}");
    let mut viewer = ConsoleUser::new(&stack);
    viewer.login(&stack.viewer_key).await;
    let seen = viewer.page(&path).await;
    assert!(seen.contains("the goods never came"), "the reason is shown");
    assert!(
        !seen.contains("Resolve the dispute"),
        "a viewer gets no form"
    );

    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let page = user.page(&path).await;
    assert!(page.contains("Resolve the dispute"));
    let csrf = user.csrf(&path).await;
    let uneven = user
        .post(
            &format!("{path}/resolve"),
            &[
                ("csrf", &csrf),
                ("release", "100"),
                ("refund", "100"),
                ("note", "split"),
            ],
            Some("same-origin"),
        )
        .await;
    assert_eq!(uneven.status(), 400, "the parts must sum to what is held");
    assert_eq!(stack.intent_status(&intent).await, "disputed");
    let resolved = user
        .post(
            &format!("{path}/resolve"),
            &[
                ("csrf", &csrf),
                ("release", "1000"),
                ("refund", "500"),
                ("note", "partly delivered"),
            ],
            Some("same-origin"),
        )
        .await;
    assert_eq!(resolved.status(), 303);
    assert!(
        crate::support::eventually(Duration::from_secs(30), || async {
            stack.intent_status(&intent).await == "refunded"
        })
        .await,
        "the refund part never went back"
    );
    assert!(
        stack
            .audit_actions()
            .await
            .iter()
            .any(|a| a == "intent.resolve_dispute")
    );
}

#[tokio::test]
async fn a_failed_notification_delivery_is_listed_and_redelivered_with_an_audit_row() {
    let stack = Stack::start().await;
    let client: Uuid = sqlx::query_scalar("SELECT id FROM api_clients WHERE role = 'client'")
        .fetch_one(&stack.pool)
        .await
        .expect("client");
    let delivery: Uuid = sqlx::query_scalar(
        "WITH endpoint AS (
             INSERT INTO webhook_endpoints (id, client_id, url, secret_sealed)
             VALUES (gen_random_uuid(), $1, 'https://shop.example/hooks/malipo', '\\x00') RETURNING id),
              event AS (
             INSERT INTO events (client_id, type, object_id, data)
             VALUES ($1, 'intent.held', gen_random_uuid(), '{}') RETURNING id)
         INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, last_error)
         SELECT event.id, endpoint.id, 'failed', 10, 'HTTP 500 from the endpoint' FROM event, endpoint
         RETURNING id",
    )
    .bind(client)
    .fetch_one(&stack.pool)
    .await
    .expect("a failed delivery");
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let page = user.page("/console/deliveries").await;
    assert!(page.contains("https://shop.example/hooks/malipo"), "listed");
    assert!(page.contains("HTTP 500 from the endpoint"));
    let csrf = user.csrf("/console/deliveries").await;
    let again = user
        .post(
            &format!("/console/deliveries/{delivery}/retry"),
            &[("csrf", &csrf)],
            Some("same-origin"),
        )
        .await;
    assert_eq!(again.status(), 303);
    let round: i32 = sqlx::query_scalar("SELECT round FROM webhook_deliveries WHERE id = $1")
        .bind(delivery)
        .fetch_one(&stack.pool)
        .await
        .expect("round");
    assert_eq!(
        round, 1,
        "a new round of the same delivery (the same webhook-id)"
    );
    assert!(
        stack
            .audit_actions()
            .await
            .iter()
            .any(|a| a == "delivery.retry")
    );
    let mut viewer = ConsoleUser::new(&stack);
    viewer.login(&stack.viewer_key).await;
    assert!(
        !viewer
            .page("/console/deliveries")
            .await
            .contains("Redeliver")
    );
}

#[tokio::test]
async fn a_failed_commission_is_sent_again_from_the_intent_page_and_audited() {
    let stack = Stack::start().await;
    let intent = stack.create_intent().await;
    let intent_id = Uuid::parse_str(&intent).expect("uuid");
    // Paused, so the successor is seen queued rather than paid by the stack's workers.
    stack.pause("payouts").await;
    let failed: Uuid = sqlx::query_scalar(
        "INSERT INTO payouts (id, intent_id, kind, amount, currency, provider, destination, reference, status, failure_reason)
         VALUES (gen_random_uuid(), $1, 'commission', 100, 'KES', 'mpesa', '{\"provider\": \"mpesa\", \"msisdn\": \"254700000099\"}',
                 'po_cm_' || $1::text, 'failed', 'unregistered customer')
         RETURNING id",
    )
    .bind(intent_id)
    .fetch_one(&stack.pool)
    .await
    .expect("failed commission");
    let mut user = ConsoleUser::new(&stack);
    user.login(&stack.operator_key).await;
    let path = format!("/console/intents/{intent}");
    let action = format!("{path}/payouts/{failed}/resend");
    assert!(stack_page_offers(&user, &path, &action).await);
    let csrf = user.csrf(&path).await;
    let without_note = user
        .post(
            &action,
            &[("csrf", &csrf), ("note", " ")],
            Some("same-origin"),
        )
        .await;
    assert_eq!(without_note.status(), 400, "a note is required");
    let sent = user
        .post(
            &action,
            &[("csrf", &csrf), ("note", "wallet re-registered")],
            Some("same-origin"),
        )
        .await;
    assert_eq!(sent.status(), 303);
    let (successor, destination): (Uuid, String) = sqlx::query_as(
        "SELECT s.id, s.destination::text FROM payouts f JOIN payouts s ON s.id = f.superseded_by
          WHERE f.id = $1 AND s.kind = 'commission' AND s.status = 'pending'",
    )
    .bind(failed)
    .fetch_one(&stack.pool)
    .await
    .expect("a pending successor");
    assert!(destination.contains("254700000099"), "{destination}");
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM malipo_jobs WHERE kind = 'payout' AND payload->>'payout_id' = $1::text",
    )
    .bind(successor)
    .fetch_one(&stack.pool)
    .await
    .expect("job");
    assert_eq!(queued, 1, "the successor is queued");
    assert_eq!(
        stack.audit_actions().await.first().map(String::as_str),
        Some("payout.resend_commission")
    );
    assert!(
        !stack_page_offers(&user, &path, &action).await,
        "sent again once: the form is gone"
    );
    let again = user
        .post(
            &action,
            &[("csrf", &csrf), ("note", "twice")],
            Some("same-origin"),
        )
        .await;
    assert_eq!(again.status(), 409);
}

/// Whether the intent page at `path` has a form posting to `action`.
async fn stack_page_offers(user: &ConsoleUser, path: &str, action: &str) -> bool {
    user.page(path)
        .await
        .contains(&format!("action=\"{action}\""))
}
