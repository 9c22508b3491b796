//! The payment domain: money, intents and the ledger.

pub mod currency;
pub mod money;

pub use currency::Currency;
pub use money::{Money, MoneyError};
