//! Webhook authenticity: Paystack's HMAC-SHA512, Standard Webhooks (malipo's own notifications)
//! and the constant-time token check for unsigned callbacks. Always over the raw bytes received,
//! never a re-serialization, and every comparison in constant time.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;
type HmacSha512 = Hmac<Sha512>;

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header (or secret) is not in the expected form.
    #[error("malformed signature header or secret")]
    Malformed,
    /// The signed timestamp is too far from now (a replay, or a clock far off).
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// No signature in the header matches the body.
    #[error("signature does not match")]
    Mismatch,
}

/// Paystack's `x-paystack-signature` for a body: lowercase hex HMAC-SHA512 keyed with the secret key.
pub fn paystack_signature(secret_key: &str, raw_body: &[u8]) -> String {
    hex::encode(
        hmac_sha512(secret_key.as_bytes(), raw_body)
            .finalize()
            .into_bytes(),
    )
}

/// Whether `header_hex` is Paystack's signature of `raw_body` under `secret_key`.
pub fn verify_paystack(secret_key: &str, raw_body: &[u8], header_hex: &str) -> bool {
    let Ok(claimed) = hex::decode(header_hex.trim()) else {
        return false;
    };
    hmac_sha512(secret_key.as_bytes(), raw_body)
        .verify_slice(&claimed)
        .is_ok()
}

/// Whether the token in a callback URL is ours: compared as SHA-256 digests in constant time,
/// so neither the content nor the length of the expected token leaks. An empty expected token
/// matches nothing.
pub fn callback_token_matches(expected: &str, given: &str) -> bool {
    if expected.is_empty() {
        return false;
    }
    let expected = Sha256::digest(expected.as_bytes());
    let given = Sha256::digest(given.as_bytes());
    expected.ct_eq(&given).into()
}

/// [Standard Webhooks](https://www.standardwebhooks.com/) signatures for our own outbound
/// notifications: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
pub mod standard {
    use super::*;

    /// How far the signed timestamp may be from now, either way.
    pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

    /// The `webhook-signature` value (`v1,<base64>`) for a message. `secret` is `whsec_` plus
    /// the base64 key.
    pub fn sign(
        secret: &str,
        msg_id: &str,
        timestamp: i64,
        raw_body: &[u8],
    ) -> Result<String, SignatureError> {
        let mac = mac(secret, msg_id, timestamp, raw_body)?;
        Ok(format!(
            "v1,{}",
            STANDARD.encode(mac.finalize().into_bytes())
        ))
    }

    /// Verifies the three headers against the raw body at `now` (Unix seconds); any `v1`
    /// signature in the space-separated list may match.
    pub fn verify(
        secret: &str,
        msg_id: &str,
        timestamp_header: &str,
        signature_header: &str,
        raw_body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let timestamp = timestamp_header
            .trim()
            .parse::<i64>()
            .map_err(|_| SignatureError::Malformed)?;
        check_window(timestamp, now, TOLERANCE)?;
        let candidates: Vec<Vec<u8>> = signature_header
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|encoded| STANDARD.decode(encoded).ok())
            .collect();
        if candidates.is_empty() {
            return Err(SignatureError::Malformed);
        }
        any_matches(&mac(secret, msg_id, timestamp, raw_body)?, &candidates)
    }

    fn mac(
        secret: &str,
        msg_id: &str,
        timestamp: i64,
        raw_body: &[u8],
    ) -> Result<HmacSha256, SignatureError> {
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::Malformed)?;
        let mut mac = hmac_sha256(&key, format!("{msg_id}.{timestamp}.").as_bytes());
        mac.update(raw_body);
        Ok(mac)
    }
}

fn check_window(timestamp: i64, now: i64, tolerance: Duration) -> Result<(), SignatureError> {
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > tolerance.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

fn any_matches(mac: &HmacSha256, candidates: &[Vec<u8>]) -> Result<(), SignatureError> {
    // Check every candidate rather than stopping at the first match, so timing does not tell
    // which entry matched.
    let matched = candidates.iter().fold(false, |found, candidate| {
        mac.clone().verify_slice(candidate).is_ok() | found
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this constructor cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac
}

fn hmac_sha512(key: &[u8], message: &[u8]) -> HmacSha512 {
    // HMAC takes keys of any length, so this constructor cannot fail.
    let mut mac = <HmacSha512 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYSTACK_BODY: &[u8] = br#"{"event":"charge.success","data":{"reference":"ref_123","amount":10000,"currency":"NGN","status":"success"}}"#;
    const PAYSTACK_SIG: &str = "28eff5b421c1dc76e46589e94c3bb5c5219c2bb3fffe39e8adc5513e583a76fd09f0d86aa3c2ed4b842b4e99a765bc13e5503482b66e3429d26976f186f6ff9b";

    fn one_byte_changed(body: &[u8]) -> Vec<u8> {
        let mut changed = body.to_vec();
        changed[30] ^= 0x01;
        changed
    }

    #[test]
    fn paystack_vector() {
        assert_eq!(
            paystack_signature("sk_test_fake", PAYSTACK_BODY),
            PAYSTACK_SIG
        );
        assert!(verify_paystack("sk_test_fake", PAYSTACK_BODY, PAYSTACK_SIG));
        assert!(!verify_paystack(
            "sk_test_fake",
            &one_byte_changed(PAYSTACK_BODY),
            PAYSTACK_SIG
        ));
        assert!(!verify_paystack(
            "sk_test_fakf",
            PAYSTACK_BODY,
            PAYSTACK_SIG
        ));
        let mut flipped = PAYSTACK_SIG.to_owned();
        flipped.replace_range(0..1, "3");
        assert!(!verify_paystack("sk_test_fake", PAYSTACK_BODY, &flipped));
        assert!(!verify_paystack("sk_test_fake", PAYSTACK_BODY, "not hex"));
        assert!(!verify_paystack("sk_test_fake", PAYSTACK_BODY, ""));
    }

    #[test]
    fn standard_webhooks_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(
            standard::sign(secret, id, 1_614_265_330, body),
            Ok(expected.to_owned())
        );
        let now = 1_614_265_330 + 10;
        assert_eq!(
            standard::verify(secret, id, "1614265330", expected, body, now),
            Ok(())
        );
        let listed = format!("v1,bm90IGl0 {expected}");
        assert_eq!(
            standard::verify(secret, id, "1614265330", &listed, body, now),
            Ok(())
        );
        assert_eq!(
            standard::verify(
                secret,
                id,
                "1614265330",
                expected,
                br#"{"test": 2432232315}"#,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            standard::verify(
                secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJeK",
                "1614265330",
                expected,
                body,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            standard::verify(
                secret,
                id,
                "1614265330",
                expected,
                body,
                1_614_265_330 + 301
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            standard::verify(secret, id, "1614265330", "v2,abc", body, now),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn callback_tokens() {
        assert!(callback_token_matches(
            "s3cr3t-token-123456",
            "s3cr3t-token-123456"
        ));
        assert!(!callback_token_matches(
            "s3cr3t-token-123456",
            "s3cr3t-token-123457"
        ));
        assert!(!callback_token_matches("s3cr3t-token-123456", "s3cr3t"));
        assert!(!callback_token_matches("", ""));
    }
}
