//! Which jobs an operator means: a job's state and a validated filter over the queue's table,
//! applied in SQL as one fixed `WHERE` fragment (`admin`). Parsing operator text into a filter
//! is `ops::filter`'s.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    pub fn parse(text: &str) -> Result<Self, UnknownJobState> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text.trim())
            .ok_or_else(|| UnknownJobState(text.to_owned()))
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of a job's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state `{0}` is not one of pending, running, done, dead, discarded")]
pub struct UnknownJobState(pub String);

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
