//! A commission payout the provider confirmed failed used to leave its intent `released` and
//! flagged for good: no client may ask for the platform's share, and no route sent it again.
//! An operator now sends it again (`POST /ops/payouts/{id}/resend`, `malipo payouts
//! resend-commission`), audited, and the intent settles.

use malipo::clients;
use malipo_sandbox::{B2cOutcome, B2cResult};
use serde_json::{Value, json};

use super::{
    money_truth::{LIMIT, id_of, wait_for_event},
    support::{Harness, mpesa_intent},
};

/// Where `Harness` sends KES commission.
const COMMISSION_MSISDN: &str = "254700000099";

fn payout_of(intent: &Value, kind: &str, status: &str) -> String {
    intent["payouts"]
        .as_array()
        .and_then(|payouts| {
            payouts
                .iter()
                .find(|p| p["kind"] == kind && p["status"] == status)
        })
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("no {status} {kind} payout in {intent}"))
        .to_owned()
}

/// An M-Pesa intent released with its payee paid and its commission failed (the provider
/// answered "unregistered customer"): its id, the failed commission's, the payee payout's.
async fn released_with_failed_commission(harness: &Harness) -> (String, String, String) {
    harness.fakes.mpesa_script_next_b2c_to(
        COMMISSION_MSISDN,
        B2cOutcome::new(B2cResult::UnregisteredCustomer),
    );
    let id = id_of(&harness.create(mpesa_intent("1500")).await);
    harness.wait_for(&id, "held", LIMIT).await;
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let failed_view = wait_for_event(harness, &id, "payout_failed").await;
    let failed = payout_of(&failed_view, "commission", "failed");
    let payee = payee_succeeded(harness, &id).await;
    (id, failed, payee)
}

/// Waits until the payee's share is paid; returns its payout id.
async fn payee_succeeded(harness: &Harness, id: &str) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let intent = harness.get(id).await;
        let paid = intent["payouts"].as_array().is_some_and(|payouts| {
            payouts
                .iter()
                .any(|p| p["kind"] == "payee" && p["status"] == "succeeded")
        });
        if paid {
            return payout_of(&intent, "payee", "succeeded");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payee was never paid: {intent}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn resend(harness: &Harness, key: &str, payout: &str, body: &Value) -> reqwest::Response {
    harness
        .http
        .post(format!("{}/ops/payouts/{payout}/resend", harness.base))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

/// What a refused resend must leave as it was.
async fn payouts_and_audit(harness: &Harness) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM payouts), (SELECT count(*) FROM malipo_ops_audit WHERE action = 'payout.resend_commission')",
    )
    .fetch_one(&harness.pool)
    .await
    .expect("counts")
}

#[tokio::test]
async fn an_operator_sends_a_failed_commission_again_and_the_intent_settles() {
    let harness = Harness::start().await;
    let operator = clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let (id, failed, payee) = released_with_failed_commission(&harness).await;

    // Refusals name the problem and change nothing.
    let before = payouts_and_audit(&harness).await;
    let refusals = [
        (&harness.key, failed.clone(), json!({"note": "x"}), 403),
        (&operator, failed.clone(), json!({}), 422),
        (&operator, failed.clone(), json!({"note": "  "}), 422),
        (
            &operator,
            failed.clone(),
            json!({"note": "x", "to": "y"}),
            422,
        ),
        (
            &operator,
            failed.clone(),
            json!({"note": "x", "payout": {"provider": "mpesa", "msisdn": "12"}}),
            422,
        ),
        (
            &operator,
            failed.clone(),
            json!({"note": "x", "payout": {"provider": "lightning", "bolt11": null}}),
            422,
        ),
        (&operator, payee.clone(), json!({"note": "x"}), 409),
        (
            &operator,
            uuid::Uuid::new_v4().to_string(),
            json!({"note": "x"}),
            404,
        ),
        (
            &operator,
            "not-a-uuid".to_owned(),
            json!({"note": "x"}),
            404,
        ),
    ];
    for (key, payout, body, status) in refusals {
        let answer = resend(&harness, key, &payout, &body).await;
        assert_eq!(answer.status(), status, "{body} on {payout}");
        assert_eq!(
            answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{body}"
        );
    }
    assert_eq!(payouts_and_audit(&harness).await, before, "refusals wrote");
    assert_eq!(harness.get(&id).await["status"], "released");

    // Sent again where it went before; once only.
    let sent = resend(
        &harness,
        &operator,
        &failed,
        &json!({"note": "wallet re-registered"}),
    )
    .await;
    assert_eq!(sent.status(), 200);
    let sent: Value = sent.json().await.expect("json");
    let successor = payout_of(&sent, "commission", "pending");
    assert_ne!(successor, failed);
    let again = resend(&harness, &operator, &failed, &json!({"note": "twice"})).await;
    assert_eq!(again.status(), 409, "a payout is sent again once");

    let settled = harness.wait_for(&id, "settled", LIMIT).await;
    let commissions: Vec<&Value> = settled["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .filter(|p| p["kind"] == "commission")
        .collect();
    assert_eq!(commissions.len(), 2, "{settled}");
    let (superseded_by, destination): (Option<uuid::Uuid>, Value) = sqlx::query_as(
        "SELECT f.superseded_by, s.destination FROM payouts f, payouts s WHERE f.id = $1 AND s.id = $2",
    )
    .bind(uuid::Uuid::parse_str(&failed).expect("uuid"))
    .bind(uuid::Uuid::parse_str(&successor).expect("uuid"))
    .fetch_one(&harness.pool)
    .await
    .expect("payouts");
    assert_eq!(superseded_by.map(|s| s.to_string()), Some(successor));
    assert!(
        destination.to_string().contains(COMMISSION_MSISDN),
        "{destination}"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM malipo_ops_audit WHERE action = 'payout.resend_commission' AND detail->>'note' = 'wallet re-registered'",
    )
    .fetch_one(&harness.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    harness.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_cli_sends_a_failed_commission_to_a_new_destination_audited_as_its_user() {
    let harness = Harness::start().await;
    let (id, failed, _) = released_with_failed_commission(&harness).await;
    let malipo = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_malipo"))
            .args(["payouts", "resend-commission"])
            .args(args)
            .env("DATABASE_URL", &harness.database_url)
            .env("RUST_LOG", "error")
            .output()
            .expect("malipo runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let before = payouts_and_audit(&harness).await;
    let (ok, _, err) = malipo(&[&failed, "--note", "moved", "--to", "carrier-pigeon:1"]);
    assert!(!ok && err.contains("--to"), "{err}");
    let (ok, _, err) = malipo(&[&failed, "--note", " ", "--to", "mpesa:254700000098"]);
    assert!(!ok && err.contains("note"), "{err}");
    assert_eq!(payouts_and_audit(&harness).await, before, "refusals wrote");

    let (ok, out, err) = malipo(&[&failed, "--note", "moved", "--to", "mpesa:254700000098"]);
    assert!(ok, "{err}");
    let sent: Value = serde_json::from_str(&out).expect("the intent as JSON");
    let successor = payout_of(&sent, "commission", "pending");
    harness.wait_for(&id, "settled", LIMIT).await;
    let (destination, actor): (Value, String) = sqlx::query_as(
        "SELECT p.destination, a.actor FROM payouts p, malipo_ops_audit a
          WHERE p.id = $1 AND a.action = 'payout.resend_commission'",
    )
    .bind(uuid::Uuid::parse_str(&successor).expect("uuid"))
    .fetch_one(&harness.pool)
    .await
    .expect("successor and audit");
    assert!(
        destination.to_string().contains("254700000098"),
        "{destination}"
    );
    assert!(actor.starts_with("cli:"), "{actor}");
    harness.assert_ledger_sound().await;
}
