//! The front door under abuse (issue 16): slow and idle connections, connection floods,
//! unauthenticated floods, roles and key management, exact idempotency, problem+json from the
//! HTTP layer, header hygiene. Loopback only; every wait is bounded.

mod floods;
mod hygiene;
mod idempotency;
mod keys;
mod protocol;
mod roles;
mod slowloris;
mod support;
