//! Job handlers, one job per file, and the state they share.

mod attention;
mod auto_release;
pub mod calls;
mod confirm_deposit;
mod deliver_event;
mod fincra;
mod initiate_deposit;
mod job_intent;
mod noop;
mod payout;
pub mod poll_lightning_invoice;
pub mod process_webhook;
pub mod reconcile_fincra;
pub mod reconcile_mpesa;
mod refund;
mod release_escrow;
mod state;
pub mod verify_deposit;

pub use state::{WorkerState, commission_from};

use crate::queue::Handlers;

/// Every job kind's handler.
pub fn handlers() -> Handlers<WorkerState> {
    Handlers::default()
        .register(noop::run)
        .register(initiate_deposit::run)
        .register(confirm_deposit::run)
        .register(release_escrow::run)
        .register(auto_release::run)
        .register(payout::run)
        .register(refund::run)
        .register(process_webhook::run)
        .register(poll_lightning_invoice::run)
        .register(reconcile_mpesa::run)
        .register(reconcile_fincra::run)
        .register(deliver_event::run)
}
