//! HTTP-level tests of the lnbits client against canned answers on loopback.
