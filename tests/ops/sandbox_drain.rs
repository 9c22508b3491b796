//! `malipo run --sandbox` drains with the sandbox's own providers. Found by reading (issue
//! #15): the drain built its workers' state from the environment inside the request, where no
//! provider is configured under the sandbox, so draining `deposits` failed every intent it
//! touched. The process here serves only the bench queue, so the deposit job waits for the
//! operator's drain.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use malipo::clients;
use malipo_testing::test_database;
use serde_json::{Value, json};

/// The sandbox process; killed when dropped.
struct Sandbox(Child);

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `malipo run --sandbox` on `database_url` and returns it with its API base URL, read
/// from the banner it prints once listening.
fn start_sandbox(database_url: &str) -> (Sandbox, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_malipo"))
        .args(["run", "--sandbox"])
        .env("DATABASE_URL", database_url)
        .env("MALIPO_HTTP_ADDR", "127.0.0.1:0")
        .env("MALIPO_QUEUES", malipo_jobs::queues::BENCH)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("malipo run --sandbox starts");
    let stdout = child.stdout.take().expect("stdout");
    let sandbox = Sandbox(child);
    let (found, banner) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("API at ").nth(1) {
                let base = rest.split(';').next().unwrap_or_default().to_owned();
                let _ = found.send(base);
            }
        }
    });
    let base = banner
        .recv_timeout(Duration::from_secs(60))
        .expect("the sandbox prints its address within 60 s");
    (sandbox, base)
}

#[tokio::test]
async fn draining_deposits_under_the_sandbox_uses_the_sandbox_providers() {
    let db = test_database().await.expect("database");
    let operator = clients::create(&db.pool, "ops", "operator", 0)
        .await
        .expect("operator");
    let client = clients::create(&db.pool, "shop", "client", 0)
        .await
        .expect("client");
    let (_sandbox, base) = start_sandbox(&db.url);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let created: Value = http
        .post(format!("{base}/v1/intents"))
        .bearer_auth(&client.key)
        .header("idempotency-key", "sandbox-drain-1")
        .json(
            &json!({"amount": "250", "currency": "KES", "provider": "mpesa",
            "buyer": {"msisdn": "254708374149"},
            "payee": {"id": "seller-1", "payout": {"provider": "mpesa", "msisdn": "254700000001"}},
            "commission_bps": 1000}),
        )
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("intent");
    assert_eq!(created["status"], "initiating", "{created}");
    let id = created["id"].as_str().expect("id").to_owned();

    let drained = http
        .post(format!("{base}/ops/queues/deposits/drain"))
        .bearer_auth(&operator.key)
        .send()
        .await
        .expect("drain");
    assert_eq!(drained.status().as_u16(), 200);
    let report: Value = drained.json().await.expect("report");
    assert_eq!(report["dead"], 0, "{report}");
    assert!(report["done"].as_u64() >= Some(1), "{report}");

    let intent: Value = http
        .get(format!("{base}/v1/intents/{id}"))
        .bearer_auth(&client.key)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("intent");
    assert_eq!(
        intent["status"], "awaiting_payment",
        "the STK push went to the sandbox's Daraja: {intent}"
    );
}
