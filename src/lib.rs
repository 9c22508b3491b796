//! malipo: payment orchestration for escrow marketplaces — intents, provider webhooks, a
//! PostgreSQL job queue driving apalis workers, and the operator surface around them.

pub mod domain;
pub mod sandbox;
