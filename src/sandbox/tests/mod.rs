//! Tests of the fakes over HTTP.
