//! The Fincra HTTP client: payouts keyed by `customerReference`, the query by customer
//! reference, and account resolution. Amounts leave here in major units.
//!
//! Classification (PROVIDERS.md §4.1): `success: true` only means "taken" — `data.status`
//! decides. A timeout, a 5xx, `SERVICE_UNAVAILABLE`, `INTERNAL_SERVER_ERROR` and
//! `RESOURCE_NOT_FOUND` from the initiation are in doubt (the caller queries before anything
//! else); `DUPLICATE_CUSTOMER_REFERENCE` means the payout exists, so it is queried here and its
//! status adopted; `NO_ENOUGH_MONEY_IN_WALLET` is retryable and counted for operators; only
//! an explicit `failed` status is a failure.

mod bank_list;
mod checkout;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use super::{
    UNDERFUNDED,
    wire::{
        BankBeneficiary, Beneficiary, Envelope, ErrorBody, ExactNumber, MobileMoneyBeneficiary,
        PayoutBody, PayoutData, ResolveBody, ResolvedAccount,
    },
};
use crate::{
    domain::Currency,
    providers::{
        Destination, HttpSettings, ProviderError, Secret, TransferRequest, TransferStatus,
        config::FincraConfig,
        http::{Effect, HttpClient, excerpt, per_second, status_error, undecodable},
    },
};

/// Talks to Fincra for one business, within the configured rate limit.
#[derive(Debug, Clone)]
pub struct FincraClient {
    http: HttpClient,
    base_url: String,
    secret_key: Secret,
    /// `x-pub-key` of checkout calls; without it Fincra only pays out.
    public_key: Option<Secret>,
    business_id: String,
    webhook_secret: Secret,
}

/// Whether a bank account exists, as Fincra resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCheck {
    /// Fincra found the account, under this holder name (when it said).
    Found(Option<String>),
    /// Fincra says there is no such account at that bank.
    Unknown(String),
}

/// A non-2xx answer, or `success: false`, with what Fincra said.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    error_type: Option<String>,
    message: String,
}

impl Refusal {
    fn is(&self, error_type: &str) -> bool {
        self.error_type.as_deref() == Some(error_type)
    }
}

enum Answer<T> {
    Data(T),
    Refused(Refusal),
}

/// The errorTypes that leave an initiation in doubt (§4.1): query, never re-send blindly.
const IN_DOUBT_TYPES: [&str; 3] = [
    "SERVICE_UNAVAILABLE",
    "INTERNAL_SERVER_ERROR",
    "RESOURCE_NOT_FOUND",
];
/// The errorTypes that refuse a payout for good (§4.1).
const PERMANENT_TYPES: [&str; 4] = [
    "VALIDATION_FAILED",
    "UNPROCESSABLE_ENTITY",
    "ACCESS_DENIED",
    "OPERATION_FORBIDDEN",
];

impl FincraClient {
    /// A client for the configured business.
    pub fn new(config: &FincraConfig, http: &HttpSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new("fincra", http, per_second(config.rate_per_sec))?,
            base_url: config.base_url.clone(),
            secret_key: config.secret_key.clone(),
            public_key: config.public_key.clone(),
            business_id: config.business_id.clone(),
            webhook_secret: config.webhook_secret.clone(),
        })
    }

    /// The key Fincra signs webhooks with.
    pub fn webhook_secret(&self) -> &Secret {
        &self.webhook_secret
    }

    /// `POST /disbursements/payouts` under `customerReference = request.reference`.
    #[tracing::instrument(skip_all, fields(provider = "fincra", reference = %request.reference))]
    pub async fn payout(&self, request: &TransferRequest) -> Result<TransferStatus, ProviderError> {
        let (destination, beneficiary) = beneficiary(&request.destination)?;
        let currency = fincra_currency(request.amount.currency())?;
        let body = PayoutBody {
            business: &self.business_id,
            source_currency: currency,
            destination_currency: currency,
            amount: ExactNumber(request.amount.amount()),
            description: &request.reason,
            payment_destination: destination,
            customer_reference: &request.reference,
            beneficiary,
        };
        let effect = Effect::KeyedPayment;
        let call = self
            .request(Method::POST, "/disbursements/payouts")
            .json(&body);
        // A lost or unreadable answer is already in doubt (`Effect::KeyedPayment`).
        match self.call::<PayoutData>(call, effect).await? {
            Answer::Data(data) => Ok(payout_status(data)),
            Answer::Refused(refusal) => self.initiation_refused(request, refusal).await,
        }
    }

    async fn initiation_refused(
        &self,
        request: &TransferRequest,
        refusal: Refusal,
    ) -> Result<TransferStatus, ProviderError> {
        if refusal.is("DUPLICATE_CUSTOMER_REFERENCE") {
            // The payout exists already (an earlier send's answer was lost): adopt it.
            tracing::info!("customer reference already used; querying instead of re-sending");
            return match self.query(&request.reference).await? {
                // Fincra just said it has it; "never seen" now is lag, not absence.
                TransferStatus::NotFound => Err(ProviderError::in_doubt(
                    "duplicate customer reference, but the query does not find it yet",
                )),
                status => Ok(status),
            };
        }
        if refusal.is("NO_ENOUGH_MONEY_IN_WALLET") {
            metrics::counter!("malipo_fincra_wallet_underfunded_total").increment(1);
            tracing::warn!("Fincra wallet underfunded; the payout waits for funding");
            return Err(ProviderError::retryable(format!(
                "{UNDERFUNDED}: {}",
                refusal.message
            )));
        }
        if refusal.status.is_server_error() || IN_DOUBT_TYPES.iter().any(|kind| refusal.is(kind)) {
            return Err(ProviderError::in_doubt(describe(&refusal)));
        }
        if PERMANENT_TYPES.iter().any(|kind| refusal.is(kind)) {
            if refusal.is("ACCESS_DENIED") || refusal.is("OPERATION_FORBIDDEN") {
                tracing::error!(reason = %refusal.message, "Fincra refused access: check the key and the allow-listed egress IP");
            }
            return Err(ProviderError::permanent(describe(&refusal)));
        }
        match refusal.status.as_u16() {
            429 | 408 => Err(status_error(
                refusal.status,
                &refusal.headers,
                Effect::KeyedPayment,
                &refusal.message,
            )),
            401 | 403 => Err(ProviderError::permanent(describe(&refusal))),
            // An errorType §4 does not list: whether a payout exists is for the query to say.
            _ => Err(ProviderError::in_doubt(format!(
                "unrecognised refusal: {}",
                describe(&refusal)
            ))),
        }
    }

    /// `GET /disbursements/payouts/customer-reference/{reference}`: 404 or
    /// `RESOURCE_NOT_FOUND` means Fincra never saw it.
    #[tracing::instrument(skip_all, fields(provider = "fincra", reference = %reference))]
    pub async fn query(&self, reference: &str) -> Result<TransferStatus, ProviderError> {
        check_reference(reference)?;
        let effect = Effect::Repeatable;
        let call = self.request(
            Method::GET,
            &format!("/disbursements/payouts/customer-reference/{reference}"),
        );
        match self.call::<PayoutData>(call, effect).await? {
            Answer::Data(data) => {
                if data
                    .customer_reference
                    .as_deref()
                    .is_some_and(|theirs| theirs != reference)
                {
                    return Err(ProviderError::retryable(
                        "the query answered about another customer reference",
                    ));
                }
                Ok(payout_status(data))
            }
            Answer::Refused(refusal)
                if refusal.status == StatusCode::NOT_FOUND || refusal.is("RESOURCE_NOT_FOUND") =>
            {
                Ok(TransferStatus::NotFound)
            }
            Answer::Refused(refusal) => Err(status_error(
                refusal.status,
                &refusal.headers,
                effect,
                &describe(&refusal),
            )),
        }
    }

    /// `POST /core/accounts/resolve`: whether `account_number` exists at `bank_code`.
    #[tracing::instrument(skip_all, fields(provider = "fincra"))]
    pub async fn resolve_account(
        &self,
        bank_code: &str,
        account_number: &str,
    ) -> Result<AccountCheck, ProviderError> {
        let body = ResolveBody {
            account_number,
            bank_code,
            kind: "nuban",
        };
        let effect = Effect::Repeatable;
        let call = self
            .request(Method::POST, "/core/accounts/resolve")
            .json(&body);
        match self.call::<ResolvedAccount>(call, effect).await? {
            Answer::Data(data) => Ok(AccountCheck::Found(data.account_name)),
            Answer::Refused(refusal)
                if refusal.status.is_client_error()
                    && refusal.status != StatusCode::TOO_MANY_REQUESTS
                    && refusal.status != StatusCode::UNAUTHORIZED
                    && refusal.status != StatusCode::FORBIDDEN =>
            {
                Ok(AccountCheck::Unknown(refusal.message))
            }
            Answer::Refused(refusal) => Err(status_error(
                refusal.status,
                &refusal.headers,
                effect,
                &describe(&refusal),
            )),
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .client()
            .request(method, format!("{}{path}", self.base_url))
            .header("api-key", self.secret_key.expose())
            .header("x-business-id", &self.business_id)
            .header("accept", "application/json")
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        effect: Effect,
    ) -> Result<Answer<T>, ProviderError> {
        let reply = self.http.send(request, effect).await?;
        if reply.status.is_success() {
            let envelope: Envelope<T> =
                serde_json::from_slice(&reply.body).map_err(|error| undecodable(effect, error))?;
            return match (envelope.success, envelope.data) {
                (true, Some(data)) => Ok(Answer::Data(data)),
                (true, None) => Err(undecodable(effect, "no data in a successful answer")),
                (false, _) => Ok(Answer::Refused(refusal(
                    reply.status,
                    reply.headers,
                    &reply.body,
                ))),
            };
        }
        Ok(Answer::Refused(refusal(
            reply.status,
            reply.headers,
            &reply.body,
        )))
    }
}

fn refusal(status: StatusCode, headers: reqwest::header::HeaderMap, body: &[u8]) -> Refusal {
    let error: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = error
        .error
        .or(error.message)
        .unwrap_or_else(|| excerpt(body));
    Refusal {
        status,
        headers,
        error_type: error.error_type,
        message,
    }
}

fn describe(refusal: &Refusal) -> String {
    match &refusal.error_type {
        Some(kind) => format!(
            "HTTP {}: {} ({kind})",
            refusal.status.as_u16(),
            refusal.message
        ),
        None => format!("HTTP {}: {}", refusal.status.as_u16(), refusal.message),
    }
}

/// Fincra's status as malipo's: only an explicit `failed` is a failure; anything unknown is
/// not conclusive.
fn payout_status(data: PayoutData) -> TransferStatus {
    match data.status.as_str() {
        "successful" | "success" => TransferStatus::Succeeded {
            provider_ref: data
                .reference
                .or(data.customer_reference)
                .unwrap_or_default(),
        },
        "failed" => TransferStatus::Failed {
            reason: data
                .reason
                .unwrap_or_else(|| "Fincra reports the payout failed".to_owned()),
        },
        _ => TransferStatus::Pending,
    }
}

fn fincra_currency(currency: Currency) -> Result<&'static str, ProviderError> {
    match currency {
        Currency::Ngn | Currency::Kes => Ok(currency.code()),
        other => Err(ProviderError::permanent(format!(
            "Fincra payouts in {other} are not supported"
        ))),
    }
}

/// `(paymentDestination, beneficiary)` for a destination.
fn beneficiary(destination: &Destination) -> Result<(&'static str, Beneficiary), ProviderError> {
    match destination {
        Destination::FincraBank {
            bank_code,
            account_number,
            account_name,
        } => {
            let (first, last) = split_name(account_name);
            Ok((
                "bank_account",
                Beneficiary::Bank(BankBeneficiary {
                    first_name: first,
                    last_name: last,
                    account_holder_name: account_name.clone(),
                    country: "NG",
                    account_number: account_number.clone(),
                    kind: "individual",
                    bank_code: bank_code.clone(),
                }),
            ))
        }
        Destination::FincraMobileMoney { msisdn } => Ok((
            "mobile_money_wallet",
            Beneficiary::MobileMoney(MobileMoneyBeneficiary {
                first_name: "M-Pesa",
                last_name: "Wallet",
                account_holder_name: format!("+{msisdn}"),
                kind: "individual",
                country: "KE",
                account_number: format!("+{msisdn}"),
                mobile_money_code: "MPESA",
            }),
        )),
        _ => Err(ProviderError::permanent(
            "Fincra pays only bank accounts and mobile-money wallets",
        )),
    }
}

/// First name and the rest; a one-word name is used for both (Fincra asks for both).
fn split_name(name: &str) -> (String, String) {
    let mut words = name.split_whitespace();
    let first = words.next().unwrap_or_default().to_owned();
    let rest = words.collect::<Vec<_>>().join(" ");
    if rest.is_empty() {
        (first.clone(), first)
    } else {
        (first, rest)
    }
}

/// Our references are `po_<uuid>`: checked before they go into a URL path.
fn check_reference(reference: &str) -> Result<(), ProviderError> {
    let safe = !reference.is_empty()
        && reference.len() <= 64
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if safe {
        Ok(())
    } else {
        Err(ProviderError::permanent(format!(
            "customer reference `{reference}` is not URL-safe"
        )))
    }
}
