//! Personal data masked by default: phone numbers and names in job payloads, intents' parties
//! and webhook bodies are shown as `•••••4149` / `J•••` until an operator reveals them for one
//! view, which writes an audit row.

use serde_json::Value;

/// `value` with phone numbers and names masked.
pub fn json(value: &Value) -> Value {
    masked(None, value)
}

/// A raw body: masked as JSON when it is JSON, else every long digit run masked.
pub fn text(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => serde_json::to_string_pretty(&json(&value)).unwrap_or_default(),
        Err(_) => digits_masked(&String::from_utf8_lossy(body)),
    }
}

fn masked(key: Option<&str>, value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), masked(Some(k), v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| masked(key, v)).collect()),
        Value::String(text) if key.is_some_and(is_name_key) => Value::String(name(text)),
        Value::String(text) if key.is_some_and(is_phone_key) || looks_like_phone(text) => {
            Value::String(phone(text))
        }
        Value::Number(number) if looks_like_phone(&number.to_string()) => {
            Value::String(phone(&number.to_string()))
        }
        other => other.clone(),
    }
}

/// Keys holding a person's name. Daraja's `{"Name": "Amount", "Value": …}` items use `Name`
/// for the field's name, so only lower-case and compound keys count.
fn is_name_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    key != "Name"
        && (lower == "name"
            || lower.ends_with("_name")
            || lower.ends_with("firstname")
            || lower.ends_with("middlename")
            || lower.ends_with("lastname")
            || lower == "email")
}

fn is_phone_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    ["phone", "msisdn", "partyb", "mobile"]
        .iter()
        .any(|part| lower.contains(part))
}

/// 9 to 15 digits, optionally after `+`: an MSISDN in any of the forms providers use.
fn looks_like_phone(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    (9..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn phone(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let shown = chars.len().saturating_sub(3);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < shown { '•' } else { *c })
        .collect()
}

fn name(text: &str) -> String {
    text.split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| format!("{first}•••"))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn digits_masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() >= 9 {
            out.push_str(&phone(&run));
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn phones_and_names_are_masked_wherever_they_sit() {
        let value = json!({
            "phone": "254708374149",
            "name": "Jane Wanjiru",
            "payee": {"msisdn": "+254712345678", "account_name": "Acme Ltd"},
            "Item": [{"Name": "PhoneNumber", "Value": 254708374149u64}, {"Name": "Amount", "Value": 1500}],
            "intent_id": "0190f7a2-0000-7000-8000-000000000000"
        });
        let masked = super::json(&value);
        assert_eq!(masked["phone"], "•••••••••149");
        assert_eq!(masked["name"], "J••• W•••");
        assert_eq!(masked["payee"]["msisdn"], "••••••••••678");
        assert_eq!(masked["payee"]["account_name"], "A••• L•••");
        assert_eq!(masked["Item"][0]["Name"], "PhoneNumber");
        assert_eq!(masked["Item"][0]["Value"], "•••••••••149");
        assert_eq!(masked["Item"][1]["Value"], 1500);
        assert_eq!(masked["intent_id"], value["intent_id"]);
        let shown = masked.to_string();
        assert!(!shown.contains("254708374149") && !shown.contains("Wanjiru"));
    }

    #[test]
    fn raw_text_bodies_lose_their_long_numbers() {
        assert_eq!(
            text(b"MSISDN=254708374149&amount=100"),
            "MSISDN=•••••••••149&amount=100"
        );
    }
}
