//! The LNbits HTTP client: invoices to receive (invoice key), payments out (admin key), and
//! checks by payment hash. Sats go out; msat come back and must be whole sats.

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use super::{
    bolt11,
    wire::{CreateInvoice, ErrorBody, Extra, PayInvoice, Payment, PaymentCheck},
};
use crate::{
    domain::{Currency, Money},
    providers::{
        DepositRequest, DepositStatus, Destination, HttpSettings, NextAction, ProviderError,
        Secret, TransferRequest, TransferStatus,
        config::{LnbitsConfig, LnbitsWebhook},
        http::{Effect, HttpClient, Reply, excerpt, per_second, status_error, undecodable},
    },
};

/// LNbits caps memos at 640 characters.
const MEMO_MAX: usize = 640;

/// Talks to one LNbits wallet.
#[derive(Debug, Clone)]
pub struct LnbitsClient {
    http: HttpClient,
    base_url: String,
    invoice_key: Secret,
    admin_key: Option<Secret>,
    webhook: LnbitsWebhook,
    invoice_expiry: std::time::Duration,
}

impl LnbitsClient {
    /// A client for the configured wallet.
    pub fn new(config: &LnbitsConfig, http: &HttpSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new("lnbits", http, per_second(config.rate_per_sec))?,
            base_url: config.base_url.clone(),
            invoice_key: config.invoice_key.clone(),
            admin_key: config.admin_key.clone(),
            webhook: config.webhook.clone(),
            invoice_expiry: config.invoice_expiry,
        })
    }

    /// The webhook (and its path token) sent with each invoice.
    pub fn webhook(&self) -> &LnbitsWebhook {
        &self.webhook
    }

    /// `POST /api/v1/payments` with `out: false`: an invoice for the deposit. Repeating it
    /// only makes another invoice, so a lost answer is retryable.
    #[tracing::instrument(skip_all, fields(provider = "lnbits", reference = %request.reference))]
    pub async fn create_invoice(
        &self,
        request: &DepositRequest,
    ) -> Result<NextAction, ProviderError> {
        let sats = sats(&request.amount)?;
        let memo: String = request.description.chars().take(MEMO_MAX).collect();
        let body = CreateInvoice {
            out: false,
            amount: sats,
            unit: "sat",
            memo: &memo,
            expiry: self.invoice_expiry.as_secs(),
            webhook: self.webhook.url(),
            extra: Extra {
                reference: &request.reference,
                intent_id: request.intent_id.to_string(),
            },
        };
        let effect = Effect::Repeatable;
        let call = self
            .request(Method::POST, "/api/v1/payments", &self.invoice_key)
            .json(&body);
        let payment: Payment = self.call(call, effect).await?.ok_or_else(|| {
            ProviderError::retryable("LNbits answered 404 to creating an invoice")
        })?;
        check_hash(&payment.payment_hash)?;
        let bolt11 = payment
            .payment_request
            .or(payment.bolt11)
            .ok_or_else(|| undecodable(effect, "no payment_request or bolt11"))?;
        let expires_at = payment
            .expiry
            .as_deref()
            .and_then(parse_time)
            .unwrap_or_else(|| Utc::now() + chrono::Duration::seconds(self.expiry_secs()));
        Ok(NextAction::LightningInvoice {
            bolt11,
            payment_hash: payment.payment_hash,
            expires_at,
        })
    }

    /// `GET /api/v1/payments/{hash}` with the invoice key. Paid means `paid: true`, with the
    /// amount from `details.amount` (msat, a whole number of sats or the answer is refused);
    /// unpaid past its expiry means expired.
    #[tracing::instrument(skip_all, fields(provider = "lnbits", payment_hash = %payment_hash))]
    pub async fn check_invoice(
        &self,
        payment_hash: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<DepositStatus, ProviderError> {
        check_hash(payment_hash)?;
        let Some(check) = self.fetch(payment_hash).await? else {
            return Ok(DepositStatus::Failed {
                code: "not_found".into(),
                reason: "LNbits has no such invoice".into(),
            });
        };
        if check.paid {
            let details = check.details.ok_or_else(|| {
                ProviderError::permanent(
                    "paid invoice without details: the invoice key does not own it",
                )
            })?;
            let msat = details
                .amount
                .ok_or_else(|| ProviderError::permanent("paid invoice without an amount"))?;
            if msat <= 0 || msat % 1000 != 0 {
                return Err(ProviderError::permanent(format!(
                    "amount mismatch: {msat} msat is not a whole number of sats"
                )));
            }
            return Ok(DepositStatus::Succeeded {
                amount: Money::from_minor(msat / 1000, Currency::Sat),
                provider_ref: payment_hash.to_owned(),
            });
        }
        let expiry = check
            .details
            .as_ref()
            .and_then(|details| details.expiry.as_deref())
            .and_then(parse_time)
            .or(expires_at);
        if expiry.is_some_and(|expiry| expiry <= Utc::now()) {
            return Ok(DepositStatus::Expired);
        }
        Ok(match check.status.as_deref() {
            Some("failed") => DepositStatus::Failed {
                code: "failed".into(),
                reason: "LNbits marked the invoice failed".into(),
            },
            _ => DepositStatus::Pending,
        })
    }

    /// `POST /api/v1/payments` with the admin key and `out: true`. The invoice must ask for
    /// exactly the transfer's amount. No idempotency key exists: a lost answer (or a 5xx) is in
    /// doubt and must be checked by payment hash before anything else.
    #[tracing::instrument(skip_all, fields(provider = "lnbits", reference = %request.reference))]
    pub async fn pay(&self, request: &TransferRequest) -> Result<TransferStatus, ProviderError> {
        let admin_key = self.admin_key.as_ref().ok_or_else(|| {
            ProviderError::permanent("Lightning payouts are off: set LNBITS_ADMIN_KEY")
        })?;
        let (bolt11, invoice) = payout_invoice(request)?;
        let sats = sats(&request.amount)?;
        if invoice.amount_msat != Some(sats.unsigned_abs() * 1000) {
            return Err(ProviderError::permanent(format!(
                "invoice asks for {:?} msat, the transfer is {} sat",
                invoice.amount_msat, sats
            )));
        }
        let body = PayInvoice { out: true, bolt11 };
        let effect = Effect::UnkeyedPayment;
        let call = self
            .request(Method::POST, "/api/v1/payments", admin_key)
            .json(&body);
        let payment: Payment = self
            .call(call, effect)
            .await?
            .ok_or_else(|| ProviderError::in_doubt("LNbits answered 404 to a payment"))?;
        Ok(match payment.status.as_deref() {
            Some("success") => TransferStatus::Succeeded {
                provider_ref: invoice.payment_hash,
            },
            Some("failed") => TransferStatus::Failed {
                reason: "LNbits could not pay the invoice".into(),
            },
            _ => TransferStatus::Pending,
        })
    }

    /// Where a payout stands, by the payment hash of its invoice.
    #[tracing::instrument(skip_all, fields(provider = "lnbits", reference = %request.reference))]
    pub async fn check_payment(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        let (_, invoice) = payout_invoice(request)?;
        let Some(check) = self.fetch(&invoice.payment_hash).await? else {
            return Ok(TransferStatus::NotFound);
        };
        Ok(match (check.paid, check.status.as_deref()) {
            (true, _) => TransferStatus::Succeeded {
                provider_ref: invoice.payment_hash,
            },
            (false, Some("failed")) => TransferStatus::Failed {
                reason: "LNbits could not pay the invoice".into(),
            },
            _ => TransferStatus::Pending,
        })
    }

    async fn fetch(&self, payment_hash: &str) -> Result<Option<PaymentCheck>, ProviderError> {
        let path = format!("/api/v1/payments/{payment_hash}");
        let call = self.request(Method::GET, &path, &self.invoice_key);
        self.call(call, Effect::Repeatable).await
    }

    fn request(&self, method: Method, path: &str, key: &Secret) -> RequestBuilder {
        self.http
            .client()
            .request(method, format!("{}{path}", self.base_url))
            .header("X-API-KEY", key.expose())
    }

    /// Sends and reads a success body; `None` for 404.
    async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        effect: Effect,
    ) -> Result<Option<T>, ProviderError> {
        let Reply {
            status,
            headers,
            body,
        } = self.http.send(request, effect).await?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map(Some)
                .map_err(|error| undecodable(effect, error));
        }
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let error: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        let detail = error
            .detail
            .map(|detail| {
                detail
                    .as_str()
                    .map_or_else(|| detail.to_string(), str::to_owned)
            })
            .unwrap_or_else(|| excerpt(&body));
        Err(status_error(status, &headers, effect, &detail))
    }

    fn expiry_secs(&self) -> i64 {
        i64::try_from(self.invoice_expiry.as_secs()).unwrap_or(i64::MAX)
    }
}

/// The payout's invoice, decoded.
fn payout_invoice(request: &TransferRequest) -> Result<(&str, bolt11::Invoice), ProviderError> {
    let Destination::Lightning { bolt11 } = &request.destination else {
        return Err(ProviderError::permanent(
            "LNbits pays only Lightning invoices",
        ));
    };
    let invoice = bolt11::decode(bolt11)
        .map_err(|error| ProviderError::permanent(format!("bad invoice: {error}")))?;
    Ok((bolt11, invoice))
}

/// Whole, positive sats.
fn sats(amount: &Money) -> Result<i64, ProviderError> {
    if amount.currency() != Currency::Sat {
        return Err(ProviderError::permanent(format!(
            "LNbits moves SAT, not {}",
            amount.currency()
        )));
    }
    amount
        .minor_units()
        .filter(|sats| *sats > 0)
        .ok_or_else(|| ProviderError::permanent(format!("{amount} is not a payable amount")))
}

/// The hash goes into a URL path.
fn check_hash(payment_hash: &str) -> Result<(), ProviderError> {
    if bolt11::is_payment_hash(payment_hash) {
        Ok(())
    } else {
        Err(ProviderError::permanent(format!(
            "`{payment_hash}` is not a payment hash"
        )))
    }
}

/// LNbits writes times as RFC 3339, or naive (UTC) in older versions.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|naive| naive.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_styles() {
        let expected = DateTime::parse_from_rfc3339("2026-03-20T11:41:02Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(parse_time("2026-03-20T11:41:02+00:00"), Some(expected));
        assert_eq!(parse_time("2026-03-20 11:41:02"), Some(expected));
        assert_eq!(parse_time("2026-03-20T11:41:02.000"), Some(expected));
        assert_eq!(parse_time("soon"), None);
    }
}
