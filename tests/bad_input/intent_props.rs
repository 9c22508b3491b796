//! `NewIntent::parse` and `parse_amount` over arbitrary and mangled requests: no panic, and what
//! passes is exact and storable.

use std::str::FromStr;

use malipo::domain::{NewIntent, new_intent::parse_amount};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::strategies::{apply, intent_example, json_object, json_value, mutation};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// What an accepted intent must be for the `intents` row to take it.
fn check_accepted(intent: &NewIntent) {
    assert!(intent.amount.is_positive());
    assert!(
        intent.amount.minor_units().is_some(),
        "minor units must fit an i64"
    );
    // `intents.amount` is numeric(20, 2).
    assert!(intent.amount.amount() < Decimal::from(10_i64.pow(18)));
    assert!((0..=10_000).contains(&intent.commission_bps));
    // PostgreSQL's text and jsonb refuse U+0000.
    let stored = serde_json::to_value((
        &intent.buyer,
        &intent.payee,
        &intent.metadata,
        &intent.reference,
    ))
    .expect("serializes");
    assert!(!has_nul(&stored), "NUL accepted: {stored}");
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || has_nul(value)),
        _ => false,
    }
}

/// Parses `body` as the handler does: the amount's raw text comes from the serialized body.
fn parse(body: &Map<String, Value>) -> Result<NewIntent, Vec<malipo::domain::FieldError>> {
    let raw = body.get("amount").map(Value::to_string);
    NewIntent::parse(body, raw.as_deref(), 150)
}

/// The amount a plain decimal text stands for, when a `Decimal` holds it exactly: at most 28
/// decimal places and a mantissa under 2^96 once leading and trailing zeros are gone.
fn exact_decimal(text: &str) -> Option<Decimal> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction = fraction.trim_end_matches('0');
    let mantissa_text = format!("{whole}{fraction}");
    let mantissa_text = mantissa_text.trim_start_matches('0');
    if fraction.len() > 28 || mantissa_text.len() > 29 {
        return None;
    }
    let mantissa = if mantissa_text.is_empty() {
        0
    } else {
        mantissa_text.parse::<i128>().ok()?
    };
    if mantissa >= 1 << 96 {
        return None;
    }
    let signed = if negative { -mantissa } else { mantissa };
    Some(Decimal::from_i128_with_scale(
        signed,
        u32::try_from(fraction.len()).ok()?,
    ))
}

/// `-?digits(.digits)?`: the only texts an amount may be.
fn plain_shape(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    !unsigned.is_empty()
        && unsigned.split('.').count() <= 2
        && unsigned
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn amounts_rust_decimal_would_round_are_refused() {
    for text in [
        "1.0000000000000000000000000000001",
        "0.00000000000000000000000000001",
        "12345678901234567890.123456789012",
        "7922816251426433759354395033.55",
    ] {
        assert!(
            Decimal::from_str(text).is_ok(),
            "rust_decimal rounds {text}"
        );
        assert!(
            parse_amount(Some(text)).is_err(),
            "{text} was rounded, not refused"
        );
    }
    assert_eq!(
        parse_amount(Some("1.000000000000000000000000000000")),
        Ok(Decimal::ONE),
        "trailing zeros change nothing"
    );
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn plain_decimals_are_accepted_exactly_when_exact(
        text in "-?[0-9]{1,32}(\\.[0-9]{1,34})?",
        quoted in any::<bool>(),
    ) {
        let raw = if quoted { format!("\"{text}\"") } else { text.clone() };
        let parsed = parse_amount(Some(&raw));
        match exact_decimal(&text) {
            Some(expected) => prop_assert_eq!(parsed, Ok(expected), "{}", text),
            None => prop_assert!(parsed.is_err(), "{} accepted as {:?}", text, parsed),
        }
    }

    #[test]
    fn exponents_and_garbage_are_refused(
        text in prop_oneof![
            "-?[0-9]{1,5}(\\.[0-9]{1,3})?[eE][+-]?[0-9]{1,3}",
            "[-+0-9._ eE,]{0,12}",
            "\\PC{0,12}",
            "0x[0-9a-f]{1,8}|[+.][0-9]{1,4}|[0-9]{1,4}\\.|Infinity|NaN|true|null",
        ],
    ) {
        // Unquoted, the text is a raw JSON number: whitespace around it means nothing.
        if !plain_shape(text.trim()) {
            prop_assert!(parse_amount(Some(&text)).is_err(), "{:?} accepted", text);
        }
        if !plain_shape(&text) {
            prop_assert!(parse_amount(Some(&format!("\"{text}\""))).is_err(), "{:?} accepted", text);
        }
    }

    #[test]
    fn arbitrary_bytes_through_the_body_parser_never_panic(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            (prop::collection::vec(mutation(), 0..3), any::<prop::sample::Index>(), any::<u8>()).prop_map(
                |(mutations, at, byte)| {
                    let mut intent = intent_example();
                    for change in &mutations {
                        apply(&mut intent, change);
                    }
                    let mut bytes = intent.to_string().into_bytes();
                    let position = at.index(bytes.len());
                    bytes[position] = byte;
                    bytes
                }
            ),
        ],
    ) {
        // As the handler reads a body: one JSON object, then the amount's raw text.
        if let Ok(parsed) = malipo::http::extract::parse_object(axum::body::Bytes::from(body.clone())) {
            #[derive(serde::Deserialize)]
            struct RawAmount<'a> {
                #[serde(borrow)]
                amount: Option<&'a serde_json::value::RawValue>,
            }
            let raw = serde_json::from_slice::<RawAmount<'_>>(&body)
                .ok()
                .and_then(|raw| raw.amount.map(|a| a.get().to_owned()));
            if let Ok(intent) = NewIntent::parse(&parsed.object, raw.as_deref(), 0) {
                check_accepted(&intent);
            }
        }
    }

    #[test]
    fn arbitrary_requests_never_panic(body in json_object(4), raw in proptest::option::of("\\PC{0,40}")) {
        if let Ok(intent) = NewIntent::parse(&body, raw.as_deref(), 0) {
            check_accepted(&intent);
        }
        if let Ok(intent) = parse(&body) {
            check_accepted(&intent);
        }
    }

    #[test]
    fn mangled_valid_requests_never_panic(
        mutations in prop::collection::vec(mutation(), 1..5),
        extra in json_value(3),
    ) {
        let mut body = intent_example();
        for change in &mutations {
            apply(&mut body, change);
        }
        if let Value::Object(map) = body {
            if let Ok(intent) = parse(&map) {
                check_accepted(&intent);
            }
            // The same request with one more value stuffed into a free-form field.
            let mut stuffed = map;
            stuffed.insert("metadata".to_owned(), serde_json::json!({ "k": extra }));
            if let Ok(intent) = parse(&stuffed) {
                check_accepted(&intent);
            }
        }
    }
}

#[test]
fn strings_with_nul_anywhere_are_refused() {
    // PostgreSQL's text and jsonb cannot hold U+0000: such a request must be a 422, not a 500.
    type Change = fn(&mut Value);
    let cases: [(&str, Change); 5] = [
        ("payee.id", |b| b["payee"]["id"] = "seller\u{0}42".into()),
        ("reference", |b| b["reference"] = "order\u{0}".into()),
        ("metadata value", |b| {
            b["metadata"]["order"] = "98\u{0}1".into()
        }),
        ("metadata key", |b| {
            b["metadata"] = serde_json::json!({"or\u{0}der": "981"})
        }),
        ("nested metadata", |b| {
            b["metadata"] = serde_json::json!({"a": [{"b": "\u{0}"}]})
        }),
    ];
    for (label, change) in cases {
        let mut body = intent_example();
        change(&mut body);
        let map = body.as_object().cloned().unwrap_or_default();
        assert!(parse(&map).is_err(), "NUL in {label} accepted");
    }
}

#[test]
fn amounts_too_large_to_store_are_refused() {
    // `intents.amount` is numeric(20, 2) and payouts count minor units in an i64.
    for (currency, provider, payout) in [
        (
            "KES",
            "mpesa",
            serde_json::json!({"provider": "mpesa", "msisdn": "254700000001"}),
        ),
        (
            "SAT",
            "lightning",
            serde_json::json!({"provider": "lightning"}),
        ),
    ] {
        for digits in 19..=28 {
            let mut body = intent_example();
            body["amount"] = "9".repeat(digits).into();
            body["currency"] = currency.into();
            body["provider"] = provider.into();
            body["payee"]["payout"] = payout.clone();
            if provider == "lightning" {
                body["buyer"] = serde_json::json!({});
            }
            let map = body.as_object().cloned().unwrap_or_default();
            let refused = parse(&map).err().unwrap_or_default();
            assert!(
                refused.iter().any(|e| e.field == "amount"),
                "{digits} digits of {currency} accepted: {refused:?}"
            );
        }
    }
}
