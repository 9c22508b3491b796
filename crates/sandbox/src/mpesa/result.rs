//! The `{"Result":{…}}` body Daraja POSTs to a `ResultURL` (B2C §2.7, Transaction Status
//! §2.6). Parameter values are kept as written, so numbers like `10116.00` and strings mix
//! the way Daraja mixes them.

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "Result")]
    result: &'a ResultBody,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResultBody {
    pub(crate) result_type: u8,
    pub(crate) result_code: u32,
    pub(crate) result_desc: String,
    #[serde(rename = "OriginatorConversationID")]
    pub(crate) originator_conversation_id: String,
    #[serde(rename = "ConversationID")]
    pub(crate) conversation_id: String,
    #[serde(rename = "TransactionID")]
    pub(crate) transaction_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) result_parameters: Option<Parameters>,
    pub(crate) reference_data: Value,
}

impl ResultBody {
    pub(crate) fn to_bytes(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&Envelope { result: self })
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Parameters {
    #[serde(rename = "ResultParameter")]
    parameter: Vec<Parameter>,
}

impl Parameters {
    pub(crate) fn new(parameter: Vec<Parameter>) -> Self {
        Self { parameter }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Parameter {
    #[serde(rename = "Key")]
    key: &'static str,
    #[serde(rename = "Value")]
    value: Box<RawValue>,
}

/// A string-valued parameter.
pub(crate) fn text(key: &'static str, value: &str) -> serde_json::Result<Parameter> {
    Ok(Parameter {
        key,
        value: RawValue::from_string(serde_json::to_string(value)?)?,
    })
}

/// A number-valued parameter, written exactly as `literal` (e.g. `"10116.00"`).
pub(crate) fn number(key: &'static str, literal: String) -> serde_json::Result<Parameter> {
    Ok(Parameter {
        key,
        value: RawValue::from_string(literal)?,
    })
}
