//! The escrow lifecycle's effects: each function is one guarded state change with its ledger
//! postings, written in the caller's transaction, and harmless to repeat.

pub mod auto_release;
pub mod collect;
pub mod deposit;
pub mod dispute;
pub mod late_refund;
pub mod payout;
pub mod refund;
pub mod release;
pub mod send_again;
pub mod withdraw;

/// The reference malipo gives a deposit at its provider: derived from the intent id, so a
/// re-run of `initiate_deposit` reuses it (Paystack then answers "Duplicate Transaction
/// Reference" instead of charging twice).
///
/// Paystack accepts alphanumerics and `-.=` in transaction references, hence the hyphen.
pub fn deposit_reference(intent: uuid::Uuid) -> String {
    format!("dp-{}", intent.simple())
}
