//! HTTP-level tests of the paystack client against canned answers on loopback.
