//! Just enough BOLT 11 to check a payout invoice before paying it: the bech32 checksum, the
//! amount in the human-readable part, and the payment hash (`p` field). Signatures are not
//! checked; LNbits does that when it pays.

const CHARSET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const CHECKSUM_LEN: usize = 6;
const TIMESTAMP_LEN: usize = 7;
const SIGNATURE_LEN: usize = 104;
/// The `p` tag's value in the bech32 alphabet, and its 256-bit (52 × 5, padded) length.
const PAYMENT_HASH_TAG: u8 = 1;
const PAYMENT_HASH_LEN: usize = 52;
const MSAT_PER_BTC: u64 = 100_000_000_000;

/// What malipo needs from an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// The payment hash, lowercase hex.
    pub payment_hash: String,
    /// The amount in millisatoshis; `None` for an amountless invoice.
    pub amount_msat: Option<u64>,
}

/// Whether `text` is a payment hash: 64 hex digits (safe to put in a URL path).
pub fn is_payment_hash(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// Decodes `bolt11` (a `lightning:` prefix is allowed).
pub fn decode(bolt11: &str) -> Result<Invoice, String> {
    let trimmed = bolt11.trim();
    let text = match trimmed.get(..10) {
        Some(prefix) if prefix.eq_ignore_ascii_case("lightning:") => &trimmed[10..],
        _ => trimmed,
    };
    if text.chars().any(|c| c.is_ascii_lowercase()) && text.chars().any(|c| c.is_ascii_uppercase())
    {
        return Err("mixed-case invoice".into());
    }
    let text = text.to_ascii_lowercase();
    let separator = text.rfind('1').ok_or("not bech32: no separator")?;
    let (hrp, data) = (&text[..separator], &text[separator + 1..]);
    let values: Vec<u8> = data
        .chars()
        .map(|c| CHARSET.find(c).and_then(|i| u8::try_from(i).ok()))
        .collect::<Option<_>>()
        .ok_or("not bech32: bad character")?;
    if values.len() < TIMESTAMP_LEN + SIGNATURE_LEN + CHECKSUM_LEN {
        return Err("invoice too short".into());
    }
    if polymod(
        &expand(hrp)
            .into_iter()
            .chain(values.iter().copied())
            .collect::<Vec<_>>(),
    ) != 1
    {
        return Err("bad bech32 checksum".into());
    }
    let amount_msat = amount(hrp)?;
    let fields = &values[TIMESTAMP_LEN..values.len() - CHECKSUM_LEN - SIGNATURE_LEN];
    let payment_hash = payment_hash(fields).ok_or("no payment hash")?;
    Ok(Invoice {
        payment_hash,
        amount_msat,
    })
}

fn payment_hash(mut fields: &[u8]) -> Option<String> {
    while fields.len() >= 3 {
        let tag = fields[0];
        let len = usize::from(fields[1]) * 32 + usize::from(fields[2]);
        let value = fields.get(3..3 + len)?;
        // Readers must skip `p` fields of another length.
        if tag == PAYMENT_HASH_TAG && len == PAYMENT_HASH_LEN {
            let mut bytes = to_bytes(value);
            bytes.truncate(32);
            return Some(hex::encode(bytes));
        }
        fields = &fields[3 + len..];
    }
    None
}

/// Regroups 5-bit values into bytes, dropping the padding.
fn to_bytes(values: &[u8]) -> Vec<u8> {
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

/// The amount from `ln` + currency prefix + optional `<digits><multiplier>`.
fn amount(hrp: &str) -> Result<Option<u64>, String> {
    let rest = hrp.strip_prefix("ln").ok_or("not a Lightning invoice")?;
    let Some(start) = rest.find(|c: char| c.is_ascii_digit()) else {
        return Ok(None);
    };
    let amount = &rest[start..];
    let (digits, multiplier) = match amount.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => (&amount[..at], Some(unit)),
        _ => (amount, None),
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("bad amount `{amount}`"))?;
    let msat = match multiplier {
        None => number.checked_mul(MSAT_PER_BTC),
        Some('m') => number.checked_mul(MSAT_PER_BTC / 1_000),
        Some('u') => number.checked_mul(MSAT_PER_BTC / 1_000_000),
        Some('n') => number.checked_mul(MSAT_PER_BTC / 1_000_000_000),
        // A pico-bitcoin is a tenth of a msat: only multiples of ten are valid.
        Some('p') if number.is_multiple_of(10) => Some(number / 10),
        _ => None,
    };
    msat.map(Some)
        .ok_or_else(|| format!("bad amount `{amount}`"))
}

fn expand(hrp: &str) -> Vec<u8> {
    let bytes = hrp.as_bytes();
    bytes
        .iter()
        .map(|b| b >> 5)
        .chain(std::iter::once(0))
        .chain(bytes.iter().map(|b| b & 31))
        .collect()
}

fn polymod(values: &[u8]) -> u32 {
    const GENERATOR: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    values.iter().fold(1u32, |check, value| {
        let top = check >> 25;
        let mut check = ((check & 0x01ff_ffff) << 5) ^ u32::from(*value);
        for (i, generator) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                check ^= generator;
            }
        }
        check
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BOLT 11 specification's example "send 20 mBTC … with a description hash".
    const SPEC: &str = "lnbc20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfppqw508d6qejxtdg4y5r3zarvary0c5xw7kepvrhrm9s57hejg0p662ur5j5cr03890fa7k2pypgttmh4897d3raaq85a293e9jpuqwl0rnfuwzam7yr8e690nd2ypcq9hlkdwdvycqa0qza8";
    /// A mainnet invoice for 12 sat (120 nano-BTC).
    const SMALL: &str = "lnbc120n1pskxyl3pp5uwfjlx3mx9w2gnqx2ckjgzs3gyrflhwqt8rys6u3pd4mcxdqt99qdq20paxxcthv5xqyjw5qcqzyssp56grhkv8ztlf6s9swde8kguzwx84vnru7cyc6s7yw227kafa86afqrzjq0zn80anhfz2vp4qve4svppq7h8y2tsja03wq68re7a55ga2ks95zz4utvqqnpsqqyqqqqlgqqqqqqgq9q9qxsqyssq9qp2zvahzalxeegdshejjxsytwqhau3s6pwupyl5hpc6854xc6qsh3a2xyz9hhrhhtky9m8jss6jq9t2syagruw3y5dqnjye7uwnkfcppyj8v3";

    #[test]
    fn decodes_the_spec_example() {
        let invoice = decode(SPEC).expect("valid");
        assert_eq!(
            invoice.payment_hash,
            "0001020304050607080900010203040506070809000102030405060708090102"
        );
        assert_eq!(invoice.amount_msat, Some(2_000_000_000));
    }

    #[test]
    fn decodes_a_small_invoice_with_a_prefix_and_in_upper_case() {
        let expected = Invoice {
            payment_hash: "e3932f9a3b315ca44c06562d240a1141069fddc059c6486b910b6bbc19a0594a".into(),
            amount_msat: Some(12_000),
        };
        assert_eq!(decode(SMALL), Ok(expected.clone()));
        assert_eq!(decode(&format!("lightning:{SMALL}")), Ok(expected.clone()));
        assert_eq!(decode(&SMALL.to_uppercase()), Ok(expected));
    }

    #[test]
    fn rejects_corruption() {
        let mut corrupted = SMALL.to_owned();
        corrupted.replace_range(40..41, if &SMALL[40..41] == "q" { "p" } else { "q" });
        assert_eq!(decode(&corrupted), Err("bad bech32 checksum".into()));
        assert!(decode("lnbc1qqqq").is_err());
        assert!(decode("hello").is_err());
        assert!(decode(&SMALL.replacen("lnbc", "lnBc", 1)).is_err());
    }

    #[test]
    fn amounts() {
        assert_eq!(amount("lnbc"), Ok(None));
        assert_eq!(amount("lnbc2500u"), Ok(Some(250_000_000)));
        assert_eq!(amount("lnbcrt1230n"), Ok(Some(123_000)));
        assert_eq!(amount("lntbs10p"), Ok(Some(1)));
        assert!(amount("lnbc15p").is_err());
        assert_eq!(amount("lnbc1"), Ok(Some(MSAT_PER_BTC)));
    }
}

#[cfg(all(test, feature = "sandbox"))]
mod sandbox_invoices {
    #[test]
    fn the_sandbox_issues_invoices_this_decoder_accepts() {
        let invoice = malipo_sandbox::payee_invoice(2_100);
        let decoded = super::decode(&invoice).expect("valid invoice");
        assert_eq!(decoded.amount_msat, Some(2_100_000));
        assert!(super::is_payment_hash(&decoded.payment_hash));
    }
}
