//! Reconciliation: comparing malipo's view of money with the provider's, correcting only what an
//! unambiguous rule allows, and storing a report of everything found.
//!
//! Rules (the only corrections made without an operator):
//! - an STK push with no callback is settled by the STK Query answer, through the same path as
//!   a callback (paid → held, a final failure code → failed);
//! - a C2B payment malipo never heard of is recorded, and credited to the M-Pesa intent whose
//!   client `reference` equals its account reference exactly, if that intent awaits payment of
//!   exactly that amount; any other case is flagged;
//! - a B2C payout with no result gets a Transaction Status query; the result completes it
//!   through the normal callback path.

pub mod c2b;
pub mod mpesa;
mod report;

pub use report::{Item, Report, load, to_csv};
