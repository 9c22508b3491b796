//! Outgoing notifications (issue #17) end to end: endpoints registered over the API, events
//! written with the transitions they report, signed deliveries to a loopback receiver, the
//! retry schedule, 410 and 3xx handling, the SSRF guard, atomicity with rolled-back
//! transitions, and a worker SIGKILLed mid-delivery.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use malipo::{
    db::{events, transitions, webhook_deliveries},
    domain::IntentMove,
    notify::{
        NotifySettings, WebhookSecret,
        attempt::{Sender, Verdict},
        receiver::{Receiver, Script},
        schedule::SCHEDULE,
    },
    queue::JobRow,
};
use malipo_jobs::DeliverEvent;
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{Harness, NOTIFY_SCALE, mpesa_intent};

pub(super) const LIMIT: Duration = Duration::from_secs(30);

pub(super) async fn receiver(script: Script) -> Receiver {
    Receiver::start("127.0.0.1:0".parse().expect("addr"), script)
        .await
        .expect("receiver")
}

impl Harness {
    pub(super) async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request.send().await.expect("request")
    }

    /// Registers `url` for every event type; returns (endpoint id, secret).
    pub(super) async fn endpoint(&self, url: &str) -> (String, WebhookSecret) {
        let response = self
            .api(
                reqwest::Method::POST,
                "/v1/webhook_endpoints",
                Some(json!({"url": url, "description": "test receiver"})),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.expect("json");
        let secret = body["secret"].as_str().expect("secret shown once");
        assert!(secret.starts_with("whsec_"));
        (
            body["id"].as_str().expect("id").to_owned(),
            WebhookSecret::parse(secret).expect("secret parses"),
        )
    }

    /// Waits until no delivery of `endpoint` is pending, or `attempts_at_least` attempts of
    /// one delivery are logged, whichever is asked.
    pub(super) async fn deliveries_settled(&self, endpoint: &str) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let page: Value = self
                .api(
                    reqwest::Method::GET,
                    &format!("/v1/webhook_endpoints/{endpoint}/deliveries?limit=200"),
                    None,
                )
                .await
                .json()
                .await
                .expect("json");
            let data = page["data"].as_array().cloned().unwrap_or_default();
            if !data.is_empty() && data.iter().all(|d| d["status"] != "pending") {
                return data;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries still pending: {page}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(super) async fn send_test_event(&self, endpoint: &str) -> Value {
        let response = self
            .api(
                reqwest::Method::POST,
                &format!("/v1/webhook_endpoints/{endpoint}/test"),
                None,
            )
            .await;
        assert_eq!(response.status(), 202);
        response.json().await.expect("json")
    }

    pub(super) async fn delivery(&self, id: &str) -> webhook_deliveries::DeliveryRow {
        let mut conn = self.pool.acquire().await.expect("conn");
        webhook_deliveries::load(&mut conn, Uuid::parse_str(id).expect("uuid"))
            .await
            .expect("load")
            .expect("delivery")
    }

    pub(super) async fn attempts(&self, id: &str) -> Vec<webhook_deliveries::Attempt> {
        let mut conn = self.pool.acquire().await.expect("conn");
        webhook_deliveries::attempts_of(&mut conn, Uuid::parse_str(id).expect("uuid"))
            .await
            .expect("attempts")
    }

    /// Waits until delivery `id` has logged `n` attempts.
    pub(super) async fn wait_attempts(
        &self,
        id: &str,
        n: usize,
    ) -> Vec<webhook_deliveries::Attempt> {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let attempts = self.attempts(id).await;
            if attempts.len() >= n {
                return attempts;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "delivery {id} has {} attempts, waited for {n}",
                attempts.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An M-Pesa escrow run to `settled` while a receiver (kept alive by the caller) is
/// subscribed to every event: the receiver, the intent's id, and the settled deliveries.
async fn settled_escrow_told_to_a_receiver(harness: &Harness) -> (Receiver, String, Vec<Value>) {
    let receiver = receiver(Script::default()).await;
    let (endpoint, secret) = harness.endpoint(&receiver.url()).await;
    receiver.verify_with(secret);
    let created = harness.create(mpesa_intent("1500")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    harness.wait_for(&id, "held", LIMIT).await;
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    harness.wait_for(&id, "settled", LIMIT).await;
    let deliveries = harness.deliveries_settled(&endpoint).await;
    (receiver, id, deliveries)
}

/// A transition's and a payout move's deliveries get their `deliver_event` jobs from the move's
/// own statement (`malipo_record_event_queued`, migration 0123), which spells the job's payload
/// and dedupe key in SQL: they must be the rows `enqueue` writes for the same job.
#[tokio::test]
async fn deliveries_of_a_lifecycle_are_queued_as_enqueue_would_queue_them() {
    let harness = Harness::start().await;
    let (_receiver, _id, _deliveries) = settled_escrow_told_to_a_receiver(&harness).await;

    let deliveries: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM webhook_deliveries")
        .fetch_all(&harness.pool)
        .await
        .expect("deliveries");
    // Five intent moves and two moves of each of the two payouts.
    assert_eq!(deliveries.len(), 9, "{deliveries:?}");
    let jobs: Vec<(String, String, Value, i32, Option<String>)> = sqlx::query_as(
        "SELECT queue, kind, payload, max_attempts, dedupe_key FROM malipo_jobs
          WHERE kind = 'deliver_event' ORDER BY id",
    )
    .fetch_all(&harness.pool)
    .await
    .expect("jobs");
    assert_eq!(
        jobs.len(),
        deliveries.len(),
        "one job per delivery: {jobs:?}"
    );
    for (queue, kind, payload, max_attempts, dedupe_key) in jobs {
        let job: DeliverEvent = serde_json::from_value(payload.clone()).expect("a DeliverEvent");
        assert!(deliveries.contains(&job.delivery_id), "{payload}");
        let expected = JobRow::of(&DeliverEvent {
            delivery_id: job.delivery_id,
            round: 0,
        })
        .expect("row");
        assert_eq!(
            (
                queue.as_str(),
                kind.as_str(),
                &payload,
                max_attempts,
                &dedupe_key
            ),
            (
                expected.queue,
                expected.kind,
                &expected.payload,
                expected.max_attempts,
                &expected.dedupe_key
            )
        );
    }
}

#[tokio::test]
async fn every_event_of_an_escrow_lifecycle_arrives_signed_once_per_webhook_id() {
    let harness = Harness::start().await;
    let (receiver, id, deliveries) = settled_escrow_told_to_a_receiver(&harness).await;
    let id = id.as_str();

    // The event log: every transition of the lifecycle, mechanically typed.
    let log: Value = harness
        .api(
            reqwest::Method::GET,
            &format!("/v1/events?intent_id={id}&order=oldest_first&limit=200"),
            None,
        )
        .await
        .json()
        .await
        .expect("json");
    let events = log["data"].as_array().expect("events");
    let intent_types: Vec<&str> = events
        .iter()
        .filter(|e| e["data"]["object"] == "intent")
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        intent_types,
        [
            "intent.awaiting_payment",
            "intent.held",
            "intent.releasing",
            "intent.released",
            "intent.settled"
        ]
    );
    let mut payout_types: Vec<&str> = events
        .iter()
        .filter(|e| e["data"]["object"] == "payout")
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    payout_types.sort_unstable();
    assert_eq!(
        payout_types,
        [
            "payout.in_flight",
            "payout.in_flight",
            "payout.succeeded",
            "payout.succeeded"
        ]
    );
    // `sequence` rises with each of the intent's events, and the envelope carries the rest.
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["data"]["sequence"].as_i64().expect("sequence"))
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let held = &events[1];
    assert_eq!(held["data"]["previous_status"], "awaiting_payment");
    assert_eq!(held["data"]["amount"], "1500.00");
    assert_eq!(held["data"]["currency"], "KES");
    assert_eq!(held["data"]["id"], id);

    // Every event delivered, signed, exactly once per webhook-id (the receiver answers 200).
    let expected: BTreeSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(deliveries.len(), expected.len());
    assert!(deliveries.iter().all(|d| d["status"] == "succeeded"));
    let mut arrivals: BTreeMap<String, usize> = BTreeMap::new();
    for delivery in receiver.log() {
        assert_eq!(
            delivery.verified,
            Some(Ok(())),
            "signature of {}",
            delivery.id
        );
        let body: Value = serde_json::from_slice(&delivery.body).expect("json body");
        assert_eq!(
            body["id"],
            delivery.id.as_str(),
            "webhook-id is the event id"
        );
        *arrivals.entry(delivery.id.clone()).or_default() += 1;
    }
    assert_eq!(arrivals.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(arrivals.values().all(|n| *n == 1), "{arrivals:?}");

    // Cursor pagination walks the same events newest first, three at a time.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/events?intent_id={id}&limit=3&cursor={c}"),
            None => format!("/v1/events?intent_id={id}&limit=3"),
        };
        let page: Value = harness
            .api(reqwest::Method::GET, &path, None)
            .await
            .json()
            .await
            .expect("json");
        for event in page["data"].as_array().expect("data") {
            walked.push(event["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut newest_first: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    newest_first.reverse();
    assert_eq!(walked, newest_first);
    let one: Value = harness
        .api(
            reqwest::Method::GET,
            &format!("/v1/events/{}", newest_first[0]),
            None,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["type"], "intent.settled");
}

#[tokio::test]
async fn a_receiver_failing_the_first_times_gets_the_event_after_as_many_retries_on_schedule() {
    let harness = Harness::start().await;
    let receiver = receiver(Script {
        fail_first: 3,
        ..Script::default()
    })
    .await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    let sent = harness.send_test_event(&endpoint).await;
    let delivery_id = sent["delivery_id"].as_str().expect("delivery id");
    harness.deliveries_settled(&endpoint).await;

    let delivery = harness.delivery(delivery_id).await;
    assert_eq!(delivery.status, malipo::notify::DeliveryStatus::Succeeded);
    let attempts = harness.attempts(delivery_id).await;
    let statuses: Vec<Option<i32>> = attempts.iter().map(|a| a.response_status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(500), Some(200)]);
    // Each retry waited at least its (compressed) slot of the schedule, less the 20 % jitter.
    for (index, pair) in attempts.windows(2).enumerate() {
        let gap = (pair[1].attempted_at - pair[0].attempted_at)
            .to_std()
            .expect("ordered");
        let slot = SCHEDULE[index + 1].mul_f64(NOTIFY_SCALE * 0.8);
        assert!(gap >= slot, "retry {index}: waited {gap:?}, slot {slot:?}");
    }
    let ids: BTreeSet<String> = receiver.log().into_iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), 1, "the same webhook-id on every try");
}

#[tokio::test]
async fn the_next_attempt_is_stored_on_schedule_with_jitter_and_the_job_waits_for_it() {
    let harness = Harness::start().await;
    let receiver = receiver(Script {
        always: Some(500),
        ..Script::default()
    })
    .await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    let sent = harness.send_test_event(&endpoint).await;
    let delivery_id = sent["delivery_id"].as_str().expect("delivery id");
    // After the k-th failure the wait is slot k of the schedule (5 s, 5 min, 30 min, …),
    // compressed, ± 20 %.
    harness.wait_attempts(delivery_id, 2).await;
    let delivery = harness.delivery(delivery_id).await;
    let attempts = harness.attempts(delivery_id).await;
    let done = usize::try_from(delivery.attempts).expect("count");
    let last = &attempts[done - 1];
    let ended = last.attempted_at + chrono::Duration::milliseconds(i64::from(last.duration_ms));
    let wait = (delivery.next_attempt_at - ended)
        .to_std()
        .expect("in the future");
    let slot = SCHEDULE[done].mul_f64(NOTIFY_SCALE);
    assert!(
        wait >= slot.mul_f64(0.8) && wait <= slot.mul_f64(1.2) + Duration::from_millis(100),
        "after {done} failures waits {wait:?} for a slot of {slot:?}"
    );
    // The job's own run_at is that time (a snooze, not a queue retry). The delivery is
    // rescheduled by the job's run and the snooze lands when the run completes, so the two are
    // read together, until a completed run shows them agreeing (bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (run_at, due): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
            sqlx::query_as(
                "SELECT j.run_at, d.next_attempt_at FROM malipo_jobs j, webhook_deliveries d
                  WHERE j.kind = 'deliver_event' AND j.payload->>'delivery_id' = $1 AND d.id = $1::uuid",
            )
            .bind(delivery_id)
            .fetch_one(&harness.pool)
            .await
            .expect("job");
        if (run_at - due).num_milliseconds().abs() < 100 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job runs at {run_at}, delivery due {due}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(attempts[0].response_status, Some(500));
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_nothing_more_is_sent() {
    let harness = Harness::start().await;
    let receiver = receiver(Script {
        always: Some(410),
        ..Script::default()
    })
    .await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    harness.send_test_event(&endpoint).await;
    let deliveries = harness.deliveries_settled(&endpoint).await;
    assert_eq!(deliveries[0]["status"], "failed");
    let shown: Value = harness
        .api(
            reqwest::Method::GET,
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
            .is_some_and(|r| r.contains("410")),
        "{shown}"
    );
    // A later event for the client makes no delivery to the disabled endpoint.
    let created = harness.create(mpesa_intent("100")).await;
    harness
        .wait_for(created["id"].as_str().expect("id"), "held", LIMIT)
        .await;
    assert_eq!(receiver.log().len(), 1);
    let page: Value = harness
        .api(
            reqwest::Method::GET,
            &format!("/v1/webhook_endpoints/{endpoint}/deliveries"),
            None,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let harness = Harness::start().await;
    let receiver = receiver(Script {
        always: Some(302),
        ..Script::default()
    })
    .await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    let sent = harness.send_test_event(&endpoint).await;
    let delivery_id = sent["delivery_id"].as_str().expect("delivery id");
    let attempts = harness.wait_attempts(delivery_id, 2).await;
    for attempt in &attempts {
        assert_eq!(attempt.response_status, Some(302));
        assert!(
            attempt
                .error
                .as_deref()
                .is_some_and(|e| e.contains("redirect")),
            "{:?}",
            attempt.error
        );
    }
    assert_ne!(
        harness.delivery(delivery_id).await.status,
        malipo::notify::DeliveryStatus::Succeeded
    );
}

#[tokio::test]
async fn loopback_and_private_targets_are_refused_unless_allowed() {
    let receiver = receiver(Script::default()).await;
    let guarded = Sender::new(&NotifySettings::default()).expect("sender");
    let secret = WebhookSecret::generate();
    let by_name = receiver.url().replace("127.0.0.1", "localhost");
    for url in [
        receiver.url(),
        by_name,
        "https://169.254.169.254/latest".to_owned(),
    ] {
        let outcome = guarded.send(&url, "evt_1", b"{}", &[&secret]).await;
        assert!(
            matches!(&outcome.verdict, Verdict::Failed { error, .. } if error.contains("refused") || error.contains("https")),
            "{url}: {:?}",
            outcome.verdict
        );
    }
    assert!(
        receiver.log().is_empty(),
        "nothing reached the loopback receiver"
    );
    // The API refuses such a URL at registration, naming the field.
    let harness_settings = NotifySettings {
        allow_private: false,
        ..NotifySettings::default()
    };
    assert!(
        malipo::notify::ssrf::check_url(&receiver.url(), harness_settings.allow_private).is_err()
    );
}

#[tokio::test]
async fn a_rolled_back_transition_writes_no_event_and_a_committed_one_writes_one() {
    let harness = Harness::start().await;
    let receiver = receiver(Script::default()).await;
    harness.endpoint(&receiver.url()).await;
    let created = harness.create(mpesa_intent("700")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    let intent = Uuid::parse_str(id).expect("uuid");
    let count = || async {
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE intent_id = $1")
            .bind(intent)
            .fetch_one(&harness.pool)
            .await
            .expect("count");
        let jobs: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM malipo_jobs j JOIN webhook_deliveries d ON j.payload->>'delivery_id' = d.id::text
               JOIN events e ON e.id = d.event_id WHERE e.intent_id = $1",
        )
        .bind(intent)
        .fetch_one(&harness.pool)
        .await
        .expect("count");
        (events, jobs)
    };
    let before = count().await;
    assert_eq!(before.0, before.1, "one delivery job per event");

    let mut tx = harness.pool.begin().await.expect("tx");
    let moved = transitions::transition(&mut tx, intent, IntentMove::RefundRequested, json!({}))
        .await
        .expect("transition");
    assert!(moved.is_some());
    tx.rollback().await.expect("rollback");
    assert_eq!(
        count().await,
        before,
        "a rolled-back move leaves no event, delivery or job"
    );

    let mut tx = harness.pool.begin().await.expect("tx");
    transitions::transition(&mut tx, intent, IntentMove::RefundRequested, json!({}))
        .await
        .expect("transition");
    tx.commit().await.expect("commit");
    assert_eq!(count().await, (before.0 + 1, before.1 + 1));
    let client: Uuid = sqlx::query_scalar("SELECT client_id FROM intents WHERE id = $1")
        .bind(intent)
        .fetch_one(&harness.pool)
        .await
        .expect("client");
    let mut conn = harness.pool.acquire().await.expect("conn");
    let latest = events::list(
        &mut conn,
        client,
        &events::EventFilter {
            intent_id: Some(intent),
            limit: 1,
            ..Default::default()
        },
    )
    .await
    .expect("events");
    assert_eq!(latest[0].event_type, "intent.refunding");
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_leads_to_a_redelivery_with_the_same_webhook_id() {
    let mut harness = Harness::start().await;
    harness.stop_workers().await;
    // The first request stalls until the worker is killed; later ones are answered at once.
    let receiver = receiver(Script {
        slow_ratio: 1.0,
        slow: Duration::from_secs(60),
        ..Script::default()
    })
    .await;
    let (endpoint, _) = harness.endpoint(&receiver.url()).await;
    let mut feed = receiver.subscribe();
    harness.send_test_event(&endpoint).await;

    let spawn_worker = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_malipo"))
            .arg("work")
            .env("DATABASE_URL", &harness.database_url)
            .env("MALIPO_QUEUES", malipo_jobs::queues::NOTIFICATIONS)
            .env("MALIPO_JOB_LEASE", "2s")
            .env("MALIPO_SECRETS_KEY", &harness.secrets_key)
            .env("MALIPO_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("MALIPO_WEBHOOK_SCHEDULE_SCALE", NOTIFY_SCALE.to_string())
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("spawn malipo work")
    };
    let mut first = spawn_worker();
    let arrived = tokio::time::timeout(LIMIT, feed.recv())
        .await
        .expect("the first try arrives")
        .expect("feed open");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(first.id()).expect("pid")),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    first.wait().expect("reaped");

    receiver.set_script(Script::default());
    let mut second = spawn_worker();
    let again = tokio::time::timeout(LIMIT, feed.recv())
        .await
        .expect("the job is rescued and sent again")
        .expect("feed open");
    assert_eq!(again.id, arrived.id, "the same webhook-id");
    let deliveries = harness.deliveries_settled(&endpoint).await;
    assert_eq!(deliveries[0]["status"], "succeeded");
    let _ = second.kill();
    let _ = second.wait();
}

/// Issue #15: a move carries its own `from` set, so asking one of an intent in another status
/// is refused by the guarded UPDATE — `None`, the status unchanged, no history and no client
/// event — rather than read as "another run already moved it" and applied anyway.
#[tokio::test]
async fn a_move_from_a_status_outside_its_from_set_changes_nothing() {
    let harness = Harness::start().await;
    let created = harness.create(mpesa_intent("700")).await;
    let id = created["id"].as_str().expect("id");
    harness.wait_for(id, "held", LIMIT).await;
    let intent = Uuid::parse_str(id).expect("uuid");
    let written = || async {
        sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT (SELECT status FROM intents WHERE id = $1),
                    (SELECT count(*) FROM intent_events WHERE intent_id = $1),
                    (SELECT count(*) FROM events WHERE intent_id = $1)",
        )
        .bind(intent)
        .fetch_one(&harness.pool)
        .await
        .expect("count")
    };
    let before = written().await;
    assert_eq!(before.0, "held");
    // Each starts elsewhere: awaiting payment, disputed, refunding, settled.
    for movement in [
        IntentMove::DepositConfirmed,
        IntentMove::DisputeWithdrawn,
        IntentMove::RefundFailed,
        IntentMove::PayoutReversed,
    ] {
        assert!(
            !movement
                .from()
                .contains(&malipo::domain::IntentStatus::Held)
        );
        let mut tx = harness.pool.begin().await.expect("tx");
        let moved = transitions::transition(&mut tx, intent, movement, json!({}))
            .await
            .expect("transition");
        tx.commit().await.expect("commit");
        assert_eq!(moved, None, "{movement:?} moved a held intent");
        assert_eq!(written().await, before, "{movement:?} wrote something");
    }
}
