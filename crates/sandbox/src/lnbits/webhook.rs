//! The LNbits webhook: POSTed once on settlement, unsigned, never retried. Since v1.1.0 the
//! body is a JSON string literal: LNbits passes pydantic's `payment.json()` (a `str`) to
//! httpx's `json=`, which encodes it again. The inner text is written the way Python's
//! `json.dumps` writes it — `", "` and `": "` separators, non-ASCII as `\uXXXX`.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{Formatter, Serializer};

use super::LnbitsWebhookBody;

/// The webhook body for a Payment's JSON.
pub(crate) fn body(style: LnbitsWebhookBody, payment: &Value) -> serde_json::Result<Vec<u8>> {
    match style {
        LnbitsWebhookBody::Object => serde_json::to_vec(payment),
        LnbitsWebhookBody::StringLiteral => serde_json::to_vec(&python_dumps(payment)?),
    }
}

/// `json.dumps(value)` as Python writes it.
pub(crate) fn python_dumps(value: &Value) -> serde_json::Result<String> {
    let mut out = Vec::new();
    value.serialize(&mut Serializer::with_formatter(&mut out, PythonFormatter))?;
    // Every byte written is ASCII.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // ensure_ascii: everything beyond ASCII as UTF-16 `\uXXXX` escapes.
        for ch in fragment.chars() {
            if ch.is_ascii() {
                writer.write_all(ch.encode_utf8(&mut [0; 4]).as_bytes())?;
            } else {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_like_python_json_dumps() {
        let value = json!({"a": [1, 2], "b": "caf\u{e9} \u{1f600}", "c": null});
        assert_eq!(
            python_dumps(&value).unwrap(),
            r#"{"a": [1, 2], "b": "caf\u00e9 \ud83d\ude00", "c": null}"#
        );
    }

    #[test]
    fn string_literal_body_decodes_twice() {
        let payment = json!({"payment_hash": "ab", "amount": 1000});
        let body = body(LnbitsWebhookBody::StringLiteral, &payment).unwrap();
        assert!(body.starts_with(b"\"{\\\"amount\\\": 1000"));
        let inner: String = serde_json::from_slice(&body).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&inner).unwrap(), payment);
    }
}
