//! The payment domain: money, the parties of an intent, and parsing requests into them.

pub mod balance_payee;
pub mod bolt11;
pub mod capture;
#[cfg(test)]
mod checked_names;
pub mod client_role;
pub mod commission;
pub mod currency;
pub mod delivery_status;
pub mod escrow_terms;
pub mod event_type;
pub mod fincra_banks;
pub mod fincra_destination;
pub mod intent_status;
pub mod money;
pub mod msisdn;
pub mod new_intent;
pub mod parties;
pub mod payout_state;
pub mod release_parts;
pub mod validation;

pub use capture::Capture;
#[cfg(test)]
pub(crate) use checked_names::checked_names;
pub use client_role::{KeyMode, Role, UnknownRole};
pub use currency::Currency;
pub use delivery_status::DeliveryStatus;
pub use intent_status::{IntentMove, IntentNote, IntentStatus};
pub use money::{Money, MoneyError, format_amount};
pub use new_intent::NewIntent;
pub use parties::{Buyer, FincraDestination, Msisdn, Payee, PayoutDestination, ProviderKind};
pub use parties::{ClientBalance, PayeePayout};
pub use payout_state::{PayoutKind, PayoutStatus};
pub use validation::FieldError;
