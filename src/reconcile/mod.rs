//! Reconciliation: comparing malipo's view of money with the provider's, correcting only what an
//! unambiguous rule allows, and storing a report of everything found.
//!
//! Rules (the only corrections made without an operator):
//! - an STK push with no callback is settled by the STK Query answer, through the same path as
//!   a callback (paid → held, a final failure code → failed);
//! - a Paybill (C2B) payment is recorded by its receipt and placed only through the account
//!   number malipo issued for exactly one intent: it funds that intent when it awaits exactly
//!   that amount, is recognised as the intent's own STK payment, or else waits in suspense with
//!   a discrepancy (late, duplicate, other amount, unmatched) — never by a client's reference;
//! - a B2C payout with no result, or recorded failed in the window, gets a Transaction Status
//!   query; the result completes it through the normal callback path (a delivery malipo had
//!   recorded failed becomes a payout_contradiction discrepancy);
//! - a Fincra payout in flight, concluded in the re-check window, is queried by customer
//!   reference; the answer goes through `apply_transfer` (a later contradiction becomes a
//!   payout_contradiction discrepancy), see `fincra.rs`.

pub mod c2b;
pub mod fincra;
pub mod mpesa;
mod reach;
pub mod recent;
mod report;

pub use reach::Reach;
pub use report::{Item, Report, load, to_csv};
