//! The fixtures match PROVIDERS.md: the §1.5 signature vector verifies byte for byte, the STK
//! password vector holds, and every payload parses.

use std::path::PathBuf;

use serde_json::Value;

use crate::{FakeProviders, paystack_signature};

use super::quick;

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

const VECTOR_BODY: &str = r#"{"event":"charge.success","data":{"reference":"ref_123","amount":10000,"currency":"NGN","status":"success"}}"#;
const VECTOR_SIGNATURE: &str = "28eff5b421c1dc76e46589e94c3bb5c5219c2bb3fffe39e8adc5513e583a76fd09f0d86aa3c2ed4b842b4e99a765bc13e5503482b66e3429d26976f186f6ff9b";

#[test]
fn paystack_signature_test_vector_verifies() {
    let body = fixture("paystack/charge_success.json");
    assert_eq!(
        body,
        VECTOR_BODY.as_bytes(),
        "the fixture is the §1.5 body, byte for byte"
    );
    let signature = String::from_utf8(fixture("paystack/charge_success.json.sig")).unwrap();
    assert_eq!(signature.trim(), VECTOR_SIGNATURE);
    assert_eq!(paystack_signature("sk_test_fake", &body), VECTOR_SIGNATURE);
    assert_ne!(paystack_signature("sk_test_other", &body), VECTOR_SIGNATURE);
}

#[tokio::test]
async fn stk_password_test_vector_holds() {
    let fakes = FakeProviders::start(quick()).await.unwrap();
    assert_eq!(
        fakes.mpesa_stk_password("20210628092408"),
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4"
    );
}

#[test]
fn every_fixture_parses() {
    let files = [
        "paystack/charge_success.json",
        "paystack/transfer_success.json",
        "paystack/transfer_failed.json",
        "paystack/transfer_reversed.json",
        "paystack/verify_success.json",
        "mpesa/stk_callback_success.json",
        "mpesa/stk_callback_success_amount_1_00.json",
        "mpesa/stk_callback_with_balance_item.json",
        "mpesa/stk_callback_1032.json",
        "mpesa/stk_callback_1037.json",
        "mpesa/stk_query_success.json",
        "mpesa/b2c_result_success.json",
        "mpesa/b2c_result_failure.json",
        "mpesa/c2b_confirmation.json",
        "mpesa/transaction_status_result.json",
        "lnbits/payment_created.json",
        "lnbits/webhook_string_body.json",
        "lnbits/webhook_object_body.json",
        "lnbits/payment_check_owner.json",
        "lnbits/payment_check_other_key.json",
    ];
    for file in files {
        serde_json::from_slice::<Value>(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn shape_details_the_fixtures_must_keep() {
    let text = String::from_utf8(fixture("mpesa/stk_callback_success_amount_1_00.json")).unwrap();
    assert!(text.contains(r#"{"Name":"Amount","Value":1.00}"#));
    let text = String::from_utf8(fixture("mpesa/stk_callback_with_balance_item.json")).unwrap();
    assert!(text.contains(r#"{"Name":"Balance"}"#));
    let query: Value = serde_json::from_slice(&fixture("mpesa/stk_query_success.json")).unwrap();
    assert_eq!(query["ResultCode"], "0", "a string in query answers");
    let callback: Value = serde_json::from_slice(&fixture("mpesa/stk_callback_1032.json")).unwrap();
    assert_eq!(
        callback["Body"]["stkCallback"]["ResultCode"], 1032,
        "a number in callbacks"
    );

    // The string-literal webhook decodes to a string, which decodes to the object body.
    let outer: Value = serde_json::from_slice(&fixture("lnbits/webhook_string_body.json")).unwrap();
    let inner: Value =
        serde_json::from_str(outer.as_str().expect("a JSON string literal")).unwrap();
    let object: Value =
        serde_json::from_slice(&fixture("lnbits/webhook_object_body.json")).unwrap();
    assert_eq!(inner, object);
    let owner: Value = serde_json::from_slice(&fixture("lnbits/payment_check_owner.json")).unwrap();
    assert_eq!(owner["details"], object);
    let preimage = hex::decode(owner["preimage"].as_str().unwrap()).unwrap();
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(preimage));
    assert_eq!(owner["details"]["payment_hash"], hash);
}
