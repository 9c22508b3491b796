//! What a job run asks of the queue, and how that becomes the row's next state.

use std::time::Duration;

use malipo_jobs::RetryPolicy;

use super::filter::JobState;

/// The result of one run, as the handler classifies it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// Finished; never run again.
    Done,
    /// Finished, and already marked done inside the transaction that wrote the run's effect
    /// ([`super::JobContext::complete_within`]): the completion writer has nothing to write.
    DoneWithEffect,
    /// Failed in a way another attempt may fix; `after` overrides the backoff (e.g. a provider's
    /// `Retry-After`), still within the policy's attempts.
    Retry {
        /// Why it failed.
        error: String,
        /// The provider's own wait hint, when it gave one.
        after: Option<Duration>,
    },
    /// Failed in a way no retry can fix: dead at once, kept for an operator.
    Permanent {
        /// Why.
        error: String,
    },
    /// Not done yet, nothing failed: run again after `after` without spending an attempt.
    Snooze {
        /// How long to wait.
        after: Duration,
    },
}

/// The row update a run's outcome resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// `Done`, `Pending` or `Dead`.
    pub state: JobState,
    /// Delay before the next run, for `pending`.
    pub delay: Duration,
    /// Error recorded for operators.
    pub error: Option<String>,
    /// Label of the attempt row (`retry`, `dead`, `permanent`), when one is recorded.
    pub attempt_label: Option<&'static str>,
    /// Whether the run's attempt is given back (snooze).
    pub refund_attempt: bool,
}

/// What one run came to, as metrics and the tally count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// The job is finished.
    Done,
    /// It failed and waits for its backoff.
    Retried,
    /// It asked to run again later without spending an attempt.
    Snoozed,
    /// It is dead.
    Dead,
}

impl RunResult {
    /// The name in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retried => "retried",
            Self::Snoozed => "snoozed",
            Self::Dead => "dead",
        }
    }
}

impl Resolution {
    /// What the run came to.
    pub fn result(&self) -> RunResult {
        match (self.state, self.refund_attempt) {
            (JobState::Done, _) => RunResult::Done,
            (JobState::Dead, _) => RunResult::Dead,
            (_, true) => RunResult::Snoozed,
            _ => RunResult::Retried,
        }
    }
}

/// Longest error text kept per attempt; provider bodies can be large.
pub const MAX_ERROR_LEN: usize = 2_000;

impl JobOutcome {
    /// Resolves this outcome for a job that has now run `attempts` times under `policy`;
    /// `unit_sample` in `[0, 1)` draws the jitter.
    pub fn resolve(
        &self,
        attempts: i32,
        max_attempts: i32,
        policy: &RetryPolicy,
        unit_sample: f64,
    ) -> Resolution {
        match self {
            Self::Done | Self::DoneWithEffect => Resolution {
                state: JobState::Done,
                delay: Duration::ZERO,
                error: None,
                attempt_label: None,
                refund_attempt: false,
            },
            Self::Snooze { after } => Resolution {
                state: JobState::Pending,
                delay: *after,
                error: None,
                attempt_label: None,
                refund_attempt: true,
            },
            Self::Permanent { error } => Resolution {
                state: JobState::Dead,
                delay: Duration::ZERO,
                error: Some(bounded(error)),
                attempt_label: Some("permanent"),
                refund_attempt: false,
            },
            Self::Retry { error, after } => {
                if attempts >= max_attempts {
                    return Resolution {
                        state: JobState::Dead,
                        delay: Duration::ZERO,
                        error: Some(bounded(&format!(
                            "attempts exhausted ({attempts}/{max_attempts}): {error}"
                        ))),
                        attempt_label: Some("exhausted"),
                        refund_attempt: false,
                    };
                }
                let backoff = policy.delay(attempts.max(1) as u32, unit_sample);
                let delay = after.map_or(backoff, |hint| hint.max(backoff));
                Resolution {
                    state: JobState::Pending,
                    delay,
                    error: Some(bounded(error)),
                    attempt_label: Some("retry"),
                    refund_attempt: false,
                }
            }
        }
    }
}

fn bounded(error: &str) -> String {
    if error.len() <= MAX_ERROR_LEN {
        return error.to_owned();
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &error[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy =
        RetryPolicy::new(3, Duration::from_secs(2), Duration::from_secs(60));

    #[test]
    fn retry_backs_off_then_dies_when_exhausted() {
        let retry = JobOutcome::Retry {
            error: "boom".into(),
            after: None,
        };
        let first = retry.resolve(1, 3, &POLICY, 0.5);
        assert_eq!(
            (first.state, first.delay),
            (JobState::Pending, Duration::from_secs(1))
        );
        let second = retry.resolve(2, 3, &POLICY, 0.5);
        assert_eq!(second.delay, Duration::from_secs(2));
        let last = retry.resolve(3, 3, &POLICY, 0.5);
        assert_eq!(last.state, JobState::Dead);
        assert!(
            last.error
                .as_deref()
                .is_some_and(|e| e.contains("exhausted") && e.contains("boom"))
        );
    }

    #[test]
    fn permanent_dies_at_once_and_snooze_refunds() {
        assert_eq!(
            JobOutcome::Permanent { error: "no".into() }
                .resolve(1, 3, &POLICY, 0.1)
                .state,
            JobState::Dead
        );
        let snooze = JobOutcome::Snooze {
            after: Duration::from_secs(5),
        }
        .resolve(3, 3, &POLICY, 0.1);
        assert_eq!(
            (snooze.state, snooze.refund_attempt),
            (JobState::Pending, true)
        );
    }

    #[test]
    fn provider_hint_is_a_floor() {
        let retry = JobOutcome::Retry {
            error: "429".into(),
            after: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            retry.resolve(1, 3, &POLICY, 0.0).delay,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_LEN);
        let resolved = JobOutcome::Permanent { error: long }.resolve(1, 1, &POLICY, 0.0);
        assert!(resolved.error.is_some_and(|e| e.len() <= MAX_ERROR_LEN + 3));
    }
}
