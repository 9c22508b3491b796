//! The Daraja HTTP client: OAuth, STK Push and Query, B2C and Transaction Status. Amounts leave
//! as whole shillings written as strings.

mod pull;

pub use pull::PulledPayment;

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use reqwest::{StatusCode, header::HeaderMap};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    Msisdn,
    callbacks::unpaid_status,
    fields::{
        account_reference, check_conversation_id, remarks, transaction_desc, whole_shillings,
    },
    password::{stk_password, timestamp},
    token::{CachedToken, TokenFetch, TokenManager, TokenStore, credential_key},
    wire::{
        AsyncAck, B2cBody, GatewayError, StkPushAck, StkPushBody, StkQueryAnswer, StkQueryBody,
        TokenAnswer, TransactionStatusBody,
    },
};
use crate::{
    domain::Money,
    providers::{
        DepositRequest, DepositStatus, Destination, HttpSettings, NextAction, ProviderError,
        Secret, TransferRequest, TransferStatus,
        config::{MpesaCallbacks, MpesaConfig, MpesaInitiator},
        http::{
            Effect, HttpClient, Reply, excerpt, per_second, retry_after, status_error, undecodable,
        },
        types::Buyer,
    },
};

/// Daraja asks for at least a minute after "unable to lock subscriber".
const SUBSCRIBER_LOCK_WAIT: Duration = Duration::from_secs(60);
/// Spike arrest clears within seconds; a quota needs longer.
const SPIKE_ARREST_WAIT: Duration = Duration::from_secs(5);
const QUOTA_WAIT: Duration = Duration::from_secs(60);

/// The acknowledgement of a Transaction Status query; the result arrives at the status
/// callback, carrying `originator_conversation_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusQueryAck {
    /// Daraja's id for this query; the result callback carries it.
    pub originator_conversation_id: String,
    /// Daraja's conversation id.
    pub conversation_id: String,
}

/// Talks to Daraja for one credential set, sharing its OAuth token through a [`TokenStore`].
pub struct MpesaClient {
    http: HttpClient,
    config: MpesaConfig,
    token: TokenManager,
}

impl std::fmt::Debug for MpesaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpesaClient")
            .field("base_url", &self.config.base_url)
            .field("shortcode", &self.config.shortcode)
            .finish_non_exhaustive()
    }
}

/// A Daraja answer: the expected body, or the gateway's refusal.
enum Answer<T> {
    Ok(T),
    Refused(Refusal),
}

#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    headers: HeaderMap,
    code: String,
    message: String,
}

impl From<Reply> for Refusal {
    /// Reads Daraja's `{errorCode, errorMessage}`, falling back to an excerpt of the body.
    fn from(reply: Reply) -> Self {
        let error: GatewayError = serde_json::from_slice(&reply.body).unwrap_or_default();
        let message = if error.message.is_empty() {
            excerpt(&reply.body)
        } else {
            error.message
        };
        Self {
            status: reply.status,
            headers: reply.headers,
            code: error.code,
            message,
        }
    }
}

impl Refusal {
    fn says(&self, words: &str) -> bool {
        self.message.to_lowercase().contains(words)
    }

    fn into_error(self, effect: Effect) -> ProviderError {
        let reason = format!("{} {}", self.code, self.message);
        match self.code.as_str() {
            "500.003.02" => ProviderError::retry_after(
                format!("spike arrest: {reason}"),
                Some(retry_after(&self.headers, Utc::now()).unwrap_or(SPIKE_ARREST_WAIT)),
            ),
            "500.003.03" => ProviderError::retry_after(
                format!("quota exceeded: {reason}"),
                Some(retry_after(&self.headers, Utc::now()).unwrap_or(QUOTA_WAIT)),
            ),
            // One code for several things: a locked subscriber (wait a minute) or bad
            // merchant credentials (no wait helps).
            "500.001.1001" if self.says("merchant does not exist") || self.says("credential") => {
                ProviderError::permanent(reason)
            }
            "500.001.1001" => ProviderError::retry_after(reason, Some(SUBSCRIBER_LOCK_WAIT)),
            // Rejected twice in a row with a token just refreshed: another process renewed
            // it in between. Nothing was processed.
            "404.001.03" => ProviderError::retryable(reason),
            code if code.starts_with("400.") => ProviderError::permanent(reason),
            _ => status_error(self.status, &self.headers, effect, &reason),
        }
    }
}

impl MpesaClient {
    /// A client for `config`, sharing tokens through `store` (a [`super::MemoryTokenStore`] for
    /// one process, `db::mpesa_token_store::PgTokenStore` across processes).
    pub fn new(
        config: &MpesaConfig,
        http: &HttpSettings,
        store: Arc<dyn TokenStore>,
    ) -> Result<Self, reqwest::Error> {
        let key = credential_key(&config.base_url, &config.consumer_key);
        Ok(Self {
            http: HttpClient::new("mpesa", http, per_second(config.rate_per_sec))?,
            config: config.clone(),
            token: TokenManager::new(store, key),
        })
    }

    /// The callback URLs this client registers with Daraja.
    pub fn callbacks(&self) -> &MpesaCallbacks {
        &self.config.callbacks
    }

    /// `POST /mpesa/stkpush/v1/processrequest`: prompts the buyer's phone. A lost answer is
    /// in doubt: repeating it would prompt the buyer twice.
    #[tracing::instrument(
        skip_all,
        fields(provider = "mpesa", reference = %request.reference, msisdn = tracing::field::Empty)
    )]
    pub async fn stk_push(&self, request: &DepositRequest) -> Result<NextAction, ProviderError> {
        let Buyer::Msisdn(phone) = &request.buyer else {
            return Err(ProviderError::permanent(
                "M-Pesa needs the buyer's phone number",
            ));
        };
        let msisdn = Msisdn::parse(phone).map_err(ProviderError::permanent)?;
        tracing::Span::current().record("msisdn", msisdn.masked());
        let amount = whole_shillings(&request.amount)?;
        let (password, timestamp) = self.password();
        let body = StkPushBody {
            business_short_code: self.config.shortcode,
            password,
            timestamp,
            transaction_type: "CustomerPayBillOnline",
            amount,
            party_a: msisdn.as_str().to_owned(),
            party_b: self.config.shortcode.to_string(),
            phone_number: msisdn.as_str().to_owned(),
            callback_url: self.config.callbacks.stk(),
            account_reference: account_reference(&request.reference),
            transaction_desc: transaction_desc(&request.description),
        };
        let effect = Effect::UnkeyedPayment;
        let path = "/mpesa/stkpush/v1/processrequest";
        match self.post::<_, StkPushAck>(path, &body, effect).await? {
            Answer::Ok(ack) if ack.response_code == "0" => Ok(NextAction::StkPush {
                checkout_request_id: ack.checkout_request_id,
                merchant_request_id: ack.merchant_request_id,
                customer_message: ack.customer_message,
            }),
            Answer::Ok(ack) => Err(ProviderError::permanent(format!(
                "STK push refused: {} {}",
                ack.response_code, ack.response_description
            ))),
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// `POST /mpesa/stkpushquery/v1/query`. STK Query reports no amount or receipt: a success
    /// carries `expected` and the CheckoutRequestID. "Still processing" answers are pending.
    #[tracing::instrument(skip_all, fields(provider = "mpesa", checkout_request_id = %checkout_request_id))]
    pub async fn stk_query(
        &self,
        checkout_request_id: &str,
        expected: Money,
    ) -> Result<DepositStatus, ProviderError> {
        let (password, timestamp) = self.password();
        let body = StkQueryBody {
            business_short_code: self.config.shortcode.to_string(),
            password,
            timestamp,
            checkout_request_id,
        };
        let effect = Effect::Repeatable;
        let path = "/mpesa/stkpushquery/v1/query";
        match self.post::<_, StkQueryAnswer>(path, &body, effect).await? {
            Answer::Ok(StkQueryAnswer {
                result_code: Some(code),
                ..
            }) if code == "0" => Ok(DepositStatus::Succeeded {
                amount: expected,
                provider_ref: checkout_request_id.to_owned(),
            }),
            Answer::Ok(StkQueryAnswer {
                result_code: Some(code),
                result_desc,
            }) => Ok(unpaid_status(&code, &result_desc)),
            Answer::Ok(StkQueryAnswer {
                result_code: None, ..
            }) => Ok(DepositStatus::Pending),
            // Daraja answers an in-flight prompt with an error: "The transaction is being processed".
            Answer::Refused(refusal)
                if refusal.says("being processed") || refusal.says("under processing") =>
            {
                Ok(DepositStatus::Pending)
            }
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// `POST /mpesa/b2c/v3/paymentrequest` with `OriginatorConversationID` = the transfer
    /// reference, Daraja's only idempotency key. "Duplicate OriginatorConversationID" means an
    /// earlier attempt got through: [`TransferStatus::Pending`], check its status.
    #[tracing::instrument(
        skip_all,
        fields(provider = "mpesa", reference = %request.reference, msisdn = tracing::field::Empty)
    )]
    pub async fn b2c(&self, request: &TransferRequest) -> Result<TransferStatus, ProviderError> {
        let Destination::Mpesa { msisdn } = &request.destination else {
            return Err(ProviderError::permanent("M-Pesa pays only M-Pesa numbers"));
        };
        let msisdn = Msisdn::parse(msisdn).map_err(ProviderError::permanent)?;
        tracing::Span::current().record("msisdn", msisdn.masked());
        check_conversation_id(&request.reference)?;
        let initiator = self.initiator()?;
        let body = B2cBody {
            originator_conversation_id: &request.reference,
            initiator_name: &initiator.name,
            security_credential: initiator.security_credential.expose(),
            command_id: "BusinessPayment",
            amount: whole_shillings(&request.amount)?,
            party_a: self.config.b2c_shortcode.to_string(),
            party_b: msisdn.as_str(),
            remarks: remarks(&request.reason),
            queue_timeout_url: self.config.callbacks.b2c_timeout(),
            result_url: self.config.callbacks.b2c_result(),
            occassion: String::new(),
        };
        let effect = Effect::KeyedPayment;
        match self
            .post::<_, AsyncAck>("/mpesa/b2c/v3/paymentrequest", &body, effect)
            .await?
        {
            Answer::Ok(ack) if ack.response_code == "0" => Ok(TransferStatus::Pending),
            Answer::Ok(ack) => Err(ProviderError::permanent(format!(
                "B2C refused: {} {}",
                ack.response_code, ack.response_description
            ))),
            Answer::Refused(refusal) if refusal.says("duplicate") => {
                tracing::info!("OriginatorConversationID already used; treating as initiated");
                Ok(TransferStatus::Pending)
            }
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    /// `POST /mpesa/transactionstatus/v1/query` for a B2C made under `reference`
    /// (OriginalConversationID), with the receipt when known. Asynchronous: this is only the
    /// acknowledgement; the result arrives at the status callback.
    #[tracing::instrument(skip_all, fields(provider = "mpesa", reference = %reference))]
    pub async fn transaction_status(
        &self,
        reference: &str,
        receipt: Option<&str>,
    ) -> Result<StatusQueryAck, ProviderError> {
        check_conversation_id(reference)?;
        let initiator = self.initiator()?;
        let body = TransactionStatusBody {
            initiator: &initiator.name,
            security_credential: initiator.security_credential.expose(),
            command_id: "TransactionStatusQuery",
            transaction_id: receipt.unwrap_or_default(),
            original_conversation_id: reference,
            party_a: self.config.b2c_shortcode.to_string(),
            identifier_type: "4",
            result_url: self.config.callbacks.status_result_about(reference),
            queue_timeout_url: self.config.callbacks.status_timeout(),
            remarks: "status",
            // Echoed in ReferenceData when Daraja obliges; the ResultURL names the reference too.
            occasion: reference,
        };
        let effect = Effect::Repeatable;
        let path = "/mpesa/transactionstatus/v1/query";
        match self.post::<_, AsyncAck>(path, &body, effect).await? {
            Answer::Ok(ack) if ack.response_code == "0" => Ok(StatusQueryAck {
                originator_conversation_id: ack.originator_conversation_id,
                conversation_id: ack.conversation_id,
            }),
            Answer::Ok(ack) => Err(ProviderError::permanent(format!(
                "status query refused: {} {}",
                ack.response_code, ack.response_description
            ))),
            Answer::Refused(refusal) => Err(refusal.into_error(effect)),
        }
    }

    fn initiator(&self) -> Result<&MpesaInitiator, ProviderError> {
        self.config.initiator.as_ref().map_err(|missing| {
            ProviderError::permanent(format!("M-Pesa payouts are off: set {}", missing.0))
        })
    }

    fn password(&self) -> (String, String) {
        let timestamp = timestamp(Utc::now());
        let password = stk_password(
            &self.config.shortcode.to_string(),
            self.config.passkey.expose(),
            &timestamp,
        );
        (password, timestamp)
    }

    /// POSTs with the shared token; a token Daraja rejects (`404.001.03`) is replaced once and
    /// the call repeated — the gateway refused it, so nothing was processed.
    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        effect: Effect,
    ) -> Result<Answer<T>, ProviderError> {
        let token = self.token.token(None, self.fetcher()).await?;
        match self.send(path, body, &token, effect).await? {
            Answer::Refused(refusal)
                if refusal.code == "404.001.03" || refusal.status == StatusCode::UNAUTHORIZED =>
            {
                tracing::info!("token rejected; refreshing once");
                let token = self.token.token(Some(&token), self.fetcher()).await?;
                self.send(path, body, &token, effect).await
            }
            answer => Ok(answer),
        }
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        token: &Secret,
        effect: Effect,
    ) -> Result<Answer<T>, ProviderError> {
        let request = self
            .http
            .client()
            .post(format!("{}{path}", self.config.base_url))
            .bearer_auth(token.expose())
            .json(body);
        let reply = self.http.send(request, effect).await?;
        if reply.status.is_success() {
            return serde_json::from_slice(&reply.body)
                .map(Answer::Ok)
                .map_err(|error| undecodable(effect, error));
        }
        Ok(Answer::Refused(Refusal::from(reply)))
    }

    fn fetcher(&self) -> TokenFetch<'_> {
        Box::new(move || Box::pin(self.fetch_token()))
    }

    /// `GET /oauth/v1/generate?grant_type=client_credentials` with Basic auth. Invalidates the
    /// previous token: only ever called through the [`TokenStore`].
    #[tracing::instrument(skip_all, fields(provider = "mpesa"))]
    async fn fetch_token(&self) -> Result<CachedToken, ProviderError> {
        let request = self
            .http
            .client()
            .get(format!("{}/oauth/v1/generate", self.config.base_url))
            .query(&[("grant_type", "client_credentials")])
            .basic_auth(
                self.config.consumer_key.expose(),
                Some(self.config.consumer_secret.expose()),
            );
        let effect = Effect::Repeatable;
        let reply = self.http.send(request, effect).await?;
        if !reply.status.is_success() {
            return Err(Refusal::from(reply).into_error(effect));
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&reply.body).map_err(|error| undecodable(effect, error))?;
        let seconds: i64 = answer
            .expires_in
            .trim()
            .parse()
            .map_err(|_| undecodable(effect, format!("expires_in `{}`", answer.expires_in)))?;
        tracing::info!(expires_in = seconds, "new Daraja token");
        Ok(CachedToken {
            access_token: Secret::new(answer.access_token),
            expires_at: Utc::now() + chrono::Duration::seconds(seconds),
        })
    }
}
