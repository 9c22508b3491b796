//! Bad input, property-tested and fuzzed: the webhook parsers, signature checks and intent
//! validation never panic and accept only what can be stored, and every malformed, oversized,
//! unsigned or injected request to the HTTP front is a 4xx problem+json that writes nothing.

mod bodies;
mod fuzz;
mod headers;
mod intent_props;
mod parsers;
mod signatures;
mod strategies;
mod support;
mod unstorable;
mod webhooks;
