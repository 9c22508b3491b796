//! Just enough BOLT11 for a fake: plausible invoices whose human-readable part carries the
//! real amount encoding, and reading that amount back from any invoice.

use sha2::{Digest, Sha256};

/// Bech32's data alphabet: no `1`, so the last `1` of an invoice is its separator.
const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// A structurally valid mainnet invoice for `amount_sat` (bech32 checksum, timestamp, the
/// `p` payment-hash field, a filler signature), so real clients that decode invoices before
/// paying them accept it. The amount uses the `n` multiplier (0.1 sat): 1000 sat is
/// `lnbc10000n1…`.
pub(crate) fn encode(amount_sat: u64, payment_hash: &[u8]) -> String {
    let hrp = format!("lnbc{}n", amount_sat.saturating_mul(10));
    let mut data: Vec<u8> = Vec::with_capacity(180);
    // Timestamp: 35 bits, big-endian 5-bit groups. A fixed one keeps invoices deterministic.
    let timestamp: u64 = 1_700_000_000;
    data.extend((0..7).rev().map(|i| ((timestamp >> (5 * i)) & 31) as u8));
    // `p` (type 1), 52 groups long (1 × 32 + 20), then the 256-bit hash padded to 260 bits.
    let mut hash = [0u8; 32];
    let digest = Sha256::digest(payment_hash);
    hash.copy_from_slice(if payment_hash.len() == 32 {
        payment_hash
    } else {
        digest.as_slice()
    });
    data.extend([1, 1, 20]);
    data.extend(to_five_bit(&hash));
    // A 65-byte filler signature (104 groups): LNbits-side checks are not simulated.
    let mut signature = Vec::with_capacity(65);
    let mut block = Sha256::digest(hash);
    while signature.len() < 65 {
        signature.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    signature.truncate(65);
    data.extend(to_five_bit(&signature));
    let checksum = checksum(&hrp, &data);
    data.extend(checksum);
    let body: String = data
        .iter()
        .map(|v| char::from(CHARSET[usize::from(*v)]))
        .collect();
    format!("{hrp}1{body}")
}

fn to_five_bit(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut accumulator, mut bits) = (0u32, 0u32);
    for byte in bytes {
        accumulator = (accumulator << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(((accumulator >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        out.push(((accumulator << (5 - bits)) & 31) as u8);
    }
    out
}

fn polymod(values: &[u8]) -> u32 {
    const GENERATOR: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut check = 1u32;
    for value in values {
        let top = check >> 25;
        check = ((check & 0x01ff_ffff) << 5) ^ u32::from(*value);
        for (i, generator) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                check ^= generator;
            }
        }
    }
    check
}

fn checksum(hrp: &str, data: &[u8]) -> [u8; 6] {
    let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|b| b & 31));
    values.extend_from_slice(data);
    values.extend([0u8; 6]);
    let modulus = polymod(&values) ^ 1;
    let mut out = [0u8; 6];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = ((modulus >> (5 * (5 - i))) & 31) as u8;
    }
    out
}

/// A payee's invoice for `amount_sat`, as a Lightning wallet would hand one out (tests,
/// the sandbox walk-through).
pub fn payee_invoice(amount_sat: u64) -> String {
    let nonce = uuid::Uuid::new_v4();
    encode(amount_sat, &Sha256::digest(nonce.as_bytes()))
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

/// The payment hash in an invoice's `p` field, hex; `None` when the invoice has none readable.
/// Checksum and signature are not verified: the fake only files payments under their hash.
pub(crate) fn payment_hash(bolt11: &str) -> Option<String> {
    /// Timestamp groups before the tagged fields; checksum and signature groups after them.
    const TIMESTAMP: usize = 7;
    const TRAILER: usize = 6 + 104;
    let lower = bolt11.trim().to_ascii_lowercase();
    let invoice = lower.strip_prefix("lightning:").unwrap_or(&lower);
    let data = invoice.get(invoice.rfind('1')? + 1..)?;
    let values = data
        .bytes()
        .map(|c| CHARSET.iter().position(|&d| d == c).map(|v| v as u8))
        .collect::<Option<Vec<u8>>>()?;
    let mut fields = values.get(TIMESTAMP..values.len().checked_sub(TRAILER)?)?;
    while fields.len() >= 3 {
        let len = usize::from(fields[1]) * 32 + usize::from(fields[2]);
        let value = fields.get(3..3 + len)?;
        // `p` (type 1) of 52 groups; readers skip a `p` of another length.
        if fields[0] == 1 && len == 52 {
            let mut bytes = from_five_bit(value);
            bytes.truncate(32);
            return Some(hex::encode(bytes));
        }
        fields = &fields[3 + len..];
    }
    None
}

fn from_five_bit(values: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(values.len() * 5 / 8);
    let (mut accumulator, mut bits) = (0u32, 0u32);
    for value in values {
        accumulator = (accumulator << 5) | u32::from(*value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(((accumulator >> bits) & 0xff) as u8);
        }
    }
    bytes
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
        assert_eq!(payment_hash(&invoice), Some(hex::encode([7u8; 32])));
        assert_eq!(payment_hash("lnbc10n1qqqq"), None);
    }
}
