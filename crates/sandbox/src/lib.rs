//! Faithful fake payment providers — Paystack, Safaricom M-Pesa Daraja and LNbits — served by
//! an in-process axum server on loopback, for integration tests, `malipo run --sandbox`, the
//! chaos suite and benchmarks. Wire shapes follow `PROVIDERS.md` §1–§3 and §6; fault knobs,
//! outcome scripts and counters make the bad days reproducible. The fakes also keep their own
//! book of the money they moved ([`FakeProviders::money`]): every charge paid and every
//! transfer or refund performed, with amounts and outcomes, so a test can count the money at
//! the providers rather than trust malipo's database. Among the faults are lying callbacks
//! (valid tokens and signatures, sent before the truth); the query APIs never lie.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use malipo_sandbox::{FakeProviders, SandboxSettings, StkOutcome, StkResult};
//! let fakes = FakeProviders::start(SandboxSettings::default()).await?;
//! fakes.mpesa_script_next_stk(StkOutcome::silent(StkResult::Success));
//! let base = fakes.mpesa_base_url(); // point the Daraja client here
//! # let _ = base; Ok(()) }
//! ```

mod counters;
mod delivery;
mod fault_layer;
mod faults;
mod fincra;
mod hooks;
mod limiter;
mod lnbits;
mod money;
mod mpesa;
mod paystack;
mod script;
mod server;
mod settings;
mod shared;
#[cfg(test)]
mod tests;

pub use counters::CountersSnapshot;
pub use faults::{FaultSettings, Faults, Provider};
pub use fincra::{FincraPayoutOutcome, FincraSettings};
pub use lnbits::{ExpiredInvoiceStatus, LnbitsWebhookBody, OutgoingOutcome, bolt11::payee_invoice};
pub use money::{
    MoneyChannel, MoneyDirection, MoneyMovement, MoneyOutcome, MoneySnapshot, MoneyTotals,
};
pub use mpesa::{B2cOutcome, B2cResult, C2bOutcome, C2bPayment, StkMatch, StkOutcome, StkResult};
pub use paystack::{
    ChargeOutcome, DuplicateTransferPolicy, RefundEventShape, RefundOutcome, TransferOutcome,
    paystack_signature, refund_key,
};
pub use server::FakeProviders;
pub use settings::{LnbitsSettings, MpesaSettings, PaystackSettings, SandboxSettings};
