//! Every webhook parser takes arbitrary bytes, arbitrary JSON and mangled provider payloads
//! without panicking, and what it accepts can be stored (the inbox keys on the dedupe key).

use malipo::providers::{lnbits, mpesa::callbacks, paystack};
use proptest::prelude::*;
use serde_json::Value;

use super::strategies::{json_value, mutated_example, provider_examples};

/// A parser reduced to the dedupe key it hands the inbox (LNbits: the payment hash).
type KeyOf = fn(&[u8]) -> Option<String>;

/// Every webhook parser, by name.
const PARSERS: &[(&str, KeyOf)] = &[
    ("paystack", |b| {
        paystack::parse_webhook(b).ok().map(|e| e.dedupe_key)
    }),
    ("lnbits", |b| {
        lnbits::parse_webhook(b).ok().map(|w| w.payment_hash)
    }),
    ("stk", |b| {
        callbacks::parse_stk_callback(b).ok().map(|c| c.dedupe_key)
    }),
    ("b2c result", |b| {
        callbacks::parse_b2c_result(b).ok().map(|r| r.dedupe_key)
    }),
    ("b2c timeout", |b| {
        callbacks::parse_b2c_timeout(b).ok().map(|t| t.dedupe_key)
    }),
    ("status result", |b| {
        callbacks::parse_transaction_status_result(b)
            .ok()
            .map(|r| r.dedupe_key)
    }),
    ("c2b", |b| {
        callbacks::parse_c2b(b).ok().map(|p| p.dedupe_key)
    }),
];

/// Runs every parser over `body`; an accepted body must give a key PostgreSQL can store and
/// index: no NUL (text refuses it) and short (a btree entry holds at most ~2.7 kB).
fn parse_all(body: &[u8]) {
    for (name, parse) in PARSERS {
        if let Some(key) = parse(body) {
            assert!(!key.contains('\0'), "{name} accepted a NUL in its key");
            assert!(
                key.len() <= 2_048,
                "{name} accepted a {}-byte key",
                key.len()
            );
        }
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn the_unmutated_examples_parse() {
    let accepted = |body: &Value| {
        let bytes = body.to_string().into_bytes();
        PARSERS
            .iter()
            .filter(|(_, parse)| parse(&bytes).is_some())
            .count()
    };
    for example in provider_examples() {
        assert!(accepted(&example) >= 1, "no parser reads {example}");
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_all(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value(5)) {
        let body = value.to_string();
        parse_all(body.as_bytes());
        // LNbits ≥ 1.1 sends a JSON string holding JSON: every parser gets that shape too.
        parse_all(Value::String(body).to_string().as_bytes());
    }

    #[test]
    fn mutated_provider_payloads_never_panic(value in mutated_example()) {
        parse_all(value.to_string().as_bytes());
        parse_all(Value::String(value.to_string()).to_string().as_bytes());
    }

    #[test]
    fn truncated_and_spliced_payloads_never_panic(
        example in proptest::sample::select(provider_examples()),
        cut in any::<prop::sample::Index>(),
        junk in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut body = example.to_string().into_bytes();
        let at = cut.index(body.len() + 1);
        body.splice(at..at, junk.iter().copied());
        parse_all(&body);
        body.truncate(at);
        parse_all(&body);
    }
}
