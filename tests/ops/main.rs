//! The operator surface against a real PostgreSQL: dead letters, retry, discard, bulk actions by
//! filter, pause across worker processes, drain, audit, metrics, OpenAPI and /ops access rules.

mod access;
mod bulk;
mod dead_letters;
mod drain;
mod metrics;
mod pause;
mod sandbox_drain;
mod support;
