//! `Money`: an exact decimal amount in one currency, never a float.

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;

use super::currency::Currency;

/// An amount of one currency, exact to the currency's minor unit.
///
/// The invariant — the amount has no more decimal places than the currency's minor units — is
/// checked by every constructor, so a `Money` is always representable in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    amount: Decimal,
    currency: Currency,
}

/// Why an amount cannot be `Money`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// More decimal places than the currency has.
    #[error("{amount} has more decimal places than {currency} allows ({minor_units})")]
    TooPrecise {
        /// The amount given.
        amount: Decimal,
        /// Its currency.
        currency: Currency,
        /// The decimal places the currency allows.
        minor_units: u32,
    },
    /// Arithmetic across two currencies.
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The result does not fit.
    #[error("amount overflow")]
    Overflow,
}

impl Money {
    /// Money from a decimal amount; rejects amounts finer than the currency's minor unit.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let normalized = amount.normalize();
        if normalized.scale() > currency.minor_units() {
            return Err(MoneyError::TooPrecise {
                amount,
                currency,
                minor_units: currency.minor_units(),
            });
        }
        let mut amount = normalized;
        amount.rescale(currency.minor_units());
        Ok(Self { amount, currency })
    }

    /// Money from an integer count of minor units (kobo, cents, satoshis).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self {
            amount: Decimal::new(minor, currency.minor_units()),
            currency,
        }
    }

    /// Zero of a currency.
    pub fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// The decimal amount in major units, at the currency's scale.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as an integer count of minor units; `None` if it does not fit an `i64`.
    pub fn minor_units(&self) -> Option<i64> {
        let scaled = self
            .amount
            .checked_mul(Decimal::from(10i64.pow(self.currency.minor_units())))?;
        i64::try_from(scaled.trunc()).ok()
    }

    /// Whether the amount is above zero.
    pub fn is_positive(&self) -> bool {
        self.amount > Decimal::ZERO
    }

    /// Whether the amount is a whole number of major units (M-Pesa takes whole shillings).
    pub fn is_whole(&self) -> bool {
        self.amount.fract().is_zero()
    }

    /// `self + other`, same currency only.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self {
            amount,
            currency: self.currency,
        })
    }

    /// `self - other`, same currency only.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self {
            amount,
            currency: self.currency,
        })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

/// `amount` at `currency`'s scale: the one way malipo shows an amount (`"1500.00"` KES,
/// `"1000"` SAT), whether it comes from a `Money` or straight from a `numeric` column.
pub fn at_currency_scale(amount: Decimal, currency: Currency) -> Decimal {
    let mut scaled = amount.normalize();
    scaled.rescale(currency.minor_units());
    scaled
}

/// [`at_currency_scale`] as the decimal string the API shows.
pub fn format_amount(amount: Decimal, currency: Currency) -> String {
    at_currency_scale(amount, currency).to_string()
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            format_amount(self.amount, self.currency),
            self.currency
        )
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).expect("literal decimal")
    }

    #[test]
    fn rejects_amounts_finer_than_the_minor_unit() {
        assert!(Money::new(dec("10.005"), Currency::Kes).is_err());
        assert!(Money::new(dec("10.5"), Currency::Sat).is_err());
        assert_eq!(
            Money::new(dec("10.500"), Currency::Kes).map(|m| m.amount().to_string()),
            Ok("10.50".into())
        );
    }

    #[test]
    fn minor_units_round_trip() {
        let money = Money::new(dec("1500.25"), Currency::Ngn).expect("valid");
        assert_eq!(money.minor_units(), Some(150_025));
        assert_eq!(Money::from_minor(150_025, Currency::Ngn), money);
        assert_eq!(Money::from_minor(21, Currency::Sat).minor_units(), Some(21));
    }

    #[test]
    fn amounts_show_at_their_currency_scale() {
        assert_eq!(format_amount(dec("1000.00"), Currency::Sat), "1000");
        assert_eq!(format_amount(dec("1000"), Currency::Kes), "1000.00");
        assert_eq!(format_amount(dec("1500.5"), Currency::Ngn), "1500.50");
        assert_eq!(
            Money::new(dec("21"), Currency::Sat).map(|m| m.to_string()),
            Ok("21 SAT".into())
        );
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies() {
        let kes = Money::from_minor(100, Currency::Kes);
        let ngn = Money::from_minor(100, Currency::Ngn);
        assert!(kes.checked_add(ngn).is_err());
        assert_eq!(kes.checked_sub(kes), Ok(Money::zero(Currency::Kes)));
    }
}
