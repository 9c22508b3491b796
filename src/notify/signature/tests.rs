//! PROVIDERS.md §5's vectors, its must-fail and must-pass cases, a property test, and the
//! `standardwebhooks` crate verifying what malipo signs.

use proptest::prelude::*;

use super::*;

const FIRST_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FIRST_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const FIRST_TS: i64 = 1_614_265_330;
const FIRST_BODY: &[u8] = br#"{"test": 2432232314}"#;
const FIRST_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const ROTATION_A: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ROTATION_B: &str = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const ROTATION_ID: &str = "evt_01J9Z3K4M5N6P7Q8R9S0T1V2W3";
const ROTATION_TS: i64 = 1_767_225_600;
const ROTATION_BODY: &[u8] = br#"{"type":"intent.held","timestamp":"2026-01-01T00:00:00Z","data":{"id":"pi_01J9Z3K4M5","status":"held","amount":150000,"currency":"KES"}}"#;
const ROTATION_SIG_A: &str = "v1,SWRMc+bs6sCan73PerJppjkqqvk/XVtEnIwEw8UIDg4=";
const ROTATION_SIG_B: &str = "v1,MFu9nPLMGta3X375GMsrOp0IDQTsY+sA9jKeIX1YJc4=";

fn secret(text: &str) -> WebhookSecret {
    WebhookSecret::parse(text).expect("valid secret")
}

fn headers<'a>(id: &'a str, ts: &'a str, signature: &'a str) -> Received<'a> {
    Received {
        id: Some(id),
        timestamp: Some(ts),
        signature: Some(signature),
    }
}

#[test]
fn official_vectors_sign_and_verify() {
    let first = secret(FIRST_SECRET);
    assert_eq!(first.sign(FIRST_ID, FIRST_TS, FIRST_BODY), FIRST_SIG);
    let ts = FIRST_TS.to_string();
    assert_eq!(
        verify(
            &first,
            headers(FIRST_ID, &ts, FIRST_SIG),
            FIRST_BODY,
            FIRST_TS + 10
        ),
        Ok(())
    );

    let second = secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
    let body = br#"{"email":"test@example.com","username":"test_user"}"#;
    let expected = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    assert_eq!(
        second.sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553, body),
        expected
    );
    assert_eq!(
        verify(
            &second,
            headers("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", "1649367553", expected),
            body,
            1_649_367_553
        ),
        Ok(())
    );
}

#[test]
fn rotation_vector_sends_both_and_each_secret_verifies() {
    let a = secret(ROTATION_A);
    let b = secret(ROTATION_B);
    assert_eq!(a.bytes(), (0u8..32).collect::<Vec<_>>());
    assert_eq!(b.bytes(), (32u8..64).collect::<Vec<_>>());
    assert_eq!(
        a.sign(ROTATION_ID, ROTATION_TS, ROTATION_BODY),
        ROTATION_SIG_A
    );
    assert_eq!(
        b.sign(ROTATION_ID, ROTATION_TS, ROTATION_BODY),
        ROTATION_SIG_B
    );
    let both = signature_header(&[&b, &a], ROTATION_ID, ROTATION_TS, ROTATION_BODY);
    assert_eq!(both, format!("{ROTATION_SIG_B} {ROTATION_SIG_A}"));
    let ts = ROTATION_TS.to_string();
    for key in [&a, &b] {
        assert_eq!(
            verify(
                key,
                headers(ROTATION_ID, &ts, &both),
                ROTATION_BODY,
                ROTATION_TS
            ),
            Ok(())
        );
    }
    let other = WebhookSecret::generate();
    assert_eq!(
        verify(
            &other,
            headers(ROTATION_ID, &ts, &both),
            ROTATION_BODY,
            ROTATION_TS
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn must_fail_cases() {
    let first = secret(FIRST_SECRET);
    let ts = FIRST_TS.to_string();
    let now = FIRST_TS;
    let check = |signature: &str, at: i64| {
        verify(&first, headers(FIRST_ID, &ts, signature), FIRST_BODY, at)
    };
    // The last base64 character changed.
    assert_eq!(
        check("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", now),
        Err(VerifyError::Mismatch)
    );
    // `v1,` alone, and a truncated signature.
    assert_eq!(check("v1,", now), Err(VerifyError::Malformed));
    assert_eq!(
        check("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3", now),
        Err(VerifyError::Mismatch)
    );
    // 301 s off either way; 300 s is still fine.
    assert_eq!(check(FIRST_SIG, now + 301), Err(VerifyError::Stale));
    assert_eq!(check(FIRST_SIG, now - 301), Err(VerifyError::Stale));
    assert_eq!(check(FIRST_SIG, now + 300), Ok(()));
    assert_eq!(check(FIRST_SIG, now - 300), Ok(()));
    // A missing header, each in turn.
    for missing in 0..3 {
        let mut received = headers(FIRST_ID, &ts, FIRST_SIG);
        match missing {
            0 => received.id = None,
            1 => received.timestamp = None,
            _ => received.signature = None,
        }
        assert_eq!(
            verify(&first, received, FIRST_BODY, now),
            Err(VerifyError::MissingHeader)
        );
    }
    // Empty secrets.
    assert_eq!(WebhookSecret::parse(""), Err(VerifyError::Malformed));
    assert_eq!(WebhookSecret::parse("whsec_"), Err(VerifyError::Malformed));
    assert_eq!(
        WebhookSecret::parse("whsec_not base64!"),
        Err(VerifyError::Malformed)
    );
    // A changed body or id.
    assert_eq!(
        verify(
            &first,
            headers(FIRST_ID, &ts, FIRST_SIG),
            br#"{"test": 2432232315}"#,
            now
        ),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(
            &first,
            headers("msg_other", &ts, FIRST_SIG),
            FIRST_BODY,
            now
        ),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn must_pass_cases() {
    let first = secret(FIRST_SECRET);
    let ts = FIRST_TS.to_string();
    // Junk v1 and v2 entries around one valid signature.
    let listed = format!("v1,bm90IGl0 v2,abc v1,!!! {FIRST_SIG} v1,AAAA");
    assert_eq!(
        verify(
            &first,
            headers(FIRST_ID, &ts, &listed),
            FIRST_BODY,
            FIRST_TS
        ),
        Ok(())
    );
    // The secret without its `whsec_` prefix.
    let bare = secret(FIRST_SECRET.trim_start_matches("whsec_"));
    assert_eq!(bare, first);
    assert_eq!(bare.sign(FIRST_ID, FIRST_TS, FIRST_BODY), FIRST_SIG);
}

#[test]
fn debug_never_prints_the_key() {
    let first = secret(FIRST_SECRET);
    assert!(!format!("{first:?}").contains("MfKQ"));
    assert_eq!(first.reveal(), FIRST_SECRET);
}

fn standard_headers(id: &str, ts: i64, signature: &str) -> axum::http::HeaderMap {
    let mut map = axum::http::HeaderMap::new();
    for (name, value) in [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", signature.to_owned()),
    ] {
        map.insert(name, value.parse().expect("header value"));
    }
    map
}

#[test]
fn the_standardwebhooks_crate_verifies_what_malipo_signs() {
    let ours = WebhookSecret::generate();
    let theirs = standardwebhooks::Webhook::new(&ours.reveal()).expect("their parser");
    let now = chrono::Utc::now().timestamp();
    let body = br#"{"type":"intent.held","data":{"id":"x"}}"#;
    let signature = ours.sign("evt_1", now, body);
    theirs
        .verify(body, &standard_headers("evt_1", now, &signature))
        .expect("their verifier accepts our signature");
    // During a rotation both entries are sent; their verifier takes either secret.
    let next = WebhookSecret::generate();
    let both = signature_header(&[&next, &ours], "evt_1", now, body);
    theirs
        .verify(body, &standard_headers("evt_1", now, &both))
        .expect("old secret during grace");
    assert!(
        theirs
            .verify(b"tampered", &standard_headers("evt_1", now, &both))
            .is_err()
    );
}

proptest! {
    #[test]
    fn what_is_signed_verifies_and_any_change_does_not(
        key in proptest::collection::vec(any::<u8>(), 1..64),
        id in "[a-zA-Z0-9_]{1,40}",
        ts in 1_000_000_000i64..4_000_000_000,
        text in "\\PC{0,200}",
        flip in any::<usize>(),
    ) {
        let body = text.into_bytes();
        let secret = WebhookSecret::from_bytes(key).expect("non-empty");
        let signature = secret.sign(&id, ts, &body);
        let ts_text = ts.to_string();
        prop_assert_eq!(verify(&secret, headers(&id, &ts_text, &signature), &body, ts), Ok(()));
        // The crate agrees on every input.
        let theirs = standardwebhooks::Webhook::from_bytes(secret.bytes().to_vec()).expect("theirs");
        let their_sig = theirs.sign(&id, ts, &body).expect("their signer");
        prop_assert_eq!(&their_sig, &signature);
        if !body.is_empty() {
            let mut changed = body.clone();
            let at = flip % changed.len();
            changed[at] ^= 0x01;
            prop_assert_eq!(
                verify(&secret, headers(&id, &ts_text, &signature), &changed, ts),
                Err(VerifyError::Mismatch)
            );
        }
    }
}
