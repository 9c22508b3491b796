//! Why an operator action was refused or failed; HTTP maps each to a status, the CLI prints it.

/// An operator action's failure.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A filter, cursor or argument that does not parse or is out of range; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// A named field of the operator's request is unfit (a destination that cannot receive the
    /// money); nothing was written.
    #[error("{field}: {message}")]
    InvalidField {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// No such job or queue.
    #[error("{0}")]
    NotFound(String),
    /// The job is in a state that does not allow the action (running, done).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Anything else (a drain's runner failing to start).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}
