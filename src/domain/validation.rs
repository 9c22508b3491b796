//! Field-level validation errors, shared by every parser at the edge.

use serde::Serialize;

/// One invalid field of a request body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The field's JSON path, e.g. `payee.payout.msisdn`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Whether `text` may serve as an identifier (a reference, a metadata key, a payee id): no
/// control characters (C0, DEL, C1) and no bidirectional formatting — embeddings and overrides
/// U+202A–U+202E, isolates U+2066–U+2069, the marks U+200E, U+200F and U+061C — which make an
/// identifier display as something other than what it is ("Trojan Source"). Free text (metadata
/// values, names) keeps them: there they are content, not a name.
pub fn is_safe_identifier(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() || is_bidi_formatting(c))
}

/// The invisible characters that change the display order of text around them.
pub fn is_bidi_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_refuse_controls_and_bidi_formatting() {
        assert!(is_safe_identifier("order-981"));
        assert!(is_safe_identifier("agizo-٩٨١"));
        for bad in [
            "order\u{202e}189",
            "a\u{2066}b",
            "a\u{2069}",
            "a\u{200f}b",
            "tab\there",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert!(!is_safe_identifier(bad), "{bad:?}");
        }
    }
}
