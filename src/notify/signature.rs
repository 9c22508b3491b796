//! Standard Webhooks signing and verification for malipo's own outbound events: the secret
//! (`whsec_` + base64 key bytes), `webhook-signature` (space-separated `v1,<base64>` entries,
//! one per live secret during a rotation) over `"{id}.{timestamp}.{raw body}"`, and the
//! verifier a receiver (and `malipo webhooks listen`) runs. PROVIDERS.md §5 has the vectors.

use std::{fmt, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a signed timestamp may be from now, either way.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent.
    #[error("missing webhook header")]
    MissingHeader,
    /// A header or the secret is not in its expected form.
    #[error("malformed signature header or secret")]
    Malformed,
    /// The timestamp is more than five minutes from now.
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// No `v1` entry matches.
    #[error("signature does not match")]
    Mismatch,
}

/// An endpoint's signing key. `Debug` never prints it; only [`WebhookSecret::reveal`] does,
/// for the one answer that shows it to its owner.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// A fresh secret of 32 random bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    /// Parses `whsec_<base64>` (the prefix is optional); an empty key is refused, since
    /// anyone could compute its signatures.
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        let encoded = text.strip_prefix("whsec_").unwrap_or(text);
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| VerifyError::Malformed)?;
        Self::from_bytes(key)
    }

    /// The key from its raw bytes (as decrypted from storage).
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, VerifyError> {
        if key.is_empty() {
            return Err(VerifyError::Malformed);
        }
        Ok(Self(key))
    }

    /// The raw key bytes, for encryption at rest.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_<base64>`, shown to the endpoint's owner once.
    pub fn reveal(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, raw_body: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
        mac.update(raw_body);
        mac
    }

    /// This secret's `v1,<base64>` entry.
    pub fn sign(&self, msg_id: &str, timestamp: i64, raw_body: &[u8]) -> String {
        let tag = self
            .mac(msg_id, timestamp, raw_body)
            .finalize()
            .into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// The `webhook-signature` header: one entry per live secret (the new one first during a
/// rotation's grace), space-separated.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    raw_body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(msg_id, timestamp, raw_body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three Standard Webhooks headers as received (`None` when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Received<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// Verifies a delivery at `now` (Unix seconds): the timestamp within [`TOLERANCE`], and any
/// `v1` entry matching. Junk and other versions in the list are skipped, not fatal.
pub fn verify(
    secret: &WebhookSecret,
    headers: Received<'_>,
    raw_body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let (Some(id), Some(timestamp), Some(signature)) =
        (headers.id, headers.timestamp, headers.signature)
    else {
        return Err(VerifyError::MissingHeader);
    };
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::Malformed)?;
    if now.abs_diff(timestamp) > TOLERANCE.as_secs() {
        return Err(VerifyError::Stale);
    }
    let candidates: Vec<Vec<u8>> = signature
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .filter(|tag| !tag.is_empty())
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let mac = secret.mac(id, timestamp, raw_body);
    // Check every candidate, so timing does not tell which entry matched.
    let matched = candidates.iter().fold(false, |found, candidate| {
        mac.clone().verify_slice(candidate).is_ok() | found
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests;
