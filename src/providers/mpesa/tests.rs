//! HTTP-level tests of the mpesa client against canned answers on loopback.
