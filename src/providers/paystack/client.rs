//! The Paystack HTTP client: initialize and verify deposits, create recipients, transfer and
//! refund. Amounts leave here in kobo (the currency's subunit) and come back as `Money`.

use reqwest::{Method, RequestBuilder, StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;

use super::wire::{
    Envelope, ErrorBody, InitializeBody, InitializeData, Metadata, RecipientBody, RecipientData,
    RefundBody, RefundData, Transaction, TransferBody, TransferData,
};
use crate::{
    domain::{Currency, Money},
    providers::{
        DepositInitiation, DepositRequest, DepositStatus, Destination, HttpSettings, NextAction,
        ProviderError, RefundRequest, RefundStatus, Secret, TransferRequest, TransferStatus,
        config::PaystackConfig,
        http::{Effect, HttpClient, excerpt, per_minute, status_error, undecodable},
        types::Buyer,
    },
};

/// Talks to Paystack with one secret key, within the configured rate limit.
#[derive(Debug, Clone)]
pub struct PaystackClient {
    http: HttpClient,
    base_url: String,
    secret_key: Secret,
}

/// A bank account or mobile-money wallet to register as a transfer recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecipient {
    /// `nuban`, `ghipss`, `mobile_money`, `basa` or `authorization`.
    pub recipient_type: String,
    /// The account holder's name.
    pub name: String,
    /// The account (or wallet) number.
    pub account_number: String,
    /// The bank's (or network's) code, from Paystack's bank list.
    pub bank_code: String,
    /// The account's currency.
    pub currency: Currency,
}

const RECIPIENT_TYPES: [&str; 5] = ["nuban", "ghipss", "mobile_money", "basa", "authorization"];

/// A refusal from Paystack (non-2xx, or `status: false`), kept until the caller decides whether
/// it means something special (a duplicate reference, an unknown transfer).
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    headers: HeaderMap,
    message: String,
}

impl Refusal {
    /// Whether Paystack refused the request itself (4xx, or `status: false`) with these words:
    /// only such refusals are read for meaning; a 5xx is never a verdict.
    fn says(&self, words: &str) -> bool {
        !self.status.is_server_error() && self.message.to_lowercase().contains(words)
    }

    fn into_error(self, effect: Effect) -> ProviderError {
        if self.status.is_success() {
            // A 2xx with `status: false` is a refusal, not a failure to process.
            return ProviderError::permanent(self.message);
        }
        status_error(self.status, &self.headers, effect, &self.message)
    }
}

enum Answer<T> {
    Data(StatusCode, T),
    Refused(Refusal),
}

impl PaystackClient {
    /// A client for the configured account.
    pub fn new(config: &PaystackConfig, http: &HttpSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new("paystack", http, per_minute(config.rate_per_min))?,
            base_url: config.base_url.clone(),
            secret_key: config.secret_key.clone(),
        })
    }

    /// `POST /transaction/initialize`. A reference Paystack already has (a re-run after a lost
    /// answer) is verified instead and answered as [`DepositInitiation::AlreadyInitiated`].
    #[tracing::instrument(skip_all, fields(provider = "paystack", reference = %request.reference))]
    pub async fn initialize(
        &self,
        request: &DepositRequest,
    ) -> Result<DepositInitiation, ProviderError> {
        let Buyer::Email(email) = &request.buyer else {
            return Err(ProviderError::permanent("Paystack needs the buyer's email"));
        };
        check_transaction_reference(&request.reference)?;
        let (amount, currency) = subunits(&request.amount)?;
        let body = InitializeBody {
            email,
            amount,
            currency,
            reference: &request.reference,
            metadata: Metadata {
                intent_id: request.intent_id,
            },
        };
        let effect = Effect::Repeatable;
        let call = self
            .request(Method::POST, "/transaction/initialize")
            .json(&body);
        match self.call::<InitializeData>(call, effect).await? {
            Answer::Data(_, data) => Ok(DepositInitiation::Started {
                action: NextAction::Redirect {
                    authorization_url: data.authorization_url,
                    access_code: data.access_code,
                    reference: data.reference,
                },
            }),
            Answer::Refused(refusal) if refusal.says("duplicate transaction reference") => {
                tracing::info!("reference already initialized; verifying instead");
                let status = self.verify(&request.reference).await?;
                Ok(DepositInitiation::AlreadyInitiated { status })
            }
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// `GET /transaction/verify/{reference}`. Paid only on HTTP 200, `status: true` and
    /// `data.status == "success"`; the amount comes back for the caller to compare.
    #[tracing::instrument(skip_all, fields(provider = "paystack", reference = %reference))]
    pub async fn verify(&self, reference: &str) -> Result<DepositStatus, ProviderError> {
        check_transaction_reference(reference)?;
        let effect = Effect::Repeatable;
        let call = self.request(Method::GET, &format!("/transaction/verify/{reference}"));
        let transaction = match self.call::<Transaction>(call, effect).await? {
            Answer::Data(StatusCode::OK, transaction) => transaction,
            Answer::Data(status, _) => {
                return Err(ProviderError::retryable(format!(
                    "verify answered HTTP {status}, not 200"
                )));
            }
            Answer::Refused(refusal)
                if refusal.status == StatusCode::NOT_FOUND || refusal.says("not found") =>
            {
                return Ok(DepositStatus::Failed {
                    code: "not_found".into(),
                    reason: refusal.message,
                });
            }
            Answer::Refused(refusal) => return Err(refusal.into_error(effect)),
        };
        let reason = || transaction.gateway_response.clone().unwrap_or_default();
        Ok(match transaction.status.as_str() {
            "success" => {
                let currency: Currency = transaction.currency.parse().map_err(|_| {
                    ProviderError::permanent(format!("unknown currency {}", transaction.currency))
                })?;
                DepositStatus::Succeeded {
                    amount: Money::from_minor(transaction.amount, currency),
                    provider_ref: transaction.id,
                }
            }
            "failed" | "reversed" => DepositStatus::Failed {
                code: transaction.status.clone(),
                reason: reason(),
            },
            // `abandoned` is how Paystack shows a checkout not completed yet: the buyer may
            // still pay, so it is not conclusive. So are `ongoing`, `pending`, `queued`…
            _ => DepositStatus::Pending,
        })
    }

    /// `POST /transferrecipient`: registers a payee and returns its `recipient_code`.
    #[tracing::instrument(skip_all, fields(provider = "paystack"))]
    pub async fn create_recipient(
        &self,
        recipient: &NewRecipient,
    ) -> Result<String, ProviderError> {
        if !RECIPIENT_TYPES.contains(&recipient.recipient_type.as_str()) {
            return Err(ProviderError::permanent(format!(
                "unknown recipient type `{}`",
                recipient.recipient_type
            )));
        }
        let body = RecipientBody {
            kind: &recipient.recipient_type,
            name: &recipient.name,
            account_number: &recipient.account_number,
            bank_code: &recipient.bank_code,
            currency: paystack_currency(recipient.currency)?,
        };
        let effect = Effect::Repeatable;
        let call = self.request(Method::POST, "/transferrecipient").json(&body);
        match self.call::<RecipientData>(call, effect).await? {
            Answer::Data(_, data) => Ok(data.recipient_code),
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// `GET /transferrecipient/{code}`: whether a payout destination exists (and is active, and
    /// pays `currency`) when it is given, instead of when the money is already on its way.
    #[tracing::instrument(skip_all, fields(provider = "paystack"))]
    pub async fn check_recipient(
        &self,
        code: &str,
        currency: Currency,
    ) -> Result<RecipientCheck, ProviderError> {
        if !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Ok(RecipientCheck::Unusable(format!(
                "`{code}` is not a recipient code"
            )));
        }
        let effect = Effect::Repeatable;
        let call = self.request(Method::GET, &format!("/transferrecipient/{code}"));
        match self.call::<RecipientData>(call, effect).await {
            Ok(Answer::Data(_, data)) if !data.active => Ok(RecipientCheck::Unusable(format!(
                "Paystack recipient {code} is not active"
            ))),
            Ok(Answer::Data(_, data))
                if data
                    .currency
                    .as_deref()
                    .is_some_and(|c| !c.eq_ignore_ascii_case(currency.code())) =>
            {
                Ok(RecipientCheck::Unusable(format!(
                    "Paystack recipient {code} is paid in {}, not {currency}",
                    data.currency.unwrap_or_default()
                )))
            }
            Ok(Answer::Data(..)) => Ok(RecipientCheck::Usable),
            Ok(Answer::Refused(refusal)) if refusal.status == StatusCode::NOT_FOUND => Ok(
                RecipientCheck::Unusable(format!("Paystack knows no recipient {code}")),
            ),
            Ok(Answer::Refused(refusal)) => Err(refusal.into_error(effect)),
            Err(error) => Err(error),
        }
    }

    /// `POST /transfer` from the balance, keyed by the caller's reference. The answer is never
    /// taken as delivered ("queued", even when `status` says success): a conclusive outcome
    /// comes from [`PaystackClient::verify_transfer`] or the webhook.
    #[tracing::instrument(skip_all, fields(provider = "paystack", reference = %request.reference))]
    pub async fn transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferStatus, ProviderError> {
        let Destination::Paystack { recipient_code } = &request.destination else {
            return Err(ProviderError::permanent(
                "Paystack pays only Paystack recipients",
            ));
        };
        check_transfer_reference(&request.reference)?;
        let (amount, currency) = subunits(&request.amount)?;
        let body = TransferBody {
            source: "balance",
            amount,
            recipient: recipient_code,
            reference: &request.reference,
            reason: &request.reason,
            currency,
        };
        let effect = Effect::KeyedPayment;
        let call = self.request(Method::POST, "/transfer").json(&body);
        match self.call::<TransferData>(call, effect).await? {
            Answer::Data(_, data) => Ok(match transfer_status(data) {
                TransferStatus::Succeeded { .. } => TransferStatus::Pending,
                other => other,
            }),
            // The reference is the idempotency key: a transfer under it already exists.
            Answer::Refused(refusal)
                if refusal.says("reference")
                    && (refusal.says("duplicate") || refusal.says("already")) =>
            {
                tracing::info!("transfer reference already used; treating as initiated");
                Ok(TransferStatus::Pending)
            }
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// `GET /transfer/verify/{reference}`; an unknown reference is [`TransferStatus::NotFound`].
    #[tracing::instrument(skip_all, fields(provider = "paystack", reference = %reference))]
    pub async fn verify_transfer(&self, reference: &str) -> Result<TransferStatus, ProviderError> {
        check_transfer_reference(reference)?;
        let effect = Effect::Repeatable;
        let call = self.request(Method::GET, &format!("/transfer/verify/{reference}"));
        match self.call::<TransferData>(call, effect).await? {
            Answer::Data(_, data) => Ok(transfer_status(data)),
            Answer::Refused(refusal) if refusal.status == StatusCode::NOT_FOUND => {
                Ok(TransferStatus::NotFound)
            }
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// `POST /refund` of `amount` from a transaction. Paystack has no idempotency key here, so a
    /// lost answer (or a 5xx) is in doubt.
    #[tracing::instrument(skip_all, fields(provider = "paystack", reference = %request.reference))]
    pub async fn refund(&self, request: &RefundRequest) -> Result<RefundStatus, ProviderError> {
        check_transaction_reference(&request.deposit_ref)?;
        let (amount, currency) = subunits(&request.amount)?;
        let body = RefundBody {
            transaction: &request.deposit_ref,
            amount,
            currency,
            merchant_note: &request.reason,
        };
        let effect = Effect::UnkeyedPayment;
        let call = self.request(Method::POST, "/refund").json(&body);
        match self.call::<RefundData>(call, effect).await? {
            Answer::Data(_, data) => Ok(refund_status(data)),
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// `GET /refund/{id}`.
    #[tracing::instrument(skip_all, fields(provider = "paystack", refund = %id))]
    pub async fn fetch_refund(&self, id: &str) -> Result<RefundStatus, ProviderError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ProviderError::permanent(format!(
                "`{id}` is not a Paystack refund id"
            )));
        }
        let effect = Effect::Repeatable;
        let call = self.request(Method::GET, &format!("/refund/{id}"));
        match self.call::<RefundData>(call, effect).await? {
            Answer::Data(_, data) => Ok(refund_status(data)),
            Answer::Refused(refusal) if refusal.status == StatusCode::NOT_FOUND => {
                Ok(RefundStatus::NotFound)
            }
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// Finds malipo's refund `our_reference` of the transaction `deposit_ref` when the refund's
    /// own answer (its id) was lost: verify gives the transaction's id, List Refunds
    /// (`GET /refund?transaction=`) its refunds, and only those whose `merchant_note` carries
    /// `our_reference` are malipo's (one made by hand in the dashboard never is). A live one
    /// (pending or processed) is it; only failed ones → the last failure; none → `NotFound`.
    #[tracing::instrument(skip_all, fields(provider = "paystack", transaction = %deposit_ref))]
    pub async fn find_refund(
        &self,
        deposit_ref: &str,
        our_reference: &str,
    ) -> Result<RefundStatus, ProviderError> {
        check_transaction_reference(deposit_ref)?;
        let effect = Effect::Repeatable;
        let call = self.request(Method::GET, &format!("/transaction/verify/{deposit_ref}"));
        let transaction = match self.call::<Transaction>(call, effect).await? {
            Answer::Data(_, transaction) => transaction,
            Answer::Refused(refusal) => return Err(refusal.into_error(effect)),
        };
        let call = self
            .request(Method::GET, "/refund")
            .query(&[("transaction", transaction.id.as_str())]);
        let mut refunds = match self.call::<Vec<RefundData>>(call, effect).await? {
            Answer::Data(_, refunds) => refunds,
            Answer::Refused(refusal) => return Err(refusal.into_error(effect)),
        };
        refunds.retain(|refund| {
            refund
                .merchant_note
                .as_deref()
                .is_some_and(|note| note.contains(our_reference))
        });
        // Listed newest first.
        let chosen = match refunds.iter().position(|refund| refund.status != "failed") {
            Some(live) => Some(refunds.swap_remove(live)),
            None => refunds.into_iter().next(),
        };
        Ok(chosen.map_or(RefundStatus::NotFound, refund_status))
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .client()
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(self.secret_key.expose())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        effect: Effect,
    ) -> Result<Answer<T>, ProviderError> {
        let reply = self.http.send(request, effect).await?;
        if let Some(remaining) = reply.headers.get("x-ratelimit-remaining") {
            tracing::debug!(remaining = ?remaining, "paystack rate limit");
        }
        if reply.status.is_success() {
            let envelope: Envelope<T> =
                serde_json::from_slice(&reply.body).map_err(|error| undecodable(effect, error))?;
            return match (envelope.status, envelope.data) {
                (true, Some(data)) => Ok(Answer::Data(reply.status, data)),
                (true, None) => Err(undecodable(effect, "no data in a successful answer")),
                (false, _) => Ok(Answer::Refused(Refusal {
                    status: reply.status,
                    headers: reply.headers,
                    message: envelope.message,
                })),
            };
        }
        let error: ErrorBody = serde_json::from_slice(&reply.body).unwrap_or_default();
        let message = if error.message.is_empty() {
            excerpt(&reply.body)
        } else {
            match error.code {
                Some(code) => format!("{} ({code})", error.message),
                None => error.message,
            }
        };
        Ok(Answer::Refused(Refusal {
            status: reply.status,
            headers: reply.headers,
            message,
        }))
    }
}

fn transfer_status(data: TransferData) -> TransferStatus {
    let reason = || {
        data.gateway_response
            .clone()
            .or_else(|| data.failures.as_ref().map(ToString::to_string))
            .unwrap_or_else(|| data.status.clone())
    };
    match data.status.as_str() {
        "success" => TransferStatus::Succeeded {
            provider_ref: data.transfer_code.clone().unwrap_or_default(),
        },
        "failed" | "abandoned" | "blocked" | "rejected" => {
            TransferStatus::Failed { reason: reason() }
        }
        "reversed" => TransferStatus::Reversed { reason: reason() },
        other => {
            if other == "otp" {
                // An OTP-gated transfer waits for a human; it stays pending until finalized.
                tracing::warn!("transfer awaits OTP finalization; disable OTP for API transfers");
            }
            TransferStatus::Pending
        }
    }
}

fn refund_status(data: RefundData) -> RefundStatus {
    match data.status.as_str() {
        "processed" => RefundStatus::Succeeded {
            provider_ref: data.id,
        },
        "failed" => RefundStatus::Failed {
            reason: format!("refund {} failed", data.id),
        },
        // `pending`, `processing`, `needs-attention`: not conclusive.
        _ => RefundStatus::Pending {
            provider_ref: data.id,
        },
    }
}

/// What Paystack says about a payout destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientCheck {
    /// It exists, is active, and pays the currency.
    Usable,
    /// It cannot be paid, and why.
    Unusable(String),
}

/// The amount in the currency's subunit, and the currency code, as Paystack takes them.
fn subunits(amount: &Money) -> Result<(i64, &'static str), ProviderError> {
    let currency = paystack_currency(amount.currency())?;
    let minor = amount
        .minor_units()
        .filter(|minor| *minor > 0)
        .ok_or_else(|| ProviderError::permanent(format!("{amount} is not a payable amount")))?;
    Ok((minor, currency))
}

fn paystack_currency(currency: Currency) -> Result<&'static str, ProviderError> {
    match currency {
        Currency::Ngn | Currency::Ghs | Currency::Zar | Currency::Kes | Currency::Usd => {
            Ok(currency.code())
        }
        Currency::Sat => Err(ProviderError::permanent("Paystack does not settle in SAT")),
    }
}

/// Transaction references: alphanumerics and `-.=` only (they also go into URL paths).
fn check_transaction_reference(reference: &str) -> Result<(), ProviderError> {
    let valid = !reference.is_empty()
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '='));
    if valid {
        Ok(())
    } else {
        Err(ProviderError::permanent(format!(
            "`{reference}` is not a Paystack transaction reference (alphanumerics and -.= only)"
        )))
    }
}

/// Transfer references are the idempotency key: lowercase alphanumerics, `-` and `_`, at least
/// 16 characters.
pub(super) fn check_transfer_reference(reference: &str) -> Result<(), ProviderError> {
    let valid = reference.len() >= 16
        && reference
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
    if valid {
        Ok(())
    } else {
        Err(ProviderError::permanent(format!(
            "`{reference}` is not a Paystack transfer reference \
             (at least 16 of a-z, 0-9, - and _)"
        )))
    }
}
