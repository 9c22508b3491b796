//! Tests of the fakes over HTTP, as a client would see them.

mod faults;
mod fincra;
mod fixtures;
mod lnbits;
mod money;
mod mpesa;
mod mpesa_payouts;
mod paystack;
mod receiver;

use std::time::Duration;

use serde_json::Value;

use super::{LnbitsSettings, MpesaSettings, PaystackSettings, SandboxSettings};

const QUICK: Duration = Duration::from_millis(20);

/// Settings with short delays and no random shape variation; tests turn on what they check.
fn quick() -> SandboxSettings {
    SandboxSettings {
        paystack: PaystackSettings {
            transfer_settle_delay: QUICK,
            refund_settle_delay: QUICK,
            webhook_retry_delay: QUICK,
            ..PaystackSettings::default()
        },
        mpesa: MpesaSettings {
            callback_delay: QUICK,
            expires_in_string_probability: 0.0,
            amount_with_decimals_probability: 0.0,
            balance_item_probability: 0.0,
            ..MpesaSettings::default()
        },
        lnbits: LnbitsSettings {
            outgoing_settle_delay: QUICK,
            ..LnbitsSettings::default()
        },
        ..SandboxSettings::default()
    }
}

/// Status and JSON body of a response.
async fn status_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}
