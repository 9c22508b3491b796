//! Kenyan mobile numbers: one type for the API (which takes Daraja's canonical form and nothing
//! else), the provider's callbacks (which may spell a number any common way) and logs (which
//! never show one whole).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Kenyan mobile number in Daraja's form, `2547XXXXXXXX` or `2541XXXXXXXX`. `Debug` masks it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(String);

/// What the API accepts: the canonical form only, so a stored number reads back as sent.
impl TryFrom<String> for Msisdn {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let valid = value.len() == 12
            && value.bytes().all(|b| b.is_ascii_digit())
            && (value.starts_with("2547") || value.starts_with("2541"));
        if valid {
            Ok(Self(value))
        } else {
            Err("must be a Kenyan MSISDN like 254708374149 (12 digits, 2547… or 2541…)".to_owned())
        }
    }
}

impl From<Msisdn> for String {
    fn from(msisdn: Msisdn) -> Self {
        msisdn.0
    }
}

impl Msisdn {
    /// Reads a number as people and providers write it: `2547…`, `+2547…`, `07…`, `7…` (and
    /// the `1` ranges), with spaces or dashes; the result is the canonical form.
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

    /// The digits, `2547XXXXXXXX`.
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
    fn parse_normalizes_kenyan_formats() {
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
    fn the_api_takes_the_canonical_form_only() {
        assert!(Msisdn::try_from("254708374149".to_owned()).is_ok());
        assert!(Msisdn::try_from("254110123456".to_owned()).is_ok());
        assert!(Msisdn::try_from("0708374149".to_owned()).is_err());
        assert!(Msisdn::try_from("+254708374149".to_owned()).is_err());
        assert!(Msisdn::try_from("254808374149".to_owned()).is_err());
    }

    #[test]
    fn masks_for_logs() {
        let msisdn = Msisdn::parse("254708374149").expect("valid");
        assert_eq!(msisdn.masked(), "2547****149");
        assert_eq!(format!("{msisdn:?}"), "2547****149");
        assert_eq!(mask("123"), "****");
    }
}
