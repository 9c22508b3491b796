//! Fincra checkout collections: opening a hosted checkout (`POST /checkout-core/payments`,
//! authenticated by `x-pub-key`) and verifying a payment by the merchant reference malipo
//! opened it under (`GET /checkout/payments/merchant-reference/{reference}`). Both shapes are
//! UNCERTAIN (`checkout_wire.rs`). Opening a checkout moves no money, so a lost answer is only
//! retryable; a reference Fincra already holds is verified instead of opened twice.

use std::str::FromStr;

use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;

use super::{FincraClient, check_reference, fincra_currency};
use crate::{
    domain::{Currency, Money},
    providers::{
        Buyer, DepositCheck, DepositInitiation, DepositRequest, DepositStatus, NextAction,
        ProviderError,
        fincra::{
            checkout_wire::{
                CheckoutBody, CheckoutCustomer, CheckoutEnvelope, CheckoutPayment, OpenedCheckout,
            },
            wire::ExactNumber,
        },
        http::{Effect, Reply, excerpt, status_error, undecodable},
    },
};

/// What a buyer may pay with on the hosted page: card and bank transfer for NGN, M-Pesa for KES.
const NGN_METHODS: &[&str] = &["card", "bank_transfer"];
const KES_METHODS: &[&str] = &["mobile_money"];

impl FincraClient {
    /// Whether checkout collections are possible (the public key is set).
    pub fn collects(&self) -> bool {
        self.public_key.is_some()
    }

    /// Opens a hosted checkout for `request` under our reference; the buyer is sent to its link.
    #[tracing::instrument(skip_all, fields(provider = "fincra", reference = %request.reference))]
    pub async fn open_checkout(
        &self,
        request: &DepositRequest,
    ) -> Result<DepositInitiation, ProviderError> {
        let Some(public_key) = &self.public_key else {
            return Err(ProviderError::permanent(
                "Fincra collections need FINCRA_PUBLIC_KEY",
            ));
        };
        check_reference(&request.reference)?;
        let Buyer::Email(email) = &request.buyer else {
            return Err(ProviderError::permanent(
                "a Fincra checkout needs the buyer's email",
            ));
        };
        let currency = fincra_currency(request.amount.currency())?;
        let body = CheckoutBody {
            amount: ExactNumber(request.amount.amount()),
            currency,
            customer: CheckoutCustomer {
                // malipo knows the buyer only by email; Fincra asks for a name as well.
                name: email.split('@').next().unwrap_or(email),
                email,
            },
            reference: &request.reference,
            fee_bearer: "business",
            payment_methods: if request.amount.currency() == Currency::Kes {
                KES_METHODS
            } else {
                NGN_METHODS
            },
        };
        let effect = Effect::Repeatable;
        let call = self
            .request(Method::POST, "/checkout-core/payments")
            .header("x-pub-key", public_key.expose())
            .json(&body);
        let reply = self.http.send(call, effect).await?;
        if reply.status.is_success() {
            let opened: OpenedCheckout = taken(&reply, effect)?;
            return Ok(DepositInitiation::Started {
                action: NextAction::CheckoutLink {
                    link: opened.link,
                    reference: request.reference.clone(),
                    fincra_reference: opened.reference.unwrap_or_default(),
                },
            });
        }
        let text = excerpt(&reply.body);
        if reply.status.is_client_error() && text.to_ascii_lowercase().contains("duplicate") {
            // An earlier open reached Fincra and its answer (the link) was lost.
            let check = DepositCheck {
                reference: request.reference.clone(),
                provider_handle: None,
                expected: request.amount,
                expires_at: None,
            };
            let status = self.verify_checkout(&check).await?;
            return Ok(DepositInitiation::AlreadyInitiated { status });
        }
        if matches!(reply.status.as_u16(), 400 | 401 | 403 | 422) {
            return Err(ProviderError::permanent(format!(
                "HTTP {}: {text}",
                reply.status.as_u16()
            )));
        }
        Err(status_error(reply.status, &reply.headers, effect, &text))
    }

    /// Where the payment under our merchant reference stands; 404 means nobody paid (or opened)
    /// it yet, which is "pending" until the intent's deadline.
    #[tracing::instrument(skip_all, fields(provider = "fincra", reference = %check.reference))]
    pub async fn verify_checkout(
        &self,
        check: &DepositCheck,
    ) -> Result<DepositStatus, ProviderError> {
        check_reference(&check.reference)?;
        let effect = Effect::Repeatable;
        let call = self.request(
            Method::GET,
            &format!("/checkout/payments/merchant-reference/{}", check.reference),
        );
        let reply = self.http.send(call, effect).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(DepositStatus::Pending);
        }
        if !reply.status.is_success() {
            return Err(status_error(
                reply.status,
                &reply.headers,
                effect,
                &excerpt(&reply.body),
            ));
        }
        let payment: CheckoutPayment = taken(&reply, effect)?;
        if payment
            .merchant_reference
            .as_deref()
            .is_some_and(|theirs| theirs != check.reference)
        {
            return Err(ProviderError::retryable(
                "the verification answered about another merchant reference",
            ));
        }
        payment_status(payment, &check.reference)
    }
}

/// The data of a taken answer, or an error saying what was wrong with it.
fn taken<T: DeserializeOwned>(reply: &Reply, effect: Effect) -> Result<T, ProviderError> {
    let envelope: CheckoutEnvelope<T> =
        serde_json::from_slice(&reply.body).map_err(|error| undecodable(effect, error))?;
    envelope
        .taken()
        .ok_or_else(|| undecodable(effect, "the answer is not a taken request with data"))
}

/// Fincra's word as malipo's; a paid answer carries the amount and currency Fincra reports,
/// for `escrow::deposit::apply` to compare with the intent.
pub(in crate::providers::fincra) fn payment_status(
    payment: CheckoutPayment,
    reference: &str,
) -> Result<DepositStatus, ProviderError> {
    let provider_ref = payment.reference.unwrap_or_else(|| reference.to_owned());
    match payment.status.to_ascii_lowercase().as_str() {
        "success" | "successful" => {
            let amount = payment
                .amount
                .as_ref()
                .and_then(decimal)
                .ok_or_else(|| ProviderError::retryable("a paid checkout without an amount"))?;
            let currency = payment
                .currency
                .as_deref()
                .and_then(|code| Currency::from_str(code).ok())
                .ok_or_else(|| ProviderError::retryable("a paid checkout without a currency"))?;
            let amount = Money::new(amount, currency).map_err(|error| {
                ProviderError::retryable(format!("a paid checkout's amount: {error}"))
            })?;
            Ok(DepositStatus::Succeeded {
                amount,
                provider_ref,
            })
        }
        "failed" => Ok(DepositStatus::Failed {
            code: "failed".to_owned(),
            reason: "Fincra reports the checkout payment failed".to_owned(),
        }),
        "expired" | "abandoned" => Ok(DepositStatus::Expired),
        _ => Ok(DepositStatus::Pending),
    }
}

/// A JSON number or numeric string as an exact decimal.
fn decimal(value: &serde_json::Value) -> Option<Decimal> {
    match value {
        serde_json::Value::Number(number) => Decimal::from_str(&number.to_string()).ok(),
        serde_json::Value::String(text) => Decimal::from_str(text.trim()).ok(),
        _ => None,
    }
}
