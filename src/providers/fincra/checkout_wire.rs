//! Fincra checkout's JSON shapes. Neither is in PROVIDERS.md §4, so each is an **UNCERTAIN**
//! mapping kept in exactly one type here and pinned by a test in `tests.rs` naming the doubt.
//! Sources: Fincra's "Checkout Redirect" guide (`POST /checkout-core/payments` with
//! `x-pub-key`, answer `{status: true, data: {reference, link}}`) and public integrations that
//! verify with `GET /checkout/payments/merchant-reference/{reference}`.

use serde::{Deserialize, Serialize};

use super::wire::ExactNumber;

/// `POST /checkout-core/payments`. **UNCERTAIN:** the guide lists `amount`, `currency`,
/// `customer{name, email}`, `reference` (ours, the merchant reference), `feeBearer` and
/// `redirectUrl`; malipo sends those it knows (no redirect URL: the client's page is not
/// malipo's to name), with `feeBearer: "business"` so the buyer pays exactly the intent's
/// amount (a `customer` fee bearer would make every verified amount differ).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CheckoutBody<'a> {
    pub amount: ExactNumber,
    pub currency: &'static str,
    pub customer: CheckoutCustomer<'a>,
    /// Ours: the deposit reference, what verification asks by.
    pub reference: &'a str,
    pub fee_bearer: &'static str,
    pub payment_methods: &'static [&'static str],
}

/// The buyer as checkout wants them: a name and an email.
#[derive(Debug, Serialize)]
pub(super) struct CheckoutCustomer<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// Checkout's envelope. **UNCERTAIN:** the guide's answer says `status: true` where the
/// payout API says `success: true`; either one set to `true` is read as "taken", and `data`
/// must be there.
#[derive(Debug, Deserialize)]
pub(super) struct CheckoutEnvelope<T> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub status: Option<serde_json::Value>,
    pub data: Option<T>,
}

impl<T> CheckoutEnvelope<T> {
    /// The data, when the envelope says the request was taken.
    pub fn taken(self) -> Option<T> {
        let taken =
            self.success == Some(true) || self.status == Some(serde_json::Value::Bool(true));
        if taken { self.data } else { None }
    }
}

/// The opened checkout: Fincra's own reference (not ours) and the page the buyer pays on.
#[derive(Debug, Deserialize)]
pub(super) struct OpenedCheckout {
    #[serde(default)]
    pub reference: Option<String>,
    pub link: String,
}

/// A payment as `GET /checkout/payments/merchant-reference/{reference}` answers it.
/// **UNCERTAIN:** (1) the status words — public integrations read `success` and others
/// `successful`, both are "paid"; `failed` is a failure, `expired`/`abandoned` lapsed, anything
/// else not conclusive; (2) which field is what the buyer paid — malipo reads `amount` (major
/// units, a JSON number or a numeric string) with `currency`, and compares both with the
/// intent, so an answer that means something else there shows up as an amount discrepancy,
/// never as money accepted; (3) `merchantReference` may be absent, in which case the path's
/// reference is trusted.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CheckoutPayment {
    pub status: String,
    #[serde(default)]
    pub amount: Option<serde_json::Value>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub merchant_reference: Option<String>,
}
