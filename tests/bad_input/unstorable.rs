//! Requests that pass for valid JSON but that PostgreSQL could not store (U+0000 in text or
//! jsonb, amounts past `numeric(20, 2)`) or that `rust_decimal` would silently round: each is a
//! 422 naming the field, never a 500 from a failed insert, and nothing is written.

use serde_json::{Value, json};

use super::{
    strategies::intent_example,
    support::{problem, spawn_app},
};

fn field_names(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|error| error["field"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn requests_the_database_could_not_store_are_422() {
    let app = spawn_app().await;
    let paystack = json!({"amount":"1500.00","currency":"NGN","provider":"paystack","buyer":{"email":"buyer@example.com"},
        "payee":{"id":"seller-2","payout":{"provider":"paystack","recipient_code":"RCP_sandboxpayee01"}}});
    let lightning = json!({"amount":"2100","currency":"SAT","provider":"lightning","buyer":{},
        "payee":{"id":"seller-3","payout":{"provider":"lightning"}}});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "NUL in payee.id",
            json!({"payee": {"id": "seller\u{0}42", "payout": {"provider": "mpesa", "msisdn": "254700000001"}}}),
            "payee",
        ),
        (
            "NUL in a metadata value",
            json!({"metadata": {"order": "98\u{0}1"}}),
            "metadata",
        ),
        (
            "NUL in a metadata key",
            json!({"metadata": {"ord\u{0}er": "981"}}),
            "metadata",
        ),
        (
            "NUL deep in metadata",
            json!({"metadata": {"a": [{"b": ["\u{0}"]}]}}),
            "metadata",
        ),
        (
            "NUL in the email",
            json!({"buyer": {"email": "buyer\u{0}@example.com"}}),
            "buyer",
        ),
        (
            "NUL in the recipient code",
            json!({"payee": {"id": "s", "payout": {"provider": "paystack", "recipient_code": "RCP_\u{0}"}}}),
            "payee",
        ),
        (
            "10^18 sats",
            json!({"amount": "1000000000000000000"}),
            "amount",
        ),
        (
            "10^17 naira",
            json!({"amount": "100000000000000000.00"}),
            "amount",
        ),
        (
            "rounded by rust_decimal",
            json!({"amount": "1.0000000000000000000000000000001"}),
            "amount",
        ),
        (
            "a JSON number rounded by rust_decimal",
            json!({"amount": "RAW"}),
            "amount",
        ),
    ];
    for (label, change, field) in cases {
        let mut body = match label {
            "10^18 sats" => lightning.clone(),
            "NUL in the email" | "NUL in the recipient code" | "10^17 naira" => paystack.clone(),
            _ => intent_example(),
        };
        if let (Value::Object(body), Value::Object(change)) = (&mut body, change) {
            body.extend(change);
        }
        let text = body
            .to_string()
            .replace(r#""RAW""#, "1500.0000000000000000000000000001");
        let response = app
            .post("/v1/intents")
            .header("content-type", "application/json")
            .header("idempotency-key", label.replace(' ', "-"))
            .body(text)
            .send()
            .await
            .expect("post");
        let answer = problem(response, 422, "invalid fields").await;
        assert!(
            field_names(&answer)
                .iter()
                .any(|name| name.starts_with(field)),
            "{label}: {answer}"
        );
    }
    app.assert_nothing_written("unstorable requests").await;
}
