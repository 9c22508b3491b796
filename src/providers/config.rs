//! Provider settings, typed and validated from the environment (or built directly by tests and
//! the sandbox). A provider whose required settings are missing is disabled, and the config can
//! name the first missing variable so the API can answer 422 with it. Reading the environment
//! lives in [`env`].

use std::{num::NonZeroU32, time::Duration};

mod env;
mod fincra;

pub use fincra::FincraConfig;

use super::{HttpSettings, ProviderKind, Secret, cidr::Cidr};

/// Daraja's sandbox, the default `MPESA_BASE_URL`.
pub const MPESA_SANDBOX_URL: &str = "https://sandbox.safaricom.co.ke";
/// Paystack's API, the default `PAYSTACK_BASE_URL`.
pub const PAYSTACK_URL: &str = "https://api.paystack.co";

const MIN_TOKEN_LEN: usize = 16;
/// Daraja refuses callback URLs containing these words (case-insensitive).
const DARAJA_FORBIDDEN: [&str; 6] = ["m-pesa", "safaricom", "exe", "cmd", "sql", "query"];

/// A setting that is present but unusable; startup fails naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// The first required variable that is not set, which disables a provider (or its payouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingSetting(pub &'static str);

/// Every provider's settings.
#[derive(Debug, Clone)]
pub struct ProvidersConfig {
    /// Timeouts for every provider call.
    pub http: HttpSettings,
    /// Paystack, or the variable that disables it.
    pub paystack: Result<PaystackConfig, MissingSetting>,
    /// M-Pesa, or the variable that disables it.
    pub mpesa: Result<MpesaConfig, MissingSetting>,
    /// LNbits, or the variable that disables it.
    pub lnbits: Result<LnbitsConfig, MissingSetting>,
    /// Fincra, or the variable that disables it.
    pub fincra: Result<FincraConfig, MissingSetting>,
}

/// Paystack settings.
#[derive(Debug, Clone)]
pub struct PaystackConfig {
    /// `PAYSTACK_BASE_URL`.
    pub base_url: String,
    /// `PAYSTACK_SECRET_KEY`: API key and webhook signing key at once.
    pub secret_key: Secret,
    /// `PAYSTACK_RATE_PER_MIN`: 500 by default, under the documented 600.
    pub rate_per_min: NonZeroU32,
}

/// M-Pesa Daraja settings.
#[derive(Debug, Clone)]
pub struct MpesaConfig {
    /// `MPESA_BASE_URL`.
    pub base_url: String,
    /// `MPESA_CONSUMER_KEY`.
    pub consumer_key: Secret,
    /// `MPESA_CONSUMER_SECRET`.
    pub consumer_secret: Secret,
    /// `MPESA_SHORTCODE`: the paybill or till receiving STK payments.
    pub shortcode: u32,
    /// `MPESA_PASSKEY`: Lipa na M-Pesa passkey.
    pub passkey: Secret,
    /// Callback URLs (`MALIPO_PUBLIC_URL` + `MPESA_CALLBACK_TOKEN`).
    pub callbacks: MpesaCallbacks,
    /// `MPESA_ALLOWED_IPS`: callbacks only from these; `None` leaves the check off.
    pub allowed_ips: Option<Vec<Cidr>>,
    /// `MPESA_B2C_SHORTCODE`: the shortcode paying out (the shortcode by default).
    pub b2c_shortcode: u32,
    /// `MPESA_INITIATOR_NAME` + `MPESA_SECURITY_CREDENTIAL`, needed for B2C and status queries.
    pub initiator: Result<MpesaInitiator, MissingSetting>,
    /// `MPESA_RATE_PER_SEC`: 20 by default (Daraja publishes no number).
    pub rate_per_sec: NonZeroU32,
}

/// The API operator B2C and Transaction Status act as.
#[derive(Debug, Clone)]
pub struct MpesaInitiator {
    /// `MPESA_INITIATOR_NAME`.
    pub name: String,
    /// `MPESA_SECURITY_CREDENTIAL`: the initiator password RSA-encrypted with Safaricom's
    /// certificate, base64.
    pub security_credential: Secret,
}

/// Where Daraja posts results: `{MALIPO_PUBLIC_URL}/webhooks/mpesa/{token}/…`. The token is the
/// callbacks' only authentication, so the URLs are built on demand and never printed.
#[derive(Debug, Clone)]
pub struct MpesaCallbacks {
    public_url: String,
    token: Secret,
}

impl MpesaCallbacks {
    /// Callbacks under `public_url` (trailing `/` ignored) with the secret path token.
    pub fn new(public_url: &str, token: Secret) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The token expected in the path.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// STK Push results.
    pub fn stk(&self) -> String {
        self.url("stk")
    }

    /// B2C results.
    pub fn b2c_result(&self) -> String {
        self.url("b2c/result")
    }

    /// B2C requests that timed out in Daraja's queue.
    pub fn b2c_timeout(&self) -> String {
        self.url("b2c/timeout")
    }

    /// Transaction Status results (also the Pull registration's callback).
    pub fn status_result(&self) -> String {
        self.url("status/result")
    }

    /// The ResultURL of a Transaction Status query about the payout `reference`: the result
    /// names only the query's own ids, so the URL carries what it is about.
    pub fn status_result_about(&self, reference: &str) -> String {
        self.url(&format!("status/result/{reference}"))
    }

    /// Transaction Status queries that timed out in Daraja's queue (Daraja requires a URL).
    pub fn status_timeout(&self) -> String {
        self.url("status/timeout")
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/webhooks/mpesa/{}/{path}",
            self.public_url,
            self.token.expose()
        )
    }
}

/// LNbits settings.
#[derive(Debug, Clone)]
pub struct LnbitsConfig {
    /// `LNBITS_BASE_URL`.
    pub base_url: String,
    /// `LNBITS_INVOICE_KEY`: creates and reads invoices.
    pub invoice_key: Secret,
    /// `LNBITS_ADMIN_KEY`: pays invoices; payouts are off without it.
    pub admin_key: Option<Secret>,
    /// `MALIPO_PUBLIC_URL` + `LNBITS_WEBHOOK_TOKEN`.
    pub webhook: LnbitsWebhook,
    /// Invoice lifetime (LNbits' default, one hour).
    pub invoice_expiry: Duration,
    /// `LNBITS_RATE_PER_SEC`: 20 by default.
    pub rate_per_sec: NonZeroU32,
}

/// `{MALIPO_PUBLIC_URL}/webhooks/lnbits/{token}`: LNbits webhooks are unsigned, so the secret
/// path token authenticates them.
#[derive(Debug, Clone)]
pub struct LnbitsWebhook {
    public_url: String,
    token: Secret,
}

impl LnbitsWebhook {
    /// The webhook under `public_url` (trailing `/` ignored) with the secret path token.
    pub fn new(public_url: &str, token: Secret) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The token expected in the path.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// The URL sent with each invoice.
    pub fn url(&self) -> String {
        format!(
            "{}/webhooks/lnbits/{}",
            self.public_url,
            self.token.expose()
        )
    }
}

const DEFAULT_PAYSTACK_RATE: NonZeroU32 = nonzero(500);
const DEFAULT_PER_SEC_RATE: NonZeroU32 = nonzero(20);

/// A non-zero constant, checked at compile time.
const fn nonzero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("rate constants are positive"),
    }
}

impl PaystackConfig {
    /// Paystack at `base_url` with the default rate limit.
    pub fn new(base_url: &str, secret_key: Secret) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret_key,
            rate_per_min: DEFAULT_PAYSTACK_RATE,
        }
    }
}

impl MpesaConfig {
    /// Daraja at `base_url` for one shortcode, paying out from the same shortcode, with no
    /// initiator (no B2C) and no IP allow-list; set the public fields to change that.
    pub fn new(
        base_url: &str,
        consumer_key: Secret,
        consumer_secret: Secret,
        shortcode: u32,
        passkey: Secret,
        callbacks: MpesaCallbacks,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            consumer_key,
            consumer_secret,
            shortcode,
            passkey,
            callbacks,
            allowed_ips: None,
            b2c_shortcode: shortcode,
            initiator: Err(MissingSetting("MPESA_INITIATOR_NAME")),
            rate_per_sec: DEFAULT_PER_SEC_RATE,
        }
    }
}

impl LnbitsConfig {
    /// LNbits at `base_url` receiving with `invoice_key`, no admin key (no payouts).
    pub fn new(base_url: &str, invoice_key: Secret, webhook: LnbitsWebhook) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            invoice_key,
            admin_key: None,
            webhook,
            invoice_expiry: Duration::from_secs(3600),
            rate_per_sec: DEFAULT_PER_SEC_RATE,
        }
    }
}

impl ProvidersConfig {
    /// A config from explicit values; a `None` provider is disabled and reported as missing its
    /// first required variable.
    pub fn new(
        http: HttpSettings,
        paystack: Option<PaystackConfig>,
        mpesa: Option<MpesaConfig>,
        lnbits: Option<LnbitsConfig>,
    ) -> Self {
        Self {
            http,
            paystack: paystack.ok_or(MissingSetting("PAYSTACK_SECRET_KEY")),
            mpesa: mpesa.ok_or(MissingSetting("MPESA_CONSUMER_KEY")),
            lnbits: lnbits.ok_or(MissingSetting("LNBITS_BASE_URL")),
            fincra: Err(MissingSetting("FINCRA_SECRET_KEY")),
        }
    }

    /// The same config with Fincra enabled (`new` leaves it disabled).
    #[must_use]
    pub fn with_fincra(mut self, fincra: FincraConfig) -> Self {
        self.fincra = Ok(fincra);
        self
    }

    /// The first missing variable that disables `provider`, if it is disabled.
    pub fn missing_setting(&self, provider: ProviderKind) -> Option<&'static str> {
        let missing = match provider {
            ProviderKind::Paystack => self.paystack.as_ref().err(),
            ProviderKind::Mpesa => self.mpesa.as_ref().err(),
            ProviderKind::Lightning => self.lnbits.as_ref().err(),
            ProviderKind::Fincra => self.fincra.as_ref().err(),
        };
        missing.map(|MissingSetting(name)| *name)
    }

    /// The first missing variable that keeps `provider` from taking deposits: Fincra's
    /// checkout needs `FINCRA_PUBLIC_KEY` (its `x-pub-key`) besides the payout settings.
    pub fn missing_deposit_setting(&self, provider: ProviderKind) -> Option<&'static str> {
        self.missing_setting(provider).or(match provider {
            ProviderKind::Fincra => self
                .fincra
                .as_ref()
                .ok()
                .filter(|fincra| fincra.public_key.is_none())
                .map(|_| "FINCRA_PUBLIC_KEY"),
            _ => None,
        })
    }

    /// The first missing variable that keeps `provider` from paying out (B2C needs an
    /// initiator, Lightning payments an admin key), if any.
    pub fn missing_payout_setting(&self, provider: ProviderKind) -> Option<&'static str> {
        self.missing_setting(provider).or(match provider {
            ProviderKind::Paystack | ProviderKind::Fincra => None,
            ProviderKind::Mpesa => self
                .mpesa
                .as_ref()
                .ok()
                .and_then(|mpesa| mpesa.initiator.as_ref().err())
                .map(|MissingSetting(name)| *name),
            ProviderKind::Lightning => self
                .lnbits
                .as_ref()
                .ok()
                .filter(|lnbits| lnbits.admin_key.is_none())
                .map(|_| "LNBITS_ADMIN_KEY"),
        })
    }
}
