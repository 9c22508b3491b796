//! The HTTP front against a real PostgreSQL on a loopback listener: auth, intents, idempotency,
//! and bad input answered with problem+json and no writes.

mod bad_input;
mod idempotency;
mod intents;
mod support;
