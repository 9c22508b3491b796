//! Opaque page cursors: keyset pagination on a row id, newest first.
//!
//! The cursor carries the last id a page showed; the next page is every row with a smaller id.
//! Unlike an offset it stays correct while rows are inserted or change state between pages.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::OpsError;

/// Encodes the position after `last_id` in a listing called `scope` (`jobs`, `audit`).
pub fn encode(scope: &str, last_id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{scope}:{last_id}"))
}

/// Decodes a cursor issued by [`encode`] for the same `scope`.
pub fn decode(scope: &str, cursor: &str) -> Result<i64, OpsError> {
    let invalid = || {
        OpsError::Invalid(format!(
            "cursor `{cursor}` is not a {scope} cursor this server issued"
        ))
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(scope)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|id| id.parse().ok())
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_others() {
        assert_eq!(decode("jobs", &encode("jobs", 42)).ok(), Some(42));
        assert!(decode("audit", &encode("jobs", 42)).is_err());
        assert!(decode("jobs", "not base64!").is_err());
        assert!(decode("jobs", &URL_SAFE_NO_PAD.encode("jobs:x")).is_err());
    }
}
