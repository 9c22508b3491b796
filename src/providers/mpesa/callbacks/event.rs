//! What a stored Daraja callback means to malipo. Daraja callbacks are claims, except a
//! Transaction Status result, which answers malipo's own query about a payout.

use super::{
    parse_b2c_result, parse_b2c_timeout, parse_c2b, parse_stk_callback,
    parse_transaction_status_result,
};
use crate::{
    domain::ProviderKind,
    providers::{ProviderEvent, TransferCheck, payload::PayloadError},
};

/// The Daraja callbacks malipo stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// An STK Push result.
    Stk,
    /// A C2B confirmation.
    C2bConfirmation,
    /// A B2C result.
    B2cResult,
    /// A B2C queue timeout.
    B2cTimeout,
    /// A Transaction Status result.
    StatusResult,
}

/// What a stored `callback` body means. `subject` is the payout reference a Transaction Status
/// result's URL named (the result itself names only the query, unless it echoes `Occasion`).
pub fn interpret(
    callback: Callback,
    raw_body: &[u8],
    subject: Option<&str>,
) -> Result<ProviderEvent, PayloadError> {
    Ok(match callback {
        // A claim: STK Push Query decides.
        Callback::Stk => {
            let callback = parse_stk_callback(raw_body)?;
            ProviderEvent::DepositClaim {
                provider: ProviderKind::Mpesa,
                claim: callback.status(),
                handle: callback.checkout_request_id,
            }
        }
        // A claim: Transaction Status is asked, and its answer comes back as a status result.
        Callback::B2cResult => {
            let result = parse_b2c_result(raw_body)?;
            ProviderEvent::TransferClaim {
                provider: ProviderKind::Mpesa,
                claim: Some(result.status()),
                reference: result.originator_conversation_id,
                next: TransferCheck::AskAndAwait,
            }
        }
        Callback::StatusResult => status_result(raw_body, subject)?,
        Callback::C2bConfirmation => {
            let payment = parse_c2b(raw_body)?;
            ProviderEvent::OffChannelPayment {
                provider: ProviderKind::Mpesa,
                receipt: payment.trans_id,
                amount: payment.amount,
                account_reference: payment.bill_ref_number,
            }
        }
        // Whether the request was processed is unknown; the payout job keeps asking.
        Callback::B2cTimeout => {
            let timeout = parse_b2c_timeout(raw_body)?;
            ProviderEvent::NoAction(format!(
                "queue timeout for {}: the payout job keeps checking the transfer's status",
                timeout.originator_conversation_id
            ))
        }
    })
}

/// The answer to malipo's Transaction Status query, about the payout its URL (or its echoed
/// `Occasion`) names.
fn status_result(raw_body: &[u8], subject: Option<&str>) -> Result<ProviderEvent, PayloadError> {
    let result = parse_transaction_status_result(raw_body)?;
    let Some(reference) = subject.map(str::to_owned).or(result.occasion.clone()) else {
        return Err(PayloadError::Missing("Occasion"));
    };
    Ok(match result.transfer_status() {
        Some(status) => ProviderEvent::TransferAnswer { reference, status },
        None => ProviderEvent::NoAction("transaction status result is not conclusive".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::{Currency, Money},
        providers::{DepositStatus, TransferStatus},
    };

    #[test]
    fn an_stk_callback_claims_its_status() {
        let body = br#"{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}"#;
        assert_eq!(
            interpret(Callback::Stk, body, None),
            Ok(ProviderEvent::DepositClaim {
                provider: ProviderKind::Mpesa,
                handle: "ws_CO_1".into(),
                claim: DepositStatus::Failed {
                    code: "1032".into(),
                    reason: "Request cancelled by user".into(),
                },
            })
        );
    }

    #[test]
    fn a_b2c_result_is_a_claim_to_ask_about_and_await() {
        let body = br#"{"Result":{"ResultCode":2001,"ResultDesc":"bad initiator","OriginatorConversationID":"po_1"}}"#;
        assert_eq!(
            interpret(Callback::B2cResult, body, None),
            Ok(ProviderEvent::TransferClaim {
                provider: ProviderKind::Mpesa,
                reference: "po_1".into(),
                claim: Some(TransferStatus::Failed {
                    reason: "2001: bad initiator".into()
                }),
                next: TransferCheck::AskAndAwait,
            })
        );
    }

    #[test]
    fn a_status_result_answers_for_the_payout_its_url_names() {
        let body = br#"{"Result":{"ResultCode":0,"ResultDesc":"ok","OriginatorConversationID":"q1",
 "ResultParameters":{"ResultParameter":[{"Key":"ReceiptNo","Value":"MBN31H462N"},{"Key":"TransactionStatus","Value":"Completed"}]}}}"#;
        assert_eq!(
            interpret(Callback::StatusResult, body, Some("po_1")),
            Ok(ProviderEvent::TransferAnswer {
                reference: "po_1".into(),
                status: TransferStatus::Succeeded {
                    provider_ref: "MBN31H462N".into()
                },
            })
        );
        assert_eq!(
            interpret(Callback::StatusResult, body, None),
            Err(PayloadError::Missing("Occasion"))
        );
        let unknown = br#"{"Result":{"ResultCode":2032,"ResultDesc":"no such receipt","OriginatorConversationID":"q2"}}"#;
        assert_eq!(
            interpret(Callback::StatusResult, unknown, Some("po_2")),
            Ok(ProviderEvent::TransferAnswer {
                reference: "po_2".into(),
                status: TransferStatus::NotFound,
            })
        );
        let query_failed =
            br#"{"Result":{"ResultCode":2001,"ResultDesc":"bad","OriginatorConversationID":"q3"}}"#;
        assert!(matches!(
            interpret(Callback::StatusResult, query_failed, Some("po_3")),
            Ok(ProviderEvent::NoAction(_))
        ));
    }

    #[test]
    fn a_c2b_confirmation_is_an_off_channel_payment() {
        let body = br#"{"TransactionType":"Pay Bill","TransID":"RKL51ZDR4F","TransAmount":"5.00","BusinessShortCode":"600966","BillRefNumber":"ACC1","MSISDN":"2547 ***** 126"}"#;
        assert_eq!(
            interpret(Callback::C2bConfirmation, body, None),
            Ok(ProviderEvent::OffChannelPayment {
                provider: ProviderKind::Mpesa,
                receipt: "RKL51ZDR4F".into(),
                amount: Money::from_minor(500, Currency::Kes),
                account_reference: "ACC1".into(),
            })
        );
    }
}
