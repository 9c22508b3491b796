//! `/metrics` scrapes in the Prometheus text format with every series family, and moves as
//! jobs run.

use std::collections::BTreeMap;

use malipo::providers::{HttpSettings, PaystackClient, Secret, config::PaystackConfig};

use super::support::{OpsApp, problem, spawn_app};

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the text exposition format (comments skipped; label values without escapes).
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = value.parse().expect("numeric value");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let labels = body
                    .split("\",")
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once("=\"").expect("label pair");
                        (key.to_owned(), value.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
            None => (series.to_owned(), BTreeMap::new()),
        };
        samples.push((name, labels, value));
    }
    samples
}

/// The value of `name` whose labels include every pair of `wanted`.
fn value(samples: &[Sample], name: &str, wanted: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name
                && wanted
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, value)| *value)
}

async fn scrape(app: &OpsApp) -> Vec<Sample> {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(media.starts_with("text/plain"), "{media}");
    parse(&response.text().await.expect("body"))
}

#[tokio::test]
async fn metrics_scrape_has_every_series_and_moves_as_jobs_run() {
    let app = spawn_app().await;
    for _ in 0..4 {
        app.enqueue_noop("").await;
    }
    app.enqueue_noop("permanent").await;
    // A provider call (a 500 from a loopback stand-in) and a webhook, so those series exist.
    let provider = axum::Router::new()
        .fallback(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let provider_url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, provider).await });
    let paystack = PaystackClient::new(
        &PaystackConfig {
            base_url: provider_url,
            secret_key: Secret::new("sk_test_metrics"),
            rate_per_min: std::num::NonZeroU32::MIN.saturating_add(99),
        },
        &HttpSettings::default(),
    )
    .expect("client");
    assert!(paystack.verify("ref-metrics").await.is_err());
    // A webhook through a front that has Paystack configured: a forged signature is refused
    // and counted by the webhook route itself (the counter is the process's, so the ops app
    // scrapes it).
    let front = malipo_testing::TestApp::builder()
        .settings(|settings| {
            settings.providers =
                malipo::providers::ProvidersConfig::from_lookup(|name| match name {
                    "PAYSTACK_SECRET_KEY" => Some("sk_test_metrics".to_owned()),
                    _ => None,
                })
                .expect("provider config");
        })
        .start()
        .await
        .expect("front");
    let refused = app
        .http
        .post(format!("{}/webhooks/paystack", front.base))
        .header("x-paystack-signature", "00")
        .body(r#"{"event":"charge.success","data":{"reference":"ref-metrics"}}"#)
        .send()
        .await
        .expect("webhook");
    assert_eq!(refused.status(), 401);

    let before = scrape(&app).await;
    let bench = |state| [("queue", "bench"), ("state", state)];
    assert_eq!(
        value(&before, "malipo_queue_jobs", &bench("pending")),
        Some(5.0)
    );
    assert_eq!(
        value(&before, "malipo_queue_jobs", &bench("done")),
        Some(0.0)
    );
    assert_eq!(
        value(&before, "malipo_dead_jobs", &[("queue", "bench")]),
        Some(0.0)
    );
    assert_eq!(
        value(&before, "malipo_queue_paused", &[("queue", "bench")]),
        Some(0.0)
    );
    assert!(
        value(
            &before,
            "malipo_queue_oldest_pending_age_seconds",
            &[("queue", "bench")]
        )
        .is_some_and(|age| age >= 0.0)
    );
    assert!(
        value(
            &before,
            "malipo_webhook_events_total",
            &[("provider", "paystack"), ("outcome", "bad_signature")]
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(
        value(
            &before,
            "malipo_provider_request_duration_seconds_count",
            &[("provider", "paystack"), ("outcome", "5xx")]
        )
        .is_some_and(|n| n >= 1.0)
    );
    let runs = |samples: &[Sample], outcome| {
        value(
            samples,
            "malipo_job_duration_seconds_count",
            &[("kind", "noop"), ("outcome", outcome)],
        )
        .unwrap_or(0.0)
    };
    let (done_before, dead_before) = (runs(&before, "done"), runs(&before, "dead"));

    let report = app.post_json("/ops/queues/bench/drain", None).await;
    assert_eq!(report["done"], 4);

    let after = scrape(&app).await;
    assert_eq!(
        value(&after, "malipo_queue_jobs", &bench("pending")),
        Some(0.0)
    );
    assert_eq!(
        value(&after, "malipo_queue_jobs", &bench("done")),
        Some(4.0)
    );
    assert_eq!(
        value(&after, "malipo_queue_jobs", &bench("dead")),
        Some(1.0)
    );
    assert_eq!(
        value(&after, "malipo_dead_jobs", &[("queue", "bench")]),
        Some(1.0)
    );
    // Other tests in this process run noop jobs too, so counts only grow by at least ours.
    assert!(runs(&after, "done") >= done_before + 4.0);
    assert!(runs(&after, "dead") >= dead_before + 1.0);
    assert!(
        value(
            &after,
            "malipo_job_attempts_count",
            &[("kind", "noop"), ("outcome", "dead")]
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(
        value(
            &after,
            "malipo_job_duration_seconds_bucket",
            &[("kind", "noop"), ("outcome", "done"), ("le", "+Inf")]
        )
        .is_some_and(|n| n >= 4.0),
        "histograms carry buckets"
    );
    // The HTTP middleware labels requests by route template, never by raw path.
    assert!(
        value(
            &after,
            "malipo_http_request_duration_seconds_count",
            &[
                ("route", "/ops/queues/{queue}/drain"),
                ("method", "POST"),
                ("status", "200")
            ]
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(
        after
            .iter()
            .all(|(_, labels, _)| labels.get("route").is_none_or(|r| !r.contains("/bench/")))
    );
}

#[tokio::test]
async fn metrics_need_an_operator_key() {
    let app = spawn_app().await;
    let anonymous = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("request");
    problem(anonymous, 401).await;
    let client = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(&app.client_key)
        .send()
        .await
        .expect("request");
    problem(client, 403).await;
}
