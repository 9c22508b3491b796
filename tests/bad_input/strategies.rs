//! Proptest strategies shared by the property tests and the HTTP fuzz loop: arbitrary JSON
//! trees of bounded depth, the real payloads of PROVIDERS.md, and mutations of them that drop
//! fields, change types and swap numbers for strings.

use proptest::{prelude::*, sample::Index};
use serde_json::{Map, Number, Value, json};

/// Field names the parsers look for, so random trees reach past the first `get`.
const KNOWN_KEYS: &[&str] = &[
    "event",
    "data",
    "id",
    "reference",
    "amount",
    "currency",
    "status",
    "transfer_code",
    "created_at",
    "createdAt",
    "transaction",
    "transaction_reference",
    "Body",
    "stkCallback",
    "MerchantRequestID",
    "CheckoutRequestID",
    "ResultCode",
    "ResultDesc",
    "CallbackMetadata",
    "Item",
    "Name",
    "Value",
    "Result",
    "OriginatorConversationID",
    "ConversationID",
    "TransactionID",
    "ResultParameters",
    "ResultParameter",
    "ReferenceData",
    "ReferenceItem",
    "Key",
    "TransID",
    "TransAmount",
    "BusinessShortCode",
    "MSISDN",
    "payment_hash",
    "provider",
    "buyer",
    "payee",
    "payout",
    "msisdn",
    "email",
    "recipient_code",
    "bolt11",
    "commission_bps",
    "metadata",
];

/// Strings chosen to hit edges: empty, numeric text, exponents, NUL, non-ASCII, long runs.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("0".to_owned()),
        Just("1.00".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just("NaN".to_owned()),
        Just("\u{0}".to_owned()),
        Just("a\u{0}b".to_owned()),
        Just("\u{202e}\u{fffd}\u{1f4b8}".to_owned()),
        Just("charge.success".to_owned()),
        Just("transfer.reversed".to_owned()),
        Just("refund.processed".to_owned()),
        Just("Amount".to_owned()),
        Just("MpesaReceiptNumber".to_owned()),
        Just("TransactionAmount".to_owned()),
        Just("Occasion".to_owned()),
        Just("254708374149".to_owned()),
        Just("e3932f9a3b315ca44c06562d240a1141069fddc059c6486b910b6bbc19a0594a".to_owned()),
        "[0-9]{1,30}(\\.[0-9]{1,30})?",
        "\\PC{0,24}",
        "[a-zA-Z0-9_]{3000,3100}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KNOWN_KEYS).prop_map(str::to_owned),
        1 => tricky_string(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        tricky_string().prop_map(Value::String),
    ]
}

/// Any JSON value, at most `depth` containers deep.
pub fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(depth, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object (what every endpoint expects at the top), any members.
pub fn json_object(depth: u32) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), json_value(depth)), 0..10)
        .prop_map(|entries| entries.into_iter().collect())
}

/// The payloads of PROVIDERS.md, as the providers send them.
pub fn provider_examples() -> Vec<Value> {
    vec![
        json!({"event":"charge.success","data":{"id":4099260516_u64,"domain":"test","status":"success","reference":"re4lyvq3s3",
            "amount":40333,"requested_amount":30050,"currency":"NGN","gateway_response":"Successful",
            "paid_at":"2024-08-22T09:15:02.000Z","created_at":"2024-08-22T09:14:24.000Z","channel":"card",
            "fees":10283,"metadata":"","customer":{"id":181873746,"email":"demo@test.com","customer_code":"CUS_1rkzaqsv4rrhqo6"},
            "authorization":{"authorization_code":"AUTH_uh8bcl3zbn","reusable":true,"signature":"SIG_yEXu7dLBeqG0kU7g95Ke"}}}),
        json!({"event":"transfer.failed","data":{"amount":200000,"currency":"NGN","domain":"test","failures":null,"id":69123462,
            "integration":{"id":100043,"is_live":true,"business_name":"Paystack"},"reason":"Enjoy",
            "reference":"1976435206","source":"balance","status":"failed","transfer_code":"TRF_chs98y5rykjb47w",
            "transferred_at":null,"recipient":{"recipient_code":"RCP_cjcua8itre45gs","type":"nuban","details":{}},
            "session":{"provider":"nip","id":"74849400998877667"},"createdAt":"2025-08-04T10:32:40.000Z","updated_at":"..."}}),
        json!({"event":"refund.processed","data":{"id":3018284,"status":"processed","transaction_reference":"T685312322670591","amount":10000,
            "transaction":{"id":1004723697,"reference":"T685312322670591"}}}),
        json!({"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925",
            "ResultCode":0,"ResultDesc":"The service request is processed successfully.",
            "CallbackMetadata":{"Item":[{"Name":"Amount","Value":1.00},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},{"Name":"Balance"},
            {"Name":"TransactionDate","Value":20191219102115_u64},{"Name":"PhoneNumber","Value":254708374149_u64}]}}}}),
        json!({"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925",
            "ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}),
        json!({"TransactionType":"Pay Bill","TransID":"RKL51ZDR4F","TransTime":"20231121121325","TransAmount":"5.00",
            "BusinessShortCode":"600966","BillRefNumber":"Sample Transaction","InvoiceNumber":"","OrgAccountBalance":"25.00",
            "ThirdPartyTransID":"","MSISDN":"2547 ***** 126","FirstName":"NICHOLAS","MiddleName":"","LastName":""}),
        json!({"Result":{"ConversationID":"AG_20180223_0000493344ae97d86f75","OriginatorConversationID":"3213-416199-2","ResultCode":0,"ResultType":0,
            "ResultDesc":"The service request is processed successfully.","TransactionID":"MBN0000000",
            "ReferenceData":{"ReferenceItem":{"Key":"Occasion","Value":"payout_1"}},
            "ResultParameters":{"ResultParameter":[{"Key":"ReceiptNo","Value":"MBN31H462N"},{"Key":"TransactionStatus","Value":"Completed"},
            {"Key":"Amount","Value":"300"},{"Key":"DebitPartyName","Value":"254708374149 - John Doe"},{"Key":"InitiatedTime","Value":"20180223054112"},
            {"Key":"FinalisedTime","Value":"20180223054112"},{"Key":"DebitPartyCharges","Value":"Fee For B2C Payment|KES|22.40"}]}}}),
        json!({"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"The service request is processed successfully.",
            "OriginatorConversationID":"600997_Test_32et3241ed8yu","ConversationID":"AG_20240706_2010325b025970fbc403","TransactionID":"SG632NMUAB",
            "ResultParameters":{"ResultParameter":[{"Key":"TransactionAmount","Value":10},{"Key":"TransactionReceipt","Value":"SG632NMUAB"},
            {"Key":"ReceiverPartyPublicName","Value":"254705912645 - John Doe"},{"Key":"TransactionCompletedDateTime","Value":"06.07.2024 22:48:52"},
            {"Key":"B2CUtilityAccountAvailableFunds","Value":"10116.00"},{"Key":"B2CRecipientIsRegisteredCustomer","Value":"Y"}]},
            "ReferenceData":{}}}),
        json!({"Result":{"ResultType":0,"ResultCode":1,"ResultDesc":"The service request timed out.",
            "OriginatorConversationID":"600997_Test_32et3241ed8yu","ConversationID":"AG_2"}}),
        json!({"checking_id":"e3932f9a","payment_hash":"e3932f9a3b315ca44c06562d240a1141069fddc059c6486b910b6bbc19a0594a",
            "wallet_id":"w1","amount":1000000,"fee":0,"bolt11":"lnbc10u1","status":"success","memo":"order 42",
            "preimage":null,"labels":[],"extra":{}}),
    ]
}

/// The documented create-intent request.
pub fn intent_example() -> Value {
    json!({"amount":"1500.00","currency":"KES","provider":"mpesa","buyer":{"msisdn":"254708374149"},
           "payee":{"id":"seller-42","payout":{"provider":"mpesa","msisdn":"254700000001"}},
           "commission_bps":1000,"reference":"order-981","metadata":{"order":"981"}})
}

/// One change to a JSON tree, applied at the node `at` picks among all nodes.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Remove the node from its parent (the root is emptied instead).
    Drop(Index),
    /// Replace the node with another value.
    Replace(Index, Value),
    /// Number → its text, string → a number (or its length), anything else → its JSON text.
    SwapType(Index),
    /// Wrap the node in a one-element array (Daraja's one-or-many lists).
    Wrap(Index),
}

/// A random mutation; replacements are shallow so trees stay small.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Drop),
        1 => (any::<Index>(), json_value(2)).prop_map(|(at, value)| Mutation::Replace(at, value)),
        3 => any::<Index>().prop_map(Mutation::SwapType),
        1 => any::<Index>().prop_map(Mutation::Wrap),
    ]
}

/// A provider example with 1–5 mutations.
pub fn mutated_example() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(provider_examples()),
        prop::collection::vec(mutation(), 1..6),
    )
        .prop_map(|(mut value, mutations)| {
            for change in &mutations {
                apply(&mut value, change);
            }
            value
        })
}

/// Applies `change` to `root`.
pub fn apply(root: &mut Value, change: &Mutation) {
    let paths = paths(root);
    let at = match change {
        Mutation::Drop(at)
        | Mutation::Replace(at, _)
        | Mutation::SwapType(at)
        | Mutation::Wrap(at) => at,
    };
    let path = at.get(&paths).clone();
    match change {
        Mutation::Drop(_) => drop_at(root, &path),
        Mutation::Replace(_, value) => {
            if let Some(node) = node_mut(root, &path) {
                *node = value.clone();
            }
        }
        Mutation::SwapType(_) => {
            if let Some(node) = node_mut(root, &path) {
                *node = swapped(node);
            }
        }
        Mutation::Wrap(_) => {
            if let Some(node) = node_mut(root, &path) {
                *node = Value::Array(vec![node.take()]);
            }
        }
    }
}

/// A step from a container to a child.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    At(usize),
}

/// Every node's path, the root first; iterative, so no depth can overflow the stack.
fn paths(root: &Value) -> Vec<Vec<Step>> {
    let mut found = Vec::new();
    let mut pending = vec![(Vec::new(), root)];
    while let Some((path, node)) = pending.pop() {
        match node {
            Value::Object(map) => {
                for (key, child) in map {
                    let mut child_path = path.clone();
                    child_path.push(Step::Key(key.clone()));
                    pending.push((child_path, child));
                }
            }
            Value::Array(items) => {
                for (position, child) in items.iter().enumerate() {
                    let mut child_path = path.clone();
                    child_path.push(Step::At(position));
                    pending.push((child_path, child));
                }
            }
            _ => {}
        }
        found.push(path);
    }
    found
}

fn node_mut<'a>(root: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(root, |node, step| match step {
        Step::Key(key) => node.get_mut(key.as_str()),
        Step::At(position) => node.get_mut(*position),
    })
}

fn drop_at(root: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        *root = Value::Object(Map::new());
        return;
    };
    match (node_mut(root, parent), last) {
        (Some(Value::Object(map)), Step::Key(key)) => {
            map.remove(key);
        }
        (Some(Value::Array(items)), Step::At(position)) if *position < items.len() => {
            items.remove(*position);
        }
        _ => {}
    }
}

fn swapped(node: &Value) -> Value {
    match node {
        Value::Number(number) => Value::String(number.to_string()),
        Value::String(text) => text
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::from(text.len())),
        Value::Bool(flag) => Value::String(flag.to_string()),
        Value::Null => Value::String("null".to_owned()),
        container => Value::String(container.to_string()),
    }
}
