//! The STK password and the Nairobi-time timestamps Daraja signs and sends.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// Africa/Nairobi: UTC+3 all year (no daylight saving), so a fixed offset is exact.
pub const NAIROBI: FixedOffset = match FixedOffset::east_opt(3 * 3600) {
    Some(offset) => offset,
    None => panic!("+03:00 is a valid offset"),
};

const FORMAT: &str = "%Y%m%d%H%M%S";

/// `YYYYMMDDHHmmss` in Nairobi time, as STK Push and Query expect.
pub fn timestamp(now: DateTime<Utc>) -> String {
    now.with_timezone(&NAIROBI).format(FORMAT).to_string()
}

/// `base64(shortcode + passkey + timestamp)`.
pub fn stk_password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
    STANDARD.encode(format!("{shortcode}{passkey}{timestamp}"))
}

/// Reads a Daraja `YYYYMMDDHHmmss` (Nairobi time), as in `TransactionDate` and `TransTime`.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text.trim(), FORMAT).ok()?;
    Some(
        NAIROBI
            .from_local_datetime(&local)
            .single()?
            .with_timezone(&Utc),
    )
}

/// Reads B2C's `TransactionCompletedDateTime` (`06.07.2024 22:48:52`, day first, Nairobi time).
pub fn parse_dotted(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text.trim(), "%d.%m.%Y %H:%M:%S").ok()?;
    Some(
        NAIROBI
            .from_local_datetime(&local)
            .single()?
            .with_timezone(&Utc),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

    #[test]
    fn password_vector() {
        assert_eq!(
            stk_password("174379", PASSKEY, "20210628092408"),
            "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4"
        );
    }

    #[test]
    fn timestamps_are_nairobi_time() {
        let utc = Utc
            .with_ymd_and_hms(2021, 6, 28, 6, 24, 8)
            .single()
            .expect("valid");
        assert_eq!(timestamp(utc), "20210628092408");
        let late = Utc
            .with_ymd_and_hms(2024, 12, 31, 22, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(timestamp(late), "20250101010000");
        assert_eq!(parse_timestamp("20210628092408"), Some(utc));
        assert_eq!(parse_timestamp("2021-06-28"), None);
        let completed = Utc
            .with_ymd_and_hms(2024, 7, 6, 19, 48, 52)
            .single()
            .expect("valid");
        assert_eq!(parse_dotted("06.07.2024 22:48:52"), Some(completed));
    }
}
