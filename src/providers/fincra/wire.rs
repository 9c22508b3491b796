//! Fincra's JSON shapes (PROVIDERS.md §4). Amounts are major units sent as JSON numbers; they
//! are written from the exact decimal text, never through a float. Every mapping §4 marks
//! UNCERTAIN lives in exactly one type here, named in its doc and pinned by a test in
//! `tests.rs` that names the doubt.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// A decimal written as a JSON number with exactly its digits (`1000.50`), not via `f64`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ExactNumber(pub Decimal);

impl Serialize for ExactNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.0.normalize().to_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// `POST /disbursements/payouts` (§4.1). Same currency on both sides: cross-currency payouts
/// need a quote, which malipo never asks for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PayoutBody<'a> {
    pub business: &'a str,
    pub source_currency: &'static str,
    pub destination_currency: &'static str,
    pub amount: ExactNumber,
    pub description: &'a str,
    pub payment_destination: &'static str,
    /// Ours: the payout reference, Fincra's idempotency key.
    pub customer_reference: &'a str,
    pub beneficiary: Beneficiary,
}

/// Who receives a payout, in either destination's shape.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum Beneficiary {
    Bank(BankBeneficiary),
    MobileMoney(MobileMoneyBeneficiary),
}

/// An NGN bank account: §4.1's sample, field for field.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BankBeneficiary {
    pub first_name: String,
    pub last_name: String,
    pub account_holder_name: String,
    pub country: &'static str,
    pub account_number: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub bank_code: String,
}

/// A KES M-Pesa wallet. **UNCERTAIN (§4.1):** the current page sends the number as
/// `accountNumber` (`+2547…`) with `country` and `mobileMoneyCode: "MPESA"`; an older page says
/// `beneficiary.phone`. malipo sends the current reading only, and this type is the one place
/// to change if Fincra turns out to want `phone`. Also unknown: which names Fincra requires
/// for a wallet; malipo knows none, so it sends the wallet number as the holder's name.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MobileMoneyBeneficiary {
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub account_holder_name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub country: &'static str,
    /// `+2547XXXXXXXX`.
    pub account_number: String,
    pub mobile_money_code: &'static str,
}

/// Every answer: `{success, message, data}` on success, `{success:false, error, errorType}` on
/// a refusal, `{message, error, statusCode}` from the auth layer (§4).
#[derive(Debug, Deserialize)]
pub(super) struct Envelope<T> {
    #[serde(default)]
    pub success: bool,
    pub data: Option<T>,
}

/// A refusal's body; every field optional because three shapes are in use.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// A payout as the initiation answer (§4.1), the query (§4.2) and the webhook (§4.3) describe
/// it. **UNCERTAIN (§4.2):** the query's shape is documented only as "as in the webhook's
/// `data`"; malipo reads just these fields, every one but `status` optional, so a leaner or
/// richer answer still parses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PayoutData {
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub customer_reference: Option<String>,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /core/accounts/resolve`. **UNCERTAIN:** not in PROVIDERS.md; the body and answer
/// follow Fincra's public API reference (`accountNumber`, `bankCode`, `type: "nuban"` →
/// `data.accountName`). Only `accountName` is read, and a failure to resolve never blocks an
/// intent by itself (see `http/intents.rs`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResolveBody<'a> {
    pub account_number: &'a str,
    pub bank_code: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The resolved account.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResolvedAccount {
    #[serde(default)]
    pub account_name: Option<String>,
}

/// A webhook: `{event, data}` (§4.3). `data` is kept raw for the signature's re-serialization.
#[derive(Debug, Deserialize)]
pub(super) struct WebhookEnvelope<'a> {
    #[serde(borrow)]
    pub event: &'a RawValue,
    #[serde(borrow)]
    pub data: &'a RawValue,
}

/// The fields of a webhook's `data` malipo reads: `reference` for the dedupe key,
/// `customerReference` (ours) to find a payout, and `merchantReference` (ours) to find a
/// checkout's intent. The claimed `status` and amount are never read: the query decides.
/// **UNCERTAIN:** `charge.successful`'s `data` is not in PROVIDERS.md; malipo expects the
/// checkout's merchant reference as `merchantReference` (as the verify answer names it).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WebhookData {
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub customer_reference: Option<String>,
    #[serde(default)]
    pub merchant_reference: Option<String>,
}

/// One entry of `GET /core/banks?country=NG&currency=NGN&paymentDestination=bank_account`.
/// **UNCERTAIN:** §4.1 names the endpoint but not its answer; malipo reads `code` (a string, or
/// a number whose digits are kept) and `name` from each entry of `data` and ignores the rest.
/// An entry without both, or with a code that is not 3–9 digits, is skipped.
#[derive(Debug, Deserialize)]
pub(super) struct BankEntry {
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    #[serde(default)]
    pub name: Option<String>,
}

impl BankEntry {
    /// `(code, name)` when both are usable.
    pub fn usable(self) -> Option<(String, String)> {
        let code = match self.code? {
            serde_json::Value::String(code) => code,
            serde_json::Value::Number(number) => number.to_string(),
            _ => return None,
        };
        let name = self.name?.trim().to_owned();
        let plausible = (3..=9).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
        (plausible && !name.is_empty() && name.chars().count() <= 200).then_some((code, name))
    }
}
