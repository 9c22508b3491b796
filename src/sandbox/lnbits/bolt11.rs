//! Just enough BOLT11 for a fake: plausible invoices whose human-readable part carries the
//! real amount encoding, and reading that amount back from any invoice.

use sha2::{Digest, Sha256};

/// Bech32's data alphabet: no `1`, so the last `1` of an invoice is its separator.
const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// A mainnet-looking invoice for `amount_sat`, its data part derived from `payment_hash`.
/// The amount uses the `n` multiplier (0.1 sat), e.g. 1000 sat is `lnbc10000n1…`.
pub(crate) fn encode(amount_sat: u64, payment_hash: &[u8]) -> String {
    let mut data = String::with_capacity(192);
    let mut block = Sha256::digest(payment_hash);
    for _ in 0..6 {
        data.extend(
            block
                .iter()
                .map(|b| char::from(CHARSET[usize::from(b & 31)])),
        );
        block = Sha256::digest(block);
    }
    format!("lnbc{}n1p{data}", amount_sat.saturating_mul(10))
}

/// The amount an invoice asks for, in msat; `None` for amountless or unreadable invoices.
pub(crate) fn amount_msat(bolt11: &str) -> Option<u64> {
    let lower = bolt11.trim().to_ascii_lowercase();
    let invoice = lower.strip_prefix("lightning:").unwrap_or(&lower);
    let hrp = invoice.get(..invoice.rfind('1')?)?;
    // `ln` + currency letters (bc, tb, bcrt, …) + amount digits + optional multiplier.
    let rest = hrp.strip_prefix("ln")?;
    let amount = rest.get(rest.find(|c: char| c.is_ascii_digit())?..)?;
    let (digits, multiplier) = match amount.bytes().last()? {
        m @ (b'm' | b'u' | b'n' | b'p') => (amount.get(..amount.len() - 1)?, Some(m)),
        _ => (amount, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    let msat = match multiplier {
        None => value.checked_mul(100_000_000_000)?,
        Some(b'm') => value.checked_mul(100_000_000)?,
        Some(b'u') => value.checked_mul(100_000)?,
        Some(b'n') => value.checked_mul(100)?,
        // A pico-bitcoin is a tenth of a msat: only whole msat amounts are valid.
        _ if value.is_multiple_of(10) => value / 10,
        _ => return None,
    };
    (msat > 0).then_some(msat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_amounts_in_every_multiplier() {
        assert_eq!(amount_msat("lnbc10u1pxyz"), Some(1_000_000));
        assert_eq!(amount_msat("lnbc2500u1pvjluez"), Some(250_000_000));
        assert_eq!(amount_msat("lntb20m1pvjluez"), Some(2_000_000_000));
        assert_eq!(amount_msat("lnbc10n1pxyz"), Some(1000));
        assert_eq!(amount_msat("lnbc10p1pxyz"), Some(1));
        assert_eq!(amount_msat("lnbc1p1pxyz"), None);
        assert_eq!(amount_msat("lnbc1pvjluez"), None, "amountless");
        assert_eq!(amount_msat("not an invoice"), None);
    }

    #[test]
    fn encodes_what_it_reads() {
        let invoice = encode(1000, &[7; 32]);
        assert!(invoice.starts_with("lnbc10000n1p"));
        assert_eq!(amount_msat(&invoice), Some(1_000_000));
        assert_eq!(invoice, encode(1000, &[7; 32]), "deterministic");
    }
}
