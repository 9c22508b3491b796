//! Shaping our values into Daraja's fields: whole shillings as strings, and the length and
//! character limits of AccountReference, TransactionDesc, Remarks and OriginatorConversationID.

use crate::{
    domain::{Currency, Money},
    providers::ProviderError,
};

/// Daraja's limits on STK Push fields.
const ACCOUNT_REFERENCE_MAX: usize = 12;
const TRANSACTION_DESC_MAX: usize = 13;
const REMARKS_MAX: usize = 100;

/// Whole shillings as Daraja takes them (`"10"`); M-Pesa moves no cents.
pub(super) fn whole_shillings(amount: &Money) -> Result<String, ProviderError> {
    if amount.currency() != Currency::Kes {
        return Err(ProviderError::permanent(format!(
            "M-Pesa moves KES, not {}",
            amount.currency()
        )));
    }
    if !amount.is_whole() || !amount.is_positive() {
        return Err(ProviderError::permanent(format!(
            "{amount} is not a whole, positive number of shillings"
        )));
    }
    let cents = amount
        .minor_units()
        .ok_or_else(|| ProviderError::permanent(format!("{amount} is too large")))?;
    Ok((cents / 100).to_string())
}

/// `AccountReference` (≤ 12 characters, shown to the buyer): the last alphanumerics of our
/// reference, where references derived from ids differ.
pub(super) fn account_reference(reference: &str) -> String {
    let alphanumerics: Vec<char> = reference
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let start = alphanumerics.len().saturating_sub(ACCOUNT_REFERENCE_MAX);
    let tail: String = alphanumerics[start..].iter().collect();
    if tail.is_empty() {
        "malipo".into()
    } else {
        tail
    }
}

/// `TransactionDesc` (≤ 13 characters): the description's letters, digits and spaces.
pub(super) fn transaction_desc(description: &str) -> String {
    shortened(description, TRANSACTION_DESC_MAX).unwrap_or_else(|| "Payment".into())
}

/// B2C `Remarks` (2–100 characters).
pub(super) fn remarks(reason: &str) -> String {
    shortened(reason, REMARKS_MAX)
        .filter(|remarks| remarks.len() >= 2)
        .unwrap_or_else(|| "Payout".into())
}

/// Letters, digits and single spaces of `text`, cut to `max` characters (on a character
/// boundary, so never mid-UTF-8); `None` if nothing is left.
fn shortened(text: &str, max: usize) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            word.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect();
    let cut: String = words.join(" ").chars().take(max).collect();
    let cut = cut.trim_end().to_owned();
    (!cut.is_empty()).then_some(cut)
}

/// The transfer reference becomes `OriginatorConversationID`: printable and bounded.
pub(super) fn check_conversation_id(reference: &str) -> Result<(), ProviderError> {
    let valid = (1..=64).contains(&reference.len())
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if valid {
        Ok(())
    } else {
        Err(ProviderError::permanent(format!(
            "`{reference}` cannot be an OriginatorConversationID (1-64 of A-Z, a-z, 0-9, - and _)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn shillings_are_whole() {
        let kes = |text: &str| {
            Money::new(Decimal::from_str(text).expect("decimal"), Currency::Kes).expect("money")
        };
        assert_eq!(whole_shillings(&kes("10.00")), Ok("10".into()));
        assert_eq!(whole_shillings(&kes("1")), Ok("1".into()));
        assert!(whole_shillings(&kes("10.50")).is_err());
        assert!(whole_shillings(&kes("0")).is_err());
        assert!(whole_shillings(&Money::from_minor(1000, Currency::Ngn)).is_err());
    }

    #[test]
    fn stk_fields_fit_daraja_limits() {
        assert_eq!(
            account_reference("dep_0190aa7b-5cbb-7d21-9f3e-3a1b2c4d5e6f"),
            "3a1b2c4d5e6f"
        );
        assert_eq!(account_reference("order-42"), "order42");
        assert_eq!(account_reference("---"), "malipo");
        assert_eq!(
            transaction_desc("Payment for order #42 (two mugs)"),
            "Payment for o"
        );
        assert_eq!(
            transaction_desc("Malipo ya chai ☕ na mandazi"),
            "Malipo ya cha"
        );
        assert_eq!(transaction_desc("☕☕"), "Payment");
        assert!(transaction_desc("x y z 1234567890123").chars().count() <= 13);
        assert_eq!(remarks("!"), "Payout");
        assert_eq!(remarks(&"a".repeat(300)).len(), 100);
    }

    #[test]
    fn conversation_ids() {
        assert!(check_conversation_id("payout_0190aa7b-5cbb-7d21").is_ok());
        assert!(check_conversation_id("").is_err());
        assert!(check_conversation_id("has space").is_err());
        assert!(check_conversation_id(&"a".repeat(65)).is_err());
    }
}
