//! Currencies malipo accepts, with their minor units.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency malipo settles in, plus `SAT` (whole satoshis) for Lightning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Currency {
    /// Kenyan shilling (M-Pesa settles in whole shillings; cents exist on paper).
    Kes,
    /// Nigerian naira (Paystack counts kobo).
    Ngn,
    /// Ghanaian cedi.
    Ghs,
    /// South African rand.
    Zar,
    /// US dollar.
    Usd,
    /// Satoshi, the Lightning unit; no fractions here (msat only inside the LNbits adapter).
    Sat,
}

/// The error for a currency code malipo does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown currency `{0}`; expected one of KES, NGN, GHS, ZAR, USD, SAT")]
pub struct UnknownCurrency(pub String);

impl Currency {
    /// Every supported currency.
    pub const ALL: [Currency; 6] = [
        Self::Kes,
        Self::Ngn,
        Self::Ghs,
        Self::Zar,
        Self::Usd,
        Self::Sat,
    ];

    /// The upper-case code, as stored and as sent on the wire.
    pub fn code(self) -> &'static str {
        match self {
            Self::Kes => "KES",
            Self::Ngn => "NGN",
            Self::Ghs => "GHS",
            Self::Zar => "ZAR",
            Self::Usd => "USD",
            Self::Sat => "SAT",
        }
    }

    /// Digits after the decimal point in the currency's smallest unit.
    pub fn minor_units(self) -> u32 {
        match self {
            Self::Sat => 0,
            _ => 2,
        }
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|currency| currency.code() == code)
            .ok_or_else(|| UnknownCurrency(code.to_owned()))
    }
}

impl TryFrom<String> for Currency {
    type Error = UnknownCurrency;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        code.parse()
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for currency in Currency::ALL {
            assert_eq!(currency.code().parse::<Currency>(), Ok(currency));
        }
        assert!("kes".parse::<Currency>().is_err());
        assert!("EUR".parse::<Currency>().is_err());
    }
}
