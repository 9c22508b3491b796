//! Signature checks never panic on any header, secret or body, and accept only the exact bytes
//! that were signed: any one-byte change, truncation or extension of the body fails.

use malipo::providers::signature::{
    SignatureError, callback_token_matches, paystack_signature, standard, verify_paystack,
};
use proptest::{prelude::*, sample::Index};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A body changed in one byte (`flip` is never zero, so the byte really changes).
fn one_byte_changed(body: &[u8], at: &Index, flip: u8) -> Vec<u8> {
    let mut changed = body.to_vec();
    let position = at.index(changed.len());
    changed[position] ^= flip;
    changed
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..256),
        super::strategies::mutated_example().prop_map(|v| v.to_string().into_bytes()),
    ]
}

const EMPTY_OBJECT: &[u8] = b"{}";

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn paystack_accepts_only_the_signed_bytes(
        secret in "\\PC{0,40}",
        body in body(),
        at in any::<Index>(),
        flip in 1u8..=255,
    ) {
        let signature = paystack_signature(&secret, &body);
        prop_assert!(verify_paystack(&secret, &body, &signature));
        prop_assert!(!verify_paystack(&secret, &one_byte_changed(&body, &at, flip), &signature));
        prop_assert!(!verify_paystack(&secret, &body[..body.len() - 1], &signature));
        let mut longer = body.clone();
        longer.push(b'\n');
        prop_assert!(!verify_paystack(&secret, &longer, &signature));
        let other_secret = format!("{secret}x");
        prop_assert!(!verify_paystack(&other_secret, &body, &signature));
        // A signature changed in one hex digit, or cut short, is no signature.
        let mut digits = signature.clone().into_bytes();
        let position = at.index(digits.len());
        digits[position] = if digits[position] == b'0' { b'1' } else { b'0' };
        prop_assert!(!verify_paystack(&secret, &body, &String::from_utf8_lossy(&digits)));
        prop_assert!(!verify_paystack(&secret, &body, &signature[..signature.len() - 2]));
    }

    #[test]
    fn paystack_never_panics_on_any_header(
        secret in "\\PC{0,40}",
        body in prop::collection::vec(any::<u8>(), 0..128),
        header in prop_oneof!["\\PC{0,200}", "[0-9a-fA-F ]{0,140}"],
    ) {
        prop_assert!(!verify_paystack(&secret, &body, &header));
    }

    #[test]
    fn standard_webhooks_accept_only_the_signed_bytes(
        id in "[a-zA-Z0-9_]{1,40}",
        timestamp in 0i64..4_000_000_000,
        body in body(),
        at in any::<Index>(),
        flip in 1u8..=255,
    ) {
        let signature = standard::sign(STANDARD_SECRET, &id, timestamp, &body).expect("valid secret");
        let stamp = timestamp.to_string();
        prop_assert_eq!(standard::verify(STANDARD_SECRET, &id, &stamp, &signature, &body, timestamp), Ok(()));
        let changed = one_byte_changed(&body, &at, flip);
        prop_assert_eq!(
            standard::verify(STANDARD_SECRET, &id, &stamp, &signature, &changed, timestamp),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn standard_webhooks_never_panic_on_any_input(
        secret in prop_oneof!["\\PC{0,60}", "whsec_[A-Za-z0-9+/=]{0,60}"],
        id in "\\PC{0,40}",
        timestamp in prop_oneof!["\\PC{0,24}", "-?[0-9]{1,21}"],
        signature in prop_oneof!["\\PC{0,120}", "(v1,[A-Za-z0-9+/=]{0,50} ?){0,3}"],
        now in any::<i64>(),
    ) {
        let _ = standard::sign(&secret, &id, now, EMPTY_OBJECT);
        let verdict = standard::verify(&secret, &id, &timestamp, &signature, EMPTY_OBJECT, now);
        prop_assert!(verdict.is_err());
    }

    #[test]
    fn callback_tokens_match_only_themselves(expected in "\\PC{0,64}", given in "\\PC{0,64}") {
        prop_assert_eq!(
            callback_token_matches(&expected, &given),
            !expected.is_empty() && expected == given
        );
        prop_assert_eq!(callback_token_matches(&expected, &expected), !expected.is_empty());
    }
}
