//! Percentiles of latency samples.

use std::time::Duration;

use serde::Serialize;

/// p50/p99/max of a set of samples, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Samples taken.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
}

impl Latency {
    /// Summarizes `samples`.
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[index].as_secs_f64() * 1_000.0
        };
        Self {
            samples: samples.len(),
            p50_ms: round(at(0.50)),
            p99_ms: round(at(0.99)),
            max_ms: round(at(1.0)),
        }
    }
}

/// Rounds to two decimals for readable JSON.
pub fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
