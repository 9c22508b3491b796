//! Provider faults: a payout whose initiation timed out but went through is never sent again.

use std::time::Duration;

use malipo::sandbox::Provider;
use serde_json::json;

use super::support::{Harness, Options, mpesa_intent};

#[tokio::test]
async fn a_payout_whose_initiation_timed_out_but_succeeded_is_not_sent_again() {
    let harness = Harness::start_with(Options {
        read_timeout: Duration::from_millis(700),
        commission_kes: None,
        ..Options::default()
    })
    .await;
    let created = harness.create(mpesa_intent("2000")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    harness.wait_for(&id, "held", Duration::from_secs(20)).await;

    // Daraja now performs every call but answers after the client has given up.
    harness.fakes.faults().update(Provider::Mpesa, |faults| {
        faults.timeout_probability = 1.0;
        faults.timeout_hold = Duration::from_millis(1_500);
        faults.timeout_performs_action = true;
    });
    assert_eq!(harness.release(&id, json!({})).await.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while harness.fakes.counters().transfers_created == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the B2C was never attempted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the in-doubt answer be seen and a few checks fail before Daraja recovers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    harness
        .fakes
        .faults()
        .update(Provider::Mpesa, |faults| faults.timeout_probability = 0.0);

    let settled = harness
        .wait_for(&id, "settled", Duration::from_secs(40))
        .await;
    let reference = settled["payouts"][0]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    assert_eq!(
        harness.fakes.counters().transfers_for(&reference),
        1,
        "initiated exactly once at the provider"
    );
    harness.assert_ledger_sound().await;
}
