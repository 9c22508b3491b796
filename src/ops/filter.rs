//! Job filters: parsed at the edge from text (query string, JSON body, CLI flags) into types,
//! with errors naming the field, and applied in SQL as one fixed `WHERE` fragment
//! (`queue::admin`).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::OpsError;

/// A job row's state.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum JobState {
    /// Waiting to run (now, or after a delay or backoff).
    Pending,
    /// Claimed by a worker.
    Running,
    /// Finished.
    Done,
    /// Failed for good; kept until an operator acts.
    Dead,
    /// Cancelled by an operator; kept as a record.
    Discarded,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Running,
        Self::Done,
        Self::Dead,
        Self::Discarded,
    ];

    /// The name stored in `malipo_jobs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
            Self::Discarded => "discarded",
        }
    }

    /// Parses a stored or typed state name.
    pub fn parse(text: &str) -> Result<Self, OpsError> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text.trim())
            .ok_or_else(|| {
                OpsError::Invalid(format!(
                    "state `{text}` is not one of pending, running, done, dead, discarded"
                ))
            })
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// A validated job filter; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JobFilter {
    /// Only this queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Only this kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only this state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// Only jobs of this intent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<Uuid>,
    /// Created at or after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
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
        let state = text(input.state).map(|s| JobState::parse(&s)).transpose()?;
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

impl JobFilter {
    /// Whether the filter narrows anything at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The filter as JSON, for the audit log.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
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
