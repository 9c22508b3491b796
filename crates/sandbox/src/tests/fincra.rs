//! The fake Fincra through malipo's own Fincra client and raw HTTP: what PROVIDERS.md §4 and
//! §6 require of it.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::json;

use super::receiver::Receiver;
use super::{quick, status_json};
use crate::{FakeProviders, FincraPayoutOutcome};
use malipo::domain::{Currency, Money};
use malipo::providers::{
    Destination, FincraClient, ProviderError, Secret, TransferRequest, TransferStatus,
    config::FincraConfig, fincra,
};

fn client(fakes: &FakeProviders) -> FincraClient {
    let config = FincraConfig::new(
        &fakes.fincra_base_url(),
        Secret::new(fakes.fincra_secret_key().to_owned()),
        fakes.fincra_business_id(),
        Secret::new(fakes.fincra_webhook_secret().to_owned()),
    );
    FincraClient::new(&config, &malipo::providers::HttpSettings::default()).expect("client")
}

fn bank(reference: &str, naira: &str) -> TransferRequest {
    TransferRequest {
        reference: reference.into(),
        amount: Money::new(Decimal::from_str(naira).expect("decimal"), Currency::Ngn)
            .expect("money"),
        destination: Destination::FincraBank {
            bank_code: "058".into(),
            account_number: "0124775489".into(),
            account_name: "Hassan Sarz".into(),
        },
        reason: "payout".into(),
    }
}

#[tokio::test]
async fn a_payout_is_processing_then_concludes_with_a_signed_webhook() {
    let fakes = FakeProviders::start(quick()).await.expect("fakes");
    let mut receiver = Receiver::start().await;
    fakes.set_fincra_webhook_url(Some(receiver.url("/webhooks/fincra")));
    let client = client(&fakes);
    assert_eq!(
        client.payout(&bank("po_fake_one", "1000.50")).await,
        Ok(TransferStatus::Pending)
    );
    let hook = receiver.next().await;
    let signature = hook.header("signature").expect("signature").to_owned();
    assert!(fincra::verify_signature(
        fakes.fincra_webhook_secret(),
        &hook.body,
        &signature
    ));
    let event = fincra::parse_webhook(&hook.body).expect("event");
    assert_eq!(event.event, "payout.successful");
    assert!(matches!(
        client.query("po_fake_one").await,
        Ok(TransferStatus::Succeeded { .. })
    ));
    let money = fakes.money();
    assert_eq!(money.by_key("po_fake_one").count(), 1);
}

#[tokio::test]
async fn duplicates_unknown_references_underfunding_and_failures_answer_as_fincra_does() {
    let fakes = FakeProviders::start(quick()).await.expect("fakes");
    let client = client(&fakes);
    assert_eq!(
        client.query("po_never_sent").await,
        Ok(TransferStatus::NotFound)
    );

    fakes.fincra_set_balance("NGN", Some(Decimal::from(500)));
    let refused = client.payout(&bank("po_fake_poor", "1000")).await;
    assert!(
        matches!(&refused, Err(ProviderError::Retryable { reason, .. }) if reason.starts_with(fincra::UNDERFUNDED)),
        "{refused:?}"
    );
    assert_eq!(
        client.query("po_fake_poor").await,
        Ok(TransferStatus::NotFound)
    );
    fakes.fincra_set_balance("NGN", Some(Decimal::from(5000)));
    fakes.fincra_script_next_payout(FincraPayoutOutcome::Failed);
    assert_eq!(
        client.payout(&bank("po_fake_poor", "1000")).await,
        Ok(TransferStatus::Pending)
    );
    // The same customer reference again: Fincra's 422, which the client adopts by querying.
    let raw = reqwest::Client::new()
        .post(format!("{}/disbursements/payouts", fakes.fincra_base_url()))
        .header("api-key", fakes.fincra_secret_key())
        .header("x-business-id", fakes.fincra_business_id())
        .json(&json!({"business": fakes.fincra_business_id(), "sourceCurrency": "NGN",
            "destinationCurrency": "NGN", "amount": 1000, "description": "again",
            "paymentDestination": "bank_account", "customerReference": "po_fake_poor",
            "beneficiary": {"firstName": "A", "lastName": "B", "accountHolderName": "A B",
                "country": "NG", "accountNumber": "0124775489", "type": "individual", "bankCode": "058"}}))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(raw).await;
    assert_eq!(status, 422);
    assert_eq!(body["errorType"], "DUPLICATE_CUSTOMER_REFERENCE");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while fakes.fincra_payout_status("po_fake_poor") == Some("processing") {
        assert!(tokio::time::Instant::now() < deadline, "never concluded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(matches!(
        client.payout(&bank("po_fake_poor", "1000")).await,
        Ok(TransferStatus::Failed { .. })
    ));
    assert_eq!(fakes.money().by_key("po_fake_poor").count(), 1);

    let without_business = reqwest::Client::new()
        .get(format!(
            "{}/disbursements/payouts/customer-reference/x",
            fakes.fincra_base_url()
        ))
        .header("api-key", fakes.fincra_secret_key())
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(without_business).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["message"],
        "x-business-id must be provided in the header"
    );
}
