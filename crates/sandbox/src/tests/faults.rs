//! Fault knobs: injected 429s with their headers, the rate limit, 5xx, latency, held
//! "timeouts" that still move money, duplicate and dropped deliveries, out-of-order events.

use std::time::{Duration, Instant};

use serde_json::json;

use super::mpesa::Daraja;
use super::receiver::Receiver;
use super::{quick, status_json};
use crate::{
    ChargeOutcome, FakeProviders, FaultSettings, Provider, SandboxSettings, TransferOutcome,
};

async fn initialize(
    fakes: &FakeProviders,
    http: &reqwest::Client,
    reference: &str,
) -> reqwest::Response {
    http.post(format!(
        "{}/transaction/initialize",
        fakes.paystack_base_url()
    ))
    .bearer_auth(fakes.paystack_secret_key())
    .json(&json!({"email": "a@b.co", "amount": 100, "reference": reference}))
    .send()
    .await
    .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

#[tokio::test]
async fn an_injected_paystack_429_has_the_body_and_rate_limit_headers() {
    let fakes = FakeProviders::start(quick()).await.unwrap();
    fakes
        .faults()
        .update(Provider::Paystack, |f| f.rate_limit_probability = 1.0);
    let response = initialize(&fakes, &reqwest::Client::new(), "r-429").await;
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some(0));
    assert!(header(&response, "x-ratelimit-limit").is_some());
    assert!(header(&response, "x-ratelimit-reset").unwrap() >= 1);
    let (status, body) = status_json(response).await;
    assert_eq!(status, 429);
    assert_eq!(
        body,
        json!({"status": false, "message": "Rate limit exceeded!", "meta": {"nextStep": "Wait a few minutes and try the API call again"}, "type": "api_error", "code": "rate_limited"})
    );
    let counters = fakes.counters();
    assert_eq!(counters.injected_429, 1);
    assert_eq!(
        counters.requests_to("POST /paystack/transaction/initialize"),
        1
    );
}

#[tokio::test]
async fn the_rate_limit_admits_a_burst_then_answers_429_per_provider() {
    let fakes = FakeProviders::start(quick()).await.unwrap();
    let http = reqwest::Client::new();
    // A burst of `rate` is only a burst if it arrives before the bucket refills one token
    // (1 s / rate); on a loaded machine the round trips may be slower than that, so a burst
    // that took too long says nothing and is tried again under a fresh limit (a changed rate
    // starts afresh).
    let mut observed = None;
    for (attempt, rate) in (3u32..8).enumerate() {
        fakes.faults().update(Provider::Paystack, |f| {
            f.max_requests_per_second = Some(rate)
        });
        let started = Instant::now();
        let mut statuses = Vec::new();
        let mut remaining = Vec::new();
        for n in 0..=rate {
            let response = initialize(&fakes, &http, &format!("burst-{attempt}-{n}")).await;
            statuses.push(response.status().as_u16());
            remaining.push(header(&response, "x-ratelimit-remaining"));
            if n == rate {
                assert_eq!(
                    header(&response, "x-ratelimit-limit"),
                    Some(u64::from(rate))
                );
            }
        }
        if started.elapsed() < Duration::from_secs(1) / rate {
            observed = Some((rate, statuses, remaining));
            break;
        }
    }
    let (rate, statuses, remaining) =
        observed.expect("one burst arrived within a refill interval in five tries");
    let mut expected: Vec<u16> = vec![200; rate as usize];
    expected.push(429);
    assert_eq!(statuses, expected);
    let expected: Vec<Option<u64>> = (0..u64::from(rate))
        .rev()
        .map(Some)
        .chain([Some(0)])
        .collect();
    assert_eq!(remaining, expected);
    assert!(fakes.counters().rate_limited >= 1);

    // Another provider is not limited, and the bucket refills.
    let daraja = Daraja { fakes, http };
    daraja.token().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        initialize(&daraja.fakes, &daraja.http, "burst-4")
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn daraja_spike_arrest_and_injected_5xx() {
    let daraja = Daraja::start(quick()).await;
    daraja
        .fakes
        .faults()
        .update(Provider::Mpesa, |f| f.rate_limit_probability = 1.0);
    let url = format!(
        "{}/oauth/v1/generate?grant_type=client_credentials",
        daraja.fakes.mpesa_base_url()
    );
    let (status, body) = status_json(daraja.http.get(&url).send().await.unwrap()).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (500, Some("500.003.02"))
    );

    daraja.fakes.faults().set(
        Provider::Mpesa,
        FaultSettings {
            server_error_probability: 1.0,
            ..FaultSettings::default()
        },
    );
    for _ in 0..4 {
        let response = daraja.http.get(&url).send().await.unwrap();
        assert!(response.status().is_server_error());
    }
    assert_eq!(daraja.fakes.counters().injected_5xx, 4);
}

#[tokio::test]
async fn latency_is_added() {
    let fakes = FakeProviders::start(quick()).await.unwrap();
    fakes
        .faults()
        .update(Provider::Lnbits, |f| f.latency = Duration::from_millis(150));
    let started = Instant::now();
    reqwest::get(format!(
        "{}/api/v1/payments/unknown",
        fakes.lnbits_base_url()
    ))
    .await
    .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_timed_out_b2c_still_pays_out() {
    let mut results = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    let token = daraja.token().await;
    daraja.fakes.faults().update(Provider::Mpesa, |f| {
        f.timeout_probability = 1.0;
        f.timeout_hold = Duration::from_secs(3);
    });
    let body = json!({
        "OriginatorConversationID": "payout-in-doubt-1", "InitiatorName": "testapi", "SecurityCredential": "c2VjcmV0",
        "CommandID": "BusinessPayment", "Amount": 10, "PartyA": "600992", "PartyB": "254705912645", "Remarks": "payout",
        "QueueTimeOutURL": results.url("/timeout"), "ResultURL": results.url("/result"),
    });
    let url = format!(
        "{}/mpesa/b2c/v3/paymentrequest",
        daraja.fakes.mpesa_base_url()
    );
    let attempt = daraja
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        attempt.unwrap_err().is_timeout(),
        "the client saw a timeout"
    );
    assert_eq!(
        results.next().await.path,
        "/result",
        "yet the payout happened"
    );

    daraja
        .fakes
        .faults()
        .set(Provider::Mpesa, FaultSettings::default());
    let (status, retry) = daraja
        .post_with(&token, "/mpesa/b2c/v3/paymentrequest", &body)
        .await;
    assert_eq!(
        (status, retry["errorCode"].as_str()),
        (500, Some("500.002.1001"))
    );
    let counters = daraja.fakes.counters();
    assert_eq!(
        (counters.injected_timeouts, counters.transfers_created),
        (1, 1)
    );
    assert_eq!(counters.transfers_for("payout-in-doubt-1"), 2);
}

#[tokio::test]
async fn duplicate_and_delayed_webhooks() {
    let mut hooks = Receiver::start().await;
    let fakes = FakeProviders::start(quick()).await.unwrap();
    fakes.set_paystack_webhook_url(Some(hooks.url("/hooks")));
    fakes.faults().update(Provider::Paystack, |f| {
        f.duplicate_webhook_probability = 1.0;
        f.webhook_delay = (Duration::from_millis(150), Duration::from_millis(200));
    });
    initialize(&fakes, &reqwest::Client::new(), "dup-1").await;
    let started = Instant::now();
    fakes
        .paystack_complete_charge("dup-1", ChargeOutcome::Success)
        .unwrap();
    let first = hooks.next().await;
    assert!(started.elapsed() >= Duration::from_millis(150), "delayed");
    assert_eq!(
        hooks.next().await.body,
        first.body,
        "delivered twice, same bytes"
    );
    let counters = fakes.counters();
    assert_eq!(
        (counters.webhooks_sent, counters.webhooks_duplicated),
        (2, 1)
    );
}

#[tokio::test]
async fn dropped_mpesa_callbacks_are_counted() {
    let mut callbacks = Receiver::start().await;
    let daraja = Daraja::start(quick()).await;
    daraja
        .fakes
        .faults()
        .update(Provider::Mpesa, |f| f.callback_drop_probability = 1.0);
    let timestamp = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let body = json!({
        "BusinessShortCode": "174379", "Password": daraja.fakes.mpesa_stk_password(&timestamp), "Timestamp": timestamp,
        "TransactionType": "CustomerPayBillOnline", "Amount": 1, "PartyA": "254708374149", "PartyB": "174379",
        "PhoneNumber": "254708374149", "CallBackURL": callbacks.url("/cb"), "AccountReference": "a", "TransactionDesc": "b",
    });
    assert_eq!(
        daraja
            .post("/mpesa/stkpush/v1/processrequest", &body)
            .await
            .0,
        200
    );
    assert!(callbacks.quiet_for(Duration::from_millis(300)).await);
    assert_eq!(daraja.fakes.counters().callbacks_dropped, 1);
}

#[tokio::test]
async fn out_of_order_transfer_events_arrive_before_the_answer_last_first() {
    let mut hooks = Receiver::start().await;
    let settings = SandboxSettings { seed: 7, ..quick() };
    let fakes = FakeProviders::start(settings).await.unwrap();
    fakes.set_paystack_webhook_url(Some(hooks.url("/hooks")));
    fakes
        .faults()
        .update(Provider::Paystack, |f| f.out_of_order_probability = 1.0);
    fakes.paystack_script_next_transfer(TransferOutcome::Reversed);
    let http = reqwest::Client::new();
    let base = fakes.paystack_base_url();
    let key = fakes.paystack_secret_key();
    let recipient: serde_json::Value = http
        .post(format!("{base}/transferrecipient"))
        .bearer_auth(key)
        .json(&json!({"type": "nuban", "name": "A", "account_number": "0001", "bank_code": "058"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let transfer = json!({"source": "balance", "amount": 500, "recipient": recipient["data"]["recipient_code"], "reference": "payout_ooo_00000001"});
    let (status, queued) = status_json(
        http.post(format!("{base}/transfer"))
            .bearer_auth(key)
            .json(&transfer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, queued["data"]["status"].as_str()),
        (200, Some("pending"))
    );
    let first = hooks.already().expect("delivered before the answer").json();
    let second = hooks
        .already()
        .expect("both delivered before the answer")
        .json();
    assert_eq!(first["event"], "transfer.reversed");
    assert_eq!(second["event"], "transfer.success");
}
