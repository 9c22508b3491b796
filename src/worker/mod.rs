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

pub use crate::settings::commission_from;
pub use initiate_deposit::EARLIER_RUN_STOPPED;
pub use state::WorkerState;

use malipo_jobs::{
    AutoRelease, ConfirmDeposit, DeliverEvent, InitiateDeposit, Job, Noop, Payout,
    PollLightningInvoice, ProcessWebhook, ReconcileFincra, ReconcileMpesa, Refund, ReleaseEscrow,
};

use crate::queue::Handlers;

/// Binds a job kind to the function that runs it. The kinds themselves are listed once, in
/// `malipo_jobs::every_job!`; [`handlers`] walks that list, so a listed kind without a binding
/// here does not compile, and a binding for an unlisted kind is never registered (the test
/// `every_bound_kind_is_a_listed_kind` names it).
trait Handled: Job {
    fn bind(handlers: Handlers<WorkerState>) -> Handlers<WorkerState>;
}

macro_rules! handled_by {
    ($($job:ty => $run:path),* $(,)?) => {
        $(impl Handled for $job {
            fn bind(handlers: Handlers<WorkerState>) -> Handlers<WorkerState> {
                handlers.register($run)
            }
        })*

        #[cfg(test)]
        const BOUND_KINDS: &[&str] = &[$(<$job as Job>::KIND),*];
    };
}

handled_by! {
    Noop => noop::run,
    InitiateDeposit => initiate_deposit::run,
    ConfirmDeposit => confirm_deposit::run,
    ReleaseEscrow => release_escrow::run,
    AutoRelease => auto_release::run,
    Payout => payout::run,
    Refund => refund::run,
    ProcessWebhook => process_webhook::run,
    PollLightningInvoice => poll_lightning_invoice::run,
    ReconcileMpesa => reconcile_mpesa::run,
    ReconcileFincra => reconcile_fincra::run,
    DeliverEvent => deliver_event::run,
}

/// Every job kind's handler, one per kind of `malipo_jobs::every_job!`.
pub fn handlers() -> Handlers<WorkerState> {
    macro_rules! bind_every {
        ($($job:ty),* $(,)?) => {{
            let handlers = Handlers::default();
            $(let handlers = <$job as Handled>::bind(handlers);)*
            handlers
        }};
    }
    malipo_jobs::every_job!(bind_every)
}

#[cfg(test)]
mod registration_tests;
