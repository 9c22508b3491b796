//! Parsers for what Daraja posts to us: STK results, B2C results and queue timeouts,
//! Transaction Status results, and C2B validation/confirmation. Pure functions over the raw
//! bytes; each returns a normalized event with the key the webhook inbox dedupes on, and
//! [`interpret`] says what a stored callback means to malipo.
//!
//! Daraja callbacks are unsigned: check the path token ([`callback_token_matches`]) and the
//! source address ([`ip_allowed`]) first, accept only ids we issued and still hold pending, and
//! confirm with STK Query or Transaction Status before value moves.
//!
//! [`callback_token_matches`]: crate::providers::callback_token_matches
//! [`ip_allowed`]: crate::providers::ip_allowed

mod c2b;
mod event;
mod result;
mod stk;

pub use c2b::{C2bPayment, parse_c2b};
pub use event::{Callback, interpret};
pub use result::{
    B2cResult, B2cTimeout, TransactionStatusResult, parse_b2c_result, parse_b2c_timeout,
    parse_transaction_status_result,
};
pub(super) use stk::unpaid_status;
pub use stk::{StkCallback, StkPayment, parse_stk_callback};

use serde_json::Value;

use crate::{
    domain::{Currency, Money},
    providers::payload::{PayloadError, decimal},
};

/// A list Daraja may send as an array or, with one element, as a bare object.
fn one_or_many(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => Vec::new(),
    }
}

/// Shillings from `1`, `1.00` or `"300"`.
fn shillings(value: &Value, field: &'static str) -> Result<Money, PayloadError> {
    let amount = decimal(value).ok_or_else(|| PayloadError::invalid(field, "not a number"))?;
    Money::new(amount, Currency::Kes)
        .map_err(|error| PayloadError::invalid(field, error.to_string()))
}
