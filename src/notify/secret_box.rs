//! Endpoint secrets at rest: sealed with ChaCha20-Poly1305 under `MALIPO_SECRETS_KEY`, a fresh
//! random nonce per seal stored in front of the ciphertext. Signing needs the secret itself, so
//! a hash would not do; the key never enters the database, so a database dump alone reveals no
//! endpoint secret.

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    ChaCha20Poly1305, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;

use super::signature::WebhookSecret;

const NONCE_LEN: usize = 12;
/// Binds each ciphertext to its purpose, so it cannot be replayed as another kind of secret.
const ASSOCIATED: &[u8] = b"malipo webhook endpoint secret v1";

/// The key that seals endpoint secrets. `Debug` never prints it.
#[derive(Clone)]
pub struct SecretsKey(Key);

impl SecretsKey {
    /// Parses the base64 of exactly 32 bytes (`openssl rand -base64 32`).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("MALIPO_SECRETS_KEY is not base64"))?;
        if bytes.len() != 32 {
            anyhow::bail!(
                "MALIPO_SECRETS_KEY must be 32 bytes of base64 (`openssl rand -base64 32`), not {}",
                bytes.len()
            );
        }
        Ok(Self(*Key::from_slice(&bytes)))
    }

    /// A fresh random key (tests, and the sandbox when none is given).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(*Key::from_slice(&bytes))
    }

    /// A fresh random key as `MALIPO_SECRETS_KEY` text (for child processes).
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// The sandbox's well-known key, used only by `run --sandbox` and `webhooks listen
    /// --sandbox` when no `MALIPO_SECRETS_KEY` is set, so both processes open the same
    /// secrets. It protects nothing: never use the sandbox's database for real endpoints.
    pub fn sandbox() -> Self {
        Self(*Key::from_slice(b"malipo-sandbox-only-secrets-key!"))
    }

    /// Seals `secret`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, secret: &WebhookSecret) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = ChaCha20Poly1305::new(&self.0);
        let payload = Payload {
            msg: secret.bytes(),
            aad: ASSOCIATED,
        };
        // Encryption of an in-memory buffer fails only past ~256 GiB, far beyond 32 bytes.
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_else(|_| unreachable!());
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    /// Opens what [`SecretsKey::seal`] made; an error means another key sealed it (or the
    /// bytes were altered).
    pub fn open(&self, sealed: &[u8]) -> anyhow::Result<WebhookSecret> {
        if sealed.len() <= NONCE_LEN {
            anyhow::bail!("sealed endpoint secret is too short");
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let cipher = ChaCha20Poly1305::new(&self.0);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: ASSOCIATED,
                },
            )
            .map_err(|_| {
                anyhow::anyhow!("endpoint secret does not open with MALIPO_SECRETS_KEY")
            })?;
        WebhookSecret::from_bytes(plain).map_err(|_| anyhow::anyhow!("empty endpoint secret"))
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_another_key_or_tampering() {
        let key = SecretsKey::generate();
        let secret = WebhookSecret::generate();
        let sealed = key.seal(&secret);
        assert!(!sealed.windows(8).any(|w| w == &secret.bytes()[..8]));
        assert_eq!(key.open(&sealed).expect("opens"), secret);
        assert_ne!(key.seal(&secret), sealed, "a fresh nonce each time");
        assert!(SecretsKey::generate().open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(key.open(&tampered).is_err());
        assert!(key.open(&sealed[..5]).is_err());
    }

    #[test]
    fn key_must_be_32_bytes_of_base64() {
        assert!(SecretsKey::parse(&STANDARD.encode([7u8; 32])).is_ok());
        let short = SecretsKey::parse(&STANDARD.encode([7u8; 16])).expect_err("short");
        assert!(short.to_string().contains("MALIPO_SECRETS_KEY"));
        assert!(SecretsKey::parse("not base64!").is_err());
        assert!(!format!("{:?}", SecretsKey::generate()).contains('='));
    }
}
