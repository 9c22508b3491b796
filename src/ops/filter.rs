//! Job filters as operators type them: parsed at the edge from text (query string, JSON body,
//! CLI flags) into `queue::filter::JobFilter`, with errors naming the field.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::OpsError;
pub use crate::queue::filter::{JobFilter, JobState};

/// A filter as typed by an operator: every field optional text, nothing else accepted.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobFilterInput {
    /// Queue name.
    pub queue: Option<String>,
    /// Job kind (`payout`, `confirm_deposit`, …).
    pub kind: Option<String>,
    /// `pending`, `running`, `done`, `dead` or `discarded`.
    pub state: Option<String>,
    /// The intent the job works on (UUID).
    pub intent_id: Option<String>,
    /// Created at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Created before this instant (RFC 3339).
    pub to: Option<String>,
}

impl TryFrom<JobFilterInput> for JobFilter {
    type Error = OpsError;

    fn try_from(input: JobFilterInput) -> Result<Self, OpsError> {
        let text =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let queue = text(input.queue);
        if let Some(queue) = &queue {
            super::known_queue(queue).map_err(|error| OpsError::Invalid(error.to_string()))?;
        }
        let kind = text(input.kind);
        if let Some(kind) = &kind
            && !malipo_jobs::registry()
                .iter()
                .any(|(name, _, _)| name == kind)
        {
            let known: Vec<&str> = malipo_jobs::registry()
                .iter()
                .map(|(name, _, _)| *name)
                .collect();
            return Err(OpsError::Invalid(format!(
                "kind `{kind}` is not a job kind; known kinds: {}",
                known.join(", ")
            )));
        }
        let state = text(input.state)
            .map(|s| JobState::parse(&s).map_err(|error| OpsError::Invalid(error.to_string())))
            .transpose()?;
        let intent_id = text(input.intent_id)
            .map(|id| {
                Uuid::parse_str(&id)
                    .map_err(|_| OpsError::Invalid(format!("intent_id `{id}` is not a UUID")))
            })
            .transpose()?;
        let from = text(input.from).map(|t| instant("from", &t)).transpose()?;
        let to = text(input.to).map(|t| instant("to", &t)).transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(OpsError::Invalid(format!(
                "from ({from}) must be before to ({to})"
            )));
        }
        Ok(Self {
            queue,
            kind,
            state,
            intent_id,
            from,
            to,
        })
    }
}

fn instant(field: &str, text: &str) -> Result<DateTime<Utc>, OpsError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            OpsError::Invalid(format!(
                "{field} `{text}` is not an RFC 3339 instant such as 2026-01-31T12:00:00Z"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: JobFilterInput) -> Result<JobFilter, OpsError> {
        JobFilter::try_from(input)
    }

    #[test]
    fn filters_parse_and_errors_name_the_field() {
        let filter = parse(JobFilterInput {
            queue: Some("payouts".into()),
            state: Some("dead".into()),
            from: Some("2026-01-01T00:00:00Z".into()),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(filter.state, Some(JobState::Dead));
        assert!(!filter.is_empty());
        let cases = [
            (
                JobFilterInput {
                    queue: Some("payuots".into()),
                    ..Default::default()
                },
                "payuots",
            ),
            (
                JobFilterInput {
                    kind: Some("pay".into()),
                    ..Default::default()
                },
                "kind",
            ),
            (
                JobFilterInput {
                    state: Some("failed".into()),
                    ..Default::default()
                },
                "state",
            ),
            (
                JobFilterInput {
                    intent_id: Some("42".into()),
                    ..Default::default()
                },
                "intent_id",
            ),
            (
                JobFilterInput {
                    to: Some("yesterday".into()),
                    ..Default::default()
                },
                "to",
            ),
            (
                JobFilterInput {
                    from: Some("2026-02-01T00:00:00Z".into()),
                    to: Some("2026-01-01T00:00:00Z".into()),
                    ..Default::default()
                },
                "before",
            ),
        ];
        for (input, named) in cases {
            let error = parse(input).expect_err("invalid").to_string();
            assert!(error.contains(named), "{error} should name {named}");
        }
        assert!(parse(JobFilterInput::default()).expect("empty").is_empty());
    }
}
