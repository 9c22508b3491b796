//! malipo: payment orchestration for escrow marketplaces — intents, provider webhooks, a
//! PostgreSQL job queue driving apalis workers, and the operator surface around them.

// The benchmarks drive the provider fakes: they come with the `sandbox` feature (default).
#[cfg(feature = "sandbox")]
pub mod bench;
pub mod cli;
pub mod clients;
pub mod config;
pub mod db;
pub mod domain;
pub mod escrow;
pub mod http;
pub mod notify;
pub mod ops;
pub mod pg;
pub mod providers;
pub mod queue;
pub mod reconcile;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod worker;

#[cfg(test)]
mod module_boundaries_tests;
