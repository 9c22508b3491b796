//! Kenyan phone numbers as Daraja takes them (`2547XXXXXXXX`), and masking them for logs.

use std::fmt;

/// A Safaricom-format MSISDN: 12 digits, `254` then `7` or `1`.
#[derive(Clone, PartialEq, Eq)]
pub struct Msisdn(String);

impl Msisdn {
    /// Accepts `2547…`, `+2547…`, `07…`, `7…` (and the `1` ranges), with spaces or dashes.
    pub fn parse(input: &str) -> Result<Self, String> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '+'))
            .collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("`{}` is not a phone number", mask(input)));
        }
        let national = if let Some(rest) = digits.strip_prefix("254") {
            rest
        } else if let Some(rest) = digits.strip_prefix('0') {
            rest
        } else {
            digits.as_str()
        };
        if national.len() != 9 || !(national.starts_with('7') || national.starts_with('1')) {
            return Err(format!("`{}` is not a Kenyan mobile number", mask(input)));
        }
        Ok(Self(format!("254{national}")))
    }

    /// The number, `2547XXXXXXXX`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: `2547****149`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Masks a phone number for logs, keeping the first four and last three characters
/// (`254708374149` → `2547****149`); anything too short to keep both is fully masked.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.trim().chars().collect();
    if chars.len() < 8 {
        return "****".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_kenyan_formats() {
        for input in [
            "254708374149",
            "+254708374149",
            "0708374149",
            "708374149",
            "0708 374-149",
        ] {
            assert_eq!(
                Msisdn::parse(input).map(|m| m.0),
                Ok("254708374149".into()),
                "{input}"
            );
        }
        assert_eq!(
            Msisdn::parse("0110123456").map(|m| m.0),
            Ok("254110123456".into())
        );
        assert!(Msisdn::parse("254808374149").is_err());
        assert!(Msisdn::parse("25470837414").is_err());
        assert!(Msisdn::parse("phone").is_err());
    }

    #[test]
    fn masks_for_logs() {
        let msisdn = Msisdn::parse("254708374149").expect("valid");
        assert_eq!(msisdn.masked(), "2547****149");
        assert_eq!(format!("{msisdn:?}"), "2547****149");
        assert_eq!(mask("123"), "****");
    }
}
