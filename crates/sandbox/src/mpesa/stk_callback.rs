//! The STK callback body (PROVIDERS.md §2.3), built as text where serde_json would normalise
//! it: `Amount` may be `1` or `1.00`, items come shuffled, a valueless `Balance` item may appear.

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use serde::Serialize;
use serde_json::value::RawValue;

use super::wire::compact_time;
use super::{MpesaState, StkResult};

/// What a successful push adds to its callback.
pub(crate) struct Paid<'a> {
    pub(crate) amount: u64,
    pub(crate) receipt: &'a str,
    pub(crate) phone: &'a str,
    pub(crate) at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Callback<'a> {
    #[serde(rename = "Body")]
    body: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "stkCallback")]
    stk_callback: StkCallback<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StkCallback<'a> {
    #[serde(rename = "MerchantRequestID")]
    merchant_request_id: &'a str,
    #[serde(rename = "CheckoutRequestID")]
    checkout_request_id: &'a str,
    result_code: u32,
    result_desc: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_metadata: Option<Metadata>,
}

#[derive(Serialize)]
struct Metadata {
    #[serde(rename = "Item")]
    item: Vec<Box<RawValue>>,
}

/// `{"Name":…,"Value":<literal>}`, or `{"Name":…}` without a value.
fn item(name: &str, literal: Option<String>) -> serde_json::Result<Box<RawValue>> {
    let name = serde_json::to_string(name)?;
    RawValue::from_string(match literal {
        Some(value) => format!(r#"{{"Name":{name},"Value":{value}}}"#),
        None => format!(r#"{{"Name":{name}}}"#),
    })
}

/// The callback bytes for one settled push.
pub(crate) fn callback_body(
    state: &MpesaState,
    merchant_request_id: &str,
    checkout_request_id: &str,
    result: StkResult,
    paid: Option<Paid<'_>>,
) -> serde_json::Result<Vec<u8>> {
    let callback_metadata = match paid {
        Some(paid) => Some(Metadata {
            item: paid_items(state, &paid)?,
        }),
        None => None,
    };
    serde_json::to_vec(&Callback {
        body: Body {
            stk_callback: StkCallback {
                merchant_request_id,
                checkout_request_id,
                result_code: result.code(),
                result_desc: result.description(),
                callback_metadata,
            },
        },
    })
}

fn paid_items(state: &MpesaState, paid: &Paid<'_>) -> serde_json::Result<Vec<Box<RawValue>>> {
    let shared = &state.shared;
    let amount = if shared.chance(state.settings.amount_with_decimals_probability) {
        format!("{}.00", paid.amount)
    } else {
        paid.amount.to_string()
    };
    let mut items = vec![
        item("Amount", Some(amount))?,
        item(
            "MpesaReceiptNumber",
            Some(serde_json::to_string(paid.receipt)?),
        )?,
        // Numbers, not strings, as Daraja sends them.
        item("TransactionDate", Some(compact_time(paid.at)))?,
        item("PhoneNumber", Some(paid.phone.to_owned()))?,
    ];
    if shared.chance(state.settings.balance_item_probability) {
        items.push(item("Balance", None)?);
    }
    shared.with_rng(|rng| items.shuffle(rng));
    Ok(items)
}
