//! Escrow lifecycles end to end: the real HTTP front and workers against a real PostgreSQL and
//! the provider fakes (PROVIDERS.md), over loopback.

mod auto_release_processes;
mod balance_payee;
mod balances;
mod commission_resend;
mod escrow;
mod escrow_properties;
mod faults;
mod fewer_round_trips;
mod fincra;
mod fincra_banks;
mod fincra_checkout;
mod job_bell;
mod lightning;
mod marketplace;
mod money_truth;
mod mpesa_in_doubt;
mod no_wasted_runs;
mod notify;
mod notify_api;
mod reconcile;
mod refund_lock_order;
mod statement_budget;
mod support;
mod webhooks;
