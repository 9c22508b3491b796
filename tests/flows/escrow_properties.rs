//! A property over the whole marketplace escrow: for any sequence of partial releases, refunds,
//! disputes and their resolutions (asked over HTTP, run by the real workers against the fakes),
//! the ledger holds every invariant (balanced, no account but the clearing ones negative) and
//! the money out of the intent — payouts, and shares settled into the client's balance when the
//! payee is paid through it — never exceeds the money in.

use std::time::Duration;

use proptest::{prelude::*, test_runner::TestRunner};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::support::{Harness, mpesa_intent};

/// One thing a client or operator may ask.
#[derive(Debug, Clone)]
enum Step {
    /// Release this percentage (1–99) of what is still held.
    ReleasePart(u8),
    /// Release everything left.
    ReleaseRest,
    Refund,
    Dispute,
    Withdraw,
    /// Resolve a dispute releasing this percentage (0–100) of what is held, refunding the rest.
    Resolve(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u8..100).prop_map(Step::ReleasePart),
        1 => Just(Step::ReleaseRest),
        1 => Just(Step::Refund),
        2 => Just(Step::Dispute),
        1 => Just(Step::Withdraw),
        2 => (0u8..=100).prop_map(Step::Resolve),
    ]
}

fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

async fn quiet(harness: &Harness, id: uuid::Uuid) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let busy: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM malipo_jobs WHERE intent_id = $1 AND state IN ('pending', 'running')
                      AND kind <> 'auto_release')
                  + (SELECT count(*) FROM payouts WHERE intent_id = $1 AND status IN ('pending', 'in_flight'))",
        )
        .bind(id)
        .fetch_one(&harness.pool)
        .await
        .expect("busy");
        if busy == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "intent {id} never went quiet"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_case(harness: &Harness, operator: &str, to_balance: bool, steps: &[Step]) {
    let mut body = mpesa_intent("1000");
    if to_balance {
        body["payee"]["payout"] = json!({"provider": "balance"});
    }
    let created = harness.create(body).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let uuid = uuid::Uuid::parse_str(&id).expect("uuid");
    harness.wait_for(&id, "held", Duration::from_secs(30)).await;
    for step in steps {
        let intent = harness.get(&id).await;
        let remaining = decimal(&intent["remaining"]);
        let key = uuid::Uuid::new_v4().to_string();
        let post = |what: &str, body: Value| {
            let path = format!("/v1/intents/{id}/{what}");
            let key = key.clone();
            async move { harness.post(&path, &body, &key).await.status().as_u16() }
        };
        let status = match step {
            Step::ReleasePart(pct) => {
                let part = (remaining * Decimal::from(*pct) / Decimal::from(100)).floor();
                post("release", json!({"amount": part.to_string()})).await
            }
            Step::ReleaseRest => post("release", json!({})).await,
            Step::Refund => post("refund", json!({})).await,
            Step::Dispute => post("dispute", json!({"reason": "property"})).await,
            Step::Withdraw => post("dispute", json!({"withdraw": true})).await,
            Step::Resolve(pct) => {
                let release = (remaining * Decimal::from(*pct) / Decimal::from(100)).floor();
                let refund = remaining - release;
                harness
                    .http
                    .post(format!("{}/ops/intents/{id}/resolve", harness.base))
                    .bearer_auth(operator)
                    .json(&json!({"release": release.to_string(), "refund": refund.to_string(), "note": "property"}))
                    .send()
                    .await
                    .expect("resolve")
                    .status()
                    .as_u16()
            }
        };
        assert!(status < 500, "{step:?} answered {status}");
        quiet(harness, uuid).await;
    }
    quiet(harness, uuid).await;
    let intent = harness.get(&id).await;
    let amount = decimal(&intent["amount"]);
    let out: Decimal = intent["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .filter(|p| p["status"] == "succeeded")
        .map(|p| decimal(&p["amount"]))
        .sum();
    let into_balance: Decimal = sqlx::query_scalar(
        "SELECT coalesce(-sum(e.amount), 0) FROM ledger_entries e
           JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'client_balance'
           JOIN ledger_transactions t ON t.id = e.transaction_id
          WHERE t.intent_id = $1",
    )
    .bind(uuid)
    .fetch_one(&harness.pool)
    .await
    .expect("balance credits");
    assert!(
        to_balance || into_balance.is_zero(),
        "only a balance payee's shares reach the balance"
    );
    let out = out + into_balance;
    assert!(out <= amount, "{out} paid out of {amount}: {intent}");
    assert!(decimal(&intent["released_amount"]) <= amount);
    harness.assert_ledger_sound().await;
}

#[test]
fn any_sequence_of_releases_refunds_and_disputes_keeps_the_ledger_sound() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let harness = runtime.block_on(Harness::start());
    let operator = runtime.block_on(async {
        malipo::clients::create(&harness.pool, "ops", "operator", 0)
            .await
            .expect("operator")
            .key
    });
    // Each case is a full lifecycle over HTTP: a few, each long enough to exercise the rules.
    let config = ProptestConfig {
        cases: 8,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(
            &(any::<bool>(), proptest::collection::vec(step(), 1..7)),
            |(to_balance, steps)| {
                runtime.block_on(run_case(&harness, &operator, to_balance, &steps));
                Ok(())
            },
        )
        .expect("property holds");
}
