//! The Nigerian banks a Fincra payee may name (issue #19): the shipped list until an operator
//! refreshes it from Fincra's `GET /core/banks`, then Fincra's list; the refresh is audited.

use serde_json::{Value, json};

use super::support::{Harness, paystack_intent};

fn intent_paying_bank(code: &str) -> Value {
    let mut intent = paystack_intent("1000.00");
    intent["payee"]["payout"] = json!({"provider": "fincra", "destination": "bank_account",
        "bank_code": code, "account_number": "0124775489", "account_name": "Hassan Sarz"});
    intent
}

#[tokio::test]
async fn a_bank_the_refreshed_list_adds_is_accepted_after_the_refresh_and_refused_before() {
    let harness = Harness::start().await;
    // A microfinance bank Fincra pays to that the shipped list does not name.
    harness
        .fakes
        .fincra_list_bank("090267", "Kuda Microfinance Bank");
    let before = harness
        .post("/v1/intents", &intent_paying_bank("090267"), "before")
        .await;
    assert_eq!(before.status(), 422);
    let problem: Value = before.json().await.expect("problem");
    assert!(
        problem.to_string().contains("payee.payout.bank_code"),
        "{problem}"
    );

    let operator = malipo::clients::create(&harness.pool, "ops", "operator", 0)
        .await
        .expect("operator")
        .key;
    let refresh = |key: String| {
        harness
            .http
            .post(format!("{}/ops/fincra/banks/refresh", harness.base))
            .bearer_auth(key)
            .send()
    };
    let refused = refresh(harness.key.clone()).await.expect("post");
    assert!(
        [401, 403].contains(&refused.status().as_u16()),
        "a client key cannot refresh: {}",
        refused.status()
    );
    let refreshed = refresh(operator).await.expect("post");
    assert_eq!(refreshed.status(), 200);
    let answer: Value = refreshed.json().await.expect("json");
    let shipped = malipo::providers::fincra::banks::NGN_BANKS.len() as u64;
    assert_eq!(answer["banks"], shipped + 1);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM malipo_ops_audit WHERE action = 'fincra.banks.refresh' AND affected = $1",
    )
    .bind(i64::try_from(shipped + 1).expect("small"))
    .fetch_one(&harness.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);

    let after = harness
        .post("/v1/intents", &intent_paying_bank("090267"), "after")
        .await;
    assert_eq!(
        after.status(),
        201,
        "{}",
        after.text().await.unwrap_or_default()
    );
    // Banks on both lists stay accepted; a code on neither is still refused.
    let shipped_bank = harness
        .post("/v1/intents", &intent_paying_bank("058"), "shipped")
        .await;
    assert_eq!(shipped_bank.status(), 201);
    let unknown = harness
        .post("/v1/intents", &intent_paying_bank("999"), "unknown")
        .await;
    assert_eq!(unknown.status(), 422);
}
